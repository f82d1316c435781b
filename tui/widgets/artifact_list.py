"""``RunArtifacts``: the run detail's list of the artifact versions a run logged and used.

Empty (no lines) when the run has none. Read once in a thread worker on its own connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.widgets import Static

from tracker.tui.text import sanitize
from tracker.tui.widgets.artifact_tree import size


@dataclass
class _Loaded(Message):
    logged: list[Any]
    used: list[Any]


class RunArtifacts(Static):
    """Artifact versions a run logged and used (``name:vN``, aliases, size)."""

    DEFAULT_CSS = "RunArtifacts { height: auto; display: none; }"

    def __init__(self, run_id: str, store_dir: Any, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.run_id = run_id
        self.store_dir = store_dir

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="run-artifacts", exit_on_error=False)
    def _load(self) -> None:
        from tracker.store import Store
        from tracker.store.artifacts import ArtifactStore

        try:
            store = Store(self.store_dir, create=False)
        except Exception:  # no store / unreadable: the overview says so already
            return
        try:
            a = ArtifactStore(store)
            self.post_message(_Loaded(a.run_versions(self.run_id, "logged"), a.run_versions(self.run_id, "used")))
        except Exception:  # a store older than artifacts: nothing to list
            return
        finally:
            store.close()

    @on(_Loaded)
    def _loaded(self, msg: _Loaded) -> None:
        t = Text()
        for title, rows in (("artifacts logged", msg.logged), ("artifacts used", msg.used)):
            if not rows:
                continue
            t.append(f"\n{title}\n", style="bold")
            for v in rows:
                aliases = f"  [{', '.join(v.aliases)}]" if v.aliases else ""
                t.append("  ")
                t.append(sanitize(v.qualified), style="cyan")
                t.append(sanitize(f"  {v.type}  {size(v.size)}{aliases}") + "\n")
        self.update(t)
        self.display = bool(t.plain)  # a run without artifacts: no line at all
