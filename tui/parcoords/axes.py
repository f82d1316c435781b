"""Parallel-coordinates axes: what kind each axis is (linear, log, categorical), where a value
sits on it, and how values and categories are labelled. No Textual, no Rich."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Literal

from tracker.tui.filter.writer import key as filter_key
from tracker.tui.filter.writer import key_text, number_text
from tracker.tui.text import sanitize

AxisKind = Literal["linear", "log", "categorical"]

STEPS = 16
"""Buckets on a numeric axis: the cursor moves, and brushes grow, by 1/16 of the axis."""

_LOG_DECADES = 2.0  # positive values spanning at least this many decades get a log axis
MISSING = object()
"""The value of a key a run does not have (``None`` is a value: drawn as missing too)."""


def is_number(v: Any) -> bool:
    """A real number, bools excluded (NumPy scalars, Decimal and Fraction included)."""
    t = type(v)
    if t is float or t is int:  # the common case, without the (slow) ABC check
        return True
    return isinstance(v, numbers.Real) and t is not bool and not isinstance(v, bool)


def is_missing(v: Any) -> bool:
    """No value to place on an axis: absent, ``None`` or NaN."""
    if v is MISSING or v is None:
        return True
    if type(v) is float:
        return v != v
    return is_number(v) and math.isnan(v)


def canon(v: Any) -> tuple[int, Any]:
    """A hashable, sortable identity for a category: bools, numbers, strings, anything else.

    Tagging keeps ``True`` and ``1`` apart (Python hashes them alike) and makes mixed
    categories sortable. Other values (lists, dicts) count as their ``str()``.
    """
    if isinstance(v, bool):
        return (0, v)
    if is_number(v):
        return (1, float(v))
    return (2, v if isinstance(v, str) else str(v))


def short_label(v: float) -> str:
    """A compact label for a number (3 significant digits), e.g. ``0.0003``, ``1e-5``, ``128``."""
    if not math.isfinite(v):
        return number_text(v)
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
    if is_number(v):
        return short_label(float(v))
    return sanitize(v)



def format_key(key: str, prefix: str) -> str:
    """``key`` as the filter language refers to it: ``config.lr``, ``summary."val loss"``.

    Args:
        key: The config key or metric name.
        prefix: ``"config"`` or ``"summary"``.

    Returns:
        ``prefix.key``, the key double-quoted (``\\`` and ``"`` backslash-escaped) when it holds
        characters outside ``[A-Za-z0-9_./-]`` or is empty (written by the filter's writer).
    """
    return key_text(filter_key(key, prefix))


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
                self._index.setdefault(canon(c), i)

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
        if is_missing(value):
            return None
        return self._index.get(canon(value))

    def position(self, value: Any) -> float | None:
        """Where ``value`` sits on the axis, 0 (bottom) .. 1 (top); None when missing/unknown."""
        if self.kind == "categorical":
            i = self.category_index(value)
            return None if i is None else (i + 0.5) / len(self.categories)
        if self.lo is None or self.hi is None or not is_number(value):
            return None
        v = float(value)
        if not math.isfinite(v):
            return None
        return self.to_pos(v)

    def to_pos(self, v: float) -> float:
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
        out.append(_infer(k, [rv.get(k, MISSING) for rv in runs_values], False))
    if metric:
        out.append(_infer(metric, [rv.get(metric, MISSING) for rv in runs_values], True))
    return out


def _infer(key: str, values: list[Any], is_metric: bool) -> Axis:
    present = [v for v in values if not is_missing(v)]
    has_missing = len(present) < len(values)
    if all(is_number(v) for v in present):
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
        reps.setdefault(canon(v), v if isinstance(v, (bool, str)) or is_number(v) else str(v))
    cats = tuple(reps[c] for c in sorted(reps))
    return Axis(key, "categorical", categories=cats, is_metric=is_metric, has_missing=has_missing)
