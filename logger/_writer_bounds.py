"""How far ``log()`` may run ahead of the writer: bounded by time and by bytes (issue 9).

Two promises hold at any loop speed:

- **kill -9 window**: a call is committed about a quarter second after ``log()`` returned at the
  latest. The writer measures how many points per second it commits (``Writer.rate``); the queue
  may hold :data:`QUEUE_SECONDS` of that work and one transaction takes at most
  :data:`BATCH_SECONDS` of it, on top of the writer's own wake-up. A loop that logs faster than
  the store can take is slowed to the writer's pace (``log()`` waits a few ms at a time) instead
  of building a backlog that a ``kill -9`` would lose.
- **memory**: while the store refuses writes (locked by another process, disk full), calls are
  kept, up to :data:`MAX_QUEUE_BYTES` (``TRACKER_MAX_QUEUE_MB``, default 256 MB, estimated at
  :data:`BYTES_PER_POINT` per value plus a call's own overhead). Past it ``log()`` waits, says
  why after a second, and says so again every :data:`PAUSE_REPEAT` seconds while it waits.

Sizes are counted in points (one logged value); a call weighs ``len(values) + ENTRY_POINTS``.
``log()`` only compares ``len(queue) * weight`` with :attr:`Writer.max_points` once the queue
holds :data:`WAKE_POINTS` points (the check costs nothing below that).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ._writer import Writer

#: What the kill -9 promise is (README): the oldest un-committed call is about this old at most.
WINDOW = 0.25
#: Queued work allowed, in seconds of the writer's measured speed.
QUEUE_SECONDS = 0.1
#: One transaction's work, likewise (also keeps the write lock short for other processes).
BATCH_SECONDS = 0.1
#: Memory for calls kept while the store refuses writes.
def _budget_mb() -> float:
    raw = os.environ.get("TRACKER_MAX_QUEUE_MB", "").strip()
    try:
        mb = float(raw) if raw else 256.0
    except ValueError:
        mb = -1.0
    if not mb > 0:  # also NaN
        print(f"tracker: TRACKER_MAX_QUEUE_MB={raw!r} is not a positive number of MB; using 256",
              file=sys.stderr)
        return 256.0
    return mb


MAX_QUEUE_BYTES = int(min(_budget_mb(), 2**40) * 2**20)
BYTES_PER_POINT = 40  # a float (24), its slot in the values tuple (8), allocator slack (measured)
ENTRY_POINTS = 5  # a call's own tuple, step and timestamp, in points (~160 bytes)
WAKE_POINTS = 5_000  # queued points at which log() rings the writer and checks the bound
MIN_QUEUE_POINTS = 5_000
MIN_BATCH_POINTS = 5_000
MAX_BATCH_POINTS = 250_000
MIN_BATCH_CALLS = 20  # a transaction of wide calls costs ~1 index page per series: not fewer calls
CATCH_UP_POINTS = 100_000  # one transaction while writing a backlog
START_RATE = 300_000.0  # points/s assumed before the first measurement
PAUSE_REPEAT = 30.0  # seconds between two "still paused" messages
STUCK = 0.3  # seconds of waiting for a lock nobody gets before calls are held up to the budget


def weight(n_values: int) -> tuple[int, int]:
    """(points a call of ``n_values`` values weighs, queue length at which log() checks)."""
    w = n_values + ENTRY_POINTS
    return w, max(1, WAKE_POINTS // w)


def update_limits(w: Writer) -> None:
    """Recompute the writer's queue and batch bounds from its measured speed and health."""
    budget = MAX_QUEUE_BYTES // BYTES_PER_POINT
    if w.failing_since is not None:  # nothing is being committed: hold up to the memory budget
        w.max_points = budget
    else:
        w.max_points = int(min(budget, max(MIN_QUEUE_POINTS, w.rate * QUEUE_SECONDS)))
    w.batch_points = int(min(MAX_BATCH_POINTS, max(MIN_BATCH_POINTS, w.rate * BATCH_SECONDS)))


def measured(w: Writer, points: int, seconds: float) -> None:
    """A commit of ``points`` took ``seconds`` (lock wait and turns left to other writers included):
    fold it into ``w.rate``."""
    if points >= MIN_BATCH_POINTS // 2 and seconds > 0:
        w.rate = 0.7 * w.rate + 0.3 * (points / seconds)
    update_limits(w)


def pause(w: Writer, wt: int) -> None:
    """``log()`` found more than ``w.max_points`` queued: wait until half of it is left.

    Short waits (the loop outruns the writer) are silent; a wait past a second (5 s when the
    store is merely slower than the loop) is said, with the reason, and said again every
    :data:`PAUSE_REPEAT` seconds: never a silent long block.
    """
    w.wake.ring()
    start = said = time.monotonic()
    told = False
    q = w.q
    while len(q) * wt > w.max_points // 2 and not w.dead and not w.discarding:
        now = time.monotonic()
        since = w.lock_wait_since
        # Waiting long for a lock nobody else gets (another process holds it); not a lock passed
        # around between writers (they are throttled to their share), not a slow write.
        stuck = since is not None and now - since > STUCK and not w.others_writing
        if stuck and w.max_points < MAX_QUEUE_BYTES // BYTES_PER_POINT:
            # The writer is waiting inside one write (for the lock, a slow disk): no window can be
            # kept now, so calls are held in memory, up to the budget, as on a store error.
            w.max_points = MAX_QUEUE_BYTES // BYTES_PER_POINT
            continue
        # A store error or a held lock is said after a second; a loop merely outrunning the store
        # (or waiting its turn among many writers) only when a pause lasts past 5 s.
        first = 1.0 if (w.last_error or stuck) else 5.0
        if now - said > (PAUSE_REPEAT if told else first):
            n = len(q)
            mb = n * wt * BYTES_PER_POINT / 2**20
            why = w.last_error or (f"the writer has waited {now - since:.1f} s for the write lock, which "
                                   "another process holds" if stuck and since is not None else
                                   "the store is slower than this loop; a backlog is being written")
            if not told:
                print(f"tracker: {n:,} log() calls (~{mb:,.0f} MB) are waiting to be written to "
                      f"{w.store.path} ({why}); log() is pausing until the store catches up (nothing "
                      f"is dropped; up to {MAX_QUEUE_BYTES / 2**20:,.0f} MB are kept, TRACKER_MAX_QUEUE_MB).",
                      file=sys.stderr, flush=True)
            else:
                print(f"tracker: log() has been paused for {now - start:,.0f} s: {n:,} calls (~{mb:,.0f} MB) "
                      f"still wait for {w.store.path} ({why}).", file=sys.stderr, flush=True)
            told, said = True, now
        w.wake.ring()
        time.sleep(0.002)
    if told:
        print(f"tracker: log() resumed after a {time.monotonic() - start:,.1f} s pause.", file=sys.stderr,
              flush=True)
