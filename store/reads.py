"""The store's reads: plain records out of SQL, never a read transaction held between calls.

Readers run in autocommit mode; a read of several statements that must agree takes a short
:meth:`StoreReads.snapshot` (one held reader grew the WAL 38x, RELIABILITY.md §B1). Metric
summaries come from ``metric_summary`` and charts from ``metric_blocks``, both kept by the
writer: no read scans a run's points unless it asks for them.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .damage import checked
from .errors import RunNotFound
from .liveness import effective_state
from .models import MetricStats, RunRecord, SeriesData, decode_value
from .schema_curate import has_curate_columns

RUN_COLS = (
    "rid, id, project, name, group_name, job_type, tags, notes, state, created_at, updated_at, "
    "finished_at, heartbeat_at, exit_code, host, pid, pid_start, user, argv, python, cwd, git_commit, "
    "git_branch, git_dirty, config, summary, meta, last_step, rev"
)


def loads(s: str | None, default: Any) -> Any:
    if not s:
        return default
    try:
        return json.loads(s)
    except ValueError:
        return default


def record(r: Sequence[Any]) -> RunRecord:
    state = r[8]
    return RunRecord(
        rid=r[0], id=r[1], project=r[2], name=r[3], group=r[4], job_type=r[5], tags=loads(r[6], []),
        notes=r[7], state=effective_state(state, r[14], r[15], r[16], r[12]), stored_state=state,
        created_at=r[9], updated_at=r[10], finished_at=r[11], heartbeat_at=r[12], exit_code=r[13],
        host=r[14], pid=r[15], user=r[17], argv=loads(r[18], []), python=r[19], cwd=r[20],
        git_commit=r[21], git_branch=r[22], git_dirty=None if r[23] is None else bool(r[23]),
        config=loads(r[24], {}), summary_overrides=loads(r[25], {}), meta=loads(r[26], {}),
        last_step=r[27], rev=r[28],
        deleted_at=r[29] if len(r) > 30 else None, archived=bool(r[30]) if len(r) > 30 else False,
    )


def _like_prefix(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class StoreReads:
    """Read methods of :class:`tracker.store.Store` (mixed in; ``conn`` is the store's)."""

    @property
    def conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A short read transaction for multi-statement consistent reads; always ended."""
        c = self.conn
        c.execute("BEGIN")
        try:
            yield c
        finally:
            c.execute("COMMIT")

    def _cur(self, c: sqlite3.Connection) -> tuple[str, str]:
        """The run columns to select and the clause that leaves trashed runs out (a store read
        as it is at an older schema has no trash: every run is live there)."""
        if getattr(self, "_has_curate", False) or has_curate_columns(c):
            self._has_curate = True
            return RUN_COLS + ", deleted_at, archived", "deleted_at IS NULL"
        return RUN_COLS, "1"

    @staticmethod
    def _unarchived(live: str, archived: bool) -> str:
        return live if archived or live == "1" else f"{live} AND archived = 0"

    @checked
    def projects(self) -> list[tuple[str, int]]:
        """``(project, number of runs)``, most recently active first."""
        _, live = self._cur(self.conn)
        return [
            (p, n)
            for p, n, _ in self.conn.execute(
                f"SELECT project, count(*), max(created_at) AS m FROM runs WHERE {live} GROUP BY project ORDER BY m DESC"
            )
        ]

    @checked
    def runs(self, project: str | None = None, *, with_metrics: bool = True, limit: int | None = None,
             archived: bool = False) -> list[RunRecord]:
        """Runs (of one project, or all), newest first, with their metric summaries; only the
        ``limit`` newest when given (the runs table's first screenful). Runs in the trash are
        left out, and archived runs unless ``archived``."""
        lim = "" if limit is None else f" LIMIT {int(limit)}"
        with self.snapshot() as c:
            cols, live = self._cur(c)
            live = self._unarchived(live, archived)
            if project is None:
                rows = c.execute(f"SELECT {cols} FROM runs WHERE {live} ORDER BY created_at DESC, rid DESC{lim}"
                                 ).fetchall()
            else:
                rows = c.execute(
                    f"SELECT {cols} FROM runs WHERE project = ? AND {live} ORDER BY created_at DESC, rid DESC{lim}",
                    (project,),
                ).fetchall()
            recs = [record(r) for r in rows]
            if with_metrics and recs:
                self._attach_metrics(c, recs, project if limit is None else None)
        return recs

    @checked
    def run_rids(self, project: str | None = None, *, archived: bool = False) -> list[int]:
        """The runs' row ids (of one project, or all), newest first: what :meth:`runs` would
        return, without reading a single config (``tracker.Api().runs()`` pages over these)."""
        _, live = self._cur(self.conn)
        live = self._unarchived(live, archived)
        if project is None:
            cur = self.conn.execute(f"SELECT rid FROM runs WHERE {live} ORDER BY created_at DESC, rid DESC")
        else:
            cur = self.conn.execute(f"SELECT rid FROM runs WHERE project = ? AND {live} "
                                    "ORDER BY created_at DESC, rid DESC",
                                    (project,))
        return [r for (r,) in cur]

    @checked
    def runs_by_rid(self, rids: Sequence[int], *, with_metrics: bool = True) -> list[RunRecord]:
        """These runs as stored now, in the order asked (runs deleted since are left out)."""
        rids = list(rids)
        if not rids:
            return []
        recs: dict[int, RunRecord] = {}
        with self.snapshot() as c:
            cols, live = self._cur(c)
            for lo in range(0, len(rids), 500):  # SQLite's bound-parameter limit
                chunk = rids[lo:lo + 500]
                marks = ", ".join("?" * len(chunk))
                for row in c.execute(f"SELECT {cols} FROM runs WHERE rid IN ({marks}) AND {live}", chunk):
                    recs[row[0]] = record(row)
            if with_metrics and recs:
                self._attach_alerts(c, list(recs.values()))
                q = ("SELECT s.rid, k.name, s.last, s.last_flag, s.last_step, s.min, s.max, s.count "
                     "FROM metric_summary s JOIN keys k ON k.kid = s.kid WHERE s.rid = ?")
                for rid, rec in recs.items():
                    for _, name, last, flag, last_step, mn, mx, count in c.execute(q, (rid,)):
                        rec.metrics[name] = MetricStats(decode_value(last, flag), last_step, mn, mx, count)
                self._attach_gpu_means(c, list(recs.values()))
        return [recs[r] for r in rids if r in recs]

    @checked
    def run(self, id_or_prefix: str, *, deleted: bool = False) -> RunRecord:
        """The run with this id, or the only run whose id or name starts with it; a run in the
        trash only when ``deleted`` (``tracker-tui restore``)."""
        with self.snapshot() as c:
            cols, live = self._cur(c)
            live = "1" if deleted else live
            row = c.execute(f"SELECT {cols} FROM runs WHERE id = ? AND {live}", (id_or_prefix,)).fetchone()
            if row is None:
                pat = _like_prefix(id_or_prefix)
                rows = c.execute(
                    f"SELECT {cols} FROM runs WHERE (id LIKE ? ESCAPE '\\' "
                    f"OR name LIKE ? ESCAPE '\\') AND {live} LIMIT 3",
                    (pat, pat),
                ).fetchall()
                exact = [r for r in rows if r[3] == id_or_prefix]
                rows = exact or rows
                if not rows:
                    raise RunNotFound(f"tracker: no run matches {id_or_prefix!r}")
                if len(rows) > 1:
                    found = ", ".join(f"{r[1]} ({r[3]})" for r in rows[:3])
                    raise RunNotFound(f"tracker: {id_or_prefix!r} matches several runs: {found}; give more of the id")
                row = rows[0]
            rec = record(row)
            self._attach_metrics(c, [rec], None)
        return rec

    @staticmethod
    def _attach_alerts(c: sqlite3.Connection, recs: list[RunRecord]) -> None:
        by_rid = {r.rid: r for r in recs}
        if not by_rid:
            return
        if len(by_rid) == 1:
            cur = c.execute("SELECT rid, count(*) FROM events WHERE rid = ? AND kind = 'alert' GROUP BY rid",
                            (recs[0].rid,))
        else:
            cur = c.execute("SELECT rid, count(*) FROM events WHERE kind = 'alert' GROUP BY rid")
        for rid, n in cur:
            if rid in by_rid:
                by_rid[rid].alerts = int(n)

    @staticmethod
    def _attach_gpu_means(c: sqlite3.Connection, recs: list[RunRecord]) -> None:
        """Mean GPU utilisation per run, from the writer's blocks (no scan of the points)."""
        by_rid = {r.rid: r for r in recs if any(k.startswith("system/gpu") for k in r.metrics)}
        if not by_rid:
            return
        names = dict(c.execute("SELECT kid, name FROM keys WHERE name LIKE 'system/gpu%/util_percent'"))
        if not names:
            return
        sql = f"SELECT rid, kid, sum(fsum), sum(fn) FROM metric_blocks WHERE kid IN ({', '.join('?' * len(names))})"
        args: list[Any] = list(names)
        if len(by_rid) <= 500:  # a page or a few live runs: their blocks only, not the whole table
            sql += f" AND rid IN ({', '.join('?' * len(by_rid))})"
            args += list(by_rid)
        for rid, kid, fsum, fn in c.execute(sql + " GROUP BY rid, kid", args):
            rec = by_rid.get(rid)
            name = names[kid]
            if rec is not None and fn and name in rec.metrics:
                rec.metrics[name].mean = fsum / fn

    def _attach_metrics(self, c: sqlite3.Connection, recs: list[RunRecord], project: str | None) -> None:
        self._attach_alerts(c, recs)
        by_rid = {r.rid: r for r in recs}
        sql = (
            "SELECT s.rid, k.name, s.last, s.last_flag, s.last_step, s.min, s.max, s.count "
            "FROM metric_summary s JOIN keys k ON k.kid = s.kid"
        )
        if len(recs) == 1:
            cur = c.execute(sql + " WHERE s.rid = ?", (recs[0].rid,))
        elif project is None and len(recs) <= 500:  # a window of runs: only theirs
            cur = c.execute(sql + f" WHERE s.rid IN ({', '.join('?' * len(recs))})", [r.rid for r in recs])
        else:
            # A whole project (or store): key ids joined to names here, so the runs share one
            # str per metric name instead of one per (run, metric) row (memory at 100,000 runs).
            names = dict(c.execute("SELECT kid, name FROM keys"))
            q = "SELECT rid, kid, last, last_flag, last_step, min, max, count FROM metric_summary"
            if project is not None:
                cur = c.execute(q + " WHERE rid IN (SELECT rid FROM runs WHERE project = ?)", (project,))
            else:
                cur = c.execute(q)
            ms = MetricStats
            for rid, kid, last, flag, last_step, mn, mx, count in cur:
                rec = by_rid.get(rid)
                if rec is not None and kid in names:
                    rec.metrics[names[kid]] = ms(last if flag is None else decode_value(last, flag),
                                                 last_step, mn, mx, count)
            self._attach_gpu_means(c, recs)
            return
        for rid, name, last, flag, last_step, mn, mx, count in cur:
            rec = by_rid.get(rid)
            if rec is not None:
                rec.metrics[name] = MetricStats(decode_value(last, flag), last_step, mn, mx, count)
        self._attach_gpu_means(c, recs)

    @checked
    def metric_keys(self, rid: int) -> list[str]:
        return [
            k
            for (k,) in self.conn.execute(
                "SELECT k.name FROM metric_summary s JOIN keys k ON k.kid = s.kid WHERE s.rid = ? ORDER BY k.name",
                (rid,),
            )
        ]

    @checked
    def points(self, rid: int, keys: Sequence[str] | None = None) -> list[tuple[int, float, str, Any]]:
        """Every stored point of a run as ``(step, ts, key, value)``, by step then logging order."""
        sql = (
            "SELECT m.step, m.ts, k.name, m.value, m.flag FROM metrics m JOIN keys k ON k.kid = m.kid "
            "WHERE m.rid = ?"
        )
        params: list[Any] = [rid]
        if keys is not None:
            # By key id, matched on the names as read: a name another tool stored as invalid
            # UTF-8 reads with U+FFFD and would never equal its stored bytes in SQL.
            wanted = set(keys)
            kids = [kid for kid, name in self.conn.execute("SELECT kid, name FROM keys") if name in wanted]
            if not kids:
                return []
            sql += f" AND m.kid IN ({', '.join('?' * len(kids))})"
            params += kids
        sql += " ORDER BY m.step, m.id"
        return [(s, t, k, v if f is None else decode_value(v, f)) for s, t, k, v, f in self.conn.execute(sql, params)]

    @checked
    def series(self, rid: int, key: str, *, step_range: tuple[float, float] | None = None,
               max_raw: int = 20_000) -> SeriesData:
        """A metric of a run for drawing: raw finite points, or block extremes when longer
        than ``max_raw`` points (in ``step_range`` if given)."""
        c = self.conn
        row = c.execute("SELECT kid FROM keys WHERE name = ?", (key,)).fetchone()
        if row is None:
            return SeriesData(key, [], [], [], 0, 0)
        kid = row[0]
        lo, hi = (-(2**63), 2**63 - 1) if step_range is None else (math.floor(step_range[0]), math.ceil(step_range[1]))
        with self.snapshot() as c:
            n_in = c.execute(
                "SELECT coalesce(sum(n), 0), coalesce(sum(n - fn), 0) FROM metric_blocks "
                "WHERE rid = ? AND kid = ? AND max_step >= ? AND min_step <= ?",
                (rid, kid, lo, hi),
            ).fetchone()
            total, nonfinite = int(n_in[0]), int(n_in[1])
            if total <= max_raw:
                steps: list[int] = []
                tss: list[float] = []
                vals: list[float] = []
                # Non-finite values come too (NaN / ±Inf): a chart marks where they are.
                for st, t, v, f in c.execute(
                    "SELECT step, ts, value, flag FROM metrics WHERE rid = ? AND kid = ? AND step BETWEEN ? AND ? "
                    "ORDER BY step, id",
                    (rid, kid, lo, hi),
                ):
                    steps.append(st)
                    tss.append(t)
                    vals.append(v if f is None else decode_value(v, f))
                finite = sum(1 for v in vals if v - v == 0)
                return SeriesData(key, steps, tss, vals, len(vals) - finite, len(vals))
            steps, tss, vals, means = [], [], [], []
            for mn_s, mx_s, mn_t, mx_t, fmin, fmax, fsum, fn in c.execute(
                "SELECT min_step, max_step, min_ts, max_ts, fmin, fmax, fsum, fn FROM metric_blocks "
                "WHERE rid = ? AND kid = ? AND max_step >= ? AND min_step <= ? ORDER BY min_step, blk",
                (rid, kid, lo, hi),
            ):
                if not fn:
                    continue
                mean = fsum / fn
                steps += [mn_s, mx_s]
                tss += [mn_t, mx_t]
                vals += [fmin, fmax]
                means += [mean, mean]
        return SeriesData(key, steps, tss, vals, nonfinite, total, downsampled=True, means=means)

    @checked
    def sample(self, rid: int, key: str, n: int = 12) -> list[float]:
        """About ``n`` finite values of a metric spread evenly over its steps (for sparklines):
        one index seek each, whatever the series length."""
        c = self.conn
        row = c.execute("SELECT kid FROM keys WHERE name = ?", (key,)).fetchone()
        if row is None:
            return []
        kid = row[0]
        lo, hi = c.execute("SELECT min(step), max(step) FROM metrics WHERE rid = ? AND kid = ?", (rid, kid)).fetchone()
        if lo is None:
            return []
        out: list[float] = []
        q = ("SELECT value FROM metrics WHERE rid = ? AND kid = ? AND step >= ? AND (flag IS NULL OR flag = 3) "
             "ORDER BY step LIMIT 1")
        targets = sorted({lo + (hi - lo) * i // max(1, n - 1) for i in range(n)})
        for t in targets:
            r = c.execute(q, (rid, kid, t)).fetchone()
            if r is not None and r[0] is not None and r[0] - r[0] == 0:
                out.append(r[0])
        return out

    @checked
    def max_rev(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(rev), 0) FROM runs").fetchone()[0])

    @checked
    def max_point_id(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM metrics").fetchone()[0])

    @checked
    def runs_changed(self, after_rev: int, project: str | None = None) -> list[RunRecord]:
        """Runs created or changed since ``after_rev`` (incremental refresh), with summaries;
        runs moved to the trash since are in it too (``deleted_at`` set), so a live view drops them."""
        with self.snapshot() as c:
            cols, _ = self._cur(c)
            if project is None:
                rows = c.execute(f"SELECT {cols} FROM runs WHERE rev > ? ORDER BY rev", (after_rev,)).fetchall()
            else:
                rows = c.execute(
                    f"SELECT {cols} FROM runs WHERE rev > ? AND project = ? ORDER BY rev", (after_rev, project)
                ).fetchall()
            recs = [record(r) for r in rows]
            self._attach_alerts(c, recs)
            if recs:
                by_rid = {r.rid: r for r in recs}
                q = ("SELECT s.rid, k.name, s.last, s.last_flag, s.last_step, s.min, s.max, s.count "
                     "FROM metric_summary s JOIN keys k ON k.kid = s.kid WHERE s.rid = ?")
                for rid, rec in by_rid.items():
                    for _, name, last, flag, last_step, mn, mx, count in c.execute(q, (rid,)):
                        rec.metrics[name] = MetricStats(decode_value(last, flag), last_step, mn, mx, count)
                self._attach_gpu_means(c, recs)
        return recs

    @checked
    def runs_by_id(self, ids: Sequence[str]) -> list[RunRecord]:
        """These runs as stored now (effective states re-evaluated), with summaries."""
        ids = list(ids)
        if not ids:
            return []
        with self.snapshot() as c:
            cols, live = self._cur(c)
            marks = ", ".join("?" * len(ids))
            rows = c.execute(f"SELECT {cols} FROM runs WHERE id IN ({marks}) AND {live}", ids).fetchall()
            recs = [record(r) for r in rows]
            self._attach_alerts(c, recs)
            q = ("SELECT k.name, s.last, s.last_flag, s.last_step, s.min, s.max, s.count "
                 "FROM metric_summary s JOIN keys k ON k.kid = s.kid WHERE s.rid = ?")
            for rec in recs:
                for name, last, flag, last_step, mn, mx, count in c.execute(q, (rec.rid,)):
                    rec.metrics[name] = MetricStats(decode_value(last, flag), last_step, mn, mx, count)
            self._attach_gpu_means(c, recs)
        return recs

    @checked
    def points_after(self, after_id: int, rids: Sequence[int] | None = None, limit: int = 50_000
                     ) -> list[tuple[int, int, str, int, float, Any]]:
        """Points with ``id > after_id`` as ``(id, rid, key, step, ts, value)``, oldest first."""
        sql = ("SELECT m.id, m.rid, k.name, m.step, m.ts, m.value, m.flag FROM metrics m "
               "JOIN keys k ON k.kid = m.kid WHERE m.id > ?")
        params: list[Any] = [after_id]
        if rids is not None:
            rids = list(rids)
            if not rids:
                return []
            # "+" keeps SQLite on the id range (new points only) instead of the (rid, ...) index,
            # which would visit every point of a long run: 0.1 ms instead of ~90 ms at 1M points.
            sql += f" AND +m.rid IN ({', '.join('?' * len(rids))})"
            params += rids
        sql += " ORDER BY m.id LIMIT ?"
        params.append(limit)
        return [(i, r, k, s, t, v if f is None else decode_value(v, f))
                for i, r, k, s, t, v, f in self.conn.execute(sql, params)]

    @checked
    def alerts(self, rid: int) -> list[dict[str, Any]]:
        """The run's alerts, oldest first: ``title``, ``text``, ``level``, ``time``, ``step``."""
        out = []
        for _, _, ts, kind, data in self.events(rid):
            if kind == "alert":
                out.append({"title": data.get("title", ""), "text": data.get("text", ""),
                            "level": data.get("level", "INFO"), "time": ts, "step": data.get("step"),
                            "auto": data.get("auto")})
        out.sort(key=lambda a: a["time"])
        return out

    @checked
    def code(self, rid: int) -> dict[str, Any]:
        """The run's code state beyond commit/branch/dirty: ``remote``, ``diff``, ``root``."""
        row = self.conn.execute(
            "SELECT data FROM events WHERE rid = ? AND kind = 'code' ORDER BY id DESC LIMIT 1", (rid,)
        ).fetchone()
        return loads(row[0], {}) if row else {}

    @checked
    def console(self, rid: int, after_id: int = 0) -> list[tuple[int, float, str, str]]:
        """Captured output lines ``(event id, time, stream, text)``, oldest first."""
        out: list[tuple[int, float, str, str]] = []
        for i, data in self.conn.execute(
            "SELECT id, data FROM events WHERE rid = ? AND kind = 'console' AND id > ? ORDER BY id", (rid, after_id)
        ):
            for t, stream, text in loads(data, {}).get("lines", []):
                out.append((i, t, stream, text))
        return out

    @checked
    def events(self, rid: int | None = None, after_id: int = 0) -> list[tuple[int, int | None, float, str, dict[str, Any]]]:
        """Events ``(id, rid, ts, kind, data)`` after ``after_id``."""
        if rid is None:
            cur = self.conn.execute("SELECT id, rid, ts, kind, data FROM events WHERE id > ? ORDER BY id", (after_id,))
        else:
            cur = self.conn.execute(
                "SELECT id, rid, ts, kind, data FROM events WHERE rid = ? AND id > ? ORDER BY id", (rid, after_id)
            )
        return [(i, r, t, k, json.loads(d)) for i, r, t, k, d in cur]

    @checked
    def count_points(self, rid: int | None = None) -> int:
        if rid is None:
            return int(self.conn.execute("SELECT count(*) FROM metrics").fetchone()[0])
        return int(self.conn.execute("SELECT count(*) FROM metrics WHERE rid = ?", (rid,)).fetchone()[0])

