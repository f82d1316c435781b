"""How fast are the charts? (RELIABILITY.md row R6, §B10; targets from the charts issue.)

1. The O(n) steps on 1,000,000 points: ``clean`` (all finite, and with 1% NaN/Inf),
   ``downsample_minmax`` to 80 buckets, ``ema``.
2. ``render_chart`` at 80×24: 10 runs × 1,000 points (target < 250 ms), and one 1,000,000-point
   run including cleaning and downsampling (target < 250 ms), cold (a fresh ``Series``, so
   nothing cached) and warm (same ``Series``, e.g. after a resize or zoom), with and without
   smoothing; a 4-panel grid at 160×48; the 10 runs at 118×37 (the ChartView of a 120×40
   terminal, where ``bench/tui_bench.py`` times the chart in the app) with plotext drawing the
   lines as before, for comparison with ``charts.raster`` drawing them.
3. plotext alone (``build()``) on the raw points, the thing downsampling avoids: 100,000 points
   by default, 1,000,000 with ``--plotext-1m`` (several seconds); the ratio to our render.

Every figure is the median of ``--repeat`` runs in milliseconds. Run from the repository root:

    python bench/chart_bench.py [--repeat 5] [--plotext-1m] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import plotext as plt

from tracker.tui.charts import (
    ChartSpec,
    Series,
    clean,
    downsample_minmax,
    draw,
    ema,
    render_chart,
    render_grid,
)

N = 1_000_000


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def curve(n: int, seed: int = 0, *, offset: float = 0.0) -> list[float]:
    """A noisy decaying loss curve of ``n`` points."""
    rng = random.Random(seed)
    return [math.exp(-i / (n / 3)) + offset + rng.random() * 0.1 for i in range(n)]


def plotext_alone(xs: Sequence[float], ys: Sequence[float], width: int = 80, height: int = 24) -> float:
    """One plotext build of the raw points, in milliseconds."""
    t0 = time.perf_counter()
    plt.clf()
    plt.limit_size(False, False)
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.plot(xs, ys)
    plt.build()
    plt.clf()
    return (time.perf_counter() - t0) * 1000


def plotext_lines(series: list[Series]) -> Any:
    """``render_chart`` at 118×37 with plotext drawing the line traces (the way before raster)."""
    fast = draw._fast_lines
    draw._fast_lines = lambda data, color: False
    try:
        return render_chart(series, 118, 37, title="loss")
    finally:
        draw._fast_lines = fast


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--plotext-1m", action="store_true", help="also time plotext on 1M raw points")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    r = max(1, args.repeat)

    xs = list(range(N))
    ys = curve(N)
    dirty = list(ys)
    for i in range(0, N, 100):  # 1% non-finite / out of range
        dirty[i] = (math.nan, math.inf, -math.inf, 1e308)[(i // 100) % 4]
    stamps = [1.7e9 + i * 0.01 for i in range(N)]
    ten = [Series(f"run-{k}", list(range(1000)), curve(1000, k, offset=k * 0.05), k) for k in range(10)]

    fig: dict[str, float] = {}
    fig["clean 1M finite"] = timed(lambda: clean(xs, ys), r)
    fig["clean 1M with 1% NaN/Inf/1e308"] = timed(lambda: clean(xs, dirty), r)
    fig["downsample_minmax 1M -> 80 buckets"] = timed(lambda: downsample_minmax(xs, ys, 80), r)
    fig["ema 1M (w=0.9)"] = timed(lambda: ema(ys, 0.9), r)

    def fresh_ten() -> list[Series]:
        return [Series(s.label, s.xs, s.ys, s.color_index) for s in ten]

    fig["render 10x1k 80x24 cold"] = timed(lambda: render_chart(fresh_ten(), 80, 24, title="loss"), r)
    fig["render 10x1k 80x24 warm"] = timed(lambda: render_chart(ten, 80, 24, title="loss"), r)
    fig["render 10x1k 118x37 cold"] = timed(lambda: render_chart(fresh_ten(), 118, 37, title="loss"), r)
    fig["  same, lines drawn by plotext"] = timed(lambda: plotext_lines(fresh_ten()), r)
    fig["render 10x1k 80x24 ema 0.6 cold"] = timed(
        lambda: render_chart(fresh_ten(), 80, 24, title="loss", smoothing=0.6), r
    )
    big = Series("big", xs, ys, 0, timestamps=stamps)
    fig["render 1M 80x24 cold"] = timed(lambda: render_chart([Series("big", xs, ys, 0)], 80, 24), r)
    fig["render 1M 80x24 warm"] = timed(lambda: render_chart([big], 80, 24), r)
    fig["render 1M 80x24 1% non-finite cold"] = timed(
        lambda: render_chart([Series("big", xs, dirty, 0)], 80, 24), r
    )
    fig["render 1M 80x24 ema 0.9 cold"] = timed(
        lambda: render_chart([Series("big", xs, ys, 0)], 80, 24, smoothing=0.9), r
    )
    fig["render 1M 80x24 ema 0.9 warm"] = timed(lambda: render_chart([big], 80, 24, smoothing=0.9), r)
    fig["render 1M 80x24 zoom 10% warm"] = timed(
        lambda: render_chart([big], 80, 24, x_range=(400_000, 500_000)), r
    )
    fig["render 1M 80x24 relative time cold"] = timed(
        lambda: render_chart([Series("big", xs, ys, 0, timestamps=stamps)], 80, 24, x_mode="relative"), r
    )
    grid = [
        ChartSpec([Series(f"r{k}", list(range(10_000)), curve(10_000, k + m), k) for k in range(5)], title=f"m{m}")
        for m in range(4)
    ]
    fig["grid 4 panels x 5 runs x 10k 160x48 warm"] = timed(lambda: render_grid(grid, 160, 48), r)

    n_small = 100_000
    fig["plotext alone 100k raw 80x24"] = plotext_alone(xs[:n_small], ys[:n_small])
    fig["render 100k 80x24 cold"] = timed(
        lambda: render_chart([Series("s", xs[:n_small], ys[:n_small], 0)], 80, 24), r
    )
    if args.plotext_1m:
        fig["plotext alone 1M raw 80x24"] = plotext_alone(xs, ys)

    if args.json:
        print(json.dumps({k: round(v, 1) for k, v in fig.items()}, indent=2))
        return 0
    print(f"python {sys.version.split()[0]}, plotext {plt.__version__}, median of {r} (ms)")
    for name, ms in fig.items():
        print(f"  {name:<44} {ms:9.1f}")
    ratio = fig["plotext alone 100k raw 80x24"] / fig["render 100k 80x24 cold"]
    print(f"  plotext on raw 100k / our render of the same 100k: {ratio:.0f}x")
    if "plotext alone 1M raw 80x24" in fig:
        ratio = fig["plotext alone 1M raw 80x24"] / fig["render 1M 80x24 cold"]
        print(f"  plotext on raw 1M / our cold render of 1M: {ratio:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
