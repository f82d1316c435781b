"""Chart bugs a new user hit (issue 8: items 6, 12, 14) and the chart keys owned by ``ChartView``.

Rendered through the real app (``App.run_test`` + Pilot) on the seeded demo store, and through
``render_chart``/``render_grid`` for what the plot itself shows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from app_helpers import NOW, app_for, settle  # noqa: F401
from textual.geometry import Region

from tracker.tui.charts import MIN_PANEL_HEIGHT, ChartSpec, Series, grid_layout, render_chart, render_grid
from tracker.tui.screens.charts import ChartsScreen
from tracker.tui.screens.detail import DetailScreen
from tracker.tui.widgets.chart_view import ChartView
from tracker.tui.widgets.pickers import Picker

pytestmark = pytest.mark.usefixtures("utc")

CHART_KEYS = {"charts.smooth_less", "charts.smooth_more", "charts.x_mode", "charts.log_y", "charts.zoom_in",
              "charts.zoom_out", "charts.pan_left", "charts.pan_right", "charts.reset", "charts.follow"}


def screen_lines(view: ChartView) -> list[str]:
    return [strip.text for strip in view.render_lines(Region(0, 0, view.size.width, view.size.height))]


def footer_text(app) -> str:
    return " ".join(str(b.binding.key_display or b.binding.key) + " " + b.binding.description
                    for b in app.screen.active_bindings.values() if b.binding.show)


# ------------------------------------------------------------------------------------ bug 6


@pytest.mark.parametrize("step", [0, 7, 1200])
def test_one_point_has_its_step_as_the_only_x_tick(step):
    text = render_chart([Series("a", [step], [1.0], 0)], 60, 14, title="loss", color=False)
    ticks = text.plain.split("\n")[12]  # the x tick labels under the frame
    assert ticks.split() == [f"{step:,}".replace(",", "") if step < 10_000 else "1.2k"]
    assert "-0.4" not in text.plain and "0.2" not in ticks


def test_a_zoom_of_a_few_steps_ticks_whole_steps():
    s = Series("a", list(range(100)), [float(i) for i in range(100)], 0)
    ticks = render_chart([s], 80, 20, x_range=(10, 13), color=False).plain.split("\n")[18]
    assert ticks.split() == ["10", "11", "12", "13"]


# ------------------------------------------------------------------------------------ bug 12


def panels(n: int) -> list[ChartSpec]:
    runs = [Series(f"r{k}", list(range(200)), [1.0 / (i + 1 + k) for i in range(200)], k) for k in range(3)]
    return [ChartSpec(runs, title=f"metric-{k}") for k in range(n)]


def test_grid_panels_keep_a_readable_height_and_page():
    layout = grid_layout(4, 80, 22)
    assert (layout.columns, layout.rows, layout.pages) == (1, 1, 4)
    assert 22 // layout.rows >= MIN_PANEL_HEIGHT
    first = render_grid(panels(4), 80, 22).plain
    assert "metric-0" in first and "metric-1" not in first
    assert len(re.findall(r"^\s*[\d.]+┤", first, re.M)) >= 3  # y labels on the axis
    assert "charts 1–1 of 4 · page 1/4 · PgDn for more" in first
    last = render_grid(panels(4), 80, 22, page=9).plain  # clamped to the last page
    assert "metric-3" in last and "page 4/4 · PgUp for more" in last
    assert grid_layout(2, 80, 22).pages == 1  # two charts of 11 lines fit


async def test_charts_screen_pages_with_keys_shown_in_the_footer(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "v")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChartsScreen)
        view = screen.query_one(ChartView)
        assert "PgDn" not in footer_text(app)  # one metric: no pages
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, Picker)
        metrics = [k for k in screen.all_keys if not k.startswith("system/")][:3]
        for key in metrics:  # tick three metrics in the picker
            await pilot.press(*key, "space", *["backspace"] * len(key))
        await pilot.press("enter")
        await settle(pilot)
        assert len(view.panels) >= 3  # val/loss was ticked already
        assert view.pages > 1
        assert "PgDn Next page" in footer_text(app)
        first, *_, last = view.panels
        shown = "\n".join(screen_lines(view))
        assert first in shown and last not in shown
        assert len(re.findall(r"┤", shown)) >= 3  # y labels
        await pilot.press("pagedown", "pagedown", "pagedown")
        await pilot.pause()
        assert view.page == view.pages - 1
        assert last in "\n".join(screen_lines(view))
        await pilot.press("pageup")
        assert view.page == view.pages - 2


# ------------------------------------------------------------------------------------ bug 14


def test_frame_and_ticks_are_their_own_text_runs():
    """A blank-and-frame run ("      │") was drawn by the screenshot rasteriser with its blanks
    dropped: stray │ marks across the plot and a broken frame. The frame now has its own colour."""
    text = render_chart([Series("run", list(range(50)), [1.0 / (i + 1) for i in range(50)], 0)], 80, 20,
                        title="loss", color=True, background=(30, 30, 30))
    for line in text.split("\n")[1:17]:
        if "│" not in line.plain:
            continue
        col = line.plain.rindex("│")
        styles = [s for s in line.spans if s.start <= col < s.end and getattr(s.style, "color", None)]
        assert styles, f"right frame unstyled in {line.plain!r}"
        assert line.plain[col - 1] != " " or all(not (s.start <= col - 1 < s.end) for s in styles)
    legend = text.split("\n")[-1]
    glyph = next(s for s in legend.spans if getattr(s.style, "color", None))
    assert legend.plain[glyph.start : glyph.end] == "■ "  # glyph and gap in one run


async def test_charts_title_separates_run_count_and_metric(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "space", "v")
        await settle(pilot)
        title = app.screen.query_one("#charts-title").render()
        plain = title.plain
        assert plain.startswith("3 runs · val/loss   m metrics")
        for span in title.spans:  # no styled piece starts with a blank
            assert not plain[span.start : span.end].startswith(" ")


# ------------------------------------------------------------------------------------ keys


def test_chart_keys_are_declared_once_on_chart_view():
    ids = {b.id for b in ChartView.BINDINGS if hasattr(b, "id")}
    assert CHART_KEYS <= ids
    for screen in (ChartsScreen, DetailScreen):
        assert not {b.id for b in screen.BINDINGS if hasattr(b, "id")} & CHART_KEYS
        assert not {getattr(b, "key", None) for b in screen.BINDINGS} & {"x", "L", "left_square_bracket"}


async def press_chart_keys(pilot, view: ChartView) -> None:
    assert view.has_focus
    await pilot.press("right_square_bracket", "right_square_bracket")
    assert view.smoothing == pytest.approx(0.2)
    await pilot.press("left_square_bracket")
    assert view.smoothing == pytest.approx(0.1)
    await pilot.press("L")
    assert view.log_y
    await pilot.press("plus")
    assert view.x_range is not None
    await pilot.press("0")
    assert view.x_range is None
    mode = view.x_mode
    await pilot.press("x")
    assert view.x_mode != mode


async def test_chart_keys_work_on_the_charts_screen(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "v")
        await settle(pilot)
        assert isinstance(app.screen, ChartsScreen)
        await press_chart_keys(pilot, app.screen.query_one(ChartView))
        await settle(pilot)
        assert "Smooth +" in footer_text(app) and "X axis" in footer_text(app)


async def test_chart_keys_work_in_the_detail_charts_and_system_tabs(demo_store):
    app = app_for(demo_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press(*"cifar", "enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        d = app.screen
        assert isinstance(d, DetailScreen)
        await pilot.press("3")
        await settle(pilot)
        chart = d.query_one("#chart", ChartView)
        await press_chart_keys(pilot, chart)
        assert "Smooth +" in footer_text(app)
        await pilot.press("4")
        await settle(pilot)
        system = d.query_one("#system-chart", ChartView)
        assert system.display and system.panels
        before = (chart.smoothing, chart.log_y)
        await press_chart_keys(pilot, system)
        assert (chart.smoothing, chart.log_y) == before  # only the chart in view changed
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("L")
        assert system.log_y  # keys go to a chart only while it has focus
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("enter")  # the metrics as they were
        await settle(pilot)
        assert d.query_one("#tabs").active == "charts" and chart.has_focus


# ------------------------------------------------------------------------------------ layers


@pytest.mark.parametrize("module", ["numeric", "series", "ticks", "raster"])
def test_series_preparation_imports_neither_textual_nor_plotext(module):
    import ast

    import tracker.tui.charts as charts

    path = Path(charts.__file__).with_name(f"{module}.py")
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"textual", "plotext", "rich"}
