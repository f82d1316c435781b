"""Pickers, help, compare and detail as a user meets them: the real app through its Pilot, on
the seeded demo store or on stores written by real ``tracker`` runs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from app_helpers import NOW, app_for, settle  # noqa: F401

import tracker
from helpers import wait_for
from tracker.tui.data import StoreReader
from tracker.tui.screens.charts import ChartsScreen
from tracker.tui.screens.detail import DetailScreen
from tracker.tui.widgets.pickers import Picker

pytestmark = pytest.mark.usefixtures("utc")


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


# ---------------------------------------------------------------------------------- detail, order


def sampled_run(store: Path, monkeypatch, training: dict[str, float]):
    """A running run whose system metrics come from the logger's own sampler (first sample at
    start), plus the given training metrics; returns it once both are in the store."""
    monkeypatch.setenv("TRACKER_SYSTEM", "1")
    run = tracker.init(project="order", name="fresh", dir=store, capture_git=False, system_interval=60)
    run.log(training)
    reader = StoreReader(store)
    try:
        wait_for(lambda: (set(training) | {"system/cpu_percent"}) <= set(reader.run(run.id).metrics),
                 10, "the first system sample and the training metrics in the store")
    finally:
        reader.close()
    return run


async def test_overview_scrolls_with_keys_as_soon_as_detail_opens(tmp_path):
    store = tmp_path / "store"
    run = tracker.init(project="many", name="wide", dir=store, capture_git=False)
    run.log({f"metric{i:02d}": float(i) for i in range(40)})
    run.finish()
    app = app_for(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DetailScreen)
        overview = app.screen.query_one("#overview-scroll")
        assert overview.max_scroll_y > 0
        await pilot.press("pagedown")  # no Tab first
        await pilot.pause()
        assert overview.scroll_y > 0
        await pilot.press("end")  # the last metric of the summary table comes into view
        await pilot.pause()
        assert any("metric39" in line for line in screen_lines(app))


async def test_system_metrics_come_after_training_metrics_in_detail_and_pickers(tmp_path, monkeypatch):
    store = tmp_path / "store"
    training = {"train/acc": 0.5, "train/tokens": 100.0}
    sampled_run(store, monkeypatch, training)
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("m")  # the runs screen's metric picker
        await settle(pilot, app)
        picked = [label for label, _ in app.screen.items]
        assert picked[:2] == ["train/acc", "train/tokens"]
        assert all(k.startswith("system/") for k in picked[2:]) and len(picked) > 2
        await pilot.press("escape", "enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DetailScreen)
        summary = app.screen.query_one("#summary")
        names = [str(summary.get_row_at(i)[0]) for i in range(summary.row_count)]
        assert names[:2] == ["train/acc", "train/tokens"] and "system/cpu_percent" in names[2:]
        await pilot.press("m")  # the detail screen's metric picker
        await settle(pilot, app)
        assert [label for label, _ in app.screen.items][:2] == ["train/acc", "train/tokens"]


async def test_charts_of_a_just_started_run_show_its_training_metric(tmp_path, monkeypatch):
    store = tmp_path / "store"
    sampled_run(store, monkeypatch, {"train/acc": 0.5})
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("v")
        await settle(pilot, app)
        assert isinstance(app.screen, ChartsScreen)
        assert app.screen.metrics == ["train/acc"]
        await pilot.press("m")  # the charts screen's metric picker: training first too
        await settle(pilot, app)
        assert [label for label, _ in app.screen.items][0] == "train/acc"


# ---------------------------------------------------------------------------------- help


def help_page(app) -> tuple[str, int]:
    """The help page's text and the width it has on screen (a scrollbar's columns taken off)."""
    body = app.screen.query_one("#help-body")
    text = str(app.screen.query_one("#help-text").render())
    return text, body.content_region.width - body.styles.scrollbar_size_vertical


async def test_help_is_a_page_for_users_that_fits_80x24(demo_store):
    import re

    from tracker.tui.widgets.pickers import HelpScreen

    app = app_for(demo_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        pages = {}
        for screen_keys in ([], ["enter"], ["space", "space", "v"]):
            for k in screen_keys:
                await pilot.press(k)
                await settle(pilot, app)
            await pilot.press("question_mark")
            await settle(pilot, app)
            assert isinstance(app.screen, HelpScreen)
            text, width = help_page(app)
            pages[type(app.screen_stack[-2]).__name__] = text
            assert max(len(line) for line in text.splitlines()) <= width  # nothing wraps or overflows
            await pilot.press("end")  # it scrolls: the last line comes into view
            await pilot.pause()
            assert any("lists every command" in line for line in screen_lines(app))
            await pilot.press("escape")
            await settle(pilot, app)
            while screen_keys and len(app.screen_stack) > 2:
                app.pop_screen()
                await settle(pilot, app)
        runs, detail, charts = pages["RunsScreen"], pages["DetailScreen"], pages["ChartsScreen"]
        for text in pages.values():
            for raw in ("left_square_bracket", "question_mark", "equals_sign", "slash", "compile_filter", "``"):
                assert raw not in text
            titles = {line for line in text.splitlines() if line and not line.startswith(" ")}
            assert not titles & {"RunTable", "ContentTabs", "RichLog", "Tree", "DataTable", "Input", "ChartView"}
            assert "Everywhere" in titles and "Filter language (/ on the runs screen)" in titles
        assert {"Runs", "Runs table"} <= {line for line in runs.splitlines()}
        assert re.search(r"^  /\s+Filter\s+runs\.filter$", runs, re.M)
        assert "Run detail" in detail.splitlines()
        assert re.search(r"^  \[\s+Smooth -\s+charts\.smooth_less$", detail, re.M)  # the chart on the Charts tab
        assert re.search(r"^  \+/=\s+Zoom in\s+charts\.zoom_in$", charts, re.M)
        assert re.search(r"^  \?\s+Keys\s+app\.help$", charts, re.M)
