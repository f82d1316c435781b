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


#: Source for child scripts (indented like their bodies, which are dedented as a whole):
#: ``wait_committed(store, run, n)`` polls the store, as any reader would, until n points are in.
WAIT_COMMITTED = """\
    def wait_committed(store, run, n):  # poll the store, as any reader would, until n points are in
        import sqlite3
        c = sqlite3.connect(f"file:{store}/tracker.db?mode=ro", uri=True, isolation_level=None)
        q = "SELECT count(*) FROM metrics m JOIN runs r USING (rid) WHERE r.id = ?"
        deadline = time.monotonic() + 30
        while c.execute(q, (run.id,)).fetchone()[0] < n and time.monotonic() < deadline:
            time.sleep(0.005)
        c.close()
"""


async def settle_workers(app) -> None:
    """Wait for the app's workers to finish.

    The app starts its fetches as *exclusive* workers: a newer fetch of the same group cancels the one
    before it (live data superseded it). Textual's ``wait_for_complete`` raises ``WorkerCancelled`` for
    such a superseded worker, which made live tests fail at random; a cancelled worker is expected
    here, a failed one is not and is re-raised.
    """
    from textual.worker import WorkerCancelled

    while True:
        pending = [w for w in app.workers if not w.is_finished]
        if not pending:
            return
        for w in pending:
            try:
                await w.wait()
            except WorkerCancelled:
                pass
