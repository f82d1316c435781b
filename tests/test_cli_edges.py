"""The command line's least-travelled paths, as a user meets them (issue 20): coloured output on a
real terminal (a pty), "no runs", a pipe closed early (`ls | head`), and store errors — each a clear
line and an exit status, never a traceback, never a raw escape from the store."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from tracker.store import Store

CLI = [sys.executable, "-m", "tracker.tui.cli"]
HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J[red]x[/red]"


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    e.update(TERM="xterm-256color", COLUMNS="120", LINES="40", NO_COLOR="")
    e.pop("NO_COLOR")
    return e


def on_pty(args: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run the command with its stdout and stderr on a pseudo-terminal; return (status, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(CLI + args, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env())
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], timeout)
        if not r:
            p.kill()
            raise AssertionError("no output in time")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout), out.decode("utf-8", "replace")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    d = tmp_path / "s"
    for name, code in (("good-run", 0), (HOSTILE, 2)):
        r = tracker.init(project="edge", name=name, dir=d, capture_git=False, config={"note": HOSTILE})
        r.log({"loss": 0.5})
        r.finish(exit_code=code)
    return d


def test_ls_on_a_terminal_is_coloured_and_a_hostile_name_reaches_it_inert(store):
    status, out = on_pty(["ls", "--store", str(store)])
    assert status == 0
    assert "\x1b[" in out  # Rich colours the states on a terminal
    assert "good-run" in out and "failed" in out and "finished" in out
    assert "\x1b]" not in out and "\x07" not in out and "\x1b[2J" not in out  # nothing from the store acts
    assert "evil\\x1b]0;pwned\\x07" in out  # escapes shown as visible text, so the user sees the trick


def test_diff_on_a_terminal_shows_the_hostile_config_as_text(store):
    ids = [r.id for r in tracker.Api(store).runs()]
    status, out = on_pty(["diff", "--store", str(store), *ids])
    assert status == 0, out
    assert "\x1b]" not in out and "\x07" not in out and "\x1b[2J" not in out


def run_cli(args: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, capture_output=True, text=True, env=env(), timeout=60, **kw)


def test_no_runs_is_said_plainly(tmp_path):
    Store(tmp_path / "empty").close()
    p = run_cli(["ls", "--store", str(tmp_path / "empty")])
    assert p.returncode == 0 and p.stdout.startswith("no runs in ") and not p.stderr
    p = run_cli(["ls", "--store", str(tmp_path / "empty"), "--project", "nope"])
    assert p.returncode == 0 and p.stdout.startswith("no runs in project nope in ")


def test_a_missing_store_is_one_line_and_status_1(tmp_path):
    p = run_cli(["ls", "--store", str(tmp_path / "nothing")])
    assert p.returncode == 1 and "no store at" in p.stderr and "Traceback" not in p.stderr


def test_a_file_that_is_not_a_store_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "tracker.db").write_bytes(b"this is not sqlite" * 100)
    for args in (["ls"], ["diff", "a", "b"], ["export", "a"]):
        p = run_cli([*args, "--store", str(bad)])
        assert p.returncode == 1, (args, p.stdout, p.stderr)
        assert "not a database" in p.stderr and "Traceback" not in p.stderr


def test_unknown_runs_are_named(store):
    p = run_cli(["diff", "--store", str(store), "nope1", "nope2"])
    assert p.returncode == 1 and "no run matches 'nope1'" in p.stderr and "Traceback" not in p.stderr
    p = run_cli(["export", "--store", str(store), "zzz"])
    assert p.returncode == 1 and "no run matches 'zzz'" in p.stderr


def test_a_pipe_closed_early_ends_quietly(tmp_path):
    """`tracker-tui ls --json | head -c 100`: the reader goes away mid-output (more than a pipe
    buffer is written); the command ends at once with status 0 and no BrokenPipeError noise."""
    d = tmp_path / "big"
    for i in range(12):
        r = tracker.init(project="p", name=f"r{i}", dir=d, capture_git=False, config={"blob": "x" * 20000})
        for step in range(3000 if i < 2 else 0):
            r.log({"loss": 1 / (step + 1), "acc": step / 3000})
        r.finish()
    ids = [r.id for r in tracker.Api(d).runs()]
    for args in (["ls", "--json"], ["export", "--format", "jsonl", *ids], ["export", *ids]):
        p = subprocess.Popen(CLI + [*args, "--store", str(d)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env())
        assert p.stdout is not None and p.stderr is not None
        first = p.stdout.read(10)
        p.stdout.close()  # like head: read a little, then go away
        err = p.stderr.read().decode()
        assert first and p.wait(60) == 0, (args, err)
        assert "BrokenPipe" not in err and "Traceback" not in err and "Exception ignored" not in err, (args, err)


def test_csv_export_never_writes_a_spreadsheet_formula(tmp_path):
    """OWASP's CSV-injection rule: a text cell starting with = + - @ TAB or CR gets a leading '."""
    import csv
    import io

    d = tmp_path / "f"
    r = tracker.init(project="p", name='=HYPERLINK("http://evil","x")', dir=d, capture_git=False)
    r.log({"+cmd": 1.0, "@sum": -2.5, "ok": 3})
    r.finish()
    p = run_cli(["export", "--store", str(d), r.id])
    assert p.returncode == 0, p.stderr
    rows = list(csv.reader(io.StringIO(p.stdout)))
    assert rows[0] == ["run_id", "run_name", "_step", "_timestamp", "'+cmd", "'@sum", "ok"]
    assert rows[1][1] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert rows[1][4:] == ["1.0", "-2.5", "3"]  # numbers stay numbers, negative ones included
