"""Parallel coordinates driven through the real app (Pilot) on the demo store: the brushes and
the runs filter stay one story while a key is held and after the filter is cleared."""

from __future__ import annotations

import pytest
from app_helpers import app_for, settle
from textual import events

from tracker.tui.filter import compile_filter
from tracker.tui.screens.parcoords import ParCoordsScreen
from tracker.tui.screens.runs import RunsScreen
from tracker.tui.widgets.parcoords_view import ParCoordsView
from tracker.tui.widgets.run_table import RunTable


def runs_screen(app) -> RunsScreen:
    rs = app.runs_screen()
    assert rs is not None
    return rs


async def open_cifar_parcoords(pilot, app):
    """The cifar sweep (22 runs, batch_size 64 or 256) in parallel coordinates, the cursor at
    the bottom of the batch_size axis."""
    await settle(pilot, app)
    await pilot.press("p")
    await settle(pilot, app)
    await pilot.press(*"cifar", "enter")
    await settle(pilot, app)
    assert runs_screen(app).project == "cifar-resnet"
    await pilot.press("P")
    await settle(pilot, app)
    assert isinstance(app.screen, ParCoordsScreen)
    view = app.screen.query_one(ParCoordsView)
    while view.pc.current_axis is not None and view.pc.current_axis.key != "batch_size":
        assert view.pc.move_axis(1)
    await pilot.press(*["down"] * 16)  # the bottom bucket: batch_size 64, about half the runs
    return view


@pytest.mark.parametrize("presses", [3, 8, 15])
async def test_holding_plus_keeps_one_brush_and_the_table_agrees(demo_store, presses):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_cifar_parcoords(pilot, app)
        await pilot.press("b")
        # Held key: the repeats arrive faster than the runs screen applies each filter.
        for _ in range(presses):
            app.post_message(events.Key("plus", "+"))
        await settle(pilot, app)
        rs = runs_screen(app)
        text = rs.query_one("#filter").value
        assert text == rs.filter_text
        assert text.count("batch_size") == 1, text
        said = app.screen.n_selected
        assert said == len(view.pc.selected_ids())
        shown = len(rs.query_one(RunTable).rows)
        assert shown == said
        assert len(compile_filter(text).select(rs.runs.values())) == said


async def test_clearing_the_filter_clears_the_brushes(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_cifar_parcoords(pilot, app)
        await pilot.press("b", "left" if view.pc.current else "right", "b")  # two axes brushed
        await settle(pilot, app)
        assert len(view.pc.brushes) == 2
        rs = runs_screen(app)
        await pilot.press("escape")  # back to the runs, brushes kept in the filter
        await settle(pilot, app)
        assert app.screen is rs and "batch_size" in rs.filter_text
        await pilot.press("slash", "end", "ctrl+u", "enter")  # the user clears the filter
        await settle(pilot, app)
        assert rs.filter_text == "" and len(rs.query_one(RunTable).rows) == len(rs.runs)
        await pilot.press("P")
        await settle(pilot, app)
        view = app.screen.query_one(ParCoordsView)
        assert view.pc.brushes == {}  # the cleared brushes are not drawn again
        await pilot.press("b")  # a new brush brings back no old one
        await settle(pilot, app)
        text = rs.query_one("#filter").value
        assert text.count("config.") + text.count("summary.") == 1, text
        assert len(view.pc.brushes) == 1
        assert len(rs.query_one(RunTable).rows) == app.screen.n_selected


async def test_brushes_survive_leaving_when_the_filter_keeps_them(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_cifar_parcoords(pilot, app)
        await pilot.press("b", "plus")
        await settle(pilot, app)
        expr = view.pc.to_filter_expr()
        await pilot.press("escape")
        await settle(pilot, app)
        assert len(runs_screen(app).shown) >= 2  # P needs two runs
        await pilot.press("P")
        await settle(pilot, app)
        assert app.screen.query_one(ParCoordsView).pc.to_filter_expr() == expr
        assert runs_screen(app).filter_text == f"({expr})"
