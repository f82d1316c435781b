"""Parallel-coordinates brushes: a selection on one axis, and how a span of buckets becomes one
with short, still-precise bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Any

from tracker.tui.parcoords.axes import Axis, canon, is_missing, is_number


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
            object.__setattr__(self, "_canon", frozenset(canon(c) for c in cats))
        elif self.lo is None or self.hi is None:
            raise ValueError("a brush needs lo and hi, or categories")

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is selected; missing values never are."""
        if is_missing(value):
            return False
        if self.categories is not None:
            return canon(value) in self._canon
        if not is_number(value) or self.lo is None or self.hi is None:
            return False
        return self.lo <= value <= self.hi


def _bound(axis: Axis, x: float, down: bool) -> float:
    """``x`` rounded outwards (down for a lower bound) to a short decimal that is still precise.

    Starts at 6 significant digits and adds digits until the rounding moves the bound by at
    most 1e-4 of the axis (a constant axis keeps its exact value).
    """
    if not math.isfinite(x):
        return x
    target = axis.to_pos(x) if axis.lo is not None and axis.lo != axis.hi else None
    for p in range(6, 18):
        s = f"{x:.{p}g}"
        v = float(s)
        if (down and v > x) or (not down and v < x):
            ctx = Context(prec=p)
            d = ctx.next_minus(Decimal(s)) if down else ctx.next_plus(Decimal(s))
            v = float(f"{float(d):.{p}g}")
            if (down and v > x) or (not down and v < x):
                continue
        if v == x or (target is not None and abs(axis.to_pos(v) - target) <= 1e-4):
            return v
    return x


def span_brush(axis: Axis, k0: int, k1: int) -> Brush:
    """The brush covering buckets ``k0..k1`` (inclusive) of a numeric axis."""
    n = axis.steps
    lo = axis.value_at(k0 / n)
    hi = axis.value_at((k1 + 1) / n)
    if axis.integer and math.ceil(lo) <= math.floor(hi):
        # whole-number data: ceil/floor selects exactly the runs inside the buckets
        return Brush(axis.key, float(math.ceil(lo)), float(math.floor(hi)))
    return Brush(axis.key, _bound(axis, lo, True), _bound(axis, hi, False))
