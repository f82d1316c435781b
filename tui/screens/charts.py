"""Charts of the chosen runs: one or several metrics, runs overlaid in distinct colours, EMA
smoothing, step / wall-time / relative-time x axis, log-y, zoom and pan. Long series come from
the store already reduced to block extremes; zooming in re-reads the visible range at full
resolution.

In low-bandwidth mode (over SSH, or ``--low-bandwidth``) live points are read and drawn at most
once every ``LIVE_INTERVAL`` seconds; keys are answered at once (issue 18)."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from tracker.tui.charts import Series
from tracker.tui.data import RunSeries
from tracker.tui.diff import training_first
from tracker.tui.messages import SeriesLoaded, StoreChanged
from tracker.tui.screens.base import TitleBar, TrackerScreen
from tracker.tui.text import sanitize
from tracker.tui.widgets.chart_view import ChartView
from tracker.tui.widgets.key_bar import KeyBar
from tracker.tui.widgets.pickers import Picker
from tracker.tui.widgets.run_extras import against, step_metrics, x_metric_for

LIVE_INTERVAL = 1.0
"""Low-bandwidth mode: seconds between live updates of the charts."""


def series_label(run_name: str) -> str:
    return sanitize(run_name)


def to_chart_series(items: list[RunSeries]) -> list[Series]:
    """Store series (one per run) to chart series, coloured by position."""
    out = []
    for i, s in enumerate(items):
        d = s.data
        label = series_label(s.run_name)
        out.append(Series(label=label, xs=[float(x) for x in d.steps], ys=list(d.values), color_index=i,
                          steps=list(d.steps), timestamps=list(d.ts),
                          skipped=d.nonfinite if d.downsampled else 0))
    return out


class ChartsScreen(TrackerScreen):
    """Overlaid metric charts for the selected runs."""

    HELP_TITLE = "Charts"
    DEFAULT_CSS = """
    ChartsScreen ChartView { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="charts.back"),
        Binding("m", "pick_metrics", "Metrics", id="charts.metrics"),
        Binding("X", "pick_x", "X metric", show=False, id="charts.x_metric"),  # listed in help (?)
    ]  # the chart keys (smoothing, x axis, log y, zoom, pan, pages) are ChartView's own

    def __init__(self, run_ids: list[str], metric: str | None) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.metrics: list[str] = [metric] if metric else []
        self.records: list[Any] = []
        self.all_keys: list[str] = []
        self.cursor = 0  # points with a larger id are not in the chart yet
        self.last_step: dict[tuple[str, str], int] = {}
        self._last_live = 0.0  # when live points were last read (monotonic)
        self._live_timer: Any = None
        self.x_metric: str | None = None  # x = this metric's values (define_metric's step_metric, or X)
        self._x_picked = False  # the user chose (X): define_metric's default no longer applies
        self._defs: dict[str, str] | None = None  # define_metric step metrics, read once

    def compose(self) -> ComposeResult:
        yield TitleBar(id="charts-title")
        yield ChartView(id="chart")
        yield KeyBar(compact=True)

    def on_mount(self) -> None:
        self._load(None)

    @work(thread=True, exclusive=True, group="charts", exit_on_error=False)
    def _load(self, step_range: tuple[float, float] | None) -> None:
        reader = self.tapp.reader
        cursor = reader.max_point_id()  # before reading: later points arrive through append
        # One read for all runs (ten ``reader.run`` calls cost 7x as much), in the order given:
        # colours go by position. A run that vanished is left out.
        by_id = {r.id: r for r in reader.runs_by_id(self.run_ids)}
        recs = [by_id[i] for i in self.run_ids if i in by_id]
        keys = training_first({k for r in recs for k in r.metrics})
        metrics = [m for m in self.metrics if m in keys] or keys[:1]
        x = self.x_metric if self._x_picked else None
        if not self._x_picked and metrics:
            if self._defs is None:
                self._defs = step_metrics(reader.dir, [r.id for r in recs])
            x = x_metric_for(self._defs, metrics[0], keys)
        if x is not None:
            step_range = None  # a zoom window in steps means nothing on this axis
        data = {m: reader.series(recs, m, step_range=step_range) for m in metrics}
        xdata = {s.run_id: s for s in reader.series(recs, x)} if x is not None else None
        self.post_message(SeriesLoaded("*", [recs, keys, metrics, data, cursor, x, xdata], request=step_range))

    @on(SeriesLoaded)
    def _loaded(self, msg: SeriesLoaded) -> None:
        if msg.metric != "*":
            return
        recs, keys, metrics, data, cursor, x, xdata = msg.series
        self.records, self.all_keys, self.metrics, self.cursor, self.x_metric = recs, keys, metrics, cursor, x
        self.last_step = {(s.run_id, m): (s.data.steps[-1] if s.data.steps else -(2**63))
                          for m, items in data.items() for s in items}
        view = self.query_one(ChartView)
        panels = {m: to_chart_series(s) for m, s in data.items()}
        if xdata is not None:
            panels = {m: [against(cs, to_chart_series([xdata[s.run_id]])[0]) for cs, s in zip(series, data[m], strict=True)
                          if s.run_id in xdata] for m, series in panels.items()}
        view.set_series(panels)
        title = Text()
        # Each piece ends with its own spacing: a piece that starts with blanks lost them in the
        # rasterised screenshots ("3 runsval/loss").
        title.append(f"{len(recs)} run{'s' if len(recs) != 1 else ''} ", style="bold")
        title.append("· " + ", ".join(sanitize(m) for m in metrics) + "   ")
        if x is not None:
            title.append(f"x = {sanitize(x)}   ", style="bold")
        title.append("m metrics · [ ] smoothing · x axis · L log · +/- zoom · ←/→ pan · 0 reset", style="dim")
        self.set_title(title)

    @on(StoreChanged)
    def _changed(self, _: StoreChanged | None = None) -> None:
        if not any(r.state == "running" for r in self.records):
            return
        wait = self._last_live + LIVE_INTERVAL - time.monotonic() if self.tapp.low_bandwidth else 0.0
        if wait > 0:  # coalesce: one read and one redraw per LIVE_INTERVAL
            if self._live_timer is None:
                self._live_timer = self.set_timer(wait, self._live_due)
            return
        self._last_live = time.monotonic()
        self._fetch_new(self.cursor, [r.rid for r in self.records])

    def _live_due(self) -> None:
        self._live_timer = None
        self._changed()

    @work(thread=True, exclusive=True, group="charts-live", exit_on_error=False)
    def _fetch_new(self, cursor: int, rids: list[int]) -> None:
        pts = self.tapp.reader.points_after(cursor, rids)
        if pts:
            self.post_message(SeriesLoaded("+", [pts]))

    @on(SeriesLoaded)
    def _appended(self, msg: SeriesLoaded) -> None:
        """New points of running runs: extend the lines, keep the zoom (follow extends it)."""
        if msg.metric != "+":
            return
        (pts,) = msg.series
        if self.x_metric is not None:  # x from another metric: read again (steps cannot be appended)
            if any(p[2] in self.metrics or p[2] == self.x_metric for p in pts):
                self._load(None)
            else:
                self.cursor = max([self.cursor, *(p[0] for p in pts)])
            return
        by_rid = {r.rid: r for r in self.records}
        view = self.query_one(ChartView)
        grouped: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
        for pid, rid, key, step, ts, value in pts:
            self.cursor = max(self.cursor, pid)
            rec = by_rid.get(rid)
            if rec is None or key not in self.metrics or not isinstance(value, (int, float)):
                continue
            if step <= self.last_step.get((rec.id, key), -(2**63)):
                continue  # already drawn (read by the first load)
            grouped.setdefault((rec.id, key), []).append((step, float(value), ts))
        for (run_id, key), points in grouped.items():
            rec = next(r for r in self.records if r.id == run_id)
            self.last_step[(run_id, key)] = points[-1][0]
            view.append(key, series_label(rec.name), points,
                        color_index=[r.id for r in self.records].index(run_id))

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_pick_metrics(self) -> None:
        def chosen(sel: list[str] | None) -> None:
            if sel:
                self.metrics = sel[:6]
                self._load(None)

        self.app.push_screen(Picker("Metrics (several = a grid)", [(k, k) for k in self.all_keys], multi=True,
                                    checked=self.metrics), chosen)

    def action_pick_x(self) -> None:
        def chosen(sel: str | None) -> None:
            if sel is not None:
                self._x_picked = True
                self.x_metric = sel or None
                self.query_one(ChartView).x_range = None
                self._load(None)

        items = [("step (the run's step)", "")] + [(k, k) for k in self.all_keys if k not in self.metrics]
        self.app.push_screen(Picker("X axis: a metric's values (define_metric's step_metric is the default)",
                                    items), chosen)

    @on(ChartView.Zoomed)
    def _zoomed(self, msg: ChartView.Zoomed) -> None:
        """Read the zoom window at full resolution (store series are block extremes)."""
        if self.x_metric is not None and not msg.reset:
            return  # the window is in the x metric's units: the chart zooms what it has
        if msg.reset:
            self._load(None)
        elif msg.x_mode == "step" and msg.x_range is not None:
            self._load(msg.x_range)
