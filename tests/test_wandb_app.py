"""What wandb-style scripts record, shown in the app (issue 10), through the real app (Pilot) on
a real store: ``define_metric(step_metric=)`` as the charts' default x axis (and X to pick any
metric or the step), strings logged with ``log()`` and files kept with ``save()`` in run
detail's Text tab (untrusted text drawn literally)."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import app_for, settle

import tracker
from tracker.tui.screens.charts import ChartsScreen
from tracker.tui.screens.detail import DetailScreen
from tracker.tui.widgets.chart_view import ChartView

pytestmark = pytest.mark.usefixtures("utc", "clean_env")

HOSTILE = "[bold red]boom[/]\x1b[2J\x1b]52;c;aGk=\x07"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("wandbapp")
    f = d / "weights.txt"
    f.write_text("w" * 100)
    run = tracker.init(project="p", name="r", id="wandbapp01", dir=d / "store", capture_git=False)
    tracker.define_metric("epoch")
    tracker.define_metric("val/*", step_metric="epoch")
    for epoch in range(5):
        for _ in range(3):
            run.log({"loss": 1.0 / (epoch + 1)})
        run.log({"val/acc": 0.5 + epoch / 10, "epoch": epoch * 10})
    run.log({"sample": "generated: the cat sat"})
    run.log({"sample": HOSTILE})
    tracker.save(str(f), base_path=str(d))
    run.finish()
    return d / "store"


def _xs(app, metric):
    (series,) = app.screen.query_one(ChartView).panels[metric]
    return list(series.xs)


async def test_step_metric_is_the_default_x_axis_and_x_picks_another(store: Path) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.push_screen(ChartsScreen(["wandbapp01"], "val/acc"))
        await settle(pilot)
        assert _xs(app, "val/acc") == [0, 10, 20, 30, 40]  # the epoch logged with each value
        assert "x = epoch" in str(app.screen.query_one("#charts-title").render())
        await pilot.press("X")  # pick the x axis by hand: the run's step
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ChartsScreen) and app.screen.x_metric is None
        assert _xs(app, "val/acc") == [3, 7, 11, 15, 19]
        app.pop_screen()
        app.push_screen(ChartsScreen(["wandbapp01"], "loss"))  # no step_metric: steps
        await settle(pilot)
        assert _xs(app, "loss")[:4] == [0, 1, 2, 4]
        await pilot.press("X")
        await settle(pilot)
        await pilot.press(*"epoch", "enter")  # any logged metric: loss against epoch (last one logged)
        await settle(pilot)
        assert app.screen.x_metric == "epoch"
        assert _xs(app, "loss") == [0, 0, 0, 10, 10, 10, 20, 20, 20, 30, 30, 30]  # steps before epoch 0: none


async def test_text_tab_lists_saved_files_and_logged_strings_literally(store: Path) -> None:
    app = app_for(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("7")
        await settle(pilot)
        body = app.screen.query_one("#texts-body").render()
        text = str(body)
        assert "weights.txt" in text and "100 B" in text
        assert "generated: the cat sat" in text
        assert "[bold red]boom[/]" in text  # drawn literally, not as markup
        assert "\x1b" not in text and "\x07" not in text
        assert not any("red" in str(span.style) for span in body.spans)


async def test_no_text_tab_for_a_run_without_strings_or_files(tmp_path: Path) -> None:
    run = tracker.init(project="p", dir=tmp_path, capture_git=False)
    run.log({"a": 1})
    run.finish()
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("7")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and not app.screen.query("#texts")


async def test_detail_shows_the_parent_of_a_forked_run(tmp_path: Path) -> None:
    parent = tracker.init(project="p", id="parent0001", dir=tmp_path, capture_git=False)
    for i in range(5):
        parent.log({"loss": float(i)})
    parent.finish()
    child = tracker.init(project="p", id="child00001", dir=tmp_path, capture_git=False,
                         fork_from="parent0001?_step=2")
    child.log({"loss": 9.0})
    child.finish()
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.push_screen(DetailScreen("child00001"))
        await settle(pilot)
        text = str(app.screen.query_one("#overview-text").render())
        assert "forked from run parent0001 at step 2" in text
