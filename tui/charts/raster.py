"""Lines as quarter-block cells, the way plotext's ``"hd"`` marker draws them, without plotext.

plotext spends most of a 10-run chart in pure-Python per-point work (``get_lines``,
``hd_group``: ~80% of a 10 × 1,000-point chart). For lines in colour this module computes the
same cells — the same data→sub-cell mapping (``get_matrix_data``), the same line interpolation
(``get_line``) and the same 2×2 glyphs (``hd_codes``) — in one tight pass per trace, and
``draw`` writes them into a canvas plotext built without the traces (frame, ticks, skipped-point
marks). ``tests/test_charts_raster.py`` checks that both ways give the same text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["HD_GLYPHS", "hd_cells"]

# Index = 4-bit mask: bit 0 upper-left, 1 upper-right, 2 lower-left, 3 lower-right.
HD_GLYPHS = " ▘▝▀▖▌▞▛▗▚▐▜▄▙▟█"


def _sub(values: Sequence[float], lo: float, hi: float, bins: int) -> list[int]:
    """plotext's ``get_matrix_data``: values to sub-cell coordinates (same float operations)."""
    span = hi - lo
    k = bins - 1
    return [math.floor(round(0.5 + k * (v - lo) / span, 8)) for v in values]


def hd_cells(
    xs: Sequence[float],
    ys: Sequence[float],
    x_lim: tuple[float, float],
    y_lim: tuple[float, float],
    cols: int,
    rows: int,
) -> dict[tuple[int, int], int]:
    """The cells one line trace covers, with their 2×2 masks.

    Args:
        xs: x values of the points, in order.
        ys: y values.
        x_lim: The x window (plotext's ``xlim``).
        y_lim: The y window.
        cols: Plot area width in cells.
        rows: Plot area height in cells.

    Returns:
        ``(column, row)`` → mask (see ``HD_GLYPHS``), row 0 at the bottom; only cells inside the
        plot area.
    """
    sx = _sub(xs, x_lim[0], x_lim[1], 2 * cols)
    sy = _sub(ys, y_lim[0], y_lim[1], 2 * rows)
    points: set[tuple[int, int]] = set()
    add = points.add
    for i in range(len(sx) - 1):
        x0, y0, x1, y1 = sx[i], sy[i], sx[i + 1], sy[i + 1]
        a = max(abs(x1 - x0), abs(y1 - y0))
        if a <= 1:
            add((x0, y0))
            continue
        fx = (x1 - x0) / a
        fy = (y1 - y0) / a
        for k in range(a):  # plotext's linspace + int(), end point left to the next segment
            add((int(x0 + k * fx), int(y0 + k * fy)))
    if sx:
        add((sx[-1], sy[-1]))
    cells: dict[tuple[int, int], int] = {}
    for x, y in points:
        cx, cy = x // 2, y // 2
        if 0 <= cx < cols and 0 <= cy < rows:
            bit = (1 << (x % 2)) << (0 if y % 2 else 2)
            cells[(cx, cy)] = cells.get((cx, cy), 0) | bit
    return cells
