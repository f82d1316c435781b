"""The home screen: a project's runs as a sortable, filterable, selectable table."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from tracker.store import RunRecord
from tracker.tui import fmt
from tracker.tui.diff import fmt_value, lower_is_better, varying_keys
from tracker.tui.filter import FilterError, compile_filter
from tracker.tui.messages import RunsLoaded, SparksLoaded, StoreChanged
from tracker.tui.text import sanitize
from tracker.tui.widgets.pickers import Picker, is_system_metric
from tracker.tui.widgets.run_table import Column, Row, RunTable

if TYPE_CHECKING:
    from tracker.tui.app import TrackerApp

QUALIFIERS = ("last", "best", "min", "max")


class StatusLine(Widget):
    """One line of text. Unlike ``Static.update`` (which re-lays out the whole screen), an
    update repaints just this line: live updates change it several times a second."""

    DEFAULT_CSS = "StatusLine { height: 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()

    def update(self, text: Text) -> None:
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return self._text
STATE_WORD = {"running": "running", "finished": "finished", "failed": "failed", "crashed": "crashed"}


def metric_value(r: RunRecord, key: str, qualifier: str) -> Any:
    """The number shown (and sorted on) for a metric column."""
    st = r.metrics.get(key)
    if st is None:
        return r.summary_overrides.get(key)
    if qualifier == "last":
        ov = r.summary_overrides
        return ov[key] if key in ov else st.last
    if qualifier == "min":
        return st.min
    if qualifier == "max":
        return st.max
    return st.min if lower_is_better(key) else st.max


def gpu_summary(r: RunRecord) -> tuple[float | None, float | None]:
    """(peak GPU memory used in GB over all GPUs, mean GPU utilisation in %) from the system
    metrics the sampler recorded; None when there are none."""
    peaks = [st.max for k, st in r.metrics.items()
             if k.startswith("system/gpu") and k.endswith("/mem_used_gb") and st.max is not None]
    utils = [st.mean for k, st in r.metrics.items()
             if k.startswith("system/gpu") and k.endswith("/util_percent") and st.mean is not None]
    return (max(peaks) if peaks else None, sum(utils) / len(utils) if utils else None)


def config_value(cfg: dict[str, Any], dotted: str) -> Any:
    cur: Any = cfg
    for part in dotted.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return cfg.get(dotted)
    return cur


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (2, 0)
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, (int, float)):
        return (0, v) if v == v else (1, 0)
    return (1, str(v))


class RunsScreen(Screen[None]):
    """Runs of the current project. Data arrives as messages from workers (never read here)."""

    CSS_PATH = "runs.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", id="runs.filter"),
        Binding("space", "toggle_select", "Select", id="runs.select"),
        Binding("c", "compare", "Compare", id="runs.compare"),
        Binding("v", "charts", "Charts", id="runs.charts"),
        Binding("P", "parcoords", "Par. coords", id="runs.parcoords"),
        Binding("p", "pick_project", "Project", id="runs.project"),
        Binding("s", "pick_sort", "Sort", id="runs.sort"),
        Binding("r", "reverse_sort", "Reverse", show=False, id="runs.reverse"),
        Binding("o", "cycle_qualifier", "last/best/min/max", show=False, id="runs.qualifier"),
        Binding("m", "pick_metrics", "Metrics", show=False, id="runs.metrics"),
        Binding("C", "pick_config_columns", "Config cols", show=False, id="runs.config_columns"),
        Binding("z", "toggle_groups", "Group", show=False, id="runs.group"),
        Binding("u", "toggle_gpu", "GPU columns", show=False, id="runs.gpu_columns"),
        Binding("a", "select_all", "Select all/none", show=False, id="runs.select_all"),
        Binding("R", "reload", "Reload", show=False, id="runs.reload"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="runs.clear_filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.project: str | None = None
        self.projects: list[tuple[str, int]] = []
        self.runs: dict[str, RunRecord] = {}
        self.rev = 0
        self.point_id = 0
        self.filter_text = ""
        self.flt = compile_filter("")
        self.sort_key: str | None = "created"
        self.sort_reverse = True
        self.qualifier = "last"
        self.metric_cols: list[str] | None = None  # None: automatic
        self.config_cols: list[str] | None = None
        self.primary: str | None = None
        self.grouped = False
        self.gpu_cols = False
        self.expanded: set[str] = set()
        self.sparks: dict[str, list[float]] = {}
        self.shown: list[RunRecord] = []
        self.missing = False
        self.error: str | None = None
        self._loaded = False
        # Rows are rebuilt only when their run, the columns or the sparkline change: a filter
        # keystroke then only filters and sorts (1,000 runs: ~50 ms -> a few ms).
        self._row_cache: dict[str, tuple[tuple[Any, ...], Row]] = {}
        self._cols_cache: tuple[Any, ...] | None = None
        self._cols_version = 0
        self._data_version = 0
        self._sparks_timer: Any = None

    @property
    def tapp(self) -> TrackerApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield Input(placeholder="filter  e.g. lr < 1e-3 and val/acc > 0.9 and tag:resnet   (/ focus, esc clear, ? help)",
                    id="filter")
        yield Static(id="filter-error")
        yield RunTable(id="runs")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RunTable).set_ascii(self.tapp.ascii_only)
        self.query_one("#filter-error").display = False
        self.query_one(RunTable).focus()
        self._show_status()
        self.load()
        # A run whose process died writes nothing: re-read running runs now and then so they
        # turn "crashed" (at once for a local dead pid, after the heartbeat timeout elsewhere).
        self.set_interval(2.0, self._recheck_running)

    def _recheck_running(self) -> None:
        ids = [r.id for r in self.runs.values() if r.state == "running"]
        if ids:
            self._load_ids(ids)

    @work(thread=True, exclusive=True, group="runs-recheck", exit_on_error=False)
    def _load_ids(self, ids: list[str]) -> None:
        from tracker.tui.data import Snapshot

        recs = self.tapp.reader.runs_by_id(ids)
        changed = [r for r in recs if r.state != "running"]
        if changed:
            self.post_message(RunsLoaded(self.project, Snapshot(self.projects, changed, self.rev, self.point_id,
                                                                full=False)))

    # ------------------------------------------------------------------ loading (workers)
    def load(self, full: bool = True) -> None:
        self._load(self.project, self.rev if not full else None)

    @work(thread=True, exclusive=True, group="runs-load", exit_on_error=False)
    def _load(self, project: str | None, after_rev: int | None) -> None:
        reader = self.tapp.reader
        snap = reader.snapshot(project) if after_rev is None else reader.changes(project, after_rev)
        self.post_message(RunsLoaded(project, snap))

    @on(RunsLoaded)
    def _loaded_runs(self, msg: RunsLoaded) -> None:
        snap = msg.snapshot
        self.missing = snap.missing
        self.error = snap.error
        projects_changed = snap.projects != self.projects
        self.projects = snap.projects
        layout_changed = snap.full
        if snap.full:
            if self.project is None and snap.runs:
                self.project = snap.runs[0].project
            elif self.project is None and snap.projects:
                self.project = snap.projects[0][0]
            self.runs = {r.id: r for r in snap.runs}
        else:
            if not snap.runs and not projects_changed:
                self.rev = max(self.rev, snap.rev)
                return  # nothing this screen shows has changed
            for r in snap.runs:
                if self.project is None or r.project == self.project:
                    old = self.runs.get(r.id)
                    # Columns depend on which runs and metric names exist, and on configs: only
                    # a new run or new metric names re-plan them (a live step does not).
                    if old is None or old.metrics.keys() != r.metrics.keys() or old.config != r.config:
                        layout_changed = True
                    self.runs[r.id] = r
        self.rev = max(self.rev, snap.rev) if not snap.full else snap.rev
        if layout_changed:
            self._data_version += 1
        if snap.full:
            import gc

            gc.collect()
            gc.freeze()  # the loaded runs are long-lived: keep full GC passes off the keystroke path
        self.point_id = snap.point_id
        self._loaded = True
        self.refresh_table()
        self._request_sparks([r for r in snap.runs])

    def _request_sparks(self, runs: list[RunRecord]) -> None:
        key = self._primary()
        if key and runs:
            self._load_sparks(runs, key)

    @work(thread=True, group="sparks", exit_on_error=False)
    def _load_sparks(self, runs: list[RunRecord], key: str) -> None:
        # In chunks so the first rows get their sparklines quickly.
        for i in range(0, len(runs), 100):
            chunk = runs[i : i + 100]
            self.post_message(SparksLoaded(key, self.tapp.reader.sparks(chunk, key), final=i + 100 >= len(runs)))

    @on(SparksLoaded)
    def _sparks_loaded(self, msg: SparksLoaded) -> None:
        if msg.key != self._primary():
            return
        self.sparks.update(msg.values)
        if msg.final:
            if self._sparks_timer is not None:
                self._sparks_timer.stop()
            self._apply_sparks()
        elif self._sparks_timer is None:
            # sparklines arrive in chunks: apply them at most every 0.3 s, not one refresh each
            self._sparks_timer = self.set_timer(0.3, self._apply_sparks)

    def _apply_sparks(self) -> None:
        self._sparks_timer = None
        self.refresh_table()

    @on(StoreChanged)
    def _store_changed(self, msg: StoreChanged) -> None:
        self.load(full=not self._loaded or self.missing)

    # ------------------------------------------------------------------ table building
    def _metric_keys(self) -> list[str]:
        counts: dict[str, int] = {}
        for r in self.runs.values():
            for k in r.metrics:
                counts[k] = counts.get(k, 0) + 1
            for k in r.summary_overrides:
                counts[k] = counts.get(k, 0) + 1
        # training metrics first (the picker, the primary metric), system metrics after them
        return sorted(counts, key=lambda k: (is_system_metric(k), -counts[k], k))

    def _primary(self) -> str | None:
        if self.primary:
            return self.primary
        keys = self._metric_keys()
        for pref in ("val/loss", "valid/loss", "eval/loss", "val_loss", "loss", "train/loss", "train_loss"):
            if pref in keys:
                return pref
        losses = [k for k in keys if "loss" in k.lower()]
        return losses[0] if losses else (keys[0] if keys else None)

    def _columns(self) -> tuple[list[Column], list[str], list[str]]:
        sig = (self._data_version, self.sort_key, self.qualifier, self.primary, self.gpu_cols,
               tuple(self.metric_cols) if self.metric_cols is not None else None,
               tuple(self.config_cols) if self.config_cols is not None else None)
        if self._cols_cache is not None and self._cols_cache[0] == sig:
            return self._cols_cache[1]
        out = self._columns_uncached()
        self._cols_cache = (sig, out)
        self._cols_version += 1  # rows built for other columns are stale (never use id(): reused)
        return out

    def _columns_uncached(self) -> tuple[list[Column], list[str], list[str]]:
        primary = self._primary()
        metrics = self.metric_cols if self.metric_cols is not None else [
            k for k in self._metric_keys() if not k.startswith("system/")][:4]
        if primary and primary in metrics:
            metrics = [primary] + [m for m in metrics if m != primary]
        elif primary and self.metric_cols is None:
            metrics = [primary] + metrics[:3]
        configs = self.config_cols if self.config_cols is not None else varying_keys(
            [r.config for r in self.runs.values()], limit=5)
        # The column being sorted on is always shown, first among the metrics after the primary.
        if self.sort_key and self.sort_key.startswith("m:"):
            sk = self.sort_key[2:]
            if not metrics or metrics[0] != sk:
                rest = [m for m in metrics if m != sk]
                metrics = rest[:1] + [sk] + rest[1:]
        if self.sort_key and self.sort_key.startswith("c:") and self.sort_key[2:] not in configs:
            configs = configs + [self.sort_key[2:]]
        q = "" if self.qualifier == "last" else f" ({self.qualifier})"
        cols = [
            Column("sel", "", 1),
            Column("state", "state", 8),
            Column("name", "name", 18, min_width=8),
            Column("step", "step", 6, "right"),
        ]
        for i, m in enumerate(metrics):
            cols.append(Column(f"m:{m}", sanitize(m) + q, max(8, min(14, len(m) + len(q))), "right"))
            if i == 0 and m == primary:
                cols.append(Column("spark", "trend", 10))
        if self.gpu_cols:
            cols += [Column("gpu_mem_peak", "GPU mem peak", 12, "right"), Column("gpu_util_mean", "GPU util mean", 13, "right")]
        for k in configs:
            cols.append(Column(f"c:{k}", sanitize(k), max(6, min(14, len(k))), "right"))
        cols += [
            Column("id", "id", 8),
            Column("created", "created", 11),
            Column("runtime", "runtime", 7, "right"),
            Column("group", "group", 12),
            Column("tags", "tags", 16),
        ]
        return cols, metrics, configs

    def _cells(self, r: RunRecord, metrics: list[str], configs: list[str], best: dict[str, str]) -> Row:
        """The run's row, from the cache when nothing it shows has changed."""
        sig = (r.rev, r.state, self._cols_version, len(self.sparks.get(r.id, ())),
               int(self.tapp.clock()) if r.state == "running" else 0)
        hit = self._row_cache.get(r.id)
        if hit is not None and hit[0] == sig:
            row = hit[1]
        else:
            row = self._build_row(r, metrics, configs)
            self._row_cache[r.id] = (sig, row)
        marks = [m for m in metrics if best.get(m) == r.id]
        if marks:  # the best-in-column highlight depends on which runs are shown: not cached
            styles = dict(row.styles)
            for m in marks:
                styles[f"m:{m}"] = "runtable--best"
            row = Row(row.key, row.cells, styles, row.kind, row.depth)
        return row

    def _build_row(self, r: RunRecord, metrics: list[str], configs: list[str]) -> Row:
        now = self.tapp.clock()
        runtime = (r.finished_at or (now if r.state == "running" else max(r.heartbeat_at or 0, r.updated_at))) - r.created_at
        cells = {
            "state": STATE_WORD.get(r.state, sanitize(r.state)),
            "name": ("! " if r.alerts else "") + sanitize(r.name),  # "!" is one cell everywhere; ⚠ is not
            "step": "" if r.last_step is None else str(r.last_step),
            "id": r.id,
            "created": fmt.when(r.created_at, now),
            "runtime": fmt.duration(runtime),
            "group": sanitize(r.group or ""),
            "tags": sanitize(",".join(r.tags)),
            "spark": fmt.sparkline(self.sparks.get(r.id, []), 10, self.tapp.ascii_only),
        }
        styles = {"state": f"runtable--state-{r.state}" if r.state in STATE_WORD else ""}
        if r.alerts:
            styles["name"] = "runtable--alert"
        for m in metrics:
            cells[f"m:{m}"] = sanitize(fmt.num(metric_value(r, m, self.qualifier)))
        if self.gpu_cols:
            peak, util = gpu_summary(r)
            cells["gpu_mem_peak"] = "" if peak is None else f"{peak:.1f} GB"
            cells["gpu_util_mean"] = "" if util is None else f"{util:.0f}%"
        for k in configs:
            v = config_value(r.config, k)
            cells[f"c:{k}"] = "" if v is None and k not in r.config else sanitize(fmt_value(v))
        return Row(r.id, cells, styles)

    def _sorted(self, runs: list[RunRecord]) -> list[RunRecord]:
        key = self.sort_key or "created"
        if key == "created":
            getter: Any = lambda r: r.created_at
        elif key == "runtime":
            getter = lambda r: r.runtime
        elif key == "step":
            getter = lambda r: r.last_step
        elif key.startswith("m:"):
            m = key[2:]
            getter = lambda r: metric_value(r, m, self.qualifier)
        elif key.startswith("c:"):
            k = key[2:]
            getter = lambda r: config_value(r.config, k)
        elif key in ("gpu_mem_peak", "gpu_util_mean"):
            i = 0 if key == "gpu_mem_peak" else 1
            getter = lambda r: gpu_summary(r)[i]
        elif key == "tags":
            getter = lambda r: ",".join(r.tags)
        else:
            getter = lambda r: getattr(r, key, None)
        present = [r for r in runs if _sort_key(getter(r))[0] < 2]
        missing = [r for r in runs if _sort_key(getter(r))[0] >= 2]
        present.sort(key=lambda r: _sort_key(getter(r)), reverse=self.sort_reverse)
        return present + missing  # runs without the value always last

    def refresh_table(self) -> None:
        """Filter, sort and (re)draw the table from the runs in memory."""
        table = self.query_one(RunTable)
        cols, metrics, configs = self._columns()
        runs = []
        for r in self.runs.values():
            try:
                if self.flt(r):
                    runs.append(r)
            except Exception:  # a filter must never take the app down; count it as no match
                pass
        runs = self._sorted(runs)
        self.shown = runs
        best: dict[str, str] = {}
        for m in metrics:
            pick_min = lower_is_better(m)
            best_id, best_v, n = None, None, 0
            for r in runs:
                v = metric_value(r, m, self.qualifier)
                if type(v) in (int, float) and v - v == 0:
                    n += 1
                    if best_v is None or (v < best_v if pick_min else v > best_v):
                        best_id, best_v = r.id, v
            if n > 1 and best_id is not None:
                best[m] = best_id
        rows: list[Row] = []
        if self.grouped:
            groups: dict[str, list[RunRecord]] = {}
            order: list[str] = []
            for r in runs:
                g = r.group or ""
                if g not in groups:
                    groups[g] = []
                    order.append(g)
                groups[g].append(r)
            for g in order:
                members = groups[g]
                if not g:
                    rows += [self._cells(r, metrics, configs, best) for r in members]
                    continue
                open_ = g in self.expanded
                states = {}
                for r in members:
                    states[r.state] = states.get(r.state, 0) + 1
                summary = " ".join(f"{n} {s}" for s, n in sorted(states.items()))
                arrow = ("v " if open_ else "> ") if self.tapp.ascii_only else ("▾ " if open_ else "▸ ")
                rows.append(Row(f"group:{g}", {"name": arrow + sanitize(g), "state": f"{len(members)} runs",
                                               "tags": summary}, kind="group"))
                if open_:
                    for r in members:
                        row = self._cells(r, metrics, configs, best)
                        rows.append(Row(row.key, row.cells, row.styles, row.kind, 1))  # cached rows stay as they are
        else:
            rows = [self._cells(r, metrics, configs, best) for r in runs]
        table.sort_key = self.sort_key
        table.sort_reverse = self.sort_reverse
        table.set_data(cols, rows)
        self._show_status()

    def _show_status(self) -> None:
        status = self.query_one("#status", StatusLine)
        t = Text()
        if self.error:
            t.append(sanitize(self.error), style="bold red")
            status.update(t)
            return
        if self.missing:
            t.append("No store yet at ", style="bold")
            t.append(sanitize(self.tapp.reader.path))
            t.append(" — log a run: python -c \"import tracker; r = tracker.init(project='demo'); r.log({'loss': 1.0}); r.finish()\"  (or: tracker-tui demo)")
            status.update(t)
            return
        t.append(sanitize(self.project or "no project"), style="bold")
        n_proj = len(self.projects)
        if n_proj > 1:
            t.append(f" (+{n_proj - 1} more, p)", style="dim")
        shown, total = len(self.shown), len(self.runs)
        t.append(f"  {shown}/{total} runs" if shown != total else f"  {total} runs")
        sel = len(self.query_one(RunTable).selected) if self.is_mounted else 0
        if sel:
            t.append(f"  {sel} selected", style="bold")
        running = sum(1 for r in self.runs.values() if r.state == "running")
        if running:
            t.append(f"  {running} running", style="bold")
        sk = self.sort_key or "created"
        label = sk[2:] if sk[:2] in ("m:", "c:") else sk
        arrow = ("v" if self.sort_reverse else "^") if self.tapp.ascii_only else ("▼" if self.sort_reverse else "▲")
        t.append(f"  sort: {sanitize(label)} {arrow}", style="dim")
        t.append(f"  [{self.tapp.live_mode}]", style="dim")
        status.update(t)

    # ------------------------------------------------------------------ filter
    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.apply_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.query_one(RunTable).focus()

    def apply_filter(self, text: str) -> bool:
        """Compile ``text``; on error show it inline and keep the previous filter."""
        err = self.query_one("#filter-error", Static)
        try:
            flt = compile_filter(text)
        except FilterError as e:
            pos = getattr(e, "position", None)
            msg = Text(f"  {' ' * pos}^ " if isinstance(pos, int) and pos < 60 else "  ", style="bold red")
            msg.append(sanitize(getattr(e, "message", str(e))), style="red")
            err.update(msg)
            err.display = True
            return False
        err.display = False
        self.filter_text = text
        self.flt = flt
        self.refresh_table()
        return True

    def set_filter_text(self, text: str) -> None:
        inp = self.query_one("#filter", Input)
        inp.value = text  # fires Input.Changed -> apply_filter

    # ------------------------------------------------------------------ actions
    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        inp = self.query_one("#filter", Input)
        if inp.has_focus and inp.value == "":
            self.query_one(RunTable).focus()
            return
        if inp.value:
            inp.value = ""
        self.query_one(RunTable).focus()

    def action_toggle_select(self) -> None:
        table = self.query_one(RunTable)
        table.toggle_selected()
        table.action_cursor_down()
        self._show_status()

    def action_select_all(self) -> None:
        table = self.query_one(RunTable)
        if table.selected:
            table.clear_selection()
        else:
            table.selected = {r.id for r in self.shown}
            table.set_data(table.columns, table.rows)
        self._show_status()

    @on(RunTable.RowActivated)
    def _activated(self, msg: RunTable.RowActivated) -> None:
        if msg.kind == "group":
            g = msg.key[len("group:"):]
            if g in self.expanded:
                self.expanded.discard(g)
            else:
                self.expanded.add(g)
            self.refresh_table()
        else:
            self.tapp.open_detail(msg.key)

    def chosen_runs(self) -> list[RunRecord]:
        """Selected runs (in table order), or the run under the cursor when none is selected."""
        table = self.query_one(RunTable)
        if table.selected:
            order = {r.id: i for i, r in enumerate(self.shown)}
            ids = sorted((i for i in table.selected if i in self.runs), key=lambda i: order.get(i, 1 << 30))
            return [self.runs[i] for i in ids]
        key = table.cursor_key
        if key and key in self.runs:
            return [self.runs[key]]
        return []

    def action_compare(self) -> None:
        runs = self.chosen_runs()
        if len(runs) < 2:
            self.notify("Select two or more runs with space, then press c", severity="warning")
            return
        self.tapp.open_compare([r.id for r in runs])

    def action_charts(self) -> None:
        runs = self.chosen_runs()
        if not runs:
            self.notify("No run to chart", severity="warning")
            return
        self.tapp.open_charts([r.id for r in runs], self._primary())

    def action_parcoords(self) -> None:
        runs = self.shown if not self.query_one(RunTable).selected else self.chosen_runs()
        if len(runs) < 2:
            self.notify("Parallel coordinates need two or more runs", severity="warning")
            return
        cols, metrics, configs = self._columns()
        self.tapp.open_parcoords(list(self.runs.values()), configs, self._primary())

    def action_pick_project(self) -> None:
        if not self.projects:
            self.notify("No projects yet", severity="warning")
            return

        def chosen(p: str | None) -> None:
            if p and p != self.project:
                self.project = p
                self.runs = {}
                self.sparks = {}
                self.metric_cols = self.config_cols = self.primary = None
                self.query_one(RunTable).clear_selection()
                self.load()

        items = [(f"{p}  ({n} runs)", p) for p, n in self.projects]
        self.app.push_screen(Picker("Project", items), chosen)

    def action_pick_sort(self) -> None:
        from tracker.tui.diff import flatten

        cols, _, _ = self._columns()
        items = [(c.label or c.key, c.key) for c in cols if c.key not in ("sel", "spark")]
        shown = {k for _, k in items}
        items += [(m, f"m:{m}") for m in self._metric_keys() if f"m:{m}" not in shown]
        cfg_keys: set[str] = set()
        for r in self.runs.values():
            cfg_keys.update(flatten(r.config))
        items += [(f"config {k}", f"c:{k}") for k in sorted(cfg_keys) if f"c:{k}" not in shown]

        def chosen(key: str | None) -> None:
            if key:
                if key == self.sort_key:
                    self.sort_reverse = not self.sort_reverse
                else:
                    self.sort_key = key
                    self.sort_reverse = key.startswith("m:") and not lower_is_better(key[2:]) or key == "created"
                self.refresh_table()

        self.app.push_screen(Picker("Sort by (again to reverse)", items), chosen)

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.refresh_table()

    def action_cycle_qualifier(self) -> None:
        self.qualifier = QUALIFIERS[(QUALIFIERS.index(self.qualifier) + 1) % len(QUALIFIERS)]
        self.notify(f"metric columns show: {self.qualifier}", timeout=2)
        self.refresh_table()

    def action_pick_metrics(self) -> None:
        keys = self._metric_keys()
        _, current, _ = self._columns()

        def chosen(sel: list[str] | None) -> None:
            if sel is not None:
                self.metric_cols = sel
                if sel and self.primary not in sel:
                    self.primary = sel[0]
                    self.sparks = {}
                    self._request_sparks(list(self.runs.values()))
                self.refresh_table()

        self.app.push_screen(Picker("Metric columns (first = primary, with trend)", [(k, k) for k in keys],
                                    multi=True, checked=current), chosen)

    def action_pick_config_columns(self) -> None:
        from tracker.tui.diff import flatten

        keys: set[str] = set()
        for r in self.runs.values():
            keys.update(flatten(r.config))
        _, _, current = self._columns()

        def chosen(sel: list[str] | None) -> None:
            if sel is not None:
                self.config_cols = sel
                self.refresh_table()

        self.app.push_screen(Picker("Config columns", [(k, k) for k in sorted(keys)], multi=True, checked=current),
                             chosen)

    def action_toggle_gpu(self) -> None:
        self.gpu_cols = not self.gpu_cols
        self.refresh_table()

    def action_toggle_groups(self) -> None:
        self.grouped = not self.grouped
        self.refresh_table()

    def action_reload(self) -> None:
        self.load()

    def visible_ids(self) -> list[str]:
        return [r.id for r in self.shown]

    def now(self) -> float:
        return time.time()
