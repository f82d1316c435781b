"""Issue 19: the app on a project of 10,000 runs, driven like a person would (Pilot): the newest
rows come first, scrolling reaches the end, the filter and a sort by a metric act on all 10,000
runs. The store is made in a second with ``Store.create_run``/``append`` (tests/helpers_10k.py)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from app_helpers import app_for, settle
from helpers_10k import config_of, fill
from test_hostile_screens import screen_text

import tracker
from tracker.tui.data import StoreReader
from tracker.tui.screens.runs import FIRST_WINDOW, RunsScreen
from tracker.tui.widgets.pickers import Picker
from tracker.tui.widgets.run_table import RunTable

pytestmark = pytest.mark.usefixtures("utc")

N = 10_000


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fill(tmp_path_factory.mktemp("tenk"), N)


def runs_screen(app) -> RunsScreen:
    s = app.screen
    assert isinstance(s, RunsScreen)
    return s


def status(app) -> str:
    return str(app.screen.query_one("#status").render())


def test_the_first_screenful_is_read_alone_newest_first(big_store):
    reader = StoreReader(big_store)
    try:
        first = reader.snapshot(None, limit=FIRST_WINDOW)
        assert first.partial and len(first.runs) == FIRST_WINDOW
        assert [r.name for r in first.runs[:3]] == ["run-9999", "run-9998", "run-9997"]
        assert first.runs[0].metrics["loss"].last == pytest.approx(1 / 10_000 + 0.01 * 0.1353, rel=1e-3)
        whole = reader.snapshot(None)
        assert not whole.partial and len(whole.runs) == N
        assert [r.id for r in whole.runs[:FIRST_WINDOW]] == [r.id for r in first.runs]
    finally:
        reader.close()


def test_a_small_project_is_read_whole_at_once(tmp_path):
    fill(tmp_path, 40)
    reader = StoreReader(tmp_path)
    try:
        snap = reader.snapshot(None, limit=FIRST_WINDOW)
        assert not snap.partial and len(snap.runs) == 40
    finally:
        reader.close()


async def test_scroll_to_the_end_of_10k_runs(big_store):
    app = app_for(big_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        rs, table = runs_screen(app), app.screen.query_one(RunTable)
        assert len(table.rows) == N and f"{N} runs" in status(app)
        assert table.cursor_key == rs.runs[table.rows[0].key].id and rs.runs[table.rows[0].key].name == "run-9999"
        # the trend column of the rows in view is filled; the other 9,9xx runs' are not read
        assert re.search(r"run-9999 .*[▁-█]", screen_text(app))
        assert len(rs.sparks) < 500
        await pilot.press("end")
        await settle(pilot, app)
        assert rs.runs[table.cursor_key].name == "run-0"
        shown = screen_text(app)
        assert re.search(r"\brun-0 .*[▁-█]", shown) and len(rs.sparks) < 600  # read when drawn
        assert re.search(r"\brun-0\b", shown) and re.search(r"\brun-30\b", shown)  # the last screenful
        assert "run-9999" not in shown
        await pilot.press("home")
        await pilot.pause()
        assert rs.runs[table.cursor_key].name == "run-9999"


async def test_filter_acts_on_all_10k_runs(big_store):
    app = app_for(big_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        rs, table = runs_screen(app), app.screen.query_one(RunTable)
        await pilot.press("slash", *"lr < 5e-4 and optimizer = sgd")
        await settle(pilot, app)
        want = {f"run-{i}" for i in range(N) if config_of(i)["lr"] < 5e-4 and config_of(i)["optimizer"] == "sgd"}
        assert 100 < len(want) < N
        assert {rs.runs[r.key].name for r in table.rows} == want
        assert re.search(rf"\b{len(want)}/{N} runs\b", status(app))
        await pilot.press("escape")
        await settle(pilot, app)
        assert len(table.rows) == N


async def test_sort_10k_runs_by_a_metric(big_store):
    app = app_for(big_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        rs, table = runs_screen(app), app.screen.query_one(RunTable)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, Picker)
        await pilot.press(*"loss", "enter")
        await settle(pilot, app)
        assert rs.sort_key == "m:loss"
        names = [rs.runs[r.key].name for r in table.rows]
        assert names[:3] == ["run-9999", "run-9998", "run-9997"] and names[-1] == "run-0"  # lowest loss first
        await pilot.press("r")
        await settle(pilot, app)
        assert rs.runs[table.rows[0].key].name == "run-0" and len(table.rows) == N


async def test_a_live_value_refilters_and_resorts_with_the_cached_values(tmp_path, clean_env):
    """The per-run values a keystroke reuses (filter mapping, sort order, best-in-column) follow a
    live run: its new loss moves it into the filtered, sorted table."""
    store = tmp_path / "live"
    fill(store, 30, project="live")  # run-0 .. run-29, loss 1/(1+i): run-2 onwards below 0.5
    live = tracker.init(project="live", name="live-one", dir=store, capture_git=False)
    live.log({"loss": 3.0})
    live._writer.flush(5)
    app = app_for(store, poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        rs, table = runs_screen(app), app.screen.query_one(RunTable)
        await pilot.press("slash", *"loss < 0.5", "enter")
        rs.sort_key, rs.sort_reverse = "m:loss", False
        rs.refresh_table()
        await settle(pilot, app)
        names = [rs.runs[r.key].name for r in table.rows]
        assert "live-one" not in names and names[0] == "run-29" and len(names) == 28
        live.log({"loss": 0.0001})
        live._writer.flush(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and rs.runs[table.rows[0].key].name != "live-one":
            await settle(pilot, app, 1)
            await asyncio.sleep(0.02)
        assert [rs.runs[r.key].name for r in table.rows][:2] == ["live-one", "run-29"] and len(table.rows) == 29
        live.finish()
