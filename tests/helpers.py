"""Helpers shared by the tests that drive real subprocesses."""

from __future__ import annotations

import os
import sqlite3
import textwrap
import time
from pathlib import Path


def script(tmp_path: Path, name: str, body: str) -> Path:
    """Write a child script (dedented) and return its path."""
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


def child_env(**extra: str) -> dict[str, str]:
    """This environment without the TRACKER_* settings a test must not inherit, unbuffered."""
    env = dict(os.environ)
    for k in ("TRACKER_DIR", "TRACKER_PROJECT", "TRACKER_FLUSH_INTERVAL", "TRACKER_HEARTBEAT_TIMEOUT",
              "PYTHONWARNINGS"):
        env.pop(k, None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def wait_for(cond, timeout: float, what: str, interval: float = 0.01):
    """Poll ``cond()`` until it is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def ro_conn(store: Path) -> sqlite3.Connection:
    """A read-only autocommit connection to a store's database."""
    return sqlite3.connect(f"file:{store / 'tracker.db'}?mode=ro", uri=True, isolation_level=None, timeout=30)
