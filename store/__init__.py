"""tracker.store: the only code that speaks SQL.

One SQLite file (``<dir>/tracker.db``) holds every project's runs. Writers use WAL,
``synchronous=NORMAL``, a busy timeout and ``BEGIN IMMEDIATE`` for every write transaction
(RELIABILITY.md §0.1). Readers run in autocommit mode and never keep a read transaction open
between calls (one held reader grew the WAL 38×, §B1).

:class:`Store` is the front: opening and migrating the database, run creation, the batch write
(:mod:`.append`), reads (:mod:`.reads`). Run ids live in :mod:`.ids`, crashed-run detection in
:mod:`.liveness`, the store's errors and its busy policy in :mod:`.errors`, read-only SQL views
for other tools in :mod:`.schema` (see the README's "Query the store with SQL").
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .append import Batch, KeyIds
from .damage import StoreDamaged, checked, damaged, is_damage
from .errors import (
    BUSY_TIMEOUT_MS,
    RunNotFound,
    StoreBusy,
    StoreError,
    StoreMissing,
    StoreValueError,
    StoreVersionError,
    is_busy,
    retry_busy,
)
from .fs import (
    DB_NAME,
    StoreDirError,
    default_dir,
    ensure_private_dir,
    filesystem_type,
    is_network_fs,
    make_private_if_ours,
    precreate_private_file,
    read_only_message,
    resolve_dir,
)
from .ids import _ADJ, _NOUN, default_run_name, new_run_id
from .liveness import HEARTBEAT_TIMEOUT, effective_state, process_start_marker
from .models import FLAG_NAN, FLAG_NEG_ZERO, RUN_STATES, MetricStats, RunRecord, SeriesData, decode_value
from .reads import RUN_COLS, StoreReads, record
from .schema import READABLE_VERSION, SCHEMA_VERSION, migrate, needs_backup

__all__ = [
    "BUSY_TIMEOUT_MS",
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
    "StoreBusy",
    "StoreDamaged",
    "StoreDirError",
    "StoreError",
    "StoreMissing",
    "StoreValueError",
    "StoreVersionError",
    "_ADJ",
    "_NOUN",
    "decode_value",
    "effective_state",
    "is_busy",
    "new_run_id",
    "process_start_marker",
    "resolve_dir",
]


def _immutable_ok(dir: Path, path: Path) -> bool:
    try:
        st = os.statvfs(dir)
    except OSError:
        return False
    read_only_mount = bool(st.f_flag & getattr(os, "ST_RDONLY", 1))
    wal = path.with_name(path.name + "-wal")
    return read_only_mount and not (wal.exists() and wal.stat().st_size > 0)


class Store(StoreReads):
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
            home = default_dir()
            ours = self.dir == home or home in self.dir.parents
            ensure_private_dir(self.dir, tighten=ours)
            if ours and self.dir != home:
                make_private_if_ours(home)  # e.g. ~/.tracker holding only the demo store
            try:
                precreate_private_file(self.path)
            except OSError as e:
                raise StoreDirError(
                    f"tracker: cannot create {self.path}: {e.strerror or e}. Choose another location with "
                    "tracker.init(dir=...) or TRACKER_DIR."
                ) from e
        self._conn: sqlite3.Connection | None = None
        self._damage: str | None = None  # what SQLite said when a read met a damaged page
        # One connection may be shared by the writer thread and init() in the main thread:
        # write transactions must not interleave on it.
        self._wlock = threading.RLock()
        self._keys = KeyIds()
        self.new_alerts: list[tuple[int, dict[str, Any]]] = []  # automatic alerts of the last append
        self._release: weakref.finalize | None = None
        try:
            self._open(create)
        finally:
            _hold_header(self.path, +1)  # counted while this Store is open (or until it is collected) ...
            if self._conn is None:
                _hold_header(self.path, -1)  # ... and not at all when it could not open
            else:
                self._release = weakref.finalize(self, _hold_header, self.path, -1)

    # ------------------------------------------------------------------ connection
    def _uri(self, immutable: bool = False) -> str:
        uri = "file:" + urllib.parse.quote(os.fspath(self.path)) + "?mode=ro"
        return uri + "&immutable=1" if immutable else uri

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if readonly:
            # A read-only mount holding a cleanly closed store (no -wal): SQLite could not
            # create the -shm it needs, and nothing can write there, so immutable is safe.
            # Never for a live store: content still in a -wal would read as corrupt (§B4).
            conn = sqlite3.connect(self._uri(immutable=_immutable_ok(self.dir, self.path)), uri=True,
                                   timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return conn

    def _probe(self) -> int:
        """The schema version, found before anything opens the file for writing: a store we
        refuse (newer, damaged) is never modified, not even by the checkpoint a closing
        read-write connection runs on pending WAL content. Without WAL content the file's header
        says it (``user_version`` is bytes 60-63) and no file is created; with it, a read-only
        connection reads the newest page 1 from the WAL."""
        try:
            head = _read_header(self.path)
        except OSError as e:
            raise StoreError(f"tracker: cannot open {self.path}: {e.strerror or e}") from e
        if not head:
            return 0  # created empty just now, or by precreate_private_file earlier
        try:
            pending = os.stat(os.path.realpath(self.path) + "-wal").st_size > 0  # SQLite puts it by the link's target
        except OSError:
            pending = False
        if not pending and len(head) == 100 and head.startswith(b"SQLite format 3\x00"):
            return int.from_bytes(head[60:64], "big", signed=True)
        # WAL content, or a header that is not (yet) a database's: ask SQLite, under its locks.
        conn = None
        try:
            conn = self._connect(readonly=True)
            return int(retry_busy(lambda: conn.execute("PRAGMA user_version").fetchone()[0]))
        except sqlite3.DatabaseError as e:
            if is_damage(e):
                raise damaged(self.path, str(e)) from e
            raise StoreError(f"tracker: cannot open {self.path}: {e}") from e
        finally:
            if conn is not None:
                conn.close()

    def _open(self, create: bool) -> None:
        writable = os.access(self.dir, os.W_OK) and (not self.path.exists() or os.access(self.path, os.W_OK))
        version = self._probe()
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"tracker: the store {self.path} has schema version {version}, written by a newer "
                f"tracker; this tracker reads up to version {SCHEMA_VERSION}. Upgrade tracker-tui "
                "(pip install -U tracker-tui). The store was left untouched."
            )
        if not writable:
            if create:
                raise StoreDirError(read_only_message(self.dir, self.path))
            if version < READABLE_VERSION:
                raise StoreError(
                    f"tracker: the store {self.path} (schema {version}) needs an upgrade to version "
                    f"{SCHEMA_VERSION}, but it is read-only here. Open it once with write access."
                )
        try:
            conn = self._connect(readonly=not writable)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"tracker: cannot open {self.path}: {e}") from e
        self.readonly = not writable
        if not writable:
            self._conn = conn
            return
        try:
            if self.network_fs:
                retry_busy(lambda: conn.execute("PRAGMA journal_mode = DELETE"))
                conn.execute("PRAGMA synchronous = FULL")
            else:
                mode = retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
                if str(mode).lower() != "wal":
                    raise StoreError(f"tracker: could not switch {self.path} to WAL mode (got {mode})")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA cache_size = -16000")  # 16 MB: index pages of a long run stay hot
            if version < SCHEMA_VERSION:
                if needs_backup(version):
                    self._backup_before_migration(conn, version)
                self._write(conn, lambda c: self._migrate_locked(c))
        except sqlite3.DatabaseError as e:
            conn.close()
            if is_damage(e):
                raise damaged(self.path, str(e)) from e
            raise StoreError(f"tracker: cannot use {self.path}: {e}") from e
        self._conn = conn

    def found_damage(self, detail: str) -> StoreDamaged:
        """Record that a read or write met a damaged page and stop writing to the file: the
        read-write connection is replaced by a read-only one (opened first, so closing the other
        is not the last close and checkpoints nothing). Returns the error to raise."""
        with self._wlock:
            if self._damage is None:
                self._damage = detail
                old = self._conn
                if old is not None and not self.readonly:
                    try:
                        ro = self._connect(readonly=True)
                        ro.execute("PRAGMA user_version").fetchone()  # now it holds the file open
                        self._conn, self.readonly = ro, True
                        old.close()
                    except sqlite3.Error:
                        pass  # keep the old connection; writes are refused below all the same
        return damaged(self.path, self._damage)

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

    def _write(self, conn: sqlite3.Connection, fn: Any, retry: bool = True) -> Any:
        """Run ``fn(conn)`` inside ``BEGIN IMMEDIATE`` … ``COMMIT`` (retrying if locked)."""

        def once() -> Any:
            with self._wlock:
                if self._damage is not None:
                    raise damaged(self.path, self._damage)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(conn)
                    conn.execute("COMMIT")
                    return out
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise

        return retry_busy(once) if retry else once()

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
        if self._release is not None:
            self._release()  # once: a finalizer runs at most once

    def abandon(self) -> None:
        """Forget the connection without closing it: for a forked child, where closing an
        inherited SQLite connection could release or checkpoint files the parent still uses."""
        _ABANDONED.append(self._conn)
        self._conn = None
        if self._release is not None:
            self._release.detach()  # the inherited descriptor stays open with the connection

    @checked
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    @checked
    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    @checked
    def data_version(self) -> int:
        """Changes whenever another connection commits (cheap change detection)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # ------------------------------------------------------------------ writes
    @checked
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
                run_name = default_run_name(n + 1)
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

    @checked
    def resume_run(self, run_id: str, *, host: str | None, pid: int | None, pid_start: str | None,
                   now: float | None = None) -> tuple[int, RunRecord, int | None]:
        """Mark an existing run ``running`` again for this process.

        Returns ``(rid, record before resuming, max step logged so far)``.
        """
        now = time.time() if now is None else now

        def do(c: sqlite3.Connection) -> tuple[int, RunRecord, int | None]:
            row = c.execute(f"SELECT {RUN_COLS} FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(f"tracker: no run with id {run_id!r} to resume")
            rec = record(row)
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

    @checked
    def find_run_id(self, run_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None

    @checked
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

        Raises :class:`StoreBusy` at once when the lock is not had within the busy timeout (the
        caller keeps the batch and retries), :class:`StoreValueError` for a value SQLite cannot
        bind, :class:`StoreError` for other store failures (``kind`` full, readonly, io).
        """
        now = time.time() if now is None else now
        batches: list[Batch] = []

        def do(c: sqlite3.Connection) -> int:
            self._keys.begin()
            batch = Batch(c, self._keys, now)
            batches.append(batch)
            return batch.write(entries, updates, events)

        n = self._write(self.conn, do, retry=False)
        self._keys.commit()  # only now are the new key ids durable
        self.new_alerts = [(rid, json.loads(data)) for rid, _, _, data in batches[-1].alert_events]
        return int(n)

    @checked
    def heartbeat(self, rids: Iterable[int], now: float | None = None) -> None:
        """Record that the runs' process is alive (no ``rev`` bump: not a visible change)."""
        now = time.time() if now is None else now
        rids = tuple(rids)

        def do(c: sqlite3.Connection) -> None:
            c.executemany("UPDATE runs SET heartbeat_at = ? WHERE rid = ?", [(now, r) for r in rids])

        self._write(self.conn, do, retry=False)


#: Files whose header :meth:`Store._probe` read, kept open while a Store of this process uses the
#: file: closing any descriptor of a database file drops every POSIX lock this process holds on
#: it, SQLite's included, so a second Store opened in a process (an agent's monitor, init() inside
#: a sweep agent, Api() in a training script) would let another process take the file as unused,
#: checkpoint and reset the WAL under this process's connections, whose later commits were then
#: lost ("How To Corrupt An SQLite Database File" §2.2). One descriptor per file and a count of
#: the Stores holding it; closed with the last of them (their connections are closed by then), so
#: a process that opens many stores one after another does not run out of descriptors.
_HEADER_FDS: dict[str, list[int]] = {}  # realpath -> [descriptor, Stores holding it]
_HEADER_LOCK = threading.Lock()


def _read_header(path: Path) -> bytes:
    key = os.path.realpath(path)
    with _HEADER_LOCK:
        entry = _HEADER_FDS.get(key)
        if entry is not None:
            try:
                st, cur = os.fstat(entry[0]), os.stat(key)
                if (st.st_dev, st.st_ino) != (cur.st_dev, cur.st_ino):
                    _STALE_FDS.append(entry[0])  # replaced (a recovery): never closed under its Stores
                    entry = None
            except OSError:
                entry = None
        if entry is None:
            entry = _HEADER_FDS[key] = [os.open(key, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)), 0]
        return os.pread(entry[0], 100, 0)


def _hold_header(path: Path, delta: int) -> None:
    """A Store of this process starts (+1) or stops (-1) using ``path``; with no user left the
    descriptor is closed (also after a Store failed to open: nothing of ours holds the file then)."""
    key = os.path.realpath(path)
    with _HEADER_LOCK:
        entry = _HEADER_FDS.get(key)
        if entry is None:
            return
        entry[1] += delta
        if entry[1] <= 0:
            del _HEADER_FDS[key]
            os.close(entry[0])


#: Descriptors of files replaced under a Store of this process: kept open (see above).
_STALE_FDS: list[int] = []


#: Connections forgotten by :meth:`Store.abandon` in a forked child: kept referenced so they are
#: never finalized (closed) by the garbage collector either.
_ABANDONED: list[Any] = []
