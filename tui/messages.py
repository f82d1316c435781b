"""Messages that carry data from workers and the watcher to the screens."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from tracker.tui.data import Snapshot


class StoreChanged(Message):
    """Another process committed to the store (a doorbell; the database is the truth)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)


class RunsLoaded(Message):
    def __init__(self, project: str | None, snapshot: Snapshot) -> None:
        super().__init__()
        self.project = project
        self.snapshot = snapshot


class SparksLoaded(Message):
    def __init__(self, key: str, values: dict[str, list[float]], final: bool = True) -> None:
        super().__init__()
        self.key = key
        self.values = values
        self.final = final


class RunLoaded(Message):
    def __init__(self, run: Any, error: str | None = None) -> None:
        super().__init__()
        self.run = run
        self.error = error


class SeriesLoaded(Message):
    def __init__(self, metric: str, series: list[Any], request: Any = None) -> None:
        super().__init__()
        self.metric = metric
        self.series = series
        self.request = request
