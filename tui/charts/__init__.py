"""Metric charts as Rich ``Text``: clean, smooth, downsample, then draw with plotext.

Two halves, so the data work can be tested and timed without a terminal (RELIABILITY.md §B10,
row R6):

* series preparation — ``numeric`` (clean, EMA, min/max downsampling on plain lists) and
  ``series`` (the ``Series``/``ChartSpec`` contract, per-series caches, x modes, extents,
  ``chart_data``); neither imports Textual or plotext;
* drawing — ``ticks`` (axis ticks and labels), ``raster`` (line traces as plotext's quarter-block
  cells, without plotext's per-point Python), ``draw`` (plotext canvas, legend, notes:
  ``render_chart``) and ``grid`` (several charts, a minimum height, pages: ``render_grid``).

Nothing here imports Textual; the widget that owns the data is
``tracker.tui.widgets.chart_view.ChartView``. This package re-exports the public names.
"""

from __future__ import annotations

from tracker.tui.charts.draw import PALETTE, render_chart
from tracker.tui.charts.grid import MIN_PANEL_HEIGHT, GridLayout, grid_layout, render_grid
from tracker.tui.charts.numeric import LIMIT, MAX_SMOOTHING, clean, downsample_minmax, ema
from tracker.tui.charts.series import (
    X_MODES,
    ChartData,
    ChartSpec,
    Series,
    Trace,
    chart_data,
    x_extent,
)

__all__ = [
    "LIMIT",
    "MAX_SMOOTHING",
    "MIN_PANEL_HEIGHT",
    "PALETTE",
    "X_MODES",
    "ChartData",
    "ChartSpec",
    "GridLayout",
    "Series",
    "Trace",
    "chart_data",
    "clean",
    "downsample_minmax",
    "ema",
    "grid_layout",
    "render_chart",
    "render_grid",
    "x_extent",
]
