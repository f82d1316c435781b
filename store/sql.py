"""The store as a :class:`sqlite_utils.Database`, read-only, for analysis in Python.

    from tracker.store.sql import database
    db = database()                      # dir > $TRACKER_DIR > ~/.tracker
    db["runs_flat"].rows_where("project = ?", ["cifar"])
    db.query("SELECT run_name, step, value FROM history WHERE key = 'val/acc'")

The views ``history`` and ``runs_flat`` (schema version 3) resolve run ids and key names; see
the README's "Query the store with SQL". sqlite-utils is imported here only: never by the logger.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from .errors import StoreMissing
from .fs import DB_NAME, resolve_dir


def database(dir: str | os.PathLike[str] | None = None) -> Any:
    """A read-only ``sqlite_utils.Database`` on the store (safe beside live writers: WAL readers
    never block them; no read transaction is held between queries)."""
    import sqlite_utils

    path = resolve_dir(dir) / DB_NAME
    if not path.exists():
        raise StoreMissing(f"tracker: no store at {path} (set dir= or TRACKER_DIR)")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    return sqlite_utils.Database(conn)
