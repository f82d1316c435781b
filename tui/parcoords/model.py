"""Parallel-coordinates state: the axes, the runs, the current axis, one cursor per axis and one
brush per axis, and the filter expression the brushes make (written by the filter's writer)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tracker.tui.filter.ast import And, InList, Node, Range
from tracker.tui.filter.writer import key as filter_key
from tracker.tui.filter.writer import literal, write
from tracker.tui.parcoords.axes import MISSING, Axis, build_axes, canon, short_label
from tracker.tui.parcoords.brushes import Brush, span_brush


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
        self.positions: list[list[float | None]] = [
            [a.position(v.get(a.key, MISSING)) for _, v in self.runs] for a in self.axes
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
            return short_label(axis.value_at(0))
        return f"{short_label(axis.value_at(k / axis.steps))}–{short_label(axis.value_at((k + 1) / axis.steps))}"

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
        k0 = axis.bucket(axis.to_pos(b.lo) + 1e-9)
        k1 = max(k0, min(n - 1, math.ceil(axis.to_pos(b.hi) * n - 1e-9) - 1))
        return (k0, k1)

    def _apply_span(self, axis: Axis, k0: int, k1: int) -> bool:
        if axis.kind == "categorical":
            brush = Brush(axis.key, categories=frozenset(axis.categories[k0:k1 + 1]))
        else:
            brush = span_brush(axis, k0, k1)
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
                if mask[r] and not b.contains(values.get(axis.key, MISSING)):
                    mask[r] = False
        return mask

    def selected_ids(self) -> set[str]:
        """Ids of the runs inside all brushes (all runs when nothing is brushed)."""
        return {rid for (rid, _), keep in zip(self.runs, self.selected_mask()) if keep}

    def to_filter_expr(self) -> str:
        """The brushes as a filter expression, axes left to right, joined with `` and ``.

        Numeric brushes read ``lo <= config.lr <= hi``; categorical ones
        ``config.opt in ("adam", "sgd")`` (strings always quoted, bools ``true``/``false``,
        numbers bare). Empty when nothing is brushed. Written by the filter's writer from one
        syntax-tree node per brush, so it always reads back as exactly these brushes.
        """
        nodes = [self._brush_node(axis, b) for axis in self.axes
                 if (b := self.brushes.get(axis.key)) is not None]
        if not nodes:
            return ""
        return write(nodes[0] if len(nodes) == 1 else And(tuple(nodes)))

    @staticmethod
    def _brush_node(axis: Axis, b: Brush) -> Node:
        k = filter_key(axis.key, "summary" if axis.is_metric else "config")
        if b.categories is not None:
            order = {canon(c): i for i, c in enumerate(axis.categories)}
            cats = sorted(b.categories, key=lambda c: (order.get(canon(c), len(order)), canon(c)))
            return InList(k, tuple(literal(c) for c in cats), False)
        assert b.lo is not None and b.hi is not None
        return Range(k, literal(b.lo), True, literal(b.hi), True)
