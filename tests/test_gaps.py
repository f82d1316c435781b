"""Gaps a mutation check found (issue 20): each test here fails on a small planted bug that the rest
of the suite let through, and passes on the real code.

- the filter: an oracle over random expressions and random runs, checked against a brute-force
  evaluator written here from the documented semantics (a 3-way ``or`` that read only two
  alternatives passed every other test);
- the alert hook's timeout stops the hook's children, not only its shell;
- a crashed run reads as an alert;
- the queue bound: past it, ``log()`` waits for the writer and nothing is dropped;
- the mountinfo parser behind network-filesystem detection, on real mountinfo text.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tracker
from helpers import WAIT_COMMITTED  # noqa: E402
from tracker.store import fs
from tracker.tui.filter import compile_filter

# ------------------------------------------------------------------------------ filter oracle

KEYS = ("a", "b", "c")
NAMES = ("alpha", "beta", "gamma", "delta")


def _random_run(rng: random.Random, i: int) -> dict:
    summary = {k: rng.choice([rng.randint(0, 5), rng.uniform(0, 5), math.nan])
               for k in KEYS if rng.random() < 0.8}
    config = {"opt": rng.choice(["adam", "sgd", "adamw"])} if rng.random() < 0.9 else {}
    return {"id": f"r{i:03d}", "name": f"{rng.choice(NAMES)}-{i}", "project": "p", "group": None,
            "job_type": None, "state": rng.choice(["running", "finished", "failed"]),
            "tags": rng.sample(["x", "y", "z"], rng.randint(0, 2)), "notes": None, "host": None,
            "config": config, "summary": summary}


def _atom(rng: random.Random):
    """One comparison: (filter text, brute-force predicate)."""
    kind = rng.randrange(4)
    if kind == 0:
        key, op, v = rng.choice(KEYS), rng.choice(["<", "<=", ">", ">=", "=", "!="]), rng.randint(0, 5)

        def pred(run, key=key, op=op, v=v):
            x = run["summary"].get(key)
            if x is None:
                return False
            if math.isnan(x):
                return op == "!="
            return {"<": x < v, "<=": x <= v, ">": x > v, ">=": x >= v, "=": x == v, "!=": x != v}[op]

        return f"{key} {op} {v}", pred
    if kind == 1:
        opt = rng.choice(["adam", "sgd", "adamw"])
        return f"opt = {opt}", lambda run, opt=opt: run["config"].get("opt") == opt
    if kind == 2:
        tag = rng.choice(["x", "y", "z"])
        return f"tag:{tag}", lambda run, tag=tag: tag in run["tags"]
    state = rng.choice(["running", "finished", "failed"])
    return f"state:{state}", lambda run, state=state: run["state"] == state


def _expr(rng: random.Random, depth: int = 0):
    """A random expression mixing n-way and/or, not and groups: (text, predicate)."""
    if depth >= 2 or rng.random() < 0.3:
        return _atom(rng)
    kind = rng.choice(["and", "or", "not"])
    if kind == "not":
        text, pred = _expr(rng, depth + 1)
        return f"not ({text})", lambda run, pred=pred: not pred(run)
    parts = [_expr(rng, depth + 1) for _ in range(rng.randint(2, 4))]
    text = f" {kind} ".join(f"({t})" for t, _ in parts)
    preds = [p for _, p in parts]
    if kind == "and":
        return text, lambda run, preds=preds: all(p(run) for p in preds)
    return text, lambda run, preds=preds: any(p(run) for p in preds)


def test_random_filters_select_exactly_what_a_brute_force_evaluator_selects():
    rng = random.Random(20)
    runs = [_random_run(rng, i) for i in range(60)]
    for _ in range(400):
        text, pred = _expr(rng)
        want = [r["id"] for r in runs if pred(r)]
        got = [r["id"] for r in runs if compile_filter(text)(r)]
        assert got == want, text


def test_each_alternative_of_a_long_or_can_select_a_run():
    runs = [{"id": f"r{i}", "name": f"n{i}", "project": "p", "group": None, "job_type": None,
             "state": "finished", "tags": [], "notes": None, "host": None, "config": {},
             "summary": {"a": i}} for i in range(5)]
    f = compile_filter("a = 0 or a = 1 or a = 2 or a = 3")
    assert [r["id"] for r in runs if f(r)] == ["r0", "r1", "r2", "r3"]
    f = compile_filter("a = 4 || a = 3 || a = 2")
    assert [r["id"] for r in runs if f(r)] == ["r2", "r3", "r4"]


# ------------------------------------------------------------------------------ alert hook


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_timed_out_hook_is_stopped_with_the_processes_it_started(tmp_path):
    """The hook's shell starts a background child; at the timeout both must be gone (the shell
    alone being killed would leave the child running: planted bug)."""
    pidfile = tmp_path / "child.pid"
    child = textwrap.dedent(f"""
        import sys, time, tracker
        run = tracker.init(project="hook", dir=sys.argv[1], capture_git=False)
        run.alert("slow hook", "x")
        run.finish()
        # stay alive past the hook's timeout, so the hook thread can stop it
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not open({str(tmp_path / 'done')!r}, 'a').tell():
            time.sleep(0.02)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["TRACKER_ALERT_CMD"] = f"sleep 60 & echo $! > {pidfile}; wait"
    env["TRACKER_ALERT_TIMEOUT"] = "0.5"
    p = subprocess.Popen([sys.executable, "-c", child, str(tmp_path / "s")], env=env,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)
        pid = int(pidfile.read_text())  # it started (on a loaded machine the 0.5 s may be over already)
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        still = _alive(pid)
    finally:
        (tmp_path / "done").write_text("x")
        _, err = p.communicate(timeout=30)
    if still:
        os.kill(pid, signal.SIGKILL)
    assert not still, "the hook's child outlived the hook's timeout"
    assert "took longer than 0.5 s" in err


# ------------------------------------------------------------------------------ crashed run alert


def test_a_crashed_run_reads_as_an_error_alert(tmp_path):
    child = textwrap.dedent(WAIT_COMMITTED) + textwrap.dedent("""
        import os, sys, time, tracker
        run = tracker.init(project="c", name="doomed", dir=sys.argv[1], capture_git=False)
        run.log({"loss": 1.0})
        wait_committed(sys.argv[1], run, 1)
        print(run.id, flush=True)
        os._exit(0)  # no finish, no hooks: the process is simply gone
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    out = subprocess.run([sys.executable, "-c", child, str(tmp_path)], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    run = tracker.Api(tmp_path).run(out[-1])
    assert run.state == "crashed"
    (alert,) = run.alerts()
    assert alert["title"] == "run crashed" and alert["level"] == "ERROR"


# ------------------------------------------------------------------------------ backpressure


def test_past_the_queue_bound_log_waits_for_the_writer_and_nothing_is_dropped(tmp_path):
    """The store is locked by another connection while the script logs more calls than the queue
    holds: log() must pause (with one message) instead of growing without bound or dropping."""
    import sqlite3

    store = tmp_path / "s"
    child = textwrap.dedent("""
        import sys, time, tracker
        from tracker import _writer_bounds
        _writer_bounds.MAX_QUEUE_BYTES = 2000 * 6 * 40  # 2,000 one-value calls
        run = tracker.init(project="bp", dir=sys.argv[1], capture_git=False)
        print(run.id, flush=True)
        sys.stdin.readline()  # the test holds the write lock now
        t0 = time.monotonic()
        longest = 0.0
        for i in range(6000):
            t = time.monotonic()
            run.log({"x": i}, step=i)
            longest = max(longest, time.monotonic() - t)
        run.finish()
        print(f"{longest:.3f}", flush=True)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    p = subprocess.Popen([sys.executable, "-c", child, str(store)], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdin and p.stdout
    run_id = p.stdout.readline().strip()
    lock = sqlite3.connect(store / "tracker.db", isolation_level=None, timeout=30)
    lock.execute("BEGIN IMMEDIATE")
    p.stdin.write("go\n")
    p.stdin.flush()
    time.sleep(2.0)  # not synchronisation: the length of the outage log() must ride out
    lock.execute("ROLLBACK")
    lock.close()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    longest = float(out.split()[-1])
    assert longest > 0.5, "log() never waited: the queue grew past its bound"
    assert "log() is pausing until the store catches up" in err
    run = tracker.Api(store).run(run_id)
    assert [r["x"] for r in run.history(keys=["x"], pandas=False)] == list(range(6000))


# ------------------------------------------------------------------------------ mountinfo

MOUNTINFO = """\
35 22 0:31 / /mnt/team\\040data rw,relatime shared:2 - nfs4 server:/export rw,vers=4.2
36 35 0:32 / /mnt/team\\040data/scratch rw shared:3 - tmpfs tmpfs rw
37 22 0:33 / /home/u/remote rw,nosuid - fuse.sshfs u@gpu1:/ rw
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
"""  # the root last: order in the file must not decide


@pytest.mark.parametrize(("path", "want"), [
    ("/", "ext4"),
    ("/home/u/file", "ext4"),
    ("/mnt/team data", "nfs4"),
    ("/mnt/team data/runs/x", "nfs4"),
    ("/mnt/team data/scratch/y", "tmpfs"),
    ("/mnt/team database", "ext4"),  # a prefix of the text is not a prefix of the path
    ("/home/u/remote/store", "fuse.sshfs"),
])
def test_mountinfo_parser_picks_the_longest_mount_holding_the_path(tmp_path, monkeypatch, path, want):
    info = tmp_path / "mountinfo"
    info.write_text(MOUNTINFO)
    real_open = open

    def fake_proc(file, *a, **k):  # the parser reads /proc/self/mountinfo; give it this text
        return real_open(info if file == "/proc/self/mountinfo" else file, *a, **k)

    monkeypatch.setattr("builtins.open", fake_proc)
    monkeypatch.setattr(os.path, "realpath", lambda p: str(p))
    assert fs.filesystem_type(path) == want
    assert fs.is_network_fs(fs.filesystem_type(path)) == (want in ("nfs4", "fuse.sshfs"))


def test_mountinfo_parser_reads_this_machines_root():
    assert fs.filesystem_type("/") not in (None, "")
    assert Path("/proc/self/mountinfo").exists()


# ------------------------------------------------------------------------------ heartbeat


def test_an_idle_live_run_keeps_writing_its_heartbeat(tmp_path):
    """A run that logs nothing for a while (a long validation pass) must keep proving it is alive,
    or readers on other hosts would call it crashed: the writer's heartbeat, really run."""
    store = tmp_path / "s"
    child = textwrap.dedent("""
        import sys, tracker
        run = tracker.init(project="hb", dir=sys.argv[1], capture_git=False, system_interval=0)
        run.log({"loss": 1.0})
        print(run.id, flush=True)
        sys.stdin.readline()  # idle until the test has seen the heartbeats
        run.finish()
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["TRACKER_HEARTBEAT_INTERVAL"] = "0.2"
    p = subprocess.Popen([sys.executable, "-c", child, str(store)], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdin and p.stdout
    run_id = p.stdout.readline().strip()
    try:
        seen: list[float] = []
        deadline = time.monotonic() + 20
        while len(seen) < 3 and time.monotonic() < deadline:
            beat = tracker.Api(store).run(run_id).heartbeat_at
            if beat is not None and (not seen or beat > seen[-1]):
                seen.append(beat)
            time.sleep(0.05)
        assert len(seen) == 3, f"heartbeats seen while idle: {seen}"
        assert tracker.Api(store).run(run_id).state == "running"
    finally:
        p.stdin.write("done\n")
        p.stdin.flush()
        p.wait(30)
    assert tracker.Api(store).run(run_id).state == "finished"
