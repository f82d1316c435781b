"""Histograms over steps, computed from stored bin counts (no samples needed):

- TensorBoard's "distributions": per step the min, the percentiles at ±1σ and ±2σ of a normal
  (2.3 %, 15.9 %, 84.1 %, 97.7 %), the median and the max — drawn as filled bands (the cells
  between min and max, ±2σ and ±1σ shaded lighter to darker, the median solid), with the median
  as a line for the chart renderer;
- a step x value heat map in shaded blocks (each step's column normalised to its own peak);
- one step as vertical bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from tracker.tui.media.render import SHADES, shade

__all__ = ["BANDS", "bands_text", "bars_text", "distribution", "heatmap_text", "percentile", "quantiles"]

#: Label and quantile of each distribution line, lowest first.
BANDS: tuple[tuple[str, float], ...] = (("min", 0.0), ("-2σ", 0.0228), ("-1σ", 0.1587), ("median", 0.5),
                                        ("+1σ", 0.8413), ("+2σ", 0.9772), ("max", 1.0))
_EIGHTHS = " ▁▂▃▄▅▆▇█"


def percentile(bins: Sequence[float], counts: Sequence[int], q: float) -> float:
    """The value below which ``q`` of the counted values lie, interpolated inside its bin."""
    total = sum(counts)
    if total <= 0:
        return float("nan")
    if q <= 0:
        first = next(i for i, c in enumerate(counts) if c > 0)
        return float(bins[first])
    if q >= 1:
        last = max(i for i, c in enumerate(counts) if c > 0)
        return float(bins[last + 1])
    target = q * total
    seen = 0.0
    for i, c in enumerate(counts):
        if c and seen + c >= target:
            frac = (target - seen) / c
            return float(bins[i] + frac * (bins[i + 1] - bins[i]))
        seen += c
    return float(bins[-1])


def quantiles(bins: Sequence[float], counts: Sequence[int], qs: Sequence[float]) -> list[float]:
    """:func:`percentile` for several increasing ``qs`` in one pass over the bins."""
    total = sum(counts)
    if total <= 0:
        return [float("nan")] * len(qs)
    out: list[float] = []
    seen = 0.0
    i, n = 0, len(counts)
    for q in qs:
        if q <= 0 or q >= 1:
            out.append(percentile(bins, counts, q))
            continue
        target = q * total
        while i < n and (not counts[i] or seen + counts[i] < target):
            seen += counts[i]
            i += 1
        if i == n:
            out.append(float(bins[-1]))
            continue
        c = counts[i]
        out.append(float(bins[i] + (target - seen) / c * (bins[i + 1] - bins[i])))
    return out


def distribution(items: Sequence[tuple[int, dict[str, Any]]]) -> dict[str, tuple[list[float], list[float]]]:
    """``label -> (steps, values)`` for each band, from ``(step, {"bins", "counts"})`` pairs."""
    out: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label, _ in BANDS}
    qs = [q for _, q in BANDS]
    lines = [out[label] for label, _ in BANDS]
    for step, d in items:
        bins, counts = d.get("bins") or [], d.get("counts") or []
        if len(bins) != len(counts) + 1 or not sum(counts):
            continue
        for (xs, ys), v in zip(lines, quantiles(bins, counts, qs)):
            xs.append(float(step))
            ys.append(v)
    return out


#: Fill of a cell by the innermost band it lies in: outside, min-max, ±2σ, ±1σ, the median.
BAND_FILL = (" ", "░", "▒", "▓", "█")
_BAND_STYLE = ("", "blue", "blue", "cyan", "bold yellow")


def _band_cells(vals: list[float], lo: float, step: float, rows: int) -> list[int]:
    """Per row (bottom first) the innermost band covering it, for one step's 7 band values."""
    mn, m2, m1, med, p1, p2, mx = vals
    out = []
    for y in range(rows):
        a, b = lo + y * step, lo + (y + 1) * step
        level = 0
        for k, (x0, x1) in enumerate(((mn, mx), (m2, p2), (m1, p1)), start=1):
            if x0 < b and x1 >= a:
                level = k
        out.append(level)
    out[min(rows - 1, max(0, int((med - lo) / step)))] = 4
    return out


def bands_text(dist: dict[str, tuple[list[float], list[float]]], cols: int, rows: int) -> Text:
    """TensorBoard's distributions as filled bands: steps left to right (at most ``cols``, evenly
    chosen), values bottom to top in ``rows``; each cell shaded by the innermost band it lies in
    (min-max lightest, ±2σ, ±1σ darker) and the median's cell solid."""
    lines = [dist.get(label, ([], [])) for label, _ in BANDS]
    xs = lines[0][0]
    out = Text(no_wrap=True, overflow="crop")
    if not xs or any(len(ys) != len(xs) for _, ys in lines) or cols < 12 or rows < 2:
        return out
    lo, hi = min(lines[0][1]), max(lines[-1][1])
    span = (hi - lo) or 1.0
    step = span / rows
    label_w = 9
    width = cols - label_w
    idx = list(range(len(xs))) if len(xs) <= width else [round(i * (len(xs) - 1) / (width - 1)) for i in range(width)]
    grid = [_band_cells([ys[i] for _, ys in lines], lo, step, rows) for i in idx]
    rep = max(1, width // len(idx))
    for y in range(rows - 1, -1, -1):
        label = f"{lo + (y + 0.5) * step:>8.3g} " if y in (0, rows - 1, rows // 2) else " " * label_w
        out.append(label, style="dim")
        for col in grid:
            out.append(BAND_FILL[col[y]] * rep, style=_BAND_STYLE[col[y]])
        out.append("\n")
    first, last = f"step {xs[idx[0]]:g}", f"step {xs[idx[-1]]:g}"
    out.append(" " * label_w + first, style="dim")
    pad = len(idx) * rep - len(first) - len(last)
    if pad > 0:
        out.append(" " * pad + last, style="dim")
    out.append("\n" + " " * label_w + "░ min-max  ▒ ±2σ  ▓ ±1σ  █ median", style="dim")
    return out


def heatmap_text(items: Sequence[tuple[int, dict[str, Any]]], cols: int, rows: int) -> Text:
    """Steps left to right (at most ``cols``; evenly chosen), values bottom to top in ``rows``
    bands over the range of every step's bins; a cell's shade is its share of its step's peak."""
    usable = [(s, d) for s, d in items if len(d.get("bins") or []) == len(d.get("counts") or []) + 1]
    out = Text(no_wrap=True, overflow="crop")
    if not usable or cols < 4 or rows < 2:
        return out
    lo = min(d["bins"][0] for _, d in usable)
    hi = max(d["bins"][-1] for _, d in usable)
    span = (hi - lo) or 1.0
    label_w = 9
    cols = max(1, cols - label_w)
    pick = usable if len(usable) <= cols else [usable[round(i * (len(usable) - 1) / (cols - 1))] for i in range(cols)]
    grid = [[0.0] * len(pick) for _ in range(rows)]
    for x, (_, d) in enumerate(pick):
        col = [0.0] * rows
        for i, c in enumerate(d["counts"]):
            if c:
                mid = (d["bins"][i] + d["bins"][i + 1]) / 2
                col[min(rows - 1, int((mid - lo) / span * rows))] += c
        peak = max(col) or 1.0
        for y in range(rows):
            grid[y][x] = col[y] / peak
    rep = max(1, cols // len(pick))  # few steps: each step several columns wide
    for y in range(rows - 1, -1, -1):
        label = f"{lo + (y + 0.5) * span / rows:>8.3g} " if y in (0, rows - 1, rows // 2) else " " * label_w
        out.append(label, style="dim")
        out.append("".join(shade(v) * rep for v in grid[y]), style="cyan")
        out.append("\n")
    out.append(" " * label_w + f"step {pick[0][0]}", style="dim")
    end = f"step {pick[-1][0]}"
    pad = len(pick) * rep - len(f"step {pick[0][0]}") - len(end)
    if pad > 0:
        out.append(" " * pad + end, style="dim")
    return out


def bars_text(d: dict[str, Any], cols: int, rows: int) -> Text:
    """One histogram as vertical bars (eighth blocks), bins merged to fit ``cols``."""
    bins, counts = d.get("bins") or [], d.get("counts") or []
    out = Text(no_wrap=True, overflow="crop")
    if not counts or cols < 4 or rows < 2:
        return out
    n = len(counts)
    width = min(cols - 1, max(n, 1))
    merged = [0] * width
    for i, c in enumerate(counts):
        merged[min(width - 1, i * width // n)] += c
    top = max(merged) or 1
    for y in range(rows - 1, -1, -1):
        line = []
        for c in merged:
            level = c / top * rows - y
            line.append(_EIGHTHS[max(0, min(8, round(level * 8)))] if level < 1 else SHADES[-1])
        out.append("".join(line), style="green")
        out.append(f" {top:,}" if y == rows - 1 else "", style="dim")
        out.append("\n")
    left, right = f"{bins[0]:.4g}", f"{bins[-1]:.4g}"
    out.append(left + " " * max(1, width - len(left) - len(right)) + right, style="dim")
    extra = [f"{k} {d[k]}" for k in ("nan", "inf", "ninf") if d.get(k)]
    if extra:
        out.append("   not counted: " + ", ".join(extra).replace("ninf", "-inf"), style="yellow")
    return out
