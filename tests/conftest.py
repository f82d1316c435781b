"""Shared fixtures: a private store directory per test, a clean environment, and no run left
open between tests (an open run would become the "current" run of the next test)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import tracker

#: Environment variables that change where/how tracker stores things.
TRACKER_ENV = ("TRACKER_DIR", "TRACKER_PROJECT", "TRACKER_MASK_SECRETS", "TRACKER_ALLOW_NETWORK_FS")


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A store directory that does not exist yet (tracker creates it)."""
    return tmp_path / "store"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TRACKER_* setting inherited from the developer's shell or CI."""
    for name in TRACKER_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True, scope="session")
def _no_sampler_or_console_capture_by_default():
    """Runs made by tests (and their subprocesses, which inherit the environment) neither sample
    system metrics nor capture the console unless a test asks: exact history() assertions and
    pytest's own output capture stay unaffected. tests/test_system.py and test_console.py and
    the integration tests turn them on explicitly."""
    import os

    saved = {k: os.environ.get(k) for k in ("TRACKER_SYSTEM", "TRACKER_CONSOLE")}
    os.environ["TRACKER_SYSTEM"] = "0"
    os.environ["TRACKER_CONSOLE"] = "0"
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def _finish_active_run():
    yield
    r = tracker.run
    if r is not None:
        r.finish()
    _retire_idle_writers()


def _retire_idle_writers() -> None:
    """A process keeps one writer per store (thread, connection, wake-up pipe) for its lifetime,
    which is right for a training script and wrong for a test session that makes a thousand
    stores: past fd 1024, select() in a later test fails. Writers with no unfinished run are
    stopped and their stores closed after each test (tests that keep a run open keep theirs)."""
    from tracker import _state

    with _state.lock:
        idle = [(k, w) for k, w in _state.writers.items() if not w.active and not w.q]
        for k, _ in idle:
            del _state.writers[k]
    for _, w in idle:
        w.stop()
        w.store.close()
        if not w.thread.is_alive():
            w.wake.close()


@pytest.fixture
def stored_points():
    """``stored_points(store_dir, run_id)`` -> rows ``(key, typeof(value), value, flag, step)``
    read straight from the SQLite file, in insertion order."""

    def read(store: Path, run_id: str) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(Path(store) / "tracker.db")
        try:
            return conn.execute(
                "SELECT k.name, typeof(m.value), m.value, m.flag, m.step FROM metrics m "
                "JOIN keys k ON k.kid = m.kid JOIN runs r ON r.rid = m.rid WHERE r.id = ? ORDER BY m.id",
                (run_id,),
            ).fetchall()
        finally:
            conn.close()

    return read


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    """Times are shown in UTC (the app tests: ``pytestmark = pytest.mark.usefixtures("utc")``)."""
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    time.tzset()


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store, seeded once per module at the app tests' fixed clock."""
    from app_helpers import NOW

    from tracker.tui.demo import seed

    d = tmp_path_factory.mktemp("demo") / "store"
    seed(d, now=NOW)
    return d
