"""The runs table's trash keys through the Pilot on a real store: ``d`` asks, then moves the
runs to the trash (they leave the table, the store keeps their points); ``U`` brings them back;
``n`` at the question changes nothing; a running run is not deleted."""

from __future__ import annotations

import pytest
from app_helpers import app_for, settle

import tracker
from tracker.tui.screens.runs import RunsScreen
from tracker.tui.screens.runs_curate import ConfirmScreen
from tracker.tui.widgets.run_table import RunTable

pytestmark = pytest.mark.usefixtures("utc")


def screen(app) -> RunsScreen:
    return next(s for s in app.screen_stack if isinstance(s, RunsScreen))


def names(app) -> set[str]:
    return {r.cells["name"] for r in screen(app).query_one(RunTable).rows}


async def until(pilot, app, cond, rounds: int = 200) -> None:
    for _ in range(rounds):
        await settle(pilot, app)
        if cond():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not met")


@pytest.fixture
def store(tmp_path):
    s = tmp_path / "store"
    for name in ("a", "b", "c"):
        r = tracker.init(project="p", name=name, dir=str(s), capture_git=False)
        r.log({"loss": 1.0})
        r.finish()
    return s


async def test_d_asks_then_trashes_the_selected_runs_and_U_undoes(store):
    app = app_for(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        assert names(app) == {"a", "b", "c"}
        t = screen(app).query_one(RunTable)
        t.selected = {r.id for r in screen(app).runs.values() if r.name in ("a", "b")}
        await pilot.press("d")
        await until(pilot, app, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # no: nothing happens
        await settle(pilot, app)
        assert names(app) == {"a", "b", "c"}
        await pilot.press("d")
        await until(pilot, app, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, app, lambda: names(app) == {"c"})
        assert any("2 runs moved to trash — U to undo" in str(n.message) for n in app._notifications)
        assert {r.id for r in tracker.Api(str(store)).runs()} == {
            r.id for r in screen(app).runs.values()}
        await pilot.press("U")
        await until(pilot, app, lambda: names(app) == {"a", "b", "c"})


async def test_d_refuses_a_running_run(store):
    live = tracker.init(project="p", name="live", dir=str(store), capture_git=False)
    live.log({"loss": 1.0})
    app = app_for(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        t = screen(app).query_one(RunTable)
        t.selected = {live.id}
        await pilot.press("d")
        await settle(pilot, app)
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("still being written" in str(n.message) for n in app._notifications)
        assert "live" in names(app)
    live.finish()


async def test_archived_runs_are_hidden_until_the_filter_asks_for_them(store):
    api = tracker.Api(str(store))
    from tracker.store.curate import set_archived

    set_archived(api.store, [api.store.run("b").rid])
    app = app_for(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        assert names(app) == {"a", "c"}
        screen(app).set_filter_text("archived:yes")
        await until(pilot, app, lambda: names(app) == {"b"})
        screen(app).set_filter_text("archived:no")
        await until(pilot, app, lambda: names(app) == {"a", "c"})
        screen(app).set_filter_text("")
        await until(pilot, app, lambda: names(app) == {"a", "c"})


async def test_the_palette_offers_delete_and_undo(store):
    app = app_for(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        cmds = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "runs: Delete" in cmds and "runs: Undo delete" in cmds
        cmds["runs: Delete"].callback()
        await until(pilot, app, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, app, lambda: len(names(app)) == 2)
