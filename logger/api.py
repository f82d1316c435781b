"""``tracker.Api``: read runs from a store while (or after) they train.

    api = tracker.Api()
    for run in api.runs(project="cifar", filters={"state": "finished", "config.lr": {"$lt": 1e-3}}):
        print(run.name, run.summary["val/acc"], run.history(keys=["val/acc"], pandas=False)[-1])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from tracker.store.keys import is_system_metric
from tracker.store.lookup import missing_last_key

from ._api_compat import ApiRunCompatMixin, Project, entity_ok, field, matches, split_path, split_run_path
from ._api_compat import _check_field as check_field
from ._artifacts_api import ApiRunArtifactsMixin, ArtifactApiMixin
from ._media_read import RunMediaMixin


class Api(ArtifactApiMixin):
    """Read access to a store (``dir`` > ``$TRACKER_DIR`` > ``~/.tracker``). Never creates one."""

    def __init__(self, dir: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None,
                 timeout: float | None = None, api_key: str | None = None) -> None:
        """``overrides`` (wandb's ``{"entity": ..., "project": ...}``) set the default path of
        ``runs()``; ``timeout`` and ``api_key`` are accepted for wandb code (no server here)."""
        from tracker.store import Store, StoreMissing, resolve_dir

        if isinstance(dir, dict):  # wandb's first positional argument is ``overrides``
            dir, overrides = None, dir
        self.overrides: dict[str, Any] = dict(overrides or {})

        self.dir = resolve_dir(dir)
        try:
            self._store: Any = Store(self.dir, create=False)
        except StoreMissing:
            self._store = None

    @property
    def store(self) -> Any:
        return self._store

    def projects(self, entity: str | None = None, per_page: int | None = None) -> list[Project]:
        """Project names (``str``; with wandb's ``.name``, ``.entity``, ``.run_count``), most
        recently active first. ``entity`` is accepted for wandb code: every project is local."""
        return [] if self._store is None else [Project(p, n, entity) for p, n in self._store.projects()]

    def project(self, name: str, entity: str | None = None) -> Project:
        """One project by name (``entity/name`` accepted); ``ValueError`` when it has no runs."""
        ent, name_ = split_path(name)
        for p in self.projects(entity or ent):
            if p == name_:
                return p
        raise ValueError(f"tracker: no project {name!r} in {self.dir}")

    def runs(self, project: str | None = None, filters: dict[str, Any] | None = None,
             order: str | None = None, per_page: int | None = None, include_sweeps: bool = True,
             archived: bool = False, **kwargs: Any) -> Runs:
        """Runs, newest first by default, as a lazy :class:`Runs` sequence (like wandb's):
        ``len()``, indexing, slicing and iteration read ``per_page`` runs at a time.

        Args:
            project: only this project's runs: ``"project"`` or wandb's ``"entity/project"``
                (runs logged with another ``entity`` are left out; runs logged without one match).
            filters: ``{field: value}`` or ``{field: {"$gt": x}}`` with ``$eq $ne $gt $gte $lt
                $lte $in $nin $regex $exists $not``, combined with ``$and $or $nor``; fields are
                ``state``, ``name``/``display_name``, ``id``, ``group``, ``job_type``, ``host``,
                ``entity``, ``created_at`` (seconds or an ISO date-time), ``tags`` (matches if the
                run has the tag), ``config.<dotted.path>`` and ``summary.<metric>`` /
                ``summary_metrics.<metric>``. All conditions must hold. An unknown field or
                operator is a ``ValueError`` (with filters, the runs are picked at this call: one
                streaming pass that keeps only their ids).
            order: a field, ``-`` prefixed for descending, ``+`` or nothing for ascending
                (default ``-created_at``). An unknown field is a ``ValueError``.
            per_page: runs read (and held) at a time (default 50).
            include_sweeps: accepted for wandb code.
            archived: include archived runs (``tracker-tui archive``); runs in the trash
                (``run.delete()``) are never included.
        """
        entity, project = self.overrides.get("entity"), project or self.overrides.get("project")
        if project is not None and "/" in project and project not in self.projects():
            entity, project = split_path(project)  # a project named "a/b" is that project
        if order:
            check_field(order.lstrip("+-"))
        runs = Runs(self._store, project, filters, order, per_page or 50, entity=entity, archived=archived)
        if filters:
            len(runs)  # pick them now: a bad filter is an error here, not at the first read
        return runs

    def sweep(self, sweep_id: str) -> Any:
        """The sweep with this id (``.runs``, ``.best_run(order=)``, ``.config``, ``.state``, ``.name``)."""
        from tracker.store.sweeps import coord

        from ._sweep_api import ApiSweep

        row = None if self._store is None else coord.get_sweep(self._store, sweep_id)
        if row is None:
            raise LookupError(f"tracker: no sweep {sweep_id!r} in {self.dir}")
        return ApiSweep(self._store, row)

    def run(self, run_id: str) -> ApiRun:
        """The run with this id (or a unique prefix of its id or name); wandb's
        ``entity/project/id`` and ``project/id`` paths too."""
        from tracker.store import RunNotFound

        if self._store is None:
            raise RunNotFound(f"tracker: no store at {self.dir}")
        if "/" in str(run_id):
            entity, project, rid = split_run_path(run_id)
            try:
                run = ApiRun(self._store, self._store.run(rid))
            except RunNotFound:
                pass  # perhaps a run name with a slash in it
            else:
                if (project is None or run.project == project) and entity_ok(run, entity):
                    return run
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
                 per_page: int = 50, *, entity: str | None = None, archived: bool = False) -> None:
        self._store = store
        self.archived = archived
        self.project = project
        self.entity = entity
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
        rids: list[int] = self._store.run_rids(self.project, archived=self.archived)
        name = self.order.lstrip("+-") if self.order else None
        desc = bool(self.order and self.order.startswith("-"))
        if name == "created_at":  # the order run_rids reads them in (newest first)
            rids, name = (rids if desc else rids[::-1]), None
        if not self.filters and name is None and self.entity is None:
            return rids
        keyed: list[tuple[Any, int]] = []
        for run in self._read(rids):
            if not entity_ok(run, self.entity) or (self.filters and not matches(run, self.filters)):
                continue
            keyed.append((field(run, name) if name else None, run._rec.rid))
        if name is None:
            return [rid for _, rid in keyed]
        present = [(v, rid) for v, rid in keyed if v is not None]
        present.sort(key=lambda vr: missing_last_key(vr[0]), reverse=desc)  # missing values last
        return [rid for _, rid in present] + [rid for v, rid in keyed if v is None]

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


class ApiRun(ApiRunCompatMixin, ApiRunArtifactsMixin, RunMediaMixin):
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
        self.sweep_id: str | None = rec.meta.get("sweep_id")  # set when a sweep agent started the run
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
        return self._history_rows([k for k in self._rec.metrics if is_system_metric(k)])

    def metric_stats(self) -> dict[str, dict[str, Any]]:
        """Per metric: ``last``, ``last_step``, ``min``, ``max``, ``count``."""
        return {k: dict(last=s.last, last_step=s.last_step, min=s.min, max=s.max, count=s.count)
                for k, s in self._rec.metrics.items()}

    def keys(self) -> list[str]:
        return sorted(self._rec.metrics)

    def _history_rows(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """``history()`` (see :meth:`ApiRunCompatMixin.history`) before texts and sampling.

        One dict per step, in step order: ``_step``, ``_timestamp`` and the metric values
        (all metrics but the sampled system metrics unless ``keys`` names them; see
        ``system_history``). A key you log yourself under ``system/`` is a metric like any other.

        When a key was logged more than once at one step, the last value logged wins here;
        :meth:`points` returns every stored point.
        """
        explicit = None if keys is None else list(keys)
        keys = explicit
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
        return self._merge_media(list(rows.values()), explicit)  # media: {"_type": ...}

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
