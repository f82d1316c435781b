"""The ``?`` help: the keys of the screen the user is on, under the names they see, and a short
guide to the filter language. One scrollable page that fits an 80x24 terminal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

#: Section titles for our widgets that carry keys (Textual's own widgets, whose keys are the
#: usual cursor and editing keys, are left out of the page).
WIDGET_TITLES = {"RunTable": "Runs table", "ChartView": "Charts", "ParCoordsView": "Parallel coordinates"}

#: Key glyphs an ASCII-only terminal cannot draw.
ASCII_KEYS = {"↑": "up", "↓": "down", "←": "left", "→": "right", "⏎": "enter"}

#: The filter language in a few examples (the README's "The filter language" has all of it).
FILTER_GUIDE: list[tuple[str, str]] = [
    ("val/acc > 0.9", "a metric or a config key, compared"),
    ("lr < 1e-3 and optimizer = adam", "both; also or, not, ( )"),
    ("1e-4 <= lr <= 1e-2", "a range"),
    ("optimizer in (adam, sgd)", "one of several values"),
    ('name ~ "^res"', "a regular expression"),
    ("tag:resnet  state:running", "shorthands; also group: project:"),
    ("has:dropout", "the run has this metric or config key"),
    ("resnet", "name, id, group or a tag contains it"),
]
FILTER_NOTES = ("  Text ignores case. A run lacking the key never matches (not has:KEY\n"
                "  finds those); NaN is never < or >. Every detail: the README's\n"
                "  \"The filter language\".\n")

Row = tuple[str, str, str]  # (keys as shown, what they do, binding id)


def key_label(app: App[Any], binding: Binding, keys: str, ascii_only: bool = False) -> str:
    """``"[" ``, ``"+/="``, ``"esc"``, ``"^p"``: the keys of a binding as the footer writes them
    (a remapped binding shows its new keys)."""
    if binding.key_display and keys == binding.key:
        label = binding.key_display
    else:
        label = "/".join(app.get_key_display(Binding(k.strip(), "")) for k in keys.split(",") if k.strip())
    if ascii_only:
        for glyph, word in ASCII_KEYS.items():
            label = label.replace(glyph, word)
    return label


def own_bindings(node: DOMNode) -> list[Binding]:
    """The bindings our classes declare for ``node`` (a shared base class's included, Textual's
    own cursor and focus keys left out), a subclass's binding replacing its base's of that id."""
    found: dict[str, Binding] = {}
    for cls in reversed(type(node).__mro__):
        if not cls.__module__.startswith("tracker.") or "BINDINGS" not in vars(cls):
            continue
        for b in vars(cls)["BINDINGS"]:
            if isinstance(b, Binding):
                found[b.id or f"{b.key}:{b.action}"] = b
    return list(found.values())


def binding_rows(app: App[Any], node: DOMNode, keymap: Mapping[str, str]) -> list[Row]:
    """One row per binding that ``node`` has from our code."""
    ascii_only = bool(getattr(app, "ascii_only", False))
    rows = []
    for b in own_bindings(node):
        keys = keymap.get(b.id, b.key) if b.id else b.key
        rows.append((key_label(app, b, keys, ascii_only), b.description, b.id or ""))
    return rows


def screen_title(screen: Screen[Any]) -> str:
    return getattr(screen, "HELP_TITLE", None) or type(screen).__name__.removesuffix("Screen")


def help_sections(app: App[Any], screen: Screen[Any], keymap: Mapping[str, str]) -> list[tuple[str, list[Row]]]:
    """The keys that work on ``screen``: its own, those of our widgets on it (under the names the
    user sees; merged into the screen's section when it has that name), then the app's."""
    sections: dict[str, list[Row]] = {screen_title(screen): binding_rows(app, screen, keymap)}
    for w in screen.query("*"):
        rows = binding_rows(app, w, keymap)
        if not rows:
            continue
        title = getattr(w, "HELP_TITLE", None) or WIDGET_TITLES.get(type(w).__name__, type(w).__name__)
        known = sections.setdefault(title, [])
        ids = {r[2] for r in known}
        known.extend(r for r in rows if not r[2] or r[2] not in ids)
    sections.setdefault("Everywhere", []).extend(binding_rows(app, app, keymap))
    return [(title, rows) for title, rows in sections.items() if rows]


def help_text(sections: list[tuple[str, list[Row]]], filter_guide: bool = True) -> Text:
    """The page: per section a table of keys, what they do and the binding id (for the keymap)."""
    rows = [r for _, rs in sections for r in rs]
    kw = min(12, max((len(k) for k, _, _ in rows), default=4))
    dw = min(26, max((len(d) for _, d, _ in rows), default=4))
    t = Text()
    t.append("esc closes · up/down and pgup/pgdn scroll\n\n", style="dim")
    for title, section in sections:
        t.append(f"{title}\n", style="bold underline")
        for keys, desc, bid in section:
            if len(keys) > kw:  # a long remapped key list gets its own line rather than a ragged column
                t.append(f"  {keys}\n", style="bold")
                keys = ""
            t.append(f"  {keys:<{kw}}  ", style="bold")
            t.append(f"{desc[:dw]:<{dw}}  ")
            t.append(f"{bid}\n", style="dim")
        t.append("\n")
    if filter_guide:
        t.append("Filter language (/ on the runs screen)\n", style="bold underline")
        ew = max(len(e) for e, _ in FILTER_GUIDE)
        for example, meaning in FILTER_GUIDE:
            t.append(f"  {example:<{ew}}  ", style="bold")
            t.append(f"{meaning}\n")
        t.append(FILTER_NOTES)
        t.append("\n")
    t.append("Change a key in ~/.config/tracker-tui/keymap.yaml (binding id: keys);\n"
             "ctrl+p lists every command.", style="dim")
    return t


class HelpScreen(ModalScreen[None]):
    """The keys of the current screen and of the app, and a guide to the filter language."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 80; max-width: 98%; height: 90%; border: round $accent; background: $panel;
    }
    HelpScreen #help-body { height: 1fr; padding: 0 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
        Binding("down,j", "scroll(1)", "Down", show=False, id="help.down"),
        Binding("up,k", "scroll(-1)", "Up", show=False, id="help.up"),
        Binding("pagedown,space", "scroll(10)", "Page down", show=False, id="help.page_down"),
        Binding("pageup", "scroll(-10)", "Page up", show=False, id="help.page_up"),
        Binding("end,G", "scroll(100000)", "End", show=False, id="help.end"),
        Binding("home,g", "scroll(-100000)", "Top", show=False, id="help.home"),
    ]

    def __init__(self, sections: list[tuple[str, list[Row]]], filter_guide: bool = True) -> None:
        super().__init__()
        self.sections = sections
        self.filter_guide = filter_guide

    @classmethod
    def for_screen(cls, app: App[Any], screen: Screen[Any], keymap: Mapping[str, str]) -> HelpScreen:
        return cls(help_sections(app, screen, keymap))

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll(id="help-body"):  # a Static alone does not scroll
                yield Static(help_text(self.sections, self.filter_guide), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_scroll(self, lines: int) -> None:
        body = self.query_one("#help-body", VerticalScroll)
        body.scroll_to(y=max(0, min(body.max_scroll_y, body.scroll_y + lines)), animate=False)
