"""The running app honours the trash and the archive live: a run moved to the trash (or
archived) from another process leaves the runs table without a restart; restored, it comes back."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_live import rows, wait_for

import tracker
from tracker.tui.app import make_app


def cli(*args: str, store: str) -> None:
    out = subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", store, *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


@pytest.mark.slow
async def test_trashed_and_archived_runs_leave_the_table_live(tmp_path):
    store = tmp_path / "store"
    ids = {}
    for name in ("keep", "gone", "shelved"):
        r = tracker.init(project="live", name=name, dir=str(store), capture_git=False)
        r.log({"loss": 1.0})
        r.finish()
        ids[name] = r.id
    app = make_app(store, keymap={}, poll_interval=None, refresh_hz=10)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, app, lambda: set(rows(app)) == {"keep", "gone", "shelved"})
        cli("rm", ids["gone"], store=str(store))
        await wait_for(pilot, app, lambda: set(rows(app)) == {"keep", "shelved"})
        cli("archive", ids["shelved"], store=str(store))
        await wait_for(pilot, app, lambda: set(rows(app)) == {"keep"})
        cli("restore", ids["gone"], store=str(store))
        await wait_for(pilot, app, lambda: set(rows(app)) == {"keep", "gone"})
