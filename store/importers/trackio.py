"""trackio projects: ``<TRACKIO_DIR>/<project>.db``, one SQLite file per project, opened read-only.

``metrics`` rows hold one ``log()`` call each as a JSON object (NaN/±Inf as the strings
``"NaN"``, ``"Infinity"``, ``"-Infinity"``) with its step and an ISO timestamp; ``configs`` one
config per run (trackio's own ``_Username``, ``_Created``, ``_Group`` become the run's user,
creation time and group); ``system_metrics`` rows have no step (they are numbered in order here,
as ``system/trackio/<name>``); ``alerts`` become alert events. Stores older than trackio's ``run_id``
column name runs by ``run_name`` only. trackio records no run state: imported runs are
``finished``, ending at their last row. The cursor is the last imported row id of each table.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .core import Entry, Source, SourceError, Update, number

FORMAT = "trackio"
_CONST = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_LEVELS = {"info": "INFO", "warn": "WARN", "error": "ERROR"}
ROWS = 10_000


def _ts(text: Any) -> float:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _connect(db: Path) -> sqlite3.Connection:
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None, timeout=5)
        c.execute("SELECT 1 FROM metrics LIMIT 1")
    except sqlite3.DatabaseError as e:
        raise SourceError(f"{db}: not a readable trackio project ({e})") from e
    return c


def _tables(c: sqlite3.Connection) -> dict[str, set[str]]:
    names = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {n: {r[1] for r in c.execute(f'PRAGMA table_info("{n}")')} for n in names}


def detect(path: Path) -> bool:
    if not path.is_file() or path.suffix != ".db":
        return False
    try:
        with open(path, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                return False
        c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            t = _tables(c)
        finally:
            c.close()
    except (OSError, sqlite3.DatabaseError):
        return False
    return {"step", "metrics", "run_name", "timestamp"} <= t.get("metrics", set()) and "configs" in t


def sources(path: Path) -> list[Source]:
    db = path.resolve()
    c = _connect(db)
    try:
        t = _tables(c)
        key = "run_id" if "run_id" in t["metrics"] else "run_name"
        ids: dict[str, str] = {}
        for table in ("configs", "metrics", "system_metrics"):
            if table in t and key in t[table]:
                for rid, name in c.execute(f"SELECT {key}, run_name FROM {table} GROUP BY {key} ORDER BY min(id)"):
                    ids.setdefault(str(rid), str(name))
    except sqlite3.DatabaseError as e:
        raise SourceError(f"{db}: {e}") from e
    finally:
        c.close()
    return [Source(FORMAT, str(db), rid, _reader(db, rid, key), label=f"{db.stem}/{name}") for rid, name in ids.items()]


def _reader(db: Path, run: str, key: str) -> Any:
    def read(cursor: Any) -> Iterator[Update]:
        c = _connect(db)
        try:
            yield from _read(c, db.stem, run, key, dict(cursor or {}))
        except sqlite3.DatabaseError as e:
            raise SourceError(f"{db}: {e}") from e
        finally:
            c.close()

    return read


def _values(text: str, keys: dict[tuple[str, ...], tuple[str, ...]], prefix: str = "") -> tuple[Any, int]:
    """``(keys, values)`` of one JSON row's numbers, and how many values were not numbers."""
    data = json.loads(text, parse_constant=lambda s: _CONST[s])
    if not isinstance(data, dict):
        raise ValueError("not an object")
    names, vals = [], []
    other = 0
    for k, v in data.items():
        if isinstance(v, str) and v in _CONST:
            v = _CONST[v]
        n = number(v)
        if n is None:
            other += 1
            continue
        names.append(prefix + k)
        vals.append(n)
    t = tuple(names)
    return (keys.setdefault(t, t), tuple(vals)), other


def _read(c: sqlite3.Connection, project: str, run: str, key: str, cur: dict[str, int]) -> Iterator[Update]:
    t = _tables(c)
    fields: dict[str, Any] = {"project": project, "state": "finished"}
    config: dict[str, Any] = {}
    row = c.execute(f"SELECT run_name, config, created_at FROM configs WHERE {key} = ? ORDER BY id DESC LIMIT 1",
                    (run,)).fetchone() if key in t["configs"] else None
    if row is not None:
        fields["name"] = row[0]
        try:
            config = json.loads(row[1], parse_constant=lambda s: _CONST[s])
        except ValueError:
            config = {}
        config = config if isinstance(config, dict) else {}
        fields["user"] = config.pop("_Username", None)
        fields["group_name"] = config.pop("_Group", None)
        fields["created_at"] = _ts(config.pop("_Created", None) or row[2])
    yield Update(fields=fields, config=config, cursor=dict(cur))
    keys: dict[tuple[str, ...], tuple[str, ...]] = {}
    other = 0
    last = 0.0
    for table, prefix in (("metrics", ""), ("system_metrics", "system/trackio/")):
        if table not in t or key not in t[table]:
            continue
        has_step = "step" in t[table]
        after = cur.get(table, 0)
        n_sys = cur.get("system_n", 0)
        while True:
            rows = c.execute(f"SELECT id, timestamp, run_name, {'step' if has_step else 'NULL'}, metrics FROM {table} "
                             f"WHERE {key} = ? AND id > ? ORDER BY id LIMIT {ROWS}", (run, after)).fetchall()
            if not rows:
                break
            entries: list[Entry] = []
            skipped: list[str] = []
            for _, ts, name, step, text in rows:
                try:
                    (ks, vs), o = _values(text, keys, prefix)
                except (ValueError, KeyError, TypeError):
                    skipped.append(f"trackio: unreadable {table} row (not a JSON object)")
                    continue
                other += o
                if step is None:
                    step, n_sys = n_sys, n_sys + 1
                when = _ts(ts)
                last = max(last, when)
                if ks:
                    entries.append((int(step), when, ks, vs))
                fields = {"name": name, "finished_at": last, "heartbeat_at": last}
            after = rows[-1][0]
            cur = {**cur, table: after, "system_n": n_sys}
            yield Update(entries=entries, skipped=skipped, fields=fields, cursor=cur)
    if other:
        yield Update(notes=[f"{other} values that are not numbers (media, tables, text) were not imported"])
    if "alerts" in t and key in t["alerts"]:
        rows = c.execute(f"SELECT id, timestamp, title, text, level, step FROM alerts WHERE {key} = ? AND id > ? "
                         "ORDER BY id", (run, cur.get("alerts", 0))).fetchall()
        if rows:
            events = [(_ts(ts), "alert", {"title": title, "text": text or "", "step": step,
                                          "level": _LEVELS.get(str(level).lower(), str(level).upper())})
                      for _, ts, title, text, level, step in rows]
            yield Update(events=events, cursor={**cur, "alerts": rows[-1][0]})
