"""Compare 2..N runs: config diff (only differing keys by default) and metrics side by side
with the best value per row highlighted."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from tracker.store import RunRecord
from tracker.store.keys import is_system_metric
from tracker.tui import fmt
from tracker.tui.diff import config_diff, fmt_value, lower_is_better, training_first
from tracker.tui.messages import RunLoaded, StoreChanged
from tracker.tui.screens.base import TitleBar, TrackerScreen
from tracker.tui.text import expand_tabs, sanitize
from tracker.tui.widgets.key_bar import KeyBar
from tracker.tui.widgets.media_compare import attach_compare_media_tab

MARK = {"changed": ("~", "yellow"), "added": ("+", "green"), "removed": ("-", "red"), "same": (" ", "")}


def run_header(r: RunRecord, width: int = 16) -> Text:
    name = sanitize(r.name)
    if len(name) > width:
        name = name[: width - 1] + "…"
    t = Text(name, style="bold")
    t.append(f"\n{r.id}", style="dim")
    return t


@dataclass
class MetricRow:
    """One metric across the compared runs."""

    key: str
    #: what ``values`` hold: ``"min"`` / ``"max"`` (each run's best over its whole history, the
    #: direction following the name), ``"last"`` (system metrics), ``""`` (set in run.summary only)
    kind: str
    values: list[Any]
    best: int | None  # the run with the single best value; None on ties and for system metrics


def unique_best(values: Sequence[Any], lower: bool) -> int | None:
    """Index of the one best finite number in ``values``; None when fewer than two runs have a
    number or when the best value is shared (a tie marks nobody)."""
    nums = [(i, float(v)) for i, v in enumerate(values)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if len(nums) < 2:
        return None
    best = min(v for _, v in nums) if lower else max(v for _, v in nums)
    winners = [i for i, v in nums if v == best]
    return winners[0] if len(winners) == 1 else None


def metric_rows(runs: list[RunRecord]) -> list[MetricRow]:
    """A row for every metric any run has, training metrics first. A logged metric shows each
    run's min or max over its history (the store keeps both per metric; NaN never counts), a
    system metric its last value, a value only set through ``run.summary`` that value."""
    rows = []
    for k in training_first({k for r in runs for k in r.summary}):
        lower = lower_is_better(k)
        if is_system_metric(k):
            kind = "last"
        elif any(k in r.metrics for r in runs):
            kind = "min" if lower else "max"
        else:
            kind = ""
        vals: list[Any] = []
        for r in runs:
            st = r.metrics.get(k)
            if st is None or kind in ("", "last"):
                vals.append(r.summary.get(k))
            else:
                vals.append(st.min if lower else st.max)
        best = None if kind == "last" else unique_best(vals, lower)
        rows.append(MetricRow(k, kind, vals, best))
    return rows


class CodeDiffReady(Message):
    def __init__(self, text: Text) -> None:
        super().__init__()
        self.text = text


def _git(root: str, *args: str) -> str | None:
    import subprocess

    try:
        p = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=5,
                           stdin=subprocess.DEVNULL, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout if p.returncode == 0 else None


def _diff_text(lines: list[str], limit: int = 4000) -> Text:
    t = Text()
    for line in lines[:limit]:
        style = ("green" if line.startswith("+") and not line.startswith("+++") else
                 "red" if line.startswith("-") and not line.startswith("---") else
                 "cyan" if line.startswith("@@") else "bold" if line.startswith(("diff ", "+++", "---")) else "")
        t.append(sanitize(expand_tabs(line)) + "\n", style=style)
    if len(lines) > limit:
        t.append(f"… {len(lines) - limit:,} more lines\n", style="dim")
    return t


def code_diff(a: RunRecord, b: RunRecord, code_a: dict[str, Any], code_b: dict[str, Any]) -> Text:
    """What differs in the code of two runs: their commits (from the repository, when it is on
    this machine) and their uncommitted patches."""
    import difflib

    out = Text()
    ca, cb = a.git_commit, b.git_commit
    out.append(f"{sanitize(a.name)}: ", style="bold")
    out.append(f"{(ca or 'no commit')[:12]}{' + uncommitted changes' if code_a.get('diff') else ''}\n")
    out.append(f"{sanitize(b.name)}: ", style="bold")
    out.append(f"{(cb or 'no commit')[:12]}{' + uncommitted changes' if code_b.get('diff') else ''}\n\n")
    if ca and cb and ca != cb:
        root = code_a.get("root") or code_b.get("root")
        diff = _git(root, "diff", "--no-color", "--no-ext-diff", ca, cb) if root and os.path.isdir(root) else None
        if diff is None:
            out.append("The commits differ; their repository is not on this machine, so their diff cannot be "
                       "shown.\n\n", style="dim")
        else:
            out.append(f"git diff {ca[:12]} {cb[:12]}\n", style="bold underline")
            out.append_text(_diff_text(diff.splitlines()) if diff else Text("(no changes)\n", style="dim"))
            out.append("\n")
    elif ca and ca == cb:
        out.append("Same commit.\n\n", style="dim")
    pa, pb = code_a.get("diff", ""), code_b.get("diff", "")
    if pa or pb:
        out.append("uncommitted changes, first run -> second run\n", style="bold underline")
        if pa == pb:
            out.append("identical\n", style="dim")
        else:
            lines = list(difflib.unified_diff(pa.splitlines(), pb.splitlines(), f"{a.id} patch", f"{b.id} patch",
                                              lineterm=""))
            out.append_text(_diff_text(lines))
    elif not (ca and cb and ca != cb):
        out.append("No code differences recorded.\n", style="dim")
    return out


class CompareScreen(TrackerScreen):
    """Config diff and metrics of the chosen runs."""

    HELP_TITLE = "Compare"
    DEFAULT_CSS = """
    CompareScreen DataTable { height: 1fr; }
    CompareScreen TabbedContent { height: 1fr; }
    CompareScreen ContentSwitcher { height: 1fr; }
    CompareScreen TabPane { padding: 0; height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="compare.back"),
        Binding("a", "toggle_all", "All keys", id="compare.all"),
        Binding("n", "next_change(1)", "Next change", id="compare.next"),
        Binding("N", "next_change(-1)", "Prev change", show=False, id="compare.prev"),
        Binding("1", "tab('cfg')", "Config", show=False, id="compare.tab_config"),
        Binding("2", "tab('met')", "Metrics", show=False, id="compare.tab_metrics"),
        Binding("3", "tab('code')", "Code", show=False, id="compare.tab_code"),
        Binding("4", "tab('cmp-media')", "Media", show=False, id="compare.tab_media"),
        Binding("v", "charts", "Charts", id="compare.charts"),
    ]

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.runs: list[RunRecord] = []
        self.show_all = False
        self.statuses: list[str] = []

    def compose(self) -> ComposeResult:
        yield TitleBar(id="cmp-title")
        with TabbedContent(id="cmp-tabs"):
            with TabPane("Config diff", id="cfg"):
                yield DataTable(id="cfg-table", cursor_type="row")
            with TabPane("Metrics", id="met"):
                yield DataTable(id="met-table", cursor_type="row")
            with TabPane("Code", id="code"):
                with VerticalScroll():
                    yield Static(id="code-diff")
        yield KeyBar(compact=True)

    def on_mount(self) -> None:
        self._load()
        attach_compare_media_tab(self, self.tapp.reader.dir, self.run_ids)  # when runs share a media key

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _load(self) -> None:
        runs = []
        for rid in self.run_ids:
            try:
                runs.append(self.tapp.reader.run(rid))
            except Exception as e:  # a run deleted meanwhile: report, keep the rest
                self.post_message(RunLoaded(None, str(e)))
        self.post_message(RunLoaded(runs))
        if len(runs) >= 2:
            self.post_message(CodeDiffReady(code_diff(runs[0], runs[1], self.tapp.reader.code(runs[0]),
                                                      self.tapp.reader.code(runs[1]))))

    @on(StoreChanged)
    def _changed(self, _: StoreChanged) -> None:
        if any(r.state == "running" for r in self.runs):
            self._load()

    @on(RunLoaded)
    def _loaded(self, msg: RunLoaded) -> None:
        if msg.run is None:
            self.notify(sanitize(msg.error or "run not found"), severity="error", markup=False)
            return
        self.runs = msg.run
        self._fill()

    def _fill(self) -> None:
        runs = self.runs
        rows = config_diff([r.config for r in runs], only_different=not self.show_all)
        counts = {"changed": 0, "added": 0, "removed": 0}
        for row in config_diff([r.config for r in runs], only_different=True):
            counts[row.status] += 1
        title = Text()
        title.append(f"{len(runs)} runs  ", style="bold")
        title.append(f"~{counts['changed']} changed  +{counts['added']} added  -{counts['removed']} removed")
        title.append("  (a: all keys)" if not self.show_all else "  (a: only differences)", style="dim")
        self.set_title(title)

        t = self.query_one("#cfg-table", DataTable)
        cursor = t.cursor_row
        t.clear(columns=True)
        t.add_column(Text(" "), key="mark", width=1)
        t.add_column(Text("key", style="bold"), key="key")
        for i, r in enumerate(runs):
            t.add_column(run_header(r), key=f"r{i}")
        self.statuses = []
        for row in rows:
            mark, style = MARK[row.status]
            cells: list[Any] = [Text(mark, style=style), Text(sanitize(row.key), style="bold" if row.status != "same" else "")]
            first = row.values[0]
            for j, v in enumerate(row.values):
                cell = Text(sanitize(fmt_value(v)))
                if row.status != "same" and j > 0 and fmt_value(v) != fmt_value(first):
                    cell.stylize(style or "yellow")
                cells.append(cell)
            t.add_row(*cells, height=1)
            self.statuses.append(row.status)
        if not rows:
            t.add_row(Text(""), Text("no differences in config" if not self.show_all else "no config", style="dim"),
                      *[Text("") for _ in runs])
        if cursor is not None and t.row_count:
            t.move_cursor(row=min(cursor, t.row_count - 1))

        self._fill_metrics()

    def _fill_metrics(self) -> None:
        runs = self.runs
        m = self.query_one("#met-table", DataTable)
        m.clear(columns=True)
        m.add_column(Text("metric", style="bold"), key="metric")
        for i, r in enumerate(runs):
            m.add_column(run_header(r), key=f"r{i}")
        for mrow in metric_rows(runs):
            cells = [Text(sanitize(mrow.key) + " ", style="bold").append(f"({mrow.kind})" if mrow.kind else "", style="dim")]
            for j, v in enumerate(mrow.values):
                cell = Text(sanitize(fmt.num(v) if not isinstance(v, (dict, list, str)) else fmt_value(v)))
                if j == mrow.best:
                    cell.stylize("bold green reverse")
                    cell.append(" *")
                cells.append(cell)
            m.add_row(*cells, height=1)

    @on(CodeDiffReady)
    def _code(self, msg: CodeDiffReady) -> None:
        self.query_one("#code-diff", Static).update(msg.text)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self._fill()

    def action_next_change(self, direction: int) -> None:
        t = self.query_one("#cfg-table", DataTable)
        if not self.statuses:
            return
        i = t.cursor_row
        n = len(self.statuses)
        for k in range(1, n + 1):
            j = (i + direction * k) % n
            if self.statuses[j] != "same":
                t.move_cursor(row=j)
                return

    def action_tab(self, tab: str) -> None:
        if not self.query(f"#{tab}"):
            return  # the Media tab when the runs share no media key
        self.query_one(TabbedContent).active = tab

    def action_charts(self) -> None:
        rs = self.tapp.runs_screen()
        metric = rs._primary() if rs is not None else None
        self.tapp.open_charts([r.id for r in self.runs], metric)
