"""``ParCoordsView``: the parallel-coordinates plot as a focusable Textual widget.

The widget owns a :class:`~tracker.tui.parcoords.ParCoords` and draws it with
:func:`~tracker.tui.parcoords.render` at its content size. Keys (each binding has an id, so an
app keymap can rebind it):

======================  ==========================================================
``left`` / ``right``    previous / next axis
``up`` / ``down``       move the cursor one bucket (1/16 of the axis, or a category)
``shift+up/down``       move the cursor and stretch the brush to cover it
``b``                   brush the cursor's bucket
``+`` (``=``) / ``-``   widen / shrink the brush by one bucket at each end
``x`` / ``X``           clear the current axis' brush / all brushes
``u``                   show or hide the runs outside the brushes
======================  ==========================================================

Whenever the brushes change the widget posts :class:`ParCoordsView.BrushesChanged` with the
filter expression (for the filter bar) and the selected run ids (for the runs table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

from tracker.tui.parcoords import ParCoords
from tracker.tui.parcoords import render as render_parcoords

__all__ = ["ParCoordsView"]


class ParCoordsView(Widget, can_focus=True):
    """A keyboard-brushable parallel-coordinates plot of runs."""

    DEFAULT_CSS = """
    ParCoordsView {
        width: 1fr;
        height: 1fr;
        min-height: 5;
    }
    """

    BINDINGS = [
        Binding("left", "axis_prev", "Prev axis", id="parcoords.axis_prev"),
        Binding("right", "axis_next", "Next axis", id="parcoords.axis_next"),
        Binding("up", "cursor_up", "Cursor up", show=False, id="parcoords.cursor_up"),
        Binding("down", "cursor_down", "Cursor down", show=False, id="parcoords.cursor_down"),
        Binding("shift+up", "extend_up", "Extend brush up", show=False,
                id="parcoords.extend_up"),
        Binding("shift+down", "extend_down", "Extend brush down", show=False,
                id="parcoords.extend_down"),
        Binding("b", "brush_set", "Brush", id="parcoords.brush_set"),
        Binding("plus,equals_sign", "widen", "Widen", key_display="+", id="parcoords.widen"),
        Binding("minus", "shrink", "Shrink", key_display="-", id="parcoords.shrink"),
        Binding("x", "clear", "Clear brush", id="parcoords.clear"),
        Binding("X,shift+x", "clear_all", "Clear all", key_display="X",
                id="parcoords.clear_all"),
        Binding("u", "toggle_unselected", "Show unselected", show=False,
                id="parcoords.toggle_unselected"),
    ]

    class BrushesChanged(Message):
        """The brushes changed.

        Attributes:
            expr: The brushes as a filter expression (``""`` when nothing is brushed).
            selected: Ids of the runs inside every brush (all runs when nothing is brushed).
        """

        def __init__(self, expr: str, selected: set[str], view: ParCoordsView | None = None) -> None:
            """Create the message.

            Args:
                expr: The filter expression.
                selected: The selected run ids.
                view: The widget that sent it.
            """
            super().__init__()
            self.expr = expr
            self.selected = selected
            self.view = view

        @property
        def control(self) -> ParCoordsView | None:
            """The ``ParCoordsView`` whose brushes changed."""
            return self.view

    def __init__(
        self,
        *,
        higher_is_better: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """Create an empty plot; fill it with :meth:`set_data`.

        Args:
            higher_is_better: Colour high metric values green (else red).
            name: Widget name.
            id: Widget id.
            classes: CSS classes.
            disabled: Start disabled.
        """
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.higher_is_better = higher_is_better
        self.pc = ParCoords([], [], higher_is_better=higher_is_better)

    # -- data ---------------------------------------------------------------------------------

    def set_data(
        self,
        runs: Sequence[tuple[str, Mapping[str, Any]]],
        keys: list[str],
        metric: str,
    ) -> None:
        """Show ``runs`` on axes ``keys`` + ``metric``, keeping what still applies.

        The current axis, cursors and brushes survive for axes that keep their key and stay
        numeric / categorical. Posts :class:`BrushesChanged` if brushes were or are active and
        the expression or the selection changed (a brush was dropped, or new runs fall inside
        the brushes); without brushes every run is selected and nothing is posted.

        Args:
            runs: ``(run_id, values)`` pairs; ``values`` holds the config keys and the metric.
            keys: Config keys for the axes, left to right.
            metric: The metric for the last axis.
        """
        old = self.pc
        before = (old.to_filter_expr(), old.selected_ids())
        pc = ParCoords.from_runs(runs, keys, metric, higher_is_better=self.higher_is_better,
                                 show_unselected=old.show_unselected)
        index = {a.key: i for i, a in enumerate(pc.axes)}
        for i, axis in enumerate(old.axes):
            j = index.get(axis.key)
            if j is None:
                continue
            new_axis = pc.axes[j]
            if new_axis.steps:
                pc.cursors[j] = min(old.cursors[i], new_axis.steps - 1)
            brush = old.brushes.get(axis.key)
            if brush is not None and (brush.categories is None) == new_axis.numeric:
                pc.set_brush(brush)
        cur = old.current_axis
        if cur is not None and cur.key in index:
            pc.current = index[cur.key]
        self.pc = pc
        after = (pc.to_filter_expr(), pc.selected_ids())
        if (before[0] or after[0]) and after != before:
            self._brushes_changed()
        self.refresh()

    # -- drawing ------------------------------------------------------------------------------

    def render(self) -> Text:
        """The plot at the widget's content size."""
        size = self.content_size
        return render_parcoords(self.pc, size.width, size.height, color=not self.app.no_color)

    # -- actions ------------------------------------------------------------------------------

    def _brushes_changed(self) -> None:
        self.post_message(
            self.BrushesChanged(self.pc.to_filter_expr(), self.pc.selected_ids(), self))

    def _after(self, changed: bool) -> None:
        if changed:
            self._brushes_changed()
        self.refresh()

    def action_axis_prev(self) -> None:
        """Make the axis to the left current."""
        self.pc.move_axis(-1)
        self.refresh()

    def action_axis_next(self) -> None:
        """Make the axis to the right current."""
        self.pc.move_axis(1)
        self.refresh()

    def action_cursor_up(self) -> None:
        """Move the cursor up one bucket."""
        self.pc.move_cursor(1)
        self.refresh()

    def action_cursor_down(self) -> None:
        """Move the cursor down one bucket."""
        self.pc.move_cursor(-1)
        self.refresh()

    def action_extend_up(self) -> None:
        """Move the cursor up and stretch the brush to it."""
        self._after(self.pc.extend(1))

    def action_extend_down(self) -> None:
        """Move the cursor down and stretch the brush to it."""
        self._after(self.pc.extend(-1))

    def action_brush_set(self) -> None:
        """Brush the cursor's bucket on the current axis."""
        self._after(self.pc.brush_set())

    def action_widen(self) -> None:
        """Widen the current axis' brush by one bucket at each end."""
        self._after(self.pc.widen(1))

    def action_shrink(self) -> None:
        """Shrink the current axis' brush by one bucket at each end."""
        self._after(self.pc.widen(-1))

    def action_clear(self) -> None:
        """Clear the current axis' brush."""
        self._after(self.pc.clear())

    def action_clear_all(self) -> None:
        """Clear every brush."""
        self._after(self.pc.clear_all())

    def action_toggle_unselected(self) -> None:
        """Show or hide the runs outside the brushes."""
        self.pc.show_unselected = not self.pc.show_unselected
        self.refresh()
