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


# ---------------------------------------------------------------------------------- compare


def two_logged_runs(store: Path) -> list[str]:
    """Two runs logged for real: loss falls then rises (its last value is NaN in the first run),
    acc ties at its maximum, and a system metric the logger would sample."""
    a = tracker.init(project="cmp", name="a", dir=store, capture_git=False)
    for loss, acc, cpu in ((1.0, 0.5, 10.0), (0.2, 0.9, 20.0), (0.9, 0.6, 30.0), (math.nan, 0.6, 10.0)):
        a.log({"loss": loss, "acc": acc, "system/cpu_percent": cpu})
    a.finish()
    b = tracker.init(project="cmp", name="b", dir=store, capture_git=False, reinit=True)
    for loss, acc, cpu in ((0.8, 0.7, 90.0), (0.5, 0.9, 80.0), (0.4, 0.8, 50.0)):
        b.log({"loss": loss, "acc": acc, "system/cpu_percent": cpu})
    b.finish()
    return [a.id, b.id]


def table_rows(table) -> dict[str, list[str]]:
    """``{first cell: [the other cells]}`` of a DataTable, as plain text."""
    out = {}
    for i in range(table.row_count):
        cells = [str(getattr(c, "plain", c)) for c in table.get_row_at(i)]
        out[cells[0]] = cells[1:]
    return out


async def test_compare_metrics_show_each_runs_min_or_max_and_mark_only_a_unique_best(tmp_path):
    store = tmp_path / "store"
    ids = two_logged_runs(store)
    app = app_for(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        app.open_compare(ids)
        await settle(pilot, app)
        await pilot.press("2")
        await settle(pilot, app)
        rows = table_rows(app.screen.query_one("#met-table"))
        assert list(rows) == ["acc (max)", "loss (min)", "system/cpu_percent (last)"]  # system last
        # the lowest loss each run reached, not its last value (NaN for the first run)
        assert rows["loss (min)"] == ["0.2 *", "0.4"]
        assert rows["acc (max)"] == ["0.9", "0.9"]  # a tie: nobody is best
        assert rows["system/cpu_percent (last)"] == ["10", "50"]  # last values, never starred
        assert not any("nan" in cell for cells in rows.values() for cell in cells)
