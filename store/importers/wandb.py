"""wandb offline runs: ``wandb/offline-run-<time>-<id>/run-<id>.wandb``.

The record stream (framing in :mod:`.wandb_log`) holds protobuf ``Record`` messages, decoded
here with :mod:`.wire` (field numbers of wandb's ``wandb_internal.proto``):

- ``run`` (17): id, project, name, group, job type, notes, tags, host, start time, git, and the
  config (``_wandb`` left out);
- ``config`` (5) updates and removals; ``summary`` (3) updates → ``run.summary`` (keys starting
  with ``_`` are wandb's own);
- ``history`` (2): one row per step, values as ``value_json`` (``NaN``/``Infinity`` included),
  nested keys joined with ``.`` as wandb shows them; ``_step`` and ``_timestamp`` give the step
  and time; histograms (``{"_type": "histogram"}``) become histogram media like
  ``tracker.Histogram``; other values that are not numbers (media, tables) are counted in a note;
- ``stats`` (7): system metrics. wandb's names for what the logger's sampler also records map
  onto its names (``cpu`` → ``system/proc_cpu_percent``, ``memory_percent`` →
  ``system/ram_percent``, ``proc.memory.rssMB`` → ``system/proc_rss_gib``, ``gpu.<i>.gpu`` →
  ``system/gpu<i>/util_percent``, …); the others are kept as ``system/wandb/<name>``;
- ``output``/``output_raw`` (4, 13): console lines (a line split over records is joined);
- ``exit`` (18): exit code → ``finished`` (0) or ``failed``; ``alert`` (10) → alert events;
  ``environment`` (26): host, user, program, args, Python.

A run without an exit record is ``running``, its heartbeat the file's last write (it reads as
``crashed`` once that is older than the heartbeat timeout). The cursor is the byte offset after the last
whole record, with the step, time and unfinished console lines at that point.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import wire
from .core import Entry, Source, SourceError, Update, number
from .wandb_log import HEADER_LEN, FramingError, check_header, records

FORMAT = "wandb"
READ = 1 << 20
_FILE = re.compile(r"run-([A-Za-z0-9_-]+)\.wandb$")
_CONST = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_SKIP_HISTORY = frozenset({"_step", "_runtime", "_timestamp"})
_STATS = {"cpu": ("system/proc_cpu_percent", 1.0), "memory_percent": ("system/ram_percent", 1.0),
          "proc.memory.rssMB": ("system/proc_rss_gib", 1 / 1024), "proc.cpu.threads": None}
_GPU = {"gpu": ("util_percent", 1.0), "memoryAllocated": ("mem_percent", 1.0), "temp": ("temp_c", 1.0),
        "powerWatts": ("power_w", 1.0), "memoryAllocatedBytes": ("mem_used_gib", 1 / 2**30)}
_STREAMS = {0: "stderr", 1: "stdout"}
_NON_NUMERIC = "non-numeric history values (media, tables)"


def _files(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if _FILE.match(p.name) and p.is_file())
    except OSError:
        return []


def detect(path: Path) -> bool:
    if path.is_file():
        return bool(_FILE.match(path.name)) or path.suffix == ".wandb"
    return bool(_files(path))


def sources(path: Path) -> list[Source]:
    files = [path] if path.is_file() else _files(path)
    out = []
    for f in files:
        f = f.resolve()
        m = _FILE.match(f.name)
        run_id = m.group(1) if m else f.stem
        out.append(Source(FORMAT, str(f), run_id, _reader(f), label=f"{f.parent.name}"))
    return out


def _reader(f: Path) -> Any:
    def read(cursor: Any) -> Iterator[Update]:
        cur = {"offset": HEADER_LEN, "step": -1, "ts": None, "last": None, "partial": {}, **(cursor or {})}
        try:
            fh = open(f, "rb")
        except OSError as e:
            raise SourceError(f"{f}: {e.strerror or e}") from e
        with fh:
            try:
                check_header(fh.read(HEADER_LEN))
            except FramingError as e:
                raise SourceError(f"{f}: {e}") from e
            yield from _read(fh, cur, os.fstat(fh.fileno()).st_mtime)

    return read


def _read(fh: Any, cur: dict[str, Any], mtime: float) -> Iterator[Update]:
    st = _State(cur)
    st.mtime = mtime
    want = READ
    while True:
        offset = cur["offset"]
        fh.seek(offset)
        buf = fh.read(want)
        recs, done, skipped, torn = records(buf, offset)
        if not recs and not skipped and done == offset and len(buf) == want:
            want *= 2  # one record longer than a read: read it whole
            continue
        for data, _ in recs:
            try:
                st.record(data)
            except (wire.WireError, ValueError, IndexError, KeyError, TypeError, AttributeError, struct.error):
                # a record that decodes but does not fit the schema (wrong wire types) is damaged too
                st.skipped.append("wandb: unreadable Record protobuf")
        cur = st.cursor(done)
        yield st.flush(cur, skipped)
        if len(buf) < want:
            if torn:
                yield Update(notes=[f"stopped at an incomplete record at byte {done} (still being written?)"])
            break
        want = READ
    if st.other:
        yield Update(notes=[f"{n} {what} not imported" for what, n in sorted(st.other.items())])


def _ts(msg: bytes | None) -> float | None:
    if msg is None:
        return None
    t = wire.message(msg)
    return wire.first(t, 1, 0) + wire.first(t, 2, 0) / 1e9


_DECODER = json.JSONDecoder(parse_constant=lambda s: _CONST[s])


def _json(b: bytes) -> Any:
    return _DECODER.decode(wire.text(b))


def _scalar(b: bytes) -> Any:
    """A ``value_json`` that is a plain number (``1``, ``0.5``, ``NaN``, ``-Infinity``) without
    the JSON parser; anything else through it."""
    try:
        return int(b) if b.lstrip(b"-").isdigit() else float(b)
    except ValueError:
        return _json(b)


def _fast_item(raw: bytes) -> tuple[bytes, bytes] | None:
    """``(bytes before the value, value_json)`` of an item with one key and a short value."""
    if raw[0] in (0x0A, 0x12) and raw[1] < 0x80:
        p = 2 + raw[1]
        if raw[p:p + 2] == b"\x82\x01" and p + 2 < len(raw) and raw[p + 2] < 0x80 and p + 3 + raw[p + 2] == len(raw):
            return raw[:p], raw[p + 3:]
    return None


def _item_key(item: dict[int, list[Any]]) -> str:
    if 2 in item:
        return ".".join(wire.text(k) for k in item[2])
    return wire.text(wire.first(item, 1, b""))


def _items(msg: bytes, field: int) -> list[tuple[list[str], Any]]:
    """``update``/``remove`` items of a config or summary record: ``(key path, value)``."""
    out = []
    for raw in wire.message(msg).get(field, ()):
        item = wire.message(raw)
        path = [wire.text(k) for k in item[2]] if 2 in item else [wire.text(wire.first(item, 1, b""))]
        v = wire.first(item, 16)
        out.append((path, _json(v) if v is not None else None))
    return out


def _stat_key(key: str) -> tuple[str, float]:
    hit = _STATS.get(key)
    if hit:
        return hit
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "gpu" and parts[1].isdigit() and parts[2] in _GPU:
        name, scale = _GPU[parts[2]]
        return f"system/gpu{parts[1]}/{name}", scale
    return "system/wandb/" + key, 1.0


def _histogram(v: Any) -> dict[str, Any] | None:
    """wandb's ``{"_type": "histogram", "values": counts, "bins": edges}`` as ``tracker.Histogram``
    keeps it; None for anything else."""
    if not isinstance(v, dict) or v.get("_type") != "histogram":
        return None
    counts, bins = v.get("values"), v.get("bins")
    if not (isinstance(counts, list) and isinstance(bins, list)) or len(bins) != len(counts) + 1 or not counts:
        return None
    try:
        edges = [float(b) for b in bins]
        n = [int(c) for c in counts]
    except (TypeError, ValueError):
        return None
    return {"bins": edges, "counts": n, "nan": 0, "inf": 0, "ninf": 0}


class _State:
    """What has been read since the last piece, and where the run stands."""

    def __init__(self, cur: dict[str, Any]) -> None:
        self.step: int = int(cur["step"])
        self.ts: float | None = cur["ts"]  # the current history row's time
        self.last: float | None = cur["last"]  # the latest time of any record
        self.partial: dict[str, str] = dict(cur["partial"])
        self.keys: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.stat_keys: dict[str, tuple[str, float]] = {}
        self.item_keys: dict[bytes, str] = {}  # an item's bytes before its value -> its key
        self.other: dict[str, int] = {}
        self.skipped: list[str] = []
        self.mtime = 0.0
        self._clear()

    def _clear(self) -> None:
        self.entries: list[Entry] = []
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.lines: list[list[Any]] = []
        self.fields: dict[str, Any] = {}
        self.config: dict[str, Any] | None = None
        self.config_set: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        self.media: list[tuple[int, float, str, str, dict[str, Any]]] = []

    def cursor(self, offset: int) -> dict[str, Any]:
        return {"offset": offset, "step": self.step, "ts": self.ts, "last": self.last, "partial": dict(self.partial)}

    def seen(self, ts: float | None) -> None:
        if ts is not None and (self.last is None or ts > self.last):
            self.last = ts

    def flush(self, cur: dict[str, Any], skipped: list[str]) -> Update:
        if self.lines:
            self.events.append((self.lines[0][0], "console", {"lines": self.lines}))
        if self.last is not None:  # the writer was alive when it last wrote the file
            self.fields["heartbeat_at"] = max(self.last, self.mtime)
        u = Update(entries=self.entries, events=self.events, fields=self.fields, config=self.config,
                   config_set=self.config_set, summary_set=self.summary, meta=self.meta, cursor=cur,
                   skipped=skipped + self.skipped, media=self.media)
        self.skipped = []
        self._clear()
        return u

    def record(self, data: bytes) -> None:
        rec = wire.message(data)
        for field, handler in _HANDLERS.items():
            if field in rec:
                handler(self, wire.first(rec, field))

    def run(self, msg: bytes) -> None:
        r = wire.message(msg)
        f = self.fields
        for name, field in (("project", 3), ("name", 8), ("group_name", 6), ("job_type", 7), ("notes", 9),
                            ("host", 13)):
            if field in r:
                f[name] = wire.text(wire.first(r, field)) or None
        f["tags"] = [wire.text(t) for t in r.get(10, ())]
        f.setdefault("state", "running")
        start = _ts(wire.first(r, 17))
        if start:
            f["created_at"] = start
            self.ts = self.ts or start
            self.seen(start)
        if 21 in r:
            git = wire.message(wire.first(r, 21))
            f["git_commit"] = wire.text(wire.first(git, 2, b"")) or None
            if 1 in git:
                self.meta["git_remote"] = wire.text(wire.first(git, 1))
        if 4 in r:
            self.config = {}
            self._config(wire.first(r, 4))
        self.meta["wandb"] = {"run_id": wire.text(wire.first(r, 1, b"")),
                              "entity": wire.text(wire.first(r, 2, b"")) or None}

    def _config(self, msg: bytes) -> None:
        for path, v in _items(msg, 1):
            if path[0] == "_wandb":
                continue
            target = self.config if self.config is not None else self.config_set
            target[path[0]] = _nest(path[1:], v, target.get(path[0]))
        for path, _ in _items(msg, 2):
            if self.config is not None:
                self.config.pop(path[0], None)
            self.config_set.pop(path[0], None)

    def config_record(self, msg: bytes) -> None:
        self._config(msg)

    def summary_record(self, msg: bytes) -> None:
        for path, v in _items(msg, 1):
            if not path[0].startswith("_"):
                self.summary[".".join(path)] = v

    def history(self, msg: bytes) -> None:
        h = wire.message(msg)
        step = None
        ts = None
        names: list[str] = []
        vals: list[Any] = []
        hists: list[tuple[str, dict[str, Any]]] = []
        cache = self.item_keys
        for raw in h.get(1, ()):
            fast = _fast_item(raw)
            if fast is not None:
                key = cache.get(fast[0])
                if key is None:
                    key = cache[fast[0]] = _item_key(wire.message(raw))
                v = _scalar(fast[1])
            else:
                item = wire.message(raw)
                key = _item_key(item)
                v = _json(wire.first(item, 16, b"null"))
            if key in _SKIP_HISTORY:
                if key == "_step":
                    step = v
                elif key == "_timestamp":
                    ts = v
                continue
            n = number(v)
            if n is None:
                hist = _histogram(v)
                if hist is not None:
                    hists.append((key, hist))
                elif v is not None:
                    self.other[_NON_NUMERIC] = self.other.get(_NON_NUMERIC, 0) + 1
                continue
            names.append(key)
            vals.append(n)
        if step is None:
            step = wire.first(wire.message(wire.first(h, 2, b"")), 1, self.step + 1)
        self.step = int(step)
        if ts is not None:
            self.ts = float(ts)
            self.seen(self.ts)
        if names:
            t = tuple(names)
            self.entries.append((self.step, self.ts or 0.0, self.keys.setdefault(t, t), tuple(vals)))
        self.media += [(self.step, self.ts or 0.0, k, "histogram", m) for k, m in hists]

    def stats(self, msg: bytes) -> None:
        s = wire.message(msg)
        ts = _ts(wire.first(s, 2)) or self.ts or 0.0
        self.seen(ts)
        names, vals = [], []
        for raw in s.get(3, ()):
            item = wire.message(raw)
            key = wire.text(wire.first(item, 1, b""))
            hit = self.stat_keys.get(key) or self.stat_keys.setdefault(key, _stat_key(key))
            n = number(_json(wire.first(item, 16, b"null")))
            if n is not None:
                names.append(hit[0])
                vals.append(n * hit[1] if hit[1] != 1.0 else n)
        if names:
            t = tuple(names)
            self.entries.append((max(self.step, 0), ts, self.keys.setdefault(t, t), tuple(vals)))

    def output(self, msg: bytes) -> None:
        o = wire.message(msg)
        stream = _STREAMS.get(wire.first(o, 1, 0), "stdout")
        ts = _ts(wire.first(o, 2)) or self.ts or 0.0
        self.seen(ts)
        text = self.partial.pop(stream, "") + wire.text(wire.first(o, 3, b""))
        *whole, rest = text.split("\n")
        for line in whole:
            self.lines.append([ts, stream, line])
        if rest:
            self.partial[stream] = rest

    def exit(self, msg: bytes) -> None:
        e = wire.message(msg)
        code = wire.sint(wire.first(e, 1, 0), 32)
        self.fields.update(state="finished" if code == 0 else "failed", exit_code=code)
        self.fields["finished_at"] = self.last
        for stream, rest in self.partial.items():  # a last line without its newline
            self.lines.append([self.last or 0.0, stream, rest])
        self.partial.clear()

    def alert(self, msg: bytes) -> None:
        a = wire.message(msg)
        level = wire.first(a, 3)
        self.events.append((self.ts or 0.0, "alert", {
            "title": wire.text(wire.first(a, 1, b"")), "text": wire.text(wire.first(a, 2, b"")),
            "level": wire.text(level).upper() if isinstance(level, bytes) else "INFO", "step": max(self.step, 0)}))

    def environment(self, msg: bytes) -> None:
        e = wire.message(msg)
        f = self.fields
        if 12 in e:
            f["host"] = wire.text(wire.first(e, 12))
        if 13 in e:
            f["user"] = wire.text(wire.first(e, 13))
        if 2 in e:
            f["python"] = wire.text(wire.first(e, 2))
        if 6 in e or 5 in e:
            f["argv"] = [wire.text(wire.first(e, 6, b""))] + [wire.text(a) for a in e.get(5, ())]
        if 11 in e:
            f["cwd"] = wire.text(wire.first(e, 11))

    def files(self, msg: bytes) -> None:
        self.other["lists of saved files (the files are not copied)"] = self.other.get(
            "lists of saved files (the files are not copied)", 0) + 1


def _nest(path: list[str], v: Any, old: Any) -> Any:
    if not path:
        return v
    base = dict(old) if isinstance(old, dict) else {}
    base[path[0]] = _nest(path[1:], v, base.get(path[0]))
    return base


_HANDLERS = {17: _State.run, 5: _State.config_record, 3: _State.summary_record, 2: _State.history,
             7: _State.stats, 4: _State.output, 13: _State.output, 18: _State.exit, 10: _State.alert,
             26: _State.environment, 6: _State.files}
