"""Metric charts as Rich ``Text``: clean, smooth, downsample, then draw with plotext.

Pure data and rendering; nothing here imports Textual, so the same code draws in the app, in
tests and in ``bench/chart_bench.py``. The widget that owns the data is ``chart_widget.ChartView``.

Why each step exists (RELIABILITY.md §B10, row R6):

* plotext 5.3.2 raises ``ValueError`` inside ``build()`` on ±Inf or ±1e308, so every point whose
  x or y is NaN, infinite or beyond ±1e300 is dropped and counted (``clean``); the chart says how
  many, and marks their x positions on the top/bottom edge.
* plotext needs ~6 s to draw 1,000,000 points and ~50 µs per point on jagged lines, so each
  series is cut to at most two points (its min and max) per bucket, one bucket per column
  (``downsample_minmax``) before plotext sees it.
* Training scripts produce 10⁶-point series and no numpy is installed at run time, so the O(n)
  passes lean on C-level builtins (``sum``, ``min``, ``map``, ``itertools.compress``, ``bisect``)
  rather than Python loops, and the cleaned/sorted/smoothed arrays are cached per ``Series`` so
  zooming, panning and resizing only redo the cheap last step.
* plotext draws into one module-level figure, so the draw step is serialised by ``_PLOT_LOCK``
  (renders may run in worker threads); data preparation runs outside the lock.
* Labels and titles are untrusted (run and metric names): they go through
  ``tracker.tui.text.sanitize`` and into ``Text`` objects, never into markup or into plotext.
"""

from __future__ import annotations

import math
import operator
import os
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress, islice, pairwise
from typing import Any

import plotext as plt
from rich.color import Color
from rich.style import Style
from rich.text import Text

from tracker.tui.text import sanitize

__all__ = [
    "X_MODES",
    "ChartData",
    "ChartSpec",
    "Series",
    "Trace",
    "chart_data",
    "clean",
    "downsample_minmax",
    "ema",
    "render_chart",
    "render_grid",
    "x_extent",
]

X_MODES: tuple[str, ...] = ("step", "time", "relative")
"""The x axes a chart can use, in the order ``ChartView.cycle_x_mode`` steps through them."""

LIMIT = 1e300
"""Largest magnitude handed to plotext; beyond it (and for NaN/±Inf) a point is skipped."""

MAX_SMOOTHING = 0.999
"""TensorBoard's slider stops here; at 1.0 the debiased EMA degenerates to zeros."""

_MAX_MARKS = 4096  # skipped-point positions kept per series, for the edge markers
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


# --------------------------------------------------------------------------------------------
# Data contract
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Series:
    """One run's values of one metric.

    A series is treated as immutable: derived arrays (cleaned, sorted, smoothed) are cached on
    it, keyed by length, so build a new ``Series`` for new data (``ChartView.append`` does).

    Attributes:
        label: Legend text (a run name). Untrusted: drawn literally, control characters made
            visible.
        xs: The x of each point in ``"step"`` mode (normally the step) unless ``steps`` is given.
        ys: The values. May hold NaN, ±Inf, huge values, ints; need not be sorted by x.
        color_index: Palette slot; keep it stable per run so a run has one colour everywhere.
        steps: Optional step per point; when given, ``"step"`` mode uses it instead of ``xs``.
        timestamps: Optional wall time per point (Unix seconds) for ``"time"`` and
            ``"relative"`` modes. Without it the series is left out of those modes (and the
            chart says so).
    """

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color_index: int = 0
    steps: Sequence[int] | None = None
    timestamps: Sequence[float] | None = None
    #: Non-finite points the caller already left out (e.g. a store that hands over block
    #: extremes): counted in the chart's "skipped" note like the ones found in ``ys``.
    skipped: int = 0
    _cache: dict[tuple[Any, ...], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def x_values(self, x_mode: str) -> Sequence[float] | None:
        """The x source for ``x_mode`` (before cleaning), or None if the series lacks it.

        Args:
            x_mode: ``"step"``, ``"time"`` or ``"relative"`` (relative is shifted later, once
                the first finite timestamp is known).

        Returns:
            The sequence, or None when the mode needs timestamps the series doesn't have.
        """
        if x_mode == "step":
            return self.steps if self.steps is not None else self.xs
        return self.timestamps

    def __len__(self) -> int:
        return len(self.ys)


@dataclass(frozen=True)
class ChartSpec:
    """One panel of a grid: a metric's series plus how to draw them.

    Attributes:
        series: The runs to overlay.
        title: Panel title (a metric name; untrusted, drawn literally).
        log_y: Logarithmic y axis (non-positive values are skipped and counted).
        x_mode: ``"step"``, ``"time"`` or ``"relative"``.
        x_range: Zoom window on the x axis in ``x_mode`` units, or None for everything.
        smoothing: TensorBoard EMA weight, 0 (off) to 0.999.
        show_raw: With smoothing, also draw the raw values, faint.
    """

    series: Sequence[Series]
    title: str = ""
    log_y: bool = False
    x_mode: str = "step"
    x_range: tuple[float, float] | None = None
    smoothing: float = 0.0
    show_raw: bool = True


@dataclass(frozen=True)
class Trace:
    """One line as it will be drawn: downsampled, in axis units (log10 of y on a log axis).

    Attributes:
        series_index: Position of the source series in the chart's list.
        color_index: The source series' palette slot.
        xs: x values, ascending, including at most one point just outside the window on each
            side so the line reaches the frame.
        ys: y values, finite.
        smoothed: True for the EMA line, False for raw values.
    """

    series_index: int
    color_index: int
    xs: list[float]
    ys: list[float]
    smoothed: bool


@dataclass(frozen=True)
class ChartData:
    """Everything a chart draws, computed without plotext (handy for tests).

    Attributes:
        traces: Lines to draw, raw ones first so smoothed lines land on top.
        marks: ``(series_index, x, kind)`` for skipped points inside the window; kind 1 = above
            (+Inf/huge), -1 = below (-Inf/huge, or ≤ 0 on a log axis), 0 = NaN.
        x_lim: The x window, or None when nothing is drawable.
        y_lim: The y limits in axis units, or None when nothing is drawable.
        nonfinite: Points skipped for NaN/±Inf/|v| > 1e300 (in x or y), over all series.
        nonpositive: Points skipped because the y axis is logarithmic.
        no_x: Series left out because they lack timestamps for a time axis.
        points: Points in the window before downsampling, over all series (raw values).
    """

    traces: list[Trace]
    marks: list[tuple[int, float, int]]
    x_lim: tuple[float, float] | None
    y_lim: tuple[float, float] | None
    nonfinite: int
    nonpositive: int
    no_x: int
    points: int


# --------------------------------------------------------------------------------------------
# Numeric helpers (C-speed where it matters: these see 10⁶-point series)
# --------------------------------------------------------------------------------------------


def _as_list(values: Iterable[Any]) -> list[Any]:
    return values if isinstance(values, list) else list(values)


def _all_ok(values: list[Any]) -> bool:
    """True if every value is a number with |v| ≤ LIMIT (one C-level pass).

    NaN makes the sum NaN and ±Inf makes it infinite, so a sum of magnitudes ≤ LIMIT proves
    every value fine. Large-but-valid data can fail the test; callers then take the exact path.
    """
    try:
        return bool(sum(map(abs, values)) <= LIMIT)
    except (TypeError, ValueError, OverflowError):
        return False


def _scalar_ok(v: Any) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return False
    return -LIMIT <= f <= LIMIT


def _ok_mask(values: list[Any]) -> tuple[list[bool], bool]:
    """Per-value "drawable" flags, and whether values need ``float()`` (odd types)."""
    if all(type(v) is float or type(v) is int for v in islice(values, 64)):
        lo = -LIMIT
        try:
            return [lo <= v <= LIMIT for v in values], False  # NaN compares False
        except TypeError:
            pass
    return [_scalar_ok(v) for v in values], True


def _false_indices(mask: list[bool], count: int) -> list[int]:
    """Positions of False in ``mask`` (``count`` of them), by C-level search when sparse."""
    if count > 50_000:
        return list(compress(range(len(mask)), map(operator.not_, mask)))
    out: list[int] = []
    i = -1
    find = mask.index
    for _ in range(count):
        i = find(False, i + 1)
        out.append(i)
    return out


def _kind(y: Any) -> int:
    try:
        f = float(y)
    except (TypeError, ValueError, OverflowError):
        return 0
    if f != f:
        return 0
    return 1 if f > 0 else -1


def _sample(indices: list[int], limit: int) -> list[int]:
    if len(indices) <= limit:
        return indices
    step = len(indices) / limit
    return [indices[int(k * step)] for k in range(limit)]


def _marks_for(
    bad: list[int], xl: list[Any], yl: list[Any], kind: int | None
) -> list[tuple[float, int]]:
    """(x, kind) of up to ``_MAX_MARKS`` skipped points (kind from y unless given)."""
    out = []
    for i in _sample(bad, _MAX_MARKS):
        if _scalar_ok(xl[i]):
            out.append((float(xl[i]), _kind(yl[i]) if kind is None else kind))
    return out


def _clean(
    xl: list[Any], yl: list[Any]
) -> tuple[list[Any], list[Any], int, list[tuple[float, int]]]:
    """``clean`` plus the (x, kind) of skipped points that still have a usable x."""
    n = min(len(xl), len(yl))
    if len(xl) != n:
        xl = xl[:n]
    if len(yl) != n:
        yl = yl[:n]
    x_ok = _all_ok(xl)
    if x_ok and _all_ok(yl):
        return xl, yl, 0, []
    mask, odd_y = _ok_mask(yl)
    odd_x = False
    if not x_ok:
        mx, odd_x = _ok_mask(xl)
        mask = list(map(operator.and_, mask, mx))
    kept = mask.count(True)
    marks = _marks_for(_false_indices(mask, n - kept), xl, yl, None)
    xs = list(compress(xl, mask))
    ys = list(compress(yl, mask))
    if odd_x:
        xs = [float(v) for v in xs]
    if odd_y:
        ys = [float(v) for v in ys]
    return xs, ys, n - kept, marks


def clean(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float], int]:
    """Keep only points plotext can draw.

    A point is skipped when x or y is NaN, ±Inf, not a number, or has magnitude > 1e300 (plotext
    raises on ±1e308). Order is kept; lengths are cut to the shorter sequence.

    Args:
        xs: x values.
        ys: y values.

    Returns:
        ``(xs, ys, skipped)``: the drawable points and how many were dropped. The lists may be
        the inputs themselves when nothing had to go, so don't mutate them.
    """
    x, y, skipped, _ = _clean(_as_list(xs), _as_list(ys))
    return x, y, skipped


def _sort_by_x(xs: list[Any], ys: list[Any]) -> tuple[list[Any], list[Any]]:
    if sorted(xs) == xs:  # timsort is O(n) on the usual already-sorted input
        return xs, ys
    order = sorted(range(len(xs)), key=xs.__getitem__)  # stable: arrival order within a step
    return list(map(xs.__getitem__, order)), list(map(ys.__getitem__, order))


def ema(ys: Iterable[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average.

    ``last = last * w + (1 - w) * y`` starting from 0, divided by ``1 - w**k`` after the k-th
    finite value, so early values are not pulled towards zero. Non-finite values are passed
    through unchanged and do not advance the average (as TensorBoard does); a constant series
    is returned as is (TensorBoard's guard against floating-point drift).

    Args:
        ys: Values in x order.
        weight: Smoothing weight, 0 (none) to 0.999; clamped to that range.

    Returns:
        A list the length of ``ys``.
    """
    vals = _as_list(ys)
    w = min(max(float(weight), 0.0), MAX_SMOOTHING) if weight == weight else 0.0
    if w == 0.0 or not vals:
        return list(vals)
    try:
        finite = bool(math.isfinite(sum(vals)))
    except (TypeError, OverflowError):
        finite = False
    if finite:
        return _ema_finite(vals, w)
    c = 1.0 - w
    out: list[float] = []
    app = out.append
    last = 0.0
    p = 1.0
    for y in vals:
        if _finite(y):
            last = last * w + c * y
            p *= w
            app(last / (1.0 - p))
        else:
            app(y)
    return out


def _finite(y: Any) -> bool:
    try:
        return math.isfinite(y)
    except TypeError:  # None, str, …: not a value, pass it through like NaN
        return False


def _ema_finite(vals: list[Any], w: float) -> list[Any]:
    """``ema`` for a non-empty list of finite numbers and 0 < w < 1."""
    first = vals[0]
    if vals[-1] == first and vals[len(vals) // 2] == first and vals.count(first) == len(vals):
        return list(vals)
    c = 1.0 - w
    out: list[Any] = []
    last = 0.0
    p = 1.0
    k = 0
    n = len(vals)
    # Debias until w**k no longer changes 1 - w**k (a few thousand points at most) ...
    while k < n and p >= 5e-17:
        last = last * w + c * vals[k]
        p *= w
        out.append(last / (1.0 - p))
        k += 1
    # ... then the plain recurrence; a comprehension is the fastest pure-Python loop here.
    out += [last := last * w + c * y for y in islice(vals, k, None)]
    return out


def _minmax(
    xs: list[Any], ys: list[Any], start: int, stop: int, buckets: int, lo: float, hi: float
) -> tuple[list[Any], list[Any]]:
    """Min and max of each of ``buckets`` equal-width x buckets of ``xs[start:stop]``."""
    if stop - start <= 2 * buckets:
        return xs[start:stop], ys[start:stop]
    span = hi - lo
    if not span > 0 or not math.isfinite(span):
        edges = [start, stop]
    else:
        edges = [start]
        edges.extend(
            bisect_left(xs, lo + span * k / buckets, start, stop) for k in range(1, buckets)
        )
        edges.append(stop)
    ox: list[Any] = []
    oy: list[Any] = []
    for a, b in pairwise(edges):
        if b <= a:
            continue
        seg = ys[a:b]
        mn = min(seg)
        mx = max(seg)
        i = seg.index(mn)
        j = seg.index(mx)
        if i == j:
            ox.append(xs[a + i])
            oy.append(mn)
        elif i < j:
            ox += (xs[a + i], xs[a + j])
            oy += (mn, mx)
        else:
            ox += (xs[a + j], xs[a + i])
            oy += (mx, mn)
    return ox, oy


def downsample_minmax(
    xs: Sequence[float], ys: Sequence[float], buckets: int
) -> tuple[list[float], list[float]]:
    """Cut a series to at most ``2 * buckets`` points, keeping each bucket's extremes.

    The x span is split into ``buckets`` equal-width buckets (one per plot column when
    ``buckets`` is the plot width); each non-empty bucket contributes its minimum and its
    maximum, in x order (one point if they coincide). So the global min and max always survive
    and a spike inside a bucket is never averaged away. Series with ≤ ``2 * buckets`` points are
    returned unchanged. O(n), with the per-point work in C (``min``, ``max``, ``list.index``).

    Args:
        xs: x values, ascending, finite (see ``clean``).
        ys: y values, finite.
        buckets: Number of buckets, ≥ 1.

    Returns:
        ``(xs, ys)`` lists of at most ``2 * buckets`` points.

    Raises:
        ValueError: If ``buckets`` < 1.
    """
    if buckets < 1:
        raise ValueError("buckets must be >= 1")
    xl = _as_list(xs)
    yl = _as_list(ys)
    n = min(len(xl), len(yl))
    if n == 0:
        return [], []
    return _minmax(xl, yl, 0, n, buckets, xl[0], xl[n - 1])


# --------------------------------------------------------------------------------------------
# Per-series preparation, cached on the Series
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    xs: list[Any]
    ys: list[Any]
    smooth: list[float] | None
    marks: list[tuple[float, int]]
    nonfinite: int
    nonpositive: int
    no_x: bool


_EMPTY_NO_X = _Prepared([], [], None, [], 0, 0, True)


def _cached(series: Series, key: tuple[Any, ...], build: Any) -> Any:
    """``build()``, memoised on the series (a few x modes / smoothings, oldest evicted).

    Worker threads may race here; the worst outcome is computing the same thing twice.
    """
    key = (*key, len(series.ys), len(series.xs))
    cache = series._cache
    hit = cache.get(key)
    if hit is None:
        hit = build()
        try:
            while len(cache) >= 8:
                cache.pop(next(iter(cache)), None)
        except (RuntimeError, StopIteration):  # another thread resized it meanwhile
            pass
        cache[key] = hit
    return hit


def _base(series: Series, x_mode: str) -> _Prepared:
    """Cleaned and x-sorted points for one x mode (relative time already shifted)."""

    def build() -> _Prepared:
        src = series.x_values(x_mode)
        if src is None:
            return _EMPTY_NO_X
        xl = _as_list(src)
        xs, ys, skipped, marks = _clean(xl, _as_list(series.ys))
        xs, ys = _sort_by_x(xs, ys)
        if x_mode == "relative":
            # The run's first point may itself have a NaN value: shift by the first usable time.
            if skipped == 0:
                t0 = xs[0] if xs else 0.0
            else:
                usable = [float(v) for v in compress(xl, _ok_mask(xl)[0])]
                t0 = min(usable) if usable else 0.0
            shift = -float(t0)
            xs = [x + shift for x in xs]
            marks = [(x + shift, k) for x, k in marks]
        return _Prepared(xs, ys, None, marks, skipped + series.skipped, 0, False)

    prepared: _Prepared = _cached(series, ("base", x_mode), build)
    return prepared


def _prepare(series: Series, x_mode: str, log_y: bool, smoothing: float) -> _Prepared:
    """``_base`` plus the log-axis filter and the EMA, computed over the whole series."""
    base = _base(series, x_mode)
    if base.no_x or (not log_y and smoothing <= 0):
        return base

    def build() -> _Prepared:
        xs, ys, marks, nonpositive = base.xs, base.ys, base.marks, 0
        if log_y and ys and not min(ys) > 0:
            pos = list(map((0.0).__lt__, ys))
            nonpositive = pos.count(False)
            marks = marks + _marks_for(_false_indices(pos, nonpositive), xs, ys, -1)
            xs = list(compress(xs, pos))
            ys = list(compress(ys, pos))
        smooth = _ema_finite(ys, smoothing) if smoothing > 0 and ys else None
        return _Prepared(xs, ys, smooth, marks, base.nonfinite, nonpositive, False)

    prepared: _Prepared = _cached(series, ("prep", x_mode, log_y, smoothing), build)
    return prepared


def x_extent(series: Sequence[Series], x_mode: str = "step") -> tuple[float, float] | None:
    """The x span of all drawable points of ``series`` in ``x_mode`` units.

    Args:
        series: The runs.
        x_mode: ``"step"``, ``"time"`` or ``"relative"``.

    Returns:
        ``(lo, hi)``, or None when no series has a drawable point in that mode.
    """
    lo = hi = None
    for s in series:
        b = _base(s, x_mode)
        if b.xs:
            lo = b.xs[0] if lo is None else min(lo, b.xs[0])
            hi = b.xs[-1] if hi is None else max(hi, b.xs[-1])
    return None if lo is None or hi is None else (float(lo), float(hi))


def _window(
    xs: list[Any], ys: list[Any], lo: float, hi: float, buckets: int, zoomed: bool
) -> tuple[list[Any], list[Any], int]:
    """Downsampled points of ``[lo, hi]``, plus one neighbour each side when zoomed."""
    n = len(xs)
    i0 = bisect_left(xs, lo)
    i1 = bisect_right(xs, hi)
    if i0 == i1 and not (zoomed and 0 < i0 < n):
        return [], [], 0  # nothing inside, and no segment crossing the window
    ox, oy = _minmax(xs, ys, i0, i1, buckets, lo, hi)
    if zoomed:
        if i0 > 0:
            ox = [xs[i0 - 1], *ox]
            oy = [ys[i0 - 1], *oy]
        if i1 < n:
            ox = [*ox, xs[i1]]
            oy = [*oy, ys[i1]]
    return ox, oy, i1 - i0


def _finite_range(x_range: tuple[float, float] | None) -> tuple[float, float] | None:
    if x_range is None:
        return None
    try:
        a, b = float(x_range[0]), float(x_range[1])
    except (TypeError, ValueError, IndexError):
        return None
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    return (a, b) if a <= b else (b, a)


def _pad(lo: float, hi: float, unit: float, rel: float) -> tuple[float, float]:
    """Widen a degenerate (constant or near-constant) interval so plotext can scale it.

    The result spans ``±max(unit, |mid| * rel)`` around the middle (±1 for a zero middle
    without a unit): ``rel`` keeps large values distinguishable in floating point, ``unit``
    gives zero or small numbers a visible range.
    """
    if hi - lo > max(abs(lo), abs(hi)) * 1e-12 and hi - lo > 1e-290:
        return lo, hi
    mid = (lo + hi) / 2
    d = max(unit, abs(mid) * rel, 1e-290) if (unit or mid) else 1.0
    return mid - d, mid + d


def chart_data(
    series: Sequence[Series],
    *,
    buckets: int,
    log_y: bool = False,
    x_mode: str = "step",
    x_range: tuple[float, float] | None = None,
    smoothing: float = 0.0,
    show_raw: bool = True,
) -> ChartData:
    """Compute what a chart draws: cleaned, smoothed, windowed and downsampled traces.

    Args:
        series: The runs to overlay.
        buckets: Downsampling buckets (the plot width); each trace gets ≤ 2·buckets points
            (+2 neighbours outside a zoom window).
        log_y: Logarithmic y: non-positive values are skipped and counted; trace ys are log10.
        x_mode: ``"step"``, ``"time"`` or ``"relative"``.
        x_range: Zoom window in ``x_mode`` units, or None for the full extent.
        smoothing: EMA weight (0 = off), computed over the whole series before zooming.
        show_raw: With smoothing, include the raw traces too.

    Returns:
        The ``ChartData``.
    """
    if x_mode not in X_MODES:
        raise ValueError(f"x_mode must be one of {X_MODES}, not {x_mode!r}")
    smoothing = min(max(float(smoothing), 0.0), MAX_SMOOTHING) if smoothing == smoothing else 0.0
    buckets = max(1, int(buckets))
    prepared = [_prepare(s, x_mode, log_y, smoothing) for s in series]
    nonfinite = sum(p.nonfinite for p in prepared)
    nonpositive = sum(p.nonpositive for p in prepared)
    no_x = sum(p.no_x for p in prepared)
    window = _finite_range(x_range)
    zoomed = window is not None
    if window is None:
        spans = [(p.xs[0], p.xs[-1]) for p in prepared if p.xs]
        if spans:
            window = (float(min(a for a, _ in spans)), float(max(b for _, b in spans)))
    if window is None:
        return ChartData([], [], None, None, nonfinite, nonpositive, no_x, 0)
    lo, hi = window
    raw: list[Trace] = []
    smooth: list[Trace] = []
    points = 0
    for i, (s, p) in enumerate(zip(series, prepared)):
        if not p.xs:
            continue
        if p.smooth is None or show_raw:
            tx, ty, inside = _window(p.xs, p.ys, lo, hi, buckets, zoomed)
            points += inside
            if tx:
                raw.append(Trace(i, s.color_index, tx, ty, False))
        if p.smooth is not None:
            tx, ty, inside = _window(p.xs, p.smooth, lo, hi, buckets, zoomed)
            if not show_raw:
                points += inside
            if tx:
                smooth.append(Trace(i, s.color_index, tx, ty, True))
    traces = raw + smooth
    if log_y:
        traces = [
            Trace(t.series_index, t.color_index, t.xs, list(map(math.log10, t.ys)), t.smoothed)
            for t in traces
        ]
    # y limits from the points inside the window (neighbours may be far off and get clipped).
    ys_in = [y for t in traces for x, y in zip(t.xs, t.ys) if lo <= x <= hi]
    ys_in = ys_in or [y for t in traces for y in t.ys]
    marks = [(i, x, k) for i, p in enumerate(prepared) for x, k in p.marks if lo <= x <= hi]
    x_lim = _pad(lo, hi, 0.5, 1e-9)
    y_lim = None
    if ys_in:
        y_lo, y_hi = min(ys_in), max(ys_in)
        y_lim = _pad(y_lo, y_hi, 0.5, 0.0) if log_y else _pad(y_lo, y_hi, 0.0, 0.05)
    if y_lim is None and not marks:
        return ChartData([], [], None, None, nonfinite, nonpositive, no_x, points)
    y_lim = y_lim or (0.0, 1.0)  # only skip markers in the window: any scale will do
    return ChartData(traces, marks, x_lim, y_lim, nonfinite, nonpositive, no_x, points)


# --------------------------------------------------------------------------------------------
# Ticks
# --------------------------------------------------------------------------------------------


def _nice_step(span: float, count: int) -> float:
    raw = span / max(1, count)
    if not raw > 0:
        return 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * mag >= raw * (1 - 1e-9):
            return m * mag
    return 10.0 * mag


def _nice_ticks(lo: float, hi: float, count: int) -> tuple[list[float], float]:
    step = _nice_step(hi - lo, count)
    k = math.ceil(lo / step - 1e-9)
    ticks = []
    while (v := k * step) <= hi + step * 1e-9 and len(ticks) < 100:
        ticks.append(v)
        k += 1
    return ticks, step


def _decimals(step: float) -> int:
    for d in range(0, 12):
        if abs(round(step, d) - step) <= step * 1e-6:
            return d
    return 12


def _fmt_num(v: float, step: float) -> str:
    a = abs(v)
    if a < step * 1e-6:
        return "0"
    if a >= 1e4:
        for unit, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
            if a >= unit:
                if a >= unit * 1e4:  # beyond 9999P: scientific
                    break
                return f"{v / unit:.{min(3, _decimals(step / unit))}f}{suffix}"
    if a >= 1e4 or a < 1e-3:
        digits = max(0, min(4, math.floor(math.log10(a)) - math.floor(math.log10(step))))
        mant, exp = f"{v:.{digits}e}".split("e")
        return f"{mant}e{int(exp)}"
    return f"{v:.{min(6, _decimals(step))}f}"


_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
               43200, 86400, 172800, 604800, 2592000, 31536000)


def _time_step(span: float, count: int) -> float:
    raw = span / max(1, count)
    for s in _TIME_STEPS:
        if s >= raw:
            return float(s)
    return _nice_step(span, count)


def _fmt_duration(s: float) -> str:
    s = round(s)
    sign = "-" if s < 0 else ""
    s = abs(s)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{sign}{d}d{h}h" if h else f"{sign}{d}d"
    if h:
        return f"{sign}{h}h{m:02d}m" if m else f"{sign}{h}h"
    if m:
        return f"{sign}{m}m{sec:02d}s" if sec else f"{sign}{m}m"
    return f"{sign}{sec}s"


def _x_ticks(lo: float, hi: float, x_mode: str, width: int) -> tuple[list[float], list[str]]:
    label_w = {"step": 7, "time": 11, "relative": 7}[x_mode]
    count = max(1, min(10, width // (label_w + 3)))
    if x_mode == "step":
        ticks, step = _nice_ticks(lo, hi, count)
        return ticks, [_fmt_num(t, step) for t in ticks]
    step = _time_step(hi - lo, count)
    if x_mode == "relative":
        k = math.ceil(lo / step - 1e-9)
        ticks = [v * step for v in range(k, k + 200) if v * step <= hi + 1e-9]
        return ticks, [_fmt_duration(t) for t in ticks]
    try:
        off = time.localtime(lo).tm_gmtoff or 0
    except (OverflowError, OSError, ValueError):
        return [], []
    k = math.ceil((lo + off) / step - 1e-9)
    ticks = [v * step - off for v in range(k, k + 200) if v * step - off <= hi + 1e-9]
    span = hi - lo
    if step >= 86400:
        fmt = "%m-%d"
    elif span >= 86400:
        fmt = "%m-%d %H:%M"
    else:
        fmt = "%H:%M" if step >= 60 else "%H:%M:%S"
    labels = []
    for t in ticks:
        try:
            labels.append(time.strftime(fmt, time.localtime(t)))
        except (OverflowError, OSError, ValueError):
            return [], []
    return ticks, labels


def _fmt_pow10(e: int) -> str:
    return f"{10.0 ** e:g}" if -2 <= e <= 3 else f"1e{e}"


def _y_ticks(lo: float, hi: float, log_y: bool, height: int) -> tuple[list[float], list[str]]:
    count = max(1, min(8, (height - 2) // 2))
    if not log_y:
        ticks, step = _nice_ticks(lo, hi, count)
        return ticks, [_fmt_num(t, step) for t in ticks]
    if math.floor(hi + 1e-9) - math.ceil(lo - 1e-9) >= 1:  # at least two decades shown
        step_e = max(1, math.ceil(_nice_step(hi - lo, count)))
        e = math.ceil(lo - 1e-9)
        ticks = []
        while e <= hi + 1e-9:
            if e % step_e == 0:
                ticks.append(float(e))
            e += 1
        return ticks, [_fmt_pow10(int(t)) for t in ticks]
    lin, step = _nice_ticks(10.0**lo, 10.0**hi, count)
    lin = [v for v in lin if v > 0]
    return [math.log10(v) for v in lin], [_fmt_num(v, step) for v in lin]


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


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
    xt, xl = _x_ticks(x_lo, x_hi, x_mode, width)
    yt, yl = _y_ticks(y_lo, y_hi, log_y, height)
    plot_cols = max(1, width - max((len(s) for s in yl), default=1) - 2)
    marks: dict[tuple[int, int], int] = {}  # (column, kind) -> series index (one glyph per cell)
    for i, x, k in data.marks:
        col = int((x - x_lo) / (x_hi - x_lo) * plot_cols) if x_hi > x_lo else 0
        marks.setdefault((col, k), i)
    smoothing = any(t.smoothed for t in data.traces)
    with _PLOT_LOCK:
        plt.clf()
        plt.limit_size(False, False)
        plt.plotsize(width, height)
        plt.theme("clear")
        for t in data.traces:
            rgb = _rgb(t.color_index)
            marker = _marker(t.color_index, color)
            if t.smoothed or not smoothing:
                plt.plot(t.xs, t.ys, marker=marker, color=rgb)
            elif color:  # raw under a smoothed line: same glyphs, faint colour
                plt.plot(t.xs, t.ys, marker=marker, color=_faint(rgb, background))
            else:  # no colour to fade with: raw values as sparse dots, no connecting lines
                plt.scatter(t.xs, t.ys, marker="·")
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
    text = Text.from_ansi(canvas) if color else Text(plt.uncolorize(canvas))
    lines = text.split("\n", allow_blank=True)
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
        entry.append(_glyph(s.color_index, color), style=style)
        entry.append(" ")
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
        step = _nice_step(x_range[1] - x_range[0], 10) if x_range[1] > x_range[0] else 1.0
        if x_mode == "step":
            parts.append(f"{_fmt_num(x_range[0], step)}…{_fmt_num(x_range[1], step)}")
        elif x_mode == "relative":
            parts.append(f"{_fmt_duration(x_range[0])}…{_fmt_duration(x_range[1])}")
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
        background: Background RGB used to make faint lines (default: mid grey).

    Returns:
        A ``Text`` of ``height`` lines, each at most ``width`` cells.
    """
    width = max(1, int(width))
    height = max(1, int(height))
    use_color = _color_enabled(color)
    window = _finite_range(x_range)
    data = chart_data(series, buckets=width, log_y=log_y, x_mode=x_mode, x_range=window,
                      smoothing=smoothing, show_raw=show_raw)
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

    lines: list[Text] = []
    if header:
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
        lines.append(head)
    if plot_h >= _MIN_PLOT_HEIGHT and width >= _MIN_PLOT_WIDTH:
        if data.x_lim is None or data.y_lim is None:
            if not any(len(s.ys) for s in series):
                msg = "no data"
            elif window is not None:
                msg = "no data in x range"
            elif data.nonfinite:
                msg = "no finite values"
            elif data.no_x:
                msg = "no wall-time data"
            elif data.nonpositive:
                msg = "no positive values (log-y)"
            else:
                msg = "no data"
            lines.extend(_empty_box(width, plot_h, msg))
        else:
            try:
                lines.extend(_plot_lines(data, width, plot_h, x_mode=x_mode, log_y=log_y,
                                         color=use_color, background=background,
                                         colors=[s.color_index for s in series]))
            except Exception as exc:  # plotext internals: the chart must never take the UI down
                lines.extend(_empty_box(width, plot_h, f"plot failed: {type(exc).__name__}"))
    else:
        plot_h = 0
    lines.extend(legend)
    if note_lines:
        lines.append(Text(note, style="yellow" if use_color else "bold"))
    lines = lines[:height]
    lines.extend(Text() for _ in range(height - len(lines)))
    out = Text("\n", no_wrap=True, overflow="crop").join(_fit(line, width) for line in lines)
    out.no_wrap = True
    out.overflow = "crop"
    return out


def render_grid(
    panels: Sequence[ChartSpec],
    width: int,
    height: int,
    *,
    columns: int | None = None,
    color: bool | None = None,
    background: tuple[int, int, int] | None = None,
) -> Text:
    """Lay several metric charts out in a grid that fills ``width`` × ``height``.

    Two columns once the width allows ~60 cells each (three from 180), otherwise one; rows share
    the height. Panels that would get fewer than 6 lines are left out and counted on the last
    line ("+N more charts").

    Args:
        panels: One ``ChartSpec`` per metric, in display order.
        width: Cells available.
        height: Lines available; the output has exactly this many.
        columns: Force a column count (≥ 1).
        color: As for ``render_chart``.
        background: As for ``render_chart``.

    Returns:
        A ``Text`` of ``height`` lines, each at most ``width`` cells.
    """
    width = max(1, int(width))
    height = max(1, int(height))
    if not panels:
        return render_chart([], width, height, color=color, background=background)
    if len(panels) == 1:
        p = panels[0]
        return render_chart(p.series, width, height, title=p.title, log_y=p.log_y, x_mode=p.x_mode,
                            x_range=p.x_range, smoothing=p.smoothing, show_raw=p.show_raw,
                            color=color, background=background)
    gap = 1
    cols = columns if columns else (3 if width >= 180 else 2 if width >= 120 else 1)
    cols = max(1, min(cols, len(panels), max(1, (width + gap) // (_MIN_PLOT_WIDTH + gap))))
    min_h = 6
    rows_needed = math.ceil(len(panels) / cols)
    max_rows = max(1, height // min_h)
    shown = panels
    note = ""
    if rows_needed > max_rows:
        avail = height - 1
        max_rows = max(1, avail // min_h)
        shown = panels[: max_rows * cols]
        note = f"+{len(panels) - len(shown)} more charts (enlarge the window or pick a metric)"
        rows_needed = math.ceil(len(shown) / cols)
    grid_h = height - (1 if note else 0)
    free = width - gap * (cols - 1)
    col_w = [free // cols + (c < free % cols) for c in range(cols)]
    row_h = [grid_h // rows_needed + (r < grid_h % rows_needed) for r in range(rows_needed)]
    out_lines: list[Text] = []
    for r in range(rows_needed):
        cells: list[list[Text]] = []
        for c in range(cols):
            k = r * cols + c
            if k < len(shown):
                p = shown[k]
                t = render_chart(p.series, col_w[c], row_h[r], title=p.title, log_y=p.log_y,
                                 x_mode=p.x_mode, x_range=p.x_range, smoothing=p.smoothing,
                                 show_raw=p.show_raw, color=color, background=background)
                cells.append([_fit(line, col_w[c]) for line in t.split("\n", allow_blank=True)])
            else:
                cells.append([Text(" " * col_w[c]) for _ in range(row_h[r])])
        for y in range(row_h[r]):
            line = Text(no_wrap=True)
            for c, cell in enumerate(cells):
                if c:
                    line.append(" " * gap)
                line.append_text(cell[y] if y < len(cell) else Text(" " * col_w[c]))
            out_lines.append(line)
    if note:
        out_lines.append(Text(note, style="dim"))
    out_lines = out_lines[:height]
    out_lines.extend(Text() for _ in range(height - len(out_lines)))
    out = Text("\n", no_wrap=True, overflow="crop").join(_fit(line, width) for line in out_lines)
    out.no_wrap = True
    out.overflow = "crop"
    return out
