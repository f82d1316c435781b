"""The home screen: a project's runs as a sortable, filterable, selectable table. In low-bandwidth
mode (over SSH, or ``--low-bandwidth``) the cursor's run is drawn at the refresh rate, other rows every
``BACKGROUND_INTERVAL`` s and sparklines every ``SPARKS_INTERVAL`` s; keys are answered at once (issue 18)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from tracker.store import RunRecord
from tracker.tui.diff import lower_is_better
from tracker.tui.messages import RunsLoaded, SparksLoaded, StoreChanged
from tracker.tui.screens.base import StatusLine
from tracker.tui.screens.runs_curate import RunsCurate, unarchived
from tracker.tui.screens.runs_data import SPARKS_EAGER_MAX
from tracker.tui.screens.runs_model import (
    QUALIFIERS,
    RunIndex,
    View,
    best_per_column,
    build_row,
    group_rows,
    plan_columns,
)
from tracker.tui.text import sanitize
from tracker.tui.widgets.key_bar import KeyBar
from tracker.tui.widgets.run_table import Column, Row, RunTable

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracker.tui.filter import Filter


BACKGROUND_INTERVAL = 2.0
"""Low-bandwidth mode: seconds a row off the cursor keeps its drawn values while live data comes."""

FIRST_WINDOW = 100
"""Runs read first on opening a project (newest first), drawn before the rest are read."""



class RunsScreen(RunsCurate):
    """Runs of the current project. Data arrives as messages from workers (never read here)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", id="runs.filter"),
        Binding("space", "toggle_select", "Select", id="runs.select"),
        Binding("c", "compare", "Compare", id="runs.compare"),
        Binding("v", "charts", "Charts", id="runs.charts"),
        Binding("P", "parcoords", "Par. coords", show=False, id="runs.parcoords"),
        Binding("p", "pick_project", "Project", show=False, id="runs.project"),
        Binding("s", "pick_sort", "Sort", id="runs.sort"),
        Binding("r", "reverse_sort", "Reverse", show=False, id="runs.reverse"),
        Binding("o", "cycle_qualifier", "last/best/min/max", show=False, id="runs.qualifier"),
        Binding("m", "pick_metrics", "Metrics", show=False, id="runs.metrics"),
        Binding("C", "pick_config_columns", "Config cols", show=False, id="runs.config_columns"),
        Binding("z", "toggle_groups", "Group", show=False, id="runs.group"),
        Binding("u", "toggle_gpu", "GPU columns", show=False, id="runs.gpu_columns"),
        Binding("a", "select_all", "Select all/none", show=False, id="runs.select_all"),
        Binding("R", "reload", "Reload", show=False, id="runs.reload"),
        Binding("A", "artifacts", "Artifacts", show=False, id="runs.artifacts"),
        Binding("S", "sweeps", "Sweeps", show=False, id="runs.sweeps"),
        Binding("escape", "clear_filter", "Clear filter (in the filter box)", show=False, id="runs.clear_filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.project: str | None = None
        self.projects: list[tuple[str, int]] = []
        self.runs: dict[str, RunRecord] = {}
        self.rev = 0
        self.point_id = 0
        self.filter_text = ""
        self.flt: Filter | None = None  # None: every run (the filter module loads on first use)
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
        self._sparks_asked: set[str] = set()  # run ids whose sparkline was read or is being read
        self._sparks_wanted: list[str] = []  # rows drawn without one, read next (big projects)
        self.shown: list[RunRecord] = []
        self.missing = False
        self.partial = False  # only the first screenful of runs is in memory yet
        self.error: str | None = None
        self._loaded = False
        # Rows are rebuilt only when their run, the columns or the sparkline change: a filter
        # keystroke then only filters and sorts (1,000 runs: ~50 ms -> a few ms).
        self._row_cache: dict[str, tuple[tuple[Any, ...], Row, float]] = {}  # sig, row, when built
        self._background = False  # the refresh under way only applies live data
        self._held_back = False  # rows off the cursor kept their drawn values (low-bandwidth mode)
        self._catch_up: Any = None
        self._sparks_due: set[str] = set()  # live runs whose sparklines wait (low-bandwidth mode)
        self._sparks_throttle: Any = None
        self._cols_cache: tuple[Any, ...] | None = None
        self._cols_version = 0
        self._data_version = 0
        self._sparks_timer: Any = None
        self._keys_cache: tuple[tuple[int, int, int], tuple[list[str], list[str]]] | None = None
        self._layout_pending: tuple[int, int, int] | None = None
        self._layout_version = 0
        self._index = RunIndex()  # per-run values for filter, sort and best-in-column (issue 19)
        self._runs_version = 0  # bumped whenever self.runs changes
        self._ctx: tuple[View, float, bool, float] | None = None  # during a refresh: view, now, ascii, monotonic
        self._best: tuple[tuple[Any, ...], dict[str, list[str]]] | None = None
        self._n_running = (-1, 0)  # (runs version, how many are running)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield Input(placeholder="filter  e.g. lr < 1e-3 and val/acc > 0.9 and tag:resnet   (/ focus, esc clear, ? help)",
                    id="filter")
        yield Static(id="filter-error")
        yield RunTable(id="runs")
        yield KeyBar(compact=True)

    def on_mount(self) -> None:
        self.query_one(RunTable).set_ascii(self.tapp.ascii_only)
        self.query_one("#filter-error").display = False
        self.query_one(RunTable).focus()
        self._show_status()
        self.load()
        # A run whose process died writes nothing: re-read running runs now and then so they
        # turn "crashed" (at once for a local dead pid, after the heartbeat timeout elsewhere).
        self.set_interval(2.0, self._recheck_running)

    # ------------------------------------------------------------------ loading (workers)
    def load(self, full: bool = True) -> None:
        self._load(self.project, self.rev if not full else None)

    @work(thread=True, exclusive=True, group="runs-load", exit_on_error=False, description="read runs")
    def _load(self, project: str | None, after_rev: int | None) -> None:
        reader = self.tapp.reader
        if after_rev is None and not self._loaded:
            # First the screenful of newest runs (what the default sort shows first), then all.
            snap = reader.snapshot(project, limit=FIRST_WINDOW)
            self.post_message(RunsLoaded(project, snap))
            if not snap.partial:
                return
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
                    if (old is None or old.metrics.keys() != r.metrics.keys() or old.config != r.config
                            or old.summary_overrides.keys() != r.summary_overrides.keys()):
                        layout_changed = True
                    self.runs[r.id] = r
        self._runs_version += 1
        if snap.full:
            self._index.forget(self.runs)
        self.rev = max(self.rev, snap.rev) if not snap.full else snap.rev
        if layout_changed:
            self._data_version += 1
        self.point_id = snap.point_id
        self.partial = snap.partial
        self._loaded = not snap.partial
        self.refresh_table(background=not snap.full)
        if snap.full:  # sparklines: the rows in view first, then the others in table order
            self._request_sparks([r for r in self.shown if r.id not in self.sparks])
        else:
            self._request_sparks(list(snap.runs), background=True)
        if snap.full and not snap.partial:  # the rows go on screen first (a frame is due within ~1/60 s)
            self.set_timer(0.1, self._after_full_load)

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
        self.refresh_table()  # not held back: live runs' sparklines already come every SPARKS_INTERVAL

    @on(StoreChanged)
    def _store_changed(self, msg: StoreChanged) -> None:
        self.load(full=not self._loaded or self.missing)

    # ------------------------------------------------------------------ table building
    def _view(self) -> View:
        return View(self.sort_key, self.sort_reverse, self.qualifier, self.metric_cols, self.config_cols,
                    self.gpu_cols)

    def _columns(self) -> tuple[list[Column], list[str], list[str]]:
        sig = (self._data_version, self._layout_version, self.sort_key, self.qualifier, self.primary, self.gpu_cols,
               tuple(self.metric_cols) if self.metric_cols is not None else None,
               tuple(self.config_cols) if self.config_cols is not None else None)
        if self._cols_cache is not None and self._cols_cache[0] == sig:
            return self._cols_cache[1]
        out = self._columns_uncached()
        self._cols_cache = (sig, out)
        self._cols_version += 1  # rows built for other columns are stale (never use id(): reused)
        return out

    def _columns_uncached(self) -> tuple[list[Column], list[str], list[str]]:
        keys, varying = self._layout()
        return plan_columns(list(self.runs.values()), keys, self._primary(), self._view(), varying)

    def _cells(self, r: RunRecord, metrics: list[str], configs: list[str], best: dict[str, list[str]]) -> Row:
        """The run's row, from the cache when nothing it shows has changed."""
        ctx = self._ctx
        if ctx is None:  # outside a refresh
            ctx = (self._view(), self.tapp.clock(), self.tapp.ascii_only, time.monotonic())
        sig = (r.rev, r.state, self._cols_version, len(self.sparks.get(r.id, ())),
               int(ctx[1]) if r.state == "running" else 0)
        hit = self._row_cache.get(r.id)
        if hit is not None and (hit[0] == sig or self._hold_back(r, hit)):
            row = hit[1]
        else:
            row = self._lazy_row(r, metrics, configs)
            self._row_cache[r.id] = (sig, row, ctx[3])
        marks = best.get(r.id)
        if marks:  # the best-in-column highlight depends on which runs are shown: not cached
            def marked(base: Row = row) -> tuple[dict[str, str], dict[str, str]]:
                return base.cells, {**base.styles, **dict.fromkeys(marks, "runtable--best")}

            row = Row(row.key, kind=row.kind, depth=row.depth, build=marked)
        return row

    def _hold_back(self, r: RunRecord, hit: tuple[tuple[Any, ...], Row, float]) -> bool:
        """Low-bandwidth mode, live data: a row off the cursor drawn less than
        BACKGROUND_INTERVAL ago keeps its values (a catch-up refresh follows)."""
        if not (self._background and self.tapp.low_bandwidth) or hit[0][2] != self._cols_version:
            return False
        if r.id == self.query_one(RunTable).cursor_key or time.monotonic() - hit[2] >= BACKGROUND_INTERVAL:
            return False
        self._held_back = True
        return True

    def _lazy_row(self, r: RunRecord, metrics: list[str], configs: list[str]) -> Row:
        """The run's row, its cells made when the table first draws it (or someone reads them)."""
        view, now, ascii_only, _ = self._ctx or (self._view(), self.tapp.clock(), self.tapp.ascii_only, 0.0)
        sparks = self.sparks.get(r.id, [])
        want = self._want_spark if not sparks and len(self.runs) > SPARKS_EAGER_MAX else None

        def build() -> tuple[dict[str, str], dict[str, str]]:
            if want is not None:
                want(r.id)
            full = build_row(r, metrics, configs, view, sparks=sparks, now=now, ascii_only=ascii_only)
            return full.cells, full.styles

        return Row(r.id, build=build)

    def refresh_table(self, *, background: bool = False) -> None:
        """Filter, sort and (re)draw the table from the runs in memory. ``background``: only
        live data changed (low-bandwidth mode may then hold back rows off the cursor)."""
        self._background, self._held_back = background, False
        # what every row of this refresh shares, made once (not once per run)
        self._ctx = (self._view(), self.tapp.clock(), self.tapp.ascii_only, time.monotonic())
        try:
            self._refresh_table()
        finally:
            self._background = False
            self._ctx = None
        if self._held_back and self._catch_up is None:
            self._catch_up = self.set_timer(BACKGROUND_INTERVAL, self._catch_up_rows)

    def _catch_up_rows(self) -> None:
        """Draw the values rows off the cursor were holding back."""
        self._catch_up = None
        self.refresh_table(background=True)

    def _refresh_table(self) -> None:
        table = self.query_one(RunTable)
        cols, metrics, configs = self._columns()
        index, q = self._index, self.qualifier
        runs = index.sorted((id(self.runs), self._runs_version), self.runs.values(), self._view())
        if self.flt is not None:
            runs = [r for r in runs if self._matches(r)]
        self.shown = runs = unarchived(runs, self.filter_text)
        # run id -> its best-in-column cells; the same for any order of the same runs (a sort
        # reorders 10,000 runs without re-reading their values)
        bsig = (id(self.runs), self._runs_version, self.filter_text if self.flt else None, tuple(metrics), q)
        if self._best is None or self._best[0] != bsig:
            best: dict[str, list[str]] = {}
            for m, rid in best_per_column(runs, metrics, q, index.values(metrics, q)).items():
                best.setdefault(rid, []).append(f"m:{m}")
            self._best = (bsig, best)
        best = self._best[1]
        if self.grouped:
            rows = group_rows(runs, self.expanded, self.tapp.ascii_only,
                              lambda r: self._cells(r, metrics, configs, best))
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
        narrow = self.app.size.width < 100  # 80 columns: the short forms, so the mode at the end fits
        if n_proj > 1:
            t.append(f" (+{n_proj - 1}{'' if narrow else ' more'}, p)", style="dim")
        shown, total = len(self.shown), len(self.runs)
        if self.partial:
            total = dict(self.projects).get(self.project or "", total)
            t.append(f"  {len(self.runs)}/{total} runs (reading the rest...)", style="dim")
        else:
            t.append(f"  {shown}/{total} runs" if shown != total else f"  {total} runs")
        sel = len(self.query_one(RunTable).selected) if self.is_mounted else 0
        if sel:
            t.append(f"  {sel} selected", style="bold")
        if self._n_running[0] != self._runs_version:
            self._n_running = (self._runs_version, sum(1 for r in self.runs.values() if r.state == "running"))
        running = self._n_running[1]
        if running:
            t.append(f"  {running} running", style="bold")
        sk = self.sort_key or "created"
        label = sk[2:] if sk[:2] in ("m:", "c:") else sk
        arrow = ("v" if self.sort_reverse else "^") if self.tapp.ascii_only else ("▼" if self.sort_reverse else "▲")
        t.append(f"  sort: {sanitize(label)} {arrow}", style="dim")
        low = self.tapp.low_bandwidth and self.tapp.live_mode != "off"
        mode = (" · low bw" if narrow else " · low bandwidth") if low else ""
        t.append(f"  [{self.tapp.live_mode}{mode}]", style="dim")
        status.update(t)

    # ------------------------------------------------------------------ filter
    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.apply_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.query_one(RunTable).focus()

    def _matches(self, r: RunRecord) -> bool:
        assert self.flt is not None
        try:
            return bool(self.flt(self._index.flat(r)))
        except Exception:  # a filter must never take the app down; count it as no match
            return False

    def apply_filter(self, text: str) -> bool:
        """Compile ``text``; on error show it inline and keep the previous filter."""
        from tracker.tui.filter import FilterError, compile_filter

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
        self.flt = flt if text.strip() else None  # blank: every run, no per-run call
        self.refresh_table()
        return True

    def set_filter_text(self, text: str) -> None:
        inp = self.query_one("#filter", Input)
        inp.value = text  # fires Input.Changed -> apply_filter

    # ------------------------------------------------------------------ actions
    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        """Esc in the filter box clears it and returns to the table. Esc elsewhere leaves the
        filter alone: it is the "back" key on every other screen, and one Esc too many after
        leaving a run must not wipe the filter (``/`` then Esc clears it on purpose)."""
        inp = self.query_one("#filter", Input)
        if not inp.has_focus:
            return
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

    @on(RunTable.CursorMoved)
    def _cursor_moved(self, _: RunTable.CursorMoved) -> None:
        if self._catch_up is not None:  # the row now under the cursor may be holding values back
            self._catch_up.stop()
            self._catch_up = None
            self.refresh_table()

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

    def action_sweeps(self) -> None:
        self.tapp.open_sweeps(self.project)

    def _pick(self, chosen: Callable[[Any], None], title: str, items: list[tuple[str, str]], **kw: Any) -> None:
        """Open a picker (imported here: it is not needed for the first paint)."""
        from tracker.tui.widgets.pickers import Picker

        self.app.push_screen(Picker(title, items, **kw), chosen)

    def action_pick_project(self) -> None:
        if not self.projects:
            self.notify("No projects yet", severity="warning")
            return

        def chosen(p: str | None) -> None:
            if p and p != self.project:
                self.project = p
                self._loaded = False  # its first screenful, then the rest
                self.runs = {}
                self._runs_version += 1
                self.sparks = {}
                self._sparks_asked = set()
                self.metric_cols = self.config_cols = self.primary = None
                self.query_one(RunTable).clear_selection()
                self.load()

        items = [(f"{p}  ({n} runs)", p) for p, n in self.projects]
        self._pick(chosen, "Project", items)

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

        self._pick(chosen, "Sort by (again to reverse)", items)

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
                    self._sparks_asked = set()
                    self._request_sparks(list(self.runs.values()))
                self.refresh_table()

        self._pick(chosen, "Metric columns (first = primary, with trend)", [(k, k) for k in keys],
                   multi=True, checked=current)

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

        self._pick(chosen, "Config columns", [(k, k) for k in sorted(keys)], multi=True, checked=current)

    def action_toggle_gpu(self) -> None:
        self.gpu_cols = not self.gpu_cols
        self.refresh_table()

    def action_toggle_groups(self) -> None:
        self.grouped = not self.grouped
        self.refresh_table()

    def action_artifacts(self) -> None:
        self.tapp.open_artifacts()

    def action_reload(self) -> None:
        self.load()
