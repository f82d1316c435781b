"""The Textual app driven through its Pilot on real stores: filter, sort, select, compare,
charts, brushing, detail, projects, groups, keys, live rows and hostile text."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import pytest
from app_helpers import NOW, app_for, settle  # noqa: F401

import tracker
from tracker.tui.demo import seed
from tracker.tui.screens.base import StatusLine
from tracker.tui.screens.charts import ChartsScreen
from tracker.tui.screens.compare import CompareScreen
from tracker.tui.screens.detail import DetailScreen
from tracker.tui.screens.parcoords import ParCoordsScreen
from tracker.tui.screens.runs import RunsScreen
from tracker.tui.widgets.chart_view import ChartView
from tracker.tui.widgets.pickers import HelpScreen, Picker
from tracker.tui.widgets.run_table import RunTable

pytestmark = pytest.mark.usefixtures("utc")


def runs_screen(app) -> RunsScreen:
    screen = app.screen_stack[1] if len(app.screen_stack) > 1 else app.screen
    assert isinstance(screen, RunsScreen)
    return screen


def table(app) -> RunTable:
    return runs_screen(app).query_one(RunTable)


async def test_first_paint_lists_the_projects_runs(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        rs = runs_screen(app)
        t = table(app)
        assert rs.project == "gpt-tiny"  # the most recently active project opens first
        assert len(t.rows) == len(rs.runs) == 6
        assert {r.cells["state"] for r in t.rows} == {"finished"}
        assert t.cursor_key == t.rows[0].key
        keys = [c.key for c in t.columns]
        assert keys[:4] == ["sel", "state", "name", "step"] and "spark" in keys
        for _ in range(50):  # sparklines arrive from a worker, applied in batches
            if any(r.cells["spark"] for r in t.rows):
                break
            await pilot.pause(0.05)
        assert any(r.cells["spark"] for r in t.rows)


async def test_filter_narrows_and_a_bad_expression_shows_an_inline_error(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        rs = runs_screen(app)
        total = len(table(app).rows)
        await pilot.press("slash", *"lr < 5e-4")
        await settle(pilot, app)
        names = {r.cells["name"] for r in table(app).rows}
        assert 0 < len(names) < total
        assert all(rs.runs[r.key].config["lr"] < 5e-4 for r in table(app).rows)
        err = rs.query_one("#filter-error")
        assert not err.display
        await pilot.press("space", "<", "(")  # now "lr < 5e-4 <(" : invalid
        await settle(pilot, app)
        assert err.display
        assert {r.cells["name"] for r in table(app).rows} == names  # previous filter kept
        for _ in range(3):
            await pilot.press("backspace")
        await pilot.press("escape")  # clears the filter
        await settle(pilot, app)
        assert len(table(app).rows) == total and not err.display


async def test_sort_by_a_metric_and_reverse(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        rs = runs_screen(app)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, Picker)
        await pilot.press(*"val/loss", "enter")
        await settle(pilot, app)
        assert rs.sort_key == "m:val/loss"
        vals = [rs.runs[r.key].summary["val/loss"] for r in table(app).rows]
        assert vals == sorted(vals)  # loss: best (lowest) first
        await pilot.press("r")
        await settle(pilot, app)
        vals = [rs.runs[r.key].summary["val/loss"] for r in table(app).rows]
        assert vals == sorted(vals, reverse=True)
        await pilot.press("o")  # qualifier: best (min for a loss)
        await settle(pilot, app)
        assert rs.qualifier == "best"
        assert any("(best)" in c.label for c in table(app).columns)


async def test_select_and_compare_shows_the_changed_keys(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        rs = runs_screen(app)
        first, second = table(app).rows[0].key, table(app).rows[1].key
        await pilot.press("space", "space")
        assert table(app).selected == {first, second}
        await pilot.press("c")
        await settle(pilot, app)
        cmp = app.screen
        assert isinstance(cmp, CompareScreen)
        dt = cmp.query_one("#cfg-table")
        keys = [dt.get_row_at(i)[1].plain for i in range(dt.row_count)]
        a, b = rs.runs[first].config, rs.runs[second].config
        expected = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        assert keys == expected and "lr" in keys
        assert all(s != "same" for s in cmp.statuses)
        await pilot.press("a")  # all keys
        await settle(pilot, app)
        assert dt.row_count == len(set(a) | set(b)) and "same" in cmp.statuses
        await pilot.press("n")
        assert cmp.statuses[dt.cursor_row] != "same"
        await pilot.press("2")
        met = cmp.query_one("#met-table")
        best_rows = [met.get_row_at(i) for i in range(met.row_count)]
        assert any(c.plain.endswith(" *") for row in best_rows for c in row[1:])


async def test_compare_needs_two_runs(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)


async def test_charts_overlay_selected_runs_with_options(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("space", "space", "space", "v")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, ChartsScreen)
        view = screen.query_one(ChartView)
        (metric, series), = view.panels.items()
        assert metric == "val/loss" and len(series) == 3
        assert all(len(s.ys) == 12 for s in series)  # val/loss is logged every 50 of 600 steps
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert view.smoothing == pytest.approx(0.2)
        await pilot.press("x")
        assert view.x_mode == "time"
        await pilot.press("x", "x")
        assert view.x_mode == "step"
        await pilot.press("L")
        assert view.log_y
        await pilot.press("plus")
        await settle(pilot, app)
        assert view.x_range is not None
        await pilot.press("0")
        await settle(pilot, app)
        assert view.x_range is None
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, Picker)
        await pilot.press(*"train/loss", "space", "enter")
        await settle(pilot, app)
        assert set(view.panels) == {"val/loss", "train/loss"}  # a grid of two metrics


async def test_brushing_in_parallel_coordinates_filters_the_table(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        rs = runs_screen(app)
        total = len(table(app).rows)
        await pilot.press("P")
        await settle(pilot, app)
        assert isinstance(app.screen, ParCoordsScreen)
        for _ in range(20):
            await pilot.press("down")  # the lowest bucket of the first axis
        await pilot.press("b")  # brush it
        await settle(pilot, app)
        assert app.brush_expr and app.brush_expr in rs.filter_text
        shown = len(table(app).rows)
        assert 0 < shown < total
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, RunsScreen)
        assert rs.query_one("#filter").value == rs.filter_text
        await pilot.press("P", "X")  # clear all brushes
        await settle(pilot, app)
        assert app.brush_expr == "" and len(table(app).rows) == total


async def test_detail_shows_metadata_summary_config_tree_and_search(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        rs = runs_screen(app)
        key = table(app).cursor_key
        await pilot.press("enter")
        await settle(pilot, app)
        d = app.screen
        assert isinstance(d, DetailScreen) and d.record.id == key
        summary = d.query_one("#summary")
        metrics = [summary.get_row_at(i)[0].plain for i in range(summary.row_count)]
        assert "val/loss" in metrics and "train/loss" in metrics
        row = summary.get_row_at(metrics.index("train/loss"))
        st = rs.runs[key].metrics["train/loss"]
        assert [c.plain for c in row[2:5]] == [f"{st.min:.4g}", f"{st.max:.4g}", "600"]
        overview = str(d.query_one("#overview-text").render())
        assert "gpu-node-3" in overview and "train.py" in overview
        tree = d.query_one("#config-tree")
        assert {str(n.label).split(":")[0] for n in tree.root.children} >= {"lr", "n_layer"}
        await pilot.press("slash", *"layer")
        await pilot.pause()
        assert [str(n.label).split(":")[0] for n in tree.root.children] == ["n_layer"]
        await pilot.press("escape", "3")
        await settle(pilot, app)
        assert "train/loss" in d.query_one(ChartView).panels
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)


async def test_project_switcher_and_groups(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        rs = runs_screen(app)
        await pilot.press("p")
        await pilot.pause()
        await pilot.press(*"cifar", "enter")
        await settle(pilot, app)
        assert rs.project == "cifar-resnet" and len(rs.runs) == 22
        states = {r.cells["state"] for r in table(app).rows}
        assert {"finished", "failed", "crashed"} <= states
        await pilot.press("z")  # group by run group
        await settle(pilot, app)
        groups = [r for r in table(app).rows if r.kind == "group"]
        assert sorted(r.key for r in groups) == ["group:bs-sweep", "group:lr-sweep"]
        assert len(table(app).rows) == 2
        await pilot.press("enter")  # expand the group under the cursor
        await settle(pilot, app)
        assert len(table(app).rows) > 2 and table(app).rows[1].depth == 1


async def test_help_lists_every_key_with_its_id_and_palette_has_commands(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        cmds = [c.title for c in app.get_system_commands(app.screen)]
        assert "runs: Compare" in cmds and "runs: Filter" in cmds
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        for bid in ("runs.filter", "runs.compare", "runs.charts", "runs.parcoords", "app.quit"):
            assert bid in text
        assert "Filter language" in text
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_keys_can_be_remapped_by_binding_id(demo_store):
    app = app_for(demo_store, keymap={"runs.compare": "K"})
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("space", "space", "K")
        await settle(pilot, app)
        assert isinstance(app.screen, CompareScreen)


async def test_new_runs_and_metrics_appear_while_open(tmp_path):
    store = tmp_path / "live"
    first = tracker.init(project="live", name="first", dir=store, capture_git=False)
    first.log({"loss": 1.0})
    app = app_for(store, poll_interval=0.05)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        assert [r.cells["name"] for r in table(app).rows] == ["first"]
        assert table(app).rows[0].cells["state"] == "running"
        first.log({"loss": 0.5})
        second = tracker.init(project="live", name="second", dir=store, capture_git=False, reinit=True)
        second.log({"loss": 2.0})
        second.finish()
        first._writer.flush(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await settle(pilot, app, 1)
            rows = {r.cells["name"]: r for r in table(app).rows}
            if "second" in rows and rows["first"].cells["step"] == "1":
                break
            await asyncio.sleep(0.02)
        rows = {r.cells["name"]: r for r in table(app).rows}
        assert rows["second"].cells["state"] == "finished"
        assert rows["first"].cells["step"] == "1" and rows["first"].cells["m:loss"] == "0.5"
        first.finish()


async def test_empty_and_missing_store_say_what_to_do(tmp_path):
    app = app_for(tmp_path / "nothing-here")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        status = str(runs_screen(app).query_one("#status").render())
        assert "No store yet" in status and "tracker-tui demo" in status
        assert not (tmp_path / "nothing-here").exists()


HOSTILE = [
    "[/]",
    "[bold red]x",
    "[link=file:///etc/passwd]x[/link]",
    "[@click=app.quit]x",
    "osc52\x1b]52;c;aGVsbG8=\x07",
    "title\x1b]0;PWNED\x07",
    "clear\x1b[2J",
    "c1\x9b31m",
    "bidi\u202eevil",
    "back\\",
    "训练-运行-🚀",
]


@pytest.fixture
def hostile_store(tmp_path) -> Path:
    store = tmp_path / "hostile"
    for i, name in enumerate(HOSTILE):
        r = tracker.init(project="hostile", name=name, dir=store, capture_git=False, reinit=True,
                         tags=[name, "ok"], group=name, notes=name,
                         config={"lr": 0.1 * (i + 1), name: name, "nested": {name: [name]}})
        r.log({"loss": 1.0 / (i + 1), name: 2.0, "nan": math.nan})
        r.finish()
    return store


async def test_hostile_text_is_shown_literally_everywhere(hostile_store):
    app = app_for(hostile_store)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        t = table(app)
        assert len(t.rows) == len(HOSTILE)
        names = {r.cells["name"].removeprefix("! ") for r in t.rows}  # each logged a NaN: alert badge
        assert "[/]" in names and "[@click=app.quit]x" in names
        assert "osc52\\x1b]52;c;aGVsbG8=\\x07" in names and "bidi\\u202eevil" in names
        assert all("\x1b" not in r.cells[c] and "\x9b" not in r.cells[c] for r in t.rows for c in r.cells)
        await pilot.press("a", "c")  # select all, compare
        await settle(pilot, app)
        assert isinstance(app.screen, CompareScreen)
        shot = app.export_screenshot()
        assert "\x1b]52" not in shot and "PWNED\x07" not in shot
        await pilot.press("escape", "enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("2", "3")
        await settle(pilot, app)
        await pilot.press("escape", "P")
        await settle(pilot, app)
        await pilot.press("escape", "s")
        await pilot.pause()
        await pilot.press("escape", "slash", *"[/]")
        await settle(pilot, app)
        assert app.is_running  # nothing above crashed the app (MarkupError would)


async def test_chart_marks_non_finite_points_it_skips(tmp_path):
    store = tmp_path / "nan"
    r = tracker.init(project="n", name="spiky", dir=store, capture_git=False)
    for i in range(50):
        r.log({"loss": math.nan if i in (10, 20) else (math.inf if i == 30 else 1.0 / (i + 1))})
    r.finish()
    app = app_for(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("v")
        await settle(pilot, app)
        view = app.screen.query_one(ChartView)
        text = view.render().plain
        assert "3 non-finite points skipped" in text


async def test_a_store_from_a_newer_tracker_is_explained_not_crashed(tmp_path):
    import sqlite3

    from tracker.store import SCHEMA_VERSION

    store = tmp_path / "newer"
    r = tracker.init(project="p", dir=store, capture_git=False)
    r.finish()
    conn = sqlite3.connect(store / "tracker.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    app = app_for(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        status = str(runs_screen(app).query_one("#status").render())
        assert "newer" in status and "Upgrade" in status


def _row_backgrounds(t: RunTable) -> set[str]:
    return {str(seg.style.bgcolor) for y in (2, 3) for seg in t.render_line(y) if seg.style and seg.style.bgcolor}


async def test_switching_theme_changes_the_backgrounds_on_every_screen(demo_store):
    from tracker.tui.screens.base import TitleBar, TrackerScreen

    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        t = table(app)
        dark_rows = _row_backgrounds(t)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DetailScreen) and isinstance(app.screen, TrackerScreen)
        dark_title = app.screen.query_one(TitleBar).styles.background
        app.theme = "textual-light"
        await settle(pilot, app)
        assert app.screen.query_one(TitleBar).styles.background != dark_title
        await pilot.press("escape")
        await settle(pilot, app)
        light_rows = _row_backgrounds(t)
        assert light_rows and light_rows.isdisjoint(dark_rows)  # cached lines were redrawn too
        surface = app.screen.styles.background.hex.lower()
        assert any(surface in bg for bg in light_rows)


async def test_a_failed_background_read_is_told_to_the_user(tmp_path):
    store = tmp_path / "store"
    seed(store, now=NOW)
    app = app_for(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        assert len(table(app).rows) == 6
        await pilot.press("space", "v")  # a chart is open ...
        await settle(pilot, app)
        for f in store.iterdir():  # ... when the database is overwritten under the open app
            if f.name.startswith("tracker.db"):
                f.write_bytes(b"[red]not[/red] a database " * (f.stat().st_size // 26 + 1))
        await pilot.press("plus")  # zooming re-reads the series in a worker: it fails
        await settle(pilot, app)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors, "the failed read vanished"
        assert "not a database" in errors[0].message and "failed" in errors[0].title
        assert not errors[0].markup
        await pilot.press("escape", "R")  # the runs read shows the store's error in the status line
        await settle(pilot, app)
        assert "not a database" in str(app.screen.query_one(StatusLine).render())


async def test_the_running_state_is_readable_on_the_cursor_row(tmp_path):
    store = tmp_path / "store"
    run = tracker.init(project="p", name="live-one", dir=store, capture_git=False)
    run.log({"loss": 1.0})
    try:
        app = app_for(store)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot, app)
            t = table(app)
            assert t.rows[t.cursor].cells["state"] == "running"  # the cursor starts on it
            segs = [s for s in t.render_line(1 + t.cursor) if s.text.strip() == "running"]
            assert segs, "no state cell on the cursor row"
            style = segs[0].style
            assert style.bgcolor is not None and style.color != style.bgcolor
    finally:
        run.finish()


async def test_scrolling_right_keeps_name_and_step_in_view(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        t = table(app)
        name = t.rows[t.cursor].cells["name"]
        for _ in range(6):
            await pilot.press("right")
        await pilot.pause()
        assert t.scroll_x > 0
        header = "".join(s.text for s in t.render_line(0))
        line = "".join(s.text for s in t.render_line(1 + t.cursor))
        assert "state" in header and "name" in header and "step" in header
        assert name[:10] in line


async def test_the_80_column_footer_shows_the_essential_keys(demo_store):
    from tracker.tui.widgets.key_bar import KeyBar
    from tracker.tui.widgets.pickers import HelpScreen

    app = app_for(demo_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        bar = app.screen.query_one(KeyBar)
        line = "".join(s.text for s in bar.render_line(0))
        assert len(line) == 80 and line.rstrip().endswith("^p Palette")
        for piece in ("Open", "/ Filter", "space Select", "c Compare", "v Charts", "s Sort", "q Quit", "? Keys"):
            assert piece in line, (piece, line)
        await pilot.click(KeyBar, offset=(line.index("? Keys") + 1, 0))  # a click runs the key's action
        await settle(pilot, app)
        assert isinstance(app.screen, HelpScreen)


async def test_one_esc_too_many_after_a_run_keeps_the_filter(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        rs = runs_screen(app)
        await pilot.press("slash", *"lr < 5e-4", "enter")
        await settle(pilot, app)
        n = len(table(app).rows)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("escape", "escape")
        await settle(pilot, app)
        assert app.screen is rs and rs.filter_text == "lr < 5e-4" and len(table(app).rows) == n
        await pilot.press("slash", "escape")  # on purpose: in the filter box
        await settle(pilot, app)
        assert rs.filter_text == "" and len(table(app).rows) > n


async def test_the_palette_screenshot_is_saved_beside_the_store_on_a_headless_box(demo_store, tmp_path,
                                                                                   monkeypatch):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(demo_store, store)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/Downloads here
    (tmp_path / "home").mkdir()
    app = app_for(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p", *"screenshot")
        await pilot.pause(0.2)
        await pilot.press("enter")
        for _ in range(40):
            if list(store.glob("*.svg")):
                break
            await pilot.pause(0.05)
        (svg,) = list(store.glob("*.svg"))
        assert "gpt-tiny" in svg.read_text(encoding="utf-8")  # the runs screen, as shown
        saved = [n for n in app._notifications if n.title == "Screenshot saved"]
        assert saved and str(svg) in saved[0].message
