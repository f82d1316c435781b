"""Change detection for a store: a doorbell, never the truth.

Commits land in ``tracker.db-wal`` (the main file changes only at checkpoints), so a watchdog
observer on the store directory reacts to ``-wal`` and ``.db`` events and ignores ``-shm``
(readers touch it: a feedback loop). Bursts are coalesced: 8 writers produced 4,500 events/s
(RELIABILITY.md §B5). Readers then re-query with their own cursor.

When inotify is unavailable (watch limit reached, network filesystem, some containers) or when
asked (``poll=SECONDS``), a polling thread checks ``PRAGMA data_version`` instead. In watch mode a
slow data_version check still runs as a safety net for missed events.

watchdog is imported only here, and only when a watcher starts: ``import tracker`` never pays
for it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .fs import DB_NAME, filesystem_type, is_network_fs

WATCHED = (DB_NAME, DB_NAME + "-wal")


def _data_version_reader(path: Path) -> Callable[[], int | None]:
    """A function returning the store's ``PRAGMA data_version`` through its own autocommit
    connection (never inside a transaction), or None while the store does not exist."""
    conn: list[sqlite3.Connection] = []

    def read() -> int | None:
        if not conn:
            if not path.exists():
                return None
            try:
                conn.append(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5,
                                            isolation_level=None, check_same_thread=False))
            except sqlite3.Error:
                return None
        try:
            return int(conn[0].execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None

    return read


class StoreWatcher:
    """Calls ``on_change()`` (from a background thread) soon after another process commits.

    Args:
        dir: the store directory.
        on_change: called with no arguments; at most once per ``min_interval`` seconds, with a
            trailing call so the last change of a burst is never lost.
        poll: seconds between polls; ``None`` watches filesystem events (falling back to
            polling every ``fallback_poll`` seconds when events are unavailable).
        min_interval: coalescing window for bursts of events.
        safety_poll: in watch mode, how often data_version is checked anyway.
    """

    def __init__(self, dir: str | os.PathLike[str], on_change: Callable[[], None], *, poll: float | None = None,
                 min_interval: float = 0.05, fallback_poll: float = 0.5, safety_poll: float = 2.0) -> None:
        self.dir = Path(dir)
        self.path = self.dir / DB_NAME
        self.on_change = on_change
        self.poll = poll
        self.min_interval = min_interval
        self.fallback_poll = fallback_poll
        self.safety_poll = safety_poll
        self.mode = "off"
        self.reason = ""
        self.events = 0
        self.notified = 0
        self._observer: Any = None
        self._stop = threading.Event()
        self._pending = threading.Event()  # a confirmed change, to report
        self._hint = threading.Event()  # a file event: maybe a change
        self._check_lock = threading.Lock()
        self._existed = self.path.exists()
        self._threads: list[threading.Thread] = []
        self._read_version = _data_version_reader(self.path)
        self._last_version: int | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> StoreWatcher:
        self._changed()  # the baseline, before any thread runs: no commit after start() is missed
        if self.poll is not None:
            self.mode, self.reason = f"poll {self.poll:g}s", "requested"
            self._start_thread(self._poll_loop, self.poll)
        else:
            why = self._start_observer()
            if why is None:
                self.mode = "watch"
                self._start_thread(self._hint_loop)
                self._start_thread(self._poll_loop, self.safety_poll)
            else:
                self.mode, self.reason = f"poll {self.fallback_poll:g}s", why
                self._start_thread(self._poll_loop, self.fallback_poll)
        self._start_thread(self._notify_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._pending.set()
        self._hint.set()
        if self._observer is not None:
            try:
                self._observer.stop()
                self._observer.join(2)
            except Exception:  # stopping must never raise into the app's shutdown
                pass
        for t in self._threads:
            t.join(2)

    def __enter__(self) -> StoreWatcher:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _start_thread(self, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=target, args=args, name=f"tracker-watch-{target.__name__}", daemon=True)
        t.start()
        self._threads.append(t)

    # ------------------------------------------------------------------ events
    def _start_observer(self) -> str | None:
        """Start a watchdog observer; return why it could not be used, or None."""
        if os.environ.get("TRACKER_NO_INOTIFY"):
            return "disabled by TRACKER_NO_INOTIFY"
        fstype = filesystem_type(self.dir)
        if is_network_fs(fstype):
            return f"network filesystem ({fstype}) sends no change events"
        if not self.dir.is_dir():
            return f"{self.dir} does not exist yet"
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError as e:  # watchdog is a dependency, but be graceful
            return f"watchdog unavailable ({e})"
        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                name = os.path.basename(str(getattr(event, "dest_path", "") or event.src_path))
                if name in WATCHED:  # never -shm: reading touches it
                    watcher.events += 1
                    watcher._hint.set()

        try:
            obs = Observer()
            obs.schedule(Handler(), str(self.dir), recursive=False)
            obs.start()
        except OSError as e:  # ENOSPC: inotify watch limit; EMFILE: instance limit
            return f"file events unavailable ({e.strerror or e})"
        except Exception as e:  # any other backend failure: poll instead
            return f"file events unavailable ({e})"
        self._observer = obs
        return None

    def _changed(self) -> bool:
        """Did another connection commit since the last check (or did the store appear)?

        File events are only hints: a reader opening the store creates the -wal file and the
        last one closing checkpoints into the .db, and neither is a change of data.
        """
        with self._check_lock:
            v = self._read_version()
            if v is None:
                return False
            if not self._existed:
                self._existed = True
                self._last_version = v
                return True
            if self._last_version is None:
                self._last_version = v
                return False
            if v != self._last_version:
                self._last_version = v
                return True
            return False

    def _hint_loop(self) -> None:
        while not self._stop.is_set():
            self._hint.wait()
            if self._stop.is_set():
                return
            time.sleep(self.min_interval)  # let a burst of events settle into one check
            self._hint.clear()
            if self._changed():
                self._pending.set()

    def _poll_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            if self._changed():
                self._pending.set()

    def _notify_loop(self) -> None:
        last = 0.0
        while not self._stop.is_set():
            self._pending.wait()
            if self._stop.is_set():
                return
            wait = self.min_interval - (time.monotonic() - last)
            if wait > 0:
                time.sleep(wait)  # coalesce a burst into one call
            self._pending.clear()
            last = time.monotonic()
            self.notified += 1
            try:
                self.on_change()
            except Exception:  # a failing listener must not kill the watcher
                pass
