"""Compare's Media tab through the real app: a media key of two runs side by side (images next
to each other, histograms overlaid, tables diffed by row)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import app_for, settle

import tracker
from tracker.tui.widgets.media_compare import MediaCompare, table_diff

pytestmark = pytest.mark.usefixtures("utc", "clean_env")


def _two_runs(d: Path) -> None:
    for i, name in enumerate(["run-a", "run-b"]):
        run = tracker.init(project="p", name=name, id=f"cmp{i}", dir=d, capture_git=False)
        for step in range(3):
            run.log({"w": tracker.Histogram(np.random.default_rng(i).normal(i + step, 1, 500))}, step=step)
        t = tracker.Table(columns=["id", "pred"], data=[[0, "cat"], [1, "dog" if i == 0 else "bird"]])
        run.log({"img": tracker.Image(np.full((8, 8, 3), 60 * (i + 1), np.uint8), caption=f"from {name}"),
                 "preds": t}, step=2)
        if i == 0:
            run.log({"only_a": tracker.Histogram([1.0])}, step=3)
        run.finish()


async def test_compare_media_side_by_side(tmp_path: Path) -> None:
    _two_runs(tmp_path / "store")
    app = app_for(tmp_path / "store")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "c")
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        pane = pilot.app.screen.query_one(MediaCompare)
        assert pane.keys == ["img", "preds", "w"]  # only_a is in one run: not shared
        view = str(pane.query_one("#cmpm-view").render())
        assert "from run-a" in view and "from run-b" in view and "▀" in view
        pane.query_one("#cmpm-keys").move_cursor(row=2)
        await settle(pilot)
        chart = pane.query_one("#cmpm-chart")
        assert chart.display and sorted(s.label for s in chart.panels[""]) == ["run-a median", "run-b median"]
        pane.query_one("#cmpm-keys").move_cursor(row=1)
        await settle(pilot)
        assert "1 rows in every table" in str(pane.query_one("#cmpm-view").render())


def test_table_diff_marks_which_runs_have_a_row() -> None:
    t = table_diff(["a", "b"], [{"columns": ["x"], "data": [[1], [2]]}, {"columns": ["x"], "data": [[1], [3]]}])
    assert "1 rows in every table" in t.plain and "●·  2" in t.plain and "·●  3" in t.plain


async def test_no_media_tab_when_runs_share_no_key(demo_store: Path) -> None:
    app = app_for(demo_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "c")
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        assert not pilot.app.screen.query("#cmp-media")
