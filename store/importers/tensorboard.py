"""TensorBoard event files (``events.out.tfevents.*``): one run per folder holding them.

A run is named by its folder's path relative to the logdir given (the logdir itself by its own
name); the project is the logdir's name. Files are read in name order (a restarted writer adds
a file), each from the byte offset the last import reached (the cursor), through the TFRecord
framing of :mod:`.tfrecord` and ``Event`` protobufs decoded by :mod:`.wire`:

- scalars as ``simple_value`` (PyTorch, tensorboardX, TF1) and as TF2 tensor summaries (scalars
  plugin; float, double, half or integer; ``tensor_content`` or ``float_val``/``double_val``/…);
  a summary's plugin is named only in its tag's first event, so the cursor remembers it;
- the hparams plugin's session start → the config (its values as written: numbers, strings, bools);
- histograms (``HistogramProto``, as PyTorch and tensorboardX write them, and the TF2 histograms
  plugin's ``[k, 3]`` tensors of left edge, right edge, count) as histogram media, like
  ``tracker.Histogram`` (bin edges and counts; the Media tab draws them);
- everything else (images, text, graphs) is counted in a note, not imported.

TensorBoard records no run state: runs arrive ``finished``, ending at their last event.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import wire
from .core import Entry, Source, SourceError, Update
from .tfrecord import frames

FORMAT = "tensorboard"
MARK = "tfevents"
#: Bytes read per piece of a big file.
READ = 1 << 20

_DTYPES = {1: ("f", 4), 2: ("d", 8), 3: ("i", 4), 9: ("q", 8), 19: ("e", 2), 4: ("B", 1), 5: ("h", 2), 6: ("b", 1),
           10: ("?", 1), 17: ("H", 2), 22: ("I", 4), 23: ("Q", 8)}
_F32 = struct.Struct("<f").unpack_from
_F64 = struct.Struct("<d").unpack_from


def _event_files(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if MARK in p.name and p.is_file())
    except OSError:
        return []


def detect(path: Path) -> bool:
    if path.is_file():
        return MARK in path.name
    return bool(_event_files(path))


def sources(path: Path, root: Path) -> list[Source]:
    root = root.resolve()
    d = path.resolve()
    only = None
    if d.is_file():
        only, d = d.name, d.parent
        root = d if root == path.resolve() else root
    rel = d.relative_to(root).as_posix() if d != root and root in d.parents else d.name
    project = root.name if d != root else d.parent.name or d.name
    source_id = rel if only is None else f"{rel}/{only}"
    return [Source(FORMAT, str(d if only is None else d / only), source_id,
                   _reader(d, only, project, rel), label=source_id)]


def _reader(d: Path, only: str | None, project: str, name: str) -> Any:
    def read(cursor: Any) -> Iterator[Update]:
        cur = {"files": {}, "plugins": {}, **(cursor or {})}
        files = [d / only] if only else _event_files(d)
        if not files:
            raise SourceError(f"{d}: no event files")
        yield Update(fields={"project": project, "name": name, "state": "finished"}, cursor=cur)
        st = _State(cur["plugins"])
        st.fresh = not cur["files"]
        for f in files:
            yield from _read_file(f, cur, st)
        if st.other:
            yield Update(notes=[f"{n} {what} not imported" for what, n in sorted(st.other.items())])

    return read


class _State:
    def __init__(self, plugins: dict[str, str]) -> None:
        self.plugins = plugins
        self.keys: dict[str, tuple[str, ...]] = {}
        self.simple: dict[bytes, tuple[str, ...]] = {}  # summary bytes before the float -> key
        self.other: dict[str, int] = {}
        self.media: list[tuple[int, float, str, str, dict[str, Any]]] = []
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.fresh = True  # read from the start: the first event's time is the run's start

    def note(self, what: str) -> None:
        self.other[what] = self.other.get(what, 0) + 1


def _read_file(f: Path, cur: dict[str, Any], st: _State) -> Iterator[Update]:
    offset = int(cur["files"].get(f.name, 0))
    try:
        size = f.stat().st_size
        fh = open(f, "rb")
    except OSError as e:
        raise SourceError(f"{f}: {e.strerror or e}") from e
    with fh:
        want = READ
        while offset < size:
            fh.seek(offset)
            buf = fh.read(want)
            good, end, skipped = frames(buf)
            if end == 0 and not skipped:
                ln = struct.unpack_from("<Q", buf)[0] if len(buf) >= 8 else 0
                if len(buf) == want and 16 + ln <= size - offset:
                    want = 16 + ln  # one record bigger than a read: read it whole
                    continue
                yield Update(notes=[f"{f.name}: stopped at an incomplete record at byte {offset} "
                                    "(still being written?)"])
                break
            at_end = len(buf) < want  # the read reached the end of the file
            want = READ
            entries: list[Entry] = []
            fields: dict[str, Any] = {}
            config = _decode_all(buf, good, st, entries, skipped)
            media, st.media = st.media, []
            offset += end
            if st.last_ts is not None:
                fields = {"finished_at": st.last_ts, "heartbeat_at": st.last_ts}
                if st.fresh and st.first_ts is not None:
                    fields["created_at"] = st.first_ts
            cur = {**cur, "files": {**cur["files"], f.name: offset}, "plugins": dict(st.plugins)}
            yield Update(entries=entries, skipped=skipped, fields=fields, cursor=cur,
                         config_set=config or {}, media=media)
            if end < len(buf) and at_end:
                yield Update(notes=[f"{f.name}: stopped at an incomplete record at byte {offset} "
                                    "(still being written?)"])
                break


def _decode_all(buf: bytes, good: list[tuple[int, int]], st: _State, entries: list[Entry],
                skipped: list[str]) -> dict[str, Any] | None:
    """Decode a read's records in order; an hparams config found is returned.

    The fast path of :func:`_event` runs here with everything in local variables: a record that
    is one ``simple_value`` of a known tag goes straight to ``entries``; any other goes through
    :func:`_event` at its place, so points keep the file's order."""
    simple = st.simple
    f64, f32 = _F64, _F32
    add = entries.append
    config = None
    for s, e in good:
        if buf[s] == 0x09 and buf[s + 9] == 0x10:
            step = buf[s + 10]
            p = s + 11
            if step >= 0x80:
                if buf[s + 11] < 0x80:
                    step, p = (step & 0x7F) | buf[s + 11] << 7, s + 12
                elif buf[s + 12] < 0x80:
                    step, p = (step & 0x7F) | (buf[s + 11] & 0x7F) << 7 | buf[s + 12] << 14, s + 13
                else:
                    p = e  # longer: the full decoder
            if p + 1 < e and buf[p] == 0x2A and buf[p + 1] < 0x80 and p + 2 + buf[p + 1] == e and buf[e - 5] == 0x15:
                key = simple.get(buf[p + 2:e - 4])
                if key is not None:
                    ts = st.last_ts = f64(buf, s + 1)[0]
                    add((step, ts, key, (f32(buf, e - 4)[0],)))
                    continue
        try:
            config = _event(buf, s, e, st, entries) or config
        except (wire.WireError, struct.error, ValueError, IndexError, KeyError, TypeError, AttributeError):
            skipped.append("tensorboard: unreadable Event protobuf")
    return config


def _event(buf: bytes, s: int, e: int, st: _State, entries: list[Entry]) -> dict[str, Any] | None:
    """Decode one Event; scalars go to ``entries``; an hparams config is returned."""
    # Fast path: wall_time, step, one simple_value (what PyTorch and tensorboardX write per scalar):
    # the summary's bytes before the float name the key once its first event was decoded in full.
    sig = None
    if buf[s] == 0x09 and buf[s + 9] == 0x10:
        step = buf[s + 10]
        if step < 0x80:
            p = s + 11
        elif buf[s + 11] < 0x80:
            step, p = (step & 0x7F) | buf[s + 11] << 7, s + 12
        elif buf[s + 12] < 0x80:
            step, p = (step & 0x7F) | (buf[s + 11] & 0x7F) << 7 | buf[s + 12] << 14, s + 13
        else:
            step, p = wire.varint(buf, s + 10)
        if p < e and buf[p] == 0x2A and buf[p + 1] < 0x80 and p + 2 + buf[p + 1] == e and buf[e - 5] == 0x15:
            sig = buf[p + 2:e - 4]
            key = st.simple.get(sig)
            if key is not None:
                ts = _F64(buf, s + 1)[0]
                st.last_ts = ts
                entries.append((step if step < 1 << 63 else step - (1 << 64), ts, key, (_F32(buf, e - 4)[0],)))
                return None
    n = len(entries)
    ev = wire.message(buf[s:e])
    ts = wire.f64(wire.first(ev, 1)) if 1 in ev else 0.0
    if st.first_ts is None:
        st.first_ts = ts
    st.last_ts = ts
    step = wire.sint(wire.first(ev, 2, 0))
    config = None
    for summ in ev.get(5, ()):
        for raw in wire.message(summ).get(1, ()):
            got = _value(raw, st)
            if isinstance(got, dict):
                config = got
            elif isinstance(got, _Hist):
                st.media.append((step, ts, got.key, "histogram", got.meta))
            elif got is not None:
                entries.append((step, ts, got[0], (got[1],)))
    for what, field in (("graphs", 4), ("log messages", 6), ("session logs", 7), ("run metadata", 8),
                        ("meta graphs", 9)):
        if field in ev:
            st.note(what)
    if sig is not None and len(entries) == n + 1 and len(ev) == 3:
        st.simple[sig] = entries[-1][2]
    return config


def _value(raw: bytes, st: _State) -> Any:
    """One Summary.Value: ``(key, number)``, a config dict (hparams), or None."""
    v = wire.message(raw)
    tag = wire.text(wire.first(v, 1, b"")) or wire.text(wire.first(v, 7, b""))
    if 9 in v:
        plugin = wire.message(wire.first(wire.message(wire.first(v, 9)), 1, b""))
        name = wire.text(wire.first(plugin, 1, b""))
        if name:
            st.plugins[tag] = name
            if name == "hparams":
                return _hparams(wire.first(plugin, 2, b""))
    key = st.keys.get(tag) or st.keys.setdefault(tag, (tag,))
    if 2 in v:
        return key, wire.f32(wire.first(v, 2))
    if 5 in v:
        return _Hist(tag, _histo_proto(wire.message(wire.first(v, 5))))
    if 8 in v:
        plugin_name = st.plugins.get(tag)
        if plugin_name == "histograms":
            meta = _histo_tensor(wire.message(wire.first(v, 8)))
            if meta is None:
                st.note("unreadable histograms")
                return None
            return _Hist(tag, meta)
        if plugin_name not in (None, "scalars"):
            st.note(f"{plugin_name} summaries")
            return None
        x = _scalar_tensor(wire.message(wire.first(v, 8)))
        if x is None:
            st.note("non-scalar tensors")
            return None
        return key, x
    for what, field in (("images", 4), ("audio clips", 6), ("old-style histograms", 3)):
        if field in v:
            st.note(what)
    return None


class _Hist:
    """A histogram read from a summary value: its tag and ``tracker.Histogram``'s metadata."""

    __slots__ = ("key", "meta")

    def __init__(self, key: str, meta: dict[str, Any]) -> None:
        self.key, self.meta = key, meta


def _doubles(vals: list[Any]) -> list[float]:
    b = b"".join(bytes(v) for v in vals)
    return list(struct.unpack(f"<{len(b) // 8}d", b[:len(b) // 8 * 8]))


def _hist_meta(edges: list[float], counts: list[float]) -> dict[str, Any]:
    return {"bins": edges, "counts": [round(c) for c in counts], "nan": 0, "inf": 0, "ninf": 0}


def _histo_proto(h: dict[int, list[Any]]) -> dict[str, Any]:
    """``HistogramProto`` (min 1, max 2, bucket_limit 6, bucket 7): bucket ``i`` holds values up
    to ``bucket_limit[i]`` above the previous limit. TensorFlow's outer limits are +/-DBL_MAX, so
    the first bucket starts at ``min`` and the last limit is clamped to ``max``."""
    lo = wire.f64(wire.first(h, 1)) if 1 in h else 0.0
    hi = wire.f64(wire.first(h, 2)) if 2 in h else 0.0
    limits, counts = _doubles(h.get(6, [])), _doubles(h.get(7, []))
    if not limits or len(limits) != len(counts):
        return _hist_meta([lo, hi if hi > lo else lo + 1.0], [sum(counts)])
    top = hi if hi > lo else math.inf
    edges = [lo if lo < limits[0] or limits[0] < -1e300 else limits[0]]
    for x in limits:
        edges.append(max(edges[-1], min(x, top)))
    return _hist_meta(edges, counts)


def _histo_tensor(t: dict[int, list[Any]]) -> dict[str, Any] | None:
    """The TF2 histograms plugin's tensor: ``[k, 3]`` rows of (left edge, right edge, count)."""
    dtype = wire.first(t, 1, 0)
    if 4 in t and dtype in (1, 2):
        content = wire.first(t, 4)
        code, size = ("f", 4) if dtype == 1 else ("d", 8)
        vals = list(struct.unpack(f"<{len(content) // size}{code}", content[:len(content) // size * size]))
    elif 6 in t:
        vals = _doubles(t[6])
    elif 5 in t:
        b = b"".join(bytes(v) for v in t[5])
        vals = list(struct.unpack(f"<{len(b) // 4}f", b[:len(b) // 4 * 4]))
    else:
        return None
    if not vals or len(vals) % 3:
        return None
    rows = [vals[i:i + 3] for i in range(0, len(vals), 3)]
    return _hist_meta([rows[0][0]] + [r[1] for r in rows], [r[2] for r in rows])


def _scalar_tensor(t: dict[int, list[Any]]) -> float | int | None:
    dims = wire.message(wire.first(t, 2, b"")).get(2, [])
    if any(wire.message(d).get(1, [1])[-1] != 1 for d in dims):
        return None
    fmt = _DTYPES.get(wire.first(t, 1, 0))
    if fmt is None:
        return None
    code, size = fmt
    if 4 in t:
        content = wire.first(t, 4)
        if len(content) != size:
            return None
        x = struct.unpack("<" + code, content)[0]
    elif 5 in t:  # float_val (packed or not) and half_val (13) for halves are also accepted
        x = _packed(t[5], 4, "f")
    elif 6 in t:
        x = _packed(t[6], 8, "d")
    elif 13 in t:
        x = struct.unpack("<e", struct.pack("<H", _varints(t[13])[-1]))[0]
    elif 7 in t:
        x = wire.sint(_varints(t[7])[-1], 32)
    elif 10 in t:
        x = wire.sint(_varints(t[10])[-1])
    elif 11 in t:
        x = int(_varints(t[11])[-1])
    else:
        return None
    return float(x) if code in "fde" else int(x)


def _packed(vals: list[Any], size: int, code: str) -> float:
    b = b"".join(bytes(v) for v in vals)
    if len(b) != size:
        raise ValueError("not one value")
    return float(struct.unpack("<" + code, b)[0])


def _varints(vals: list[Any]) -> list[int]:
    out: list[int] = []
    for v in vals:
        out += wire.packed_varints(bytes(v)) if isinstance(v, (bytes, bytearray, memoryview)) else [v]
    return out


def _hparams(content: bytes) -> dict[str, Any] | None:
    """HParamsPluginData.session_start_info.hparams (map<string, google.protobuf.Value>)."""
    start = wire.first(wire.message(content), 3)
    if start is None:
        return None
    out: dict[str, Any] = {}
    for entry in wire.message(start).get(1, ()):
        e = wire.message(entry)
        k = wire.text(wire.first(e, 1, b""))
        val = wire.message(wire.first(e, 2, b""))
        if 2 in val:
            out[k] = wire.f64(wire.first(val, 2))
        elif 3 in val:
            out[k] = wire.text(wire.first(val, 3))
        elif 4 in val:
            out[k] = bool(wire.first(val, 4))
        else:
            out[k] = None
    return out

