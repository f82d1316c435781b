"""The store's own errors, and its one policy for a busy database.

Nothing outside ``tracker.store`` matches SQLite's error strings: store methods raise
:class:`StoreBusy` (another connection holds the lock beyond the busy timeout),
:class:`StoreValueError` (a value SQLite cannot bind) or :class:`StoreError` with a ``kind``
(``full``, ``readonly``, ``io``). Callers decide what to do from the class and the kind.

The busy policy, in one place: SQLite itself waits ``BUSY_TIMEOUT_MS`` for a lock; a store call
then retries a few dozen times with a short jitter (:func:`retry_busy`); a caller that must not
lose work (the logger's writer) keeps retrying with :func:`backoff_delay` between attempts. The
writer's batch writes take the lock through :func:`take_turns`: short jittered polls instead of
SQLite's busy handler, whose sleeps grow to 100 ms and let a writer that just committed take the
lock again and again while others wait (issue 9: one of 16 writers waited 35 s).
"""

from __future__ import annotations

import functools
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

__all__ = [
    "BUSY_TIMEOUT_MS",
    "RunNotFound",
    "StoreBusy",
    "StoreError",
    "StoreMissing",
    "StoreValueError",
    "StoreVersionError",
    "backoff_delay",
    "is_busy",
    "retry_busy",
    "take_turns",
    "translated",
    "translating",
]

#: How long SQLite itself waits for a lock before the caller's retry loop takes over (which
#: warns): short enough that a store locked by another process is reported within seconds.
BUSY_TIMEOUT_MS = 2_000

T = TypeVar("T")
P = ParamSpec("P")


class StoreError(RuntimeError):
    """A store problem with a message meant for people.

    ``kind`` says what went wrong when SQLite reported it: ``busy``, ``full``, ``readonly``,
    ``io`` (anything else the database said), or ``""`` for the store's own checks.
    """

    kind: str = ""

    def __init__(self, *args: Any, kind: str | None = None) -> None:
        super().__init__(*args)
        if kind is not None:
            self.kind = kind


class StoreBusy(StoreError, sqlite3.OperationalError):
    """Another connection held the write lock (or was recovering the WAL) for longer than the
    busy timeout and the retries. Transient: try again later.

    Also an ``sqlite3.OperationalError`` so callers written before the store had its own errors
    keep treating it as transient.
    """

    kind = "busy"


class StoreValueError(StoreError, ValueError):
    """A value the database cannot store (an unsupported type, an integer out of range)."""

    kind = "value"


class StoreVersionError(StoreError):
    """The store was written by a newer tracker; it is refused and left untouched."""


class StoreMissing(StoreError):
    """No store exists at the given directory (readers never create one)."""


class RunNotFound(StoreError, KeyError):
    """No run matches the given id or prefix (or the prefix is ambiguous)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def is_busy(exc: BaseException) -> bool:
    """Is this error a lock held by another connection (``SQLITE_BUSY`` / ``SQLITE_LOCKED``)?"""
    if isinstance(exc, StoreBusy):
        return True
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


def _kind(exc: sqlite3.DatabaseError) -> str:
    if is_busy(exc):
        return "busy"
    msg = str(exc).lower()
    if "full" in msg:
        return "full"
    if "readonly" in msg or "read-only" in msg:
        return "readonly"
    return "io"


def translate(exc: BaseException) -> BaseException:
    """The store error to raise for an exception from ``sqlite3`` (others are returned as-is)."""
    if isinstance(exc, StoreError) or not isinstance(exc, sqlite3.Error):
        return exc
    if isinstance(exc, (sqlite3.InterfaceError, sqlite3.ProgrammingError, sqlite3.IntegrityError,
                        sqlite3.DataError)):
        return StoreValueError(str(exc))
    if isinstance(exc, sqlite3.DatabaseError):
        kind = _kind(exc)
        return StoreBusy(str(exc)) if kind == "busy" else StoreError(str(exc), kind=kind)
    return StoreError(str(exc), kind="io")


@contextmanager
def translating() -> Iterator[None]:
    """Turn ``sqlite3`` errors raised inside into the store's own (the cause kept)."""
    try:
        yield
    except sqlite3.Error as e:
        raise translate(e) from e


def translated(fn: Callable[P, T]) -> Callable[P, T]:
    """Decorate a store method so it raises only the store's own errors."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with translating():
            return fn(*args, **kwargs)

    return wrapper


def retry_busy(fn: Callable[[], T], tries: int = 50) -> T:
    """Run ``fn``; while the database is busy beyond SQLite's own timeout, back off with a short
    jitter (1–20 ms, growing) and try again, up to ``tries`` times."""
    for attempt in range(tries):
        try:
            return fn()
        except sqlite3.OperationalError as e:
            if not is_busy(e) or attempt == tries - 1:
                raise
            time.sleep(random.uniform(0.001, 0.02) * min(attempt + 1, 10))
    raise AssertionError("unreachable")


#: How long one poll of :func:`take_turns` lets SQLite wait for the lock, in milliseconds.
TURN_POLL_MS = 1


def take_turns(conn: sqlite3.Connection, fn: Callable[[], T], patience: float = BUSY_TIMEOUT_MS / 1000,
               on_wait: Callable[[], None] | None = None) -> tuple[T, float]:
    """Run ``fn`` (one write transaction on ``conn``), waiting for the write lock in short polls
    with a random 0.5-5 ms pause between them, so that every waiting writer has its chances;
    raise the busy error after ``patience`` seconds. ``on_wait`` is called after each failed
    poll. Returns ``(fn's result, seconds waited)``."""
    conn.execute(f"PRAGMA busy_timeout = {TURN_POLL_MS}")
    try:
        start = time.monotonic()
        attempt = 0
        while True:
            try:
                return fn(), time.monotonic() - start
            except sqlite3.OperationalError as e:
                if not is_busy(e) or time.monotonic() - start > patience:
                    raise
                attempt += 1
                if on_wait is not None:
                    on_wait()
                time.sleep(random.uniform(0.0005, 0.001 * min(attempt, 5)))
    finally:
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.ProgrammingError:  # closed meanwhile (a damaged store swaps its connection)
            pass


def backoff_delay(attempt: int, cap: float = 2.0) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...) of work that must not be
    dropped: exponential from 20 ms up to ``cap``, jittered ±50% so writers spread out."""
    return min(cap, 0.01 * 2 ** min(attempt, 8)) * random.uniform(0.5, 1.5)
