"""``ChartView``: a Textual widget that owns metric series and draws them (STYLE.md H8).

The widget holds its data (one list of ``Series`` per metric), the view options as reactives
(smoothing, log-y, x axis, zoom window, follow, page) and nothing else: it never reads the store.
Data arrives from the screen (``set_series`` after a load, ``append`` for live points). The chart
keys are the widget's own ``BINDINGS`` (it takes focus), so every screen that shows a chart gets
the same keys, footer entries and keymap ids; a screen that reads at higher resolution when
zoomed listens for ``ChartView.Zoomed``.

Drawing is ``charts.render_grid`` at the content size, from ``render()``. The result is cached
by (size, data version, options), so the repaints Textual does for unrelated reasons cost a
dictionary lookup; the heavy per-series work (cleaning, sorting, EMA) is cached on each
``Series`` by ``charts``, so zooming, panning and resizing redo only the downsample and plot.

Live points change few cells (issue 18): once a chart has had points appended its axes grow in
round steps (``ChartSpec.grow``) instead of rescaling with every point, and a data change
refreshes only the cells that differ from the drawing on screen (``line_diff``), so over SSH a
live step costs a few hundred bytes rather than the whole chart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import RenderResult
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from tracker.tui.charts import X_MODES, ChartSpec, Series, grid_layout, render_grid, x_extent
from tracker.tui.widgets.line_diff import cells, changed_spans

__all__ = ["ChartView"]

MAX_SMOOTHING = 0.99
"""Upper end of the smoothing control (TensorBoard's slider goes to 0.999; 0.99 is plenty)."""

Point = tuple[float, float] | tuple[float, float, float]
"""A live point for ``ChartView.append``: ``(step, value)`` or ``(step, value, timestamp)``."""


class ChartView(Widget):
    """Line charts of one or several metrics, with runs overlaid, smoothing and zoom.

    Give it data with ``set_series`` (a list of ``Series`` for one chart, or a mapping
    metric → list for a grid of charts) and live points with ``append``. The zoom window
    ``x_range`` is shared by all panels and is in the units of ``x_mode``.
    """

    DEFAULT_CSS = """
    ChartView {
        width: 1fr;
        height: 1fr;
        min-width: 20;
        min-height: 6;
    }
    """

    can_focus = True

    # Ids keep the Charts screen's old ones, so keymaps written for them still apply. Pairs share
    # one footer entry ("[ ] Smooth"), which leaves room for the screen's keys at 80 columns.
    _PAGES = Binding.Group("Page", compact=True)
    _SMOOTH = Binding.Group("Smooth", compact=True)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pagedown", "page(1)", "Next page", key_display="PgDn", id="charts.page_down", group=_PAGES),
        Binding("pageup", "page(-1)", "Prev page", key_display="PgUp", id="charts.page_up", group=_PAGES),
        Binding("left_square_bracket", "smoothing(-0.1)", "Smooth -", id="charts.smooth_less", group=_SMOOTH),
        Binding("right_square_bracket", "smoothing(0.1)", "Smooth +", id="charts.smooth_more", group=_SMOOTH),
        Binding("x", "x_mode", "X axis", id="charts.x_mode"),
        Binding("L", "log_y", "Log y", id="charts.log_y"),
        Binding("plus,equals_sign", "zoom(1)", "Zoom in", id="charts.zoom_in"),
        Binding("minus", "zoom(-1)", "Zoom out", show=False, id="charts.zoom_out"),
        Binding("left", "pan(-1)", "Pan left", show=False, id="charts.pan_left"),
        Binding("right", "pan(1)", "Pan right", show=False, id="charts.pan_right"),
        Binding("0", "reset_zoom", "Reset zoom", show=False, id="charts.reset"),
        Binding("f", "follow", "Follow", show=False, id="charts.follow"),
    ]

    @dataclass
    class Zoomed(Message):
        """The user changed the zoom window with a key (not live data extending it)."""

        view: ChartView
        """The chart whose window changed."""
        x_mode: str
        """Units of ``x_range``."""
        x_range: tuple[float, float] | None
        """The new window; None for all data."""
        reset: bool
        """True for "reset zoom" (read everything again), False for zoom and pan."""

    smoothing: reactive[float] = reactive(0.0)
    """EMA weight, 0 (off) to 0.99, like TensorBoard's smoothing slider (debiased EMA)."""

    log_y: reactive[bool] = reactive(False)
    """Logarithmic y axis; non-positive values are skipped and counted in the chart's note."""

    x_mode: reactive[str] = reactive("step")
    """x axis: ``"step"``, ``"time"`` (wall clock) or ``"relative"`` (seconds since each run's
    first point). Changing it clears ``x_range``, whose units it defines."""

    x_range: reactive[tuple[float, float] | None] = reactive(None)
    """Zoom window ``(lo, hi)`` in ``x_mode`` units, or None for all data."""

    follow: reactive[bool] = reactive(True)
    """When zoomed, let new points beyond the window's upper end extend it; False keeps the
    zoom exactly as it is while data arrives."""

    show_raw: reactive[bool] = reactive(True)
    """With smoothing on, also draw the raw values (faint)."""

    columns: reactive[int] = reactive(0)
    """Grid columns for several metrics; 0 picks from the width."""

    page: reactive[int] = reactive(0)
    """Which page of a grid too tall for the widget is shown (see ``charts.grid_layout``)."""

    def __init__(
        self,
        series: Sequence[Series] | Mapping[str, Sequence[Series]] | None = None,
        *,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's parameter name
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """Create the view.

        Args:
            series: Initial data, as for ``set_series``.
            name: Widget name.
            id: Widget id.
            classes: CSS classes.
            disabled: Start disabled.
        """
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._panels: dict[str, list[Series]] = {}
        self._version = 0
        self._rendered_key: tuple[Any, ...] | None = None
        self._rendered: Text = Text()
        self._pages = 1
        self._live = False  # points were appended: axes grow in steps
        self._diff_due = False
        if series is not None:
            self.set_series(series)

    # ---------------------------------------------------------------------------------------
    # Data
    # ---------------------------------------------------------------------------------------

    @property
    def panels(self) -> dict[str, list[Series]]:
        """The data by metric (``""`` for the single chart given as a plain list). Read-only."""
        return {k: list(v) for k, v in self._panels.items()}

    @property
    def data_version(self) -> int:
        """Increases whenever the data changes (part of the render cache key)."""
        return self._version

    def set_series(self, series: Sequence[Series] | Mapping[str, Sequence[Series]]) -> None:
        """Replace all data.

        Args:
            series: One chart's runs, or metric name → runs for a grid (in display order).
                Series are kept as given (they are immutable by contract); ``append`` builds
                new ones.
        """
        old = list(self._panels)
        if isinstance(series, Mapping):
            self._panels = {str(metric): list(runs) for metric, runs in series.items()}
        else:
            self._panels = {"": list(series)}
        if list(self._panels) != old:
            self.page = 0  # other metrics: start from the first page
        self._changed()

    def append(
        self,
        metric: str,
        label: str,
        new_points: Iterable[Point],
        *,
        color_index: int | None = None,
    ) -> None:
        """Add live points to one run's series of one metric, keeping the zoom.

        The series is found by ``label`` within ``metric``; when missing it is created, with
        ``color_index``, else the colour the run has in another panel, else the next free one. With ``follow`` on, a zoom window whose
        upper end the new data passes is extended to it; otherwise ``x_range`` is untouched.

        Args:
            metric: Panel key (``""`` for a chart set from a plain list).
            label: The run's legend label.
            new_points: ``(step, value)`` or ``(step, value, timestamp)`` tuples.
            color_index: Palette slot for a new series.
        """
        points = list(new_points)
        if not points:
            return
        runs = self._panels.setdefault(metric, [])
        for i, old in enumerate(runs):
            if old.label == label:
                runs[i] = _extended(old, points)
                break
        else:
            if color_index is None:
                color_index = self._color_for(label)
            runs.append(_extended(Series(label, [], [], color_index), points))
        self._live = True
        if self.follow and self.x_range is not None:
            extent = self._extent()
            if extent is not None and extent[1] > self.x_range[1]:
                self.x_range = (self.x_range[0], extent[1])
        self._changed()

    def _color_for(self, label: str) -> int:
        """The run's colour in other panels, else the next free one."""
        everyone = self._all_series()
        same = [s.color_index for s in everyone if s.label == label]
        used = {s.color_index for s in everyone}
        return same[0] if same else next(c for c in range(len(used) + 1) if c not in used)

    def _changed(self) -> None:
        self._version += 1
        if self._rendered_key is None or not self.is_mounted:
            self.refresh()
        elif not self._diff_due:  # once for a batch of appends
            self._diff_due = True
            self.call_later(self._refresh_changed_cells)

    def _refresh_changed_cells(self) -> None:
        """Refresh only the cells where the new drawing differs from the one on screen."""
        self._diff_due = False
        width, height = self.content_size
        old = self._rendered
        if width <= 0 or height <= 0 or self._rendered_key is None or self._rendered_key[:2] != (width, height):
            self.refresh()
            return
        new = self._render_text(width, height)
        if new is old:
            return
        console = self.app.console
        old_lines = old.split("\n", allow_blank=True)
        new_lines = new.split("\n", allow_blank=True)
        for y in range(height):
            o = old_lines[y] if y < len(old_lines) else Text()
            n = new_lines[y] if y < len(new_lines) else Text()
            if o.plain == n.plain and o.spans == n.spans and o.style == n.style:
                continue
            for a, b in changed_spans(cells(o.render(console)), cells(n.render(console))):
                self.refresh(Region(a, y, b - a, 1))

    def _all_series(self) -> list[Series]:
        return [s for runs in self._panels.values() for s in runs]

    def _extent(self) -> tuple[float, float] | None:
        return x_extent(self._all_series(), self.x_mode)

    # ---------------------------------------------------------------------------------------
    # Reactive plumbing
    # ---------------------------------------------------------------------------------------

    def validate_smoothing(self, value: float) -> float:
        """Clamp to 0..0.99 and round to the slider's 0.01 steps (NaN → 0)."""
        if value != value:
            return 0.0
        return round(min(max(float(value), 0.0), MAX_SMOOTHING), 2)

    def validate_x_mode(self, value: str) -> str:
        """Accept only the modes in ``charts.X_MODES``."""
        if value not in X_MODES:
            raise ValueError(f"x_mode must be one of {X_MODES}, not {value!r}")
        return value

    def validate_x_range(self, value: tuple[float, float] | None) -> tuple[float, float] | None:
        """Order the window's ends; a non-finite or malformed window means "all data"."""
        if value is None:
            return None
        try:
            lo, hi = float(value[0]), float(value[1])
        except (TypeError, ValueError, IndexError):
            return None
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        return (lo, hi) if lo <= hi else (hi, lo)

    def watch_x_mode(self, old: str, new: str) -> None:
        """A window in steps means nothing in seconds: show everything after a mode change."""
        if old != new:
            self.x_range = None

    # ---------------------------------------------------------------------------------------
    # Verbs for the screen's bindings
    # ---------------------------------------------------------------------------------------

    def zoom_in(self, factor: float = 2.0) -> None:
        """Narrow the x window by ``factor``.

        Centred on the current window, except when it shows the newest data and ``follow``
        is on: then the right edge stays put, so a live run stays in view.

        Args:
            factor: Zoom factor (> 1).
        """
        extent = self._extent()
        if extent is None or factor <= 1:
            return
        lo, hi = self.x_range or extent
        min_span = max((extent[1] - extent[0]) * 1e-6, 1.0 if self.x_mode == "step" else 1e-3)
        span = max((hi - lo) / factor, min_span)
        if self.follow and hi >= extent[1]:
            self.x_range = (hi - span, hi)
        else:
            mid = (lo + hi) / 2
            self.x_range = (mid - span / 2, mid + span / 2)

    def zoom_out(self, factor: float = 2.0) -> None:
        """Widen the x window by ``factor``; back to all data once it covers everything.

        Args:
            factor: Zoom factor (> 1).
        """
        extent = self._extent()
        if extent is None or self.x_range is None or factor <= 1:
            return
        lo, hi = self.x_range
        span = (hi - lo) * factor
        if span >= extent[1] - extent[0]:
            self.x_range = None
            return
        mid = (lo + hi) / 2
        lo, hi = mid - span / 2, mid + span / 2
        if lo < extent[0]:
            lo, hi = extent[0], extent[0] + span
        elif hi > extent[1]:
            lo, hi = extent[1] - span, extent[1]
        self.x_range = (lo, hi)

    def pan(self, direction: int | str) -> None:
        """Move the zoom window by a quarter of its width, staying within the data.

        Args:
            direction: ``"left"``/``"right"``, or a negative/positive number (its magnitude
                multiplies the step).
        """
        if self.x_range is None:
            return
        extent = self._extent()
        if extent is None:
            return
        if isinstance(direction, str):
            amount = {"left": -1.0, "right": 1.0}.get(direction, 0.0)
        else:
            amount = float(direction)
        if not amount:
            return
        lo, hi = self.x_range
        span = hi - lo
        shift = span / 4 * amount
        lo, hi = lo + shift, hi + shift
        if lo < extent[0]:
            lo, hi = extent[0], extent[0] + span
        if hi > extent[1]:
            lo, hi = extent[1] - span, extent[1]
        self.x_range = (lo, hi)

    def reset_zoom(self) -> None:
        """Show all data."""
        self.x_range = None

    def cycle_x_mode(self) -> None:
        """Step → wall time → relative time → step (clears the zoom)."""
        self.x_mode = X_MODES[(X_MODES.index(self.x_mode) + 1) % len(X_MODES)]

    def toggle_log_y(self) -> None:
        """Switch between linear and logarithmic y."""
        self.log_y = not self.log_y

    def adjust_smoothing(self, delta: float) -> None:
        """Change the EMA weight by ``delta`` (clamped to 0..0.99).

        Args:
            delta: e.g. +0.1 / -0.1 from the screen's keys.
        """
        self.smoothing = self.smoothing + delta

    # ---------------------------------------------------------------------------------------
    # Key actions (the BINDINGS above)
    # ---------------------------------------------------------------------------------------

    @property
    def pages(self) -> int:
        """Pages of panels at the current size (1 when every chart fits)."""
        return self._pages

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Page keys only while there is a page that way (the footer shows them then)."""
        if action == "page" and parameters:
            delta = parameters[0]
            return self.page < self._pages - 1 if isinstance(delta, int) and delta > 0 else self.page > 0
        return True

    def watch_page(self) -> None:
        """Show or hide PgDn/PgUp in the footer for the new page."""
        self.refresh_bindings()

    def action_page(self, delta: int) -> None:
        """Show the next (``delta`` > 0) or previous page of charts."""
        self.page = min(max(0, self.page + delta), self._pages - 1)

    def action_smoothing(self, delta: float) -> None:
        """Change the EMA weight (``[`` / ``]``)."""
        self.adjust_smoothing(delta)

    def action_x_mode(self) -> None:
        """Step → wall time → relative time."""
        self.cycle_x_mode()

    def action_log_y(self) -> None:
        """Linear ↔ logarithmic y."""
        self.toggle_log_y()

    def action_zoom(self, direction: int) -> None:
        """Zoom in (``direction`` > 0) or out, and tell the screen (it may re-read the window)."""
        self.zoom_in() if direction > 0 else self.zoom_out()
        self.post_message(self.Zoomed(self, self.x_mode, self.x_range, reset=False))

    def action_pan(self, direction: int) -> None:
        """Move the zoom window left (< 0) or right."""
        self.pan(direction)
        self.post_message(self.Zoomed(self, self.x_mode, self.x_range, reset=False))

    def action_reset_zoom(self) -> None:
        """Show all data again."""
        self.reset_zoom()
        self.post_message(self.Zoomed(self, self.x_mode, None, reset=True))

    def action_follow(self) -> None:
        """Let live points extend a zoom window, or keep it still."""
        self.follow = not self.follow
        self.notify(f"follow {'on' if self.follow else 'off'}", timeout=2)

    # ---------------------------------------------------------------------------------------
    # Rendering
    # ---------------------------------------------------------------------------------------

    def render(self) -> RenderResult:
        """Draw the charts at the content size (cached until size, data or options change)."""
        width, height = self.content_size
        if width <= 0 or height <= 0:
            return Text()
        return self._render_text(width, height)

    def _render_text(self, width: int, height: int) -> Text:
        color = not self.app.no_color
        background = self.background_colors[1].rgb
        key = (
            width,
            height,
            self._version,
            self.smoothing,
            self.log_y,
            self.x_mode,
            self.x_range,
            self.show_raw,
            self.columns,
            self.page,
            color,
            background,
            self._live,
        )
        if key != self._rendered_key:
            self._update_pages(width, height)
            panels = [
                ChartSpec(
                    runs,
                    title=metric,
                    log_y=self.log_y,
                    x_mode=self.x_mode,
                    x_range=self.x_range,
                    smoothing=self.smoothing,
                    show_raw=self.show_raw,
                    grow=self._live,
                )
                for metric, runs in self._panels.items()
            ]
            self._rendered = render_grid(
                panels,
                width,
                height,
                columns=self.columns or None,
                page=self.page,
                color=color,
                background=background,
            )
            self._rendered_key = key
        return self._rendered

    def _update_pages(self, width: int, height: int) -> None:
        """Recount the pages at this size; the footer shows the page keys only when needed."""
        pages = grid_layout(len(self._panels), width, height, self.columns or None).pages
        if len(self._panels) <= 1:
            pages = 1
        if pages != self._pages:
            self._pages = pages
            self.call_later(self.refresh_bindings)
        if self.page >= pages:
            self.set_reactive(ChartView.page, pages - 1)


def _extended(old: Series, points: list[Point]) -> Series:
    """A new ``Series``: ``old`` plus live ``points`` (wall times padded with NaN where missing)."""
    steps = [p[0] for p in points]
    values = [p[1] for p in points]
    has_time = any(len(p) > 2 for p in points)
    times = [p[2] if len(p) > 2 else math.nan for p in points]
    old_x = old.steps if old.steps is not None else old.xs
    n = min(len(old_x), len(old.ys))
    stamps = None
    if old.timestamps is not None or has_time:
        old_t = list(old.timestamps)[:n] if old.timestamps is not None else []
        old_t += [math.nan] * (n - len(old_t))
        stamps = old_t + times
    return Series(old.label, [*old_x[:n], *steps], [*old.ys[:n], *values], old.color_index, None, stamps)
