"""The background writer: one thread per process turns queued ``log()`` calls into batched
``BEGIN IMMEDIATE`` transactions.

``Run.log`` appends a tuple to a deque (atomic under the GIL, no lock, so a signal handler can
never deadlock on it) and returns. This thread wakes every ``flush_interval`` seconds, or sooner
when enough calls are queued, and commits everything queued in one transaction. Store errors
(``StoreBusy``, disk full, read-only, I/O: the store's own errors) keep the batch, warn once, back
off (the store's ``backoff_delay``) and retry: nothing is raised into the training loop and nothing
already queued is dropped. The queue is bounded:
past ``max_pending`` queued calls, ``log()`` waits for the writer (backpressure).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from collections import deque
from typing import Any

from tracker.store.errors import StoreError, backoff_delay

from ._values import warn_once
from ._writer_salvage import VALUE_ERRORS as _VALUE_ERRORS
from ._writer_salvage import salvage

FLUSH_INTERVAL = 0.25
HEARTBEAT_INTERVAL = float(os.environ.get("TRACKER_HEARTBEAT_INTERVAL", "10"))  # seconds
MAX_BATCH = 5000
WAKE_AT = 500
MAX_PENDING = 65536


ALERT_HOOK_TIMEOUT = float(os.environ.get("TRACKER_ALERT_TIMEOUT", "10"))


def run_alert_hook(cmd: str, alert: dict[str, Any]) -> threading.Thread:
    """Run ``cmd`` (a shell command) with the alert as JSON on stdin, in its own thread, with a
    timeout: a slow or broken hook never blocks training, and its failure is one warning."""
    timeout = ALERT_HOOK_TIMEOUT

    def go() -> None:
        try:
            p = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            warn_once(f"hook-error:{cmd}", f"tracker: TRACKER_ALERT_CMD could not run: {e}")
            return
        try:
            p.communicate(json.dumps(alert).encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, 9)  # the shell and whatever it started
            except OSError:
                pass
            p.wait()
            warn_once(f"hook-timeout:{cmd}", f"tracker: TRACKER_ALERT_CMD took longer than {timeout:g} s "
                      "and was stopped")

    t = threading.Thread(target=go, name="tracker-alert-hook", daemon=True)
    t.start()
    return t


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

    def ring(self) -> None:
        try:
            os.write(self._w, b"\0")
        except OSError:  # BlockingIOError: the pipe is full, a ring is pending
            pass

    def wait(self, timeout: float) -> None:
        """Return when rung (clearing the rings) or after ``timeout`` seconds."""
        try:
            ready, _, _ = select.select([self._r], [], [], timeout)
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
        self.pid = os.getpid()
        self._last_commit = time.monotonic()
        self._alerts_out: list[tuple[int, dict[str, Any]]] = []  # automatic alerts of a commit
        self._stop = False
        self.thread = threading.Thread(target=self._loop, name="tracker-writer", daemon=True)
        self.thread.start()

    # ---------------------------------------------------------------- producer side
    def backpressure(self) -> None:
        """Called by ``log()`` when the queue is full: wait (with a warning) for room."""
        warned = False
        start = time.monotonic()
        self.wake.ring()
        while len(self.q) > MAX_PENDING // 2 and not self.dead:
            if not warned and time.monotonic() - start > 1.0:
                warned = True
                why = f" ({self.last_error})" if self.last_error else ""
                print(
                    f"tracker: {len(self.q)} log() calls are waiting to be written to {self.store.path}{why}; "
                    "log() is pausing until the store catches up (nothing is dropped).",
                    file=sys.stderr,
                )
            time.sleep(0.005)

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
            try:
                self._drain()
                if self.active and time.monotonic() - self._last_commit > HEARTBEAT_INTERVAL:
                    self._with_retry(lambda: self.store.heartbeat(tuple(self.active)))
                    self._last_commit = time.monotonic()
            except Exception as e:  # a bug must not kill the writer silently: say it and go on
                print(f"tracker: writer error: {type(e).__name__}: {e}", file=sys.stderr)
                time.sleep(0.5)

    def _drain(self) -> None:
        q = self.q
        while q:
            batch = []
            popleft = q.popleft
            try:
                for _ in range(MAX_BATCH):
                    batch.append(popleft())
            except IndexError:
                pass
            self._commit(batch)

    def _commit(self, batch: list[Any]) -> None:
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
        if entries or updates or events:
            self._alerts_out = []
            try:
                self._append(entries, updates, events)
            except _VALUE_ERRORS as e:
                salvage(self, entries, updates, events, e)
            self._last_commit = time.monotonic()
            alerts = [(rid, json.loads(data)) for rid, _, kind, data in events if kind == "alert"]
            alerts += self._alerts_out
            if alerts and os.environ.get("TRACKER_ALERT_CMD"):
                for rid, alert in alerts:
                    info = self.run_info.get(rid, {}) if rid is not None else {}
                    run_alert_hook(os.environ["TRACKER_ALERT_CMD"], {**alert, **info})
        for d in dones:
            d.set()

    def _append(self, entries: list[Any], updates: list[Any] | None = None, events: list[Any] | None = None) -> None:
        """``store.append`` until it succeeds or the store is given up on; a value the store
        cannot take is raised (the batch's own fault, see :func:`salvage`)."""
        self._with_retry(lambda: self.store.append(entries, updates or (), events or ()))
        self._alerts_out += self.store.new_alerts

    def _with_retry(self, fn: Any) -> None:
        """Run a store write until it succeeds; warn once per kind of failure. Errors of the
        written values themselves (``StoreValueError``, ``ValueError``...) are raised."""
        attempt = 0
        while True:
            try:
                fn()
                if self.failing_since is not None:
                    took = time.monotonic() - self.failing_since
                    print(f"tracker: the store is writable again after {took:.1f} s; nothing was lost.",
                          file=sys.stderr)
                self.failing_since = None
                self.last_error = None
                return
            except _VALUE_ERRORS:
                raise
            except StoreError as e:  # busy, full, read-only, I/O, corrupt: keep, retry
                self._report(e)
            attempt += 1
            if self._stop:
                return
            time.sleep(backoff_delay(attempt))

    def _report(self, e: StoreError) -> None:
        msg = str(e)
        kind = e.kind or "io"
        hint = _HINTS.get(kind, "retrying")
        self.last_error = f"{msg}: {hint}"
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        warn_once(f"store:{kind}", f"tracker: cannot write to {self.store.path}: {msg} ({hint}). "
                  "Training continues; log() calls are kept in memory meanwhile.")

    def stop(self, timeout: float = 5.0) -> None:
        self._stop = True
        self.wake.ring()
        self.thread.join(timeout)
