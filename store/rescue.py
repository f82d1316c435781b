"""Moving a process's runs into a new store file, for a writer whose ``tracker.db`` was deleted
(or replaced) while it was writing (issue 9).

The writer's connection still holds the deleted file open, so everything its runs committed is
still readable through it. :func:`copy_runs` attaches the new file to that connection and copies
the runs' rows (run row, points, summaries, blocks, events; metric names by name) in one
``BEGIN IMMEDIATE`` transaction, giving each run a new ``rid`` in the new file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from .errors import StoreError, translated

#: Tables keyed by (rid, kid) whose rows are copied with both remapped.
_PER_METRIC = ("metric_summary", "metric_blocks")


def _cols(c: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in c.execute(f"PRAGMA {schema}.table_info({table})")]


def _copy_one(c: sqlite3.Connection, rid: int) -> int:
    cols = [k for k in _cols(c, "main", "runs") if k not in ("rid", "rev")]
    names = ", ".join(cols)
    cur = c.execute(f"INSERT INTO fresh.runs ({names}, rev) SELECT {names}, "
                    "(SELECT coalesce(max(rev), 0) + 1 FROM fresh.runs) FROM main.runs WHERE rid = ?", (rid,))
    new = int(cur.lastrowid or 0)
    c.execute("INSERT OR IGNORE INTO fresh.keys (name) SELECT name FROM main.keys WHERE kid IN "
              "(SELECT kid FROM main.metric_summary WHERE rid = ?)", (rid,))
    join = "JOIN main.keys k ON k.kid = t.kid JOIN fresh.keys fk ON fk.name = k.name"
    c.execute(f"INSERT INTO fresh.metrics (rid, kid, step, ts, value, flag) SELECT ?, fk.kid, t.step, t.ts, "
              f"t.value, t.flag FROM main.metrics t {join} WHERE t.rid = ? ORDER BY t.id", (new, rid))
    for table in _PER_METRIC:
        rest = [k for k in _cols(c, "main", table) if k not in ("rid", "kid")]
        c.execute(f"INSERT INTO fresh.{table} (rid, kid, {', '.join(rest)}) SELECT ?, fk.kid, "
                  f"{', '.join('t.' + k for k in rest)} FROM main.{table} t {join} WHERE t.rid = ?", (new, rid))
    c.execute("INSERT INTO fresh.events (rid, ts, kind, data) SELECT ?, ts, kind, data FROM main.events "
              "WHERE rid = ? ORDER BY id", (new, rid))
    return new


@translated
def holds_runs(src: Any, dest: Any, rids: Iterable[int]) -> bool:
    """Does the store ``dest`` hold runs ``rids`` of ``src`` under the same ids and rids (a copy
    of the same store, or the same file seen under a new inode)?"""
    rids = list(rids)
    for rid in rids:
        row = src.conn.execute("SELECT id FROM runs WHERE rid = ?", (rid,)).fetchone()
        if row is None:
            return False
        there = dest.conn.execute("SELECT rid FROM runs WHERE id = ?", (row[0],)).fetchone()
        if there is None or there[0] != rid:
            return False
    return bool(rids)


@translated
def copy_runs(src: Any, dest: Any, rids: Iterable[int]) -> dict[int, int]:
    """Copy runs ``rids`` from the store ``src`` (whose file may be deleted: its connection is
    used) into the store ``dest``; returns old rid -> new rid. Raises :class:`StoreError` if a
    run's id already exists in ``dest``."""
    c = src.conn
    rids = list(rids)
    c.execute("ATTACH DATABASE ? AS fresh", (str(dest.path),))
    try:
        ids = [r[0] for r in c.execute(
            f"SELECT id FROM main.runs WHERE rid IN ({','.join('?' * len(rids))})", rids)]
        taken = [i for i in ids if c.execute("SELECT 1 FROM fresh.runs WHERE id = ?", (i,)).fetchone()]
        if taken:
            raise StoreError(f"the store now at {dest.path} already holds run(s) {', '.join(taken)}")
        return dict(src._write(c, lambda conn: {rid: _copy_one(conn, rid) for rid in rids}))
    finally:
        c.execute("DETACH DATABASE fresh")
