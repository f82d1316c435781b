"""Messages that carry data from workers and the watcher to the screens.

Workers read the store in threads and post one of these; the screen's handler runs on the event
loop. Each is a dataclass: the fields are the whole payload (nothing else is read from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from tracker.tui.data import Snapshot


@dataclass
class StoreChanged(Message):
    """Another process committed to the store (a doorbell; the database is the truth).

    Posted by the app to every screen on the stack; several pending ones collapse into one.
    """

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)


@dataclass
class RunsLoaded(Message):
    """The runs screen's reader worker finished a read."""

    project: str | None
    """The project the read was for (the screen ignores reads for a project it has left)."""
    snapshot: Snapshot
    """What was read: a full snapshot or, when ``snapshot.full`` is false, only changed runs."""


@dataclass
class SparksLoaded(Message):
    """Sparkline samples of one metric for some runs (they arrive in chunks)."""

    key: str
    """The metric sampled (dropped when the screen's primary metric has changed meanwhile)."""
    values: dict[str, list[float]]
    """Run id -> evenly spaced values."""
    final: bool = True
    """True on the last chunk of a request."""


@dataclass
class RunLoaded(Message):
    """One or more runs read for the detail or compare screen.

    ``run`` is what the screen asked its worker for (detail: ``(record, alerts, code,
    console lines)``; compare: the list of records), or None with ``error`` set.
    """

    run: Any
    error: str | None = None


@dataclass
class SeriesLoaded(Message):
    """Metric series for a chart (the charts and detail screens).

    ``metric`` names what was read (``"*"``: a full load, ``"+"``: points appended since the
    last read); ``series`` is the worker's payload; ``request`` the step range it was read for
    (None: everything), so a stale zoom read can be told apart.
    """

    metric: str
    series: list[Any]
    request: Any = None
