"""A grid of metric charts: columns from the width, a readable minimum height, pages.

At 80x24 several metrics used to share the height until each chart was 2–3 rows with no y
labels; now a panel never gets fewer than ``MIN_PANEL_HEIGHT`` lines and the panels that don't
fit are drawn page by page (``ChartView`` binds PgDn/PgUp to turn them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

from tracker.tui.charts.draw import _MIN_PLOT_WIDTH, _fit, _join, render_chart
from tracker.tui.charts.series import ChartSpec

__all__ = ["MIN_PANEL_HEIGHT", "GridLayout", "grid_layout", "render_grid"]


MIN_PANEL_HEIGHT = 11
"""Lines a panel of a grid gets at least: title, a plot of 5 rows with 3 y labels inside its
frame and x labels, a legend line and a note line. Panels that don't fit go to further pages."""


@dataclass(frozen=True)
class GridLayout:
    """Where the panels of a grid go at a given size.

    Attributes:
        columns: Panels side by side.
        rows: Panel rows on one page.
        pages: Pages needed for all panels (1 when everything fits).
    """

    columns: int
    rows: int
    pages: int

    @property
    def per_page(self) -> int:
        """Panels on one page."""
        return self.columns * self.rows


def grid_layout(count: int, width: int, height: int, columns: int | None = None) -> GridLayout:
    """Columns, rows per page and pages for ``count`` panels in ``width`` × ``height``.

    Two columns once the width allows ~60 cells each (three from 180), otherwise one. Each panel
    gets at least ``MIN_PANEL_HEIGHT`` lines; when the panels need more rows than that allows,
    one line is kept for the page note and the rest is paged.
    """
    count = max(1, count)
    cols = columns if columns else (3 if width >= 180 else 2 if width >= 120 else 1)
    cols = max(1, min(cols, count, max(1, (width + _GAP) // (_MIN_PLOT_WIDTH + _GAP))))
    rows_needed = math.ceil(count / cols)
    if rows_needed * MIN_PANEL_HEIGHT <= height or count == 1:
        return GridLayout(cols, rows_needed, 1)
    rows = max(1, (height - 1) // MIN_PANEL_HEIGHT)
    return GridLayout(cols, rows, math.ceil(count / (cols * rows)))


_GAP = 1  # columns between panels


def _page_note(first: int, last: int, total: int, page: int, pages: int) -> Text:
    note = Text(f"charts {first}–{last} of {total}", style="dim", no_wrap=True)
    keys = [k for k, ok in (("PgDn", page < pages - 1), ("PgUp", page > 0)) if ok]
    note.append(f" · page {page + 1}/{pages} · {' / '.join(keys)} for more", style="dim")
    return note


def render_grid(
    panels: Sequence[ChartSpec],
    width: int,
    height: int,
    *,
    columns: int | None = None,
    page: int = 0,
    color: bool | None = None,
    background: tuple[int, int, int] | None = None,
) -> Text:
    """Lay several metric charts out in a grid that fills ``width`` × ``height``.

    See ``grid_layout``: panels are at least ``MIN_PANEL_HEIGHT`` lines high; those that don't
    fit are shown ``page`` by page, with a last line saying which charts are shown and the keys.

    Args:
        panels: One ``ChartSpec`` per metric, in display order.
        width: Cells available.
        height: Lines available; the output has exactly this many.
        columns: Force a column count (≥ 1).
        page: Which page of panels to draw (clamped to the pages there are).
        color: As for ``render_chart``.
        background: As for ``render_chart``.

    Returns:
        A ``Text`` of ``height`` lines, each at most ``width`` cells.
    """
    width = max(1, int(width))
    height = max(1, int(height))
    if len(panels) <= 1:
        p = panels[0] if panels else ChartSpec([])
        return render_chart(p.series, width, height, title=p.title, log_y=p.log_y, x_mode=p.x_mode,
                            x_range=p.x_range, smoothing=p.smoothing, show_raw=p.show_raw,
                            color=color, background=background, grow=p.grow)
    layout = grid_layout(len(panels), width, height, columns)
    page = min(max(0, page), layout.pages - 1)
    shown = panels[page * layout.per_page : (page + 1) * layout.per_page]
    rows = math.ceil(len(shown) / layout.columns)
    grid_h = height - (1 if layout.pages > 1 else 0)
    free = width - _GAP * (layout.columns - 1)
    col_w = [free // layout.columns + (c < free % layout.columns) for c in range(layout.columns)]
    row_h = [grid_h // layout.rows + (r < grid_h % layout.rows) for r in range(layout.rows)]
    out_lines: list[Text] = []
    for r in range(rows):
        cells = [_panel_lines(shown[r * layout.columns + c], col_w[c], row_h[r], color, background)
                 if r * layout.columns + c < len(shown) else [Text(" " * col_w[c])] * row_h[r]
                 for c in range(layout.columns)]
        for y in range(row_h[r]):
            line = Text(no_wrap=True)
            for c, cell in enumerate(cells):
                if c:
                    line.append(" " * _GAP)
                line.append_text(cell[y] if y < len(cell) else Text(" " * col_w[c]))
            out_lines.append(line)
    if layout.pages > 1:
        out_lines.extend(Text() for _ in range(grid_h - len(out_lines)))
        first = page * layout.per_page + 1
        out_lines.append(_page_note(first, first + len(shown) - 1, len(panels), page, layout.pages))
    return _join(out_lines, width, height)


def _panel_lines(
    p: ChartSpec, width: int, height: int, color: bool | None,
    background: tuple[int, int, int] | None,
) -> list[Text]:
    t = render_chart(p.series, width, height, title=p.title, log_y=p.log_y, x_mode=p.x_mode,
                     x_range=p.x_range, smoothing=p.smoothing, show_raw=p.show_raw,
                     color=color, background=background, grow=p.grow)
    return [_fit(line, width) for line in t.split("\n", allow_blank=True)]
