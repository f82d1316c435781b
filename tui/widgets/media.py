"""Run detail's **Media** tab: the run's media keys (kind, values, last step) and the value of the
highlighted key at the step chosen with ``[`` / ``]``.

Tables in a DataTable (at most 10,000 rows, the cap shown; cells sanitised), histograms as
distribution lines over steps (chart renderer) with a step x value heat map and the chosen
step as bars, images as half-block cells fitted to the pane (a grid for a list), confusion
matrices as a shaded grid, ROC / PR / line series through the chart renderer, other media as a
row with size and path. The tab is added to run detail only when the run has media.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from tracker.tui.charts.series import Series
from tracker.tui.media.hist import bands_text, bars_text, distribution, heatmap_text
from tracker.tui.media.render import color_mode, confusion_text, file_row, grid, image_text
from tracker.tui.text import sanitize
from tracker.tui.widgets.chart_view import ChartView

__all__ = ["MAX_TABLE_ROWS", "MediaPane", "attach_media_tab"]

#: Rows a table view shows (wandb's cap).
MAX_TABLE_ROWS = 10_000
_CURVES = {"roc_curve": ("fpr", "tpr"), "pr_curve": ("recall", "precision"), "line_series": ("step", "lineVal"),
           "line": None, "scatter": None}


@dataclass
class MediaLoaded(Message):
    """The pane's worker read the run's media (``items``) or failed (``error``)."""

    items: list[Any]
    error: str | None = None
    bands: dict[str, Any] | None = None
    """Histogram key -> its distribution lines (computed in the worker)."""


def attach_media_tab(screen: Any, store_dir: Any, run_id: str) -> None:
    """Add a Media tab to ``screen``'s TabbedContent if the run has media (checked in a thread)."""

    def check() -> None:
        from tracker.api import Api

        api = None
        try:
            api = Api(store_dir)
            has = bool(api.run(run_id).media_keys())
        except Exception:  # the store went away / the run is not found: no tab, the screen says why
            return
        finally:
            if api is not None and api.store is not None:
                api.store.close()
        if has:
            screen.app.call_from_thread(add)

    def add() -> None:
        tabs = screen.query_one(TabbedContent)
        if not screen.query("#media"):
            tabs.add_pane(TabPane("Media", MediaPane(store_dir, run_id, id="media-pane"), id="media"))

    screen.run_worker(check, thread=True, group="detail-media", exit_on_error=False)


class MediaPane(Widget):
    """Media keys on the left, the highlighted key's value at the chosen step on the right."""

    DEFAULT_CSS = """
    MediaPane { height: 1fr; }
    MediaPane #media-keys { width: 30%; max-width: 36; min-width: 18; height: 1fr; }
    MediaPane #media-right { width: 1fr; height: 1fr; padding: 0 1; }
    MediaPane #media-head { height: auto; }
    MediaPane #media-scroll { height: 1fr; }
    MediaPane #media-view { height: auto; }
    MediaPane #media-table { height: 1fr; }
    MediaPane #media-filter { height: 1; border: none; padding: 0 1; background: $boost; }
    MediaPane #media-chart { height: 1fr; min-height: 8; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left_square_bracket", "step(-1)", "Step back", id="media.step_back"),
        Binding("right_square_bracket", "step(1)", "Step on", id="media.step_on"),
        Binding("left_curly_bracket", "step_to(0)", "First step", show=False, id="media.first"),
        Binding("right_curly_bracket", "step_to(-1)", "Last step", show=False, id="media.last"),
        Binding("s", "sort", "Sort column", id="media.sort"),
        Binding("slash", "filter", "Filter rows", id="media.filter"),
        Binding("y", "copy_cell", "Copy cell", id="media.copy"),
    ]

    def __init__(self, store_dir: Any, run_id: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.store_dir = store_dir
        self.run_id = run_id
        self.by_key: dict[str, list[Any]] = {}
        self.steps: list[int] = []
        self.cursor = -1
        self.key: str | None = None
        self.mode = color_mode()
        self.images = "halfblock"
        """How images are drawn: ``halfblock``, or ``kitty`` / ``sixel`` (the app's ``--images``)."""
        self.bands: dict[str, Any] = {}
        self._requested = False
        self._table: dict[str, Any] | None = None
        self._sort_col: Any = None
        self._sort_desc = False

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield DataTable(id="media-keys", cursor_type="row", zebra_stripes=True)
            with Vertical(id="media-right"):
                yield Static(id="media-head")
                with VerticalScroll(id="media-scroll"):
                    yield Static(id="media-view")
                yield Input(placeholder="filter rows (/): text in any cell", id="media-filter")
                yield DataTable(id="media-table", zebra_stripes=True)
                yield ChartView(id="media-chart")

    def on_mount(self) -> None:
        self.images = getattr(self.app, "images", "halfblock")
        self._show_parts(view=True)
        self.query_one("#media-head", Static).update(Text("reading media…", style="dim"))

    def on_show(self) -> None:
        """Read the media when the tab is first shown (opening run detail never waits for it)."""
        if not self._requested:
            self._requested = True
            self._load()

    @work(thread=True, exclusive=True, group="media", exit_on_error=False)
    def _load(self) -> None:
        from tracker.api import Api

        api = None
        try:
            api = Api(self.store_dir)
            items = api.run(self.run_id).media()  # items read their files, not the database
        except Exception as e:  # shown, never raised
            self.post_message(MediaLoaded([], str(e)))
            return
        finally:
            if api is not None and api.store is not None:
                api.store.close()
        hists: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for it in items:
            if it.kind == "histogram":
                hists.setdefault(it.key, []).append((it.step, it.meta))
        self.post_message(MediaLoaded(items, None, {k: distribution(v) for k, v in hists.items()}))

    @on(MediaLoaded)
    def _loaded(self, msg: MediaLoaded) -> None:
        msg.stop()
        if msg.error:
            self.query_one("#media-head", Static).update(Text(sanitize(msg.error), style="red"))
            return
        self.by_key = {}
        self.bands = msg.bands or {}
        for it in msg.items:
            self.by_key.setdefault(it.key, []).append(it)
        self.steps = sorted({it.step for it in msg.items})
        self.cursor = len(self.steps) - 1
        keys = self.query_one("#media-keys", DataTable)
        keys.clear(columns=True)
        rows: list[tuple[str, list[Text]]] = [
            (k, [Text(sanitize(k)), Text(its[-1].kind), Text(str(len(its))), Text(str(its[-1].step))])
            for k, its in self.by_key.items()]
        # Widths fixed from the data before any row is drawn (never re-measured mid-draw).
        for i, label in enumerate(("key", "kind", "n", "last")):
            width = max([len(label), *(cells[i].cell_len for _, cells in rows)])
            keys.add_column(Text(label, style="bold"), key=label, width=min(width, 40))
        for k, cells in rows:
            keys.add_row(*cells, key=k)
        if self.by_key:
            self.key = next(iter(self.by_key))
            self._show()
            self.call_after_refresh(self._show)  # again once laid out: images fit the pane's real size
        else:
            self.query_one("#media-head", Static).update(Text("This run has no media."))

    @on(DataTable.RowHighlighted, "#media-keys")
    def _pick(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value if event.row_key is not None else None
        if key is not None and key != self.key:
            self.key = key
            self._show()

    def action_step(self, delta: int) -> None:
        if self.steps:
            self.cursor = max(0, min(len(self.steps) - 1, self.cursor + delta))
            self._show()

    def action_step_to(self, index: int) -> None:
        if self.steps:
            self.cursor = index % len(self.steps)
            self._show()

    def action_sort(self) -> None:
        """Sort the table view by the cursor's column (again: the other way); numbers as numbers."""
        dt = self.query_one("#media-table", DataTable)
        if not dt.display or not dt.columns:
            return
        col = list(dt.columns)[dt.cursor_column]
        self._sort_desc = not self._sort_desc if self._sort_col == col else False
        self._sort_col = col
        dt.sort(col, key=_sort_key, reverse=self._sort_desc)

    def action_filter(self) -> None:
        box = self.query_one("#media-filter", Input)
        if box.display:
            box.focus()

    @on(Input.Changed, "#media-filter")
    def _filter(self, event: Input.Changed) -> None:
        event.stop()
        if self._table is not None:
            self._fill_table(self._table)

    @on(Input.Submitted, "#media-filter")
    def _filtered(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#media-table").focus()

    def action_copy_cell(self) -> None:
        """Copy the table cell under the cursor (its text as shown) to the clipboard (OSC 52)."""
        dt = self.query_one("#media-table", DataTable)
        if not dt.display or not dt.row_count:
            return
        cell = dt.get_cell_at(dt.cursor_coordinate)
        text = cell.plain if isinstance(cell, Text) else str(cell)
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {len(text)} characters", timeout=2)

    def on_resize(self) -> None:
        if self.key is not None:
            self._show()

    # ------------------------------------------------------------------ showing one value
    def current(self) -> Any:
        """The highlighted key's value at the chosen step (its latest at or before it)."""
        its = self.by_key.get(self.key or "", [])
        if not its:
            return None
        step = self.steps[self.cursor] if self.steps else its[-1].step
        before = [it for it in its if it.step <= step]
        return before[-1] if before else its[0]

    def _slider(self, item: Any) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(sanitize(self.key or ""), style="bold")
        t.append(f"  {item.kind}  step {item.step}")
        n = len(self.steps)
        if n > 1:
            width = max(4, min(20, self._pane_size()[0] - t.cell_len - 20))
            pos = round(self.cursor / (n - 1) * (width - 1))
            t.append("   [ ")
            t.append("━" * pos, style="cyan")
            t.append("●", style="bold cyan")
            t.append("━" * (width - 1 - pos), style="dim")
            t.append(f" ]  {self.cursor + 1}/{n} steps")
        if item.caption:
            t.append("\n")
            t.append(sanitize(item.caption), style="italic")
        return t

    def _show_parts(self, view: bool = False, table: bool = False, chart: bool = False) -> None:
        self.query_one("#media-scroll").display = view
        self.query_one("#media-table").display = table
        self.query_one("#media-filter").display = table
        self.query_one("#media-chart").display = chart

    def _pane_size(self) -> tuple[int, int]:
        w, h = self.query_one("#media-right").size
        if w <= 10 or h <= 6:  # not laid out yet: estimate from the pane (keys take 30%, 18-36 columns)
            w = self.size.width - max(18, min(36, self.size.width * 3 // 10))
            h = self.size.height
        return (w - 2 if w > 10 else 60), (h - 3 if h > 6 else 20)

    def _show(self) -> None:
        item = self.current()
        if item is None:
            return
        self.query_one("#media-head", Static).update(self._slider(item))
        view = self.query_one("#media-view", Static)
        try:
            self._render_item(item, view)
        except Exception as e:  # a damaged or missing file: say so in the pane, keep the app
            self._show_parts(view=True)
            view.display = True
            self.query("#media-graphics").set(display=False)
            view.update(Text(f"cannot show this value: {sanitize(e)}", style="red"))

    def _render_item(self, item: Any, view: Static) -> None:
        w, h = self._pane_size()
        kind = item.kind
        if self.images != "halfblock":
            if self._graphics(item, w, h):
                return
        if kind == "image":
            self._show_parts(view=True)
            iw, ih, ch, px = item.image()
            view.update(image_text(iw, ih, ch, px, w, h - 1, self.mode))
        elif kind == "images":
            self._show_parts(view=True)
            view.update(self._image_grid(item, w, h))
        elif kind == "histogram":
            self._show_histogram(item, view, w, h)
        elif kind == "table":
            self._show_parts(table=True)
            self._fill_table(item.data)
        elif kind == "plot":
            self._show_plot(item, view, w)
        else:
            self._show_parts(view=True)
            its = item.data if kind == "list" else [dict(item.meta, kind=kind)]
            rows = [file_row(m.get("kind", kind), m, item.size, str(item.path) if item.path else None) for m in its]
            view.update(Text("\n").join(rows))

    def _graphics(self, item: Any, w: int, h: int) -> bool:
        """Draw an image (list) with terminal graphics; ``False`` for other kinds (graphics hidden)."""
        from tracker.tui.widgets.media_graphics import GraphicsView

        found = self.query("#media-graphics")
        gfx = found.first(GraphicsView) if found else None
        is_image = item.kind in ("image", "images")
        if gfx is None:
            if not is_image:
                return False
            gfx = GraphicsView(self.images, id="media-graphics")
            self.query_one("#media-scroll").mount(gfx)
        self.query_one("#media-view").display = not is_image
        gfx.display = is_image
        if not is_image:
            gfx.clear()
            return False
        self._show_parts(view=True)
        gfx.show(item, w, h)
        return True

    def _image_grid(self, item: Any, w: int, h: int) -> Text:
        n = len(item.data)
        cols = max(1, min(n, math.ceil(math.sqrt(n * max(1, w) / max(1, 2 * h)))))
        cell_w = max(4, (w - (cols - 1)) // cols)
        rows_n = math.ceil(n / cols)
        cell_h = max(2, h // rows_n - 1)
        out = Text(no_wrap=True, overflow="crop")
        for r in range(rows_n):
            cells = []
            for i in range(r * cols, min(n, (r + 1) * cols)):
                iw, ih, ch, px = item.image(i)
                t = image_text(iw, ih, ch, px, cell_w, cell_h, self.mode)
                cap = item.data[i].get("caption")
                t.append("\n" + sanitize(cap or "")[:cell_w], style="italic")
                cells.append(t)
            if r:
                out.append("\n")
            out.append_text(grid(cells, cell_w))
        return out

    def _show_histogram(self, item: Any, view: Static, w: int, h: int) -> None:
        self._show_parts(view=True, chart=True)
        its = [(it.step, it.meta) for it in self.by_key[item.key]]
        bands = self.bands.get(item.key) or distribution(its)
        chart = self.query_one("#media-chart", ChartView)
        xs, ys = bands["median"]  # the chart: the median line (the bands are drawn filled below)
        chart.set_series([Series(label="median", xs=xs, ys=ys, color_index=0, steps=[int(x) for x in xs])]
                         if xs else [])
        rows = max(3, min(8, (h - 8) // 3))
        t = bands_text(bands, w, rows)
        t.append("\n")
        t.append_text(heatmap_text(its, w, rows))
        t.append("\n")
        t.append_text(bars_text(item.data, w - 10, max(3, rows - 1)))
        view.update(t)

    def _fill_table(self, table: dict[str, Any]) -> None:
        self._table = table
        dt = self.query_one("#media-table", DataTable)
        dt.clear(columns=True)
        cols = table.get("columns", [])
        for i, c in enumerate(cols):
            dt.add_column(Text(sanitize(c), style="bold"), key=f"c{i}")
        data = table.get("data", [])
        query = self.query_one("#media-filter", Input).value.lower()
        shown = 0
        for row in data:
            cells = [_cell(v) for v in row[:len(cols)]] + [Text("")] * (len(cols) - len(row))
            if query and not any(query in c.plain.lower() for c in cells):
                continue
            dt.add_row(*cells)
            shown += 1
            if shown == MAX_TABLE_ROWS:
                break
        if len(data) > MAX_TABLE_ROWS and not query:
            head = self.query_one("#media-head", Static)
            note = Text(f"\nshowing the first {MAX_TABLE_ROWS:,} of {len(data):,} rows "
                        "(tracker-tui export --media gives all)", style="yellow")
            head.update(Text.assemble(self._slider(self.current()), note))

    def _show_plot(self, item: Any, view: Static, w: int) -> None:
        d = item.data
        ptype = d.get("type")
        if ptype == "confusion_matrix":
            self._show_parts(view=True)
            view.update(confusion_text(d["table"], self.mode, w))
            return
        series = _curve_series(ptype, d)
        if series:
            self._show_parts(chart=True)
            self.query_one("#media-chart", ChartView).set_series(series)
            return
        self._show_parts(table=True)
        self._fill_table(d["table"])


def _cell(v: Any) -> Text:
    if v is None:
        return Text("—", style="dim")
    if isinstance(v, dict) and v.get("_type") == "image-file":
        return Text(f"image {v.get('width')}x{v.get('height')}", style="magenta")
    if isinstance(v, float):
        return Text(f"{v:.6g}")
    return Text(sanitize(v if isinstance(v, str) else str(v)))


def _sort_key(cell: Any) -> tuple[int, float, str]:
    """Numbers first, by value; then text; empty cells last."""
    text = cell.plain if isinstance(cell, Text) else str(cell)
    if text in ("", "—"):
        return (2, 0.0, "")
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text.lower())


def _curve_series(ptype: str, d: dict[str, Any]) -> list[Series]:
    """Chart series for ROC / PR / line series / line / scatter plots (one per class or line)."""
    if ptype not in _CURVES:
        return []
    table = d["table"]
    cols = table.get("columns", [])
    fields = d.get("fields", {})
    if ptype == "line_series":
        xcol, ycol, gcol = "step", "lineVal", "lineKey"
    elif ptype in ("line", "scatter"):
        xcol, ycol, gcol = fields.get("x"), fields.get("y"), fields.get("stroke")
    else:
        xcol, ycol = _CURVES[ptype] or ("x", "y")
        gcol = "class"
    if xcol not in cols or ycol not in cols:
        return []
    xi, yi = cols.index(xcol), cols.index(ycol)
    gi = cols.index(gcol) if gcol in cols else None
    groups: dict[str, tuple[list[float], list[float]]] = {}
    for row in table.get("data", []):
        try:
            x, y = float(row[xi]), float(row[yi])
        except (TypeError, ValueError, IndexError):
            continue
        g = sanitize(row[gi]) if gi is not None else sanitize(ycol)
        xs, ys = groups.setdefault(g, ([], []))
        xs.append(x)
        ys.append(y)
    return [Series(label=g, xs=xs, ys=ys, color_index=i) for i, (g, (xs, ys)) in enumerate(groups.items())]
