"""Store faults seen by the background writer, end to end (issue 9, items 10 and 11).

Real child processes log into real stores; the faults are real: a full tmpfs (root only, as in
test_crash.py's S1), a deleted ``tracker.db``. Nothing is mocked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from test_crash import FULL_LOGGER, _progress, small_tmpfs  # noqa: F401 - small_tmpfs is a fixture

from helpers import WAIT_COMMITTED, child_env, ro_conn, script, wait_for

PY = sys.executable


def _fill(path: Path) -> None:
    """Take every remaining byte of the filesystem holding ``path``."""
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 16, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def _full_warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if "TrackerWarning" in line and "full" in line]


def test_disk_full_twice_warns_twice_and_finish_marks_the_run_saying_what_was_lost(tmp_path, small_tmpfs):  # noqa: F811
    """A second disk-full episode gets its own warning; a finish() that times out on a still-full
    disk marks the run (not left ``running``) and says exactly how many calls and points were not
    written, which matches the store."""
    store, flags = small_tmpfs / "store", tmp_path / "flags"
    flags.mkdir()
    s = script(tmp_path, "full.py", FULL_LOGGER)
    errf = tmp_path / "stderr.txt"
    with open(errf, "w") as ef:
        p = subprocess.Popen([PY, str(s), str(store), str(flags)], stdout=subprocess.PIPE, stderr=ef, text=True,
                             env=child_env(TRACKER_FINISH_TIMEOUT="3"))
    filler = small_tmpfs / "filler"
    try:
        wait_for(lambda: (flags / "ready").exists() or p.poll() is not None, 30, "the logger to start")
        assert p.poll() is None, errf.read_text()
        _fill(filler)
        wait_for(lambda: _full_warnings(errf.read_text()), 30, "the first disk-full warning", interval=0.05)
        filler.unlink()
        wait_for(lambda: "writable again" in errf.read_text(), 30, "the writer to recover", interval=0.05)
        _fill(filler)
        wait_for(lambda: len(_full_warnings(errf.read_text())) >= 2, 30, "a warning for the second episode",
                 interval=0.05)
        before = _progress(flags)
        wait_for(lambda: _progress(flags) >= before + 100, 30, "log() calls to continue on a full disk")
        (flags / "stop").touch()
        so, _ = p.communicate(timeout=60)
    finally:
        (flags / "stop").touch()
        if p.poll() is None:
            p.kill()
            p.wait()
    err = errf.read_text()
    assert p.returncode == 0, err
    assert "Traceback" not in err
    rep = json.loads(so)
    assert rep["finish_s"] < 10, f"finish() took {rep['finish_s']:.1f} s with a 3 s timeout"
    m = re.search(r"not written: ([\d,]+) log\(\) calls \(([\d,]+) points\)", err)
    assert m, err
    calls_lost, points_lost = (int(x.replace(",", "")) for x in m.groups())
    conn = ro_conn(store)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = conn.execute("SELECT count(*) FROM metrics").fetchone()[0]
    expected = 1 + 10 * (rep["calls"] - 1)
    assert points_lost > 0 and stored + points_lost == expected, (stored, points_lost, expected)
    assert calls_lost * 10 == points_lost
    state, meta = conn.execute("SELECT state, meta FROM runs").fetchone()
    assert state == "finished", "the run was left as it was (running) although finish() was called"
    assert json.loads(meta)["unwritten"]["points"] == points_lost


DELETER_LOGGER = """
    import json, os, sys, time
    import tracker

""" + WAIT_COMMITTED + """
    store, flags = sys.argv[1], sys.argv[2]
    run = tracker.init(project="gone", dir=store, capture_git=False, system_interval=None)
    run.config.update({"lr": 0.1})
    run.log({"k": 0.0})
    wait_committed(store, run, 1)
    open(flags + "/ready", "w").close()
    n = 1
    while not os.path.exists(flags + "/stop"):
        run.log({"k": float(n)})
        n += 1
        time.sleep(0.001)
    run.finish()
    print(json.dumps({"calls": n, "id": run.id, "name": run.name}))
"""


def test_deleted_store_file_is_detected_recreated_and_said(tmp_path):
    """``rm tracker.db`` (and its -wal/-shm) while a run logs: the writer notices within about a
    second, says so loudly, recreates the store with the run and all its points in it, and goes on
    writing there (before: every later point went silently into the deleted file)."""
    store, flags = tmp_path / "store", tmp_path / "flags"
    flags.mkdir()
    s = script(tmp_path, "gone.py", DELETER_LOGGER)
    errf = tmp_path / "stderr.txt"
    with open(errf, "w") as ef:
        p = subprocess.Popen([PY, str(s), str(store), str(flags)], stdout=subprocess.PIPE, stderr=ef, text=True,
                             env=child_env())
    try:
        wait_for(lambda: (flags / "ready").exists() or p.poll() is not None, 30, "the logger to start")
        assert p.poll() is None, errf.read_text()
        for suffix in ("", "-wal", "-shm"):
            (store / f"tracker.db{suffix}").unlink(missing_ok=True)
        wait_for(lambda: "was deleted" in errf.read_text(), 30, "the writer to notice the deleted store",
                 interval=0.05)
        wait_for(lambda: "recreated" in errf.read_text(), 30, "the store to be recreated", interval=0.05)
        conn = ro_conn(store)
        wait_for(lambda: conn.execute("SELECT count(*) FROM metrics").fetchone()[0] > 200, 30,
                 "points to reach the recreated store")
        (flags / "stop").touch()
        so, _ = p.communicate(timeout=60)
    finally:
        (flags / "stop").touch()
        if p.poll() is None:
            p.kill()
            p.wait()
    err = errf.read_text()
    assert p.returncode == 0, err
    assert "Traceback" not in err
    rep = json.loads(so)
    import tracker

    run = tracker.Api(store).run(rep["id"])
    assert run.state == "finished" and run.name == rep["name"]
    assert run.config.get("lr") == 0.1
    steps = [h["_step"] for h in run.history(["k"], pandas=False)]
    # Every step: those committed before (and into the deleted file after) the deletion were
    # copied from the old file, still open; those after went to the new one.
    assert steps == list(range(rep["calls"]))
    assert "recreated" in err and str(store / "tracker.db") in err
    assert ro_conn(store).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


AGAIN = """
    import json, shutil, sys
    import tracker

    store = sys.argv[1]
    first = tracker.init(project="again", dir=store, capture_git=False, system_interval=None)
    first.log({"k": 1.0})
    first.finish()
    shutil.rmtree(store)  # the user clears the store between two runs of one process
    second = tracker.init(project="again", dir=store, capture_git=False, system_interval=None)
    for s in range(100):
        second.log({"k": float(s)})
    second.finish()
    print(json.dumps({"id": second.id}))
"""


def test_a_run_started_after_the_store_was_deleted_goes_to_the_new_store(tmp_path):
    """One process, two runs, the store directory removed in between: the second run and all its
    points are in the store that is there now, not lost in the deleted file."""
    s = script(tmp_path, "again.py", AGAIN)
    store = tmp_path / "store"
    p = subprocess.run([PY, str(s), str(store)], capture_output=True, text=True, env=child_env(), timeout=120)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    import tracker

    run = tracker.Api(store).run(rep["id"])
    assert run.state == "finished" and run.metric_stats()["k"]["count"] == 100
    assert [r.id for r in tracker.Api(store).runs()] == [rep["id"]]
    assert "Traceback" not in p.stderr


def test_store_replaced_by_a_file_that_is_not_a_store_stops_writing_loudly(tmp_path):
    """``tracker.db`` replaced by something else while a run logs: the writer says it cannot use
    it and stops writing, log() goes on returning, finish() says how many calls were dropped, the
    process exits 0 without a traceback, and the foreign file is left as it is."""
    store, flags = tmp_path / "store", tmp_path / "flags"
    flags.mkdir()
    s = script(tmp_path, "gone.py", DELETER_LOGGER)
    errf = tmp_path / "stderr.txt"
    with open(errf, "w") as ef:
        p = subprocess.Popen([PY, str(s), str(store), str(flags)], stdout=subprocess.PIPE, stderr=ef, text=True,
                             env=child_env())
    foreign = b"not a database, a user's own file\n" * 100
    try:
        wait_for(lambda: (flags / "ready").exists() or p.poll() is not None, 30, "the logger to start")
        assert p.poll() is None, errf.read_text()
        tmp = store / "other"
        tmp.write_bytes(foreign)
        for suffix in ("-wal", "-shm"):
            (store / f"tracker.db{suffix}").unlink(missing_ok=True)
        tmp.replace(store / "tracker.db")
        wait_for(lambda: "STOPS WRITING" in errf.read_text(), 30, "the writer to stop, loudly", interval=0.05)
        (flags / "stop").touch()
        so, _ = p.communicate(timeout=60)
    finally:
        (flags / "stop").touch()
        if p.poll() is None:
            p.kill()
            p.wait()
    err = errf.read_text()
    assert p.returncode == 0, err
    assert "Traceback" not in err
    assert "replaced by another file" in err
    m = re.search(r"([\d,]+) log\(\) calls of this process were not stored", err)
    assert m and int(m.group(1).replace(",", "")) > 0, err
    assert (store / "tracker.db").read_bytes() == foreign


def test_store_replaced_by_a_copy_of_itself_is_written_to_as_it_is(tmp_path):
    """A copy of the store (holding the run) moved over ``tracker.db`` while the run logs: the
    writer notices, says points committed to the old file after the copy may be missing, and
    writes on into the copy: the run finishes there with its last step."""
    import sqlite3

    store, flags = tmp_path / "store", tmp_path / "flags"
    flags.mkdir()
    s = script(tmp_path, "gone.py", DELETER_LOGGER)
    errf = tmp_path / "stderr.txt"
    with open(errf, "w") as ef:
        p = subprocess.Popen([PY, str(s), str(store), str(flags)], stdout=subprocess.PIPE, stderr=ef, text=True,
                             env=child_env())
    try:
        wait_for(lambda: (flags / "ready").exists() or p.poll() is not None, 30, "the logger to start")
        assert p.poll() is None, errf.read_text()
        src, dst = ro_conn(store), sqlite3.connect(tmp_path / "copy.db")
        src.backup(dst)  # a consistent copy, the -wal's content included
        src.close()
        dst.close()
        for suffix in ("-wal", "-shm"):
            (store / f"tracker.db{suffix}").unlink(missing_ok=True)
        (tmp_path / "copy.db").replace(store / "tracker.db")
        wait_for(lambda: "already holds" in errf.read_text(), 30, "the writer to notice the copy", interval=0.05)
        (flags / "stop").touch()
        so, _ = p.communicate(timeout=60)
    finally:
        (flags / "stop").touch()
        if p.poll() is None:
            p.kill()
            p.wait()
    err = errf.read_text()
    assert p.returncode == 0, err
    assert "Traceback" not in err and "STOPS WRITING" not in err
    rep = json.loads(so)
    import tracker

    run = tracker.Api(store).run(rep["id"])
    assert run.state == "finished" and run.config.get("lr") == 0.1
    steps = [h["_step"] for h in run.history(["k"], pandas=False)]
    assert steps[0] == 0 and steps[-1] == rep["calls"] - 1


DAMAGE_LOGGER = r'''
import sys, time, pathlib
import tracker
store, flags = sys.argv[1], pathlib.Path(sys.argv[2])
run = tracker.init(project="p", dir=store, capture_git=False, console=False)
for i in range(200):
    run.log({"loss": float(i)})
time.sleep(1.0)  # the writer commits within ~0.1 s
(flags / "ready").touch()
while not (flags / "go").exists():
    time.sleep(0.01)
for i in range(200, 400):
    run.log({"loss": float(i), f"k{i}": 1.0})
    time.sleep(0.005)
run.finish()
print("finished")
'''


def test_a_store_damaged_under_a_running_writer_stops_writing_loudly(tmp_path):
    """Pages of the store overwritten with garbage while a run writes: the writer says the store is
    damaged and how to recover, stops writing to it (no retry loop, no hang), and finish() says how
    much was not written. The damaged file is never written to again."""
    import sqlite3

    store, flags = tmp_path / "store", tmp_path / "flags"
    flags.mkdir()
    s = script(tmp_path, "damage.py", DAMAGE_LOGGER)
    p = subprocess.Popen([PY, str(s), str(store), str(flags)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=child_env(TRACKER_FINISH_TIMEOUT="5"))
    try:
        wait_for(lambda: (flags / "ready").exists() or p.poll() is not None, 30, "the logger to start")
        assert p.poll() is None, p.communicate()
        db = store / "tracker.db"
        c = sqlite3.connect(db, timeout=10)

        def checkpointed() -> bool:
            return c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0

        wait_for(checkpointed, 30, "a full checkpoint")
        page = c.execute("PRAGMA page_size").fetchone()[0]
        version = c.execute("PRAGMA user_version").fetchone()[0]
        size = db.stat().st_size
        with open(db, "r+b") as f:  # every page but the header's: garbage
            f.seek(page)
            f.write(bytes((i * 37 + 11) % 251 for i in range(size - page)))
        c.execute(f"PRAGMA user_version = {version}")  # a commit: the writer's page cache is stale now
        c.close()
        (flags / "go").touch()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0 and "finished" in out, err
    assert "damaged" in err and "tracker-tui doctor" in err, err
    assert "STOPS WRITING" in err or "stops writing" in err.lower(), err
    assert re.search(r"\d+ log\(\) call", err) or "not written" in err or "dropped" in err, err
    assert err.count("is damaged (") <= 3, err  # said, not repeated on every retry
    assert "writer error" not in err, err
