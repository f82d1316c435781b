"""Rich media drawn as terminal text (no Textual here; Rich ``Text`` only).

- images as half-block cells (``▀``: the top pixel is the foreground, the bottom one the
  background), in true colour, 256 colours, or — with ``NO_COLOR`` — as a shade ramp of
  characters; fitted to the space given (aspect kept); a grid for a list of images;
- a confusion matrix as a grid of counts on shaded cells;
- file-like media as one row (kind, format, size, duration / shape, stored path).

The colour mode is chosen from the environment only (``TRACKER_IMAGES``, ``NO_COLOR``,
``COLORTERM``): the terminal is never probed, so a slow link cannot stall the app.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from rich.color import Color, ColorSystem
from rich.style import Style
from rich.text import Text

from tracker.tui.text import sanitize

__all__ = ["color_mode", "confusion_text", "file_row", "grid", "image_text", "shade"]

MODES = ("truecolor", "256", "none")
_RAMP = " .:-=+*#%@"
SHADES = " ░▒▓█"


def color_mode(env: dict[str, str] | None = None) -> str:
    """``truecolor``, ``256`` or ``none`` from ``TRACKER_IMAGES``, ``NO_COLOR``, ``COLORTERM``."""
    env = dict(os.environ) if env is None else env
    forced = env.get("TRACKER_IMAGES", "").lower()
    if forced in MODES:
        return forced
    if "NO_COLOR" in env:
        return "none"
    return "truecolor" if env.get("COLORTERM", "").lower() in ("truecolor", "24bit") else "256"


def _rgb(px: bytes | bytearray, i: int, ch: int) -> tuple[int, int, int]:
    if ch >= 3:
        r, g, b = px[i], px[i + 1], px[i + 2]
        if ch == 4:
            a = px[i + 3]
            return r * a // 255, g * a // 255, b * a // 255
        return r, g, b
    v = px[i] if ch == 1 else px[i] * px[i + 1] // 255
    return v, v, v


def fit(w: int, h: int, max_cols: int, max_rows: int) -> tuple[int, int]:
    """Cell columns and pixel rows (two per text row) that fit ``max_cols`` x ``max_rows``."""
    if w <= 0 or h <= 0 or max_cols <= 0 or max_rows <= 0:
        return 0, 0
    s = min(max_cols / w, 2 * max_rows / h)
    return max(1, min(max_cols, round(w * s))), max(1, min(2 * max_rows, round(h * s)))


def image_text(w: int, h: int, ch: int, px: bytes, max_cols: int, max_rows: int, mode: str = "truecolor") -> Text:
    """The image in at most ``max_cols`` x ``max_rows`` cells (nearest-neighbour sampling)."""
    cols, prows = fit(w, h, max_cols, max_rows)
    out = Text(no_wrap=True, overflow="crop")
    if not cols:
        return out
    xs = [min(w - 1, int((x + 0.5) * w / cols)) for x in range(cols)]
    ys = [min(h - 1, int((y + 0.5) * h / prows)) for y in range(prows)]
    styles: dict[tuple[Any, ...], Style] = {}
    system = ColorSystem.TRUECOLOR if mode == "truecolor" else ColorSystem.EIGHT_BIT
    for row in range(0, prows, 2):
        top = ys[row] * w
        bottom = ys[row + 1] * w if row + 1 < prows else None
        if row:
            out.append("\n")
        for x in xs:
            t = _rgb(px, (top + x) * ch, ch)
            b = _rgb(px, (bottom + x) * ch, ch) if bottom is not None else None
            if mode == "none":
                lum = (sum(t) + (sum(b) if b else sum(t))) / (6 * 255)
                out.append(_RAMP[min(len(_RAMP) - 1, int(lum * len(_RAMP)))])
                continue
            key = (t, b)
            st = styles.get(key)
            if st is None:
                fg = Color.from_rgb(*t).downgrade(system)
                st = styles[key] = Style(color=fg, bgcolor=Color.from_rgb(*b).downgrade(system) if b else None)
            out.append("▀", st)
    return out


def grid(cells: Sequence[Text], widths: int, gap: int = 1) -> Text:
    """Blocks of text side by side (each padded to ``widths`` columns), one grid row per call."""
    blocks = [c.split("\n") for c in cells]
    height = max((len(b) for b in blocks), default=0)
    out = Text(no_wrap=True, overflow="crop")
    for i in range(height):
        if i:
            out.append("\n")
        for j, b in enumerate(blocks):
            line = b[i] if i < len(b) else Text("")
            out.append_text(line)
            pad = widths - line.cell_len + (gap if j < len(blocks) - 1 else 0)
            if pad > 0:
                out.append(" " * pad)
    return out


def shade(frac: float) -> str:
    """A block character for ``frac`` in 0-1 (blank for 0)."""
    if frac <= 0 or math.isnan(frac):
        return SHADES[0]
    return SHADES[max(1, min(len(SHADES) - 1, math.ceil(frac * (len(SHADES) - 1))))]


def confusion_text(table: dict[str, Any], mode: str = "truecolor", max_width: int = 80) -> Text:
    """A confusion matrix (rows ``Actual, Predicted, nPredictions``) as a grid of counts on cells
    shaded by count (rows: actual, columns: predicted)."""
    names: list[str] = []
    counts: dict[tuple[str, str], int] = {}
    for row in table.get("data", []):
        if len(row) < 3:
            continue
        a, p = sanitize(row[0]), sanitize(row[1])
        for name in (a, p):
            if name not in names:
                names.append(name)
        try:
            counts[(a, p)] = counts.get((a, p), 0) + int(row[2])
        except (TypeError, ValueError):
            continue
    top = max(counts.values(), default=0) or 1
    label_w = min(16, max((len(n) for n in names), default=6))
    cell_w = max(4, len(str(top)) + 1)
    fit_n = max(1, (max_width - label_w - 2) // cell_w)
    shown = names[:fit_n]
    out = Text(no_wrap=True, overflow="crop")
    out.append(f"{'actual ↓ predicted →':<{label_w + 1}}"[: label_w + 1], style="dim")
    for name in shown:
        out.append(f"{name[: cell_w - 1]:>{cell_w}}", style="bold")
    for a in shown:
        out.append("\n")
        out.append(f"{a[:label_w]:<{label_w}} ", style="bold")
        for p in shown:
            n = counts.get((a, p), 0)
            frac = n / top
            if mode == "none":
                out.append(f"{shade(frac)}{n:>{cell_w - 1}}")
                continue
            level = int(40 + 180 * frac)
            bg = Color.from_rgb(20, level // 2, level) if n else None
            fg = "bold white" if a == p else "white"
            out.append(f"{n:>{cell_w}}", Style.parse(fg) + Style(bgcolor=bg))
    if len(names) > len(shown):
        out.append(f"\n… {len(names) - len(shown)} more classes (widen the pane)", style="dim")
    return out


def human_size(n: int) -> str:
    """``512 B``, ``1.5 KB``, ``3.2 MB``…"""
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GB"


def file_row(kind: str, meta: dict[str, Any], size: int, path: str | None) -> Text:
    """One line for a stored file: kind, format, size, duration / shape, caption, path."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{kind:<9}", style="bold")
    t.append(f"{sanitize(meta.get('format', '')):<9}")
    t.append(f"{human_size(size):>10}  ")
    bits = []
    if "duration" in meta:
        bits.append(f"{float(meta['duration']):.2f} s")
    if "sample_rate" in meta:
        bits.append(f"{meta['sample_rate']} Hz")
    if "points" in meta:
        bits.append(f"{meta['points']:,} points")
    if "width" in meta and "height" in meta:
        bits.append(f"{meta['width']}x{meta['height']}")
    t.append(", ".join(bits) + ("  " if bits else ""))
    if meta.get("caption"):
        t.append(sanitize(meta["caption"]) + "  ", style="italic")
    if path:
        t.append(sanitize(path), style="dim")
    return t
