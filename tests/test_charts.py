"""Charts: downsampling, EMA, cleaning, rendering limits, hostile labels, and the ChartView widget.

numpy appears here only as an independent oracle (it is a test extra, not a run-time dependency).
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import plotext
import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.geometry import Region

from tracker.tui import charts
from tracker.tui.charts import (
    ChartSpec,
    Series,
    chart_data,
    clean,
    downsample_minmax,
    ema,
    render_chart,
    render_grid,
    x_extent,
)
from tracker.tui.widgets.chart_view import ChartView

NAN, INF = math.nan, math.inf
HOSTILE = "[/]\x1b]52;c;aGk=\x07\x1b[2J\u202eevil[bold red]x[link=file:///etc/passwd]y"


def lines_of(text) -> list[str]:
    return text.plain.split("\n")


def assert_fits(text, width: int, height: int) -> None:
    lines = lines_of(text)
    assert len(lines) == height
    assert max(cell_len(line) for line in lines) <= width


def noisy(n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [math.exp(-i / max(1, n / 3)) + rng.random() * 0.1 for i in range(n)]


# --------------------------------------------------------------------------------------------
# downsample_minmax
# --------------------------------------------------------------------------------------------


def test_downsample_keeps_global_and_bucket_extremes():
    rng = np.random.default_rng(1)
    n, buckets = 20_000, 64
    xs = np.sort(rng.uniform(0, 1000, n)).tolist()
    ys = rng.normal(size=n).tolist()
    ys[12_345] = 50.0  # a lone spike must survive
    ox, oy = downsample_minmax(xs, ys, buckets)

    assert len(ox) == len(oy) <= 2 * buckets
    assert max(oy) == max(ys) == 50.0 and min(oy) == min(ys)
    assert ox == sorted(ox)
    pairs = set(zip(xs, ys))
    assert all(p in pairs for p in zip(ox, oy))  # real points, not averages

    ax, ay = np.asarray(xs), np.asarray(ys)
    edges = [xs[0] + (xs[-1] - xs[0]) * k / buckets for k in range(1, buckets)]
    idx = np.searchsorted(ax, edges, side="left")
    kept = set(zip(ox, oy))
    for seg_x, seg_y in zip(np.split(ax, idx), np.split(ay, idx)):
        if len(seg_y):
            assert (seg_x[seg_y.argmin()], seg_y.min()) in kept
            assert (seg_x[seg_y.argmax()], seg_y.max()) in kept


@pytest.mark.parametrize("n", [0, 1, 2, 5, 100, 101, 1000, 99_999])
@pytest.mark.parametrize("buckets", [1, 3, 50])
def test_downsample_output_bounds(n, buckets):
    xs = list(range(n))
    ys = noisy(n)
    ox, oy = downsample_minmax(xs, ys, buckets)
    if n <= 2 * buckets:
        assert (ox, oy) == (xs, ys)
    assert len(ox) == len(oy) <= max(2 * buckets, 0)
    if n:
        assert max(oy) == max(ys) and min(oy) == min(ys)


def test_downsample_same_x_and_bad_buckets():
    ox, oy = downsample_minmax([5.0] * 1000, [float(i % 7) for i in range(1000)], 10)
    assert len(ox) <= 2 and set(oy) == {0.0, 6.0}
    with pytest.raises(ValueError):
        downsample_minmax([1, 2], [1, 2], 0)


def test_downsample_one_million_points_is_fast():
    xs = list(range(1_000_000))
    ys = noisy(1_000_000)
    t0 = time.perf_counter()
    ox, _ = downsample_minmax(xs, ys, 100)
    assert time.perf_counter() - t0 < 1.0  # ~35 ms on a slow 2-vCPU box; bench has the figure
    assert len(ox) <= 200


# --------------------------------------------------------------------------------------------
# ema
# --------------------------------------------------------------------------------------------


def test_ema_hand_computed():
    # w = 0.5: last 0.5, 1.25, 2.125; debias 1-0.5, 1-0.25, 1-0.125
    assert ema([1.0, 2.0, 3.0], 0.5) == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875])


def test_ema_skips_non_finite_like_tensorboard():
    out = ema([1.0, NAN, 2.0, INF, 3.0], 0.5)
    assert out[0] == 1.0 and math.isnan(out[1]) and out[3] == INF
    assert out[2] == pytest.approx(1.25 / 0.75) and out[4] == pytest.approx(2.125 / 0.875)


def test_ema_edges():
    assert ema([], 0.6) == []
    assert ema([3.0, 1.0], 0.0) == [3.0, 1.0]
    assert ema([2.5] * 10, 0.9) == [2.5] * 10  # constant: no drift
    assert ema([7.0], 0.99) == [7.0]
    assert ema([1.0, 2.0], 5.0) == ema([1.0, 2.0], charts.MAX_SMOOTHING)  # clamped


@pytest.mark.parametrize("w", [0.1, 0.6, 0.9, 0.99, 0.999])
def test_ema_matches_reference_over_long_series(w):
    ys = noisy(20_000, seed=3)
    ref, last = [], 0.0
    for k, y in enumerate(ys, 1):
        last = last * w + (1 - w) * y
        ref.append(last / (1 - w**k))
    assert np.allclose(ema(ys, w), ref, rtol=1e-9, atol=0)


# --------------------------------------------------------------------------------------------
# clean
# --------------------------------------------------------------------------------------------


def test_clean_drops_non_finite_and_huge():
    xs = [0, 1, 2, 3, 4, 5, 6, 7]
    ys = [1.0, NAN, INF, -INF, 1e308, -1e308, 1e300, 2.0]
    cx, cy, skipped = clean(xs, ys)
    assert (cx, cy, skipped) == ([0, 6, 7], [1.0, 1e300, 2.0], 5)


def test_clean_bad_x_odd_types_and_lengths():
    cx, cy, skipped = clean([0, NAN, 2, 3, 4], [1, 2, None, "x", 5, 6])
    assert cx == [0, 4] and cy == [1.0, 5.0] and skipped == 3
    assert clean([], []) == ([], [], 0)
    assert clean([1, 2], [3, 4]) == ([1, 2], [3, 4], 0)


# --------------------------------------------------------------------------------------------
# render_chart: robustness (R6 / §B10)
# --------------------------------------------------------------------------------------------

EDGE_CASES = {
    "nan_inf_huge": ([0, 1, 2, 3, 4, 5], [1.0, NAN, INF, -INF, 1e308, 2.0], 4),
    "neg_huge": ([0, 1, 2], [1.0, -1e308, 3.0], 1),
    "empty": ([], [], 0),
    "single": ([7], [0.25], 0),
    "single_nan": ([7], [NAN], 1),
    "constant": (list(range(50)), [3.0] * 50, 0),
    "constant_zero": (list(range(50)), [0.0] * 50, 0),
    "all_nan": (list(range(50)), [NAN] * 50, 50),
    "near_limit": (list(range(4)), [1e300, -1e300, 5e299, 0.0], 0),
    "tiny_span": (list(range(4)), [1.0, 1.0 + 1e-15, 1.0, 1.0], 0),
    "unsorted": ([5, 1, 4, 2, 3], [5.0, 1.0, 4.0, 2.0, 3.0], 0),
    "duplicate_steps": ([1, 1, 1, 2, 2], [1.0, 2.0, 3.0, 4.0, 5.0], 0),
}


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("smoothing", [0.0, 0.6])
@pytest.mark.parametrize("log_y", [False, True])
def test_render_edge_cases_never_raise_and_count_skips(case, smoothing, log_y):
    xs, ys, skipped = EDGE_CASES[case]
    text = render_chart([Series("run", xs, ys, 0, timestamps=[1e9 + x for x in xs])], 80, 24,
                        title="loss", smoothing=smoothing, log_y=log_y)
    assert_fits(text, 80, 24)
    assert "plot failed" not in text.plain
    data = chart_data([Series("run", xs, ys, 0)], buckets=80, smoothing=smoothing, log_y=log_y)
    assert data.nonfinite == skipped
    if skipped:
        s = "" if skipped == 1 else "s"
        assert f"{skipped} non-finite point{s} skipped" in text.plain


def test_plotext_never_sees_non_finite_or_too_many_points(monkeypatch):
    seen: list[tuple[list, list]] = []
    real_plot, real_scatter = plotext.plot, plotext.scatter

    def spy(real):
        def wrapper(xs, ys, **kw):
            seen.append((list(xs), list(ys)))
            return real(xs, ys, **kw)

        return wrapper

    monkeypatch.setattr(plotext, "plot", spy(real_plot))
    monkeypatch.setattr(plotext, "scatter", spy(real_scatter))
    n = 200_000
    ys = noisy(n)
    for i in range(0, n, 997):
        ys[i] = (NAN, INF, -INF, 1e308, -1e308)[i % 5]
    width = 80
    text = render_chart([Series("a", list(range(n)), ys, 0)], width, 24, smoothing=0.5)
    assert_fits(text, width, 24)
    assert seen
    for xs, vals in seen:
        assert len(xs) <= 2 * width + 2  # ≤ 2 per column (+ edge neighbours when zoomed)
        assert all(math.isfinite(v) and abs(v) <= 1e300 for v in xs + vals)
    assert any(m in text.plain for m in "▲▼×")  # skipped points marked on the edges


def test_one_million_points_render_quickly():
    n = 1_000_000
    series = Series("big", list(range(n)), noisy(n), 0)
    t0 = time.perf_counter()
    text = render_chart([series], 80, 24, title="loss")
    elapsed = time.perf_counter() - t0
    assert_fits(text, 80, 24)
    assert elapsed < 3.0  # generous for CI; bench/chart_bench.py has the real figure (~0.1 s)
    data = chart_data([series], buckets=80)
    assert data.points == n and all(len(t.xs) <= 160 for t in data.traces)


def test_ten_runs_of_1000_points_render_quickly():
    runs = [Series(f"r{k}", list(range(1000)), noisy(1000, k), k) for k in range(10)]
    t0 = time.perf_counter()
    text = render_chart(runs, 80, 24, smoothing=0.6)
    assert time.perf_counter() - t0 < 2.5  # ~0.05 s measured
    assert_fits(text, 80, 24)


# --------------------------------------------------------------------------------------------
# Labels and titles are untrusted (R1/R2)
# --------------------------------------------------------------------------------------------


def test_hostile_labels_and_titles_are_literal_and_inert():
    runs = [Series(HOSTILE, [0, 1, 2], [1.0, 2.0, 3.0], 0), Series("[bold]b[/bold]", [0, 1], [2.0, 1.0], 1)]
    for text in (
        render_chart(runs, 120, 24, title=HOSTILE),
        render_grid([ChartSpec(runs, title=HOSTILE), ChartSpec(runs, title="m2")], 160, 30),
    ):
        plain = text.plain
        assert "[/]" in plain and "[bold]b[/bold]" in plain
        assert "\\x1b]52;c;aGk=\\x07\\x1b[2J\\u202eevil[bold red]x" in plain
        for raw in ("\x1b", "\x07", "\u202e"):
            assert raw not in plain
        for span in text.spans:
            style = span.style
            assert not isinstance(style, str) or "link" not in style
            assert getattr(style, "link", None) is None


def test_long_and_wide_labels_are_truncated_to_fit():
    runs = [Series("训练🚀" * 40, [0, 1], [1.0, 2.0], 0), Series("x" * 300, [0, 1], [2.0, 1.0], 1)]
    text = render_chart(runs, 60, 20)
    assert_fits(text, 60, 20)
    assert "…" in text.plain


def test_legend_overflow_says_how_many_more():
    runs = [Series(f"run-{k:02d}-with-a-long-name", [0, 1], [k, k + 1.0], k) for k in range(30)]
    text = render_chart(runs, 80, 24)
    assert_fits(text, 80, 24)
    assert re.search(r"\+\d+ more", text.plain)


# --------------------------------------------------------------------------------------------
# Options: log-y, x modes, zoom, smoothing, colour
# --------------------------------------------------------------------------------------------


def test_log_y_skips_non_positive_with_note():
    s = Series("a", [0, 1, 2, 3, 4], [-1.0, 0.0, 1.0, 10.0, 100.0], 0)
    data = chart_data([s], buckets=80, log_y=True)
    assert data.nonpositive == 2
    assert data.traces[0].ys == pytest.approx([0.0, 1.0, 2.0])
    text = render_chart([s], 80, 24, log_y=True)
    assert "2 non-positive points skipped (log-y)" in text.plain
    assert "10" in text.plain and "100" in text.plain  # decade ticks
    assert "non-positive" not in render_chart([s], 80, 24).plain


def test_x_modes_step_time_relative():
    t0 = 1_700_000_000.0
    a = Series("a", [0, 10, 20], [1.0, 2.0, 3.0], 0, timestamps=[t0 + 100, t0 + 160, t0 + 220])
    b = Series("b", [0, 10, 20], [3.0, 2.0, 1.0], 1, timestamps=[t0 + 500, t0 + 530, t0 + 560])
    assert chart_data([a, b], buckets=80).x_lim == (0, 20)
    assert chart_data([a, b], buckets=80, x_mode="time").x_lim == (t0 + 100, t0 + 560)
    rel = chart_data([a, b], buckets=80, x_mode="relative")
    assert rel.x_lim == (0, 120)  # each run from its own first point
    assert [t.xs for t in rel.traces] == [[0, 60, 120], [0, 30, 60]]
    assert x_extent([a, b], "relative") == (0.0, 120.0)

    assert re.search(r"\b\d\d:\d\d\b", render_chart([a, b], 80, 24, x_mode="time").plain)
    assert re.search(r"\b0s\b.*\b1m\b", render_chart([a, b], 80, 24, x_mode="relative").plain)

    no_time = Series("c", [0, 1], [1.0, 2.0], 2)
    data = chart_data([a, no_time], buckets=80, x_mode="time")
    assert data.no_x == 1 and len(data.traces) == 1
    assert "1 series without wall time" in render_chart([a, no_time], 80, 24, x_mode="time").plain
    with pytest.raises(ValueError):
        chart_data([a], buckets=80, x_mode="epoch")


def test_relative_time_starts_at_first_point_even_if_its_value_is_nan():
    s = Series("a", [0, 1, 2], [NAN, 1.0, 2.0], 0, timestamps=[100.0, 110.0, 130.0])
    assert chart_data([s], buckets=80, x_mode="relative").traces[0].xs == [10.0, 30.0]


def test_x_range_zoom_limits_points():
    s = Series("a", list(range(1000)), noisy(1000), 0)
    data = chart_data([s], buckets=200, x_range=(100, 199))
    assert data.points == 100 and data.x_lim == (100, 199)
    xs = data.traces[0].xs
    assert xs[0] == 99 and xs[-1] == 200  # one neighbour each side so the line reaches the frame
    assert all(100 <= x <= 199 for x in xs[1:-1])
    text = render_chart([s], 80, 24, x_range=(199, 100))  # reversed ends are fine
    assert_fits(text, 80, 24)
    assert "100…199" in text.plain
    assert "no data in x range" in render_chart([s], 80, 24, x_range=(5000, 6000)).plain
    assert chart_data([s], buckets=80, x_range=(NAN, 5)).x_lim == (0, 999)  # bad window: ignored


def test_smoothing_draws_smoothed_over_faint_raw():
    s = Series("a", list(range(500)), noisy(500), 0)
    both = chart_data([s], buckets=80, smoothing=0.9)
    assert [t.smoothed for t in both.traces] == [False, True]
    only = chart_data([s], buckets=80, smoothing=0.9, show_raw=False)
    assert [t.smoothed for t in only.traces] == [True]
    text = render_chart([s], 80, 24, smoothing=0.9, color=True)
    colors = {span.style.color.triplet for span in text.spans if hasattr(span.style, "color") and span.style.color}
    assert tuple(charts.PALETTE[0]) in {tuple(c) for c in colors if c}
    assert len(colors) >= 2  # bright smoothed + faint raw
    assert "ema 0.90" in text.plain


def test_monochrome_uses_distinct_markers_and_no_colour():
    runs = [Series(f"r{k}", list(range(100)), [v + k for v in noisy(100, k)], k) for k in range(3)]
    text = render_chart(runs, 80, 24, color=False)
    assert not any(getattr(span.style, "color", None) for span in text.spans)
    assert "▞ r0" in text.plain and "+ r1" in text.plain and "x r2" in text.plain
    assert_fits(render_chart(runs, 80, 24, color=False, smoothing=0.7), 80, 24)


def test_no_color_env_is_honoured(monkeypatch):
    runs = [Series("a", [0, 1, 2], [1.0, 3.0, 2.0], 0)]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not any(getattr(span.style, "color", None) for span in render_chart(runs, 80, 24).spans)


@pytest.mark.parametrize("size", [(80, 24), (40, 12), (200, 60), (20, 5), (16, 4), (10, 3), (5, 2), (1, 1)])
def test_width_and_height_are_respected(size):
    width, height = size
    runs = [Series(f"run-{k}", list(range(300)), noisy(300, k), k, timestamps=[1e9 + i for i in range(300)])
            for k in range(4)]
    runs.append(Series("nan", [0, 1], [NAN, INF], 4))
    for kw in ({}, {"smoothing": 0.8}, {"log_y": True}, {"x_mode": "time"}, {"x_range": (10, 20)}):
        assert_fits(render_chart(runs, width, height, title="a/very/long/metric/name" * 3, **kw), width, height)
    panels = [ChartSpec(runs, title=f"m{k}") for k in range(5)]
    assert_fits(render_grid(panels, width, height), width, height)


def test_grid_lays_out_panels_and_reports_hidden_ones():
    runs = [Series("a", list(range(50)), noisy(50), 0)]
    text = render_grid([ChartSpec(runs, title=f"metric-{k}") for k in range(4)], 160, 40)
    assert_fits(text, 160, 40)
    assert all(f"metric-{k}" in text.plain for k in range(4))
    first = lines_of(text)[0]
    assert "metric-0" in first and "metric-1" in first  # two columns side by side
    crowded = render_grid([ChartSpec(runs, title=f"metric-{k}") for k in range(40)], 80, 24)
    assert_fits(crowded, 80, 24)
    assert "charts 1–2 of 40 · page 1/20 · PgDn for more" in crowded.plain
    assert_fits(render_grid([], 80, 24), 80, 24)


def test_concurrent_renders_are_serialised_and_identical():
    runs = [Series(f"r{k}", list(range(2000)), noisy(2000, k), k) for k in range(3)]
    expected = render_chart(runs, 90, 25, smoothing=0.5).plain
    barrier = threading.Barrier(6)

    def work(_: int) -> str:
        barrier.wait()
        return render_chart(runs, 90, 25, smoothing=0.5).plain

    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(work, range(6))) == {expected}


# --------------------------------------------------------------------------------------------
# ChartView widget
# --------------------------------------------------------------------------------------------


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ChartView(id="chart")


def screen_lines(view: ChartView) -> list[str]:
    return [strip.text for strip in view.render_lines(Region(0, 0, view.size.width, view.size.height))]


def loss_series(label: str = HOSTILE, n: int = 100, color_index: int = 0) -> Series:
    return Series(label, list(range(n)), noisy(n), color_index, timestamps=[1e9 + 2 * i for i in range(n)])


async def test_widget_renders_legend_and_keeps_zoom_on_append():
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(ChartView)
        view.set_series({"train/loss": [loss_series()], "val/acc": [loss_series("b", color_index=1)]})
        await pilot.pause()
        shown = "\n".join(screen_lines(view))
        assert "[/]\\x1b]52;c;aGk=\\x07" in shown and "train/loss" in shown  # legend: literal, truncated
        assert "\x1b" not in shown and "\u202e" not in shown

        view.follow = False
        view.x_range = (10.0, 50.0)
        view.append("train/loss", HOSTILE, [(100 + i, 0.5, 1e9 + 200 + 2 * i) for i in range(20)])
        await pilot.pause()
        grown = view.panels["train/loss"][0]
        assert len(grown.ys) == 120 and grown.timestamps is not None and len(grown.timestamps) == 120
        assert view.x_range == (10.0, 50.0)

        view.follow = True
        view.append("train/loss", HOSTILE, [(300, 0.4, 1e9 + 600)])
        assert view.x_range == (10.0, 300.0)
        view.append("val/acc", "new-run", [(0, 1.0), (1, 2.0)])
        assert [s.label for s in view.panels["val/acc"]] == ["b", "new-run"]
        assert view.panels["val/acc"][1].color_index == 2  # next free colour
        view.append("train/loss", "b", [(0, 1.0)])
        assert view.panels["train/loss"][1].color_index == 1  # same run, same colour everywhere
        await pilot.pause()
        assert "new-run" in "\n".join(screen_lines(view))


async def test_widget_verbs_and_render_cache():
    app = ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(ChartView)
        view.set_series([loss_series("run-a", n=1001)])
        await pilot.pause()
        first = view.render()
        assert view.render() is first  # cached: same size, data and options

        view.zoom_in()
        assert view.x_range == (500.0, 1000.0)  # follow keeps the newest edge in view
        view.follow = False
        view.zoom_in()
        assert view.x_range == (625.0, 875.0)
        view.pan("left")
        assert view.x_range == pytest.approx((562.5, 812.5))
        view.pan(-100)
        assert view.x_range == (0.0, 250.0)  # clamped to the data
        view.zoom_out()
        assert view.x_range == (0.0, 500.0)
        view.zoom_out()
        assert view.x_range is None
        view.x_range = (5.0, 1.0)
        assert view.x_range == (1.0, 5.0)
        view.reset_zoom()
        assert view.x_range is None

        view.x_range = (10.0, 20.0)
        view.cycle_x_mode()
        assert view.x_mode == "time" and view.x_range is None  # units changed
        view.cycle_x_mode()
        view.cycle_x_mode()
        assert view.x_mode == "step"
        view.toggle_log_y()
        assert view.log_y
        view.adjust_smoothing(0.25)
        view.adjust_smoothing(0.25)
        assert view.smoothing == 0.5
        view.adjust_smoothing(5)
        assert view.smoothing == 0.99
        view.adjust_smoothing(-5)
        assert view.smoothing == 0.0
        with pytest.raises(ValueError):
            view.x_mode = "epochs"
        await pilot.pause()
        assert view.render() is not first
        assert "run-a" in "\n".join(screen_lines(view))
