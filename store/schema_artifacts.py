"""Schema version 4: artifacts (versioned, content-addressed file sets) and their lineage.

- ``artifacts``: one row per (project, name) — its type, description and the next version
  number (numbers are never reused, even after a version is deleted);
- ``artifact_versions``: ``v0 … vN`` of an artifact: the manifest digest (identical content
  resolves to the existing version), metadata, total size, the producing run, and for a version
  linked into a registry collection the version it was linked from;
- ``artifact_files``: the manifest, one row per path: an object digest (the file lives in
  ``objects/``) or, for a reference, the URI with what was known about it locally;
- ``artifact_aliases``: unique moving names within an artifact (``latest``, ``best``,
  ``production``);
- ``artifact_usage``: which run logged or used which version (lineage edges);
- ``artifact_alias_events``: who moved which alias where, and when (the registry's history).

Only new tables: existing rows are untouched (no backup is taken for this step).
"""

from __future__ import annotations

import sqlite3


def v4(conn: sqlite3.Connection) -> None:
    for stmt in _V4.split(";"):
        if stmt.strip():
            conn.execute(stmt)


_V4 = """
CREATE TABLE IF NOT EXISTS artifacts (
    aid          INTEGER PRIMARY KEY AUTOINCREMENT,
    project      TEXT NOT NULL,
    name         TEXT NOT NULL,
    type         TEXT NOT NULL,
    description  TEXT,
    created_at   REAL NOT NULL,
    next_version INTEGER NOT NULL DEFAULT 0,
    UNIQUE (project, name)
);
CREATE TABLE IF NOT EXISTS artifact_versions (
    vid          INTEGER PRIMARY KEY AUTOINCREMENT,
    aid          INTEGER NOT NULL REFERENCES artifacts(aid),
    version      INTEGER NOT NULL,
    digest       TEXT NOT NULL,
    description  TEXT,
    metadata     TEXT NOT NULL DEFAULT '{}',
    size         INTEGER NOT NULL,
    file_count   INTEGER NOT NULL,
    created_at   REAL NOT NULL,
    rid          INTEGER,
    source_vid   INTEGER,
    UNIQUE (aid, version)
);
CREATE INDEX IF NOT EXISTS artifact_versions_digest ON artifact_versions(aid, digest);
CREATE INDEX IF NOT EXISTS artifact_versions_rid ON artifact_versions(rid);
CREATE TABLE IF NOT EXISTS artifact_files (
    vid     INTEGER NOT NULL,
    path    TEXT NOT NULL,
    digest  TEXT,
    size    INTEGER,
    ref     TEXT,
    etag    TEXT,
    PRIMARY KEY (vid, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS artifact_files_digest ON artifact_files(digest);
CREATE TABLE IF NOT EXISTS artifact_aliases (
    aid    INTEGER NOT NULL,
    alias  TEXT NOT NULL,
    vid    INTEGER NOT NULL,
    PRIMARY KEY (aid, alias)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS artifact_aliases_vid ON artifact_aliases(vid);
CREATE TABLE IF NOT EXISTS artifact_usage (
    rid   INTEGER NOT NULL,
    vid   INTEGER NOT NULL,
    kind  TEXT NOT NULL,
    ts    REAL NOT NULL,
    PRIMARY KEY (rid, vid, kind)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS artifact_usage_vid ON artifact_usage(vid, kind);
CREATE TABLE IF NOT EXISTS artifact_alias_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    aid      INTEGER NOT NULL,
    alias    TEXT NOT NULL,
    vid      INTEGER,
    old_vid  INTEGER,
    ts       REAL NOT NULL,
    user     TEXT,
    host     TEXT,
    rid      INTEGER
)
"""
