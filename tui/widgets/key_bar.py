"""The key bar at the bottom of every screen: the keys that work here, drawn as one line of text.

Why not Textual's ``Footer``: it is a container that recomposes one widget per key whenever the
focus or the bindings change, and styling those widgets cost ~170 ms of every screen push (the
charts screen's 450 ms went to 280 ms without it, measured with bench/tui_bench.py). This bar is
one widget that re-renders a line; a click on a key still runs its action.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget


class KeyBar(Widget, can_focus=False):
    """One line: ``key Description`` for each shown binding of the focused chain, grouped
    bindings as ``keys Group``, the command palette's key on the right."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"keybar--key", "keybar--description", "keybar--palette"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyBar > .keybar--key { color: $footer-key-foreground; text-style: bold; }
    KeyBar > .keybar--description { color: $footer-description-foreground; }
    KeyBar > .keybar--palette { color: $footer-key-foreground; }
    """

    def __init__(self, *, compact: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.compact = compact
        self._spans: list[tuple[int, int, str]] = []  # (start, end, action) of each key on the line
        self._action_nodes: dict[str, Any] = {}  # action -> the node whose binding it is (the action's namespace)

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[Any]) -> None:
        if self.is_attached and screen is self.screen:
            self.refresh()

    def _shown(self) -> list[tuple[Binding, bool]]:
        seen: set[str] = set()
        out = []
        self._action_nodes = {}
        for node, binding, enabled, _tip in self.screen.active_bindings.values():
            self._action_nodes.setdefault(binding.action, node)
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                out.append((binding, enabled))
        return out

    def _piece(self, line: Text, key: str, desc: str, action: str, enabled: bool) -> None:
        key_style = self.get_component_rich_style("keybar--key")
        desc_style = self.get_component_rich_style("keybar--description")
        start = len(line)
        line.append(key, key_style if enabled else key_style + Style(dim=True))
        if desc:
            line.append(" " + desc, desc_style if enabled else desc_style + Style(dim=True))
        self._spans.append((start, len(line), action))
        line.append(" " if self.compact else "  ")

    def render(self) -> Text:
        line = Text("", no_wrap=True, overflow="crop")
        self._spans = []
        palette_key = getattr(self.app, "COMMAND_PALETTE_BINDING", "")
        active = self.screen.active_bindings.get(palette_key)
        palette = active[1] if active is not None else None  # shown on the right even with show=False
        for group, members in groupby(self._shown(), lambda be: be[0].group):
            items = [(b, e) for b, e in members if b.key != palette_key]
            if group is not None and len(items) > 1:
                keys = "".join(self.app.get_key_display(b) for b, _ in items)
                self._piece(line, keys, group.description, items[0][0].action, any(e for _, e in items))
                continue
            for binding, enabled in items:
                self._piece(line, self.app.get_key_display(binding), binding.description, binding.action, enabled)
        if palette is not None and self.app.ENABLE_COMMAND_PALETTE:
            right = Text.assemble(("▏", "dim"), (self.app.get_key_display(palette),
                                                  self.get_component_rich_style("keybar--palette")),
                                  " " + palette.description)
            width = self.size.width
            if len(line) + len(right) > width:
                line.truncate(max(0, width - len(right)))
            line.pad_right(max(0, width - len(line) - len(right)))
            start = len(line)
            line.append_text(right)
            self._spans.append((start, len(line), palette.action))
        return line

    async def _on_click(self, event: events.Click) -> None:
        for start, end, action in self._spans:
            if start <= event.x < end:
                event.stop()
                await self.app.run_action(action, self._action_nodes.get(action, self.screen))
                return
