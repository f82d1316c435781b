"""Rich media rows (``media``, ``media_objects``) and their files in the shared object store.

Files are staged (written to ``objects/tmp``) by the logging process outside any lock; they
become objects (a rename) inside the transaction that inserts the rows naming them, so a ``gc``
running at the same time — which computes the referenced set under the same write lock, from
artifacts and from :func:`referenced_digests` — can never delete a file a committed row names.
A store older than this schema step has no media: reads return nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .damage import checked
from .objects import ObjectStore, Staged

__all__ = ["MediaRow", "MediaStore", "PendingMedia", "insert_media", "referenced_digests"]


@dataclass
class PendingMedia:
    """One media value to write: ``staged`` files become its objects, in order."""

    rid: int
    key: str
    step: int
    ts: float
    kind: str
    meta: dict[str, Any]
    staged: list[Staged] = field(default_factory=list)


@dataclass
class MediaRow:
    """A stored media value; ``digests`` are its files in order (``objects.path_of(d)``)."""

    id: int
    key: str
    step: int
    ts: float
    kind: str
    meta: dict[str, Any]
    size: int
    digests: list[str]


def referenced_digests(conn: sqlite3.Connection) -> set[str]:
    """Every object a media row names (empty on a store without media)."""
    try:
        return {d for (d,) in conn.execute("SELECT DISTINCT digest FROM media_objects")}
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return set()
        raise


def insert_media(c: sqlite3.Connection, objects: ObjectStore | None, items: Sequence[PendingMedia]) -> None:
    """Insert media rows and place their files, inside the caller's write transaction (file-less
    values such as histograms need no ``objects``)."""
    for it in items:
        size = sum(s.size for s in it.staged)
        cur = c.execute("INSERT INTO media (rid, key, step, ts, kind, meta, size) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (it.rid, it.key, it.step, it.ts, it.kind,
                         json.dumps(it.meta, ensure_ascii=False, separators=(",", ":")), size))
        mid = cur.lastrowid
        for i, s in enumerate(it.staged):
            assert objects is not None, "media with files need the object store"
            if not objects.place(s):  # under the write lock: gc cannot run in between
                objects.discard(s)
                objects.touch(s.digest or "")
            c.execute("INSERT INTO media_objects (mid, idx, digest, size) VALUES (?, ?, ?, ?)",
                      (mid, i, s.digest, s.size))


def _missing_table(e: sqlite3.OperationalError) -> bool:
    return "no such table" in str(e)


class MediaStore:
    """Media of a :class:`tracker.store.Store` (its connection) and its ``objects/``."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.objects = ObjectStore(store.dir / "objects")

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.conn

    def found_damage(self, detail: str) -> Exception:
        return self.store.found_damage(detail)

    @checked
    def write(self, items: Sequence[PendingMedia]) -> None:
        """Insert the rows and place their files, in one transaction."""

        self.store._write(self.conn, lambda c: insert_media(c, self.objects, items))

    @checked
    def rows(self, rid: int, key: str | None = None, kind: str | None = None,
             step: int | None = None) -> list[MediaRow]:
        """Media of a run by key then step (then logging order)."""
        sql = "SELECT id, key, step, ts, kind, meta, size FROM media WHERE rid = ?"
        args: list[Any] = [rid]
        for col, val in (("key", key), ("kind", kind), ("step", step)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        try:
            rows = self.conn.execute(sql + " ORDER BY key, step, id", args).fetchall()
            objs: dict[int, list[str]] = {}
            if rows:
                q = ("SELECT o.mid, o.digest FROM media_objects o JOIN media m ON m.id = o.mid "
                     "WHERE m.rid = ? ORDER BY o.mid, o.idx")
                for mid, d in self.conn.execute(q, (rid,)):
                    objs.setdefault(mid, []).append(d)
        except sqlite3.OperationalError as e:
            if _missing_table(e):
                return []
            raise
        out = []
        for mid, k, s, ts, kd, meta, size in rows:
            try:
                m = json.loads(meta)
            except ValueError:
                m = {}
            out.append(MediaRow(mid, k, s, ts, kd, m if isinstance(m, dict) else {}, size, objs.get(mid, [])))
        return out

    @checked
    def keys(self, rid: int) -> list[tuple[str, str, int, int]]:
        """``(key, kind of the last value, number of values, last step)`` per media key."""
        try:
            return [tuple(r) for r in self.conn.execute(
                "SELECT key, (SELECT kind FROM media m2 WHERE m2.rid = m.rid AND m2.key = m.key ORDER BY step DESC, id DESC"
                " LIMIT 1), count(*), max(step) FROM media m WHERE rid = ? GROUP BY key ORDER BY key", (rid,))]
        except sqlite3.OperationalError as e:
            if _missing_table(e):
                return []
            raise

    def read(self, digest: str) -> bytes:
        with self.objects.open(digest) as f:
            return f.read()
