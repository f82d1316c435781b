"""Drawing: a ``ChartData`` as plotext canvas lines, framed by a title, legend and notes.

* plotext draws into one module-level figure, so the draw step is serialised by ``_PLOT_LOCK``
  (renders may run in worker threads); data preparation (``series``) runs outside the lock.
* Labels and titles are untrusted (run and metric names): they go through
  ``tracker.tui.text.sanitize`` and into ``Text`` objects, never into markup or into plotext.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence

import plotext as plt
from rich.color import Color
from rich.style import Style
from rich.text import Text

from tracker.tui.charts.raster import HD_GLYPHS, hd_cells
from tracker.tui.charts.series import ChartData, Series, Trace, _finite_range, chart_data
from tracker.tui.charts.ticks import fmt_duration, fmt_num, nice_step, x_ticks, y_ticks
from tracker.tui.text import sanitize

__all__ = ["PALETTE", "render_chart"]

_MIN_PLOT_WIDTH = 16
_MIN_PLOT_HEIGHT = 4  # frame top + one row + frame bottom + x tick labels

# Distinct on dark and light backgrounds; index = Series.color_index modulo the length.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (78, 154, 255),  # blue
    (255, 140, 50),  # orange
    (80, 200, 120),  # green
    (235, 80, 90),  # red
    (180, 120, 250),  # purple
    (230, 200, 60),  # yellow
    (60, 210, 210),  # cyan
    (240, 120, 200),  # pink
    (170, 220, 80),  # lime
    (150, 110, 70),  # brown
    (100, 120, 240),  # indigo
    (160, 160, 160),  # grey
)
# Without colour each series gets its own glyph; "hd" is plotext's quarter-block line.
_MONO_MARKERS = ("hd", "+", "x", "o", "*", "#", "%", "@", "=", "~", "&", "$")
# Skipped points: +Inf/huge at the top edge; -Inf/huge, ≤ 0 on a log axis, and NaN at the bottom.
_MARK_GLYPH = {1: "▲", -1: "▼", 0: "×"}

_PLOT_LOCK = threading.Lock()


def _color_enabled(color: bool | None) -> bool:
    if color is not None:
        return color
    return not os.environ.get("NO_COLOR")


def _rgb(color_index: int) -> tuple[int, int, int]:
    return PALETTE[color_index % len(PALETTE)]


def _faint(
    rgb: tuple[int, int, int], background: tuple[int, int, int] | None
) -> tuple[int, int, int]:
    """Halfway to the background: a raw line under its smoothed one, on dark or light themes."""
    bg = background or (128, 128, 128)
    return (
        (rgb[0] + bg[0]) // 2,
        (rgb[1] + bg[1]) // 2,
        (rgb[2] + bg[2]) // 2,
    )


def _marker(color_index: int, color: bool) -> str:
    if color:
        cycle = color_index // len(PALETTE)
        return "hd" if cycle == 0 else _MONO_MARKERS[cycle % len(_MONO_MARKERS)]
    return _MONO_MARKERS[color_index % len(_MONO_MARKERS)]


def _glyph(color_index: int, color: bool) -> str:
    m = _marker(color_index, color)
    if m == "hd":
        return "■" if color else "▞"
    return m


def _axis_rgb(background: tuple[int, int, int] | None) -> tuple[int, int, int]:
    """Frame and tick labels: a muted grey readable on the background (dark or light)."""
    if background is None:
        return (150, 150, 150)
    light = sum(background) / 3 > 128
    return (95, 95, 95) if light else (165, 165, 165)


_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def _sgr_style(params: str, cache: dict[str, Style | None]) -> Style | None:
    """The style an SGR sequence from plotext selects (reset, 24-bit foreground/background)."""
    if params in cache:
        return cache[params]
    codes = params.split(";") if params else ["0"]
    color = bgcolor = None
    i = 0
    while i < len(codes):
        code = codes[i]
        if code in ("38", "48") and i + 4 < len(codes) and codes[i + 1] == "2":
            rgb = Color.from_rgb(*(int(c) for c in codes[i + 2 : i + 5]))
            color, bgcolor = (rgb, bgcolor) if code == "38" else (color, rgb)
            i += 5
        elif code in ("0", ""):
            color = bgcolor = None
            i += 1
        else:
            raise ValueError(f"unexpected SGR {params!r}")
    style = Style(color=color, bgcolor=bgcolor) if color or bgcolor else None
    cache[params] = style
    return style


def _ansi_lines(canvas: str) -> list[Text]:
    """plotext's canvas as ``Text`` lines.

    plotext writes only resets and 24-bit colours, so a regex split does what
    ``Text.from_ansi`` does at a fraction of the cost (it was 1/8 of a 10-run chart); anything
    else falls back to Rich's decoder.
    """
    cache: dict[str, Style | None] = {}
    out: list[Text] = []
    try:
        for raw in canvas.split("\n"):
            line = Text(no_wrap=True)
            style: Style | None = None
            pos = 0
            for m in _SGR.finditer(raw):
                if m.start() > pos:
                    line.append(raw[pos : m.start()], style)
                style = _sgr_style(m.group(1), cache)
                pos = m.end()
            if pos < len(raw):
                line.append(raw[pos:], style)
            out.append(line)
    except ValueError:
        return list(Text.from_ansi(canvas).split("\n", allow_blank=True))
    return out


def _edge_marks(data: ChartData, plot_cols: int) -> dict[tuple[int, int], int]:
    """(column, kind) -> series index of the skipped points to mark: one glyph per cell."""
    assert data.x_lim is not None
    x_lo, x_hi = data.x_lim
    marks: dict[tuple[int, int], int] = {}
    for i, x, k in data.marks:
        col = int((x - x_lo) / (x_hi - x_lo) * plot_cols) if x_hi > x_lo else 0
        marks.setdefault((col, k), i)
    return marks


def _plot_traces(data: ChartData, color: bool, background: tuple[int, int, int] | None) -> None:
    """Hand the traces to plotext: raw ones faint (or as dots) under their smoothed lines."""
    smoothing = any(t.smoothed for t in data.traces)
    for t in data.traces:
        rgb = _rgb(t.color_index)
        marker = _marker(t.color_index, color)
        if t.smoothed or not smoothing:
            plt.plot(t.xs, t.ys, marker=marker, color=rgb)
        elif color:  # raw under a smoothed line: same glyphs, faint colour
            plt.plot(t.xs, t.ys, marker=marker, color=_faint(rgb, background))
        else:  # no colour to fade with: raw values as sparse dots, no connecting lines
            plt.scatter(t.xs, t.ys, marker="·")


def _trace_rgb(
    data: ChartData, t: Trace, background: tuple[int, int, int] | None
) -> tuple[int, int, int]:
    """A trace's colour: its run's, faint for raw values under a smoothed line."""
    rgb = _rgb(t.color_index)
    if not t.smoothed and any(u.smoothed for u in data.traces):
        return _faint(rgb, background)
    return rgb


def _fast_lines(data: ChartData, color: bool) -> bool:
    """Draw the traces with ``raster`` (colour, every trace a quarter-block line)."""
    return color and all(_marker(t.color_index, color) == "hd" for t in data.traces)


def _overlay(
    lines: list[Text], data: ChartData, background: tuple[int, int, int] | None
) -> list[Text]:
    """Write the traces' cells into the blank cells of a canvas plotext drew without them.

    Later traces cover earlier ones cell by cell, as in plotext; what plotext drew inside the
    frame (skipped-point marks) stays on top.
    """
    assert data.x_lim is not None and data.y_lim is not None
    top = lines[0].plain if lines else ""
    left, right = top.find("┌"), top.find("┐")
    bottom = next((r for r, line in enumerate(lines) if "└" in line.plain), -1)
    if left < 0 or right <= left + 1 or bottom < 2:
        return lines
    cols, rows = right - left - 1, bottom - 1
    cells: dict[tuple[int, int], tuple[str, Style]] = {}
    for t in data.traces:
        style = Style(color=Color.from_rgb(*_trace_rgb(data, t, background)))
        for cell, mask in hd_cells(t.xs, t.ys, data.x_lim, data.y_lim, cols, rows).items():
            cells[cell] = (HD_GLYPHS[mask], style)
    by_row: dict[int, dict[int, tuple[str, Style]]] = {}
    for (cx, cy), v in cells.items():
        by_row.setdefault(rows - cy, {})[left + 1 + cx] = v
    out = list(lines)
    for r, row_cells in by_row.items():
        out[r] = _splice(lines[r], row_cells)
    return out


def _splice(line: Text, cells: dict[int, tuple[str, Style]]) -> Text:
    """``line`` with the given columns replaced where it is blank."""
    plain = line.plain
    chars = list(plain)
    styles: list[Style | str | None] = [None] * len(chars)
    for span in line.spans:
        styles[span.start : span.end] = [span.style] * (span.end - span.start)
    for col, (ch, style) in cells.items():
        if col < len(chars) and chars[col] == " ":
            chars[col] = ch
            styles[col] = style
    out = Text(no_wrap=True)
    start = 0
    for i in range(1, len(chars) + 1):
        if i == len(chars) or styles[i] != styles[start]:
            out.append("".join(chars[start:i]), styles[start])
            start = i
    return out


def _plot_lines(
    data: ChartData,
    width: int,
    height: int,
    *,
    x_mode: str,
    log_y: bool,
    color: bool,
    background: tuple[int, int, int] | None,
    colors: Sequence[int],
) -> list[Text]:
    """Draw the traces with plotext (under the lock) and return its lines as ``Text``."""
    assert data.x_lim is not None and data.y_lim is not None
    x_lo, x_hi = data.x_lim
    y_lo, y_hi = data.y_lim
    xt, xl = x_ticks(x_lo, x_hi, x_mode, width)
    yt, yl = y_ticks(y_lo, y_hi, log_y, height)
    plot_cols = max(1, width - max((len(s) for s in yl), default=1) - 2)
    marks = _edge_marks(data, plot_cols)
    with _PLOT_LOCK:
        plt.clf()
        plt.limit_size(False, False)
        plt.plotsize(width, height)
        plt.theme("clear")
        if color:  # its own colour, so the frame is never one run of text with the blank cells
            plt.ticks_color(_axis_rgb(background))
        fast = _fast_lines(data, color)
        if fast:  # one blank point: plotext draws axes and ticks only for a figure with data
            plt.scatter([x_lo], [y_lo], marker=" ")
        else:
            _plot_traces(data, color, background)
        for (col, k), i in marks.items():
            x = x_lo + (col + 0.5) / plot_cols * (x_hi - x_lo) if x_hi > x_lo else x_lo
            y = y_hi if k == 1 else y_lo
            plt.scatter([min(max(x, x_lo), x_hi)], [y], marker=_MARK_GLYPH[k],
                        color=_rgb(colors[i] if i < len(colors) else i))
        plt.xlim(x_lo, x_hi)
        plt.ylim(y_lo, y_hi)
        plt.xticks(xt, xl)
        plt.yticks(yt, yl)
        canvas = plt.build()
        plt.clf()  # drop references to the data
    if fast:
        lines = _overlay(_ansi_lines(canvas), data, background)
    elif color:
        lines = _ansi_lines(canvas)
    else:
        lines = list(Text(plt.uncolorize(canvas)).split("\n", allow_blank=True))
    return lines[:height]


def _empty_box(width: int, height: int, message: str) -> list[Text]:
    if height <= 0:
        return []
    if height == 1 or width < 4:
        return [Text(message, style="dim")]
    inner = width - 2
    lines = [Text("┌" + "─" * inner + "┐")]
    for r in range(height - 2):
        if r == (height - 2) // 2:
            msg = message[:inner]
            left = (inner - len(msg)) // 2
            line = Text("│" + " " * left)
            line.append(msg, style="dim")
            line.append(" " * (inner - left - len(msg)) + "│")
            lines.append(line)
        else:
            lines.append(Text("│" + " " * inner + "│"))
    lines.append(Text("└" + "─" * inner + "┘"))
    return lines[:height]


def _legend(series: Sequence[Series], width: int, max_lines: int, color: bool) -> list[Text]:
    """Legend entries ("■ label") flowed into at most ``max_lines`` lines of ``width`` cells.

    Labels are sanitised and truncated (more room each when there are few runs); entries that
    don't fit are summarised as "+N more" at the end of the last line.
    """
    if not series or max_lines <= 0 or width <= 0:
        return []
    cap = max(6, min(48, width // min(len(series), 4) - 3))
    entries = []
    for s in series:
        entry = Text(no_wrap=True)
        style = Style(color=Color.from_rgb(*_rgb(s.color_index))) if color else None
        entry.append(_glyph(s.color_index, color) + " ", style=style)
        label = Text(sanitize(s.label) or "(unnamed)")
        label.truncate(min(cap, max(1, width - 2)), overflow="ellipsis")
        entry.append_text(label)
        entries.append(entry)

    def used(row: list[Text]) -> int:
        return sum(e.cell_len for e in row) + 2 * max(0, len(row) - 1)

    rows: list[list[Text]] = [[]]
    for n, entry in enumerate(entries):
        row = rows[-1]
        if not row or used(row) + 2 + entry.cell_len <= width:
            row.append(entry)
        elif len(rows) < max_lines:
            rows.append([entry])
        else:
            rest = len(entries) - n
            while row and used(row) + 2 + len(f"+{rest} more") > width:
                row.pop()
                rest += 1
            row.append(Text(f"+{rest} more", style="dim"))
            break
    return [Text("  ", no_wrap=True).join(row) for row in rows]


def _fit(line: Text, width: int) -> Text:
    line = line.copy()
    line.no_wrap = True
    line.truncate(width, overflow="ellipsis", pad=True)
    return line


def _options_text(
    x_mode: str, log_y: bool, smoothing: float, x_range: tuple[float, float] | None
) -> str:
    """The dim summary on the title line: "step · log · ema 0.60 · 100…200"."""
    parts = [x_mode]
    if log_y:
        parts.append("log")
    if smoothing > 0:
        parts.append(f"ema {smoothing:.2f}")
    if x_range is not None:
        step = nice_step(x_range[1] - x_range[0], 10) if x_range[1] > x_range[0] else 1.0
        if x_mode == "step":
            parts.append(f"{fmt_num(x_range[0], step)}…{fmt_num(x_range[1], step)}")
        elif x_mode == "relative":
            parts.append(f"{fmt_duration(x_range[0])}…{fmt_duration(x_range[1])}")
        else:
            parts.append("zoom")
    return " · ".join(parts)


def _note_text(data: ChartData) -> str:
    parts = []
    if data.nonfinite:
        s = "" if data.nonfinite == 1 else "s"
        parts.append(f"{data.nonfinite:,} non-finite point{s} skipped (▲ ▼ ×)")
    if data.nonpositive:
        s = "" if data.nonpositive == 1 else "s"
        parts.append(f"{data.nonpositive:,} non-positive point{s} skipped (log-y)")
    if data.no_x:
        s = "" if data.no_x == 1 else "s"
        parts.append(f"{data.no_x} series without wall time")
    return " · ".join(parts)


def _header(title: str, options: str, width: int) -> Text:
    """The title line: the metric name (bold, truncated) and the dim options at the right."""
    head = Text(no_wrap=True)
    opts = Text(options, style="dim")
    room = width - opts.cell_len - 2
    if title and room >= 4:
        t = Text(sanitize(title), style="bold")
        t.truncate(room, overflow="ellipsis")
        head.append_text(t)
    elif title:
        head.append_text(Text(sanitize(title), style="bold"))
        opts = Text()
    gap = width - head.cell_len - opts.cell_len
    head.append(" " * max(1, gap))
    head.append_text(opts)
    return head


def _empty_message(series: Sequence[Series], data: ChartData, zoomed: bool) -> str:
    """Why there is nothing to draw, in the frame's words."""
    if not any(len(s.ys) for s in series):
        return "no data"
    if zoomed:
        return "no data in x range"
    if data.nonfinite:
        return "no finite values"
    if data.no_x:
        return "no wall-time data"
    if data.nonpositive:
        return "no positive values (log-y)"
    return "no data"


def _join(lines: list[Text], width: int, height: int) -> Text:
    """Exactly ``height`` lines of at most ``width`` cells, as one ``Text``."""
    lines = lines[:height]
    lines.extend(Text() for _ in range(height - len(lines)))
    out = Text("\n", no_wrap=True, overflow="crop").join(_fit(line, width) for line in lines)
    out.no_wrap = True
    out.overflow = "crop"
    return out


def render_chart(
    series: Sequence[Series],
    width: int,
    height: int,
    *,
    title: str = "",
    log_y: bool = False,
    x_mode: str = "step",
    x_range: tuple[float, float] | None = None,
    smoothing: float = 0.0,
    show_raw: bool = True,
    color: bool | None = None,
    background: tuple[int, int, int] | None = None,
    grow: bool = False,
) -> Text:
    """Draw one metric's runs as a line chart with a title line, legend and notes.

    Layout, top to bottom: title + options (when room), the plotext canvas, the legend
    (wrapping to a few lines, "+N more" beyond), and a note counting skipped points. Never
    raises on data; a plotext failure becomes a message in the frame.

    Args:
        series: Runs to overlay (distinct colours by ``color_index``).
        width: Cells available; no output line is wider.
        height: Lines available; the output has exactly this many lines (≥ 1).
        title: Metric name shown above the plot (untrusted; shown literally).
        log_y: Logarithmic y axis.
        x_mode: ``"step"``, ``"time"`` (wall clock) or ``"relative"`` (seconds since each run's
            first point).
        x_range: Zoom window in ``x_mode`` units, or None for all data.
        smoothing: TensorBoard EMA weight 0–0.999; with ``show_raw`` the raw line is drawn faint.
        show_raw: Draw raw values under the smoothed line.
        color: Draw in colour; None means "unless NO_COLOR is set". Without colour, each series
            gets its own marker glyph.
        background: Background RGB used to make faint lines and the frame's grey (default: mid
            grey).
        grow: Live data: axes that grow in steps (see ``chart_data``).

    Returns:
        A ``Text`` of ``height`` lines, each at most ``width`` cells.
    """
    width = max(1, int(width))
    height = max(1, int(height))
    use_color = _color_enabled(color)
    window = _finite_range(x_range)
    data = chart_data(series, buckets=width, log_y=log_y, x_mode=x_mode, x_range=window,
                      smoothing=smoothing, show_raw=show_raw, grow=grow)
    options = _options_text(x_mode, log_y, smoothing if smoothing == smoothing else 0.0, window)
    note = _note_text(data)
    header = 1 if height >= 6 else 0
    note_lines = 1 if note and height >= 2 else 0
    max_legend = 1 if height < 14 else 2 if height < 24 else 3
    legend = _legend(series, width, max_legend, use_color)
    plot_h = height - header - note_lines - len(legend)
    if plot_h < _MIN_PLOT_HEIGHT and len(legend) > 1:
        legend = _legend(series, width, 1, use_color)
        plot_h = height - header - note_lines - len(legend)
    if plot_h < _MIN_PLOT_HEIGHT and header:
        header, plot_h = 0, plot_h + 1

    lines: list[Text] = [_header(title, options, width)] if header else []
    if plot_h >= _MIN_PLOT_HEIGHT and width >= _MIN_PLOT_WIDTH:
        if data.x_lim is None or data.y_lim is None:
            lines.extend(_empty_box(width, plot_h, _empty_message(series, data, window is not None)))
        else:
            try:
                lines.extend(_plot_lines(data, width, plot_h, x_mode=x_mode, log_y=log_y,
                                         color=use_color, background=background,
                                         colors=[s.color_index for s in series]))
            except Exception as exc:  # plotext internals: the chart must never take the UI down
                lines.extend(_empty_box(width, plot_h, f"plot failed: {type(exc).__name__}"))
    lines.extend(legend)
    if note_lines:
        lines.append(Text(note, style="yellow" if use_color else "bold"))
    return _join(lines, width, height)
