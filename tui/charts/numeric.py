"""The O(n) passes over a metric's values: clean, sort, smooth (EMA) and downsample.

Plain Python on lists (no Textual, no plotext, no numpy at run time). Training scripts produce
10⁶-point series, so the passes lean on C-level builtins (``sum``, ``min``, ``map``,
``itertools.compress``, ``bisect``) rather than Python loops.

* plotext 5.3.2 raises ``ValueError`` inside ``build()`` on ±Inf or ±1e308, so every point whose
  x or y is NaN, infinite or beyond ±1e300 is dropped and counted (``clean``), and the x
  positions of some are kept so the chart can mark them on its edges.
* plotext needs ~6 s to draw 1,000,000 points, so each series is cut to at most two points (its
  min and max) per bucket, one bucket per column (``downsample_minmax``).
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import compress, islice, pairwise
from typing import Any

__all__ = ["LIMIT", "MAX_SMOOTHING", "clean", "downsample_minmax", "ema"]

LIMIT = 1e300
"""Largest magnitude handed to plotext; beyond it (and for NaN/±Inf) a point is skipped."""

MAX_SMOOTHING = 0.999
"""TensorBoard's slider stops here; at 1.0 the debiased EMA degenerates to zeros."""

_MAX_MARKS = 4096  # skipped-point positions kept per series, for the edge markers


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
