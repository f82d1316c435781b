"""Schema step for curating runs: a trash and an archive, as two columns of ``runs``.

- ``deleted_at``: when the run was moved to the trash (NULL: not deleted). A delete is a
  tombstone: the run's metric rows, summaries, blocks and events stay as they are until
  ``tracker-tui purge`` removes them for good; every reader leaves a tombstoned run out.
- ``archived``: 1 for a run hidden from listings unless asked for (``archived:yes``).

``ALTER TABLE ... ADD COLUMN`` leaves every row as it was (no backup is taken for this step);
a column already there (a step re-run on a store that has it) is left alone.
"""

from __future__ import annotations

import sqlite3

COLUMNS = (("deleted_at", "REAL"), ("archived", "INTEGER NOT NULL DEFAULT 0"))


def has_curate_columns(conn: sqlite3.Connection) -> bool:
    """Does this store's ``runs`` table have the trash/archive columns (older stores read
    read-only do not)?"""
    have = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
    return all(name in have for name, _ in COLUMNS)


def migrate(conn: sqlite3.Connection) -> None:
    have = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
    for name, decl in COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
