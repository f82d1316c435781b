"""Golden files for the text the commands print when piped: ``ls``, ``diff``, ``export`` (csv,
jsonl) and ``tail``.

The store is built by real logging (``tracker.init`` / ``log`` / ``finish``) with fixed run ids,
names, configs and values; each command runs as a real ``python -m tracker.tui.cli`` subprocess
with stdout piped, and its output is compared byte for byte with ``tests/data/golden/<case>.txt``.

Wall-clock times are the one thing logging cannot fix, and they are pinned in one documented
step, :func:`pin_times`, run on the SQLite file after every writer has finished and before any
command runs: the commands print exactly what they read, nothing is rewritten afterwards.

To accept new output after an intended change::

    TRACKER_UPDATE_GOLDEN=1 python -m pytest -q tests/test_golden.py

then read the diff of ``tests/data/golden/`` before committing it.

One run is hostile: its name, a config key, a config value and a metric name carry ANSI/OSC
escapes, a BEL, a carriage return, C1 and bidi characters and Rich markup. The golden files show
them as inert visible text (``\\x1b[31m``, ``[red]``), and every case also asserts that no raw
control character reaches stdout.
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from helpers import child_env

GOLDEN = Path(__file__).parent / "data" / "golden"
UPDATE = os.environ.get("TRACKER_UPDATE_GOLDEN", "") not in ("", "0")

#: 2024-03-01 00:00:00 UTC; a past year, so ``ls`` prints the date, whatever today is.
T0 = 1_709_251_200.0
RUNTIME = 90.0  #: every run lasts 1m30s

EVIL_NAME = "evil\x1b[31m[red]x[/red]\x1b]52;c;aGk=\x07\r\x08\u202eeman\x9b2J[bold]"
EVIL_CONFIG = {"note\x1b[1m": "[red]boom[/red]\x1b[2J\x07", "lr": 0.3, "opt": {"name": "adam\rsgd"}}
EVIL_METRIC = "acc\x1b]0;pwned\x07[blink]"


def pin_times(store: Path) -> None:
    """The one normalisation: pin every wall-clock time in the store.

    Run number k (creation order, 1-based) is created at ``T0 + k hours``, updated, heartbeat and
    finished ``RUNTIME`` seconds later; each point's time is its run's creation time + step + 0.5 s
    (the per-metric summary and block times follow the points). Only times change: ids, names,
    configs, values and states are the logger's own.
    """
    c = sqlite3.connect(store / "tracker.db", isolation_level=None)
    try:
        c.execute("BEGIN IMMEDIATE")
        c.execute("UPDATE runs SET created_at = ? + rid * 3600", (T0,))
        c.execute("UPDATE runs SET updated_at = created_at + ?, heartbeat_at = created_at + ?, "
                  "finished_at = created_at + ?", (RUNTIME, RUNTIME, RUNTIME))
        start = "(SELECT created_at FROM runs r WHERE r.rid = {t}.rid)"
        c.execute(f"UPDATE metrics SET ts = {start.format(t='metrics')} + step + 0.5")
        c.execute(f"UPDATE metric_summary SET last_ts = {start.format(t='metric_summary')} + last_step + 0.5")
        c.execute(f"UPDATE metric_blocks SET min_ts = {start.format(t='metric_blocks')} + min_step + 0.5, "
                  f"max_ts = {start.format(t='metric_blocks')} + max_step + 0.5")
        c.execute(f"UPDATE events SET ts = {start.format(t='events')} + 1 WHERE rid IS NOT NULL")
        c.execute("COMMIT")
    finally:
        c.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs in two projects: two clean ones and a hostile failed one."""
    d = tmp_path_factory.mktemp("golden") / "store"
    opts = {"dir": str(d), "capture_git": False, "system_interval": None, "console": False}
    a = tracker.init(project="vision", name="resnet-a", id="run-a", tags=["base"],
                     config={"lr": 0.1, "opt": {"name": "sgd", "momentum": 0.9}, "seed": 1}, **opts)
    for i in range(5):
        a.log({"loss": round(1.0 / (i + 1), 4), "acc": i / 10, "val/loss": round(1.2 / (i + 1), 4)})
    a.finish()
    b = tracker.init(project="vision", name="resnet-b", id="run-b",
                     config={"lr": 0.01, "opt": {"name": "sgd", "momentum": 0.9}, "extra": True}, **opts)
    for i in range(3):  # a system metric logged by the user: it sorts between "loss" and "val/loss"
        b.log({"loss": 0.9 - i / 10, "acc": 0.5 + i / 10, "val/loss": 0.95 - i / 10, "system/cpu_percent": 40.0 + i})
    b.finish()
    e = tracker.init(project="nlp", name=EVIL_NAME, id="run-evil", config=EVIL_CONFIG, **opts)
    e.log({"loss": math.inf, EVIL_METRIC: 0.25})
    e.log({"loss": math.nan, EVIL_METRIC: -0.5})
    e.log({"loss": 2.5})
    e.finish(exit_code=1)
    pin_times(d)
    return d


# Raw C0 (except tab and newline), DEL, C1 and bidi overrides: none may reach stdout. CSV's own
# line ends are "\r\n", so a CR is allowed only right before a LF.
RAW = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|\r(?!\n)")


def cli(store: Path, *args: str) -> tuple[str, subprocess.CompletedProcess[bytes]]:
    """Run the command piped; return a transcript (command line, stdout, then stderr and the exit
    status when there are any) and the completed process."""
    env = child_env(TZ="UTC", PYTHONIOENCODING="utf-8", LC_ALL="C.UTF-8")
    for k in ("TERM", "COLUMNS", "LINES", "NO_COLOR", "TRACKER_NO_INOTIFY"):
        env.pop(k, None)
    p = subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", str(store), *args],
                       capture_output=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    out, err = p.stdout.decode("utf-8"), p.stderr.decode("utf-8")
    text = "$ tracker-tui " + " ".join(args) + "\n" + out
    if err or p.returncode:
        text += f"--- exit {p.returncode}, stderr:\n{err}"
    return text, p


def check(case: str, transcript: str) -> None:
    """Compare with (or, with TRACKER_UPDATE_GOLDEN=1, rewrite) ``tests/data/golden/<case>.txt``."""
    path = GOLDEN / f"{case}.txt"
    bad = RAW.search(transcript)
    assert bad is None, f"{case}: raw {bad.group()!r} in the output: {transcript!r}"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(transcript.encode("utf-8"))
        return
    assert path.exists(), f"no golden file {path}: create it with TRACKER_UPDATE_GOLDEN=1"
    expected = path.read_bytes().decode("utf-8")
    assert transcript == expected, (
        f"{case}: output differs from {path} (TRACKER_UPDATE_GOLDEN=1 rewrites it if the change is "
        f"intended)\n--- expected\n{expected}\n--- got\n{transcript}")


def test_ls(store):
    text, p = cli(store, "ls")
    assert p.returncode == 0
    check("ls", text)
    assert "\\x1b[31m[red]x[/red]" in text  # the name as inert text, markup not interpreted


def test_ls_project(store):
    text, p = cli(store, "ls", "--project", "vision")
    assert p.returncode == 0 and "run-evil" not in text
    check("ls_project", text)


def test_diff_differences(store):
    text, p = cli(store, "diff", "run-a", "run-b")
    assert p.returncode == 0
    check("diff", text)


def test_diff_all_lists_training_metrics_before_system_ones(store):
    """Bug 9: ``diff --all`` put ``system/cpu_percent`` between ``loss`` and ``val/loss``."""
    text, p = cli(store, "diff", "--all", "run-a", "run-b", "run-evil")
    assert p.returncode == 0
    metrics = text.split("# metrics (* best)\n", 1)[1].splitlines()[1:]
    keys = [line.split()[0] for line in metrics]
    assert keys[-1] == "system/cpu_percent" and "val/loss" in keys[:-1], keys
    check("diff_all", text)
    assert "[red]boom[/red]\\x1b[2J\\x07" in text  # the hostile config value, inert


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export(store, fmt):
    text, p = cli(store, "export", "run-a", "run-evil", "--format", fmt)
    assert p.returncode == 0
    check(f"export_{fmt}", text)


def test_export_keys(store):
    text, p = cli(store, "export", "run-a", "--format", "csv", "--keys", "loss")
    assert p.returncode == 0
    check("export_csv_keys", text)


def test_tail_piped_finished_run(store):
    text, p = cli(store, "tail", "run-a", "-n", "3")
    assert p.returncode == 0
    check("tail", text)


def test_tail_piped_failed_hostile_run(store):
    text, p = cli(store, "tail", "run-evil")
    assert p.returncode == 1  # the run failed
    check("tail_failed", text)
