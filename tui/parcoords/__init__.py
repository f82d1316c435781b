"""Parallel coordinates for runs: the model (axes, cursor, brushes) and a braille renderer.

Nothing here imports Textual; :mod:`tracker.tui.widgets.parcoords_view` wraps it in a widget.

Model
    :func:`build_axes` turns the runs' values into :class:`Axis` objects, inferring each axis'
    kind: numbers whose positive values span at least two decades are ``"log"``, other numbers
    ``"linear"``, anything else (strings, bools, a mix) ``"categorical"``. The metric axis comes
    last. :class:`ParCoords` holds the axes, the runs, the current axis, one cursor per axis and
    the brushes (:class:`Brush`, one per axis at most).

Missing values
    A run without a value on an axis -- key absent, ``None``, NaN or +/-inf on a numeric axis --
    is drawn into a separate "missing" row at the bottom of the plot (marked ``╎`` on the axes
    that have such runs) rather than dropped, so its line stays whole. A brushed axis never
    selects a missing value, exactly like the filter expression it produces (``lo <= x <= hi`` is
    false for a missing ``x``).

Keyboard model
    Each axis is cut into *buckets*: 16 equal slices of the axis (equal in log space on a log
    axis) or one bucket per category. The cursor is a bucket index on the current axis, bucket 0
    at the bottom. :meth:`ParCoords.brush_set` brushes the cursor's bucket;
    :meth:`ParCoords.widen` grows (``+1``) or shrinks (``-1``) the brush by one bucket at both
    ends; :meth:`ParCoords.extend` moves the cursor and stretches the brush to cover it;
    :meth:`ParCoords.clear` / :meth:`ParCoords.clear_all` drop brushes. Numeric brush bounds are
    stored in data units, rounded outwards to short decimals (``%.6g`` or longer when that is not
    precise enough) -- or inwards to whole numbers on an all-integer axis, which selects the same
    runs -- so that :meth:`ParCoords.to_filter_expr` and :meth:`ParCoords.selected_ids` always
    agree.

Rendering
    :func:`render` draws into a :class:`rich.text.Text` of exactly ``height`` lines, each at
    most ``width`` cells, using a braille canvas (2x4 dots per cell). Every string taken from
    the data goes through :func:`~tracker.tui.text.sanitize` and into ``Text`` objects, never
    into markup.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal
from functools import lru_cache
from typing import Any, Literal

from rich.cells import cell_len, get_character_cell_size
from rich.color import Color
from rich.style import Style
from rich.text import Span, Text

from tracker.tui.text import sanitize

__all__ = [
    "STEPS",
    "Axis",
    "AxisKind",
    "Brush",
    "ParCoords",
    "build_axes",
    "format_key",
    "render",
]

AxisKind = Literal["linear", "log", "categorical"]

STEPS = 16
"""Buckets on a numeric axis: the cursor moves, and brushes grow, by 1/16 of the axis."""

_LOG_DECADES = 2.0  # positive values spanning at least this many decades get a log axis
_MISSING = object()
_BARE = re.compile(r"[A-Za-z0-9_./-]+")


# --------------------------------------------------------------------------------------------
# values


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _is_missing(v: Any) -> bool:
    return v is _MISSING or v is None or (_is_number(v) and math.isnan(v))


def _canon(v: Any) -> tuple[int, Any]:
    """A hashable, sortable identity for a category: bools, numbers, strings, anything else.

    Tagging keeps ``True`` and ``1`` apart (Python hashes them alike) and makes mixed
    categories sortable. Other values (lists, dicts) count as their ``str()``.
    """
    if isinstance(v, bool):
        return (0, v)
    if _is_number(v):
        return (1, float(v))
    return (2, v if isinstance(v, str) else str(v))


def _exact(v: float) -> str:
    """Shortest ``%g`` form (at least 6 significant digits) that reads back as exactly ``v``."""
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    for p in range(6, 18):
        s = f"{v:.{p}g}"
        if float(s) == v:
            return s
    return repr(v)  # pragma: no cover - %.17g always round-trips


def _short(v: float) -> str:
    """A compact label for a number (3 significant digits), e.g. ``0.0003``, ``1e-5``, ``128``."""
    if not math.isfinite(v):
        return _exact(v)
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    s = f"{v:.3g}"
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}e{int(exp)}"
    return s


def _category_label(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_number(v):
        return _short(float(v))
    return sanitize(v)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_key(key: str, prefix: str) -> str:
    """``key`` as the filter language refers to it: ``config.lr``, ``summary."val loss"``.

    Args:
        key: The config key or metric name.
        prefix: ``"config"`` or ``"summary"``.

    Returns:
        ``prefix.key``, the key double-quoted (``\\`` and ``"`` backslash-escaped) when it holds
        characters outside ``[A-Za-z0-9_./-]`` or is empty.
    """
    return f"{prefix}.{key if _BARE.fullmatch(key) else _quote(key)}"


def _expr_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_number(v):
        return _exact(float(v))
    return _quote(v if isinstance(v, str) else str(v))


# --------------------------------------------------------------------------------------------
# axes


@dataclass(frozen=True)
class Axis:
    """One vertical axis: a config key or the metric.

    Attributes:
        key: The config key or metric name (raw; sanitise before display).
        kind: ``"linear"``, ``"log"`` or ``"categorical"``.
        lo: Smallest finite value on a numeric axis (``None`` if it has no values).
        hi: Largest finite value on a numeric axis (``None`` if it has no values).
        categories: Distinct values of a categorical axis in sorted order (bools, then numbers,
            then strings; other values as their ``str()``), bottom to top.
        is_metric: True for the metric axis (referred to as ``summary.<key>``).
        has_missing: Whether some run has no value on this axis.
        integer: A numeric axis whose values are all whole numbers.
    """

    key: str
    kind: AxisKind
    lo: float | None = None
    hi: float | None = None
    categories: tuple[Any, ...] = ()
    is_metric: bool = False
    has_missing: bool = False
    integer: bool = False
    _index: dict[tuple[int, Any], int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind == "categorical" and not self._index:
            for i, c in enumerate(self.categories):
                self._index.setdefault(_canon(c), i)

    @property
    def ref(self) -> str:
        """How the filter language names this axis: ``config.<key>`` or ``summary.<key>``."""
        return format_key(self.key, "summary" if self.is_metric else "config")

    @property
    def numeric(self) -> bool:
        """True for linear and log axes."""
        return self.kind != "categorical"

    @property
    def empty(self) -> bool:
        """True when no run has a (finite) value on this axis."""
        return not self.categories if self.kind == "categorical" else self.lo is None

    @property
    def steps(self) -> int:
        """Number of cursor buckets: 16, 1 for a constant axis, categories, 0 if empty."""
        if self.kind == "categorical":
            return len(self.categories)
        if self.lo is None or self.hi is None:
            return 0
        return 1 if self.hi == self.lo else STEPS

    @property
    def labels(self) -> tuple[str, ...]:
        """Sanitised display labels of the categories (``true``/``false`` for bools)."""
        return tuple(_category_label(c) for c in self.categories)

    def category_index(self, value: Any) -> int | None:
        """Index of ``value`` among the categories, or None."""
        if _is_missing(value):
            return None
        return self._index.get(_canon(value))

    def position(self, value: Any) -> float | None:
        """Where ``value`` sits on the axis, 0 (bottom) .. 1 (top); None when missing/unknown."""
        if self.kind == "categorical":
            i = self.category_index(value)
            return None if i is None else (i + 0.5) / len(self.categories)
        if self.lo is None or self.hi is None or not _is_number(value):
            return None
        v = float(value)
        if not math.isfinite(v):
            return None
        return self._to_pos(v)

    def _to_pos(self, v: float) -> float:
        lo, hi = self.lo, self.hi
        assert lo is not None and hi is not None
        if hi == lo:
            return 0.5
        if self.kind == "log":
            if v <= 0:
                return 0.0
            p = (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
        else:
            p = (v - lo) / (hi - lo)
        return 0.0 if p < 0 else 1.0 if p > 1 else p

    def value_at(self, p: float) -> float:
        """The data value at position ``p`` (0..1) of a numeric axis; exact at both ends."""
        lo, hi = self.lo, self.hi
        if lo is None or hi is None:
            raise ValueError(f"axis {self.key!r} has no numeric range")
        if p <= 0:
            return lo
        if p >= 1:
            return hi
        if self.kind == "log":
            a, b = math.log10(lo), math.log10(hi)
            return 10 ** (a + p * (b - a))
        return lo + p * (hi - lo)

    def bucket(self, p: float) -> int:
        """The bucket index holding position ``p``."""
        n = self.steps
        return max(0, min(n - 1, int(p * n))) if n else 0


def build_axes(runs_values: list[dict[str, Any]], keys: list[str], metric: str) -> list[Axis]:
    """Axes for ``keys`` (config keys) followed by the ``metric`` axis, kinds inferred.

    Args:
        runs_values: One flat mapping per run holding its config values and its metric value.
        keys: Config keys to show, in order. Duplicates and the metric's own name are dropped.
        metric: The metric name (last axis); ``""`` for no metric axis.

    Returns:
        The axes, left to right.
    """
    seen: set[str] = set()
    out: list[Axis] = []
    for k in keys:
        if k in seen or k == metric:
            continue
        seen.add(k)
        out.append(_infer(k, [rv.get(k, _MISSING) for rv in runs_values], False))
    if metric:
        out.append(_infer(metric, [rv.get(metric, _MISSING) for rv in runs_values], True))
    return out


def _infer(key: str, values: list[Any], is_metric: bool) -> Axis:
    present = [v for v in values if not _is_missing(v)]
    has_missing = len(present) < len(values)
    if all(_is_number(v) for v in present):
        finite = [float(v) for v in present if math.isfinite(v)]
        if len(finite) < len(present):
            has_missing = True  # +/-inf: numeric but unplottable, drawn as missing
        if not finite:
            return Axis(key, "linear", is_metric=is_metric, has_missing=has_missing)
        lo, hi = min(finite), max(finite)
        kind: AxisKind = "linear"
        if lo > 0 and math.log10(hi / lo) >= _LOG_DECADES:
            kind = "log"
        integer = all(v == int(v) for v in finite)
        return Axis(key, kind, lo, hi, is_metric=is_metric, has_missing=has_missing,
                    integer=integer)
    reps: dict[tuple[int, Any], Any] = {}
    for v in present:
        reps.setdefault(_canon(v), v if isinstance(v, (bool, str)) or _is_number(v) else str(v))
    cats = tuple(reps[c] for c in sorted(reps))
    return Axis(key, "categorical", categories=cats, is_metric=is_metric, has_missing=has_missing)


# --------------------------------------------------------------------------------------------
# brushes


@dataclass(frozen=True)
class Brush:
    """A selection on one axis: ``lo <= value <= hi`` (numeric) or ``value in categories``.

    Attributes:
        axis_key: The key of the axis this brush belongs to.
        lo: Lower bound in data units (numeric brushes).
        hi: Upper bound in data units (numeric brushes).
        categories: The selected categories (categorical brushes); None for numeric brushes.
    """

    axis_key: str
    lo: float | None = None
    hi: float | None = None
    categories: frozenset[Any] | None = None
    _canon: frozenset[tuple[int, Any]] = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.categories is not None:
            cats = self.categories if isinstance(self.categories, frozenset) else frozenset(
                self.categories)
            object.__setattr__(self, "categories", cats)
            object.__setattr__(self, "_canon", frozenset(_canon(c) for c in cats))
        elif self.lo is None or self.hi is None:
            raise ValueError("a brush needs lo and hi, or categories")

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is selected; missing values never are."""
        if _is_missing(value):
            return False
        if self.categories is not None:
            return _canon(value) in self._canon
        if not _is_number(value):
            return False
        return self.lo <= value <= self.hi  # type: ignore[operator]


def _bound(axis: Axis, x: float, down: bool) -> float:
    """``x`` rounded outwards (down for a lower bound) to a short decimal that is still precise.

    Starts at 6 significant digits and adds digits until the rounding moves the bound by at
    most 1e-4 of the axis (a constant axis keeps its exact value).
    """
    if not math.isfinite(x):
        return x
    target = axis._to_pos(x) if axis.lo is not None and axis.lo != axis.hi else None
    for p in range(6, 18):
        s = f"{x:.{p}g}"
        v = float(s)
        if (down and v > x) or (not down and v < x):
            ctx = Context(prec=p)
            d = ctx.next_minus(Decimal(s)) if down else ctx.next_plus(Decimal(s))
            v = float(f"{float(d):.{p}g}")
            if (down and v > x) or (not down and v < x):
                continue
        if v == x or (target is not None and abs(axis._to_pos(v) - target) <= 1e-4):
            return v
    return x


def _span_brush(axis: Axis, k0: int, k1: int) -> Brush:
    """The brush covering buckets ``k0..k1`` (inclusive) of a numeric axis."""
    n = axis.steps
    lo = axis.value_at(k0 / n)
    hi = axis.value_at((k1 + 1) / n)
    if axis.integer and math.ceil(lo) <= math.floor(hi):
        # whole-number data: ceil/floor selects exactly the runs inside the buckets
        return Brush(axis.key, float(math.ceil(lo)), float(math.floor(hi)))
    return Brush(axis.key, _bound(axis, lo, True), _bound(axis, hi, False))


# --------------------------------------------------------------------------------------------
# state


class ParCoords:
    """Parallel-coordinates state: axes, runs, current axis, cursors and brushes.

    Attributes:
        axes: The axes, left to right (metric last).
        runs: ``(run_id, values)`` pairs; ``values`` maps axis keys to raw values.
        current: Index of the current axis.
        cursors: Cursor bucket per axis (0 = bottom bucket).
        brushes: Brushes by axis key.
        higher_is_better: Colour high metric values green (else red).
        show_unselected: Draw runs outside the brushes in grey (else hide them).
    """

    def __init__(
        self,
        axes: Sequence[Axis],
        runs: Sequence[tuple[str, Mapping[str, Any]]] = (),
        *,
        higher_is_better: bool = True,
        show_unselected: bool = True,
    ) -> None:
        """Create the state.

        Args:
            axes: The axes, usually from :func:`build_axes`.
            runs: ``(run_id, values)`` pairs.
            higher_is_better: Colour direction of the metric scale.
            show_unselected: Whether runs outside the brushes are drawn (grey).
        """
        self.axes: list[Axis] = list(axes)
        self.runs: list[tuple[str, Mapping[str, Any]]] = [(str(i), v) for i, v in runs]
        self.current = 0
        self.cursors: list[int] = [max(0, a.steps // 2 if a.numeric else 0) for a in self.axes]
        self.brushes: dict[str, Brush] = {}
        self.higher_is_better = higher_is_better
        self.show_unselected = show_unselected
        self._spans: dict[str, tuple[int, int]] = {}
        self._pos: list[list[float | None]] = [
            [a.position(v.get(a.key, _MISSING)) for _, v in self.runs] for a in self.axes
        ]

    @classmethod
    def from_runs(
        cls,
        runs: Sequence[tuple[str, Mapping[str, Any]]],
        keys: list[str],
        metric: str,
        **kwargs: Any,
    ) -> ParCoords:
        """Build axes from the runs' values and return the state.

        Args:
            runs: ``(run_id, values)`` pairs; values hold config keys and the metric.
            keys: Config keys to show.
            metric: The metric (last axis).
            **kwargs: Passed to :class:`ParCoords`.

        Returns:
            The new state.
        """
        axes = build_axes([dict(v) for _, v in runs], keys, metric)
        return cls(axes, runs, **kwargs)

    # -- navigation ---------------------------------------------------------------------------

    @property
    def current_axis(self) -> Axis | None:
        """The current axis, or None when there are no axes."""
        return self.axes[self.current] if self.axes else None

    @property
    def metric_axis(self) -> Axis | None:
        """The metric axis, or None."""
        return self.axes[-1] if self.axes and self.axes[-1].is_metric else None

    def move_axis(self, delta: int) -> bool:
        """Make the axis ``delta`` places to the right current (clamped). True if it moved."""
        if not self.axes:
            return False
        new = max(0, min(len(self.axes) - 1, self.current + delta))
        moved, self.current = new != self.current, new
        return moved

    def move_cursor(self, delta: int) -> bool:
        """Move the cursor ``delta`` buckets up the current axis (clamped). True if it moved."""
        axis = self.current_axis
        if axis is None or not axis.steps:
            return False
        old = self.cursors[self.current]
        self.cursors[self.current] = max(0, min(axis.steps - 1, old + delta))
        return self.cursors[self.current] != old

    def cursor_label(self) -> str:
        """The cursor's bucket on the current axis, sanitised: ``1e-4–3e-4`` or a category."""
        axis = self.current_axis
        if axis is None or not axis.steps:
            return "–"
        k = self.cursors[self.current]
        if axis.kind == "categorical":
            return axis.labels[k]
        if axis.steps == 1:
            return _short(axis.value_at(0))
        return f"{_short(axis.value_at(k / axis.steps))}–{_short(axis.value_at((k + 1) / axis.steps))}"

    # -- brushing -----------------------------------------------------------------------------

    def _span_of(self, axis: Axis) -> tuple[int, int] | None:
        """The bucket range of the brush on ``axis`` (derived for brushes set from outside)."""
        b = self.brushes.get(axis.key)
        if b is None or not axis.steps:
            return None
        if axis.kind == "categorical":
            idx = sorted(i for c in (b.categories or ()) if (i := axis.category_index(c)) is not None)
            return (idx[0], idx[-1]) if idx else None
        span = self._spans.get(axis.key)
        if span is not None:
            return span
        n = axis.steps
        assert b.lo is not None and b.hi is not None
        k0 = axis.bucket(axis._to_pos(b.lo) + 1e-9)
        k1 = max(k0, min(n - 1, math.ceil(axis._to_pos(b.hi) * n - 1e-9) - 1))
        return (k0, k1)

    def _apply_span(self, axis: Axis, k0: int, k1: int) -> bool:
        if axis.kind == "categorical":
            brush = Brush(axis.key, categories=frozenset(axis.categories[k0:k1 + 1]))
        else:
            brush = _span_brush(axis, k0, k1)
            self._spans[axis.key] = (k0, k1)
        changed = self.brushes.get(axis.key) != brush
        self.brushes[axis.key] = brush
        return changed

    def set_brush(self, brush: Brush) -> None:
        """Install a brush made elsewhere (e.g. parsed from a filter) on its axis.

        Args:
            brush: The brush; its ``axis_key`` must name one of the axes.

        Raises:
            KeyError: No axis has that key.
            ValueError: A categorical brush on a numeric axis or the other way round.
        """
        axis = next((a for a in self.axes if a.key == brush.axis_key), None)
        if axis is None:
            raise KeyError(brush.axis_key)
        if (brush.categories is None) != axis.numeric:
            raise ValueError(f"{axis.kind} axis {axis.key!r} cannot take this brush")
        self.brushes[brush.axis_key] = brush
        self._spans.pop(brush.axis_key, None)

    def brush_set(self) -> bool:
        """Brush the cursor's bucket on the current axis (replacing its brush). True if changed."""
        axis = self.current_axis
        if axis is None or not axis.steps:
            return False
        k = self.cursors[self.current]
        return self._apply_span(axis, k, k)

    def widen(self, step: int = 1) -> bool:
        """Grow (``step > 0``) or shrink the current axis' brush by ``|step|`` buckets per end.

        Shrinking never goes below one bucket: the cursor's, if it is inside the brush, else
        the brush's middle one. Without a brush, widening first brushes the cursor's bucket.

        Args:
            step: Buckets to add (positive) or remove (negative) at each end.

        Returns:
            True if the brush changed.
        """
        axis = self.current_axis
        if axis is None or not axis.steps or step == 0:
            return False
        span = self._span_of(axis)
        if span is None:
            if step < 0:
                return False
            k = self.cursors[self.current]
            span = (k, k)
        k0, k1 = span
        n = axis.steps
        if step > 0:
            k0, k1 = max(0, k0 - step), min(n - 1, k1 + step)
        else:
            n0, n1 = k0 - step, k1 + step
            if n0 > n1:
                c = self.cursors[self.current]
                n0 = n1 = c if k0 <= c <= k1 else (k0 + k1) // 2
            k0, k1 = n0, n1
        return self._apply_span(axis, k0, k1)

    def extend(self, delta: int) -> bool:
        """Move the cursor ``delta`` buckets and stretch the brush to cover it.

        Without a brush on the current axis, the cursor's bucket is brushed first.

        Args:
            delta: Buckets to move (positive is up).

        Returns:
            True if the brush changed.
        """
        axis = self.current_axis
        if axis is None or not axis.steps:
            return False
        span = self._span_of(axis) or (self.cursors[self.current],) * 2
        self.move_cursor(delta)
        c = self.cursors[self.current]
        k0, k1 = span
        return self._apply_span(axis, min(k0, c), max(k1, c))

    def clear(self) -> bool:
        """Remove the current axis' brush. True if there was one."""
        axis = self.current_axis
        if axis is None:
            return False
        self._spans.pop(axis.key, None)
        return self.brushes.pop(axis.key, None) is not None

    def clear_all(self) -> bool:
        """Remove every brush. True if there were any."""
        had = bool(self.brushes)
        self.brushes.clear()
        self._spans.clear()
        return had

    # -- selection ----------------------------------------------------------------------------

    def selected_mask(self) -> list[bool]:
        """Per run (in :attr:`runs` order): inside every brush?"""
        mask = [True] * len(self.runs)
        for axis in self.axes:
            b = self.brushes.get(axis.key)
            if b is None:
                continue
            for r, (_, values) in enumerate(self.runs):
                if mask[r] and not b.contains(values.get(axis.key, _MISSING)):
                    mask[r] = False
        return mask

    def selected_ids(self) -> set[str]:
        """Ids of the runs inside all brushes (all runs when nothing is brushed)."""
        return {rid for (rid, _), keep in zip(self.runs, self.selected_mask()) if keep}

    def to_filter_expr(self) -> str:
        """The brushes as a filter expression, axes left to right, joined with `` and ``.

        Numeric brushes read ``lo <= config.lr <= hi``; categorical ones
        ``config.opt in ("adam", "sgd")`` (strings always quoted, bools ``true``/``false``,
        numbers bare). Empty when nothing is brushed.
        """
        parts: list[str] = []
        for axis in self.axes:
            b = self.brushes.get(axis.key)
            if b is None:
                continue
            if b.categories is not None:
                order = {_canon(c): i for i, c in enumerate(axis.categories)}
                cats = sorted(b.categories, key=lambda c: (order.get(_canon(c), len(order)),
                                                           _canon(c)))
                parts.append(f"{axis.ref} in ({', '.join(_expr_value(c) for c in cats)})")
            else:
                assert b.lo is not None and b.hi is not None
                parts.append(f"{_exact(b.lo)} <= {axis.ref} <= {_exact(b.hi)}")
        return " and ".join(parts)


# --------------------------------------------------------------------------------------------
# rendering

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

    # rows
    if height >= 5:
        name_row, top_row, plot0, rows, bottom_row, legend_row = 0, 1, 2, height - 4, height - 2, height - 1
    elif height == 1:
        name_row = top_row = bottom_row = legend_row = -1
        plot0, rows = 0, 1
    else:
        name_row, top_row, bottom_row, plot0 = 0, -1, -1, 1
        legend_row = height - 1 if height >= 3 else -1
        rows = height - 1 - (legend_row >= 0)

    axes = pc.axes
    n = len(axes)
    sty = _Styles(color)
    if n == 0:
        if rows:
            grid.put(plot0 + (rows - 1) // 2, 0, _truncate("no axes to show", width), sty.dim)
        return _to_text(grid)

    xs = [int((i + 0.5) * width / n) for i in range(n)]
    slots = [(int(i * width / n), int((i + 1) * width / n)) for i in range(n)]
    missing_row = any(a.has_missing for a in axes) and rows >= 2
    data_rows = rows - (1 if missing_row else 0)
    sub = 4 * data_rows
    y_missing = 4 * data_rows + 1 if missing_row else None

    def ysub(p: float) -> int:
        return int((1.0 - p) * (sub - 1) + 0.5)

    mask_sel = pc.selected_mask()
    brushed = bool(pc.brushes)
    hide = brushed and (not pc.show_unselected or not color)

    # colour class per run: 0 unselected, 1 no metric, 2.. gradient levels (best drawn last)
    metric_pos = pc._pos[-1] if pc.metric_axis is not None else [None] * len(pc.runs)
    classes: list[int] = []
    for r in range(len(pc.runs)):
        if not mask_sel[r]:
            classes.append(0)
        elif metric_pos[r] is None:
            classes.append(1)
        else:
            classes.append(2 + _level(metric_pos[r], pc.higher_is_better))  # type: ignore[arg-type]

    yv = [[y_missing if p is None else ysub(p) for p in pos] for pos in pc._pos]
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

    W = width
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
                i = base + off
                masks[i] |= m
                cols[i] = c

    run_styles = sty.classes
    for row in range(rows):
        chars, styles = grid.chars[plot0 + row], grid.styles[plot0 + row]
        o = row * W
        for x in range(W):
            m = masks[o + x]
            if m:
                chars[x] = _BRAILLE[m]
                styles[x] = run_styles[cols[o + x]]

    # axes, missing slots, category labels, brushes, cursor
    cur = pc.current
    for i, axis in enumerate(axes):
        x = xs[i]
        is_cur = i == cur
        glyph_style = sty.axis_cur if is_cur else sty.axis
        for row in range(data_rows):
            grid.set(plot0 + row, x, "┃" if is_cur else "│", glyph_style)
        if missing_row and axis.has_missing:
            grid.set(plot0 + data_rows, x, "╎", glyph_style)
            grid.put(plot0 + data_rows, x + 1, "n/a", sty.label,
                     xs[i + 1] if i + 1 < n else W)
        label_limit = min(xs[i + 1] if i + 1 < n else W, x + 1 + max(3, (slots[i][1] - slots[i][0]) // 2))
        cats = axis.categories if axis.kind == "categorical" else ()
        inline = bool(cats) and len(cats) <= data_rows
        if inline:
            labels = axis.labels
            for k in range(len(cats)):
                row = ysub((k + 0.5) / len(cats)) >> 2
                on_cursor = is_cur and pc.cursors[i] == k
                grid.put(plot0 + row, x + 1, labels[k], sty.label_cur if on_cursor else sty.label,
                         label_limit)
        # brush
        b = pc.brushes.get(axis.key)
        if b is not None and axis.steps:
            for row in _brush_rows(axis, b, ysub, data_rows):
                grid.set(plot0 + row, x, "█", sty.brush)
        # cursor
        if is_cur and axis.steps:
            k = pc.cursors[i]
            p = (k + 0.5) / axis.steps
            grid.set(plot0 + min(data_rows - 1, ysub(p) >> 2), x, "◆", sty.cursor)
        # tick labels and names
        s0, s1 = slots[i]
        if top_row >= 0 and not axis.empty:
            if axis.numeric:
                top, bottom = _short(axis.hi), _short(axis.lo)  # type: ignore[arg-type]
                if axis.kind == "log":
                    bottom += " log" if cell_len(bottom) + 4 < s1 - s0 else ""
            elif inline:
                top, bottom = "", ""
            else:
                top, bottom = axis.labels[-1], axis.labels[0]
            _centre(grid, top_row, x, s0, s1, top, sty.tick)
            _centre(grid, bottom_row, x, s0, s1, bottom, sty.tick)
        if name_row >= 0:
            _centre(grid, name_row, x, s0, s1, sanitize(axis.key),
                    sty.name_cur if is_cur else sty.name)

    if legend_row >= 0:
        _legend(grid, legend_row, pc, sty, sum(mask_sel), brushed)
    return _to_text(grid)


def _brush_rows(axis: Axis, b: Brush, ysub: Any, data_rows: int) -> Iterable[int]:
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
    top = ysub(axis._to_pos(b.hi)) >> 2
    bot = ysub(axis._to_pos(b.lo)) >> 2
    return range(max(0, top), min(data_rows - 1, bot) + 1)


def _legend(grid: _Grid, row: int, pc: ParCoords, sty: _Styles, n_sel: int, brushed: bool) -> None:
    x = 0
    m = pc.metric_axis
    if m is not None:
        x = grid.put(row, x, _truncate(sanitize(m.key), 20) + " ", sty.legend)
        if m.empty:
            x = grid.put(row, x, "no values", sty.dim)
        else:
            lo = _short(m.lo) if m.numeric else m.labels[0]  # type: ignore[arg-type]
            hi = _short(m.hi) if m.numeric else m.labels[-1]  # type: ignore[arg-type]
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
