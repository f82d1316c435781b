"""Artifact writes: versions, manifests, aliases, usage, deletion and garbage collection.

Every write is one ``BEGIN IMMEDIATE`` transaction. Staged snapshots become objects (a rename)
inside the transaction that references them, and :meth:`ArtifactStore.gc` deletes unreferenced
objects inside its own: the two are serialised by SQLite's write lock, so a collection racing a
``log_artifact`` can never delete an object a committed version names.

Versions are numbered per artifact from ``artifacts.next_version`` (never reused). Logging a
manifest identical to an existing version's resolves to that version. ``latest`` always names
the highest version number; other aliases are unique within an artifact and move.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from .artifacts_models import (
    ArtifactError,
    ArtifactNotFound,
    FileEntry,
    VersionRecord,
    check_alias,
    check_name,
    manifest_digest,
)
from .artifacts_reads import ArtifactReads
from .damage import checked
from .objects import ObjectStore, Staged

__all__ = ["REFERENCES", "ArtifactStore", "Who"]

#: Queries returning every object digest still in use. Anything else that keeps files in
#: ``objects/`` (rich media) appends its own query here, or ``gc`` would delete its files.
REFERENCES: list[str] = ["SELECT DISTINCT digest FROM artifact_files WHERE digest IS NOT NULL"]

#: Who did a write, for the alias history: ``(user, host, rid)``.
Who = tuple[str | None, str | None, int | None]


class ArtifactStore(ArtifactReads):
    """Artifacts in a :class:`tracker.store.Store` and its ``objects/`` directory."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.objects = ObjectStore(store.dir / "objects")

    def _tx(self, fn: Any) -> Any:
        return self.store._write(self.conn, fn)

    # ------------------------------------------------------------------ log a version
    @checked
    def log_version(self, *, project: str, name: str, type: str, description: str | None,
                    metadata: dict[str, Any], entries: Sequence[FileEntry], staged: Sequence[Staged],
                    aliases: Sequence[str] = (), rid: int | None = None, incremental: bool = False,
                    who: Who = (None, None, None), source_vid: int | None = None,
                    now: float | None = None) -> tuple[VersionRecord, bool]:
        """Commit a version (or resolve to the identical existing one); returns ``(version, created)``."""
        check_name(name)
        check_name(type, "artifact type")
        aliases = [check_alias(a) for a in aliases if a != "latest"]
        now = time.time() if now is None else now
        meta_json = json.dumps(metadata, sort_keys=True, default=str)

        for s in staged:
            if s.tmp is None and s.digest is not None and not self.objects.exists(s.digest):
                self.objects.spill(s)  # a small file whose bytes are not stored yet
        self.objects.make_durable(list(staged))

        def do(c: sqlite3.Connection) -> tuple[int, bool]:
            aid = self._artifact_row(c, project, name, type, description, now)
            files = {e.path: e for e in entries}
            if incremental:
                latest = c.execute("SELECT vid FROM artifact_aliases WHERE aid = ? AND alias = 'latest'",
                                   (aid,)).fetchone()
                if latest is not None:
                    base = self._files(c, int(latest[0]))
                    files = {**{e.path: e for e in base}, **files}
            digest = manifest_digest(list(files.values()))
            row = c.execute("SELECT vid FROM artifact_versions WHERE aid = ? AND digest = ? ORDER BY version DESC",
                            (aid, digest)).fetchone()
            if row is not None:
                vid, created = int(row[0]), False
            else:
                vid, created = self._insert_version(c, aid, digest, description, meta_json, files, staged,
                                                    rid, source_vid, now), True
            self._move_latest(c, aid, who, now)
            for a in aliases:
                self._set_alias(c, aid, a, vid, who, now)
            if rid is not None:
                c.execute("INSERT OR IGNORE INTO artifact_usage (rid, vid, kind, ts) VALUES (?, ?, 'logged', ?)",
                          (rid, vid, now))
            return vid, created

        vid, created = self._tx(do)
        for s in staged:  # the snapshots that were not needed (the object was already there)
            self.objects.discard(s)
        return self.version_by_vid(vid), created

    def _artifact_row(self, c: sqlite3.Connection, project: str, name: str, type: str,
                      description: str | None, now: float) -> int:
        row = c.execute("SELECT aid, type FROM artifacts WHERE project = ? AND name = ?", (project, name)).fetchone()
        if row is None:
            cur = c.execute("INSERT INTO artifacts (project, name, type, description, created_at) VALUES (?, ?, ?, ?, ?)",
                            (project, name, type, description, now))
            return int(cur.lastrowid or 0)
        if row[1] != type:
            raise ArtifactError(f"tracker: artifact {project}/{name} has type {row[1]!r}; "
                                f"it cannot be logged with type {type!r}")
        return int(row[0])

    @staticmethod
    def _files(c: sqlite3.Connection, vid: int) -> list[FileEntry]:
        return [FileEntry(*r) for r in c.execute(
            "SELECT path, digest, size, ref, etag FROM artifact_files WHERE vid = ?", (vid,))]

    def _insert_version(self, c: sqlite3.Connection, aid: int, digest: str, description: str | None,
                        meta_json: str, files: dict[str, FileEntry], staged: Sequence[Staged],
                        rid: int | None, source_vid: int | None, now: float) -> int:
        for s in staged:
            self.objects.place(s)  # under the write lock: gc cannot run between this and the insert
        for e in files.values():
            if e.digest is not None and not self.objects.exists(e.digest):
                raise ArtifactError(f"tracker: the stored object for {e.path!r} ({e.digest[:12]}…) is missing "
                                    f"from {self.objects.root}")
        version = int(c.execute("SELECT next_version FROM artifacts WHERE aid = ?", (aid,)).fetchone()[0])
        size = sum(e.size or 0 for e in files.values())
        cur = c.execute(
            """INSERT INTO artifact_versions (aid, version, digest, description, metadata, size, file_count,
                   created_at, rid, source_vid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (aid, version, digest, description, meta_json, size, len(files), now, rid, source_vid))
        vid = int(cur.lastrowid or 0)
        c.executemany("INSERT INTO artifact_files (vid, path, digest, size, ref, etag) VALUES (?, ?, ?, ?, ?, ?)",
                      [(vid, e.path, e.digest, e.size, e.ref, e.etag) for e in files.values()])
        c.execute("UPDATE artifacts SET next_version = ? WHERE aid = ?", (version + 1, aid))
        return vid

    # ------------------------------------------------------------------ aliases
    def _set_alias(self, c: sqlite3.Connection, aid: int, alias: str, vid: int | None, who: Who, now: float) -> None:
        old = c.execute("SELECT vid FROM artifact_aliases WHERE aid = ? AND alias = ?", (aid, alias)).fetchone()
        old_vid = None if old is None else int(old[0])
        if old_vid == vid:
            return
        if vid is None:
            c.execute("DELETE FROM artifact_aliases WHERE aid = ? AND alias = ?", (aid, alias))
        else:
            c.execute("INSERT INTO artifact_aliases (aid, alias, vid) VALUES (?, ?, ?) "
                      "ON CONFLICT (aid, alias) DO UPDATE SET vid = excluded.vid", (aid, alias, vid))
        c.execute("INSERT INTO artifact_alias_events (aid, alias, vid, old_vid, ts, user, host, rid) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (aid, alias, vid, old_vid, now, *who))

    def _move_latest(self, c: sqlite3.Connection, aid: int, who: Who, now: float) -> None:
        row = c.execute("SELECT vid FROM artifact_versions WHERE aid = ? ORDER BY version DESC LIMIT 1",
                        (aid,)).fetchone()
        self._set_alias(c, aid, "latest", None if row is None else int(row[0]), who, now)

    @checked
    def set_aliases(self, vid: int, add: Sequence[str] = (), remove: Sequence[str] = (),
                    who: Who = (None, None, None)) -> VersionRecord:
        """Point ``add`` aliases at version ``vid`` (moving them) and drop ``remove`` from it."""
        add = [check_alias(a) for a in add if a != "latest"]
        remove = [a for a in remove if a != "latest"]
        now = time.time()

        def do(c: sqlite3.Connection) -> None:
            aid = self._aid_of(c, vid)
            for a in add:
                self._set_alias(c, aid, a, vid, who, now)
            for a in remove:
                row = c.execute("SELECT vid FROM artifact_aliases WHERE aid = ? AND alias = ?", (aid, a)).fetchone()
                if row is not None and int(row[0]) == vid:
                    self._set_alias(c, aid, a, None, who, now)

        self._tx(do)
        return self.version_by_vid(vid)

    @staticmethod
    def _aid_of(c: sqlite3.Connection, vid: int) -> int:
        row = c.execute("SELECT aid FROM artifact_versions WHERE vid = ?", (vid,)).fetchone()
        if row is None:
            raise ArtifactNotFound(f"tracker: artifact version {vid} no longer exists")
        return int(row[0])

    @checked
    def update_version(self, vid: int, *, metadata: dict[str, Any] | None = None,
                       description: str | None = None) -> None:
        """Replace a version's metadata and/or description (its files never change)."""
        def do(c: sqlite3.Connection) -> None:
            self._aid_of(c, vid)
            if metadata is not None:
                c.execute("UPDATE artifact_versions SET metadata = ? WHERE vid = ?",
                          (json.dumps(metadata, sort_keys=True, default=str), vid))
            if description is not None:
                c.execute("UPDATE artifact_versions SET description = ? WHERE vid = ?", (description, vid))

        self._tx(do)

    @checked
    def record_use(self, rid: int, vid: int, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._tx(lambda c: c.execute(
            "INSERT OR IGNORE INTO artifact_usage (rid, vid, kind, ts) VALUES (?, ?, 'used', ?)", (rid, vid, now)))

    # ------------------------------------------------------------------ retention
    @checked
    def delete_version(self, vid: int, *, delete_aliases: bool = False, who: Who = (None, None, None)) -> None:
        """Delete a version's record (its objects go at the next :meth:`gc`). A version holding
        an alias other than ``latest`` is refused unless ``delete_aliases``."""
        now = time.time()

        def do(c: sqlite3.Connection) -> None:
            self._delete(c, vid, delete_aliases, who, now)

        self._tx(do)

    def _delete(self, c: sqlite3.Connection, vid: int, delete_aliases: bool, who: Who, now: float) -> None:
        aid = self._aid_of(c, vid)
        held = [a for (a,) in c.execute("SELECT alias FROM artifact_aliases WHERE vid = ? AND alias != 'latest' "
                                        "ORDER BY alias", (vid,))]
        if held and not delete_aliases:
            raise ArtifactError(f"tracker: this version holds the alias(es) {', '.join(held)}; move them first "
                                "or delete with delete_aliases=True (--force)")
        for a in held:
            self._set_alias(c, aid, a, None, who, now)
        c.execute("DELETE FROM artifact_aliases WHERE vid = ?", (vid,))
        for table in ("artifact_files", "artifact_usage", "artifact_versions"):
            c.execute(f"DELETE FROM {table} WHERE vid = ?", (vid,))
        self._move_latest(c, aid, who, now)

    @checked
    def prune(self, project: str, name: str, *, keep_last: int, keep_aliased: bool,
              who: Who = (None, None, None)) -> list[int]:
        """Delete all but the newest ``keep_last`` versions (and, with ``keep_aliased``, any
        version holding an alias besides ``latest``). Returns the version numbers deleted."""
        if keep_last < 0:
            raise ArtifactError("tracker: --keep-last must be 0 or more")
        now = time.time()

        def do(c: sqlite3.Connection) -> list[int]:
            aid, _ = self._aid(c, project, name)
            rows = c.execute("SELECT vid, version FROM artifact_versions WHERE aid = ? ORDER BY version DESC",
                             (aid,)).fetchall()
            gone = []
            for vid, version in rows[keep_last:]:
                aliased = c.execute("SELECT 1 FROM artifact_aliases WHERE vid = ? AND alias != 'latest'",
                                    (vid,)).fetchone()
                if aliased and keep_aliased:
                    continue
                self._delete(c, int(vid), True, who, now)
                gone.append(int(version))
            return gone

        return list(self._tx(do))

    @checked
    def gc(self, grace: float = 3600.0) -> tuple[int, int]:
        """Delete objects no version references and untouched for ``grace`` seconds, and
        snapshots of dead processes; returns ``(objects deleted, bytes freed)``. Runs under the
        write lock so a concurrent ``log_version`` is either fully before or fully after it."""
        def do(c: sqlite3.Connection) -> tuple[int, int]:
            referenced: set[str] = set()
            for sql in REFERENCES:
                referenced.update(d for (d,) in c.execute(sql))
            from .media import referenced_digests  # media rows share objects/ (issue 11)

            referenced |= referenced_digests(c)
            return self.objects.sweep(referenced, grace)

        return tuple(self._tx(do))
