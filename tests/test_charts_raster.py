"""The quarter-block rasteriser (``charts.raster``) draws exactly what plotext drew.

``render_chart`` in colour writes line traces itself into a canvas plotext built without them
(it was most of the time of a 10-run chart). Each case here renders once that way and once with
plotext drawing the traces, and compares every cell's character and colour.
"""

from __future__ import annotations

import math
import random

import pytest

from tracker.tui.charts import Series, draw, render_chart
from tracker.tui.charts.raster import HD_GLYPHS, hd_cells


def curve(n: int, seed: int, offset: float = 0.0) -> list[float]:
    rng = random.Random(seed)
    return [math.exp(-i / max(1, n / 3)) + offset + rng.random() * 0.1 for i in range(n)]


def cells(text) -> list[list[tuple[str, str]]]:
    out = []
    for line in text.split("\n"):
        styles = ["" for _ in line.plain]
        for span in line.spans:
            styles[span.start : span.end] = [str(span.style)] * (span.end - span.start)
        out.append(list(zip(line.plain, styles)))
    return out


def render_both(monkeypatch, series, width, height, **kw):
    fast = render_chart(series, width, height, color=True, background=(20, 20, 20), **kw)
    with monkeypatch.context() as m:
        m.setattr(draw, "_fast_lines", lambda data, color: False)
        slow = render_chart(series, width, height, color=True, background=(20, 20, 20), **kw)
    return fast, slow


CASES = [
    ("one point", 1, 1, {}),
    ("two points", 2, 2, {}),
    ("ten runs", 1000, 10, {}),
    ("smoothed over raw", 1000, 3, {"smoothing": 0.6}),
    ("log y", 300, 3, {"log_y": True}),
    ("zoomed, neighbours outside", 1000, 4, {"x_range": (200.0, 260.0)}),
    ("relative time", 50, 5, {"x_mode": "relative"}),
    ("many points", 20_000, 2, {}),
]


@pytest.mark.parametrize("size", [(80, 24), (118, 37), (40, 12)], ids=str)
@pytest.mark.parametrize(("name", "n", "k", "kw"), CASES, ids=[c[0] for c in CASES])
def test_raster_matches_plotext_cell_for_cell(monkeypatch, size, name, n, k, kw):
    series = [Series(f"r{j}", list(range(n)), curve(n, j, j * 0.05), j, timestamps=[1e9 + 2 * i for i in range(n)])
              for j in range(k)]
    fast, slow = render_both(monkeypatch, series, *size, **kw)
    assert cells(fast) == cells(slow)


def test_raster_keeps_skipped_point_marks_on_top(monkeypatch):
    ys = curve(400, 3)
    for i in range(0, 400, 37):
        ys[i] = (math.nan, math.inf, -math.inf)[i % 3]
    fast, slow = render_both(monkeypatch, [Series("spiky", list(range(400)), ys, 0)], 80, 24)
    assert cells(fast) == cells(slow)
    assert any(m in fast.plain for m in "▲▼×")


def test_hd_cells_masks_and_bounds():
    # a diagonal across a 2x2-cell area: one sub-cell per column, row 0 at the bottom
    got = hd_cells([0.0, 3.0], [0.0, 3.0], (0.0, 3.0), (0.0, 3.0), 2, 2)
    assert {c: HD_GLYPHS[m] for c, m in got.items()} == {(0, 0): "▞", (1, 1): "▞"}
    outside = hd_cells([-10.0, -5.0], [0.0, 1.0], (0.0, 1.0), (0.0, 1.0), 4, 4)
    assert outside == {}
