"""Curating from the runs table: ``d`` moves the selected runs (or the run under the cursor) to
the trash after a confirmation, ``U`` takes the last ones deleted back out. The store is written
from a worker thread through its own connection; the table then re-reads (an app elsewhere drops
the runs live: a trashed run's revision changes)."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from tracker.store import RunRecord, Store
from tracker.store.curate import restore, trash
from tracker.tui.screens.runs_data import RunsData
from tracker.tui.text import sanitize

_ARCHIVED = re.compile(r"\barchived\s*:", re.IGNORECASE)


def unarchived(runs: list[RunRecord], filter_text: str) -> list[RunRecord]:
    """``runs`` without the archived ones, unless the filter asks about them (``archived:yes``)."""
    if _ARCHIVED.search(filter_text) or not any(r.archived for r in runs):
        return runs
    return [r for r in runs if not r.archived]


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: ``y`` or Enter answers yes, ``n`` or Escape no."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 70; max-width: 95%; height: auto; border: round $warning; background: $panel; padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: Text) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield Label(Text("y / enter: yes    n / esc: no", style="dim"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class RunsCurate(RunsData):
    """The trash actions of :class:`~tracker.tui.screens.runs.RunsScreen`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "delete_runs", "Delete", show=False, id="runs.delete"),
        Binding("U", "undo_delete", "Undo delete", show=False, id="runs.undo_delete"),
    ]

    _last_deleted: tuple[int, ...] = ()  # rids of the last delete

    def chosen_runs(self) -> list[RunRecord]:
        raise NotImplementedError

    def load(self, full: bool = True) -> None:
        raise NotImplementedError

    def action_delete_runs(self) -> None:
        runs = self.chosen_runs()
        if not runs:
            self.notify("no run to delete")
            return
        live = [r for r in runs if r.state == "running"]
        if live:
            self.notify(f"{sanitize(live[0].name)} is still being written: not deleted "
                        "(tracker-tui rm --force deletes it anyway)", severity="warning", markup=False)
            return
        names = ", ".join(sanitize(r.name) for r in runs[:5])
        if len(runs) > 5:
            names += f" and {len(runs) - 5} more"
        question = Text(f"Move {len(runs)} run{'s' if len(runs) != 1 else ''} to the trash? ")
        question.append(names, style="bold")
        rids = tuple(r.rid for r in runs)
        def answered(ok: bool | None) -> None:
            if ok:
                self._write(rids, True)

        self.app.push_screen(ConfirmScreen(question), answered)

    def action_undo_delete(self) -> None:
        if not self._last_deleted:
            self.notify("nothing to undo")
            return
        self._write(self._last_deleted, False)

    @work(thread=True, group="curate")
    def _write(self, rids: tuple[int, ...], delete: bool) -> None:
        try:
            store = Store(self.tapp.reader.dir, create=False)
            try:
                (trash if delete else restore)(store, rids)
            finally:
                store.close()
        except Exception as e:  # a failed write is shown, never takes the app down
            self.app.call_from_thread(self.notify, f"not done: {sanitize(e)}", severity="error", markup=False)
            return
        self.app.call_from_thread(self._written, rids, delete)

    def _written(self, rids: tuple[int, ...], delete: bool) -> None:
        n = len(rids)
        if delete:
            self._last_deleted = rids
            self.notify(f"{n} run{'s' if n != 1 else ''} moved to trash — U to undo")
        else:
            self._last_deleted = ()
            self.notify(f"{n} run{'s' if n != 1 else ''} restored")
        self.load()
