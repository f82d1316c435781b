"""Schema step for rich media (``tracker.Image``, ``Table``, ``Histogram``, plots...).

- ``media``: one row per logged media value — run, key, step, time, kind (``image``,
  ``images``, ``table``, ``histogram``, ``plot``, ``audio``, ``video``, ``object3d``,
  ``html``, ``molecule``), its JSON metadata (a histogram's bins and counts live here: a few
  hundred bytes) and the total size of its files;
- ``media_objects``: the files of a media row, in order, by SHA-256 digest: they live in the
  content-addressed ``objects/`` directory shared with artifacts, and ``gc`` keeps every object
  a row here names.

Only new tables: existing rows are untouched (no backup is taken for this step).
"""

from __future__ import annotations

import sqlite3

_SQL = """
CREATE TABLE IF NOT EXISTS media (
    id    INTEGER PRIMARY KEY,
    rid   INTEGER NOT NULL,
    key   TEXT NOT NULL,
    step  INTEGER NOT NULL,
    ts    REAL NOT NULL,
    kind  TEXT NOT NULL,
    meta  TEXT NOT NULL DEFAULT '{}',
    size  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS media_run ON media(rid, key, step);
CREATE TABLE IF NOT EXISTS media_objects (
    mid     INTEGER NOT NULL,
    idx     INTEGER NOT NULL,
    digest  TEXT NOT NULL,
    size    INTEGER NOT NULL,
    PRIMARY KEY (mid, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS media_objects_digest ON media_objects(digest)
"""


def migrate(conn: sqlite3.Connection) -> None:
    for stmt in _SQL.split(";"):
        if stmt.strip():
            conn.execute(stmt)
