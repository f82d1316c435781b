"""``TrackerScreen``: what every screen of the app shares.

* ``app`` typed as :class:`~tracker.tui.app.TrackerApp` (no casts in the screens);
* the one-line title bar (:class:`TitleBar`, styled once in ``tui/app.tcss``);
* the common bindings: ``escape`` goes back (a screen may rebind it with its own id);
* failed workers are reported to the user (``TrackerApp.report_worker_error``);
* a focus change repaints the widgets it restyles, not the whole screen (issue 18).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker

if TYPE_CHECKING:
    from tracker.tui.app import TrackerApp


class TitleBar(Static):
    """The screen's title line (run name, counts, hints); its style lives in ``app.tcss``."""


class StatusLine(Widget):
    """A title line updated several times a second (the runs screen's status). Unlike
    ``Static.update`` (which re-lays out the whole screen), an update repaints just this line."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()

    def update(self, text: Text) -> None:
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return self._text


class TrackerScreen(Screen[None]):
    """Base of the app's screens."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="screen.back"),
    ]

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
    """Textual's ``Screen.focused`` without its repaint: that repainted the whole screen on
    every focus change (29 KB at 120x40 over SSH for ``/``), although the widgets that gain or
    lose focus are restyled and repainted by themselves. Set it with ``set_focus``."""

    @property
    def app(self) -> TrackerApp:  # type: ignore[override]
        """The running :class:`TrackerApp` (Textual's ``App[object]``, typed for this app)."""
        return super().app  # type: ignore[return-value]

    @property
    def tapp(self) -> TrackerApp:
        """Same as :attr:`app` (the name the screens used before the base existed)."""
        return self.app

    def set_title(self, text: Text) -> None:
        """Show ``text`` (already sanitised) in the screen's title bar."""
        self.query_one(TitleBar).update(text)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed worker of this screen is reported to the user (see ``TrackerApp``)."""
        self.app.report_worker_error(event.worker)

    def action_back(self) -> None:
        self.app.pop_screen()
