"""Drawing parallel coordinates: a braille canvas (2x4 dots per cell) into a Rich ``Text``.

Every string taken from the data goes through :func:`~tracker.tui.text.sanitize` and into
``Text`` objects, never into markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rich.cells import cell_len, get_character_cell_size
from rich.color import Color
from rich.style import Style
from rich.text import Span, Text

from tracker.tui.parcoords.axes import Axis, short_label
from tracker.tui.parcoords.brushes import Brush
from tracker.tui.parcoords.model import ParCoords
from tracker.tui.text import sanitize

_GRADIENT = (196, 202, 208, 214, 220, 226, 190, 154, 118, 82, 46)  # xterm-256: red..green
_GREY = 239  # runs outside the brushes
_NO_METRIC = 110  # runs without a metric value
# braille dot bits by (sub-row, sub-column)
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_BRAILLE = [" "] + [chr(0x2800 + m) for m in range(1, 256)]


@lru_cache(maxsize=4096)
def _shape(dx: int, phase: int, dy: int, stride: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Cells and dot masks of a line from dot ``(1, phase)`` to ``(1 + dx, phase + dy)``.

    Offsets are relative to the cell holding the first dot, in a canvas ``stride`` cells wide.
    Each dot column gets the vertical span the line crosses in it, so steep lines stay joined.
    """
    cells: dict[int, int] = {}
    y_lo, y_hi = (phase, phase + dy) if dy >= 0 else (phase + dy, phase)
    for k in range(dx + 1):
        if dx:
            a = phase + dy * (k - 0.5) / dx
            b = phase + dy * (k + 0.5) / dx
            if a > b:
                a, b = b, a
            t0 = max(y_lo, int(math.floor(a + 0.5)))
            t1 = min(y_hi, int(math.floor(b + 0.5)))
            if t1 < t0:
                t0 = t1 = max(y_lo, min(y_hi, int(math.floor(phase + dy * k / dx + 0.5))))
        else:
            t0, t1 = y_lo, y_hi
        x = 1 + k
        col, bit = x >> 1, x & 1
        for y in range(t0, t1 + 1):
            i = (y >> 2) * stride + col
            cells[i] = cells.get(i, 0) | _DOTS[y & 3][bit]
    return tuple(cells), tuple(cells.values())


class _Grid:
    """Rows of cells (one character and one style each) with wide-character bookkeeping."""

    def __init__(self, width: int, height: int) -> None:
        self.w = width
        self.chars = [[" "] * width for _ in range(height)]
        self.styles: list[list[Style | None]] = [[None] * width for _ in range(height)]

    def set(self, row: int, x: int, ch: str, style: Style | None, w: int = 1) -> bool:
        chars, styles = self.chars[row], self.styles[row]
        if x < 0 or x + w > self.w:
            return False
        if chars[x] == "" and x > 0:  # we cut a wide character in half
            chars[x - 1] = " "
        end = x + w
        if end < self.w and chars[end] == "":
            chars[end] = " "
        for j in range(x + 1, end):
            chars[j], styles[j] = "", style
        chars[x], styles[x] = ch, style
        return True

    def put(self, row: int, x: int, s: str, style: Style | None, limit: int | None = None) -> int:
        """Write ``s`` from cell ``x`` without passing cell ``limit``; return the next cell."""
        limit = self.w if limit is None else min(limit, self.w)
        for ch in s:
            w = get_character_cell_size(ch)
            if w == 0:
                if x > 0 and self.chars[row][x - 1]:
                    self.chars[row][x - 1] += ch
                continue
            if x + w > limit:
                break
            self.set(row, x, ch, style, w)
            x += w
        return x


def _truncate(s: str, width: int) -> str:
    """``s`` cut to ``width`` cells with an ellipsis when it does not fit."""
    if width <= 0:
        return ""
    if cell_len(s) <= width:
        return s
    out, used = [], 0
    for ch in s:
        w = get_character_cell_size(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def _centre(grid: _Grid, row: int, centre: int, start: int, end: int, s: str,
            style: Style | None) -> None:
    s = _truncate(s, max(1, end - start - 1))  # keep a gap between neighbouring labels
    w = cell_len(s)
    x = max(start, min(end - w, centre - w // 2))
    grid.put(row, x, s, style, end)


def _level(p: float, higher_is_better: bool) -> int:
    q = p if higher_is_better else 1.0 - p
    return max(0, min(len(_GRADIENT) - 1, int(q * len(_GRADIENT))))


@dataclass(frozen=True)
class _Rows:
    """Where each part goes, top to bottom; -1 for a part the height has no room for."""

    name: int
    top: int
    plot0: int
    plot: int
    bottom: int
    legend: int


def _rows(height: int) -> _Rows:
    """Short heights drop rows in the order: tick labels, legend, names."""
    if height >= 5:
        return _Rows(0, 1, 2, height - 4, height - 2, height - 1)
    if height == 1:
        return _Rows(-1, -1, 0, 1, -1, -1)
    legend = height - 1 if height >= 3 else -1
    return _Rows(0, -1, 1, height - 1 - (legend >= 0), -1, legend)


@dataclass(frozen=True)
class _Frame:
    """The plot's geometry: axis columns, label slots and the braille rows."""

    width: int
    xs: list[int]
    slots: list[tuple[int, int]]
    data_rows: int
    missing_row: bool

    @property
    def y_missing(self) -> int | None:
        """The dot row of the "missing" row, if there is one."""
        return 4 * self.data_rows + 1 if self.missing_row else None

    def ysub(self, p: float) -> int:
        """The dot row of axis position ``p`` (0 bottom .. 1 top)."""
        return int((1.0 - p) * (4 * self.data_rows - 1) + 0.5)

    def label_end(self, i: int) -> int:
        """Where labels right of axis ``i`` must stop: the next axis, or the edge."""
        return self.xs[i + 1] if i + 1 < len(self.xs) else self.width


def _frame(axes: list[Axis], width: int, rows: int) -> _Frame:
    n = len(axes)
    missing_row = any(a.has_missing for a in axes) and rows >= 2
    return _Frame(width, [int((i + 0.5) * width / n) for i in range(n)],
                  [(int(i * width / n), int((i + 1) * width / n)) for i in range(n)],
                  rows - (1 if missing_row else 0), missing_row)


def render(pc: ParCoords, width: int, height: int, *, color: bool = True) -> Text:
    """Draw the parallel-coordinates plot.

    Layout, top to bottom: axis names (current one reversed), top tick labels (max / top
    category), the plot (braille lines, axes, brushes as ``█`` on their axis, the cursor as
    ``◆``, category names beside their axis, a last "missing" row when some run lacks a value),
    bottom tick labels, and a legend (metric colour scale, selected count, cursor bucket).
    Short heights drop rows in the order: tick labels, legend, names.

    Args:
        pc: The state to draw.
        width: Cells per line.
        height: Number of lines.
        color: Use colour. Without it runs outside the brushes are hidden, so that the
            selection stays visible.

    Returns:
        A no-wrap ``Text`` of exactly ``height`` lines (none if ``height < 1``), each at most
        ``width`` cells.
    """
    if height < 1:
        return Text("", no_wrap=True, overflow="crop", end="")
    width = max(0, width)
    grid = _Grid(width, height)
    if width == 0:
        return _to_text(grid)
    rows = _rows(height)
    sty = _Styles(color)
    if not pc.axes:
        if rows.plot:
            grid.put(rows.plot0 + (rows.plot - 1) // 2, 0, _truncate("no axes to show", width), sty.dim)
        return _to_text(grid)
    frame = _frame(pc.axes, width, rows.plot)
    mask_sel = pc.selected_mask()
    hide = bool(pc.brushes) and (not pc.show_unselected or not color)
    classes = _run_classes(pc, mask_sel)
    masks, cols = _rasterize(_segments(pc, frame, classes, hide), frame, rows.plot)
    _paint_lines(grid, rows, masks, cols, sty)
    for i in range(len(pc.axes)):
        _draw_axis(grid, pc, i, frame, rows, sty)
        _draw_axis_labels(grid, pc, i, frame, rows, sty)
    if rows.legend >= 0:
        _legend(grid, rows.legend, pc, sty, sum(mask_sel), bool(pc.brushes))
    return _to_text(grid)


def _run_classes(pc: ParCoords, mask_sel: list[bool]) -> list[int]:
    """Colour class per run: 0 unselected, 1 no metric, 2.. gradient levels (best drawn last)."""
    metric_pos = pc.positions[-1] if pc.metric_axis is not None else [None] * len(pc.runs)
    classes: list[int] = []
    for r in range(len(pc.runs)):
        p = metric_pos[r]
        if not mask_sel[r]:
            classes.append(0)
        elif p is None:
            classes.append(1)
        else:
            classes.append(2 + _level(p, pc.higher_is_better))
    return classes


def _segments(pc: ParCoords, frame: _Frame, classes: list[int],
              hide: bool) -> dict[int, set[tuple[int, int, int]]]:
    """Per colour class, the distinct ``(axis, y0, y1)`` segments to draw (dot rows)."""
    n = len(pc.axes)
    yv = [[frame.y_missing if p is None else frame.ysub(p) for p in pos] for pos in pc.positions]
    segs: dict[int, set[tuple[int, int, int]]] = {}
    for r, c in enumerate(classes):
        if c == 0 and hide:
            continue
        bucket = segs.setdefault(c, set())
        if n == 1:
            y = yv[0][r]
            if y is not None:
                bucket.add((0, y, y))
            continue
        for a in range(n - 1):
            y0, y1 = yv[a][r], yv[a + 1][r]
            if y0 is not None and y1 is not None:
                bucket.add((a, y0, y1))
    return segs


def _rasterize(segs: dict[int, set[tuple[int, int, int]]], frame: _Frame,
               rows: int) -> tuple[list[int], list[int]]:
    """Braille dot masks and colour classes per plot cell; later classes draw over earlier."""
    W, xs, n = frame.width, frame.xs, len(frame.xs)
    masks = [0] * (W * rows)
    cols = [0] * (W * rows)
    dxs = [2 * (xs[a + 1] - xs[a]) - 1 for a in range(n - 1)]
    for c in sorted(segs):
        for a, y0, y1 in segs[c]:
            if n == 1:  # a short tick either side of the lone axis
                row_base = (y0 >> 2) * W
                bits = _DOTS[y0 & 3][0] | _DOTS[y0 & 3][1]
                for x in (xs[0] - 1, xs[0] + 1):
                    if 0 <= x < W:
                        masks[row_base + x] |= bits
                        cols[row_base + x] = c
                continue
            dx = dxs[a]
            if dx < 1:
                continue
            offs, ms = _shape(dx, y0 & 3, y1 - y0, W)
            base = (y0 >> 2) * W + xs[a]
            for off, m in zip(offs, ms):
                masks[base + off] |= m
                cols[base + off] = c
    return masks, cols


def _paint_lines(grid: _Grid, rows: _Rows, masks: list[int], cols: list[int], sty: _Styles) -> None:
    W = grid.w
    run_styles = sty.classes
    for row in range(rows.plot):
        chars, styles = grid.chars[rows.plot0 + row], grid.styles[rows.plot0 + row]
        o = row * W
        for x in range(W):
            m = masks[o + x]
            if m:
                chars[x] = _BRAILLE[m]
                styles[x] = run_styles[cols[o + x]]


def _draw_axis(grid: _Grid, pc: ParCoords, i: int, frame: _Frame, rows: _Rows, sty: _Styles) -> None:
    """Axis ``i`` in the plot: its line, missing slot, category labels, brush and cursor."""
    axis, x, top = pc.axes[i], frame.xs[i], rows.plot0
    is_cur = i == pc.current
    glyph_style = sty.axis_cur if is_cur else sty.axis
    for row in range(frame.data_rows):
        grid.set(top + row, x, "┃" if is_cur else "│", glyph_style)
    if frame.missing_row and axis.has_missing:
        grid.set(top + frame.data_rows, x, "╎", glyph_style)
        grid.put(top + frame.data_rows, x + 1, "n/a", sty.label, frame.label_end(i))
    if _inline_categories(axis, frame):
        s0, s1 = frame.slots[i]
        limit = min(frame.label_end(i), x + 1 + max(3, (s1 - s0) // 2))
        ncat = len(axis.categories)
        for k, label in enumerate(axis.labels):
            row = frame.ysub((k + 0.5) / ncat) >> 2
            on_cursor = is_cur and pc.cursors[i] == k
            grid.put(top + row, x + 1, label, sty.label_cur if on_cursor else sty.label, limit)
    b = pc.brushes.get(axis.key)
    if b is not None and axis.steps:
        for row in _brush_rows(axis, b, frame.ysub, frame.data_rows):
            grid.set(top + row, x, "█", sty.brush)
    if is_cur and axis.steps:
        p = (pc.cursors[i] + 0.5) / axis.steps
        grid.set(top + min(frame.data_rows - 1, frame.ysub(p) >> 2), x, "◆", sty.cursor)


def _inline_categories(axis: Axis, frame: _Frame) -> bool:
    """Whether a categorical axis has room to name every category beside it."""
    return axis.kind == "categorical" and 0 < len(axis.categories) <= frame.data_rows


def _draw_axis_labels(grid: _Grid, pc: ParCoords, i: int, frame: _Frame, rows: _Rows,
                      sty: _Styles) -> None:
    """Axis ``i``'s tick labels (above and below the plot) and its name."""
    axis, x = pc.axes[i], frame.xs[i]
    s0, s1 = frame.slots[i]
    if rows.top >= 0 and not axis.empty:
        if axis.numeric:
            assert axis.lo is not None and axis.hi is not None
            top, bottom = short_label(axis.hi), short_label(axis.lo)
            if axis.kind == "log":
                bottom += " log" if cell_len(bottom) + 4 < s1 - s0 else ""
        elif _inline_categories(axis, frame):
            top, bottom = "", ""
        else:
            top, bottom = axis.labels[-1], axis.labels[0]
        _centre(grid, rows.top, x, s0, s1, top, sty.tick)
        _centre(grid, rows.bottom, x, s0, s1, bottom, sty.tick)
    if rows.name >= 0:
        is_cur = i == pc.current
        _centre(grid, rows.name, x, s0, s1, sanitize(axis.key), sty.name_cur if is_cur else sty.name)


def _brush_rows(axis: Axis, b: Brush, ysub: Callable[[float], int], data_rows: int) -> Iterable[int]:
    if axis.kind == "categorical":
        ncat = len(axis.categories)
        rows: set[int] = set()
        for c in b.categories or ():
            k = axis.category_index(c)
            if k is None:
                continue
            top = ysub((k + 1) / ncat) >> 2
            bot = ysub(k / ncat) >> 2
            centre = ysub((k + 0.5) / ncat) >> 2
            # a category's band, without the rows it shares with its neighbours
            band = {r for r in range(top + 1, bot)} | {centre}
            rows |= band
        return sorted(r for r in rows if 0 <= r < data_rows)
    assert b.lo is not None and b.hi is not None
    top = ysub(axis.to_pos(b.hi)) >> 2
    bot = ysub(axis.to_pos(b.lo)) >> 2
    return range(max(0, top), min(data_rows - 1, bot) + 1)


def _legend(grid: _Grid, row: int, pc: ParCoords, sty: _Styles, n_sel: int, brushed: bool) -> None:
    x = 0
    m = pc.metric_axis
    if m is not None:
        x = grid.put(row, x, _truncate(sanitize(m.key), 20) + " ", sty.legend)
        if m.empty:
            x = grid.put(row, x, "no values", sty.dim)
        else:
            lo = short_label(m.lo) if m.numeric else m.labels[0]  # type: ignore[arg-type]
            hi = short_label(m.hi) if m.numeric else m.labels[-1]  # type: ignore[arg-type]
            x = grid.put(row, x, _truncate(lo, 12) + " ", sty.legend)
            for k in range(len(_GRADIENT)):
                level = k if pc.higher_is_better else len(_GRADIENT) - 1 - k
                ch = "█" if sty.color else "░▒▓█"[min(3, k * 4 // len(_GRADIENT))]
                x = grid.put(row, x, ch, sty.classes[2 + level])
            x = grid.put(row, x, " " + _truncate(hi, 12), sty.legend)
            if m.kind == "log":
                x = grid.put(row, x, " log", sty.dim)
    total = len(pc.runs)
    count = f"{n_sel}/{total} selected" if brushed else f"{total} run{'s' * (total != 1)}"
    x = grid.put(row, x, (" │ " if x else "") + count, sty.legend)
    axis = pc.current_axis
    if axis is not None:
        grid.put(row, x, f" │ ◆ {_truncate(sanitize(axis.key), 16)}: {pc.cursor_label()}", sty.legend)


class _Styles:
    """The styles of one render (colourless ones keep bold/reverse only)."""

    def __init__(self, color: bool) -> None:
        self.color = color

        def c(n: int, **kw: Any) -> Style | None:
            if color:
                return Style(color=Color.from_ansi(n), **kw)
            return Style(**kw) if kw else None

        self.classes: list[Style | None] = [c(_GREY), c(_NO_METRIC)] + [c(n) for n in _GRADIENT]
        self.axis = c(244)
        self.axis_cur = c(231, bold=True)
        self.brush = c(51, bold=True)
        self.cursor = Style(color=Color.from_ansi(226), bold=True, reverse=True) if color \
            else Style(bold=True, reverse=True)
        self.label = c(250)
        self.label_cur = Style(bold=True, reverse=True)
        self.tick = c(246)
        self.name = Style(bold=True)
        self.name_cur = Style(bold=True, reverse=True)
        self.legend = c(250)
        self.dim = c(242)


def _to_text(grid: _Grid) -> Text:
    """Join the grid into one ``Text``: plain string plus one span per run of equal style."""
    parts: list[str] = []
    spans: list[Span] = []
    pos = 0
    for r, (chars, styles) in enumerate(zip(grid.chars, grid.styles)):
        if r:
            parts.append("\n")
            pos += 1
        start = 0
        cur = styles[0] if styles else None
        for x in range(1, len(chars) + 1):
            if x == len(chars) or styles[x] is not cur:
                s = "".join(chars[start:x])
                if cur is not None and s:
                    spans.append(Span(pos, pos + len(s), cur))
                parts.append(s)
                pos += len(s)
                if x < len(chars):
                    start, cur = x, styles[x]
    return Text("".join(parts), spans=spans, no_wrap=True, overflow="crop", end="")
