"""The store raises its own errors (issue 8): callers never match SQLite's error strings."""

from __future__ import annotations

import sqlite3
import time
from fractions import Fraction

import pytest

import tracker
from tracker.store import Store, StoreBusy, StoreError, StoreValueError, is_busy


@pytest.fixture
def locked_store(tmp_path):
    """A real store and another connection holding its write lock (as a stuck writer would)."""
    run = tracker.init(project="p", dir=tmp_path, capture_git=False)
    run.log({"loss": 1.0})
    run.finish()
    other = sqlite3.connect(tmp_path / "tracker.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield tmp_path, run.id
    other.execute("ROLLBACK")
    other.close()


def test_a_held_write_lock_is_store_busy(locked_store):
    d, run_id = locked_store
    s = Store(d, create=False)
    rid = s.run(run_id).rid  # reads are not blocked by a writer (WAL)
    t = time.monotonic()
    with pytest.raises(StoreBusy) as err:
        s.append([(rid, 1, time.time(), ("loss",), (0.5,))])
    assert time.monotonic() - t >= 1.5  # SQLite's own busy timeout was waited out first
    assert isinstance(err.value, StoreError) and err.value.kind == "busy" and is_busy(err.value)
    assert isinstance(err.value.__cause__, sqlite3.OperationalError)  # the original, for debugging
    with pytest.raises(StoreBusy):
        s.heartbeat([rid])
    assert [p[3] for p in s.points(rid)] == [1.0]  # nothing half-written


def test_an_unstorable_value_is_a_store_value_error(tmp_path):
    run = tracker.init(project="p", dir=tmp_path, capture_git=False)
    run.finish()
    s = Store(tmp_path)
    rid = s.run(run.id).rid
    with pytest.raises(StoreValueError) as err:
        s.append([(rid, 0, time.time(), ("x",), (Fraction(1, 3),))])  # a number SQLite cannot bind
    assert isinstance(err.value, ValueError) and not is_busy(err.value)
    assert s.count_points(rid) == 0


def test_the_logger_rides_out_a_busy_store_and_loses_nothing(tmp_path, capfd):
    run = tracker.init(project="p", dir=tmp_path, capture_git=False)
    other = sqlite3.connect(tmp_path / "tracker.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    with pytest.warns(tracker.TrackerWarning, match="another process holds the write lock; retrying") as seen:
        for i in range(50):
            run.log({"loss": float(i)})
        deadline = time.monotonic() + 20
        while not seen.list and time.monotonic() < deadline:
            time.sleep(0.1)  # the writer waits out the busy timeout, then warns and keeps the batch
    other.execute("ROLLBACK")
    other.close()
    run.finish()
    assert "writable again" in capfd.readouterr().err
    assert [h["loss"] for h in tracker.Api(tmp_path).run(run.id).history(pandas=False)] == [float(i) for i in range(50)]
