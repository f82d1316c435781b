"""Pickers, help, compare and detail as a user meets them: the real app through its Pilot, on
the seeded demo store or on stores written by real ``tracker`` runs."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

import tracker
from helpers import settle_workers
from tracker.tui.app import make_app
from tracker.tui.demo import seed
from tracker.tui.screens.runs import RunsScreen
from tracker.tui.widgets.pickers import Picker

NOW = 1_790_000_000.0


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    time.tzset()


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("demo") / "store"
    seed(d, now=NOW)
    return d


def app_for(store: Path, **kw):
    kw.setdefault("poll_interval", 0)
    return make_app(store, keymap=kw.pop("keymap", {}), clock=lambda: NOW, ascii_only=False, **kw)


async def settle(pilot, app, rounds: int = 3) -> None:
    """Wait until workers are done and their messages handled (no sleeps)."""
    for _ in range(rounds):
        await settle_workers(app)
        await pilot.pause()


def screen_lines(app) -> list[str]:
    """The characters on the terminal, one string per row, as the user sees them."""
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]


# ---------------------------------------------------------------------------------- pickers


@pytest.mark.parametrize("key", ["s", "m", "C", "p"])
async def test_picker_search_box_shows_what_is_typed(demo_store, key):
    app = app_for(demo_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press(key)
        await settle(pilot, app)
        assert isinstance(app.screen, Picker)
        await pilot.press(*"zq")  # matches nothing: the typed text is the only "zq" on screen
        await pilot.pause()
        box = app.screen.query_one("#picker-input")
        assert box.value == "zq"
        assert box.content_region.height >= 1
        row = screen_lines(app)[box.content_region.y]
        assert "zq" in row
