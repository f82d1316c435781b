"""Schema and migrations. ``PRAGMA user_version`` is the schema version.

Each migration takes a store from version ``n - 1`` to ``n`` and runs inside the caller's
``BEGIN IMMEDIATE`` transaction, so eight processes opening a new store at once create the
schema exactly once (RELIABILITY.md C5). A store whose version is newer than ``SCHEMA_VERSION``
is refused and left untouched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from .keys import system_metric_sql
from .schema_artifacts import v4 as _v4
from .schema_curate import migrate as _curate
from .schema_media import migrate as _media
from .schema_sweeps import migrate_sweeps


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
    """Summaries kept at write time, so readers never scan points for them:

    - ``metric_summary``: per (run, metric) last value and step, min, max, count, non-finite count;
    - ``metric_blocks``: per (run, metric) and each block of 1,024 consecutive points (in logging
      order), the step range and the min / max / sum / count of its finite values. A chart of a
      series of any length reads at most ~1,000 block rows (RELIABILITY.md §B10: plotext needs
      6 s for 1M points).

    Backfilled from existing points so stores written by v1 get both.
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
            nonfinite INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (rid, kid)
        ) WITHOUT ROWID;
        CREATE TABLE metric_blocks (
            rid      INTEGER NOT NULL,
            kid      INTEGER NOT NULL,
            blk      INTEGER NOT NULL,
            n        INTEGER NOT NULL,
            min_step INTEGER NOT NULL,
            max_step INTEGER NOT NULL,
            min_ts   REAL NOT NULL,
            max_ts   REAL NOT NULL,
            fmin     REAL,
            fmax     REAL,
            fsum     REAL,
            fn       INTEGER NOT NULL,
            PRIMARY KEY (rid, kid, blk)
        ) WITHOUT ROWID;
        """,
    )
    conn.execute(SUMMARY_UPSERT, (0,))
    conn.execute(
        """
        INSERT INTO metric_blocks (rid, kid, blk, n, min_step, max_step, min_ts, max_ts, fmin, fmax, fsum, fn)
        SELECT rid, kid, blk, count(*), min(step), max(step), min(ts), max(ts),
               min(fv), max(fv), sum(fv), count(fv)
        FROM (
            SELECT rid, kid, step, ts,
                   (row_number() OVER (PARTITION BY rid, kid ORDER BY id) - 1) / 1024 AS blk,
                   CASE WHEN value IS NULL OR abs(value) > 1e308 THEN NULL ELSE value END AS fv
            FROM metrics
        ) GROUP BY rid, kid, blk
        """
    )
    conn.execute(
        """
        UPDATE metric_summary SET nonfinite = (
            SELECT count(*) FROM metrics m
            WHERE m.rid = metric_summary.rid AND m.kid = metric_summary.kid
              AND (m.value IS NULL OR abs(m.value) > 1e308))
        """
    )


def _v3(conn: sqlite3.Connection) -> None:
    """Read-only SQL views for other tools (sqlite-utils, Datasette, DuckDB), key names resolved.

    - ``history``: one row per logged point — run id, run name, project, key, step, timestamp,
      value (NULL for NaN, ``is_nan`` 1), ``is_system`` (1 for the sampler's system metrics).
    - ``runs_flat``: one row per run — its fields, the stored state, runtime, ``config`` (the
      logged JSON, nested: ``config ->> 'optim.lr'``) and ``summary`` (a JSON object of each
      training metric's last value, with ``run.summary[k] = v`` overrides applied).

    Views hold no data: adding them touches no row (no backup is taken for this step).
    """
    system = system_metric_sql("k.name")
    _script(
        conn,
        f"""
        CREATE VIEW history AS
        SELECT r.id AS run_id, r.name AS run_name, r.project AS project, k.name AS key,
               m.step AS step, m.ts AS timestamp, m.value AS value,
               (m.flag IS 1) AS is_nan, {system} AS is_system, m.id AS point_id
        FROM metrics m JOIN runs r ON r.rid = m.rid JOIN keys k ON k.kid = m.kid;
        CREATE VIEW runs_flat AS
        SELECT r.id AS id, r.name AS name, r.project AS project, r.group_name AS group_name,
               r.job_type AS job_type, r.state AS state, r.created_at AS created_at,
               r.updated_at AS updated_at, r.finished_at AS finished_at, r.heartbeat_at AS heartbeat_at,
               max(0, coalesce(r.finished_at, max(coalesce(r.heartbeat_at, 0), r.updated_at)) - r.created_at)
                   AS runtime_s,
               r.exit_code AS exit_code, r.last_step AS last_step, r.host AS host, r.user AS user,
               r.git_commit AS git_commit, r.git_branch AS git_branch, r.tags AS tags, r.notes AS notes,
               r.config AS config,
               json_patch(coalesce((
                   SELECT json_group_object(k.name, s.last) FROM metric_summary s JOIN keys k ON k.kid = s.kid
                   WHERE s.rid = r.rid AND NOT {system}), '{{}}'), r.summary) AS summary
        FROM runs r
        """,
    )


BLOCK = 1024

#: How a batch's summary row merges into an existing one (shared by the backfill and the writer).
_SUMMARY_ON_CONFLICT = """
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
    count = count + excluded.count"""

#: Folds the metric rows with ``id > ?`` into ``metric_summary`` (the v2 backfill).
SUMMARY_UPSERT = """
WITH b AS (
    SELECT rid, kid, max(id) AS mid, min(value) AS mn, max(value) AS mx, count(*) AS n
    FROM metrics WHERE id > ? GROUP BY rid, kid
)
INSERT INTO metric_summary (rid, kid, last, last_flag, last_step, last_ts, min, max, count)
SELECT b.rid, b.kid, m.value, m.flag, m.step, m.ts, b.mn, b.mx, b.n
FROM b JOIN metrics AS m ON m.id = b.mid WHERE true
""" + _SUMMARY_ON_CONFLICT

#: Ordered migrations; index i migrates version i to version i + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, migrate_sweeps, _media, _curate]

SCHEMA_VERSION = len(MIGRATIONS)

#: The oldest schema this code reads: a store that only lacks later additions (views) is read
#: as it is where it cannot be migrated (a read-only mount).
READABLE_VERSION = 2

#: Migrations that leave every row as it was: a store is backed up before a migration only if
#: one of its steps is not in here.
_NO_DATA_CHANGE = frozenset({3, 4, MIGRATIONS.index(migrate_sweeps) + 1, MIGRATIONS.index(_media) + 1,
                            MIGRATIONS.index(_curate) + 1})


def needs_backup(current: int, target: int = SCHEMA_VERSION) -> bool:
    """Does migrating from ``current`` to ``target`` change stored rows (so back up first)?"""
    return current > 0 and any(v not in _NO_DATA_CHANGE for v in range(current + 1, target + 1))


def migrate(conn: sqlite3.Connection, current: int, target: int = SCHEMA_VERSION) -> None:
    """Apply migrations ``current+1 .. target``; the caller holds a write transaction."""
    for version in range(current + 1, target + 1):
        MIGRATIONS[version - 1](conn)
        conn.execute(f"PRAGMA user_version = {int(version)}")


#: Merges one batch's per-(run, metric) summary, computed by the writer, into the table.
SUMMARY_MERGE = """
INSERT INTO metric_summary (rid, kid, last, last_flag, last_step, last_ts, min, max, count, nonfinite)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
""" + _SUMMARY_ON_CONFLICT + """,
    nonfinite = nonfinite + excluded.nonfinite
"""


#: Merges one batch's part of a block into ``metric_blocks``.
BLOCK_MERGE = """
INSERT INTO metric_blocks (rid, kid, blk, n, min_step, max_step, min_ts, max_ts, fmin, fmax, fsum, fn)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (rid, kid, blk) DO UPDATE SET
    n = n + excluded.n,
    min_step = min(min_step, excluded.min_step),
    max_step = max(max_step, excluded.max_step),
    min_ts = min(min_ts, excluded.min_ts),
    max_ts = max(max_ts, excluded.max_ts),
    fmin = CASE WHEN fmin IS NULL THEN excluded.fmin WHEN excluded.fmin IS NULL THEN fmin
                ELSE min(fmin, excluded.fmin) END,
    fmax = CASE WHEN fmax IS NULL THEN excluded.fmax WHEN excluded.fmax IS NULL THEN fmax
                ELSE max(fmax, excluded.fmax) END,
    fsum = coalesce(fsum, 0) + coalesce(excluded.fsum, 0),
    fn = fn + excluded.fn
"""
