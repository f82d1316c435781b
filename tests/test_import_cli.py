"""``tracker-tui import`` as a command: the progress bar only on a terminal, usage errors, a
store that cannot be written (real subprocesses, a real pty)."""

from __future__ import annotations

import os
import pty
import sqlite3
import subprocess
import sys

import pytest
from import_helpers import cli, fixture

from helpers import child_env


def test_progress_bar_on_a_terminal_only(tmp_path):
    path = fixture(tmp_path, "mlflow_file") / "mlruns"
    piped = cli(str(path), store=tmp_path / "s1")
    assert piped.returncode == 0 and "[" not in piped.stderr and "\r" not in piped.stderr
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "tracker.tui.cli", "--store", str(tmp_path / "s2"), "import",
                          str(path)], stdout=subprocess.PIPE, stderr=slave, env=child_env(TERM="xterm"))
    os.close(slave)
    out, _ = p.communicate(timeout=60)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert p.returncode == 0
    assert b"3/3 runs" in err and b"13 points" in err and b"#" in err
    assert b"3 runs (3 new), 13 new points" in out  # the summary still goes to stdout


def test_usage_errors_exit_2(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "tracker.tui.cli", "import", str(tmp_path), "--format", "comet"],
                         capture_output=True, text=True, env=child_env())
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    out = cli(str(tmp_path), "--follow", "--interval", "0", store=tmp_path / "s")
    assert out.returncode == 2 and "--interval must be a positive" in out.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file modes")
def test_a_store_that_cannot_be_written_is_one_clear_error(tmp_path):
    path = fixture(tmp_path, "mlflow_file") / "mlruns"
    store = tmp_path / "store"
    assert cli(str(path), store=store).returncode == 0
    mlflow_run = next(path.glob("*/*/metrics/train/loss"))
    with open(mlflow_run, "a") as f:
        f.write("1796224400000 0.5 99\n")
    os.chmod(store / "tracker.db", 0o400)
    os.chmod(store, 0o500)
    try:
        out = cli(str(path), store=store)
    finally:
        os.chmod(store, 0o700)
        os.chmod(store / "tracker.db", 0o600)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "tracker" in out.stderr


def test_a_store_from_a_newer_tracker_is_refused_untouched(tmp_path):
    path = fixture(tmp_path, "mlflow_file") / "mlruns"
    store = tmp_path / "store"
    assert cli(str(path), store=store).returncode == 0
    c = sqlite3.connect(store / "tracker.db")
    c.execute("PRAGMA user_version = 99")
    c.commit()
    c.close()
    out = cli(str(path), store=store)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "schema version 99" in out.stderr


def test_the_cli_offers_exactly_the_formats_the_store_reads_and_loads_none_at_startup():
    from tracker.store.importers import FORMATS
    from tracker.tui.cli import import_

    assert sorted(import_.FORMATS) == sorted(FORMATS)
    code = "import sys; from tracker.tui.cli import build_parser; build_parser(); " \
           "print([m for m in ('tracker.store.importers', 'yaml') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env())
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
