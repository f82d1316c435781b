"""Compare's **Media** tab: one media key of the selected runs side by side, at each run's last
value — images next to each other, histograms overlaid (each run's median over steps in one
chart, the last step's bars side by side), tables diffed by row. Added to Compare only when at
least two of the runs share a media key."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from tracker.tui.charts.series import Series
from tracker.tui.media.hist import bars_text, distribution
from tracker.tui.media.render import color_mode, grid, image_text
from tracker.tui.text import sanitize
from tracker.tui.widgets.chart_view import ChartView

__all__ = ["MediaCompare", "attach_compare_media_tab", "table_diff"]


def _read(store_dir: Any, run_ids: list[str]) -> list[tuple[str, str, dict[str, list[Any]]]]:
    from tracker.api import Api

    api = Api(store_dir)
    try:
        out = []
        for rid in run_ids:
            r = api.run(rid)
            by_key: dict[str, list[Any]] = {}
            for it in r.media():
                by_key.setdefault(it.key, []).append(it)
            out.append((r.id, r.name, by_key))
        return out
    finally:
        if api.store is not None:
            api.store.close()


def shared_keys(runs: list[tuple[str, str, dict[str, list[Any]]]]) -> list[str]:
    """Media keys that at least two of the runs have, in name order."""
    seen: dict[str, int] = {}
    for _, _, by_key in runs:
        for k in by_key:
            seen[k] = seen.get(k, 0) + 1
    return sorted(k for k, n in seen.items() if n >= 2)


def attach_compare_media_tab(screen: Any, store_dir: Any, run_ids: list[str]) -> None:
    """Add a Media tab to ``screen`` (Compare) when two or more runs share a media key."""

    def check() -> None:
        try:
            runs = _read(store_dir, run_ids)
        except Exception:  # a run or the store gone: the screen says so elsewhere
            return
        if shared_keys(runs):
            screen.app.call_from_thread(add, runs)

    def add(runs: list[tuple[str, str, dict[str, list[Any]]]]) -> None:
        if not screen.query("#cmp-media"):
            screen.query_one(TabbedContent).add_pane(TabPane("Media", MediaCompare(runs, id="cmp-media-pane"),
                                                             id="cmp-media"))

    screen.run_worker(check, thread=True, group="compare-media", exit_on_error=False)


def table_diff(names: list[str], tables: list[dict[str, Any] | None]) -> Text:
    """Rows of each run's table compared as whole rows: how many are shared by all, and the rows
    only some runs have (the first 20 of each), each marked with the runs that have it."""
    present = [(n, t) for n, t in zip(names, tables) if t is not None]
    sets = []
    for _, t in present:
        sets.append({tuple(map(repr, row)): row for row in t.get("data", [])})
    common = set.intersection(*(set(s) for s in sets)) if sets else set()
    out = Text(no_wrap=True, overflow="ellipsis")
    cols = present[0][1].get("columns", []) if present else []
    out.append(f"{len(common):,} rows in every table; columns: " + ", ".join(sanitize(c) for c in cols) + "\n",
               style="bold")
    for (name, _), rows in zip(present, sets):
        only = [rows[k] for k in rows if k not in common]
        out.append(f"\nonly in some tables, from {sanitize(name)} ({len(only):,}):\n", style="bold")
        for row in only[:20]:
            marks = "".join("●" if tuple(map(repr, row)) in s else "·" for s in sets)
            out.append(f"  {marks}  ", style="cyan")
            out.append(" | ".join(sanitize(v if isinstance(v, str) else repr(v)) for v in row)[:200] + "\n")
    return out


class MediaCompare(Widget):
    """Shared media keys on the left; the highlighted key for every run on the right."""

    DEFAULT_CSS = """
    MediaCompare { height: 1fr; }
    MediaCompare #cmpm-keys { width: 24%; max-width: 30; min-width: 14; height: 1fr; }
    MediaCompare #cmpm-right { width: 1fr; height: 1fr; padding: 0 1; }
    MediaCompare #cmpm-scroll { height: 1fr; }
    MediaCompare #cmpm-view { height: auto; }
    MediaCompare #cmpm-chart { height: 1fr; min-height: 8; }
    """

    def __init__(self, runs: list[tuple[str, str, dict[str, list[Any]]]], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.runs = runs
        self.keys = shared_keys(runs)
        self.key: str | None = self.keys[0] if self.keys else None
        self.mode = color_mode()

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield DataTable(id="cmpm-keys", cursor_type="row")
            with Vertical(id="cmpm-right"):
                with VerticalScroll(id="cmpm-scroll"):
                    yield Static(id="cmpm-view")
                yield ChartView(id="cmpm-chart")

    def on_mount(self) -> None:
        dt = self.query_one("#cmpm-keys", DataTable)
        dt.add_column(Text("shared key", style="bold"), key="key")
        for k in self.keys:
            dt.add_row(Text(sanitize(k)), key=k)
        self.call_after_refresh(self.refresh_view)

    @on(DataTable.RowHighlighted, "#cmpm-keys")
    def _pick(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key is not None and event.row_key.value != self.key:
            self.key = event.row_key.value
            self.refresh_view()

    def on_resize(self) -> None:
        self.refresh_view()

    def refresh_view(self) -> None:
        if self.key is None:
            return
        lasts = [(name, by_key[self.key][-1] if self.key in by_key else None) for _, name, by_key in self.runs]
        view = self.query_one("#cmpm-view", Static)
        chart = self.query_one("#cmpm-chart", ChartView)
        w, h = self.query_one("#cmpm-right").size
        w, h = (w - 2 if w > 10 else 60), (h - 2 if h > 6 else 20)
        kinds = {it.kind for _, it in lasts if it is not None}
        chart.display = kinds == {"histogram"}
        try:
            view.update(self._draw(lasts, kinds, w, h, chart))
        except Exception as e:  # a missing or damaged file: said in the pane
            view.update(Text(f"cannot show {sanitize(self.key)}: {sanitize(e)}", style="red"))

    def _draw(self, lasts: list[tuple[str, Any]], kinds: set[str], w: int, h: int, chart: ChartView) -> Text:
        n = len(lasts)
        cell_w = max(8, (w - (n - 1)) // max(1, n))
        heads = []
        for name, it in lasts:
            t = Text(sanitize(name)[:cell_w], style="bold")
            t.append("\n" + ("—" if it is None else f"step {it.step}"), style="dim")
            heads.append(t)
        out = grid(heads, cell_w)
        out.append("\n")
        if kinds == {"image"}:
            cells = []
            for _, it in lasts:
                if it is None:
                    cells.append(Text("(not logged)", style="dim"))
                    continue
                iw, ih, ch, px = it.image()
                t = image_text(iw, ih, ch, px, cell_w, max(2, h - 4), self.mode)
                if it.caption:
                    t.append("\n" + sanitize(it.caption)[:cell_w], style="italic")
                cells.append(t)
            out.append_text(grid(cells, cell_w))
        elif kinds == {"histogram"}:
            series = []
            for i, (name, _) in enumerate(lasts):
                items = self.runs[i][2].get(self.key or "", [])
                xs, ys = distribution([(it.step, it.meta) for it in items])["median"]
                if xs:
                    series.append(Series(label=f"{sanitize(name)} median", xs=xs, ys=ys, color_index=i))
            chart.set_series(series)
            out.append_text(grid([bars_text(it.data, cell_w, 4) if it is not None else Text("—")
                                  for _, it in lasts], cell_w))
        elif kinds <= {"table", "plot"}:
            tables = [None if it is None else (it.data if it.kind == "table" else it.data["table"]) for _, it in lasts]
            out.append_text(table_diff([name for name, _ in lasts], tables))
        else:
            out.append(f"{', '.join(sorted(kinds))}: shown per run in run detail's Media tab", style="dim")
        return out
