"""``tracker.Api`` as wandb code uses it: ``entity/project`` paths, wandb's ``order`` spellings,
MongoDB-style ``filters``, ``history(samples=, keys=, x_axis=, pandas=)``, ``scan_history()``,
projects as objects, and ``run.update()`` persisting edits.

:class:`tracker.api.Api` and :class:`tracker.api.ApiRun` call in here; this module holds the
wandb-shaped behaviour so ``api.py`` keeps tracker's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from tracker.store.keys import is_system_metric
from tracker.store.lookup import config_lookup, missing_last_key

_FIELD_OPS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex", "$exists", "$not"})
_LOGIC_OPS = frozenset({"$and", "$or", "$nor"})
#: Plain fields ``order`` and ``filters`` accept (besides ``config.*`` and ``summary.*``).
FIELDS = frozenset({"id", "name", "display_name", "project", "entity", "group", "job_type", "state", "tags",
                    "notes", "created_at", "createdAt", "updated_at", "finished_at", "heartbeat_at",
                    "heartbeatAt", "exit_code", "host", "user", "runtime", "last_step", "pid"})
_ALIASES = {"display_name": "name", "createdAt": "created_at", "heartbeatAt": "heartbeat_at",
            "group_name": "group"}


# ------------------------------------------------------------------------------ paths
def split_path(path: str | None) -> tuple[str | None, str | None]:
    """``"entity/project"`` or ``"project"`` -> (entity, project)."""
    if path is None:
        return None, None
    parts = [p for p in str(path).split("/") if p]
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    return None, (parts[0] if parts else None)


def split_run_path(path: str) -> tuple[str | None, str | None, str]:
    """``"entity/project/id"``, ``"entity/project/runs/id"``, ``"project/id"`` or ``"id"``."""
    parts = [p for p in str(path).split("/") if p]
    if len(parts) >= 2 and parts[-2] == "runs":
        del parts[-2]
    if not parts:
        raise ValueError(f"tracker: {path!r} is not a run path (use entity/project/id, project/id or id)")
    run_id = parts[-1]
    project = parts[-2] if len(parts) >= 2 else None
    entity = parts[-3] if len(parts) >= 3 else None
    return entity, project, run_id


def entity_ok(run: Any, entity: str | None) -> bool:
    """A run matches an entity it was logged under, or any entity when it was logged with none."""
    stored = run.meta.get("entity")
    return entity is None or stored is None or stored == entity


# ------------------------------------------------------------------------------ fields
def field(run: Any, name: str) -> Any:
    """A run's value for a filter or order field; ``KeyError`` for a field that does not exist."""
    if name.startswith("summary_metrics."):
        name = "summary." + name[len("summary_metrics."):]
    if name.startswith("config."):
        v = config_lookup(run.config, name[7:])
        if v is None and name.endswith(".value"):  # wandb's {"lr": {"value": ...}} spelling
            v = config_lookup(run.config, name[7:-6])
        return v
    if name.startswith("summary."):  # system metrics too: filters may select on them
        key = name[8:]
        return run.summary[key] if key in run.summary else run._rec.summary.get(key)
    if name not in FIELDS:
        raise KeyError(name)
    name = _ALIASES.get(name, name)
    if name == "entity":
        return run.meta.get("entity")
    return getattr(run, name, None)


def _check_field(name: str) -> None:
    if not (name.startswith(("config.", "summary.", "summary_metrics.")) or name in FIELDS):
        raise ValueError(f"tracker: unknown run field {name!r}: use config.<key>, summary_metrics.<metric> "
                         f"(or summary.<metric>) or one of {', '.join(sorted(FIELDS))}")


def sort_runs(runs: list[Any], order: str) -> list[Any]:
    """``order``: a field, ``-`` (descending) or ``+`` (ascending) first; missing values last."""
    desc = order.startswith("-")
    name = order.lstrip("+-")
    _check_field(name)
    vals = [(field(r, name), r) for r in runs]
    present = [(v, r) for v, r in vals if v is not None]
    present.sort(key=lambda vr: missing_last_key(vr[0]), reverse=desc)
    return [r for _, r in present] + [r for v, r in vals if v is None]


# ------------------------------------------------------------------------------ filters
def matches(run: Any, filters: dict[str, Any]) -> bool:
    """MongoDB-style filters: ``{field: value}``, ``{field: {"$gt": x, ...}}``, ``$and``,
    ``$or``, ``$nor`` (lists of filters) and ``$not``. Raises ``ValueError`` for an unknown
    operator or field."""
    for key, cond in filters.items():
        if key in _LOGIC_OPS:
            subs = cond if isinstance(cond, (list, tuple)) else [cond]
            hits = [matches(run, dict(s)) for s in subs]
            if (key == "$and" and not all(hits)) or (key == "$or" and not any(hits)) or (key == "$nor" and any(hits)):
                return False
        elif key == "$not":
            if matches(run, dict(cond)):
                return False
        elif key.startswith("$"):
            raise ValueError(f"tracker: unknown filter operator {key!r}")
        else:
            _check_field(key)
            if not _field_matches(run, key, cond):
                return False
    return True


def _field_matches(run: Any, name: str, cond: Any) -> bool:
    if isinstance(cond, dict) and cond and any(str(k).startswith("$") for k in cond):
        bad = [k for k in cond if k not in _FIELD_OPS]
        if bad:
            raise ValueError(f"tracker: unknown filter operator {bad[0]!r} on {name!r}")
        conds = cond
    else:
        conds = {"$eq": cond}
    value = field(run, name)
    for op, arg in conds.items():
        if op == "$not":
            if _field_matches(run, name, arg):
                return False
            continue
        if name in ("created_at", "createdAt", "updated_at", "finished_at", "heartbeat_at", "heartbeatAt"):
            arg = _when(arg)
        if not _op(op, value, arg, is_tags=name == "tags"):
            return False
    return True


def _when(arg: Any) -> Any:
    """An ISO date-time (wandb's spelling) as seconds since the epoch; numbers pass through."""
    if isinstance(arg, str):
        try:
            d = datetime.fromisoformat(arg.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"tracker: {arg!r} is not an ISO date-time") from None
        return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(arg, (list, tuple)):
        return [_when(a) for a in arg]
    return arg


def _op(op: str, value: Any, arg: Any, *, is_tags: bool) -> bool:
    if is_tags and op in ("$eq", "$ne", "$in", "$nin", "$regex"):
        tags = list(value or [])
        if op == "$regex":
            return any(re.search(str(arg), t) for t in tags)
        hit = bool(set(tags) & set(arg if isinstance(arg, (list, tuple, set)) else [arg]))
        return hit if op in ("$eq", "$in") else not hit
    try:
        if op == "$eq":
            return bool(value == arg)
        if op == "$ne":
            return bool(value != arg)
        if op in ("$gt", "$gte", "$lt", "$lte"):
            if value is None:
                return False
            return bool({"$gt": value > arg, "$gte": value >= arg, "$lt": value < arg, "$lte": value <= arg}[op])
        if op == "$in":
            return value in arg
        if op == "$nin":
            return value not in arg
        if op == "$regex":
            return value is not None and re.search(str(arg), str(value)) is not None
        if op == "$exists":
            return (value is not None) == bool(arg)
    except TypeError:  # e.g. a string compared with a number: no match, like a missing value
        return False
    return False


# ------------------------------------------------------------------------------ projects
class Project(str):
    """A project name (compares equal to it) with wandb's attributes: ``name``, ``entity``,
    ``run_count``, ``path``."""

    entity: str | None
    run_count: int

    def __new__(cls, name: str, run_count: int = 0, entity: str | None = None) -> Project:
        obj = super().__new__(cls, name)
        obj.entity = entity
        obj.run_count = run_count
        return obj

    @property
    def name(self) -> str:
        return str(self)

    @property
    def path(self) -> list[str]:
        return [p for p in (self.entity, str(self)) if p]


# ------------------------------------------------------------------------------ runs
class RunFile:
    """A file saved with a run: ``name`` (its path in the run's files), ``size``, ``path``
    (where it lies in the store) and ``download()``."""

    def __init__(self, path: Any, name: str) -> None:
        self.path = str(path)
        self.name = name
        self.size = path.stat().st_size

    def download(self, root: str = ".", replace: bool = False, exist_ok: bool = False) -> Any:
        """Copy the file to ``root/<name>`` and open it for reading (wandb's ``File.download``).

        Raises:
            ValueError: the target exists and neither ``replace`` nor ``exist_ok`` is set.
        """
        import shutil
        from pathlib import Path

        dest = Path(root) / self.name
        if dest.exists() and not replace:
            if not exist_ok:
                raise ValueError(f"tracker: {dest} exists; pass replace=True to overwrite it")
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.path, dest)
        return open(dest)  # noqa: SIM115 - the caller reads and closes it, like wandb's

    def __repr__(self) -> str:
        return f"<RunFile {self.name!r} {self.size} bytes>"


class ApiRunCompatMixin:
    """wandb's ``Run`` (read API) attributes and methods; :class:`tracker.api.ApiRun` inherits them."""

    _store: Any
    _rec: Any
    id: str
    name: str
    project: str
    group: str | None
    job_type: str | None
    tags: list[str]
    notes: str | None
    config: dict[str, Any]
    summary: dict[str, Any]
    meta: dict[str, Any]
    _history_rows: Callable[[Iterable[str] | None], list[dict[str, Any]]]  # ApiRun's

    @property
    def display_name(self) -> str:
        return self.name

    @display_name.setter
    def display_name(self, value: str) -> None:
        self.name = str(value)

    @property
    def entity(self) -> str | None:
        return self.meta.get("entity")

    @property
    def path(self) -> list[str]:
        """``[entity, project, id]`` (without the entity when none was given), like wandb."""
        return [p for p in (self.entity, self.project, self.id) if p]

    @property
    def url(self) -> str:
        """A ``file://`` URL of the run's directory in the store."""
        from pathlib import Path

        return Path(self._store.dir, "runs", self.id).absolute().as_uri()

    @property
    def summary_metrics(self) -> dict[str, Any]:
        return self.summary

    def files(self) -> list[RunFile]:
        """Files kept with the run by ``save()`` (``<run dir>/files``), by name."""
        from pathlib import Path

        root = Path(self._store.dir, "runs", self.id, "files")
        if not root.is_dir():
            return []
        return [RunFile(p, p.relative_to(root).as_posix()) for p in sorted(root.rglob("*")) if p.is_file()]

    def file(self, name: str) -> RunFile:
        """One file of :meth:`files`; ``ValueError`` when the run has no file of that name."""
        for f in self.files():
            if f.name == name:
                return f
        raise ValueError(f"tracker: run {self.id} has no file {name!r}")

    def texts(self) -> list[tuple[int, str, str]]:
        """Strings logged with ``log()``: ``(step, key, text)`` in logging order."""
        return [(step, k, v) for step, _ts, k, v in self._text_events()]

    def _text_events(self) -> list[tuple[int, float, str, str]]:
        out: list[tuple[int, float, str, str]] = []
        for _id, _rid, ts, kind, data in self._store.events(self._rec.rid):
            if kind == "text":
                out.extend((int(data.get("step", 0)), ts, str(k), str(v)) for k, v in data.get("values", {}).items())
        return out

    def history(self, samples: Any = None, keys: Iterable[str] | None = None, x_axis: str = "_step",
                pandas: bool = True, stream: str = "default") -> Any:
        """One row per step, in step order: ``_step``, ``_timestamp``, the metric values and the
        strings logged at that step (system metrics only with ``stream="system"``).

        Args:
            samples: at most this many rows, evenly spaced (first and last kept); default all.
                A list or tuple here is taken as ``keys`` (tracker's own ``history(keys)``).
            keys: only these metrics (rows without any of them are left out).
            x_axis: the metric rows are keyed by; it is always included.
            pandas: return a pandas ``DataFrame`` (the default, as in wandb; one column per key,
                NaN where a row lacks it). ``pandas=False`` returns the rows as a list of dicts,
                which needs no pandas. Without pandas installed the default raises an
                ``ImportError`` that says so.
            stream: ``"default"`` or ``"system"`` (wandb's ``"events"``).
        """
        if samples is not None and not isinstance(samples, int):
            keys, samples = samples, None
        if pandas:
            try:
                import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]
            except ImportError:
                raise ImportError("tracker: run.history() returns a pandas DataFrame (pandas=True is the default, "
                                  "as in wandb) and pandas is not installed: pip install pandas, or call "
                                  "run.history(pandas=False) for a list of dicts") from None
        system = stream in ("system", "events")
        if keys is not None:
            keys = list(keys)
            if x_axis != "_step" and x_axis not in keys:
                keys.append(x_axis)
        elif system:
            keys = [k for k in self._rec.metrics if is_system_metric(k)]
        rows = self._history_rows(keys)
        if not system:
            rows = _with_texts(rows, self._text_events(), keys)
        if samples is not None and 0 < samples < len(rows):
            rows = _even(rows, samples)
        if pandas:
            return pd.DataFrame(rows)
        return rows

    def scan_history(self, keys: Iterable[str] | None = None, page_size: int = 1000, min_step: int | None = None,
                     max_step: int | None = None) -> Iterator[dict[str, Any]]:
        """Every row (no sampling), in step order, ``min_step <= _step < max_step``. With ``keys``,
        only rows that have all of them (like wandb). ``page_size`` is accepted; the rows are read
        in one query."""
        want = None if keys is None else list(keys)
        for row in self.history(keys=want, pandas=False):
            step = row["_step"]
            if (min_step is not None and step < min_step) or (max_step is not None and step >= max_step):
                continue
            if want is not None and not all(k in row for k in want):
                continue
            yield row

    def update(self) -> None:
        """Store edits of ``name``/``display_name``, ``tags``, ``notes``, ``group``, ``job_type``,
        ``config`` and ``summary`` made on this object."""
        rec = self._rec
        summary = self.summary
        overrides = {k: v for k, v in summary.items() if k in rec.summary_overrides or rec.summary.get(k) != v}
        fields = {"name": str(self.name), "tags": json.dumps([str(t) for t in self.tags]),
                  "notes": self.notes, "group_name": self.group, "job_type": self.job_type,
                  "config": json.dumps(self.config, default=str),
                  "summary": json.dumps(overrides, default=str)}
        self._store.append([], updates=[(rec.rid, fields)])
        rec.summary_overrides = overrides

    def save(self) -> None:
        """Same as :meth:`update` (wandb has both)."""
        self.update()

    def delete(self, delete_artifacts: bool = False) -> None:
        """Move the run to the trash: every reader leaves it out from now on, its points stay
        until ``tracker-tui purge`` (``tracker-tui restore RUN`` brings it back). A run still
        ``running`` is refused (``tracker-tui rm --force`` trashes it anyway).

        Raises:
            StoreError: the run is still running.
        """
        from tracker.store import StoreError
        from tracker.store.curate import trash

        if self.state == "running":  # type: ignore[attr-defined]
            raise StoreError(f"tracker: run {self.id} is still running; finish it before deleting it")
        trash(self._store, [self._rec.rid])


def _with_texts(rows: list[dict[str, Any]], texts: list[tuple[int, float, str, str]],
                keys: list[str] | None) -> list[dict[str, Any]]:
    wanted = [t for t in texts if keys is None or t[2] in keys]
    if not wanted:
        return rows
    by_step = {r["_step"]: r for r in rows}
    for step, ts, k, v in wanted:
        row = by_step.get(step)
        if row is None:
            row = by_step[step] = {"_step": step, "_timestamp": ts}
        row[k] = v
    return [by_step[s] for s in sorted(by_step)]


def _even(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    if n == 1:
        return rows[-1:]
    last = len(rows) - 1
    idx = sorted({round(i * last / (n - 1)) for i in range(n)})
    return [rows[i] for i in idx]
