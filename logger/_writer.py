"""The background writer: one thread per process turns queued ``log()`` calls into batched
``BEGIN IMMEDIATE`` transactions.

``Run.log`` appends a tuple to a deque (atomic under the GIL, no lock, so a signal handler can
never deadlock on it) and returns. This thread wakes every ``flush_interval`` seconds, or sooner
when enough calls are queued, and commits what is queued in transactions of bounded size. Store
errors (``StoreBusy``, disk full, read-only, I/O: the store's own errors) keep the batch, warn per
episode, back off (the store's ``backoff_delay``) and retry: nothing is raised into the training
loop and nothing already queued is dropped. The queue is bounded by time and bytes
(:mod:`._writer_bounds`); a batch the store refuses for one of its values is written in parts
(:mod:`._writer_salvage`); a deleted store file is noticed (:mod:`._writer_moved`).
"""

from __future__ import annotations

import json
import os
import random
import select
import sys
import threading
import time
import warnings
from collections import deque
from typing import Any

from tracker.store.damage import StoreDamaged
from tracker.store.errors import StoreError, backoff_delay, take_turns

from ._values import TrackerWarning
from ._writer_bounds import (
    CATCH_UP_POINTS,
    ENTRY_POINTS,
    MIN_BATCH_CALLS,
    START_RATE,
    measured,
    pause,
    update_limits,
)
from ._writer_moved import CHECK_EVERY, check_store_file, file_id
from ._writer_salvage import VALUE_ERRORS as _VALUE_ERRORS
from ._writer_salvage import salvage

FLUSH_INTERVAL = 0.25
HEARTBEAT_INTERVAL = float(os.environ.get("TRACKER_HEARTBEAT_INTERVAL", "10"))  # seconds
MAX_BATCH = 5000  # calls in one transaction at most (and _writer_bounds' points bound)


#: What a user is told, per kind of store failure, while the writer keeps the batch and retries.
_HINTS = {
    "busy": "another process holds the write lock; retrying",
    "full": "the disk is full; free space and the queued points will be written",
    "readonly": "the store became read-only; retrying",
}


class Doorbell:
    """Wakes the writer thread without taking any lock: one byte into a pipe.

    ``threading.Event.set()`` takes the event's lock. A signal handler runs on the main thread
    between two bytecodes of whatever it interrupted — possibly inside ``log()``'s ``set()`` with
    that lock held — and a handler that then rang the same event (or waited for a writer stuck
    re-taking it) hung the process for good (issue 9: 4 hangs in 50 SIGTERMs of a flat-out loop).
    ``os.write`` of one byte to a non-blocking pipe needs no lock; a full pipe means a ring is
    already pending. The pipe lives as long as the process (a forked child keeps the parent's
    ends; its runs are closed and never ring).
    """

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        self._poll = select.poll()  # not select(): a training process may hold more than 1024 files
        self._poll.register(self._r, select.POLLIN)

    def close(self) -> None:
        """Close the pipe (a retired writer); a later ring is a no-op (writing to -1 fails)."""
        r, w = self._r, self._w
        self._r = self._w = -1
        if r >= 0:
            os.close(r)
            os.close(w)

    def ring(self) -> None:
        try:
            os.write(self._w, b"\0")
        except OSError:  # BlockingIOError: the pipe is full, a ring is pending
            pass

    def wait(self, timeout: float) -> None:
        """Return when rung (clearing the rings) or after ``timeout`` seconds."""
        try:
            ready = self._poll.poll(timeout * 1000)
            if ready:
                while os.read(self._r, 4096):
                    pass
        except BlockingIOError:
            pass
        except (OSError, ValueError):  # never expected: behave like a plain sleep
            time.sleep(timeout)


class Control:
    """A queued non-metric operation: a run-row update, an event, or a flush request."""

    __slots__ = ("rid", "fields", "event", "done")

    def __init__(self, rid: int | None = None, fields: dict[str, Any] | None = None,
                 event: tuple[int | None, float, str, str] | None = None,
                 done: threading.Event | None = None) -> None:
        self.rid = rid
        self.fields = fields
        self.event = event
        self.done = done


WARN_GAP = 5.0  # seconds: a new store-failure episode sooner than this after the last warning is counted
BUSY_WARN_GAP = 60.0  # the same for "busy": lock contention between writers comes and goes
CONTENTION_PATIENCE = 30.0  # seconds a writer keeps taking turns, unreported, while others commit


class _Abandoned(Exception):
    """Raised in the writer thread's retry loop when ``finish()`` gave up on the queued work."""


class GiveUp:
    """A ``finish()`` that timed out: what was dropped for its run, and whether the run's final
    state could still be stored."""

    def __init__(self, rid: int, fields: dict[str, Any]) -> None:
        self.rid = rid
        self.fields = fields
        self.calls = self.points = self.updates = self.events = 0
        self.marked = False
        self.done = threading.Event()


RESERVE_BYTES = 256 * 1024
RESERVE_SUFFIX = "-reserve"


def make_reserve(db: Any) -> None:
    """Keep ``tracker.db-reserve`` (256 KB of allocated space) next to the store, so that on a
    full disk a ``finish()`` that gives up can free it and still mark its run (never fatal)."""
    path = f"{db}{RESERVE_SUFFIX}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:  # exists already (another process made it), or the directory is read-only
        return
    try:
        os.posix_fallocate(fd, 0, RESERVE_BYTES)
    except (OSError, AttributeError):  # no room even for this, or no fallocate: no reserve
        os.close(fd)
        fd = -1
        try:
            os.unlink(path)
        except OSError:
            pass
    finally:
        if fd >= 0:
            os.close(fd)


def release_reserve(db: Any) -> bool:
    """Delete the reserve (see :func:`make_reserve`); True if there was one to free."""
    try:
        os.unlink(f"{db}{RESERVE_SUFFIX}")
        return True
    except OSError:
        return False


def _stat_sig(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0)
    return st.st_size, st.st_mtime_ns


def _take_all(q: deque[Any]) -> list[Any]:
    out = []
    try:
        while True:
            out.append(q.popleft())
    except IndexError:
        return out


class Writer:
    """Owns the process's store connection after ``init()`` and commits queued work."""

    def __init__(self, store: Any, flush_interval: float = FLUSH_INTERVAL) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.q: deque[Any] = deque()
        self.wake = Doorbell()
        self.active: set[int] = set()
        self.run_info: dict[int, dict[str, str]] = {}  # rid -> id, name, project (for alert hooks)
        self.dead = False
        self.failing_since: float | None = None
        self.last_error: str | None = None
        self._episodes: dict[str, int] = {}  # kind of store failure -> episodes so far
        self._warned_at: dict[str, float] = {}  # kind -> when its last warning was given
        self._episode_warned = False
        self._unwarned = 0  # episodes not warned about (rate limit) since the last warning
        self._giveup: GiveUp | None = None
        self.pid = os.getpid()
        self._last_commit = time.monotonic()
        self._alerts_out: list[tuple[int, dict[str, Any]]] = []  # automatic alerts of a commit
        self._stop = False
        make_reserve(store.path)
        self.file_id = file_id(store.path)  # the file opened, to notice it deleted or replaced
        self._checked_at = time.monotonic()
        self.rid_map: dict[int, int] = {}  # this process's rid -> rid in the store (after a rescue)
        self.discarding: str | None = None  # why log() calls are dropped (the store is gone)
        self.discarded = 0
        self.rate = START_RATE  # points/s this writer commits (measured)
        self.max_points = self.batch_points = 0
        self.others_writing = False  # other connections committed while this writer waited
        self.lock_wait_since: float | None = None  # monotonic start of the current wait for the lock
        self._avg_weight = float(ENTRY_POINTS + 1)  # points per queued call, as last seen
        self.courtesy = 0.0  # seconds to leave the lock to others before the next write
        self.longest_write = 0.0  # seconds, the longest commit so far (lock wait included)
        self.rung = False  # a log() rang the doorbell since this thread last woke
        update_limits(self)
        self.thread = threading.Thread(target=self._loop, name="tracker-writer", daemon=True)
        self.thread.start()

    # ---------------------------------------------------------------- producer side
    def backpressure(self, weight: int) -> None:
        """Called by ``log()`` when the queue is past its bound (see :mod:`._writer_bounds`)."""
        pause(self, weight)

    def flush(self, timeout: float | None) -> bool:
        """Block until everything queued so far is committed; False on timeout."""
        if self.dead:
            return False
        done = threading.Event()
        self.q.append(Control(done=done))
        self.wake.ring()
        return done.wait(timeout)

    # ---------------------------------------------------------------- writer thread
    def _loop(self) -> None:
        while not self._stop:
            self.wake.wait(self.flush_interval)
            self.rung = False  # before draining: a call queued after this rings again
            try:
                if self.q or time.monotonic() - self._checked_at > CHECK_EVERY:
                    self._checked_at = time.monotonic()
                    check_store_file(self)  # one stat(): before writing, is it still our file?
                self._drain()
                if self.active and time.monotonic() - self._last_commit > HEARTBEAT_INTERVAL:
                    self._with_retry(lambda: self.store.heartbeat(tuple(self.rid_map.get(r, r) for r in self.active)))
                    self._last_commit = time.monotonic()
                if self._giveup is not None:
                    self._abandon([])
            except _Abandoned:
                self._abandon([])
            except Exception as e:  # a bug must not kill the writer silently: say it and go on
                print(f"tracker: writer error: {type(e).__name__}: {e}", file=sys.stderr)
                time.sleep(0.5)

    def _drain(self) -> None:
        q = self.q
        popleft = q.popleft
        since = None
        while q:
            batch: list[Any] = []
            add = batch.append
            pts, n = 0, 0
            # A backlog (more than the window holds, e.g. after the store was locked) is written in
            # big transactions: the window is lost already, and wide calls (1,000 values: ~1,000
            # index pages per transaction) are written several times faster that way.
            limit = CATCH_UP_POINTS if len(q) * self._avg_weight > self.max_points else self.batch_points
            try:
                while (pts < limit or n < MIN_BATCH_CALLS) and n < MAX_BATCH:
                    e = popleft()
                    add(e)
                    n += 1
                    pts += len(e[4]) if type(e) is tuple else 1
            except IndexError:
                pass
            if n:
                self._avg_weight = pts / n + ENTRY_POINTS
            try:
                self._commit(batch, pts, since)
                since = time.perf_counter()  # the next batch's time counts from here
            except _Abandoned:
                self._abandon(batch)
                return
            if self.courtesy and q:  # other writers wait for the lock: let one of them have it
                time.sleep(self.courtesy)

    def _commit(self, batch: list[Any], points: int = 0, since: float | None = None) -> None:
        """Write one batch. ``points`` and ``since`` (end of the previous batch of this drain,
        if any) measure the writer's effective speed: lock waits and turns left to others count."""
        entries: list[tuple[Any, ...]] = []
        updates: list[tuple[int, dict[str, Any]]] = []
        events: list[tuple[int | None, float, str, str]] = []
        dones: list[threading.Event] = []
        for e in batch:
            if type(e) is tuple:
                entries.append(e)
            elif e.done is not None:
                dones.append(e.done)
            else:
                if e.fields is not None:
                    updates.append((e.rid, e.fields))
                if e.event is not None:
                    events.append(e.event)
        if self.discarding:  # the store is gone (see ._writer_moved): count, never keep
            self.discarded += len(entries)
            entries, updates, events = [], [], []
        if entries or updates or events:
            self._alerts_out = []
            t0 = time.perf_counter()
            healthy = self.failing_since is None
            try:
                self._append(entries, updates, events)
            except _VALUE_ERRORS as e:
                salvage(self, entries, updates, events, e)
            except StoreDamaged as e:
                self._stop_on_damage(e, len(entries))
            self._last_commit = time.monotonic()
            now = time.perf_counter()
            if now - t0 > self.longest_write:
                self.longest_write = now - t0  # lock wait included (bench/concurrent_writers.py)
            measured(self, points if healthy else 0, now - (t0 if since is None else since))
            alerts = [(rid, json.loads(data)) for rid, _, kind, data in events if kind == "alert"]
            alerts += self._alerts_out
            if alerts and os.environ.get("TRACKER_ALERT_CMD"):
                from ._alert_hooks import submit  # coalesced, capped, stopped at the timeout

                submit(os.environ["TRACKER_ALERT_CMD"],
                       [{**alert, **(self.run_info.get(rid, {}) if rid is not None else {})} for rid, alert in alerts])
        for d in dones:
            d.set()

    def _append(self, entries: list[Any], updates: list[Any] | None = None, events: list[Any] | None = None) -> None:
        """``store.append`` until it succeeds or the store is given up on; a value the store
        cannot take is raised (the batch's own fault, see :func:`salvage`)."""
        updates, events = updates or [], events or []
        m = self.rid_map
        if m:  # the store was recreated (see ._writer_moved): its runs have new rids
            entries = [(m.get(e[0], e[0]), *e[1:]) for e in entries]
            updates = [(m.get(r, r), f) for r, f in updates]
            events = [(m.get(e[0], e[0]) if e[0] is not None else None, *e[1:]) for e in events]
        self._with_retry(lambda: self._take_turn(lambda: self.store.append(entries, updates, events)))
        back = {v: k for k, v in m.items()}
        self._alerts_out += [(back.get(r, r), a) for r, a in self.store.new_alerts]

    def _take_turn(self, fn: Any) -> None:
        """One write, sharing the lock fairly with other processes' writers: wait for it in short
        polls (:func:`take_turns`), and after a write that had to wait, leave the lock alone for
        about as long as this write held it (the next write of this writer waits meanwhile)."""
        wal = f"{self.store.path}-wal"
        before = _stat_sig(wal)
        self.others_writing = False

        def on_wait() -> None:  # is the lock passed around (contention) or held by one (locked)?
            if self.lock_wait_since is None:
                self.lock_wait_since = time.monotonic()
            if not self.others_writing and _stat_sig(wal) != before:
                self.others_writing = True

        t0 = time.monotonic()
        try:
            # Under the store's own transaction lock: take_turns shortens the connection's busy
            # timeout meanwhile, which must never reach a write of init() in another thread.
            with self.store._wlock:
                while True:
                    try:
                        _, waited = take_turns(self.store.conn, fn, on_wait=on_wait)
                        break
                    except StoreError as e:
                        # A lock passed around between writers is contention, not a store
                        # problem: keep taking turns (no warning) as long as others get it.
                        if e.kind != "busy" or not self.others_writing or time.monotonic() - t0 > CONTENTION_PATIENCE:
                            raise
        finally:
            self.lock_wait_since = None
        held = time.monotonic() - t0 - waited
        self.courtesy = min(0.05, held) * random.uniform(0.5, 1.5) if waited > 0.002 else 0.0

    def _with_retry(self, fn: Any) -> None:
        """Run a store write until it succeeds; warn once per kind of failure. Errors of the
        written values themselves (``StoreValueError``, ``ValueError``...) are raised."""
        attempt = 0
        while True:
            try:
                fn()
                if self.failing_since is not None:
                    took = time.monotonic() - self.failing_since
                    if self._episode_warned:
                        print(f"tracker: the store is writable again after {took:.1f} s; nothing was lost.",
                              file=sys.stderr)
                    else:
                        self._unwarned += 1
                self.failing_since = None
                self.last_error = None
                return
            except _VALUE_ERRORS:
                raise
            except StoreDamaged:  # never retried: it does not heal, and nothing more is written to it
                raise
            except StoreError as e:  # busy, full, read-only, I/O: keep, retry
                self._report(e)
            attempt += 1
            if self._stop:
                return
            if self._giveup is not None:
                raise _Abandoned
            end = time.monotonic() + backoff_delay(attempt)
            while time.monotonic() < end and self._giveup is None:  # a give-up cuts the wait short
                time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def _stop_on_damage(self, e: StoreDamaged, lost: int) -> None:
        """The store file turned out damaged: say so once, loudly, with the way out, and drop (and
        count) every later call instead of retrying a write that cannot succeed."""
        if self.discarding:
            self.discarded += lost
            return
        self.discarding = str(e).removeprefix("tracker: ")
        self.discarded += lost
        self.last_error = self.discarding
        print(f"tracker: {self.discarding}\ntracker: this process STOPS WRITING to it: later log() calls are "
              "dropped (counted at finish()). Resume the run in a new process, on a recovered store, "
              "to log again.", file=sys.stderr, flush=True)

    def _report(self, e: StoreError) -> None:
        """Say that the store failed: once per episode (from the first failure to the next
        success), rate-limited per kind, so a second disk-full hours later is said again."""
        msg = str(e)
        kind = e.kind or "io"
        hint = _HINTS.get(kind, "retrying")
        self.last_error = f"{msg}: {hint}"
        now = time.monotonic()
        if self.failing_since is None:  # a new episode
            self.failing_since = now
            self._episode_warned = False
            update_limits(self)  # hold calls up to the memory budget meanwhile
            self._episodes[kind] = self._episodes.get(kind, 0) + 1
        if self._episode_warned:
            return
        last = self._warned_at.get(kind)
        if last is not None and now - last < (BUSY_WARN_GAP if kind == "busy" else WARN_GAP):
            return  # said again once the gap has passed, if the failure lasts that long
        self._warned_at[kind] = now
        self._episode_warned = True
        n = self._episodes[kind]
        again = f" This is failure number {n} of this kind in this process." if n > 1 else ""
        if self._unwarned:
            again += f" ({self._unwarned} shorter failures since the last warning were not reported.)"
            self._unwarned = 0
        warnings.warn(f"tracker: cannot write to {self.store.path}: {msg} ({hint}). Training continues; "
                      f"log() calls are kept in memory meanwhile.{again}", TrackerWarning, stacklevel=2)

    # ---------------------------------------------------------------- giving up at finish()
    def give_up(self, rid: int, fields: dict[str, Any], wait: float = 10.0) -> GiveUp | None:
        """``finish()`` timed out: drop run ``rid``'s queued work, then try to store just its
        final ``fields`` (with the counts of what was dropped). None if the writer did not answer."""
        req = GiveUp(rid, fields)
        self._giveup = req
        self.wake.ring()
        return req if req.done.wait(wait) else None

    def _abandon(self, batch: list[Any]) -> None:
        """In the writer thread: carry out the pending give-up request (see :meth:`give_up`)."""
        req, self._giveup = self._giveup, None
        if req is None:
            return
        keep: list[Any] = []
        for e in batch + _take_all(self.q):
            if type(e) is tuple:
                if e[0] == req.rid:
                    req.calls += 1
                    req.points += len(e[4])
                    continue
            elif e.done is not None or e.fields is req.fields:
                if e.done is not None:
                    e.done.set()
                continue
            elif e.rid == req.rid or (e.event is not None and e.event[0] == req.rid):
                req.updates += e.fields is not None
                req.events += e.event is not None
                continue
            keep.append(e)
        self.q.extendleft(reversed(keep))  # other runs' work stays queued, in order
        meta = dict(req.fields.get("meta_merge") or {})
        meta["unwritten"] = {"calls": req.calls, "points": req.points, "updates": req.updates,
                             "events": req.events, "reason": self.last_error or "timed out"}
        final = [(req.rid, {**req.fields, "meta_merge": meta})]
        deadline = time.monotonic() + 3.0
        attempt = 0
        while not req.marked and time.monotonic() < deadline and not self._stop:
            try:
                self.store.append([], [(self.rid_map.get(req.rid, req.rid), final[0][1])], [])
                req.marked = True
            except StoreError as e:
                if e.kind == "full" and release_reserve(self.store.path):
                    continue  # the reserve's space is for exactly this write: try again at once
                attempt += 1
                time.sleep(backoff_delay(attempt))
            except Exception:  # a value the store refuses: nothing more to try
                break
        req.done.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop = True
        self.wake.ring()
        self.thread.join(timeout)
