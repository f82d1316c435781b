"""Following a run for ``tracker-tui tail``: points read through a cursor, grouped into complete
steps, and the live loop that waits on the store watcher.

Nothing here writes to the terminal: the loop hands complete steps to a :class:`Sink`
(``tail_output``) and returns the run's final record. The watcher only rings the bell: points are
read with a cursor on the point id, and the run's state is re-read every ``STATE_EVERY`` seconds
even when nothing changes, so a process that died silently is noticed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tracker.store import RunNotFound, StoreBusy

QUIET = 0.3  #: seconds without new points after which the newest step counts as complete
STATE_EVERY = 0.5  #: the run's state is re-read at least this often (seconds)
TICK = 0.1  #: longest sleep of the main loop: signal flags and timers are checked this often
PAGE = 50_000  #: points per read
KEEP_PRINTED = 2_000  #: printed steps whose values are kept to merge values arriving late


# ---------------------------------------------------------------------------------- grouping
@dataclass
class Row:
    """One step of the run, ready to print: its values by metric name."""

    step: int
    values: dict[str, Any]
    ts: float  #: the writer's time of the step's newest point
    first_id: int  #: id of the step's first point (print order)
    seen: float  #: local monotonic time the step's newest point was read
    done: bool = False  #: a point of another step came after this step's newest point
    again: bool = False  #: the step had been printed before; this row merges the new values


class StepGrouper:
    """Turns points (in commit order) into complete steps.

    A step is complete when a point of another step follows its newest point, when the caller
    says the run has ended (``final``), or when no point came for it for ``quiet`` seconds.

    Args:
        keys: the metric names to keep (all when None); other names still mark steps complete.
        quiet: seconds after which a step without new points is complete.
        keep: how many printed steps keep their values, so a late value reprints the whole row.
    """

    def __init__(self, keys: Sequence[str] | None = None, quiet: float = QUIET, keep: int = KEEP_PRINTED) -> None:
        self.keys = frozenset(keys) if keys is not None else None
        self.quiet = quiet
        self.keep = keep
        self.pending: dict[int, Row] = {}
        self.printed: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._current: int | None = None

    def feed(self, points: Iterable[Sequence[Any]], now: float) -> None:
        """Add ``(id, rid, key, step, ts, value)`` points of one run, oldest first."""
        pending = self.pending
        keys = self.keys
        for pid, _rid, key, step, ts, value in points:
            if step != self._current:
                prev = pending.get(self._current) if self._current is not None else None
                if prev is not None:
                    prev.done = True
                self._current = step
            row = pending.get(step)
            if row is None:
                row = pending[step] = Row(step, {}, ts, pid, now)
            else:
                row.done = False  # it is the newest step again
                row.ts = max(row.ts, ts)
                row.seen = now
            if keys is None or key in keys:
                row.values[key] = value

    def next_deadline(self) -> float | None:
        """The monotonic time at which a pending step becomes complete by quietness."""
        times = [r.seen + self.quiet for r in self.pending.values() if not r.done]
        return min(times) if times else None

    def ready(self, now: float, final: bool = False) -> list[Row]:
        """Remove and return the complete steps in the order they started arriving; steps with
        no value among the selected keys are dropped."""
        out: list[Row] = []
        for step in [s for s, r in self.pending.items() if final or r.done or now - r.seen >= self.quiet]:
            row = self.pending.pop(step)
            if not row.values:
                continue
            old = self.printed.pop(step, None)
            if old is not None:
                row.values = {**old, **row.values}
                row.again = True
            self.printed[step] = row.values
            if len(self.printed) > self.keep:
                self.printed.popitem(last=False)
            out.append(row)
        out.sort(key=lambda r: r.first_id)
        return out


# ---------------------------------------------------------------------------------- reading
class Follower:
    """Reads a run's new points through a cursor on the point id and feeds a StepGrouper.

    Two read paths, whichever costs less (the store's ``points_after(rids=[rid])`` walks every
    point of the run through the ``(rid, kid, step)`` index, while the unfiltered one walks only
    the points committed after the cursor, by any run): the run's own points when the run is
    smaller than the backlog, otherwise everything after the cursor, filtered here.
    """

    def __init__(self, store: Any, rec: Any, keys: Sequence[str] | None) -> None:
        self.store = store
        self.rid = rec.rid
        self.cursor = 0
        self.run_points = _point_count(rec)
        self.nkeys = max(1, len(rec.metrics))
        self.grouper = StepGrouper(keys)
        self.last_ts: float | None = None
        self.last_step: int | None = rec.last_step

    def update(self, rec: Any) -> None:
        self.run_points = _point_count(rec)
        self.nkeys = max(1, len(rec.metrics))

    def _read(self, after: int, own: bool) -> list[tuple[Any, ...]]:
        """This run's points with ``id > after``, oldest first; moves the cursor past them."""
        rid = self.rid
        out: list[tuple[Any, ...]] = []
        cur = after
        while True:
            page = self.store.points_after(cur, rids=[rid] if own else None, limit=PAGE)
            if not page:
                break
            cur = page[-1][0]
            out.extend(page if own else [p for p in page if p[1] == rid])
            if len(page) < PAGE:
                break
        self.cursor = max(self.cursor, cur)
        return out

    def history(self, n: int, final: bool) -> list[Row]:
        """The run's last ``n`` steps (all complete: they are in the past) and a cursor after them."""
        top = self.store.max_point_id()
        pts: list[tuple[Any, ...]] = []
        if n > 0:
            # ``run_points`` may be stale (points committed since the run was read): it only
            # picks the read path, and the cursor never moves past points not read.
            if self.run_points <= PAGE:
                pts = self._read(0, own=True)
            else:  # a window of recent ids, widened until it holds more than n of the run's steps
                width = (n + 1) * self.nkeys * 2 + 1024
                while True:
                    start = max(0, top - width)
                    pts = self._read(start, own=False)
                    keys = self.grouper.keys
                    if start == 0 or len({p[3] for p in pts if keys is None or p[2] in keys}) > n:
                        break
                    width *= 4
        self.cursor = max(self.cursor, top)
        self._feed(pts, time.monotonic() - QUIET)  # old points: already quiet
        rows = self.grouper.ready(time.monotonic(), final=final)
        return rows[-n:] if n > 0 else []

    def read_new(self) -> int:
        """Read points committed since the last read; returns how many were this run's."""
        top = self.store.max_point_id()
        if top <= self.cursor:
            return 0
        pts = self._read(self.cursor, own=self.run_points <= top - self.cursor)
        # Every point with id <= top was committed before max(id) was read, so the run's points
        # up to there are all in ``pts``: skip the other runs' points for good.
        self.cursor = max(self.cursor, top)
        self._feed(pts, time.monotonic())
        return len(pts)

    def _feed(self, pts: list[tuple[Any, ...]], now: float) -> None:
        if not pts:
            return
        self.grouper.feed(pts, now)
        last = pts[-1]
        self.last_step = last[3]
        ts = max(p[4] for p in pts)
        self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)


def _point_count(rec: Any) -> int:
    return sum(int(m.count or 0) for m in rec.metrics.values())


# ---------------------------------------------------------------------------------- live loop
class Sink(Protocol):
    """Where the live loop puts what it learns (``tail_output.JsonOut`` / ``TableOut``)."""

    def rows(self, rows: list[Row], follower: Follower, rec: Any) -> None: ...

    def status(self, rec: Any, follower: Follower, force: bool = False) -> None: ...

    def interrupted(self) -> None: ...

    def draw_gap(self, min_draw: float) -> float:
        """Seconds to hold back before the next write (at most one write per ``min_draw``)."""
        ...


def _refresh(store: Any, rid: str, follower: Follower) -> Any:
    """The run re-read (its state first, then the points it covers), or None when the store is busy."""
    try:
        fresh = store.run(rid)
    except RunNotFound:  # moved to the trash (tracker-tui rm --force) while followed
        raise RunNotFound(f"tracker-tui tail: run {rid} was moved to the trash") from None
    except StoreBusy:
        return None
    try:
        follower.update(fresh)
        follower.read_new()
    except StoreBusy:  # a writer holds the database for a moment (e.g. recovering the WAL): read again soon
        return None
    return fresh


def _wait(follower: Follower, out: Sink, wake: threading.Event, min_draw: float) -> None:
    """Sleep until the watcher rings, a pending step turns quiet, or ``TICK`` passes."""
    timeout = TICK
    deadline = follower.grouper.next_deadline()
    if deadline is not None:
        timeout = min(timeout, max(0.0, deadline - time.monotonic()) + 0.005)
    gap = out.draw_gap(min_draw)
    if gap > 0:  # at most refresh_hz terminal writes a second; changes wait in the store
        time.sleep(gap)
    wake.wait(timeout)


def follow(store: Any, rec: Any, follower: Follower, out: Sink, wake: threading.Event, *, min_draw: float,
           stop: Callable[[], int | None]) -> tuple[Any, int | None]:
    """Print complete steps as they are committed until the run ends.

    Args:
        rec: the run as last read; ``wake`` is set by the store watcher on each change.
        stop: returns an exit status once a signal asked to stop (checked every ``TICK``).

    Returns:
        The run's last record, and the ``stop()`` status if that ended the loop (else None).
    """
    final = rec.state != "running"
    next_state = time.monotonic() + STATE_EVERY
    while not final:
        code = stop()
        if code is not None:
            out.interrupted()
            return rec, code
        woke = wake.is_set()
        if woke:
            wake.clear()  # before the read: a commit during it rings again
        now = time.monotonic()
        if woke or now >= next_state:
            next_state = now + STATE_EVERY
            fresh = _refresh(store, rec.id, follower)
            if fresh is None:
                next_state = now + TICK  # a writer is recovering the WAL: try again soon
            else:
                rec = fresh
                final = rec.state != "running"
        rows = follower.grouper.ready(time.monotonic(), final=final)
        if rows:
            out.rows(rows, follower, rec)
        elif not final:
            out.status(rec, follower)  # keeps "updated Ns ago" current
        if not final:
            _wait(follower, out, wake, min_draw)
    return rec, None
