"""`tracker-tui ls` and `tracker-tui export`, run as real subprocesses against a real store."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import pytest

import tracker

HOSTILE = "[/]\x1b]52;c;aGk=\x07\x1b[2J\u202eevil[bold red]x"


def cli(*args: str, store: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracker.tui.cli", "--store", store, *args],
        capture_output=True, text=True, timeout=60,
    )


@pytest.fixture
def populated(tmp_path):
    store = str(tmp_path / "store")
    a = tracker.init(project="vision", name="resnet-a", config={"lr": 0.1}, dir=store, capture_git=False)
    for i in range(5):
        a.log({"loss": 1.0 / (i + 1), "acc": i / 10})
    a.log({"loss": math.nan})
    a.finish()
    b = tracker.init(project="nlp", name=HOSTILE, dir=store, capture_git=False)
    b.log({"loss": math.inf}, step=3)
    b.finish(exit_code=2)
    return store, a, b


def test_ls_piped_is_plain_table_with_states(populated):
    store, a, b = populated
    out = cli("ls", store=store)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["STATE", "ID", "NAME"]
    assert "\x1b" not in out.stdout  # no colour codes when piped
    body = "\n".join(lines[1:])
    assert a.id in body and "resnet-a" in body and "finished" in body
    assert b.id in body and "failed" in body


def test_ls_never_passes_escape_sequences_from_names(populated):
    store, _, b = populated
    out = cli("ls", store=store)
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\u202e" not in out.stdout
    assert "\\x1b]52;c;aGk=\\x07" in out.stdout  # shown literally
    assert "[/]" in out.stdout


def test_ls_project_filter_and_json(populated):
    store, a, b = populated
    out = cli("ls", "--project", "vision", "--json", store=store)
    runs = json.loads(out.stdout)  # strict JSON: NaN would not parse in most tools
    assert [r["id"] for r in runs] == [a.id]
    assert runs[0]["summary"]["loss"] == "nan"
    assert runs[0]["summary"]["acc"] == 0.4
    assert runs[0]["config"] == {"lr": 0.1}
    all_runs = json.loads(cli("ls", "--json", store=store).stdout)
    assert [r["id"] for r in all_runs] == [b.id, a.id]  # newest first
    assert all_runs[0]["name"] == HOSTILE  # JSON carries the exact name; json escapes controls


def test_export_csv_and_jsonl(populated, tmp_path):
    store, a, b = populated
    out = cli("export", a.id, b.id, "--format", "csv", store=store)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["_step"] for r in rows if r["run_id"] == a.id] == ["0", "1", "2", "3", "4", "5"]
    assert rows[5]["loss"] == "nan" and rows[0]["loss"] == "1.0"
    assert [r["loss"] for r in rows if r["run_id"] == b.id] == ["inf"]
    dest = tmp_path / "h.jsonl"
    out = cli("export", a.id[:5], "--format", "jsonl", "--keys", "acc", "-o", str(dest), store=store)
    assert out.returncode == 0, out.stderr
    recs = [json.loads(line) for line in dest.read_text().splitlines()]
    assert [r["_step"] for r in recs] == [0, 1, 2, 3, 4]
    assert all(set(r) == {"run_id", "_step", "_timestamp", "acc"} for r in recs)


def test_errors_are_clear(populated, tmp_path):
    store, *_ = populated
    out = cli("export", "zzzzzz", store=store)
    assert out.returncode == 1 and "no run matches 'zzzzzz'" in out.stderr and "Traceback" not in out.stderr
    out = cli("ls", store=str(tmp_path / "missing"))
    assert out.returncode == 1 and "no store at" in out.stderr
    assert not (tmp_path / "missing").exists()  # readers never create a store


def test_no_subcommand_lists(populated):
    store, a, _ = populated
    out = cli(store=store)
    assert out.returncode == 0 and a.id in out.stdout


def test_diff_prints_changed_keys_and_best_metrics(tmp_path):
    store = str(tmp_path / "store")
    a = tracker.init(project="p", name="a", config={"lr": 0.1, "opt": {"name": "sgd"}, "seed": 1}, dir=store,
                     capture_git=False)
    a.log({"val/loss": 0.5, "val/acc": 0.8})
    a.finish()
    b = tracker.init(project="p", name="b", config={"lr": 0.01, "opt": {"name": "sgd"}, "extra": True}, dir=store,
                     capture_git=False)
    b.log({"val/loss": 0.4, "val/acc": 0.7})
    b.finish()
    out = cli("diff", a.id, b.id, store=store)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    rows = {ln.split()[1]: ln for ln in lines if ln[:1] in "~+-"}
    assert set(rows) == {"lr", "seed", "extra"}  # opt.name is the same: hidden by default
    assert rows["lr"].startswith("~") and rows["extra"].startswith("+") and rows["seed"].startswith("-")
    assert "0.4 *" in out.stdout and "0.8 *" in out.stdout  # lowest loss, highest accuracy
    full = cli("diff", a.id, b.id, "--all", store=store)
    assert "opt.name" in full.stdout
    bad = cli("diff", a.id, store=store)
    assert bad.returncode == 2 and "two or more" in bad.stderr


def test_no_terminal_gets_a_plain_listing_instead_of_the_app(populated):
    store, a, _ = populated
    out = subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", store], capture_output=True,
                         text=True, timeout=60, env={**__import__("os").environ, "TERM": "xterm-256color"})
    assert out.returncode == 0 and a.id in out.stdout
    assert "\x1b[?1049h" not in out.stdout  # never the alternate screen


@pytest.mark.slow
def test_demo_seeds_a_store_and_leaves_no_live_processes_behind(tmp_path):
    import os

    out = subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", str(tmp_path), "demo"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert str(tmp_path / "demo") in out.stdout
    api = tracker.Api(tmp_path / "demo")
    runs = api.runs()
    assert len(runs) >= 30 and {r.project for r in runs} == {"cifar-resnet", "gpt-tiny"}
    states = {r.state for r in runs}
    assert {"finished", "failed", "crashed"} <= states
    live = [r for r in runs if r.group == "live"]
    assert len(live) == 2
    # both simulated trainings were stopped with SIGTERM: flushed and marked, not left running
    assert all(r.state == "failed" and r.exit_code == 143 for r in live), [(r.state, r.exit_code) for r in live]
    mine = [p for p in os.listdir("/proc") if p.isdigit()]
    leftovers = []
    for p in mine:
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ")
        except OSError:
            continue
        if b"tracker.tui.demo" in cmd and str(tmp_path).encode() in cmd:
            leftovers.append(cmd)
    assert leftovers == []


def test_ls_columns_are_training_metrics_not_system_ones(tmp_path):
    store = str(tmp_path / "store")
    r = tracker.init(project="p", dir=store, capture_git=False)
    r.log({"loss": 0.5, "system/cpu_percent": 30.0, "system/ram_used_gib": 2.0, "system/proc_rss_gib": 0.1})
    r.finish()
    header = cli("ls", store=store).stdout.splitlines()[0]
    assert "loss" in header and "system/" not in header


PROBE = """\
import io, sys, contextlib
from tracker.tui.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    rc = main(sys.argv[1:])
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"textual", "plotext", "watchdog"})
print(rc, ",".join(loaded) or "-")
"""


@pytest.mark.parametrize("cmd", [["ls"], ["ls", "--json"], ["diff", "A", "B"], ["export", "A", "--format", "jsonl"],
                                 ["tail", "A", "-n", "3"], []])
def test_commands_other_than_the_app_never_import_textual(tmp_path, cmd):
    """A script or a shell prompt pays for Textual only when the full-screen app opens."""
    store = str(tmp_path / "store")
    for rid in ("A", "B"):
        r = tracker.init(project="p", name=rid.lower(), id=rid, config={"x": rid}, dir=store, capture_git=False)
        r.log({"loss": 0.5})
        r.finish()
    out = subprocess.run([sys.executable, "-c", PROBE, "--store", store, *cmd], capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    # [] is the app command: without a terminal it prints the listing, and imports no Textual either
    assert out.stdout.split() == ["0", "-"], (cmd, out.stdout, out.stderr)


def test_console_script_entry_point(populated):
    """``tracker-tui`` as installed (``tracker.tui.cli:main``) runs the same commands."""
    import shutil
    from pathlib import Path

    exe = Path(sys.executable).parent / "tracker-tui"
    if not exe.exists():
        exe = Path(shutil.which("tracker-tui") or "tracker-tui")
    store, a, _ = populated
    out = subprocess.run([str(exe), "--store", store, "ls"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and a.id in out.stdout, out.stderr


def _on_terminal(args: list[str], cols: int = 200) -> bytes:
    """Run ``tracker-tui ARGS`` with stdout on a pseudo-terminal ``cols`` wide; return what it wrote."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    proc = subprocess.Popen([sys.executable, "-m", "tracker.tui.cli", *args], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=subprocess.PIPE, env={**env, "TERM": "xterm-256color"})
    os.close(slave)
    data = bytearray()
    try:
        while True:
            r, _, _ = select.select([master], [], [], 30)
            try:
                chunk = os.read(master, 65536) if r else b""
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                break
            data.extend(chunk)
        assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return bytes(data)


@pytest.mark.parametrize("cmd", ["ls", "diff"])
def test_rich_tables_on_a_terminal_show_hostile_text_inert(tmp_path, cmd):
    """On a terminal ls and diff draw Rich tables: a hostile name, config value or metric name is
    neither a control sequence nor Rich markup there either."""
    store = str(tmp_path / "store")
    a = tracker.init(project="p", name="plain", config={"opt": "sgd"}, dir=store, capture_git=False)
    a.log({"loss": 0.5})
    a.finish()
    b = tracker.init(project="p", name="x" + HOSTILE, config={"opt": "[red]adam\x1b[2J"}, dir=store,
                     capture_git=False)
    b.log({"loss": 0.25, "k\x1b]0;t\x07": 1.0})
    b.finish()
    args = ["--store", store, "ls"] if cmd == "ls" else ["--store", store, "diff", a.id, b.id]
    data = _on_terminal(args)
    assert b"\x1b]52" not in data and b"\x1b]0;" not in data and b"\x07" not in data and b"\x1b[2J" not in data
    assert "\u202e".encode() not in data
    text = data.decode("utf-8", "replace")
    assert "x[/]\\x1b]52;c;aGk=" in text  # the name's escapes shown, its markup as text (cut to 24 in ls)
    if cmd == "diff":
        assert "\\x1b]52;c;aGk=\\x07\\x1b[2J\\u202eevil[bold red]x" in text
        assert "[red]adam\\x1b[2J" in text and "k\\x1b]0;t\\x07" in text
