"""The real app on a store of imported runs (every format's fixture): runs list, detail and
charts open without error, and the imported names and values show."""

from __future__ import annotations

import pytest
from app_helpers import app_for, settle
from import_helpers import cli, fixture

import tracker
from tracker.tui.screens.charts import ChartsScreen
from tracker.tui.screens.detail import DetailScreen
from tracker.tui.screens.runs import RunsScreen
from tracker.tui.widgets.run_table import RunTable

pytestmark = pytest.mark.usefixtures("utc")


@pytest.fixture
def imported(tmp_path):
    store = tmp_path / "store"
    for name in ("wandb", "mlflow_file", "tensorboard", "trackio"):
        out = cli(str(fixture(tmp_path, name)), store=store)
        assert out.returncode == 0, out.stdout + out.stderr
    return store


async def test_app_shows_imported_runs_their_detail_and_charts(imported):
    projects = [p for p, _ in tracker.Api(imported).store.projects()]
    assert {"vision", "nlp", "tensorboard"} <= set(projects)
    app = app_for(imported)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen_stack[1] if len(app.screen_stack) > 1 else app.screen
        assert isinstance(screen, RunsScreen)
        t = screen.query_one(RunTable)
        assert t.rows
        names = {str(r.cells["name"]) for r in t.rows}
        want = {r.name for r in tracker.Api(imported).runs(screen.project)}
        assert {n for n in want if n} & {n.strip() for n in names}
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("escape", "space", "v")
        await settle(pilot, app)
        assert isinstance(app.screen, ChartsScreen)
