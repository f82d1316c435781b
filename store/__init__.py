"""tracker.store: the only code that speaks SQL.

One SQLite file (``<dir>/tracker.db``) holds every project's runs. Writers use WAL,
``synchronous=NORMAL``, a busy timeout and ``BEGIN IMMEDIATE`` for every write transaction
(RELIABILITY.md §0.1). Readers run in autocommit mode and never keep a read transaction open
between calls (one held reader grew the WAL 38×, §B1).
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import sqlite3
import threading
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain, repeat
from pathlib import Path
from typing import Any

from .fs import (
    DB_NAME,
    StoreDirError,
    ensure_private_dir,
    filesystem_type,
    is_network_fs,
    precreate_private_file,
    resolve_dir,
)
from .models import FLAG_NAN, FLAG_NEG_ZERO, RUN_STATES, MetricStats, RunRecord, SeriesData, decode_value
from .schema import BLOCK, BLOCK_MERGE, SCHEMA_VERSION, SUMMARY_MERGE, migrate

__all__ = [
    "DB_NAME",
    "FLAG_NAN",
    "FLAG_NEG_ZERO",
    "HEARTBEAT_TIMEOUT",
    "RUN_STATES",
    "SCHEMA_VERSION",
    "MetricStats",
    "RunNotFound",
    "RunRecord",
    "SeriesData",
    "Store",
    "StoreDirError",
    "StoreError",
    "StoreMissing",
    "StoreVersionError",
    "decode_value",
    "process_start_marker",
    "resolve_dir",
]

#: A running run whose heartbeat is older than this (seconds) reads as ``crashed``.
HEARTBEAT_TIMEOUT = float(os.environ.get("TRACKER_HEARTBEAT_TIMEOUT", "60"))
#: How long SQLite itself waits for a lock before the caller's retry loop takes over (which
#: warns): short enough that a store locked by another process is reported within seconds.
BUSY_TIMEOUT_MS = 2_000
_HOST = socket.gethostname()

_ADJ = (
    "amber", "bold", "brisk", "calm", "clever", "cosmic", "crisp", "dapper", "eager", "fancy",
    "gentle", "golden", "hazy", "icy", "jolly", "keen", "lucky", "lunar", "misty", "noble",
    "olive", "proud", "quiet", "rapid", "rosy", "rustic", "silent", "solar", "swift", "tidy",
    "upbeat", "vivid", "warm", "wild", "young", "zesty",
)
_NOUN = (
    "aurora", "badger", "brook", "cedar", "comet", "crane", "delta", "dune", "ember", "falcon",
    "fern", "field", "forest", "glade", "harbor", "heron", "island", "lake", "lynx", "maple",
    "meadow", "moon", "nebula", "otter", "panda", "pine", "planet", "river", "sky", "sparrow",
    "star", "storm", "thunder", "valley", "wave", "wind",
)
_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o/1/l: typable over the phone


class StoreError(RuntimeError):
    """A store problem with a message meant for people."""


class StoreVersionError(StoreError):
    """The store was written by a newer tracker; it is refused and left untouched."""


class StoreMissing(StoreError):
    """No store exists at the given directory (readers never create one)."""


class RunNotFound(StoreError, KeyError):
    """No run matches the given id or prefix (or the prefix is ambiguous)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def new_run_id() -> str:
    """Eight characters from an unambiguous alphabet (32^8 ≈ 10^12 ids)."""
    return "".join(random.choice(_ID_ALPHABET) for _ in range(8))


def process_start_marker(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), to tell a live process from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        # Field 22 (starttime) counted after the parenthesised command name, which may hold spaces.
        return data[data.rindex(b")") + 2 :].split()[19].decode()
    except (OSError, ValueError, IndexError):
        return None


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return data[data.rindex(b")") + 2 : data.rindex(b")") + 3] == b"Z"
    except (OSError, ValueError):
        return False


def _pid_alive(pid: int, marker: str | None) -> bool:
    if _is_zombie(pid):  # exited, not yet reaped by its parent: gone as far as a run is concerned
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's live process
    except OSError:
        return True
    if marker is not None:
        now = process_start_marker(pid)
        if now is not None and now != marker:
            return False  # pid reused by another process
        if now is None and os.path.isdir("/proc"):
            return False
    return True


def effective_state(state: str, host: str | None, pid: int | None, pid_start: str | None,
                    heartbeat_at: float | None, now: float | None = None) -> str:
    """The state a reader should show: a ``running`` run whose process is gone is ``crashed``.

    On the same host a dead pid is seen at once; elsewhere a heartbeat older than
    ``HEARTBEAT_TIMEOUT`` seconds means the process is gone.
    """
    if state != "running":
        return state
    if host == _HOST and pid:
        if not _pid_alive(pid, pid_start):
            return "crashed"
        return "running"
    now = time.time() if now is None else now
    if heartbeat_at is not None and now - heartbeat_at > HEARTBEAT_TIMEOUT:
        return "crashed"
    return state


def _immutable_ok(dir: Path, path: Path) -> bool:
    try:
        st = os.statvfs(dir)
    except OSError:
        return False
    read_only_mount = bool(st.f_flag & getattr(os, "ST_RDONLY", 1))
    wal = path.with_name(path.name + "-wal")
    return read_only_mount and not (wal.exists() and wal.stat().st_size > 0)


def _is_busy(e: sqlite3.OperationalError) -> bool:
    msg = str(e).lower()
    return "locked" in msg or "busy" in msg


class Store:
    """A tracker store directory and its SQLite database.

    Args:
        dir: the store directory (``dir`` > ``$TRACKER_DIR`` > ``~/.tracker``).
        create: create the directory and database if missing (writers). Readers pass False
            and get :class:`StoreMissing` when there is nothing to read.
        allow_network_fs: permit a store on NFS/CIFS/Lustre/sshfs…; it then uses a rollback
            journal with ``synchronous=FULL`` (safe for one host at a time, slower). Defaults to
            ``$TRACKER_ALLOW_NETWORK_FS``.
    """

    def __init__(self, dir: str | os.PathLike[str] | None = None, *, create: bool = True,
                 allow_network_fs: bool | None = None) -> None:
        self.dir = resolve_dir(dir)
        self.path = self.dir / DB_NAME
        self.readonly = False
        if allow_network_fs is None:
            allow_network_fs = os.environ.get("TRACKER_ALLOW_NETWORK_FS", "") not in ("", "0")
        if not create and not self.path.exists():
            raise StoreMissing(f"tracker: no store at {self.path} (set --store DIR or TRACKER_DIR)")
        self.fstype = filesystem_type(self.dir)  # works before the directory exists
        self.network_fs = is_network_fs(self.fstype)
        if self.network_fs and not allow_network_fs:
            raise StoreDirError(
                f"tracker: the store directory {self.dir} is on a network filesystem ({self.fstype}). "
                "SQLite's write-ahead log is not safe there and could corrupt the store. Put the store "
                "on a local disk: tracker.init(dir='/local/disk/tracker') or export "
                "TRACKER_DIR=/local/disk/tracker (e.g. /tmp/$USER/tracker or /scratch/...). To accept a "
                "slower rollback-journal mode for a store used from ONE host at a time, set "
                "TRACKER_ALLOW_NETWORK_FS=1."
            )
        if create:
            ensure_private_dir(self.dir)
            try:
                precreate_private_file(self.path)
            except OSError as e:
                raise StoreDirError(
                    f"tracker: cannot create {self.path}: {e.strerror or e}. Choose another location with "
                    "tracker.init(dir=...) or TRACKER_DIR."
                ) from e
        self._conn: sqlite3.Connection | None = None
        # One connection may be shared by the writer thread and init() in the main thread:
        # write transactions must not interleave on it.
        self._wlock = threading.RLock()
        self._kid_cache: dict[str, int] = {}
        self.new_alerts: list[tuple[int, dict[str, Any]]] = []  # automatic alerts of the last append
        self._key_tuples: dict[tuple[str, ...], tuple[int, ...]] = {}
        self._open(create)

    # ------------------------------------------------------------------ connection
    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if readonly:
            uri = f"file:{self.path}?mode=ro"
            if _immutable_ok(self.dir, self.path):
                # A read-only mount holding a cleanly closed store (no -wal): SQLite could not
                # create the -shm it needs, and nothing can write there, so immutable is safe.
                # Never for a live store: content still in a -wal would read as corrupt (§B4).
                uri += "&immutable=1"
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return conn

    def _open(self, create: bool) -> None:
        writable = os.access(self.dir, os.W_OK) and (not self.path.exists() or os.access(self.path, os.W_OK))
        try:
            conn = self._connect(readonly=not writable)
            version = self._retry(lambda: conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as e:
            raise StoreError(f"tracker: cannot open {self.path}: {e}") from e
        self.readonly = not writable
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreVersionError(
                f"tracker: the store {self.path} has schema version {version}, written by a newer "
                f"tracker; this tracker reads up to version {SCHEMA_VERSION}. Upgrade tracker-tui "
                "(pip install -U tracker-tui). The store was left untouched."
            )
        if not writable:
            if version < SCHEMA_VERSION:
                conn.close()
                raise StoreError(
                    f"tracker: the store {self.path} (schema {version}) needs an upgrade to version "
                    f"{SCHEMA_VERSION}, but it is read-only here. Open it once with write access."
                )
            self._conn = conn
            return
        try:
            if self.network_fs:
                self._retry(lambda: conn.execute("PRAGMA journal_mode = DELETE"))
                conn.execute("PRAGMA synchronous = FULL")
            else:
                mode = self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
                if str(mode).lower() != "wal":
                    raise StoreError(f"tracker: could not switch {self.path} to WAL mode (got {mode})")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA cache_size = -16000")  # 16 MB: index pages of a long run stay hot
            if version < SCHEMA_VERSION:
                if version > 0:
                    self._backup_before_migration(conn, version)
                self._write(conn, lambda c: self._migrate_locked(c))
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StoreError(f"tracker: cannot use {self.path}: {e}") from e
        self._conn = conn

    def _backup_before_migration(self, conn: sqlite3.Connection, version: int) -> None:
        dest_path = self.path.with_name(f"{DB_NAME}.v{version}.bak")
        if dest_path.exists():
            return
        precreate_private_file(dest_path)
        dest = sqlite3.connect(dest_path)
        try:
            conn.backup(dest)
        finally:
            dest.close()

    @staticmethod
    def _migrate_locked(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreVersionError(f"tracker: store schema {version} is newer than {SCHEMA_VERSION}")
        if version < SCHEMA_VERSION:
            migrate(conn, version)

    @staticmethod
    def _retry(fn: Any, tries: int = 50) -> Any:
        """Run ``fn``; on SQLITE_BUSY/locked beyond the busy timeout, back off with jitter."""
        for attempt in range(tries):
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or attempt == tries - 1:
                    raise
                time.sleep(random.uniform(0.001, 0.02) * min(attempt + 1, 10))
        raise AssertionError("unreachable")

    def _write(self, conn: sqlite3.Connection, fn: Any, retry: bool = True) -> Any:
        """Run ``fn(conn)`` inside ``BEGIN IMMEDIATE`` … ``COMMIT`` (retrying if locked)."""

        def once() -> Any:
            with self._wlock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(conn)
                    conn.execute("COMMIT")
                    return out
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise

        return self._retry(once) if retry else once()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("tracker: the store is closed")
        return self._conn

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def abandon(self) -> None:
        """Forget the connection without closing it: for a forked child, where closing an
        inherited SQLite connection could release or checkpoint files the parent still uses."""
        _ABANDONED.append(self._conn)
        self._conn = None

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def data_version(self) -> int:
        """Changes whenever another connection commits (cheap change detection)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # ------------------------------------------------------------------ writes
    def create_run(self, *, id: str | None, project: str, name: str | None, group: str | None,
                   job_type: str | None, tags: Sequence[str], notes: str | None, config_json: str,
                   host: str | None, pid: int | None, pid_start: str | None, user: str | None,
                   argv: Sequence[str], python: str | None, cwd: str | None, meta: dict[str, Any],
                   now: float | None = None) -> tuple[int, str, str]:
        """Insert a new ``running`` run; returns ``(rid, id, name)``.

        The default name (``adjective-noun-N``) numbers runs within the project.
        """
        now = time.time() if now is None else now

        def do(c: sqlite3.Connection) -> tuple[int, str, str]:
            run_id = id
            while run_id is None:
                cand = new_run_id()
                if c.execute("SELECT 1 FROM runs WHERE id = ?", (cand,)).fetchone() is None:
                    run_id = cand
            run_name = name
            if not run_name:
                n = c.execute("SELECT count(*) FROM runs WHERE project = ?", (project,)).fetchone()[0]
                run_name = f"{random.choice(_ADJ)}-{random.choice(_NOUN)}-{n + 1}"
            cur = c.execute(
                """INSERT INTO runs (id, project, name, group_name, job_type, tags, notes, state,
                       created_at, updated_at, heartbeat_at, host, pid, pid_start, user, argv, python,
                       cwd, config, meta, rev)
                   VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                       (SELECT coalesce(max(rev), 0) + 1 FROM runs))""",
                (run_id, project, run_name, group, job_type, json.dumps(list(tags)), notes, now, now,
                 now, host, pid, pid_start, user, json.dumps(list(argv)), python, cwd, config_json,
                 json.dumps(meta)),
            )
            return int(cur.lastrowid or 0), run_id, run_name

        try:
            return self._write(self.conn, do)
        except sqlite3.IntegrityError as e:
            raise StoreError(f"tracker: a run with id {id!r} already exists (use resume=)") from e

    def resume_run(self, run_id: str, *, host: str | None, pid: int | None, pid_start: str | None,
                   now: float | None = None) -> tuple[int, RunRecord, int | None]:
        """Mark an existing run ``running`` again for this process.

        Returns ``(rid, record before resuming, max step logged so far)``.
        """
        now = time.time() if now is None else now

        def do(c: sqlite3.Connection) -> tuple[int, RunRecord, int | None]:
            row = c.execute(f"SELECT {_RUN_COLS} FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(f"tracker: no run with id {run_id!r} to resume")
            rec = _record(row)
            max_step = c.execute("SELECT max(step) FROM metrics WHERE rid = ?", (rec.rid,)).fetchone()[0]
            meta = dict(rec.meta)
            meta["resumes"] = int(meta.get("resumes", 0)) + 1
            c.execute(
                """UPDATE runs SET state = 'running', finished_at = NULL, exit_code = NULL,
                       heartbeat_at = ?, updated_at = ?, host = ?, pid = ?, pid_start = ?, meta = ?,
                       rev = (SELECT max(rev) + 1 FROM runs) WHERE rid = ?""",
                (now, now, host, pid, pid_start, json.dumps(meta), rec.rid),
            )
            return rec.rid, rec, max_step

        return self._write(self.conn, do)

    def find_run_id(self, run_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None

    def _kids(self, c: sqlite3.Connection, keys: tuple[str, ...], pending: dict[str, int]) -> tuple[int, ...]:
        out = []
        for k in keys:
            kid = self._kid_cache.get(k) or pending.get(k)
            if kid is None:
                c.execute("INSERT OR IGNORE INTO keys (name) VALUES (?)", (k,))
                kid = c.execute("SELECT kid FROM keys WHERE name = ?", (k,)).fetchone()[0]
                pending[k] = kid
            out.append(kid)
        return tuple(out)

    def append(self, entries: Sequence[tuple[Any, ...]], updates: Sequence[tuple[int, dict[str, Any]]] = (),
               events: Sequence[tuple[int | None, float, str, str]] = (), now: float | None = None) -> int:
        """Write a batch in one ``BEGIN IMMEDIATE`` transaction; returns points written.

        Args:
            entries: ``(rid, step, ts, keys, values)`` tuples, keys a tuple of metric names and
                values a tuple of ``int``/``float`` (NaN and -0.0 allowed), in logging order.
            updates: ``(rid, fields)`` run-row updates applied after the points, in order. Fields
                are column names (``state``, ``exit_code``, ``finished_at``, ``config``,
                ``summary``, ``meta``, ``git_*``, ``tags``, ``notes``...) with ready values.
            events: ``(rid, ts, kind, data_json)`` rows.
        """
        now = time.time() if now is None else now
        pending: dict[str, int] = {}
        new_tuples: dict[tuple[str, ...], tuple[int, ...]] = {}
        last_steps: dict[int, int] = {}
        nonfinite_first: dict[tuple[int, int], tuple[str, int, float, float]] = {}
        alert_events: list[tuple[int | None, float, str, str]] = []

        def do(c: sqlite3.Connection) -> int:
            rows: list[tuple[Any, ...]] = []
            key_tuples = self._key_tuples
            # Entries grouped by (run, key set) so the summary is computed column-wise in C.
            groups: dict[tuple[int, tuple[int, ...]], list[Any]] = {}
            special: set[tuple[int, tuple[int, ...]]] = set()
            # Consecutive entries of one run with the same key set (the usual training loop) are
            # turned into rows with a few C-level zip/chain calls per segment instead of Python
            # work per entry; NaN/±Inf/-0.0 take the per-entry path.
            n = len(entries)
            i = 0
            while i < n:
                rid, _, _, keys, _ = entries[i]
                j = i + 1
                while j < n and entries[j][3] is keys and entries[j][0] == rid:
                    j += 1
                kids = key_tuples.get(keys)
                if kids is None:
                    kids = new_tuples.get(keys)
                    if kids is None:
                        kids = new_tuples[keys] = self._kids(c, keys, pending)
                g = (rid, kids)
                grp = groups.get(g)
                if grp is None:
                    grp = groups[g] = []
                seg = entries[i:j]
                i = j
                _, steps, tss, _, valss = zip(*seg)
                flat = list(chain.from_iterable(valss))
                total = sum(flat)
                k = len(kids)
                if not (total - total) and not (0 in flat and _has_neg_zero(flat)):
                    base = len(rows)
                    rows.extend(zip(repeat(rid), kids * len(seg), chain.from_iterable(zip(*([steps] * k))),
                                    chain.from_iterable(zip(*([tss] * k))), flat, repeat(None)))
                    grp.extend(zip(range(base + k, base + k * len(seg) + 1, k), steps, tss, valss))
                    last_steps[rid] = steps[-1]
                    continue
                for _, step, ts, _, vals in seg:  # per entry: flag NaN / -0.0 for SQLite
                    fv = _flagged(vals)
                    rows.extend(zip(repeat(rid), kids, repeat(step), repeat(ts), *zip(*fv)))
                    sv = sum(vals)
                    if sv - sv:  # a NaN or ±Inf: this group's columns need filtering
                        special.add(g)
                        for key, kid, v in zip(keys, kids, vals):
                            if v - v != 0 and (rid, kid) not in nonfinite_first:
                                nonfinite_first[(rid, kid)] = (key, step, ts, v)
                    grp.append((len(rows), step, ts, vals))
                    last_steps[rid] = step
            if rows:
                c.executemany(
                    "INSERT INTO metrics (rid, kid, step, ts, value, flag) VALUES (?, ?, ?, ?, ?, ?)", rows
                )
                counts: dict[tuple[int, int], int] = {}
                had_nonfinite: set[tuple[int, int]] = set()
                for rid in last_steps:
                    for kid, cnt, nf in c.execute(
                        "SELECT kid, count, nonfinite FROM metric_summary WHERE rid = ?", (rid,)
                    ):
                        counts[(rid, kid)] = cnt
                        if nf:
                            had_nonfinite.add((rid, kid))
                for (rid, kid), (key, step, ts, v) in nonfinite_first.items():
                    if (rid, kid) in had_nonfinite:
                        continue  # only the first NaN/Inf of each metric raises an alert
                    word = "NaN" if v != v else ("+Inf" if v > 0 else "-Inf")
                    alert = {"title": f"{key} is {word}", "level": "WARN", "step": step, "auto": "nonfinite",
                             "text": f"first non-finite value of {key!r}, at step {step}"}
                    alert_events.append((rid, ts, "alert", json.dumps(alert)))
                summary_rows, block_rows = _batch_summary(groups, special, counts)
                c.executemany(SUMMARY_MERGE, summary_rows)
                c.executemany(BLOCK_MERGE, block_rows)
            touched = set(last_steps)
            for rid, step in last_steps.items():
                c.execute(
                    """UPDATE runs SET last_step = ?, heartbeat_at = ?, updated_at = ?,
                       rev = (SELECT max(rev) + 1 FROM runs) WHERE rid = ?""",
                    (step, now, now, rid),
                )
            for rid, fields in updates:
                cols = [k for k in fields if k in _UPDATABLE]
                sets = [f"{col} = ?" for col in cols]
                params = [fields[col] for col in cols]
                if "meta_merge" in fields:  # merge keys into the meta JSON object
                    sets.append("meta = json_patch(coalesce(meta, '{}'), ?)")
                    params.append(json.dumps(fields["meta_merge"]))
                if not sets:
                    continue
                c.execute(
                    f"UPDATE runs SET {', '.join(sets)}, updated_at = ?, "
                    "rev = (SELECT max(rev) + 1 FROM runs) WHERE rid = ?",
                    params + [now, rid],
                )
                touched.add(rid)
            all_events = list(events) + alert_events
            if all_events:
                c.executemany("INSERT INTO events (rid, ts, kind, data) VALUES (?, ?, ?, ?)", all_events)
                # An alert is a visible change of its run: readers re-read runs by revision.
                for rid in {e[0] for e in all_events if e[2] == "alert" and e[0] is not None} - set(last_steps):
                    c.execute("UPDATE runs SET rev = (SELECT max(rev) + 1 FROM runs) WHERE rid = ?", (rid,))
            return len(rows)

        n = self._write(self.conn, do, retry=False)
        # Only now are the new key ids durable: a rolled-back batch must not poison the cache.
        for k, kid in pending.items():
            self._kid_cache[k] = kid
        self._key_tuples.update(new_tuples)
        self.new_alerts = [(rid, json.loads(data)) for rid, _, _, data in alert_events]
        return n

    def heartbeat(self, rids: Iterable[int], now: float | None = None) -> None:
        """Record that the runs' process is alive (no ``rev`` bump: not a visible change)."""
        now = time.time() if now is None else now
        rids = tuple(rids)

        def do(c: sqlite3.Connection) -> None:
            c.executemany("UPDATE runs SET heartbeat_at = ? WHERE rid = ?", [(now, r) for r in rids])

        self._write(self.conn, do, retry=False)

    # ------------------------------------------------------------------ reads
    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A short read transaction for multi-statement consistent reads; always ended."""
        c = self.conn
        c.execute("BEGIN")
        try:
            yield c
        finally:
            c.execute("COMMIT")

    def projects(self) -> list[tuple[str, int]]:
        """``(project, number of runs)``, most recently active first."""
        return [
            (p, n)
            for p, n, _ in self.conn.execute(
                "SELECT project, count(*), max(created_at) AS m FROM runs GROUP BY project ORDER BY m DESC"
            )
        ]

    def runs(self, project: str | None = None, *, with_metrics: bool = True) -> list[RunRecord]:
        """Runs (of one project, or all), newest first, with their metric summaries."""
        with self.snapshot() as c:
            if project is None:
                rows = c.execute(f"SELECT {_RUN_COLS} FROM runs ORDER BY created_at DESC, rid DESC").fetchall()
            else:
                rows = c.execute(
                    f"SELECT {_RUN_COLS} FROM runs WHERE project = ? ORDER BY created_at DESC, rid DESC",
                    (project,),
                ).fetchall()
            recs = [_record(r) for r in rows]
            if with_metrics and recs:
                self._attach_metrics(c, recs, project)
        return recs

    def run(self, id_or_prefix: str) -> RunRecord:
        """The run with this id, or the only run whose id or name starts with it."""
        with self.snapshot() as c:
            row = c.execute(f"SELECT {_RUN_COLS} FROM runs WHERE id = ?", (id_or_prefix,)).fetchone()
            if row is None:
                pat = _like_prefix(id_or_prefix)
                rows = c.execute(
                    f"SELECT {_RUN_COLS} FROM runs WHERE id LIKE ? ESCAPE '\\' "
                    "OR name LIKE ? ESCAPE '\\' LIMIT 3",
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
            rec = _record(row)
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
        for rid, name, fsum, fn in c.execute(
            "SELECT b.rid, k.name, sum(b.fsum), sum(b.fn) FROM metric_blocks b JOIN keys k ON k.kid = b.kid "
            "WHERE k.name LIKE 'system/gpu%/util_percent' GROUP BY b.rid, b.kid"
        ):
            rec = by_rid.get(rid)
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
        elif project is not None:
            cur = c.execute(sql + " WHERE s.rid IN (SELECT rid FROM runs WHERE project = ?)", (project,))
        else:
            cur = c.execute(sql)
        for rid, name, last, flag, last_step, mn, mx, count in cur:
            rec = by_rid.get(rid)
            if rec is not None:
                rec.metrics[name] = MetricStats(decode_value(last, flag), last_step, mn, mx, count)
        self._attach_gpu_means(c, recs)

    def metric_keys(self, rid: int) -> list[str]:
        return [
            k
            for (k,) in self.conn.execute(
                "SELECT k.name FROM metric_summary s JOIN keys k ON k.kid = s.kid WHERE s.rid = ? ORDER BY k.name",
                (rid,),
            )
        ]

    def points(self, rid: int, keys: Sequence[str] | None = None) -> list[tuple[int, float, str, Any]]:
        """Every stored point of a run as ``(step, ts, key, value)``, by step then logging order."""
        sql = (
            "SELECT m.step, m.ts, k.name, m.value, m.flag FROM metrics m JOIN keys k ON k.kid = m.kid "
            "WHERE m.rid = ?"
        )
        params: list[Any] = [rid]
        if keys is not None:
            keys = list(keys)
            if not keys:
                return []
            sql += f" AND k.name IN ({', '.join('?' * len(keys))})"
            params += keys
        sql += " ORDER BY m.step, m.id"
        return [(s, t, k, v if f is None else decode_value(v, f)) for s, t, k, v, f in self.conn.execute(sql, params)]

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
        q = ("SELECT value FROM metrics WHERE rid = ? AND kid = ? AND step >= ? AND flag IS NULL "
             "ORDER BY step LIMIT 1")
        targets = sorted({lo + (hi - lo) * i // max(1, n - 1) for i in range(n)})
        for t in targets:
            r = c.execute(q, (rid, kid, t)).fetchone()
            if r is not None and r[0] is not None and r[0] - r[0] == 0:
                out.append(r[0])
        return out

    def max_rev(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(rev), 0) FROM runs").fetchone()[0])

    def max_point_id(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM metrics").fetchone()[0])

    def runs_changed(self, after_rev: int, project: str | None = None) -> list[RunRecord]:
        """Runs created or changed since ``after_rev`` (incremental refresh), with summaries."""
        with self.snapshot() as c:
            if project is None:
                rows = c.execute(f"SELECT {_RUN_COLS} FROM runs WHERE rev > ? ORDER BY rev", (after_rev,)).fetchall()
            else:
                rows = c.execute(
                    f"SELECT {_RUN_COLS} FROM runs WHERE rev > ? AND project = ? ORDER BY rev", (after_rev, project)
                ).fetchall()
            recs = [_record(r) for r in rows]
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

    def runs_by_id(self, ids: Sequence[str]) -> list[RunRecord]:
        """These runs as stored now (effective states re-evaluated), with summaries."""
        ids = list(ids)
        if not ids:
            return []
        with self.snapshot() as c:
            rows = c.execute(f"SELECT {_RUN_COLS} FROM runs WHERE id IN ({', '.join('?' * len(ids))})", ids).fetchall()
            recs = [_record(r) for r in rows]
            self._attach_alerts(c, recs)
            q = ("SELECT k.name, s.last, s.last_flag, s.last_step, s.min, s.max, s.count "
                 "FROM metric_summary s JOIN keys k ON k.kid = s.kid WHERE s.rid = ?")
            for rec in recs:
                for name, last, flag, last_step, mn, mx, count in c.execute(q, (rec.rid,)):
                    rec.metrics[name] = MetricStats(decode_value(last, flag), last_step, mn, mx, count)
            self._attach_gpu_means(c, recs)
        return recs

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

    def alerts(self, rid: int) -> list[dict[str, Any]]:
        """The run's alerts, oldest first: ``title``, ``text``, ``level``, ``time``, ``step``."""
        out = []
        for i, r, ts, kind, data in self.events(rid):
            if kind == "alert":
                out.append({"title": data.get("title", ""), "text": data.get("text", ""),
                            "level": data.get("level", "INFO"), "time": ts, "step": data.get("step"),
                            "auto": data.get("auto")})
        out.sort(key=lambda a: a["time"])
        return out

    def code(self, rid: int) -> dict[str, Any]:
        """The run's code state beyond commit/branch/dirty: ``remote``, ``diff``, ``root``."""
        row = self.conn.execute(
            "SELECT data FROM events WHERE rid = ? AND kind = 'code' ORDER BY id DESC LIMIT 1", (rid,)
        ).fetchone()
        return _loads(row[0], {}) if row else {}

    def console(self, rid: int, after_id: int = 0) -> list[tuple[int, float, str, str]]:
        """Captured output lines ``(event id, time, stream, text)``, oldest first."""
        out: list[tuple[int, float, str, str]] = []
        for i, data in self.conn.execute(
            "SELECT id, data FROM events WHERE rid = ? AND kind = 'console' AND id > ? ORDER BY id", (rid, after_id)
        ):
            for t, stream, text in _loads(data, {}).get("lines", []):
                out.append((i, t, stream, text))
        return out

    def events(self, rid: int | None = None, after_id: int = 0) -> list[tuple[int, int | None, float, str, dict[str, Any]]]:
        """Events ``(id, rid, ts, kind, data)`` after ``after_id``."""
        if rid is None:
            cur = self.conn.execute("SELECT id, rid, ts, kind, data FROM events WHERE id > ? ORDER BY id", (after_id,))
        else:
            cur = self.conn.execute(
                "SELECT id, rid, ts, kind, data FROM events WHERE rid = ? AND id > ? ORDER BY id", (rid, after_id)
            )
        return [(i, r, t, k, json.loads(d)) for i, r, t, k, d in cur]

    def count_points(self, rid: int | None = None) -> int:
        if rid is None:
            return int(self.conn.execute("SELECT count(*) FROM metrics").fetchone()[0])
        return int(self.conn.execute("SELECT count(*) FROM metrics WHERE rid = ?", (rid,)).fetchone()[0])


_ABANDONED: list[Any] = []

_UPDATABLE = frozenset(
    {
        "state", "exit_code", "finished_at", "config", "summary", "meta", "git_commit", "git_branch",
        "git_dirty", "tags", "notes", "name", "group_name", "job_type", "heartbeat_at",
    }
)

_RUN_COLS = (
    "rid, id, project, name, group_name, job_type, tags, notes, state, created_at, updated_at, "
    "finished_at, heartbeat_at, exit_code, host, pid, pid_start, user, argv, python, cwd, git_commit, "
    "git_branch, git_dirty, config, summary, meta, last_step, rev"
)


def _loads(s: str | None, default: Any) -> Any:
    if not s:
        return default
    try:
        return json.loads(s)
    except ValueError:
        return default


def _record(r: Sequence[Any]) -> RunRecord:
    state = r[8]
    return RunRecord(
        rid=r[0], id=r[1], project=r[2], name=r[3], group=r[4], job_type=r[5], tags=_loads(r[6], []),
        notes=r[7], state=effective_state(state, r[14], r[15], r[16], r[12]), stored_state=state,
        created_at=r[9], updated_at=r[10], finished_at=r[11], heartbeat_at=r[12], exit_code=r[13],
        host=r[14], pid=r[15], user=r[17], argv=_loads(r[18], []), python=r[19], cwd=r[20],
        git_commit=r[21], git_branch=r[22], git_dirty=None if r[23] is None else bool(r[23]),
        config=_loads(r[24], {}), summary_overrides=_loads(r[25], {}), meta=_loads(r[26], {}),
        last_step=r[27], rev=r[28],
    )


def _like_prefix(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_NEG_ZERO = array("d", [-0.0]).tobytes()


def _has_neg_zero(flat: list[Any]) -> bool:
    """Is there a -0.0 among these numbers? (C-level: a byte search in their float64 image.)"""
    try:
        buf = array("d", flat).tobytes()
    except (OverflowError, TypeError):
        return True  # let the per-entry path decide
    at = buf.find(_NEG_ZERO)
    while at != -1:
        if at % 8 == 0:
            return True
        at = buf.find(_NEG_ZERO, at + 1)
    return False


def _flagged(vals: Sequence[Any]) -> list[tuple[Any, int | None]]:
    out: list[tuple[Any, int | None]] = []
    for v in vals:
        if v != v:
            out.append((None, FLAG_NAN))
        elif v == 0 and type(v) is float and str(v)[0] == "-":
            out.append((0.0, FLAG_NEG_ZERO))
        else:
            out.append((v, None))
    return out


def _batch_summary(groups: dict[tuple[int, tuple[int, ...]], list[Any]],
                   special: set[tuple[int, tuple[int, ...]]],
                   counts: dict[tuple[int, int], int]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Per (run, metric) of one batch: the summary row (last value by logging order, min, max,
    count, non-finite count) and the ``metric_blocks`` rows its points fall into.

    Works column-wise (C-level ``zip``/``min``/``max``/``sum`` over slices), not point by point.
    NaN is left out of min/max (as SQLite's min() leaves out NULL); ±Inf is kept there, but
    blocks (what charts draw) keep finite values only.
    """
    out: dict[tuple[int, int], list[Any]] = {}
    blocks: list[tuple[Any, ...]] = []
    for (rid, kids), es in groups.items():
        cols = list(zip(*(e[3] for e in es)))
        steps = [e[1] for e in es]
        tss = [e[2] for e in es]
        order, step, ts, last_vals = es[-1]
        is_special = (rid, kids) in special
        for j, kid in enumerate(kids):
            col = cols[j]
            n = len(col)
            fin = [v for v in col if v - v == 0] if is_special else col
            nonfinite = n - len(fin)
            stat = [v for v in col if v == v] if is_special else col
            mn = min(stat) if stat else None
            mx = max(stat) if stat else None
            v = last_vals[j]
            flag = FLAG_NAN if v != v else (FLAG_NEG_ZERO if v == 0 and type(v) is float and str(v)[0] == "-" else None)
            # Blocks of BLOCK consecutive points of this series, continuing from its stored count.
            start = counts.get((rid, kid), 0)
            a = 0
            while a < n:
                blk, off = divmod(start + a, BLOCK)
                b = min(n, a + BLOCK - off)
                vals = col[a:b]
                fv = [x for x in vals if x - x == 0] if is_special else vals
                st = steps[a:b]
                tt = tss[a:b]
                blocks.append((rid, kid, blk, b - a, min(st), max(st), min(tt), max(tt),
                               min(fv) if fv else None, max(fv) if fv else None,
                               sum(fv) if fv else None, len(fv)))
                a = b
            counts[(rid, kid)] = start + n
            cur = out.get((rid, kid))
            if cur is None:
                out[(rid, kid)] = [order, None if flag == FLAG_NAN else v, flag, step, ts, mn, mx, n, nonfinite]
            else:
                if order > cur[0]:
                    cur[0:5] = [order, None if flag == FLAG_NAN else v, flag, step, ts]
                if mn is not None:
                    cur[5] = mn if cur[5] is None else min(cur[5], mn)
                    cur[6] = mx if cur[6] is None else max(cur[6], mx)
                cur[7] += n
                cur[8] += nonfinite
    return [(rid, kid, *vals[1:]) for (rid, kid), vals in out.items()], blocks
