"""The TUI's window onto the store. Called only from thread workers (never the event loop);
one lock serialises the shared connection. No SQL here: everything goes through
``tracker.store.Store``."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tracker.store import RunRecord, SeriesData, Store, StoreError, StoreMissing, resolve_dir


@dataclass
class Snapshot:
    """What one refresh read: the projects, the runs of the current project, cursors."""

    projects: list[tuple[str, int]]
    runs: list[RunRecord]
    rev: int
    point_id: int
    full: bool = True
    missing: bool = False
    partial: bool = False  # only the newest runs (the first screenful); the rest follow
    error: str | None = None


@dataclass
class RunSeries:
    """A metric of one run, for charts."""

    run_id: str
    run_name: str
    data: SeriesData


class StoreReader:
    """Lazily opens the store read-side; tolerates it not existing yet."""

    def __init__(self, dir: str | os.PathLike[str] | None) -> None:
        self.dir = resolve_dir(dir)
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._data_version: int | None = None

    def _open(self) -> Store | None:
        if self._store is None:
            try:
                self._store = Store(self.dir, create=False)
            except StoreMissing:
                return None
        return self._store

    @property
    def path(self) -> str:
        return str(self.dir / "tracker.db")

    @property
    def store(self) -> Store | None:
        with self._lock:
            return self._open()

    def changed(self) -> bool:
        """True when another connection committed since the last call (``PRAGMA data_version``)."""
        with self._lock:
            s = self._open()
            if s is None:
                return False
            v = s.data_version()
            was, self._data_version = self._data_version, v
            return was is not None and v != was

    def snapshot(self, project: str | None, limit: int | None = None) -> Snapshot:
        """The projects and the runs of ``project`` (default: the most recently active one);
        with ``limit``, only that many of the newest (``partial`` when there are more)."""
        try:
            return self._snapshot(project, limit)
        except (StoreError, RuntimeError, OSError) as e:  # newer schema, network FS, unreadable:
            return Snapshot([], [], 0, 0, missing=True, error=str(e))  # shown, never raised

    def _snapshot(self, project: str | None, limit: int | None) -> Snapshot:
        with self._lock:
            s = self._open()
            if s is None:
                return Snapshot([], [], 0, 0, missing=True)
            projects = s.projects()
            if project is None and projects:
                project = projects[0][0]
            runs = s.runs(project, limit=limit, archived=True) if project is not None else []
            partial = (limit is not None and project is not None and len(runs) >= limit
                       and dict(projects).get(project, 0) > len(runs))
            if not partial:
                self._data_version = s.data_version()
            return Snapshot(projects, runs, s.max_rev(), s.max_point_id(), partial=partial)

    def changes(self, project: str | None, after_rev: int) -> Snapshot:
        """Only the runs that changed since ``after_rev`` (plus the project list)."""
        with self._lock:
            s = self._open()
            if s is None:
                return Snapshot([], [], after_rev, 0, missing=True)
            snap = Snapshot(s.projects(), s.runs_changed(after_rev, project), s.max_rev(), s.max_point_id(),
                            full=False)
        if any(r.deleted_at is not None for r in snap.runs):
            # A run moved to the trash leaves the table: read it whole again.
            return self._snapshot(project, None)
        return snap

    def runs_by_id(self, ids: Sequence[str]) -> list[RunRecord]:
        with self._lock:
            s = self._open()
            return [] if s is None else s.runs_by_id(ids)

    def max_point_id(self) -> int:
        with self._lock:
            s = self._open()
            return 0 if s is None else s.max_point_id()

    def run(self, run_id: str) -> RunRecord:
        with self._lock:
            s = self._open()
            if s is None:
                raise StoreMissing(f"no store at {self.dir}")
            return s.run(run_id)

    def alerts(self, rec: RunRecord) -> list[dict[str, Any]]:
        """The run's alerts as ``tracker.Api`` reports them (stored ones plus failed/crashed)."""
        from tracker.api import ApiRun

        with self._lock:
            s = self._open()
            return [] if s is None else ApiRun(s, rec).alerts()

    def code(self, rec: RunRecord) -> dict[str, Any]:
        with self._lock:
            s = self._open()
            return {} if s is None else s.code(rec.rid)

    def console(self, rec: RunRecord, after_id: int = 0) -> list[tuple[int, float, str, str]]:
        with self._lock:
            s = self._open()
            return [] if s is None else s.console(rec.rid, after_id)

    def series(self, runs: Sequence[RunRecord], key: str, step_range: tuple[float, float] | None = None,
               max_raw: int = 20_000) -> list[RunSeries]:
        with self._lock:
            s = self._open()
            if s is None:
                return []
            return [RunSeries(r.id, r.name, s.series(r.rid, key, step_range=step_range, max_raw=max_raw)) for r in runs]

    def sparks(self, runs: Sequence[RunRecord], key: str, n: int = 12) -> dict[str, list[float]]:
        """A few evenly spaced values of ``key`` per run, for sparklines."""
        out: dict[str, list[float]] = {}
        with self._lock:
            s = self._open()
            if s is None:
                return out
            for r in runs:
                st = r.metrics.get(key)
                if st is None or not st.count:
                    continue
                out[r.id] = s.sample(r.rid, key, n)
        return out

    def points_after(self, after_id: int, rids: Sequence[int]) -> list[tuple[int, int, str, int, float, Any]]:
        with self._lock:
            s = self._open()
            if s is None:
                return []
            return s.points_after(after_id, rids)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
