"""Writing imported runs into the store: one stable run per source, exact and idempotent.

A reader (one module per format) turns a source — an MLflow run, a trackio run, a TensorBoard
directory, a wandb offline run — into a stream of :class:`Update` pieces: points, events, run
fields, config/summary changes, and the reader's *cursor* after them (per-key line offsets, a byte
offset, a last row id). :func:`import_source` writes them through the store's batch writer
(:class:`~tracker.store.append.Batch`, so summaries, chart blocks and the first-NaN alerts are
kept exactly as for a logged run), committing every ``chunk`` points in one ``BEGIN IMMEDIATE``
transaction that also stores the cursor in ``runs.meta["origin"]``. A crash between two
transactions leaves whole batches and the cursor that matches them: the next import resumes
there, and re-importing an unchanged source writes nothing.

The run id is derived from (format, absolute source path, source run id), so importing the same
source again finds its run, and two sources that happen to share a run id stay two runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any

from ..append import Batch, KeyIds
from ..errors import StoreError, translating
from ..ids import _ID_ALPHABET
from ..media import PendingMedia, insert_media

#: Run columns an importer may set (``config``/``summary``/``meta`` go through their own fields).
RUN_FIELDS = frozenset(
    {
        "project", "name", "group_name", "job_type", "tags", "notes", "state", "exit_code", "created_at",
        "finished_at", "heartbeat_at", "host", "user", "argv", "python", "cwd", "git_commit", "git_branch",
    }
)
_JSON_FIELDS = frozenset({"tags", "argv"})
#: Points per write transaction: big enough for ~200k points/s, small enough to bound memory.
CHUNK = 50_000
_INT_MAX = 2**63 - 1

Entry = tuple[int, float, tuple[str, ...], tuple[Any, ...]]  # (step, ts, keys, values)


class SourceError(Exception):
    """A source that cannot be read at all (missing, not the format, unreadable header)."""


@dataclass
class Update:
    """One piece of a source, in order. Empty fields mean "nothing new here".

    Attributes:
        entries: ``(step, ts, keys, values)`` points; ``keys`` a tuple of names (reuse the same
            tuple object for repeated key sets: the batch writer's fast path groups by identity).
        events: ``(ts, kind, data)`` rows (``console`` with ``{"lines": [[t, stream, text]]}``,
            ``alert`` with ``title``/``text``/``level``).
        fields: run columns to set (see :data:`RUN_FIELDS`).
        config: replaces the run's config when not None.
        config_set: top-level config keys to set (merged after ``config``).
        summary_set: summary values (``run.summary`` overrides) to set.
        meta: keys merged into ``runs.meta`` (beside ``origin``).
        cursor: the reader's position after this piece (JSON-able), or None to keep the last.
            Points are committed only together with a cursor that covers them: a reader yields
            a cursor only where everything before it has been yielded.
        skipped: why records of this piece were skipped (one entry per record).
        notes: things worth telling the user that are not errors (a torn tail).
        media: ``(step, ts, key, kind, meta)`` file-less media values (histograms), stored as
            ``tracker.Histogram`` stores them (:mod:`tracker.store.media`).
    """

    entries: list[Entry] = field(default_factory=list)
    events: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    config_set: dict[str, Any] = field(default_factory=dict)
    summary_set: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    cursor: Any = None
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    media: list[tuple[int, float, str, str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Source:
    """One run of another tool, found on disk.

    ``read(cursor)`` yields the run's :class:`Update` pieces after ``cursor`` (None: from the
    start); it raises :class:`SourceError` when the source cannot be read at all.
    """

    format: str
    path: str
    source_id: str
    read: Callable[[Any], Iterator[Update]]
    label: str = ""

    @property
    def run_id(self) -> str:
        return stable_run_id(self.format, self.path, self.source_id)


@dataclass
class Result:
    """What importing one source did."""

    source: Source
    run_id: str
    name: str = ""
    project: str = ""
    points: int = 0
    events: int = 0
    media: int = 0
    created: bool = False
    changed: bool = False
    skipped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def stable_run_id(fmt: str, path: str, source_id: str) -> str:
    """Ten characters of the store's id alphabet from a hash of where the run came from."""
    digest = hashlib.sha256(f"{fmt}\0{path}\0{source_id}".encode("utf-8", "surrogatepass")).digest()
    n = int.from_bytes(digest[:10], "big")
    out = []
    for _ in range(10):
        n, r = divmod(n, len(_ID_ALPHABET))
        out.append(_ID_ALPHABET[r])
    return "".join(out)


def number(v: Any) -> int | float | None:
    """A value the store can keep as a point (bools are numbers; too-big ints become floats)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v if -_INT_MAX - 1 <= v <= _INT_MAX else float(v)
    if isinstance(v, float):
        return v
    return None


def parse_float(text: str) -> float:
    """A float from another tool's text: ``NaN``, ``Infinity``, ``-inf``… included."""
    t = text.strip()
    low = t.lower()
    if low in ("nan", "+nan", "-nan"):
        return math.nan
    if low in ("inf", "+inf", "infinity", "+infinity"):
        return math.inf
    if low in ("-inf", "-infinity"):
        return -math.inf
    return float(t)


def dumps(v: Any) -> str:
    """JSON for the store (NaN/Infinity kept, as the logger writes them)."""
    return json.dumps(v, ensure_ascii=False, allow_nan=True, separators=(",", ":"))


def _origin(src: Source) -> dict[str, Any]:
    return {"format": src.format, "path": src.path, "source_id": src.source_id}


def _existing(c: sqlite3.Connection, run_id: str) -> tuple[int, dict[str, Any]] | None:
    row = c.execute("SELECT rid, meta FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    try:
        meta = json.loads(row[1] or "{}")
    except ValueError:
        meta = {}
    return int(row[0]), meta if isinstance(meta, dict) else {}


class _Pending:
    """Updates gathered for the next transaction."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.fields: dict[str, Any] = {}
        self.config: dict[str, Any] | None = None
        self.config_set: dict[str, Any] = {}
        self.summary_set: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        self.cursor: Any = None
        self.has_cursor = False
        self.media: list[tuple[int, float, str, str, dict[str, Any]]] = []

    def add(self, u: Update) -> None:
        self.entries += u.entries
        self.media += u.media
        self.events += u.events
        self.fields.update(u.fields)
        if u.config is not None:
            self.config = u.config
            self.config_set.clear()
        self.config_set.update(u.config_set)
        self.summary_set.update(u.summary_set)
        self.meta.update(u.meta)
        if u.cursor is not None:
            self.cursor = u.cursor
            self.has_cursor = True

    def empty(self) -> bool:
        return not (self.entries or self.events or self.media or self.fields or self.config is not None or self.config_set
                    or self.summary_set or self.meta or self.has_cursor)


class Importer:
    """Imports sources into one store (a :class:`tracker.store.Store` opened for writing)."""

    def __init__(self, store: Any, *, chunk: int = CHUNK) -> None:
        self.store = store
        self.chunk = chunk
        self.keys = KeyIds()

    def cursor(self, src: Source) -> Any:
        """The stored cursor of this source's run (None when it was never imported)."""
        got = _existing(self.store.conn, src.run_id)
        if got is None:
            return None
        return (got[1].get("origin") or {}).get("cursor")

    def run(self, src: Source, progress: Callable[[int], None] | None = None) -> Result:
        """Import one source (or what it gained since the last import)."""
        res = Result(src, src.run_id)
        try:
            pend = _Pending()
            for u in src.read(self.cursor(src)):
                pend.add(u)
                res.skipped.update(u.skipped)
                res.notes += u.notes
                if len(pend.entries) >= self.chunk and u.cursor is not None:
                    self._commit(src, pend, res)
                    if progress:
                        progress(res.points)
                    pend = _Pending()
            if not pend.empty() or not res.changed:
                self._commit(src, pend, res)
        except SourceError as e:
            res.error = str(e)
        except StoreError:
            raise  # the store's problem, not this source's: the whole import stops
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
            # a file vanished mid-import, or holds values of types its format does not allow
            res.error = f"unreadable ({type(e).__name__}: {e})"
        if progress:
            progress(res.points)
        return res

    def _commit(self, src: Source, pend: _Pending, res: Result) -> None:
        def do(c: sqlite3.Connection) -> None:
            self.keys.begin()
            self._write(c, src, pend, res)

        with translating():  # a full disk, a read-only store: StoreError, for the caller to report
            self.store._write(self.store.conn, do)
        self.keys.commit()

    def _write(self, c: sqlite3.Connection, src: Source, pend: _Pending, res: Result) -> None:
        now = time.time()
        got = _existing(c, src.run_id)
        if got is None:
            if pend.empty():
                return
            rid = self._create(c, src, pend, now)
            meta: dict[str, Any] = {"origin": _origin(src)}
            res.created = True
        else:
            rid, meta = got
            origin = meta.get("origin") or {}
            if (origin.get("format"), origin.get("path"), origin.get("source_id")) != (
                src.format, src.path, src.source_id):
                raise SourceError(f"run id {src.run_id} already belongs to another run; not imported")
        entries = [(rid, s, t, k, v) for s, t, k, v in pend.entries]
        _group_key_sets(entries)
        _isolate_nonfinite(entries)
        events = [(rid, t, kind, dumps(data)) for t, kind, data in pend.events]
        n = 0
        last_step, heartbeat = c.execute("SELECT last_step, heartbeat_at FROM runs WHERE rid = ?", (rid,)).fetchone()
        if entries:
            last_step = max(max(e[0] for e in pend.entries), last_step if last_step is not None else -(2**63))
        if entries or events:
            n = Batch(c, self.keys, now).write(entries, (), events)
        if pend.media:
            insert_media(c, None, [PendingMedia(rid, k, s, t, kind, m) for s, t, k, kind, m in pend.media])
        sets, params = self._run_sets(c, rid, pend, meta, src)
        if entries:  # the batch stamped import time and the last step read; the source's are wanted
            sets += ["updated_at = ?", "last_step = ?"]
            params += [max(e[1] for e in pend.entries), last_step]
            if "heartbeat_at" not in pend.fields:
                sets.append("heartbeat_at = ?")
                params.append(heartbeat)
        if sets:
            c.execute(f"UPDATE runs SET {', '.join(sets)}, rev = (SELECT max(rev) + 1 FROM runs) WHERE rid = ?",
                      [*params, rid])
        res.name, res.project = c.execute("SELECT name, project FROM runs WHERE rid = ?", (rid,)).fetchone()
        if n or events or sets or pend.media:
            res.points += n
            res.events += len(events)
            res.media += len(pend.media)
            res.changed = True

    @staticmethod
    def _create(c: sqlite3.Connection, src: Source, pend: _Pending, now: float) -> int:
        f = pend.fields
        created = f.get("created_at")
        if created is None:
            created = pend.entries[0][1] if pend.entries else now
        cur = c.execute(
            """INSERT INTO runs (id, project, name, state, created_at, updated_at, config, meta, rev)
               VALUES (?, ?, ?, 'running', ?, ?, '{}', ?, (SELECT coalesce(max(rev), 0) + 1 FROM runs))""",
            (src.run_id, f.get("project") or src.format, f.get("name") or src.source_id, created, created,
             dumps({"origin": _origin(src)})),
        )
        return int(cur.lastrowid or 0)

    @staticmethod
    def _run_sets(c: sqlite3.Connection, rid: int, pend: _Pending, meta: dict[str, Any],
                  src: Source) -> tuple[list[str], list[Any]]:
        """The ``SET`` clauses that change the run row (none when everything is as stored)."""
        cols = [k for k in pend.fields if k in RUN_FIELDS]
        row = c.execute(f"SELECT config, summary{''.join(', ' + k for k in cols)} FROM runs WHERE rid = ?",
                        (rid,)).fetchone()
        sets: list[str] = []
        params: list[Any] = []
        for col, old in zip(cols, row[2:]):
            v = pend.fields[col]
            new = dumps(list(v)) if col in _JSON_FIELDS and v is not None else v
            if new != old:
                sets.append(f"{col} = ?")
                params.append(new)
        if pend.config is not None or pend.config_set:
            config = dict(pend.config) if pend.config is not None else json.loads(row[0] or "{}")
            config.update(pend.config_set)
            if dumps(config) != row[0]:
                sets.append("config = ?")
                params.append(dumps(config))
        if pend.summary_set:
            summary = json.loads(row[1] or "{}")
            summary.update(pend.summary_set)
            if dumps(summary) != row[1]:
                sets.append("summary = ?")
                params.append(dumps(summary))
        new_meta = {**meta, **pend.meta}
        origin = dict(new_meta.get("origin") or _origin(src))
        if pend.has_cursor:
            origin["cursor"] = pend.cursor
        new_meta["origin"] = origin
        if new_meta != meta:
            sets.append("meta = ?")
            params.append(dumps(new_meta))
        return sets, params


def _group_key_sets(entries: list[tuple[Any, ...]]) -> None:
    """Put points of one key set together (stable: each series keeps its order), so the batch
    writer takes its bulk path instead of one segment per point of interleaved series. Only
    when no key is in two key sets: a key's points must stay in logging order across sets."""
    sets = {id(e[3]): e[3] for e in entries}
    if len(sets) < 2 or sum(map(len, sets.values())) != len(set().union(*sets.values())):
        return
    entries.sort(key=lambda e: id(e[3]))


def _isolate_nonfinite(entries: list[tuple[Any, ...]]) -> None:
    """Give each point holding a NaN/±Inf a key tuple of its own (equal, not identical): the
    batch writer then takes its per-point path for that point only, not for the whole run of
    points sharing its key tuple (one NaN in 100k points cost the 100k the slow path). The
    points are found by halving: C-level sums over slices, not a Python step per point."""
    values = itemgetter(4)

    def nonfinite(lo: int, hi: int) -> bool:
        t = sum(chain.from_iterable(map(values, entries[lo:hi])))
        return bool(t - t != 0)

    stack = [(0, len(entries))] if entries and nonfinite(0, len(entries)) else []
    while stack:
        lo, hi = stack.pop()
        if hi - lo == 1:
            e = entries[lo]
            entries[lo] = (e[0], e[1], e[2], tuple(list(e[3])), e[4])
            continue
        mid = (lo + hi) // 2
        stack += [(a, b) for a, b in ((lo, mid), (mid, hi)) if nonfinite(a, b)]


def import_all(store: Any, sources: Iterable[Source], *, chunk: int = CHUNK,
               progress: Callable[[Source, int], None] | None = None) -> list[Result]:
    """Import every source; a source that fails is reported in its result, the others go on."""
    imp = Importer(store, chunk=chunk)
    out = []
    for src in sources:
        step: Callable[[int], None] | None = None
        if progress is not None:
            step = functools.partial(progress, src)
        out.append(imp.run(src, step))
    return out
