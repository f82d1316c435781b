"""The Sweeps screen: each sweep's method, metric, progress, agents alive and best run; the
highlighted sweep's best-so-far curve, its trials (params, metric, state with the band a trial was
stopped at) and which parameters matter (``i``); ``P`` opens parallel coordinates on its params."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from tracker.tui.messages import StoreChanged
from tracker.tui.screens.base import TitleBar, TrackerScreen
from tracker.tui.text import sanitize
from tracker.tui.widgets.key_bar import KeyBar

BARS = "▁▂▃▄▅▆▇█"
ASCII_BARS = "_.-=+*#@"


@dataclass
class SweepInfo:
    row: Any
    n: int
    target: int | None
    agents: int
    best: float | None
    best_run: str | None


@dataclass
class Detail:
    sweep: Any
    trials: list[Any] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    importance: list[Any] = field(default_factory=list)
    curve: list[float] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def _best(trials: list[Any], goal: str) -> Any:
    done = [t for t in trials if t.value is not None]
    if not done:
        return None
    return (min if goal == "minimize" else max)(done, key=lambda t: t.value)


def load_sweeps(store: Any, project: str | None) -> list[SweepInfo]:
    from tracker.store.sweeps import coord, parse

    out = []
    for sw in coord.list_sweeps(store, project):
        trials = coord.trials(store, sw.id, sw.metric)
        try:
            cfg = parse(sw.config)
            target = cfg.run_cap or (cfg.grid_size() if cfg.method == "grid" else None)
        except ValueError:
            target = sw.run_cap
        b = _best(trials, sw.goal)
        out.append(SweepInfo(sw, len(trials), target, coord.agents_alive(store, sw.id),
                             None if b is None else b.value, None if b is None else b.run_id))
    return out


def load_detail(store: Any, sw: Any, cache: dict[Any, Any] | None = None) -> Detail:
    """The sweep's trials and curve; importance (seconds for thousands of trials) is recomputed only
    when a trial's value changed (``cache``: kept by the screen)."""
    from tracker.store.sweeps import coord, parse
    from tracker.store.sweeps.config import flatten
    from tracker.store.sweeps.importance import best_so_far, importance

    trials = coord.trials(store, sw.id, sw.metric)
    try:
        params = [p.path for p in parse(sw.config).params]
    except ValueError:
        params = sorted({k for t in trials for k in flatten(t.params)})
    rows = [(flatten(t.params), t.value) for t in trials if t.value is not None]
    key = (sw.id, tuple(params), tuple((t.tid, t.value) for t in trials if t.value is not None))
    cache = {} if cache is None else cache
    if key not in cache:
        cache.clear()
        cache[key] = importance(rows, params)
    names = {}
    for t in trials:
        if t.run_id:
            try:
                names[t.run_id] = store.run(t.run_id).name
            except LookupError:
                pass
    return Detail(sw, trials, params, cache[key], best_so_far([t.value for t in trials], sw.goal), names)


def sparkline(values: list[float], width: int, ascii_only: bool = False) -> str:
    if not values:
        return ""
    bars = ASCII_BARS if ascii_only else BARS
    if len(values) > width:  # keep the last value of each bucket: a best-so-far curve is monotone
        values = [values[min(len(values) - 1, int((i + 1) * len(values) / width) - 1)] for i in range(width)]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(bars[min(len(bars) - 1, int((v - lo) / span * (len(bars) - 1) + 0.5))] for v in values)


def trial_state(t: Any) -> str:
    if t.state == "stopped" and t.stop:
        band = t.stop.get("band")
        return f"stopped@{band}" if band is not None else "cancelled"
    if t.state == "running" and t.run_state == "crashed":
        return "crashed"
    return str(t.state)


class SweepsScreen(TrackerScreen):
    """Sweeps of the project (all projects when none is chosen)."""

    HELP_TITLE = "Sweeps"
    DEFAULT_CSS = """
    SweepsScreen #sweeps { height: 5; }
    SweepsScreen #curve { height: 2; }
    SweepsScreen #trials, SweepsScreen #importance { height: 1fr; }
    SweepsScreen .hidden { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="sweeps.back"),
        Binding("i", "toggle_importance", "Importance/trials", id="sweeps.importance"),
        Binding("P", "parcoords", "Par. coords", id="sweeps.parcoords"),
        Binding("R", "reload", "Reload", show=False, id="sweeps.reload"),
    ]

    def __init__(self, project: str | None) -> None:
        super().__init__()
        self.project = project
        self.sweeps: list[SweepInfo] = []
        self.detail: Detail | None = None
        self.show_importance = False
        self._importance_cache: dict[Any, Any] = {}
        # The screen's own read connection, used by one worker at a time (the reader's is shared
        # with the other screens' workers under its lock).
        self._store: Any = None
        self._lock = threading.Lock()

    def _read(self, fn: Any) -> Any:
        from tracker.store import Store, StoreMissing

        with self._lock:
            if self._store is None:
                try:
                    self._store = Store(self.tapp.reader.dir, create=False)
                except StoreMissing:
                    return None
            return fn(self._store)

    def on_unmount(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def compose(self) -> ComposeResult:
        yield TitleBar(id="sw-title")
        yield DataTable(id="sweeps", cursor_type="row", zebra_stripes=True)
        yield Static(id="curve")
        yield DataTable(id="trials", cursor_type="row")
        yield DataTable(id="importance", cursor_type="row", classes="hidden")
        yield KeyBar(compact=True)

    def on_mount(self) -> None:
        t = self.query_one("#sweeps", DataTable)
        t.add_columns("sweep", "method", "metric", "progress", "agents", "state", "best")
        self.query_one("#importance", DataTable).add_columns("parameter", "n", "rank corr", "noise", "η² (bins)",
                                                             "noise", "")
        self.set_title(Text(f"Sweeps · {self.project or 'all projects'}"))
        t.focus()
        self.load()

    def action_reload(self) -> None:
        self.load()

    @on(StoreChanged)
    def _changed(self, _: StoreChanged) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="sweeps")
    def load(self) -> None:
        infos = self._read(lambda store: load_sweeps(store, self.project)) or []
        self.app.call_from_thread(self._show_sweeps, infos)

    def _show_sweeps(self, infos: list[SweepInfo]) -> None:
        self.sweeps = infos
        t = self.query_one("#sweeps", DataTable)
        keep = t.cursor_row
        t.clear()
        for s in infos:
            sw = s.row
            metric = f"{sw.metric} ({'min' if sw.goal == 'minimize' else 'max'})" if sw.metric else "-"
            prog = f"{s.n} / {s.target}" if s.target else str(s.n)
            t.add_row(Text(sanitize(sw.name)), sw.method, Text(sanitize(metric)), prog, str(s.agents), sw.state,
                      "-" if s.best is None else _fmt(s.best), key=sw.id)
        if not infos:
            self.query_one("#curve", Static).update(Text("No sweeps yet: tracker-tui sweep sweep.yaml, then "
                                                         "tracker-tui agent SWEEP"))
            return
        t.move_cursor(row=min(max(keep, 0), len(infos) - 1))
        self.load_detail(infos[t.cursor_row].row)

    @on(DataTable.RowHighlighted, "#sweeps")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        i = event.cursor_row
        if 0 <= i < len(self.sweeps) and (self.detail is None or self.detail.sweep.id != self.sweeps[i].row.id):
            self.load_detail(self.sweeps[i].row)

    @work(thread=True, exclusive=True, group="sweep-detail")
    def load_detail(self, sw: Any) -> None:
        d = self._read(lambda store: load_detail(store, sw, self._importance_cache))
        if d is not None:
            self.app.call_from_thread(self._show_detail, d)

    def _show_detail(self, d: Detail) -> None:
        self.detail = d
        sw = d.sweep
        best = _best(d.trials, sw.goal)
        curve = Text(f"best {sw.metric or '-'} so far ", style="bold")
        curve.append(sparkline(d.curve, 40, self.tapp.ascii_only), style="green")
        if best is not None:
            curve.append(f" {_fmt(best.value)} ")
            curve.append(sanitize(d.names.get(best.run_id or "", best.run_id or "")), style="cyan")
        self.query_one("#curve", Static).update(curve)
        self._fill_trials(d)
        self._fill_importance(d)

    def _fill_trials(self, d: Detail) -> None:
        from tracker.store.sweeps.config import flatten

        t = self.query_one("#trials", DataTable)
        t.clear(columns=True)
        t.add_columns("#", "state", d.sweep.metric or "metric", *[sanitize(p) for p in d.params], "run")
        for tr in reversed(d.trials):
            flat = flatten(tr.params)
            state = trial_state(tr)
            style = {"finished": "green", "failed": "red", "crashed": "red"}.get(state, "yellow")
            t.add_row(str(tr.seq + 1), Text(state, style=style), "-" if tr.value is None else _fmt(tr.value),
                      *[Text(sanitize(_fmt(flat.get(p, "")))) for p in d.params],
                      Text(sanitize(d.names.get(tr.run_id or "", tr.run_id or "-"))))

    def _fill_importance(self, d: Detail) -> None:
        t = self.query_one("#importance", DataTable)
        t.clear()
        for imp in d.importance:
            def f(v: float | None) -> str:
                return "-" if v is None else f"{v:+.2f}" if v < 0 else f"{v:.2f}"
            verdict = Text("real", style="bold green") if imp.real else Text("noise", style="dim")
            t.add_row(Text(sanitize(imp.param)), str(imp.n), f(imp.rho), f(imp.rho_floor), f(imp.eta2),
                      f(imp.eta2_floor), verdict if imp.n >= 3 else Text("too few", style="dim"))

    def action_toggle_importance(self) -> None:
        self.show_importance = not self.show_importance
        self.query_one("#trials").set_class(self.show_importance, "hidden")
        self.query_one("#importance").set_class(not self.show_importance, "hidden")

    def action_parcoords(self) -> None:
        d = self.detail
        ids = [t.run_id for t in d.trials if t.run_id] if d is not None else []
        if d is None or len(ids) < 2:
            self.notify("Parallel coordinates need a sweep with two or more runs", severity="warning")
            return
        runs = self.tapp.reader.runs_by_id(ids)
        self.tapp.open_parcoords(runs, list(d.params), d.sweep.metric)
