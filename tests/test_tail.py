"""``tracker-tui tail``: follow a run live (RELIABILITY.md §B5, C4, R7, T6).

Writers are real Python subprocesses that ``import tracker`` and log one step every ~20 ms into a
store under ``tmp_path``; ``tail`` runs as a real ``python -m tracker.tui.cli`` subprocess. Tests
wait for conditions with deadlines, never fixed sleeps. A writer can hold back part of its steps
until a "gate" file exists, so a test can make sure those steps reach ``tail`` live (through the
watcher) rather than as history.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import pty
import select
import shlex
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tracker.store import is_busy
from tracker.tui.cli.tail_follow import Row, StepGrouper
from tracker.tui.cli.tail_output import json_line

PY = sys.executable
HOSTILE = "evil\x1b]52;c;aGVsbG8=\x07\x1b[2J\u202ename\x9b31m"

WRITER = textwrap.dedent(
    r'''
    import json, math, os, sys, time
    import tracker

    cfg = json.loads(sys.argv[1])
    run = tracker.init(project=cfg["project"], dir=cfg["store"], capture_git=False, name=cfg["name"])
    extra = cfg.get("extra_key")

    def step(i):
        d = {"loss": 1.0 / (i + 1), "acc": i / 100,
             "odd": [math.nan, math.inf, -math.inf][i % 3]}
        if extra:
            d[extra] = float(i)
        run.log(d)

    for i in range(cfg["pre"]):
        step(i)
    print("ready", run.id, flush=True)
    gate = cfg.get("gate")
    if gate:
        deadline = time.monotonic() + 30
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.005)
    if cfg.get("late"):  # a value for the last step already logged, after tail printed it
        run.log({"late": 5.0}, step=cfg["pre"] - 1)
    for i in range(cfg["pre"], cfg["total"]):
        step(i)
        time.sleep(cfg.get("period", 0.02))
    if cfg["mode"] == "fail":
        raise RuntimeError("boom")
    if cfg["mode"] == "hang":
        time.sleep(600)
    run.finish()
    '''
)


# ------------------------------------------------------------------------------------ helpers
def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ)
    for k in ("TRACKER_DIR", "TRACKER_PROJECT", "TRACKER_FLUSH_INTERVAL", "TRACKER_HEARTBEAT_TIMEOUT",
              "TRACKER_NO_INOTIFY", "NO_COLOR", "COLUMNS", "LINES"):
        e.pop(k, None)
    e["PYTHONUNBUFFERED"] = "1"
    e.update(extra)
    return e


from helpers import wait_for  # noqa: E402


class Writer:
    """A training subprocess; ``id`` is its run id once it printed ``ready``."""

    def __init__(self, tmp_path: Path, store: Path, name: str, *, pre: int = 0, total: int = 20,
                 mode: str = "finish", gate: bool = False, late: bool = False, extra_key: str | None = None,
                 period: float = 0.02, project: str = "p") -> None:
        self.gate = tmp_path / f"gate-{name.encode().hex()[:16]}-{time.monotonic_ns()}" if gate else None
        cfg = {"store": str(store), "project": project, "name": name, "pre": pre, "total": total, "mode": mode,
               "gate": str(self.gate) if self.gate else None, "late": late, "extra_key": extra_key,
               "period": period}
        script = tmp_path / "writer.py"
        if not script.exists():
            script.write_text(WRITER)
        self.proc = subprocess.Popen([PY, str(script), json.dumps(cfg)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env())
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["ready"], f"writer did not start: {line} {self.proc.stderr.read()}"
        self.id = line[1]

    def open_gate(self) -> None:
        assert self.gate is not None
        self.gate.write_text("go")

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)  # reap: a zombie still looks alive to kill(pid, 0)


class Tail:
    """``tracker-tui tail`` with stdout piped; lines are collected by a thread as they come."""

    def __init__(self, store: Path, *args: str, **env_extra: str) -> None:
        self.proc = subprocess.Popen([PY, "-m", "tracker.tui.cli", "tail", "--store", str(store), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env(**env_extra))
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def rows(self) -> list[dict]:
        return [json.loads(line, parse_constant=_reject) for line in list(self.lines)]

    def steps(self) -> list[int]:
        return [r["_step"] for r in self.rows()]

    def wait(self, timeout: float = 30) -> int:
        rc = self.proc.wait(timeout)
        self._t.join(5)
        self.stderr = self.proc.stderr.read()
        return rc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _reject(name: str):
    raise ValueError(f"not strict JSON: {name}")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def cleanup():
    items: list = []
    yield items
    for it in items:
        it.kill() if isinstance(it, Writer) else it.stop()


def run_tail(store: Path, *args: str, timeout: float = 30, **env_extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "tracker.tui.cli", "tail", "--store", str(store), *args],
                          check=False, capture_output=True, text=True, timeout=timeout,
                          env=env(**env_extra))


# ------------------------------------------------------------------------------------ grouping (no processes)
def pts(*items: tuple[int, str, int, float]) -> list[tuple]:
    return [(pid, 1, key, step, 100.0 + step, value) for pid, key, step, value in
            [(i[0], i[1], i[2], i[3]) for i in items]]


def test_grouper_prints_a_step_once_a_later_step_appears_or_it_is_quiet():
    g = StepGrouper(quiet=0.3)
    g.feed(pts((1, "a", 0, 1.0), (2, "b", 0, 2.0), (3, "a", 1, 3.0)), now=10.0)
    rows = g.ready(10.0)
    assert [(r.step, r.values) for r in rows] == [(0, {"a": 1.0, "b": 2.0})]
    assert g.ready(10.2) == []  # step 1 may still get more values
    g.feed(pts((4, "b", 1, 4.0)), now=10.25)  # in a later commit
    assert g.ready(10.5) == []
    assert g.next_deadline() == pytest.approx(10.55)
    assert [(r.step, r.values) for r in g.ready(10.56)] == [(1, {"a": 3.0, "b": 4.0})]
    g.feed(pts((5, "a", 2, 5.0)), now=11.0)
    assert [r.step for r in g.ready(11.0, final=True)] == [2]  # the run ended: nothing more comes


def test_grouper_reprints_a_step_when_late_values_arrive_and_filters_keys():
    g = StepGrouper(keys=["a", "late"], quiet=0.3)
    g.feed(pts((1, "a", 0, 1.0), (2, "b", 0, 2.0), (3, "b", 1, 9.0)), now=0.0)
    first = g.ready(0.0)
    assert [(r.step, r.values, r.again) for r in first] == [(0, {"a": 1.0}, False)]
    assert g.ready(1.0) == []  # step 1 has no selected key: never printed
    g.feed(pts((4, "late", 0, 7.0), (5, "a", 2, 3.0)), now=2.0)
    again = g.ready(2.0)
    assert [(r.step, r.values, r.again) for r in again] == [(0, {"a": 1.0, "late": 7.0}, True)]


def test_json_lines_are_strict_and_keep_step_and_timestamp():
    row = Row(step=3, values={"loss": math.nan, "up": math.inf, "down": -math.inf, "x": 0.5, "_step": 99},
              ts=12.5, first_id=1, seen=0.0)
    d = json.loads(json_line(row), parse_constant=_reject)
    assert d == {"_step": 3, "_timestamp": 12.5, "loss": "nan", "up": "inf", "down": "-inf", "x": 0.5}


def test_only_a_held_database_counts_as_busy(tmp_path):
    """tail retries a read when a writer holds the database, and reports every other error."""
    import sqlite3

    db = tmp_path / "x.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    reader = sqlite3.connect(db, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError) as locked:
            reader.execute("SELECT * FROM t").fetchall()
        with pytest.raises(sqlite3.OperationalError) as missing:
            holder.execute("SELECT * FROM nosuch")
    finally:
        holder.execute("ROLLBACK")
        reader.close()
        holder.close()
    assert is_busy(locked.value)
    assert not is_busy(missing.value)
    assert not is_busy(OSError("database is locked"))  # only the store's own errors


# ------------------------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_piped_json_follows_a_live_run_in_order(tmp_path, store, cleanup):
    w = Writer(tmp_path, store, "live", pre=1, total=40, gate=True)
    cleanup.append(w)
    t = Tail(store, w.id)
    cleanup.append(t)
    wait_for(lambda: t.steps() == [0], 20, "tail to print the history row")
    w.open_gate()  # the next 39 steps are logged while tail watches
    assert t.wait(30) == 0, t.stderr
    assert w.wait() == 0
    rows = t.rows()
    assert [r["_step"] for r in rows] == list(range(40))  # each step once, in order
    for r in rows:
        i = r["_step"]
        assert r["loss"] == pytest.approx(1.0 / (i + 1)) and r["acc"] == pytest.approx(i / 100)
        assert r["odd"] == ["nan", "inf", "-inf"][i % 3]
        assert isinstance(r["_timestamp"], float)
    assert "Traceback" not in t.stderr


@pytest.mark.slow
def test_last_n_rows_of_a_finished_run_and_keys(tmp_path, store):
    w = Writer(tmp_path, store, "done-run", pre=30, total=30)
    assert w.wait() == 0
    out = run_tail(store, w.id, "-n", "5")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line, parse_constant=_reject) for line in out.stdout.splitlines()]
    assert [r["_step"] for r in rows] == [25, 26, 27, 28, 29]
    assert set(rows[0]) == {"_step", "_timestamp", "loss", "acc", "odd"}

    out = run_tail(store, "done-r", "-n", "3", "--keys", "loss,odd")  # a unique name prefix
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line, parse_constant=_reject) for line in out.stdout.splitlines()]
    assert [r["_step"] for r in rows] == [27, 28, 29]
    assert all(set(r) == {"_step", "_timestamp", "loss", "odd"} for r in rows)

    out = run_tail(store, w.id, "-n", "0")
    assert out.returncode == 0 and out.stdout == ""


@pytest.mark.slow
def test_late_values_reprint_a_step(tmp_path, store, cleanup):
    w = Writer(tmp_path, store, "late", pre=2, total=4, gate=True, late=True)
    cleanup.append(w)
    t = Tail(store, w.id)
    cleanup.append(t)
    wait_for(lambda: t.steps() == [0, 1], 20, "the history rows")
    w.open_gate()
    assert t.wait(30) == 0, t.stderr
    rows = t.rows()
    assert [r["_step"] for r in rows] == [0, 1, 1, 2, 3]
    assert rows[2]["late"] == 5.0 and rows[2]["loss"] == pytest.approx(0.5)  # the merged row


@pytest.mark.slow
@pytest.mark.parametrize("how", ["no-inotify", "poll-flag"])
def test_polling_mode_delivers_rows(tmp_path, store, cleanup, how):
    w = Writer(tmp_path, store, f"poll-{how}", pre=1, total=15, gate=True)
    cleanup.append(w)
    t = Tail(store, w.id, "--poll", "0.2") if how == "poll-flag" else Tail(store, w.id, TRACKER_NO_INOTIFY="1")
    cleanup.append(t)
    wait_for(lambda: t.steps() == [0], 20, "the history row")
    w.open_gate()
    assert t.wait(30) == 0, t.stderr
    assert t.steps() == list(range(15))


@pytest.mark.slow
def test_exit_status_follows_the_run_failed(tmp_path, store, cleanup):
    w = Writer(tmp_path, store, "failing", pre=1, total=10, mode="fail", gate=True)
    cleanup.append(w)
    t = Tail(store, w.id)
    cleanup.append(t)
    wait_for(lambda: t.steps() == [0], 20, "the history row")
    w.open_gate()
    assert t.wait(30) == 1
    assert t.steps() == list(range(10))
    assert "failed" in t.stderr and "Traceback" not in t.stderr
    assert w.wait() != 0
    again = run_tail(store, w.id)  # already failed at start: last rows, then exit 1 at once
    assert again.returncode == 1 and len(again.stdout.splitlines()) == 10


@pytest.mark.slow
def test_exit_status_crashed_when_the_writer_is_killed(tmp_path, store, cleanup):
    w = Writer(tmp_path, store, "victim", pre=1, total=10, mode="hang", gate=True)
    cleanup.append(w)
    t = Tail(store, w.id)
    cleanup.append(t)
    wait_for(lambda: t.steps() == [0], 20, "the history row")
    w.open_gate()
    wait_for(lambda: t.steps()[-1:] == [9], 20, "all steps before the kill")
    w.kill()  # SIGKILL: no finish(), the run row still says "running"
    killed = time.monotonic()
    assert t.wait(10) == 2
    assert time.monotonic() - killed < 3.0, "tail took too long to notice the dead process"
    assert "crashed" in t.stderr and "Traceback" not in t.stderr
    assert run_tail(store, w.id, "-n", "1").returncode == 2


@pytest.mark.slow
@pytest.mark.parametrize("signame,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_signals_exit_cleanly(tmp_path, store, cleanup, signame, code):
    w = Writer(tmp_path, store, f"sig-{signame}", pre=3, total=3, mode="hang")
    cleanup.append(w)
    t = Tail(store, w.id)
    cleanup.append(t)
    wait_for(lambda: len(t.lines) == 3, 20, "the history rows")
    t.proc.send_signal(getattr(signal, signame))
    assert t.wait(10) == code
    assert "Traceback" not in t.stderr and "KeyboardInterrupt" not in t.stderr


@pytest.mark.slow
def test_latest_follows_the_newest_running_run(tmp_path, store, cleanup):
    old = Writer(tmp_path, store, "old-done", pre=3, total=3)
    assert old.wait() == 0
    live = Writer(tmp_path, store, "live-one", pre=2, total=12, gate=True, extra_key="only_live")
    cleanup.append(live)
    newer = Writer(tmp_path, store, "newer-done", pre=3, total=3)  # newer, but not running
    assert newer.wait() == 0
    t = Tail(store, "--latest", "--project", "p")
    cleanup.append(t)
    wait_for(lambda: len(t.lines) == 2, 20, "the history rows")
    live.open_gate()
    assert t.wait(30) == 0, t.stderr
    rows = t.rows()
    assert [r["_step"] for r in rows] == list(range(12))
    assert all("only_live" in r for r in rows)

    none = run_tail(store, "--latest")  # nothing is running any more
    assert none.returncode == 1 and "no running run" in none.stderr
    other = run_tail(store, "--latest", "--project", "nosuch")
    assert other.returncode == 1 and "'nosuch'" in other.stderr


@pytest.mark.slow
def test_head_closing_the_pipe_exits_without_traceback(tmp_path, store, cleanup):
    w = Writer(tmp_path, store, "long", pre=5, total=300, mode="finish")
    cleanup.append(w)
    err = tmp_path / "tail.err"
    rc = tmp_path / "tail.rc"
    cmd = (f"{shlex.quote(PY)} -m tracker.tui.cli tail --store {shlex.quote(str(store))} {w.id} "
           f"2>{shlex.quote(str(err))} | head -3; echo ${{PIPESTATUS[0]}} > {shlex.quote(str(rc))}")
    out = subprocess.run(["bash", "-c", cmd], check=False, capture_output=True, text=True, timeout=30, env=env())
    assert len(out.stdout.splitlines()) == 3
    assert w.proc.poll() is None, "tail should stop on the closed pipe, not at the end of the run"
    assert rc.read_text().strip() == "141"
    assert "Traceback" not in err.read_text() and "Exception ignored" not in err.read_text()


@pytest.mark.slow
def test_terminal_output_never_passes_escape_sequences(tmp_path, store, cleanup):
    w = Writer(tmp_path, store, HOSTILE, pre=2, total=12, gate=True, extra_key="k\x1b]52;c;aGk=\x07")
    cleanup.append(w)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen([PY, "-m", "tracker.tui.cli", "tail", "--store", str(store), w.id],
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                            env=env(TERM="xterm-256color"))
    os.close(slave)
    data = bytearray()

    def read_some(timeout: float) -> None:
        r, _, _ = select.select([master], [], [], timeout)
        if r:
            try:
                data.extend(os.read(master, 65536))
            except OSError:  # EIO: the child closed the terminal
                pass

    try:
        wait_for(lambda: read_some(0.05) or b"running" in data, 20, "the status line")
        w.open_gate()
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            read_some(0.05)
        read_some(0.2)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"\x1b]52" not in data and b"\x07" not in data and b"\x1b[2J" not in data
    assert "\u202e".encode() not in data and "\x9b".encode() not in data
    assert b"evil\\x1b]52;c;aG" in data  # the name, shown literally (and cut) in the status line
    assert b"\\x1b]52;c;aGk=\\x07" in data  # the metric key, in the header
    assert b"\x1b[2K" in data  # tail's own status-line sequence
    text = data.decode("utf-8", "replace")
    assert " 11 " in text and "finished" in text


@pytest.mark.slow
def test_bad_input_gives_a_clear_message(tmp_path, store):
    w = Writer(tmp_path, store, "exists", pre=1, total=1)
    assert w.wait() == 0
    out = run_tail(store, "nosuchrun")
    assert out.returncode == 1 and "no run matches 'nosuchrun'" in out.stderr and "Traceback" not in out.stderr
    missing = run_tail(tmp_path / "nowhere", "x")
    assert missing.returncode == 1 and "no store at" in missing.stderr and "Traceback" not in missing.stderr
    neither = run_tail(store)
    assert neither.returncode == 1 and "--latest" in neither.stderr


@pytest.mark.slow
def test_last_rows_of_a_big_run_followed_by_other_runs(store):
    import tracker

    big = tracker.init(project="p", name="big", dir=str(store), capture_git=False)
    for i in range(12_000):  # 60,000 points: more than one read page
        big.log({f"k{j}": float(i * 10 + j) for j in range(5)})
    big.finish()
    later = tracker.init(project="p", name="later", dir=str(store), capture_git=False)
    for _ in range(2_000):  # newer ids from another run, to be skipped
        later.log({"k0": -1.0, "k1": -1.0})
    later.finish()
    out = run_tail(store, big.id, "-n", "4")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["_step"] for r in rows] == [11996, 11997, 11998, 11999]
    assert rows[-1]["k4"] == 119994.0 and rows[0]["k0"] == 119960.0
    out = run_tail(store, big.id, "-n", "2", "--keys", "k3")
    assert [json.loads(line) for line in out.stdout.splitlines()] == [
        {"_step": 11998, "_timestamp": rows[2]["_timestamp"], "k3": 119983.0},
        {"_step": 11999, "_timestamp": rows[3]["_timestamp"], "k3": 119993.0},
    ]
