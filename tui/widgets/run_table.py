"""The runs table: a virtualised Line-API widget.

Textual's ``DataTable`` needed ~230 ms to rebuild 1,000 rows, over our 100 ms budget for a filter
keystroke. This widget keeps the rows as plain data and draws only the lines on screen, so
filtering, sorting and live updates just replace a list and repaint (a few ms at any size).

Every cell is a string that has already been through ``sanitize`` (or is produced by us), and is
drawn as plain segments: no markup is ever parsed from run data.

What reaches the terminal follows what changed: the widget remembers each line it drew and, on
new data, a cursor move or a selection, refreshes only the cells that differ (``line_diff``). A
live step of one run rewrites that run's step and value cells, not the table (issue 18: over SSH
the table used to cost ~33 KB a refresh).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tracker.tui.widgets.line_diff import cells, changed_spans


@dataclass
class Column:
    """A column: ``key`` identifies it (e.g. ``name``, ``m:val/acc``, ``c:lr``)."""

    key: str
    label: str
    width: int
    align: str = "left"
    min_width: int = 3


class Row:
    """One table row. ``cells`` maps column keys to display strings; ``styles`` optional per cell
    component class names (e.g. ``runtable--state-failed``); ``kind`` is ``run`` or ``group``.

    Instead of cells and styles a row may get ``build``, which makes both the first time either
    is read: the table reads only the rows it draws, so the first paint of 1,000 runs builds the
    ~40 rows on screen, not all of them."""

    __slots__ = ("key", "kind", "depth", "_cells", "_styles", "_build")

    def __init__(self, key: str, cells: dict[str, str] | None = None, styles: dict[str, str] | None = None,
                 kind: str = "run", depth: int = 0, *, build: RowBuilder | None = None) -> None:
        self.key = key
        self.kind = kind
        self.depth = depth
        self._build = build if cells is None else None
        self._cells: dict[str, str] = {} if cells is None else cells
        self._styles: dict[str, str] = {} if styles is None else styles

    def _built(self) -> None:
        if self._build is not None:
            build, self._build = self._build, None
            self._cells, self._styles = build()

    @property
    def cells(self) -> dict[str, str]:
        self._built()
        return self._cells

    @property
    def styles(self) -> dict[str, str]:
        self._built()
        return self._styles

    def __repr__(self) -> str:
        return f"Row({self.key!r}, kind={self.kind!r}, depth={self.depth})"


RowBuilder = Callable[[], tuple[dict[str, str], dict[str, str]]]


class RunTable(ScrollView, can_focus=True):
    """Rows of runs with a fixed header, a row cursor, multi-select marks and sideways scroll."""

    DEFAULT_CSS = """
    RunTable {
        height: 1fr;
        background: $surface;
    }
    RunTable > .runtable--header { text-style: bold; background: $panel; color: $foreground; }
    RunTable > .runtable--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    RunTable > .runtable--cursor-blurred { background: $block-cursor-blurred-background; }
    RunTable > .runtable--selected { color: $accent; text-style: bold; }
    RunTable > .runtable--group { color: $secondary; text-style: bold; }
    RunTable > .runtable--state-running { color: $primary; text-style: bold; }
    RunTable > .runtable--state-finished { color: $success; }
    RunTable > .runtable--state-failed { color: $error; text-style: bold; }
    RunTable > .runtable--state-crashed { color: $warning; text-style: bold reverse; }
    RunTable > .runtable--best { color: $success; text-style: bold; }
    RunTable > .runtable--dim { color: $text-muted; }
    RunTable > .runtable--alert { color: $warning; }
    RunTable > .runtable--sorted { text-style: bold underline; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "runtable--header", "runtable--cursor", "runtable--cursor-blurred", "runtable--selected",
        "runtable--group", "runtable--state-running", "runtable--state-finished",
        "runtable--state-failed", "runtable--state-crashed", "runtable--best", "runtable--dim", "runtable--alert",
        "runtable--sorted",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "first", "First", show=False, id="table.first"),
        Binding("end,G", "last", "Last", show=False, id="table.last"),
        Binding("left,h", "scroll_cols(-1)", "Scroll left", show=False, id="table.left"),
        Binding("right,l", "scroll_cols(1)", "Scroll right", show=False, id="table.right"),
        Binding("enter", "activate", "Open", id="table.open"),
    ]

    class CursorMoved(Message):
        """The cursor is on another row (``key`` may be None when the table is empty)."""

        def __init__(self, table: RunTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class RowActivated(Message):
        """Enter was pressed on a row."""

        def __init__(self, table: RunTable, key: str, kind: str) -> None:
            super().__init__()
            self.table = table
            self.key = key
            self.kind = kind

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: list[Column] = []
        self.rows: list[Row] = []
        self.selected: set[str] = set()
        self.cursor = 0
        self.sort_key: str | None = None
        self.sort_reverse = False
        self.frozen = 4  # leading columns (mark, state, name, step) that stay put when scrolling sideways
        self._index: dict[str, int] = {}
        self._cache: dict[int, Strip] = {}
        self._drawn: dict[int, Strip] = {}  # line y of the widget -> what was last drawn there
        self._ascii = False

    # ------------------------------------------------------------------ data
    def set_data(self, columns: Sequence[Column], rows: Sequence[Row], *, keep_cursor: bool = True) -> None:
        """Replace columns and rows; the cursor stays on the same row key when it still exists."""
        current = self.cursor_key if keep_cursor else None
        new_rows = list(rows)
        same_cols = [(c.key, c.label, c.width) for c in columns] == [(c.key, c.label, c.width) for c in self.columns]
        old_rows, old_cache = self.rows, self._cache
        self.columns = list(columns)
        self.rows = new_rows
        self._index = {r.key: i for i, r in enumerate(self.rows)}
        # Keep the built lines of rows that did not change (the same Row object at the same
        # place): a live update of one running run rebuilds one line; _repaint then sends
        # only the cells of it that differ.
        self._cache = {}
        if same_cols:
            for i, strip in old_cache.items():
                if i < len(new_rows) and i < len(old_rows) and new_rows[i] is old_rows[i]:
                    self._cache[i] = strip
        old_cursor = self.cursor
        if current is not None and current in self._index:
            self.cursor = self._index[current]
        self.cursor = max(0, min(self.cursor, len(self.rows) - 1))
        self._cache.pop(old_cursor, None)
        self._cache.pop(self.cursor, None)
        self._update_virtual_size()
        self._repaint()
        if self.cursor_key != current:
            self.post_message(self.CursorMoved(self, self.cursor_key))

    @property
    def cursor_key(self) -> str | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor].key
        return None

    @property
    def cursor_row(self) -> Row | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor]
        return None

    def move_to(self, key: str) -> bool:
        i = self._index.get(key)
        if i is None:
            return False
        self._set_cursor(i)
        return True

    def toggle_selected(self, key: str | None = None) -> None:
        key = key or self.cursor_key
        if key is None:
            return
        row = self.rows[self._index[key]]
        if row.kind != "run":
            return
        if key in self.selected:
            self.selected.discard(key)
        else:
            self.selected.add(key)
        self._cache.pop(self._index[key], None)
        self._repaint()

    def clear_selection(self) -> None:
        self.selected.clear()
        self._cache.clear()
        self._repaint()

    def set_ascii(self, ascii_only: bool) -> None:
        self._ascii = ascii_only
        self._cache.clear()
        self.refresh()

    # ------------------------------------------------------------------ geometry
    @property
    def total_width(self) -> int:
        return sum(c.width + 1 for c in self.columns) + 2

    def _update_virtual_size(self) -> None:
        size = Size(self.total_width, len(self.rows) + 1)
        if size != self.virtual_size:  # setting it re-lays out the screen
            self.virtual_size = size

    def _repaint(self) -> None:
        """Refresh only the cells whose content differs from what was last drawn (everything
        before the first paint). Textual then writes just those cells to the terminal."""
        width, height = self.size
        if not height or not self._drawn:
            self.refresh()
            return
        for y in range(height):
            new = self._line_strip(y)
            old = self._drawn.get(y)
            if old is None:
                self.refresh(Region(0, y, width, 1))
            elif old is not new and old != new:
                for a, b in changed_spans(cells(old), cells(new)):
                    self.refresh(Region(a, y, b - a, 1))
            self._drawn[y] = new

    def _set_cursor(self, i: int) -> None:
        if not self.rows:
            return
        i = max(0, min(i, len(self.rows) - 1))
        old = self.cursor
        self.cursor = i
        self._cache.pop(old, None)
        self._cache.pop(i, None)
        # keep the cursor line inside the viewport below the header
        height = max(1, self.scrollable_content_region.height - 1)  # not under a horizontal scrollbar
        top = int(self.scroll_y)
        if i < top:
            self.scroll_to(y=i, animate=False)
        elif i >= top + height:
            self.scroll_to(y=i - height + 1, animate=False)
        self._repaint()
        if old != i:
            self.post_message(self.CursorMoved(self, self.cursor_key))

    # ------------------------------------------------------------------ actions
    def action_cursor_up(self) -> None:
        self._set_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._set_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self._set_cursor(self.cursor - max(1, self.scrollable_content_region.height - 2))

    def action_page_down(self) -> None:
        self._set_cursor(self.cursor + max(1, self.scrollable_content_region.height - 2))

    def action_first(self) -> None:
        self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(len(self.rows) - 1)

    def action_scroll_cols(self, direction: int) -> None:
        self.scroll_to(x=max(0, self.scroll_x + 8 * direction), animate=False)

    def action_activate(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.RowActivated(self, row.key, row.kind))

    def on_click(self, event: Any) -> None:
        y = event.y
        if y >= 1:
            self._set_cursor(int(self.scroll_y) + y - 1)

    def notify_style_update(self) -> None:
        """A theme or stylesheet change: the cached lines hold the old colours."""
        self._cache.clear()
        super().notify_style_update()

    # Textual's Widget._on_focus/_on_blur also repaint the whole widget: here only the cursor
    # line's colours change, and _repaint sends just that line.
    def _on_focus(self, event: events.Focus) -> None:
        event.prevent_default()  # not Widget._on_focus
        self.has_focus = True
        self._cache.pop(self.cursor, None)
        self._repaint()
        if self.parent is not None:
            self.parent.post_message(events.DescendantFocus(self))

    def _on_blur(self, event: events.Blur) -> None:
        event.prevent_default()  # not Widget._on_blur
        self.has_focus = False
        self._cache.pop(self.cursor, None)
        self._repaint()
        if self.parent is not None:
            self.parent.post_message(events.DescendantBlur(self))

    # ------------------------------------------------------------------ drawing
    def _cell(self, text: str, width: int, align: str) -> str:
        if cell_len(text) > width:
            return set_cell_size(text, max(0, width - 1)) + ("~" if self._ascii else "…")
        pad = width - cell_len(text)
        return " " * pad + text if align == "right" else text + " " * pad

    def _line(self, cells: list[tuple[str, Style]], base: Style) -> Strip:
        segs = [Segment(" ", base)]
        for text, style in cells:
            segs.append(Segment(text, base + style if style else base))
            segs.append(Segment(" ", base))
        return Strip(segs)

    def _header_strip(self) -> Strip:
        base = self.get_component_rich_style("runtable--header")
        sorted_style = self.get_component_rich_style("runtable--sorted", partial=True)
        cells = []
        for c in self.columns:
            label = c.label
            style = Style()
            if c.key == self.sort_key:
                label = label + (" v" if self.sort_reverse else " ^") if self._ascii else label + (" ▼" if self.sort_reverse else " ▲")
                style = sorted_style
            cells.append((self._cell(label, c.width, c.align), style))
        return self._line(cells, base)

    def _row_strip(self, i: int) -> Strip:
        row = self.rows[i]
        if i == self.cursor:
            base = self.get_component_rich_style("runtable--cursor" if self.has_focus else "runtable--cursor-blurred")
        else:
            base = self.rich_style
        selected = row.key in self.selected
        cells = []
        for c in self.columns:
            text = row.cells.get(c.key, "")
            if c.key == "sel":
                text = ("*" if self._ascii else "●") if selected else ""
            if c.key == "name" and row.depth:
                text = "  " * row.depth + text
            cls = row.styles.get(c.key)
            if row.kind == "group" and c.key == "name":
                cls = "runtable--group"
            if selected and c.key in ("sel", "name"):
                cls = "runtable--selected"
            style = self.get_component_rich_style(cls, partial=True) if cls else Style()
            if i == self.cursor:
                # The cursor's own colours win: "running" in $primary on a $primary cursor was
                # invisible. Bold, underline and reverse still mark the cell.
                style = style.without_color
            cells.append((self._cell(text, c.width, c.align), style))
        return self._line(cells, base)

    def _frozen_width(self, width: int) -> int:
        """Cells of the pinned columns: as many of the first ``frozen`` as leave half the width
        to the scrolling ones."""
        w = 1
        for c in self.columns[: self.frozen]:
            if w + c.width + 1 > max(width // 2, 1 + self.columns[0].width + 1):
                break
            w += c.width + 1
        return w

    def render_line(self, y: int) -> Strip:
        strip = self._line_strip(y)
        self._drawn[y] = strip
        return strip

    def _line_strip(self, y: int) -> Strip:
        """Line ``y`` of the widget: the header, a row or blank, scrolled sideways."""
        width = self.size.width
        scroll_x = int(self.scroll_x)
        if y == 0:
            strip = self._header_strip()
        else:
            i = int(self.scroll_y) + y - 1
            if i >= len(self.rows):
                return Strip.blank(width, self.rich_style)
            cached = self._cache.get(i)
            if cached is None:
                cached = self._row_strip(i)
                if len(self._cache) > 400:
                    self._cache.clear()
                self._cache[i] = cached
            strip = cached
        if scroll_x and self.columns:
            # The first `frozen` columns stay; the rest scroll sideways.
            frozen_w = self._frozen_width(width)
            left = strip.crop(0, frozen_w)
            right = strip.crop(frozen_w + scroll_x, frozen_w + scroll_x + max(0, width - frozen_w))
            strip = Strip.join([left, right])
        return strip.adjust_cell_length(width, self.rich_style)
