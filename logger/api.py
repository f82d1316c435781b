"""``tracker.Api``: read runs from a store while (or after) they train.

    api = tracker.Api()
    for run in api.runs(project="cifar", filters={"state": "finished", "config.lr": {"$lt": 1e-3}}):
        print(run.name, run.summary["val/acc"], run.history(keys=["val/acc"])[-1])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from tracker.store.keys import is_system_metric
from tracker.store.lookup import config_lookup, missing_last_key

from ._artifacts_api import ApiRunArtifactsMixin, ArtifactApiMixin

_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex", "$exists")


class Api(ArtifactApiMixin):
    """Read access to a store (``dir`` > ``$TRACKER_DIR`` > ``~/.tracker``). Never creates one."""

    def __init__(self, dir: str | os.PathLike[str] | None = None) -> None:
        from tracker.store import Store, StoreMissing, resolve_dir

        self.dir = resolve_dir(dir)
        try:
            self._store: Any = Store(self.dir, create=False)
        except StoreMissing:
            self._store = None

    @property
    def store(self) -> Any:
        return self._store

    def projects(self) -> list[str]:
        return [] if self._store is None else [p for p, _ in self._store.projects()]

    def runs(self, project: str | None = None, filters: dict[str, Any] | None = None,
             order: str | None = None, per_page: int = 50) -> Runs:
        """Runs, newest first by default, as a lazy :class:`Runs` sequence (like wandb's):
        ``len()``, indexing, slicing and iteration read ``per_page`` runs at a time.

        Args:
            project: only this project's runs.
            filters: ``{field: value}`` or ``{field: {"$gt": x}}`` with ``$eq $ne $gt $gte $lt
                $lte $in $nin $regex $exists``; fields are ``state``, ``name``, ``id``, ``group``,
                ``job_type``, ``host``, ``tags`` (matches if the run has the tag),
                ``config.<dotted.path>`` and ``summary.<metric>``. All conditions must hold.
            order: a field, ``-`` prefixed for descending (default ``-created_at``).
            per_page: runs read (and held) at a time.
        """
        return Runs(self._store, project, filters, order, per_page)

    def run(self, run_id: str) -> ApiRun:
        """The run with this id (or a unique prefix of its id or name)."""
        from tracker.store import RunNotFound

        if self._store is None:
            raise RunNotFound(f"tracker: no store at {self.dir}")
        return ApiRun(self._store, self._store.run(run_id))


class Runs(Sequence["ApiRun"]):
    """The runs of a query, read lazily: which runs (and in what order) is fixed when first
    needed, from their row ids alone; the runs themselves are read ``per_page`` at a time, so
    ``len()``, ``runs[i]``, ``runs[a:b]`` and iteration never hold every run's config at once.

    Runs created after that moment are not included (iteration is stable while runs are being
    logged); a run deleted since is skipped. With ``filters`` or a non-default ``order`` one
    streaming pass over the runs (a page at a time) picks and orders them first.
    """

    def __init__(self, store: Any, project: str | None, filters: dict[str, Any] | None, order: str | None,
                 per_page: int = 50) -> None:
        self._store = store
        self.project = project
        self.filters = filters
        self.order = order
        self.per_page = max(1, int(per_page))
        self._rids: list[int] | None = None
        self._page: tuple[int, dict[int, ApiRun]] | None = None  # (first index, runs by rid): last page read

    def _ids(self) -> list[int]:
        if self._rids is None:
            self._rids = [] if self._store is None else self._select()
        return self._rids

    def _select(self) -> list[int]:
        rids: list[int] = self._store.run_rids(self.project)
        field = self.order.lstrip("+-") if self.order else None
        desc = bool(self.order and self.order.startswith("-"))
        if field == "created_at":  # the order run_rids reads them in (newest first)
            rids, field = (rids if desc else rids[::-1]), None
        if not self.filters and field is None:
            return rids
        keyed: list[tuple[tuple[int, Any], int]] = []
        for run in self._read(rids):
            if self.filters and not _matches(run, self.filters):
                continue
            keyed.append((missing_last_key(_field(run, field)) if field else (0, 0), run._rec.rid))
        if field is None:
            return [rid for _, rid in keyed]
        present = [kr for kr in keyed if kr[0][0] < 2]
        present.sort(key=lambda kr: kr[0], reverse=desc)
        return [rid for _, rid in present] + [rid for k, rid in keyed if k[0] >= 2]

    def _read(self, rids: list[int]) -> Iterator[ApiRun]:
        for lo in range(0, len(rids), self.per_page):
            for rec in self._store.runs_by_rid(rids[lo:lo + self.per_page]):
                yield ApiRun(self._store, rec)

    def __len__(self) -> int:
        return len(self._ids())

    def __iter__(self) -> Iterator[ApiRun]:
        return self._read(self._ids())

    @overload
    def __getitem__(self, i: int) -> ApiRun: ...
    @overload
    def __getitem__(self, i: slice) -> list[ApiRun]: ...

    def __getitem__(self, i: int | slice) -> ApiRun | list[ApiRun]:
        ids = self._ids()
        if isinstance(i, slice):
            return list(self._read(ids[i]))
        n = len(ids)
        if not -n <= i < n:
            raise IndexError("run index out of range")
        i %= n
        start = i - i % self.per_page
        if self._page is None or self._page[0] != start:
            self._page = (start, {r._rec.rid: r for r in self._read(ids[start:start + self.per_page])})
        run = self._page[1].get(ids[i])
        if run is None:  # deleted after the query was fixed
            from tracker.store import RunNotFound

            raise RunNotFound(f"tracker: run {i} of this query was deleted")
        return run

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, Runs)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        where = f" project={self.project!r}" if self.project is not None else ""
        return f"<Runs{where} ({len(self)})>"


class ApiRun(ApiRunArtifactsMixin):
    """A stored run. Attributes are read when the run was fetched; ``history()`` reads now."""

    def __init__(self, store: Any, rec: Any) -> None:
        self._store = store
        self._rec = rec
        self.id: str = rec.id
        self.name: str = rec.name
        self.project: str = rec.project
        self.group: str | None = rec.group
        self.job_type: str | None = rec.job_type
        self.tags: list[str] = rec.tags
        self.notes: str | None = rec.notes
        self.state: str = rec.state
        self.created_at: float = rec.created_at
        self.updated_at: float = rec.updated_at
        self.finished_at: float | None = rec.finished_at
        self.heartbeat_at: float | None = rec.heartbeat_at
        self.exit_code: int | None = rec.exit_code
        self.host: str | None = rec.host
        self.pid: int | None = rec.pid
        self.user: str | None = rec.user
        self.argv: list[str] = rec.argv
        self.python: str | None = rec.python
        self.cwd: str | None = rec.cwd
        self._git: dict[str, Any] | None = None
        self.config: dict[str, Any] = rec.config
        # Like wandb: the sampler's system metrics are not the run's results (system_history()).
        self.summary: dict[str, Any] = {k: v for k, v in rec.summary.items()
                                        if not is_system_metric(k) or k in rec.summary_overrides}
        self.meta: dict[str, Any] = rec.meta
        self.last_step: int | None = rec.last_step

    @property
    def system_summary(self) -> dict[str, Any]:
        """The last value of each system metric the sampler recorded (they are not in ``summary``)."""
        return {k: v for k, v in self._rec.summary.items() if k not in self.summary and is_system_metric(k)}

    @property
    def runtime(self) -> float:
        return float(self._rec.runtime)

    @property
    def git(self) -> dict[str, Any]:
        """``commit``, ``branch``, ``dirty``, and when recorded ``remote`` (no credentials),
        ``diff`` (uncommitted changes, capped at 1 MB) and ``root``."""
        if self._git is None:
            self._git = {"commit": self._rec.git_commit, "branch": self._rec.git_branch,
                         "dirty": self._rec.git_dirty, **self._store.code(self._rec.rid)}
        return self._git

    @property
    def rank(self) -> int | None:
        """This process's rank in a distributed job (``RANK`` / ``SLURM_PROCID``), if any."""
        v = self.meta.get("rank")
        return int(v) if isinstance(v, int) or (isinstance(v, str) and v.isdigit()) else None

    @property
    def world_size(self) -> int | None:
        v = self.meta.get("world_size")
        return int(v) if isinstance(v, int) or (isinstance(v, str) and v.isdigit()) else None

    def console(self) -> list[str]:
        """Captured stdout / stderr lines, oldest first (escape sequences kept as written)."""
        return [text for _, _, _, text in self._store.console(self._rec.rid)]

    def system_history(self) -> list[dict[str, Any]]:
        """``history()`` of the system metrics (CPU, memory, disk, network, GPUs) only."""
        return self.history([k for k in self._rec.metrics if is_system_metric(k)])

    def metric_stats(self) -> dict[str, dict[str, Any]]:
        """Per metric: ``last``, ``last_step``, ``min``, ``max``, ``count``."""
        return {k: dict(last=s.last, last_step=s.last_step, min=s.min, max=s.max, count=s.count)
                for k, s in self._rec.metrics.items()}

    def keys(self) -> list[str]:
        return sorted(self._rec.metrics)

    def history(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """One dict per step, in step order: ``_step``, ``_timestamp`` and the metric values
        (all metrics but the sampled system metrics unless ``keys`` names them; see
        ``system_history``). A key you log yourself under ``system/`` is a metric like any other.

        When a key was logged more than once at one step, the last value logged wins here;
        :meth:`points` returns every stored point.
        """
        if keys is None:  # like wandb: system metrics have their own history (system_history)
            keys = [k for k in self._rec.metrics if not is_system_metric(k)]
        rows: dict[int, dict[str, Any]] = {}
        for step, ts, key, value in self._store.points(self._rec.rid, list(keys)):
            row = rows.get(step)
            if row is None:
                row = rows[step] = {"_step": step, "_timestamp": ts}
            elif ts > row["_timestamp"]:
                row["_timestamp"] = ts
            row[key if key not in ("_step", "_timestamp") else key + "_"] = value
        return list(rows.values())

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts, oldest first (``title``, ``text``, ``level``, ``time``, ``step``): those from
        ``run.alert()``, the automatic first-NaN/Inf of each metric, and — seen by this reader —
        the run having failed or crashed."""
        out = list(self._store.alerts(self._rec.rid))
        if self.state in ("failed", "crashed"):
            why = self.meta.get("error") or (f"exit code {self.exit_code}" if self.state == "failed"
                                              else "its process is gone (no finish, no heartbeat)")
            out.append({"title": f"run {self.state}", "text": str(why), "level": "ERROR",
                        "time": self.finished_at or self.heartbeat_at or self.updated_at,
                        "step": self.last_step, "auto": "state"})
        return out

    def points(self, keys: Iterable[str] | None = None) -> list[tuple[int, float, str, Any]]:
        """Every stored point ``(step, timestamp, key, value)``, by step then logging order."""
        return self._store.points(self._rec.rid, None if keys is None else list(keys))

    def __repr__(self) -> str:
        return f"<ApiRun {self.id} {self.name!r} {self.state}>"


def _field(run: ApiRun, field: str) -> Any:
    if field.startswith("config."):
        return config_lookup(run.config, field[7:])
    if field.startswith("summary."):  # system metrics too: filters may select on them
        return run._rec.summary.get(field[8:])
    if field == "group":
        return run.group
    return getattr(run, field, None)


def _matches(run: ApiRun, filters: dict[str, Any]) -> bool:
    import re

    for field, cond in filters.items():
        value = _field(run, field)
        conds = cond if isinstance(cond, dict) and cond and all(k in _OPS for k in cond) else {"$eq": cond}
        for op, arg in conds.items():
            if field == "tags" and op in ("$eq", "$ne", "$in", "$nin"):
                tags = set(run.tags)
                hit = bool(tags & set(arg if isinstance(arg, (list, tuple, set)) else [arg]))
                if (op in ("$eq", "$in")) != hit:
                    return False
                continue
            try:
                if op == "$eq" and not value == arg:
                    return False
                if op == "$ne" and not value != arg:
                    return False
                if op == "$gt" and not (value is not None and value > arg):
                    return False
                if op == "$gte" and not (value is not None and value >= arg):
                    return False
                if op == "$lt" and not (value is not None and value < arg):
                    return False
                if op == "$lte" and not (value is not None and value <= arg):
                    return False
                if op == "$in" and value not in arg:
                    return False
                if op == "$nin" and value in arg:
                    return False
                if op == "$regex" and not (value is not None and re.search(arg, str(value))):
                    return False
                if op == "$exists" and (value is not None) != bool(arg):
                    return False
            except TypeError:
                return False
    return True
