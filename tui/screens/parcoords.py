"""Parallel coordinates over config keys and one metric, with keyboard brushing. Brushes become a
filter expression in the runs table's filter bar."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from tracker.store import RunRecord
from tracker.tui.diff import flatten, lower_is_better
from tracker.tui.screens.base import TitleBar, TrackerScreen
from tracker.tui.text import sanitize
from tracker.tui.widgets.key_bar import KeyBar
from tracker.tui.widgets.parcoords_view import ParCoordsView
from tracker.tui.widgets.pickers import Picker


def run_values(r: RunRecord, metric: str | None) -> dict[str, Any]:
    """A run's flattened config plus the metric's summary value (keyed by the metric name)."""
    vals: dict[str, Any] = flatten(r.config)
    if metric:  # as r.summary.get(metric), without building the run's whole summary
        ov = r.summary_overrides
        st = r.metrics.get(metric)
        vals[metric] = ov[metric] if metric in ov else (None if st is None else st.last)
    return vals


class ParCoordsScreen(TrackerScreen):
    """Runs as lines across config axes and a metric axis."""

    HELP_TITLE = "Parallel coordinates"
    DEFAULT_CSS = """
    ParCoordsScreen ParCoordsView { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back (keep brushes)", id="parcoords.back"),
        Binding("a", "pick_axes", "Axes", id="parcoords.axes"),
        Binding("m", "pick_metric", "Metric", id="parcoords.metric"),
    ]

    def __init__(self, runs: list[RunRecord], config_keys: list[str], metric: str | None) -> None:
        super().__init__()
        self.runs = runs
        self.keys = list(config_keys)
        self.metric = metric
        self.n_selected = len(runs)

    def compose(self) -> ComposeResult:
        yield TitleBar(id="pc-title")
        yield ParCoordsView(id="pc")
        yield KeyBar(compact=True)

    def on_mount(self) -> None:
        view = self.query_one(ParCoordsView)
        saved = self.tapp.parcoords_state
        if saved is not None:
            view.pc = saved  # brushes, cursors and current axis survive leaving the screen
            if saved.brushes and not self._brushes_in_filter():
                # The user cleared or edited away the brushes' part of the runs filter: the
                # brushes went with it, or the next brush would bring them back.
                saved.clear_all()
                self.tapp.brush_expr = ""
        self._apply()
        view.focus()

    def _brushes_in_filter(self) -> bool:
        """Whether the runs filter still holds the expression the brushes last wrote."""
        rs = self.tapp.runs_screen()
        expr = self.tapp.brush_expr
        return rs is not None and bool(expr) and expr in rs.filter_text

    def _apply(self) -> None:
        view = self.query_one(ParCoordsView)
        view.higher_is_better = not lower_is_better(self.metric or "")
        data = [(r.id, run_values(r, self.metric)) for r in self.runs]
        view.set_data(data, self.keys, self.metric or "")
        self._title()

    def _title(self) -> None:
        t = Text()
        t.append(f"{self.n_selected}/{len(self.runs)} runs in brushes", style="bold")
        t.append("  axes: " + ", ".join(sanitize(k) for k in self.keys))
        if self.metric:
            t.append(f"  colour: {sanitize(self.metric)}")
        self.set_title(t)

    @on(ParCoordsView.BrushesChanged)
    def _brushes(self, msg: ParCoordsView.BrushesChanged) -> None:
        self.n_selected = len(msg.selected)
        self.tapp.parcoords_state = self.query_one(ParCoordsView).pc
        self._title()
        self.tapp.apply_brush_expr(msg.expr)

    def action_back(self) -> None:
        self.tapp.parcoords_state = self.query_one(ParCoordsView).pc
        self.app.pop_screen()

    def action_pick_axes(self) -> None:
        keys: set[str] = set()
        for r in self.runs:
            keys.update(flatten(r.config))

        def chosen(sel: list[str] | None) -> None:
            if sel:
                self.keys = sel
                self._apply()

        self.app.push_screen(Picker("Axes (config keys)", [(k, k) for k in sorted(keys)], multi=True,
                                    checked=self.keys), chosen)

    def action_pick_metric(self) -> None:
        keys = sorted({k for r in self.runs for k in r.summary})

        def chosen(m: str | None) -> None:
            if m:
                self.metric = m
                self._apply()

        self.app.push_screen(Picker("Metric axis (colours the lines)", [(k, k) for k in keys]), chosen)
