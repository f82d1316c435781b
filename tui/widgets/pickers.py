"""Modal dialogs: a fuzzy picker (single or multiple choice); the key help lives in
:mod:`tracker.tui.widgets.help` (re-exported here)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tracker.tui.filter import fuzzy_filter
from tracker.tui.text import sanitize
from tracker.tui.widgets.help import HelpScreen

__all__ = ["HelpScreen", "Picker"]


class _SearchInput(Input):
    """The picker's search box; in multi-choice mode Space toggles an item instead of typing."""

    def __init__(self, multi: bool, **kw: Any) -> None:
        super().__init__(**kw)
        self.multi = multi

    def check_consume_key(self, key: str, character: str | None) -> bool:
        if self.multi and (key == "space" or character == " "):
            return False
        return super().check_consume_key(key, character)


class Picker(ModalScreen[Any]):
    """Type to narrow a list (fuzzy); Enter picks. With ``multi``, Space toggles items and Enter
    returns the list of checked values (in the order given)."""

    DEFAULT_CSS = """
    Picker { align: center middle; }
    Picker > Vertical {
        width: 70; max-width: 95%; height: auto; max-height: 90%;
        border: round $accent; background: $panel; padding: 0 1;
    }
    Picker Input { background: $boost; }
    Picker OptionList { height: auto; max-height: 16; border: none; padding: 0; }
    Picker .hint { color: $text-muted; height: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Cancel", id="picker.cancel"),
        Binding("down", "move(1)", "Down", show=False, id="picker.down"),
        Binding("up", "move(-1)", "Up", show=False, id="picker.up"),
        # priority + the search box not claiming Space: Space toggles before it could be typed
        Binding("space", "toggle_item", "Toggle", show=False, id="picker.toggle", priority=True),
    ]

    def __init__(self, title: str, items: Sequence[tuple[str, Any]], *, multi: bool = False,
                 checked: Iterable[Any] = (), hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.items = list(items)
        self.multi = multi
        self.checked = [v for _, v in self.items if v in set(checked)] if multi else []
        self.hint = hint or ("type to filter · space toggles · enter applies · esc cancels" if multi
                             else "type to filter · enter picks · esc cancels")
        self._shown: list[tuple[str, Any]] = list(self.items)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.title_text, style="bold"))
            # compact: one text row, no border (a plain height: 1 loses to Input:focus's border)
            yield _SearchInput(self.multi, placeholder="search…", id="picker-input", compact=True)
            yield OptionList(id="picker-list")
            yield Static(Text(self.hint), classes="hint")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        ol = self.query_one(OptionList)
        ol.clear_options()
        self._shown = fuzzy_filter(query, self.items, key=lambda it: it[0]) if query else list(self.items)
        opts = []
        for i, (label, value) in enumerate(self._shown):
            mark = ("[x] " if value in self.checked else "[ ] ") if self.multi else ""
            opts.append(Option(Text(mark + sanitize(label)), id=str(i)))
        ol.add_options(opts)
        if opts:
            ol.highlighted = 0

    @on(Input.Changed, "#picker-input")
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#picker-input")
    def _submitted(self, event: Input.Submitted) -> None:
        self._pick()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._pick()

    def _current(self) -> Any:
        ol = self.query_one(OptionList)
        if ol.highlighted is None or ol.highlighted >= len(self._shown):
            return None
        return self._shown[ol.highlighted]

    def _pick(self) -> None:
        if self.multi:
            self.dismiss(list(self.checked))
            return
        cur = self._current()
        if cur is not None:
            self.dismiss(cur[1])

    def action_move(self, delta: int) -> None:
        ol = self.query_one(OptionList)
        if ol.option_count:
            ol.highlighted = max(0, min(ol.option_count - 1, (ol.highlighted or 0) + delta))

    def action_toggle_item(self) -> None:
        if not self.multi:
            self.query_one(Input).insert_text_at_cursor(" ")
            return
        cur = self._current()
        if cur is None:
            return
        value = cur[1]
        if value in self.checked:
            self.checked.remove(value)
        else:
            order = [v for _, v in self.items]
            self.checked.append(value)
            self.checked.sort(key=order.index)
        keep = self.query_one(OptionList).highlighted
        self._fill(self.query_one(Input).value)
        self.query_one(OptionList).highlighted = keep

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
