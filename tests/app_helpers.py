"""What the tests that drive the real app share: a fixed clock, an app on a store, and waiting
until its workers are done (no sleeps). The fixtures ``utc`` and ``demo_store`` are in conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import settle_workers
from tracker.tui.app import make_app

NOW = 1_790_000_000.0


def app_for(store: Path, **kw: Any):
    """The real app on ``store``: no polling, no user keymap, the fixed clock, Unicode glyphs."""
    kw.setdefault("poll_interval", 0)
    return make_app(store, keymap=kw.pop("keymap", {}), clock=lambda: NOW, ascii_only=False, **kw)


async def settle(pilot, app=None, rounds: int = 3) -> None:
    """Wait until workers are done and their messages handled (no sleeps)."""
    app = app if app is not None else pilot.app
    for _ in range(rounds):
        await settle_workers(app)
        await pilot.pause()
