"""MLflow runs: the file store (``mlruns/``) and the SQLite backend (``mlflow.db``).

File store: ``<root>/<experiment id>/meta.yaml`` names the experiment (→ project);
``<root>/<experiment id>/<run id>/meta.yaml`` holds the run's name, status, times and user;
``metrics/<key>`` files hold ``timestamp value step`` lines (a key with ``/`` is a nested
path), ``params/<key>`` and ``tags/<key>`` one value each. Metric files only grow, so the cursor
is each file's byte offset after its last complete line.

SQLite backend: tables ``experiments``, ``runs``, ``metrics`` (``is_nan`` marks NaN; MLflow
stores ±Inf as ±1.7976931348623157e308, read back here as ±Inf), ``params``, ``tags``. Opened
read-only; the cursor is the last imported metrics ``rowid`` of the run.

Params become the config (strings, exactly as MLflow keeps them); MLflow's tags are kept whole
in ``meta["mlflow_tags"]``, and the user's own (not ``mlflow.*``) as ``key=value`` run tags.
"""

from __future__ import annotations

import math
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .core import Entry, Source, SourceError, Update, parse_float

FORMAT = "mlflow"
_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_STATE = {"RUNNING": "running", "SCHEDULED": "running", "FINISHED": "finished", "FAILED": "failed",
          "KILLED": "failed"}
_MAX = sys.float_info.max
#: Metric rows (or metric-file lines) read per piece.
ROWS = 10_000


def _yaml(path: Path) -> dict[str, Any]:
    import yaml  # only when an MLflow file store is read: every other command starts without it

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise SourceError(f"{path}: unreadable MLflow meta.yaml ({type(e).__name__})") from e
    if not isinstance(data, dict):
        raise SourceError(f"{path}: not an MLflow meta.yaml")
    return data


def _value(v: float, is_nan: Any = 0) -> float:
    if is_nan:
        return math.nan
    if v == _MAX:  # MLflow's SQL store keeps ±Inf as ±DBL_MAX
        return math.inf
    if v == -_MAX:
        return -math.inf
    return v


def _run_fields(exp_name: str, name: str | None, status: str, start: Any, end: Any, user: Any,
                tags: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "project": exp_name or "Default",
        "name": tags.get("mlflow.runName") or name or "",
        "state": _STATE.get(status, "finished"),
        "user": user or None,
        "notes": tags.get("mlflow.note.content"),
        "tags": sorted(f"{k}={v}" for k, v in tags.items() if not k.startswith("mlflow.")),
        "git_commit": tags.get("mlflow.source.git.commit"),
        "git_branch": tags.get("mlflow.source.git.branch"),
    }
    if start is not None:
        fields["created_at"] = start / 1000
    fields["finished_at"] = end / 1000 if end is not None and status not in ("RUNNING", "SCHEDULED") else None
    fields["heartbeat_at"] = fields["finished_at"] or fields.get("created_at")
    if not fields["name"]:
        del fields["name"]
    return fields


# ------------------------------------------------------------------------------------ file store
def _flat_files(folder: Path) -> dict[str, Path]:
    """``{key: path}`` for every file under ``folder`` (a key with ``/`` is a nested path)."""
    out: dict[str, Path] = {}
    if folder.is_dir():
        for dirpath, _, files in os.walk(folder):
            for f in files:
                p = Path(dirpath) / f
                out[p.relative_to(folder).as_posix()] = p
    return out


def _read_text(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SourceError(f"{p}: unreadable ({type(e).__name__})") from e


def _metric_lines(path: Path, key: str, start: int,
                  keys: tuple[str, ...]) -> Iterator[tuple[list[Entry], int, list[str]]]:
    """Complete ``timestamp value [step]`` lines after byte ``start``, ``ROWS`` at a time:
    entries, the byte offset after them, and the lines skipped."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    end = data.rfind(b"\n") + 1  # a line still being written waits for the next import
    entries: list[Entry] = []
    skipped: list[str] = []
    pos = start
    for line in data[:end].split(b"\n")[:-1]:
        pos += len(line) + 1
        parts = line.split()
        if not parts:
            continue
        try:
            ts = int(parts[0]) / 1000
            v = parse_float(parts[1].decode())
            step = int(parts[2]) if len(parts) > 2 else 0
        except (ValueError, IndexError, UnicodeDecodeError):
            skipped.append(f"mlflow: unreadable line in metric file {key!r}")
            continue
        entries.append((step, ts, keys, (v,)))
        if len(entries) == ROWS:
            yield entries, pos, skipped
            entries, skipped = [], []
    yield entries, start + end, skipped


def _file_run(run_dir: Path, exp_name: str) -> Source:
    try:
        meta = _yaml(run_dir / "meta.yaml")
    except SourceError:
        meta = {}  # reading the run reports it
    run_id = str(meta.get("run_id") or meta.get("run_uuid") or run_dir.name)

    def read(cursor: Any) -> Iterator[Update]:
        m = _yaml(run_dir / "meta.yaml")
        if m.get("lifecycle_stage") == "deleted":
            yield Update(notes=[f"mlflow run {run_id} is deleted in MLflow; not imported"])
            return
        tags = {k: _read_text(p) for k, p in _flat_files(run_dir / "tags").items()}
        params = {k: _read_text(p) for k, p in _flat_files(run_dir / "params").items()}
        status = m.get("status")
        status = _STATUS.get(status, str(status)) if isinstance(status, int) else str(status or "FINISHED")
        fields = _run_fields(exp_name, m.get("run_name"), status, m.get("start_time"), m.get("end_time"),
                             m.get("user_id"), tags)
        offsets: dict[str, int] = dict((cursor or {}).get("metrics", {}))
        yield Update(fields=fields, config=params, meta={"mlflow_tags": tags, "mlflow_status": status},
                     cursor={"metrics": dict(offsets)})
        for key, p in sorted(_flat_files(run_dir / "metrics").items()):
            for entries, offset, skipped in _metric_lines(p, key, offsets.get(key, 0), (key,)):
                offsets[key] = offset
                yield Update(entries=entries, skipped=skipped, cursor={"metrics": dict(offsets)})

    return Source(FORMAT, str(run_dir.resolve()), run_id, read, label=f"{exp_name}/{run_id}")


def file_store_sources(root: Path) -> list[Source]:
    """Runs under an ``mlruns`` folder, an experiment folder or one run folder."""
    root = root.resolve()
    if _is_run_dir(root):
        return [_file_run(root, _exp_name(root.parent))]
    exps = [root] if _is_experiment_dir(root) else sorted(p for p in root.iterdir() if _is_experiment_dir(p))
    out = []
    for exp in exps:
        name = _exp_name(exp)
        out += [_file_run(r, name) for r in sorted(exp.iterdir()) if _is_run_dir(r)]
    return out


def _exp_name(exp: Path) -> str:
    try:
        return str(_yaml(exp / "meta.yaml").get("name") or exp.name)
    except SourceError:
        return exp.name


def _meta_keys(p: Path) -> frozenset[str] | None:
    """The top-level keys of ``p/meta.yaml``: empty when there is none, None when unreadable."""
    meta = p / "meta.yaml"
    if not meta.is_file():
        return frozenset()
    try:
        return frozenset(_yaml(meta))
    except SourceError:
        return None


def _is_run_dir(p: Path) -> bool:
    if not p.is_dir():
        return False
    keys = _meta_keys(p)
    if keys is None:  # damaged: a run if it has a run's folders (reading it then reports the damage)
        return (p / "metrics").is_dir() or (p / "params").is_dir()
    return bool({"run_id", "run_uuid"} & keys)


def _is_experiment_dir(p: Path) -> bool:
    # an experiment's meta.yaml names it; it may have tags/ of its own, like a run
    keys = _meta_keys(p) if p.is_dir() else None
    return keys is not None and "experiment_id" in keys and not {"run_id", "run_uuid"} & keys


def is_file_store(p: Path) -> bool:
    if not p.is_dir():
        return False
    if _is_run_dir(p) or (_is_experiment_dir(p) and any(_is_run_dir(r) for r in p.iterdir())):
        return True
    return any(_is_experiment_dir(e) for e in p.iterdir() if e.name != ".trash")


# ---------------------------------------------------------------------------------------- SQLite
def _connect(db: Path) -> sqlite3.Connection:
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None, timeout=5)
        c.execute("SELECT 1 FROM runs LIMIT 1")
    except sqlite3.DatabaseError as e:
        raise SourceError(f"{db}: not a readable MLflow database ({e})") from e
    return c


def is_sqlite_store(p: Path) -> bool:
    if not p.is_file():
        return False
    try:
        with open(p, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                return False
        c = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            c.close()
    except sqlite3.DatabaseError:
        return False
    return {"experiments", "runs", "metrics", "params", "tags", "alembic_version"} <= names


def sqlite_sources(db: Path) -> list[Source]:
    db = db.resolve()
    c = _connect(db)
    try:
        rows = c.execute(
            "SELECT r.run_uuid, coalesce(e.name, '') FROM runs r LEFT JOIN experiments e "
            "ON e.experiment_id = r.experiment_id ORDER BY r.start_time, r.run_uuid"
        ).fetchall()
    finally:
        c.close()
    return [Source(FORMAT, str(db), uuid, _sqlite_reader(db, uuid), label=f"{exp}/{uuid}") for uuid, exp in rows]


def _sqlite_reader(db: Path, uuid: str) -> Any:
    def read(cursor: Any) -> Iterator[Update]:
        c = _connect(db)
        try:
            yield from _sqlite_read(c, uuid, int((cursor or {}).get("rowid", 0)))
        except sqlite3.DatabaseError as e:
            raise SourceError(f"{db}: {e}") from e
        finally:
            c.close()

    return read


def _sqlite_read(c: sqlite3.Connection, uuid: str, after: int) -> Iterator[Update]:
    row = c.execute(
        "SELECT r.name, r.status, r.start_time, r.end_time, r.user_id, r.lifecycle_stage, e.name "
        "FROM runs r LEFT JOIN experiments e ON e.experiment_id = r.experiment_id WHERE r.run_uuid = ?",
        (uuid,),
    ).fetchone()
    if row is None:
        raise SourceError(f"mlflow run {uuid} is gone from the database")
    name, status, start, end, user, stage, exp = row
    if stage == "deleted":
        yield Update(notes=[f"mlflow run {uuid} is deleted in MLflow; not imported"])
        return
    tags = {k: v or "" for k, v in c.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (uuid,))}
    params = {k: v for k, v in c.execute("SELECT key, value FROM params WHERE run_uuid = ?", (uuid,))}
    fields = _run_fields(exp or "Default", name, str(status or "FINISHED"), start, end, user, tags)
    yield Update(fields=fields, config=params, meta={"mlflow_tags": tags, "mlflow_status": status},
                 cursor={"rowid": after})
    keys: dict[str, tuple[str, ...]] = {}
    cur = c.execute("SELECT rowid, key, value, timestamp, step, is_nan FROM metrics "
                    "WHERE run_uuid = ? AND rowid > ? ORDER BY rowid", (uuid, after))
    while True:
        rows = cur.fetchmany(ROWS)
        if not rows:
            return
        entries: list[Entry] = []
        for _, key, v, ts, step, is_nan in rows:
            k = keys.get(key) or keys.setdefault(key, (key,))
            entries.append((int(step), ts / 1000, k, (_value(v, is_nan),)))
        yield Update(entries=entries, cursor={"rowid": rows[-1][0]})


def sources(path: Path) -> list[Source]:
    """MLflow runs at ``path`` (a file store folder or an ``mlflow.db``)."""
    if is_sqlite_store(path):
        return sqlite_sources(path)
    if is_file_store(path):
        return file_store_sources(path)
    raise SourceError(f"{path}: not an MLflow file store or database")


def detect(path: Path) -> bool:
    try:
        return is_sqlite_store(path) or is_file_store(path)
    except OSError:
        return False
