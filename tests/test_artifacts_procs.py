"""Artifacts across real processes: kill -9 mid-ingest, four processes logging one name, gc
racing log_artifact, a full disk (a file-size limit) during ingest."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import child_env, ro_conn, script, wait_for

PY = sys.executable
pytestmark = pytest.mark.usefixtures("clean_env")


def _object_files(store: Path) -> list[Path]:
    return [p for p in (store / "objects").rglob("*") if p.is_file() and p.parent.name != "tmp"]


def _assert_objects_whole(store: Path) -> None:
    for p in _object_files(store):
        assert hashlib.sha256(p.read_bytes()).hexdigest() == p.parent.name + p.name, f"partial object {p}"


def test_kill_9_during_ingest_leaves_no_partial_object(tmp_path: Path) -> None:
    store = tmp_path / "store"
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(96):
            f.write(os.urandom(1 << 20))
    child = script(tmp_path, "child.py", f"""
        import tracker
        run = tracker.init(project="p", dir={str(store)!r})
        a = tracker.Artifact("big", type="model")
        while True:
            a.add_file({str(big)!r}, overwrite=True)
    """)
    p = subprocess.Popen([PY, str(child)], env=child_env(), stderr=subprocess.PIPE)
    tmpdir = store / "objects" / "tmp"
    try:
        wait_for(lambda: tmpdir.is_dir() and any(f.stat().st_size > 0 for f in tmpdir.iterdir()), 60,
                 "a snapshot being written")
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(30)
    _assert_objects_whole(store)
    assert ro_conn(store).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert ro_conn(store).execute("SELECT count(*) FROM artifact_versions").fetchone()[0] == 0
    # A later process logs the same file and collects the dead process's snapshot.
    after = script(tmp_path, "after.py", f"""
        import tracker
        from tracker.store import Store
        from tracker.store.artifacts import ArtifactStore
        run = tracker.init(project="p", dir={str(store)!r})
        print(run.log_artifact({str(big)!r}, name="big", type="model").wait().version)
        run.finish()
        print(ArtifactStore(Store({str(store)!r})).gc(grace=0))
    """)
    out = subprocess.run([PY, str(after)], env=child_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "v0"
    assert not list(tmpdir.iterdir())
    _assert_objects_whole(store)
    assert len(_object_files(store)) == 1


def test_four_processes_log_one_name_versions_distinct_none_lost(tmp_path: Path) -> None:
    store = tmp_path / "store"
    go = tmp_path / "go"
    child = script(tmp_path, "child.py", f"""
        import os, sys, time, tracker
        i = int(sys.argv[1])
        run = tracker.init(project="p", dir={str(store)!r})
        open({str(tmp_path)!r} + f"/ready{{i}}", "w").close()
        while not os.path.exists({str(go)!r}):
            time.sleep(0.001)
        arts = []
        for k in range(5):
            a = tracker.Artifact("shared", type="dataset", metadata={{"proc": i, "k": k}})
            with a.new_file("data.txt") as f:
                f.write(f"process {{i}} item {{k}}")
            arts.append(run.log_artifact(a, aliases=[f"p{{i}}"]))
        print(" ".join(a.wait().version for a in arts))
        run.finish()
    """)
    procs = [subprocess.Popen([PY, str(child), str(i)], env=child_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    wait_for(lambda: all((tmp_path / f"ready{i}").exists() for i in range(4)), 60, "four children ready")
    go.touch()
    versions = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        versions += out.split()
    assert sorted(versions, key=lambda v: int(v[1:])) == [f"v{n}" for n in range(20)]
    c = ro_conn(store)
    rows = c.execute("SELECT v.version, f.digest FROM artifact_versions v JOIN artifact_files f USING (vid)").fetchall()
    assert len(rows) == 20 and len({d for _, d in rows}) == 20
    assert c.execute("SELECT alias, count(*) FROM artifact_aliases GROUP BY alias HAVING count(*) > 1").fetchall() == []
    latest = c.execute("SELECT v.version FROM artifact_aliases a JOIN artifact_versions v USING (vid) "
                       "WHERE a.alias = 'latest'").fetchone()[0]
    assert latest == 19
    _assert_objects_whole(store)


def test_gc_racing_log_artifact_never_deletes_a_referenced_object(tmp_path: Path) -> None:
    store = tmp_path / "store"
    stop = tmp_path / "stop"
    payload = tmp_path / "payload"
    payload.mkdir()
    (payload / "big.bin").write_bytes(os.urandom(1 << 20))  # staged in a temporary file
    (payload / "small.bin").write_bytes(os.urandom(1000))  # staged in memory
    logger = script(tmp_path, "logger.py", f"""
        import tracker
        run = tracker.init(project="p", dir={str(store)!r})
        for i in range(40):
            # the same bytes each time: after delete() the object is unreferenced until re-logged
            a = run.log_artifact({str(payload)!r}, name="m", type="model").wait()
            a.verify()
            a.download({str(tmp_path)!r} + "/dl")
            a.delete()
        run.finish()
        print("ok")
    """)
    collector = script(tmp_path, "gc.py", f"""
        import os, time
        from tracker.store import Store
        from tracker.store.artifacts import ArtifactStore
        while not os.path.exists({str(store / "tracker.db")!r}):
            time.sleep(0.001)
        a = ArtifactStore(Store({str(store)!r}))
        n = 0
        while not os.path.exists({str(stop)!r}):
            n += a.gc(grace=0)[0]
        print(n)
    """)
    g = subprocess.Popen([PY, str(collector)], env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lg = subprocess.run([PY, str(logger)], env=child_env(), capture_output=True, text=True, timeout=240)
    stop.touch()
    gout, gerr = g.communicate(timeout=60)
    assert lg.returncode == 0 and lg.stdout.strip() == "ok", lg.stderr
    assert g.returncode == 0, gerr
    assert int(gout) >= 2  # it did collect the objects while the logger kept re-logging them


def test_disk_full_during_ingest_is_a_clear_error_and_registers_nothing(tmp_path: Path) -> None:
    store = tmp_path / "store"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(8 << 20))
    child = script(tmp_path, "child.py", f"""
        import resource, signal, tracker
        from tracker.store.artifacts_models import ArtifactError
        run = tracker.init(project="p", dir={str(store)!r})
        run.log({{"x": 1}})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, 2 << 20))  # files past 2 MB: EFBIG
        a = tracker.Artifact("big", type="model")
        try:
            a.add_file({str(big)!r})
        except OSError as e:
            print("add_file:", e)
        b = tracker.Artifact("big", type="model")
        b.add_file({str(big)!r}, policy="immutable")
        run.log_artifact(b)  # returns at once; the copy fails in the background
        try:
            b.wait()
        except ArtifactError as e:
            print("wait:", e)
        run.log({{"x": 2}})
        run.finish()
    """)
    out = subprocess.run([PY, str(child)], env=child_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("add_file: ") and "big.bin" in lines[0] and "File too large" in lines[0]
    assert lines[1].startswith("wait: tracker: artifact 'big' was not logged") and "File too large" in lines[1]
    assert "Traceback" not in out.stderr
    c = ro_conn(store)
    assert c.execute("SELECT count(*) FROM artifacts").fetchone()[0] == 0
    assert c.execute("SELECT count(*) FROM metrics").fetchone()[0] == 2
    assert c.execute("SELECT state FROM runs").fetchone()[0] == "finished"
    assert _object_files(store) == [] and not list((store / "objects" / "tmp").iterdir())
