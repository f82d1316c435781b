"""One run: overview (metadata, notes, tags, summary with last/min/max), its config as a
searchable tree, and charts of its metrics."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Input, RichLog, Static, TabbedContent, TabPane, Tree

from tracker.store import RunRecord
from tracker.store.keys import is_system_metric
from tracker.tui import fmt
from tracker.tui.diff import fmt_value, training_first
from tracker.tui.messages import RunLoaded, SeriesLoaded, StoreChanged
from tracker.tui.screens.base import TitleBar, TrackerScreen
from tracker.tui.text import console_text, sanitize
from tracker.tui.widgets.artifact_list import RunArtifacts
from tracker.tui.widgets.chart_view import ChartView
from tracker.tui.widgets.key_bar import KeyBar
from tracker.tui.widgets.media import attach_media_tab
from tracker.tui.widgets.pickers import Picker
from tracker.tui.widgets.run_extras import attach_text_tab


def _kv(t: Text, key: str, value: Any, style: str = "") -> None:
    t.append(f"{key:<10}", style="bold")
    t.append(sanitize(value) if value not in (None, "") else "—", style=style)
    t.append("\n")


class DetailScreen(TrackerScreen):
    """Everything about one run."""

    HELP_TITLE = "Run detail"
    DEFAULT_CSS = """
    DetailScreen TabbedContent { height: 1fr; }
    DetailScreen ContentSwitcher { height: 1fr; }
    DetailScreen TabPane { padding: 0; height: 1fr; }
    DetailScreen VerticalScroll { height: 1fr; }
    DetailScreen #overview-text { padding: 0 1; height: auto; }
    DetailScreen #summary { height: auto; max-height: 100%; }
    DetailScreen #config-search { height: 1; border: none; padding: 0 1; background: $boost; }
    DetailScreen Tree { height: 1fr; }
    DetailScreen ChartView { height: 1fr; }
    DetailScreen #console-search { height: 1; border: none; padding: 0 1; background: $boost; }
    DetailScreen #console-log { height: 1fr; }
    DetailScreen #system-empty { padding: 1 2; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="detail.back"),
        Binding("1", "tab('overview')", "Overview", id="detail.tab_overview"),
        Binding("2", "tab('config')", "Config", id="detail.tab_config"),
        Binding("3", "tab('charts')", "Charts", id="detail.tab_charts"),
        Binding("4", "tab('system')", "System", id="detail.tab_system"),
        Binding("5", "tab('console')", "Console", id="detail.tab_console"),
        Binding("6", "tab('media')", "Media", show=False, id="detail.tab_media"),  # the tab exists when the run has media
        Binding("7", "tab('texts')", "Text", show=False, id="detail.tab_texts"),  # when it logged strings / saved files
        Binding("f", "follow", "Follow console", show=False, id="detail.follow"),
        Binding("slash", "search_config", "Search config", id="detail.search"),
        Binding("m", "pick_metrics", "Metrics", id="detail.metrics"),
    ]  # chart keys: ChartView's own bindings, live while a chart has focus

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.record: RunRecord | None = None
        self.alerts: list[dict[str, Any]] = []
        self.code: dict[str, Any] = {}
        self.console: list[tuple[int, float, str, str]] = []
        self.console_cursor = 0
        self.follow = True
        self.metrics: list[str] = []

    def compose(self) -> ComposeResult:
        yield TitleBar(Text(f"run {self.run_id}", style="bold"), id="title")
        with TabbedContent(id="tabs"):
            with TabPane("Overview", id="overview"):
                with VerticalScroll(id="overview-scroll"):
                    yield Static(id="overview-text")
                    yield RunArtifacts(self.run_id, self.tapp.reader.dir, id="run-artifacts")
                    yield DataTable(id="summary", cursor_type="row", zebra_stripes=True)
            with TabPane("Config", id="config"):
                yield Input(placeholder="search config keys and values (/)", id="config-search")
                yield Tree(Text("config"), id="config-tree")
            with TabPane("Charts", id="charts"):
                yield ChartView(id="chart")
            with TabPane("System", id="system"):
                yield Static(id="system-empty")
                yield ChartView(id="system-chart")
            with TabPane("Console", id="console"):
                yield Input(placeholder="search the output (/ in this tab; f: follow)", id="console-search")
                yield RichLog(id="console-log", max_lines=20_000, wrap=False, markup=False, auto_scroll=True)
        yield KeyBar(compact=True)

    def on_mount(self) -> None:
        # The overview is what the user sees first: its keys (up/down, page up/down) scroll it at
        # once, as one page. A DataTable caps itself at its container's height, which made a scroll
        # inside this scroll (the last metrics out of reach): lift the cap, the table is as tall
        # as its rows.
        self.query_one("#summary", DataTable).styles.max_height = 1_000_000
        self.query_one("#overview-scroll").focus()
        self._load()
        attach_media_tab(self, self.tapp.reader.dir, self.run_id)
        attach_text_tab(self, self.tapp.reader.dir, self.run_id)

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def _load(self) -> None:
        try:
            rec = self.tapp.reader.run(self.run_id)
            alerts = self.tapp.reader.alerts(rec)
            code = self.tapp.reader.code(rec)
            lines = self.tapp.reader.console(rec, self.console_cursor)
        except Exception as e:  # RunNotFound / store gone: shown, never raised
            self.post_message(RunLoaded(None, str(e)))
            return
        self.post_message(RunLoaded((rec, alerts, code, lines)))

    @on(StoreChanged)
    def _changed(self, _: StoreChanged) -> None:
        if self.record is not None and self.record.state == "running":
            self._load()
            attach_text_tab(self, self.tapp.reader.dir, self.run_id)  # new strings / saved files

    @on(RunLoaded)
    def _loaded(self, msg: RunLoaded) -> None:
        if msg.run is None:
            self.query_one("#overview-text", Static).update(Text(sanitize(msg.error or "run not found"), style="red"))
            return
        first = self.record is None
        r, self.alerts, self.code, new_lines = msg.run
        self.record = r
        self._add_console(new_lines)
        title = Text()
        title.append(sanitize(r.name), style="bold")
        title.append(f"  {r.id}  {sanitize(r.project)}  ")
        title.append(r.state, style={"running": "bold cyan", "finished": "green", "failed": "bold red",
                                     "crashed": "bold magenta"}.get(r.state, ""))
        self.set_title(title)
        self._fill_overview(r)
        if first:
            self._fill_tree(r.config, "")
            keys = [k for k in training_first(r.metrics) if not is_system_metric(k)]
            losses = [k for k in keys if "loss" in k.lower()]
            self.metrics = (losses + [k for k in keys if k not in losses])[:4]
        self._load_series()

    def _fill_overview(self, r: RunRecord) -> None:
        t = Text()
        now = self.tapp.clock()
        _kv(t, "state", r.state + (f" (exit {r.exit_code})" if r.exit_code not in (None, 0) else ""))
        if r.meta.get("error"):
            _kv(t, "error", r.meta.get("error"), "red")
        if r.meta.get("sweep_id"):  # started by a sweep agent; sweep_stop: the sweep ended it
            stop = r.meta.get("sweep_stop")
            stop = stop if isinstance(stop, dict) else {}
            band = f" at band {stop['band']}" if stop.get("band") is not None else ""
            _kv(t, "sweep", f"{r.meta['sweep_id']}" + (f": stopped by the sweep{band}: {stop.get('reason', '')}"
                                                      if stop else ""), "yellow" if stop else "")
        for kind, label in (("fork_from", "forked from"), ("resume_from", "resumed from")):
            link = r.meta.get(kind)  # init(fork_from="RUNID?_step=N"): the parent's history up to N
            if isinstance(link, dict):
                _kv(t, label[:-5], f"{label} run {link.get('run')} at step {link.get('step')}")
        _kv(t, "created", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.created_at)))
        end = r.finished_at or (now if r.state == "running" else max(r.heartbeat_at or 0, r.updated_at))
        _kv(t, "duration", fmt.duration(end - r.created_at))
        _kv(t, "step", r.last_step)
        _kv(t, "host", f"{r.host or '?'}  user {r.user or '?'}  pid {r.pid or '?'}")
        _kv(t, "command", " ".join(r.argv[1:] if len(r.argv) > 1 else r.argv))
        _kv(t, "cwd", r.cwd)
        _kv(t, "python", r.python)
        git = "—"
        if r.git_commit:
            git = f"{r.git_commit[:12]}" + (f" on {r.git_branch}" if r.git_branch else "") + (" (dirty)" if r.git_dirty else "")
        _kv(t, "git", git)
        if self.code.get("remote"):
            _kv(t, "remote", self.code["remote"])
        if self.code.get("diff"):
            diff = self.code["diff"]
            _kv(t, "diff", f"{diff.count(chr(10)):,} lines of uncommitted changes (below)")
        rank = r.meta.get("rank")
        if rank is not None:
            _kv(t, "rank", f"{rank} of {r.meta.get('world_size', '?')}"
                + (f" (local {r.meta['local_rank']})" if "local_rank" in r.meta else ""))
        _kv(t, "group", r.group)
        _kv(t, "job type", r.job_type)
        _kv(t, "tags", ", ".join(r.tags))
        _kv(t, "notes", r.notes)
        if self.alerts:
            t.append("\nalerts\n", style="bold")
            colour = {"INFO": "cyan", "WARN": "yellow", "ERROR": "bold red"}
            for a in self.alerts:
                when = time.strftime("%m-%d %H:%M:%S", time.localtime(a["time"])) if a.get("time") else ""
                t.append(f"  {when}  ")
                t.append(f"{sanitize(a['level']):<5}", style=colour.get(a["level"], ""))
                step = f"  step {a['step']}" if a.get("step") is not None else ""
                t.append(f"{step}  ")
                t.append(sanitize(a["title"]), style="bold")
                if a.get("text"):
                    t.append(" — " + sanitize(a["text"]))
                t.append("\n")
        if self.code.get("diff"):
            from tracker.tui.screens.compare import _diff_text

            t.append("\nuncommitted changes when the run started\n", style="bold")
            t.append_text(_diff_text(self.code["diff"].splitlines(), limit=400))
        self.query_one("#overview-text", Static).update(t)
        self._fill_summary(r)

    def _fill_summary(self, r: RunRecord) -> None:
        """Last, min, max, count and last step per metric, training metrics first; then values
        set only through ``run.summary``."""
        table = self.query_one("#summary", DataTable)
        if not table.columns:
            for label in ("metric", "last", "min", "max", "count", "last step"):
                table.add_column(Text(label, style="bold"), key=label)
        table.clear()
        for k in training_first({*r.metrics, *r.summary_overrides}):
            st = r.metrics.get(k)
            if st is None:  # set through run.summary only
                v = r.summary_overrides[k]
                table.add_row(Text(sanitize(k)), Text(sanitize(fmt_value(v))), Text(""), Text(""), Text(""), Text(""))
                continue
            last = r.summary.get(k, st.last)
            table.add_row(Text(sanitize(k)), Text(fmt.num(last)), Text(fmt.num(st.min)), Text(fmt.num(st.max)),
                          Text(str(st.count)), Text("" if st.last_step is None else str(st.last_step)))

    def _fill_tree(self, cfg: dict[str, Any], query: str) -> None:
        tree = self.query_one("#config-tree", Tree)
        tree.clear()
        tree.root.expand()
        q = query.lower()

        def matches(k: str, v: Any) -> bool:
            if not q:
                return True
            if q in k.lower():
                return True
            if isinstance(v, dict):
                return any(matches(kk, vv) for kk, vv in v.items())
            return q in fmt_value(v).lower()

        def add(node: Any, d: dict[str, Any]) -> None:
            for k, v in d.items():
                if not matches(str(k), v):
                    continue
                if isinstance(v, dict) and v:
                    child = node.add(Text(sanitize(k), style="bold"), expand=True)
                    add(child, v)
                else:
                    label = Text(sanitize(k), style="bold")
                    label.append(": ")
                    label.append(sanitize(fmt_value(v)))
                    node.add_leaf(label)

        add(tree.root, cfg)

    @on(Input.Changed, "#config-search")
    def _search(self, event: Input.Changed) -> None:
        if self.record is not None:
            self._fill_tree(self.record.config, event.value)

    # ------------------------------------------------------------------ charts
    def _system_keys(self) -> list[str]:
        """One chart per GPU for utilisation and memory, then CPU and memory of the machine."""
        if self.record is None:
            return []
        keys = sorted(k for k in self.record.metrics if k.startswith("system/"))
        gpu = [k for k in keys if k.startswith("system/gpu") and k.endswith(("/util_percent", "/mem_used_gib", "/mem_used_gb"))]
        rest = [k for k in ("system/cpu_percent", "system/ram_used_gib", "system/proc_rss_gib",
                            "system/ram_used_gb", "system/proc_rss_gb") if k in keys]  # _gb: older stores
        return gpu + rest

    def _load_series(self) -> None:
        if self.record is not None and (self.metrics or self._system_keys()):
            self._fetch(self.record, list(self.metrics) + self._system_keys())

    @work(thread=True, exclusive=True, group="detail-series", exit_on_error=False)
    def _fetch(self, rec: RunRecord, metrics: list[str]) -> None:
        out = {}
        for m in metrics:
            out[m] = self.tapp.reader.series([rec], m)
        self.post_message(SeriesLoaded("*", [out]))

    @on(SeriesLoaded)
    def _series(self, msg: SeriesLoaded) -> None:
        from tracker.tui.screens.charts import to_chart_series

        data = msg.series[0]
        self.query_one("#chart", ChartView).set_series(
            {m: to_chart_series(s) for m, s in data.items() if not m.startswith("system/")})
        system = {m[len("system/"):]: to_chart_series(s) for m, s in data.items() if m.startswith("system/")}
        empty = self.query_one("#system-empty", Static)
        view = self.query_one("#system-chart", ChartView)
        if system:
            empty.display = False
            view.display = True
            view.x_mode = "relative"
            view.set_series(system)
        else:
            empty.display = True
            view.display = False
            empty.update(Text("No system metrics recorded for this run (tracker.init(system_interval=10) samples "
                              "CPU, memory, disk, network and GPUs every 10 s)."))

    # ------------------------------------------------------------------ actions
    def action_back(self) -> None:
        media_filter = self.query("#media-filter")  # only when the run has media
        if media_filter and media_filter.first().has_focus:
            self.query_one("#media-table").focus()
            return
        for search, target in (("#config-search", "#config-tree"), ("#console-search", "#console-log")):
            if self.query_one(search, Input).has_focus:
                self.query_one(target).focus()
                return
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        if not self.query(f"#{tab}"):
            return  # the Media tab of a run without media
        self.query_one(TabbedContent).active = tab
        # Focus something on the shown tab (a hidden search box must not keep the keys).
        target = {"overview": "#overview-scroll", "config": "#config-tree", "console": "#console-log",
                  "charts": "#chart", "system": "#system-chart", "media": "#media-keys",
                  "texts": "#texts-scroll"}.get(tab)
        if target and self.query_one(target).display:
            self.query_one(target).focus()
        else:
            self.query_one(TabbedContent).query_one("Tabs").focus()

    def action_search_config(self) -> None:
        if self.query_one(TabbedContent).active == "console":
            self.query_one("#console-search", Input).focus()
            return
        self.query_one(TabbedContent).active = "config"
        self.query_one("#config-search", Input).focus()

    def action_pick_metrics(self) -> None:
        if self.record is None:
            return

        def chosen(sel: list[str] | None) -> None:
            if sel:
                self.metrics = sel[:6]
                self.action_tab("charts")  # shown and focused: the chart keys apply
                self._load_series()

        keys = training_first(self.record.metrics)
        self.app.push_screen(Picker("Metrics to chart (up to 6)", [(k, k) for k in keys], multi=True,
                                    checked=self.metrics), chosen)

    # ------------------------------------------------------------------ console
    def _add_console(self, lines: list[tuple[int, float, str, str]]) -> None:
        if not lines:
            return
        self.console.extend(lines)
        self.console_cursor = max(self.console_cursor, lines[-1][0])
        query = self.query_one("#console-search", Input).value
        log = self.query_one("#console-log", RichLog)
        for _, t, stream, text in lines:
            if not query or query.lower() in text.lower():
                log.write(self._console_line(t, stream, text), scroll_end=self.follow)

    def _console_line(self, t: float, stream: str, text: str) -> Text:
        line = Text(time.strftime("%H:%M:%S ", time.localtime(t)), style="dim")
        if stream == "stderr":
            line.append("! ", style="red")
        elif stream != "stdout":
            line.append("# ", style="yellow")
        line.append_text(console_text(text))
        return line

    @on(Input.Changed, "#console-search")
    def _console_search(self, event: Input.Changed) -> None:
        log = self.query_one("#console-log", RichLog)
        log.clear()
        q = event.value.lower()
        for _, t, stream, text in self.console:
            if not q or q in text.lower():
                log.write(self._console_line(t, stream, text), scroll_end=self.follow)

    def action_follow(self) -> None:
        self.follow = not self.follow
        self.query_one("#console-log", RichLog).auto_scroll = self.follow
        self.notify(f"console follow {'on' if self.follow else 'off'}", timeout=2)
