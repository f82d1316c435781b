"""Reads of artifacts, versions, manifests and lineage (the SQL; :mod:`.artifacts` writes)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .artifacts_models import (
    ArtifactError,
    ArtifactNotFound,
    ArtifactSummary,
    FileEntry,
    VersionRecord,
    check_name,
    version_number,
)
from .damage import checked

_VCOLS = """v.vid, v.aid, a.project, a.name, a.type, v.version, v.digest, v.description, v.metadata,
    v.size, v.file_count, v.created_at, r.id,
    (SELECT sa.project || '/' || sa.name || ':v' || sv.version FROM artifact_versions sv
     JOIN artifacts sa ON sa.aid = sv.aid WHERE sv.vid = v.source_vid)"""
_VFROM = "artifact_versions v JOIN artifacts a ON a.aid = v.aid LEFT JOIN runs r ON r.rid = v.rid"


def _version(conn: sqlite3.Connection, row: tuple[Any, ...]) -> VersionRecord:
    rec = VersionRecord(int(row[0]), int(row[1]), row[2], row[3], row[4], int(row[5]), row[6], row[7],
                        _json(row[8]), int(row[9]), int(row[10]), float(row[11]), row[12], row[13])
    rec.aliases = [a for (a,) in conn.execute(
        "SELECT alias FROM artifact_aliases WHERE vid = ? ORDER BY alias = 'latest' DESC, alias", (rec.vid,))]
    return rec


def _json(s: Any) -> dict[str, Any]:
    try:
        v = json.loads(s) if s else {}
    except (TypeError, ValueError):
        return {}
    return v if isinstance(v, dict) else {"value": v}


class ArtifactReads:
    """Artifact queries over a :class:`tracker.store.Store` connection (``store.conn``)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._checked = False

    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = self.store.conn
        if not self._checked:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version < 4:  # a read-only store of an older schema (a writable one was migrated)
                raise ArtifactNotFound(f"tracker: the store {self.store.path} predates artifacts (schema "
                                       f"{version}, read-only here): it holds none")
            self._checked = True
        return conn

    @checked
    def projects_with(self, name: str) -> list[str]:
        return [p for (p,) in self.conn.execute("SELECT project FROM artifacts WHERE name = ? ORDER BY project",
                                                (name,))]

    def _aid(self, conn: sqlite3.Connection, project: str | None, name: str) -> tuple[int, str]:
        check_name(name)
        if project is None:
            rows = conn.execute("SELECT aid, project FROM artifacts WHERE name = ?", (name,)).fetchall()
            if len(rows) > 1:
                raise ArtifactError(
                    f"tracker: artifact {name!r} exists in several projects "
                    f"({', '.join(sorted(str(r[1]) for r in rows))}); write it as 'project/{name}:alias'")
        else:
            rows = conn.execute("SELECT aid, project FROM artifacts WHERE project = ? AND name = ?",
                                (project, name)).fetchall()
        if not rows:
            where = f" in project {project!r}" if project is not None else ""
            raise ArtifactNotFound(f"tracker: no artifact named {name!r}{where}")
        return int(rows[0][0]), str(rows[0][1])

    def resolve_in(self, conn: sqlite3.Connection, project: str | None, name: str, selector: str) -> VersionRecord:
        aid, proj = self._aid(conn, project, name)
        n = version_number(selector)
        if n is not None:
            row = conn.execute(f"SELECT {_VCOLS} FROM {_VFROM} WHERE v.aid = ? AND v.version = ?", (aid, n)).fetchone()
        else:
            row = conn.execute(
                f"SELECT {_VCOLS} FROM {_VFROM} JOIN artifact_aliases al ON al.vid = v.vid "
                "WHERE al.aid = ? AND al.alias = ?", (aid, selector)).fetchone()
        if row is None:
            raise ArtifactNotFound(f"tracker: artifact {proj}/{name} has no version or alias {selector!r:.80}")
        return _version(conn, row)

    @checked
    def resolve(self, project: str | None, name: str, selector: str = "latest") -> VersionRecord:
        """The version ``selector`` (an alias or ``vN``) of ``[project/]name``."""
        return self.resolve_in(self.conn, project, name, selector)

    @checked
    def version_by_vid(self, vid: int) -> VersionRecord:
        row = self.conn.execute(f"SELECT {_VCOLS} FROM {_VFROM} WHERE v.vid = ?", (vid,)).fetchone()
        if row is None:
            raise ArtifactNotFound(f"tracker: artifact version {vid} no longer exists")
        return _version(self.conn, row)

    @checked
    def files(self, vid: int) -> list[FileEntry]:
        """A version's manifest, by path."""
        return [FileEntry(*r) for r in self.conn.execute(
            "SELECT path, digest, size, ref, etag FROM artifact_files WHERE vid = ? ORDER BY path", (vid,))]

    @checked
    def versions(self, project: str, name: str) -> list[VersionRecord]:
        """Every version of an artifact, newest first."""
        aid, _ = self._aid(self.conn, project, name)
        rows = self.conn.execute(f"SELECT {_VCOLS} FROM {_VFROM} WHERE v.aid = ? ORDER BY v.version DESC",
                                 (aid,)).fetchall()
        return [_version(self.conn, r) for r in rows]

    @checked
    def artifacts(self, project: str | None = None, type: str | None = None,
                  name: str | None = None) -> list[ArtifactSummary]:
        """Artifacts (newest activity first), optionally of one project / type / name."""
        where, args = [], []
        for col, val in (("a.project", project), ("a.type", type), ("a.name", name)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = f"""
            SELECT a.aid, a.project, a.name, a.type, a.description, count(v.vid), max(v.version),
                   coalesce(sum(v.size), 0), coalesce(max(v.created_at), a.created_at),
                   (SELECT r.id FROM artifact_versions lv LEFT JOIN runs r ON r.rid = lv.rid
                    WHERE lv.aid = a.aid ORDER BY lv.version DESC LIMIT 1)
            FROM artifacts a LEFT JOIN artifact_versions v ON v.aid = a.aid
            {"WHERE " + " AND ".join(where) if where else ""}
            GROUP BY a.aid ORDER BY 9 DESC, a.project, a.name"""
        out = []
        for r in self.conn.execute(sql, args).fetchall():
            aliases = [(str(al), int(ver)) for al, ver in self.conn.execute(
                "SELECT al.alias, v.version FROM artifact_aliases al JOIN artifact_versions v ON v.vid = al.vid "
                "WHERE al.aid = ? ORDER BY al.alias = 'latest' DESC, al.alias", (r[0],))]
            out.append(ArtifactSummary(int(r[0]), r[1], r[2], r[3], r[4], int(r[5]),
                                       None if r[6] is None else int(r[6]), int(r[7]), aliases, r[9], float(r[8])))
        return out

    @checked
    def types(self, project: str | None = None) -> list[str]:
        q = "SELECT DISTINCT type FROM artifacts" + (" WHERE project = ?" if project is not None else "")
        return sorted(t for (t,) in self.conn.execute(q, () if project is None else (project,)))

    @checked
    def run_versions(self, run_id: str, kind: str) -> list[VersionRecord]:
        """Versions a run ``logged`` or ``used``, in the order it did so."""
        rows = self.conn.execute(
            f"SELECT {_VCOLS} FROM artifact_usage u JOIN runs ur ON ur.rid = u.rid "
            "JOIN artifact_versions v ON v.vid = u.vid JOIN artifacts a ON a.aid = v.aid "
            "LEFT JOIN runs r ON r.rid = v.rid WHERE ur.id = ? AND u.kind = ? ORDER BY u.ts, v.vid",
            (run_id, kind)).fetchall()
        return [_version(self.conn, r) for r in rows]

    @checked
    def version_runs(self, vid: int, kind: str) -> list[str]:
        """Ids of the runs that ``logged`` or ``used`` a version, oldest first."""
        return [str(i) for (i,) in self.conn.execute(
            "SELECT r.id FROM artifact_usage u JOIN runs r ON r.rid = u.rid WHERE u.vid = ? AND u.kind = ? "
            "ORDER BY u.ts", (vid, kind))]

    @checked
    def alias_events(self, project: str, name: str) -> list[dict[str, Any]]:
        """The history of an artifact's aliases (who moved what where, when), oldest first."""
        aid, _ = self._aid(self.conn, project, name)
        rows = self.conn.execute(
            """SELECT e.alias, nv.version, ov.version, e.ts, e.user, e.host, r.id
               FROM artifact_alias_events e LEFT JOIN artifact_versions nv ON nv.vid = e.vid
               LEFT JOIN artifact_versions ov ON ov.vid = e.old_vid LEFT JOIN runs r ON r.rid = e.rid
               WHERE e.aid = ? ORDER BY e.id""", (aid,)).fetchall()
        return [{"alias": a, "version": nv, "previous": ov, "ts": ts, "user": u, "host": h, "run": rid}
                for a, nv, ov, ts, u, h, rid in rows]
