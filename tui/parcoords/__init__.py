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

Modules
    :mod:`.axes` (axis kinds, positions, labels), :mod:`.brushes` (selections and their
    rounding), :mod:`.model` (:class:`ParCoords`: cursor, brushes, selection, and the filter
    expression, built as a syntax tree and written by :mod:`tracker.tui.filter.writer`) and
    :mod:`.renderer`. Only the renderer uses Rich.

Rendering
    :func:`render` draws into a :class:`rich.text.Text` of exactly ``height`` lines, each at
    most ``width`` cells, using a braille canvas (2x4 dots per cell). Every string taken from
    the data goes through :func:`~tracker.tui.text.sanitize` and into ``Text`` objects, never
    into markup.
"""

from __future__ import annotations

from tracker.tui.parcoords.axes import STEPS, Axis, AxisKind, build_axes, format_key
from tracker.tui.parcoords.brushes import Brush
from tracker.tui.parcoords.model import ParCoords
from tracker.tui.parcoords.renderer import render

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
