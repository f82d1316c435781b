"""Series preparation: the data contract and everything a chart computes before drawing.

``Series`` (one run's values of one metric) → cleaned, x-sorted, shifted for the x mode,
log-filtered and smoothed (cached on the ``Series``, so zooming, panning and resizing only redo
the cheap last step) → windowed and downsampled ``Trace`` lines plus limits (``chart_data``).
Nothing here imports Textual or plotext: tests and benchmarks use it directly, and
``draw`` turns a ``ChartData`` into text.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from tracker.tui.charts.numeric import (
    MAX_SMOOTHING,
    _as_list,
    _clean,
    _ema_finite,
    _false_indices,
    _marks_for,
    _minmax,
    _ok_mask,
    _sort_by_x,
)
from tracker.tui.charts.ticks import nice_step

__all__ = ["X_MODES", "ChartData", "ChartSpec", "Series", "Trace", "chart_data", "x_extent"]

X_MODES: tuple[str, ...] = ("step", "time", "relative")
"""The x axes a chart can use, in the order ``ChartView.cycle_x_mode`` steps through them."""


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
        grow: Live data: the axes grow in steps (see ``chart_data``), not with every point.
    """

    series: Sequence[Series]
    title: str = ""
    log_y: bool = False
    x_mode: str = "step"
    x_range: tuple[float, float] | None = None
    smoothing: float = 0.0
    show_raw: bool = True
    grow: bool = False


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


def _cached(series: Series, key: tuple[Any, ...], build: Callable[[], _Prepared]) -> _Prepared:
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

    return _cached(series, ("base", x_mode), build)


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

    return _cached(series, ("prep", x_mode, log_y, smoothing), build)


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


def _grown(lo: float, hi: float) -> float:
    """The x axis end for live data: the first round span (1, 2, 2.5, 5 x 10^k) at least 1.25
    times the data's, so the axis moves at spans 200, 250, 500, 1000, ... (less and less often
    as a run goes on) and the data always fills at least half of it."""
    span = hi - lo
    if not span > 0:
        return hi
    return lo + nice_step(span * 1.25, 1)


def _snapped(lo: float, hi: float) -> tuple[float, float]:
    """``[lo, hi]`` widened outward to round steps of about half its span."""
    q = nice_step(hi - lo, 2)
    return math.floor(lo / q) * q, math.ceil(hi / q) * q


def _y_limits(traces: list[Trace], lo: float, hi: float, log_y: bool, grow: bool) -> tuple[float, float] | None:
    """y limits from the points inside ``[lo, hi]`` (neighbours may be far off and get clipped)."""
    ys_in = [y for t in traces for x, y in zip(t.xs, t.ys) if lo <= x <= hi]
    ys_in = ys_in or [y for t in traces for y in t.ys]
    if not ys_in:
        return None
    y_lo, y_hi = min(ys_in), max(ys_in)
    y_lim = _pad(y_lo, y_hi, 0.5, 0.0) if log_y else _pad(y_lo, y_hi, 0.0, 0.05)
    return _snapped(*y_lim) if grow else y_lim


def chart_data(
    series: Sequence[Series],
    *,
    buckets: int,
    log_y: bool = False,
    x_mode: str = "step",
    x_range: tuple[float, float] | None = None,
    smoothing: float = 0.0,
    show_raw: bool = True,
    grow: bool = False,
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
        grow: For a chart following live data: unless zoomed, the x axis ends at the next round
            step past the data and the y axis at round steps outside it, so a new point changes
            a few cells of the drawing instead of rescaling all of it (over SSH a rescale
            resends the whole chart); the axes move only when the data passes those ends.

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
    if grow and not zoomed:
        hi = _grown(lo, hi)
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
    marks = [(i, x, k) for i, p in enumerate(prepared) for x, k in p.marks if lo <= x <= hi]
    x_lim = _pad(lo, hi, 0.5, 1e-9)
    y_lim = _y_limits(traces, lo, hi, log_y, grow)
    if y_lim is None and not marks:
        return ChartData([], [], None, None, nonfinite, nonpositive, no_x, points)
    y_lim = y_lim or (0.0, 1.0)  # only skip markers in the window: any scale will do
    return ChartData(traces, marks, x_lim, y_lim, nonfinite, nonpositive, no_x, points)
