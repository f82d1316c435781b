"""Schema and migrations. ``PRAGMA user_version`` is the schema version.

Each migration takes a store from version ``n - 1`` to ``n`` and runs inside the caller's
``BEGIN IMMEDIATE`` transaction, so eight processes opening a new store at once create the
schema exactly once (RELIABILITY.md C5). A store whose version is newer than ``SCHEMA_VERSION``
is refused and left untouched.
"""

from __future__ import annotations

import sqlite3
from typing import Callable


def _script(conn: sqlite3.Connection, sql: str) -> None:
    # Not executescript(): it COMMITs the caller's BEGIN IMMEDIATE first, which would let two
    # processes race to create the schema.
    for stmt in sql.split(";"):
        if stmt.strip():
            conn.execute(stmt)


def _v1(conn: sqlite3.Connection) -> None:
    """Runs, interned metric keys, one row per metric point, events.

    ``metrics.id`` is a plain rowid (AUTOINCREMENT cost 25% of insert time): rows are never
    deleted, so ids only grow and ``id > cursor`` never misses a row.
    """
    _script(
        conn,
        """
        CREATE TABLE runs (
            rid          INTEGER PRIMARY KEY AUTOINCREMENT,
            id           TEXT NOT NULL UNIQUE,
            project      TEXT NOT NULL,
            name         TEXT NOT NULL,
            group_name   TEXT,
            job_type     TEXT,
            tags         TEXT NOT NULL DEFAULT '[]',
            notes        TEXT,
            state        TEXT NOT NULL,
            created_at   REAL NOT NULL,
            updated_at   REAL NOT NULL,
            finished_at  REAL,
            heartbeat_at REAL,
            exit_code    INTEGER,
            host         TEXT,
            pid          INTEGER,
            pid_start    TEXT,
            user         TEXT,
            argv         TEXT,
            python       TEXT,
            cwd          TEXT,
            git_commit   TEXT,
            git_branch   TEXT,
            git_dirty    INTEGER,
            config       TEXT NOT NULL DEFAULT '{}',
            summary      TEXT NOT NULL DEFAULT '{}',
            meta         TEXT NOT NULL DEFAULT '{}',
            last_step    INTEGER,
            rev          INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX runs_project ON runs(project, created_at);
        CREATE INDEX runs_rev ON runs(rev);
        CREATE TABLE keys (
            kid  INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );
        CREATE TABLE metrics (
            id    INTEGER PRIMARY KEY,
            rid   INTEGER NOT NULL,
            kid   INTEGER NOT NULL,
            step  INTEGER NOT NULL,
            ts    REAL NOT NULL,
            value,
            flag  INTEGER
        );
        CREATE INDEX metrics_series ON metrics(rid, kid, step);
        CREATE TABLE events (
            id    INTEGER PRIMARY KEY AUTOINCREMENT,
            rid   INTEGER,
            ts    REAL NOT NULL,
            kind  TEXT NOT NULL,
            data  TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_run ON events(rid, id);
        """
    )


def _v2(conn: sqlite3.Connection) -> None:
    """Per-(run, metric) summary maintained at write time: last / min / max / count.

    Backfilled from existing points so stores written by v1 get correct summaries.
    """
    _script(
        conn,
        """
        CREATE TABLE metric_summary (
            rid       INTEGER NOT NULL,
            kid       INTEGER NOT NULL,
            last      ,
            last_flag INTEGER,
            last_step INTEGER,
            last_ts   REAL,
            min       REAL,
            max       REAL,
            count     INTEGER NOT NULL,
            PRIMARY KEY (rid, kid)
        ) WITHOUT ROWID;
        """
    )
    conn.execute(SUMMARY_UPSERT, (0,))


#: Folds the metric rows with ``id > ?`` into ``metric_summary`` (the v2 backfill).
SUMMARY_UPSERT = """
WITH b AS (
    SELECT rid, kid, max(id) AS mid, min(value) AS mn, max(value) AS mx, count(*) AS n
    FROM metrics WHERE id > ? GROUP BY rid, kid
)
INSERT INTO metric_summary (rid, kid, last, last_flag, last_step, last_ts, min, max, count)
SELECT b.rid, b.kid, m.value, m.flag, m.step, m.ts, b.mn, b.mx, b.n
FROM b JOIN metrics AS m ON m.id = b.mid WHERE true
ON CONFLICT (rid, kid) DO UPDATE SET
    last = excluded.last,
    last_flag = excluded.last_flag,
    last_step = excluded.last_step,
    last_ts = excluded.last_ts,
    min = CASE WHEN min IS NULL THEN excluded.min
               WHEN excluded.min IS NULL THEN min
               ELSE min(min, excluded.min) END,
    max = CASE WHEN max IS NULL THEN excluded.max
               WHEN excluded.max IS NULL THEN max
               ELSE max(max, excluded.max) END,
    count = count + excluded.count
"""

#: Ordered migrations; index i migrates version i to version i + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, current: int, target: int = SCHEMA_VERSION) -> None:
    """Apply migrations ``current+1 .. target``; the caller holds a write transaction."""
    for version in range(current + 1, target + 1):
        MIGRATIONS[version - 1](conn)
        conn.execute(f"PRAGMA user_version = {int(version)}")


#: Merges one batch's per-(run, metric) summary, computed by the writer, into the table.
SUMMARY_MERGE = """
INSERT INTO metric_summary (rid, kid, last, last_flag, last_step, last_ts, min, max, count)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (rid, kid) DO UPDATE SET
    last = excluded.last,
    last_flag = excluded.last_flag,
    last_step = excluded.last_step,
    last_ts = excluded.last_ts,
    min = CASE WHEN min IS NULL THEN excluded.min
               WHEN excluded.min IS NULL THEN min
               ELSE min(min, excluded.min) END,
    max = CASE WHEN max IS NULL THEN excluded.max
               WHEN excluded.max IS NULL THEN max
               ELSE max(max, excluded.max) END,
    count = count + excluded.count
"""
