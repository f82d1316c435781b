"""The store's error policy pinned where mutation testing found it unpinned (tests/MUTATION.md):
which SQLite errors read as busy, full, read-only or I/O, the errors' messages and kinds, the
short retry loop and the writer's back-off bounds."""

from __future__ import annotations

import sqlite3

import pytest

from tracker.store.errors import (
    RunNotFound,
    StoreBusy,
    StoreError,
    StoreValueError,
    backoff_delay,
    is_busy,
    retry_busy,
    translate,
    translated,
    translating,
)


def test_busy_is_a_locked_or_busy_operational_error_in_any_case():
    for msg in ("database is locked", "database table is locked", "Database Is LOCKED", "database busy"):
        assert is_busy(sqlite3.OperationalError(msg)), msg
    assert is_busy(StoreBusy("x"))
    for exc in (sqlite3.OperationalError("disk I/O error"), sqlite3.DatabaseError("database is locked"),
                ValueError("locked"), StoreError("busy")):
        assert not is_busy(exc), exc


def test_real_sqlite_errors_become_store_errors_with_a_kind(tmp_path):
    db = tmp_path / "t.db"
    sqlite3.connect(db).execute("CREATE TABLE t(x UNIQUE)").connection.commit()
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as e:
        ro.execute("INSERT INTO t VALUES (1)")
    err = translate(e.value)
    assert type(err) is StoreError and err.kind == "readonly" and str(err) == str(e.value)
    rw = sqlite3.connect(db)
    rw.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError) as e:
        rw.execute("INSERT INTO t VALUES (1)")
    err = translate(e.value)
    assert type(err) is StoreValueError and err.kind == "value" and str(err) == str(e.value)


@pytest.mark.parametrize("exc, cls, kind", [
    (sqlite3.OperationalError("database or disk is full"), StoreError, "full"),
    (sqlite3.OperationalError("attempt to write a readonly database"), StoreError, "readonly"),
    (sqlite3.DatabaseError("the file system is read-only"), StoreError, "readonly"),
    (sqlite3.DatabaseError("database disk image is malformed"), StoreError, "io"),
    (sqlite3.OperationalError("database is locked"), StoreBusy, "busy"),
    (sqlite3.InterfaceError("bad parameter"), StoreValueError, "value"),
    (sqlite3.ProgrammingError("closed database"), StoreValueError, "value"),
    (sqlite3.DataError("too big"), StoreValueError, "value"),
    (sqlite3.Error("something else"), StoreError, "io"),
])
def test_each_sqlite_error_class_and_message(exc, cls, kind):
    err = translate(exc)
    assert type(err) is cls and err.kind == kind and str(err) == str(exc)


def test_our_own_and_foreign_errors_pass_through_unchanged():
    for exc in (StoreError("mine"), StoreBusy("b"), ValueError("v"), KeyError("k")):
        assert translate(exc) is exc


def test_translating_keeps_the_cause_and_translated_keeps_the_function():
    original = sqlite3.OperationalError("database or disk is full")
    with pytest.raises(StoreError) as e:
        with translating():
            raise original
    assert e.value.kind == "full" and e.value.__cause__ is original

    def add(a, b=0):
        """Adds."""
        if a < 0:
            raise sqlite3.OperationalError("database is locked")
        return a + b

    wrapped = translated(add)
    assert wrapped(1, b=2) == 3 and wrapped.__name__ == "add" and wrapped.__doc__ == "Adds."
    with pytest.raises(StoreBusy):
        wrapped(-1)


def test_error_kinds_and_messages():
    assert StoreError("x").kind == "" and StoreError("x", kind="full").kind == "full"
    assert StoreError("x", kind=None).kind == ""
    assert isinstance(StoreBusy("x"), sqlite3.OperationalError) and StoreBusy("x").kind == "busy"
    assert isinstance(StoreValueError("x"), ValueError)
    assert str(RunNotFound("no run matches 'ab'")) == "no run matches 'ab'"  # not KeyError's repr
    assert str(RunNotFound()) == ""


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def test_retry_busy_waits_out_a_busy_store_and_gives_up_after_its_tries():
    f = Flaky(3, sqlite3.OperationalError("database is locked"))
    assert retry_busy(f, tries=5) == "done" and f.calls == 4
    f = Flaky(10, sqlite3.OperationalError("database is locked"))
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        retry_busy(f, tries=3)
    assert f.calls == 3
    f = Flaky(1, sqlite3.OperationalError("disk I/O error"))
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        retry_busy(f)
    assert f.calls == 1  # not busy: no retry
    f = Flaky(1, sqlite3.OperationalError("database is locked"))
    assert retry_busy(f) == "done" and f.calls == 2  # the default allows retries


def test_backoff_grows_from_20_ms_to_the_cap_with_jitter():
    def spread(attempt, **kw):
        xs = [backoff_delay(attempt, **kw) for _ in range(400)]
        return min(xs), max(xs)

    for attempt, base in ((1, 0.02), (3, 0.08), (8, 2.0), (20, 2.0)):
        lo, hi = spread(attempt)
        assert base * 0.5 <= lo < base * 0.7 and base * 1.3 < hi <= base * 1.5, (attempt, lo, hi)
    lo, hi = spread(20, cap=10.0)  # beyond attempt 8 the delay stops growing: 2.56 s
    assert 1.28 <= lo < 1.8 and 3.3 < hi <= 3.84
    lo, hi = spread(5, cap=0.1)
    assert 0.05 <= lo and hi <= 0.15


def test_retry_busy_jitter_grows_per_attempt_up_to_ten_steps_and_defaults_to_50_tries(monkeypatch):
    import random
    import time

    slept, ranges = [], []
    monkeypatch.setattr(time, "sleep", slept.append)  # record the waits instead of waiting

    def top_of_range(a, b):
        ranges.append((a, b))
        return b

    monkeypatch.setattr(random, "uniform", top_of_range)
    f = Flaky(12, sqlite3.OperationalError("database is locked"))
    assert retry_busy(f, tries=13) == "done"
    assert set(ranges) == {(0.001, 0.02)}
    assert slept == pytest.approx([0.02 * min(a + 1, 10) for a in range(12)])
    f = Flaky(1000, sqlite3.OperationalError("database is locked"))
    with pytest.raises(sqlite3.OperationalError):
        retry_busy(f)
    assert f.calls == 50
