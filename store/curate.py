"""Curating runs: the trash (tombstones), the archive, renames, tags, notes, moves, and purge.

A delete only stamps ``runs.deleted_at`` (and bumps the run's revision, so live views drop it):
metric rows are never rewritten. :func:`purge` is the one hard delete: it removes trashed runs'
rows, points, summaries, blocks, events and media rows, then their files, then VACUUMs; the
newest point and event rows of the store, if a purged run's, stay behind owned by no run
(``rid = 0``) so that ids keep growing for readers that follow ``id > cursor``.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import StoreError
from .schema_curate import has_curate_columns

#: Run-row columns ``set_fields`` may change (name, tags JSON, notes, project).
EDITABLE = frozenset({"name", "tags", "notes", "project"})
_REV = "rev = (SELECT max(rev) + 1 FROM runs)"
#: Tables holding a run's data by ``rid`` (``runs`` itself last).
_RUN_TABLES = ("metrics", "metric_summary", "metric_blocks", "events")


def _need_columns(c: sqlite3.Connection) -> None:
    if not has_curate_columns(c):
        raise StoreError("tracker: this store is read-only at an older schema; it has no trash or archive")


def _update(store: Any, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    def do(c: sqlite3.Connection) -> None:
        _need_columns(c)
        for row in rows:
            c.execute(sql, row)

    store._write(store.conn, do)


def trash(store: Any, rids: Sequence[int], now: float | None = None) -> None:
    """Move these runs to the trash (restorable until purged)."""
    when = time.time() if now is None else now
    _update(store, f"UPDATE runs SET deleted_at = ?, {_REV} WHERE rid = ?", [(when, r) for r in rids])


def restore(store: Any, rids: Sequence[int]) -> None:
    """Take these runs out of the trash."""
    _update(store, f"UPDATE runs SET deleted_at = NULL, {_REV} WHERE rid = ?", [(r,) for r in rids])


def set_archived(store: Any, rids: Sequence[int], archived: bool = True) -> None:
    """Archive (hide from listings) or unarchive these runs."""
    _update(store, f"UPDATE runs SET archived = ?, {_REV} WHERE rid = ?", [(int(archived), r) for r in rids])


def set_fields(store: Any, rid: int, fields: dict[str, Any]) -> None:
    """Change a run's name, tags (a JSON list), notes or project."""
    bad = set(fields) - EDITABLE
    if bad:
        raise ValueError(f"tracker: cannot edit {sorted(bad)}")
    cols = sorted(fields)
    sets = ", ".join(f"{c} = ?" for c in cols)
    _update(store, f"UPDATE runs SET {sets}, updated_at = ?, {_REV} WHERE rid = ?",
            [(*[fields[c] for c in cols], time.time(), rid)])


def trashed(store: Any, older_than: float, now: float | None = None) -> list[tuple[int, str, str]]:
    """``(rid, id, name)`` of runs in the trash for longer than ``older_than`` seconds."""
    c = store.conn
    if not has_curate_columns(c):
        return []
    cutoff = (time.time() if now is None else now) - older_than
    return list(c.execute("SELECT rid, id, name FROM runs WHERE deleted_at IS NOT NULL AND deleted_at <= ? "
                          "ORDER BY deleted_at", (cutoff,)))


def _db_bytes(store: Any) -> int:
    base = Path(store.path)
    return sum(p.stat().st_size for p in (base, Path(f"{base}-wal")) if p.exists())


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def purge(store: Any, runs: Sequence[tuple[int, str, str]]) -> int:
    """Delete these trashed runs for good (rows, points, summaries, blocks, events, media rows
    and their ``runs/<id>`` files), then VACUUM; the bytes freed on disk."""
    if not runs:
        return 0
    before = _db_bytes(store)
    rids = [r[0] for r in runs]

    def do(c: sqlite3.Connection) -> None:
        tables = [*_RUN_TABLES]
        if c.execute("SELECT 1 FROM sqlite_master WHERE name = 'media'").fetchone():
            c.execute("DELETE FROM media_objects WHERE mid IN (SELECT id FROM media WHERE rid IN "
                      f"({', '.join('?' * len(rids))}))", rids)
            tables.append("media")
        for table in ("metrics", "events"):
            # Ids only grow (readers follow ``id > cursor``): the newest row, if it is a purged
            # run's, stays as a marker owned by no run (rid 0), so a new row never reuses its id.
            c.execute(f"UPDATE {table} SET rid = 0 WHERE id = (SELECT max(id) FROM {table}) AND rid IN "
                      f"({', '.join('?' * len(rids))})", rids)
        for rid in rids:
            for table in [*tables, "runs"]:
                c.execute(f"DELETE FROM {table} WHERE rid = ? AND "
                          "(SELECT deleted_at FROM runs WHERE rid = ?) IS NOT NULL", (rid, rid))

    store._write(store.conn, do)
    files = 0
    for _, run_id, _ in runs:
        d = Path(store.dir, "runs", run_id)
        files += _dir_bytes(d)
        shutil.rmtree(d, ignore_errors=True)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.conn.execute("VACUUM")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return max(0, before - _db_bytes(store)) + files
