"""What wandb code does with a run beyond ``log()``: the mixin :class:`WandbRunMixin` that
:class:`tracker.Run` inherits.

- ``run.name``, ``run.tags``, ``run.notes``, ``run.group`` set after ``init()`` are stored.
- ``run.url``, ``run.path``, ``run.entity``, ``run.start_time``, ``run.offline``,
  ``run.settings``, ``run.disabled``.
- ``run.save()`` / ``run.restore()``: files kept in the run's directory (``<store>/runs/<id>/files``).
- ``run.define_metric()``: the summary asked for (min/max/mean/last/best/none) is stored when
  the run finishes; the definition is kept as a ``define_metric`` event (``step_metric`` is the
  metric's x axis).
- ``log()`` helpers: nested dicts are flattened (``{"a": {"b": 1}}`` -> ``a.b``) and strings are
  kept as ``text`` events (``tracker.Api`` returns them in ``history()``).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

_SUMMARIES = ("min", "max", "mean", "last", "best", "none", "first", "copy")
_MAX_DEPTH = 32  # nested dicts deeper than this (or a dict that contains itself) are not flattened further
_MAX_TEXT = 65_536  # characters of one logged string that are stored
_SENTINEL = object()


def split_log(data: dict[Any, Any]) -> tuple[dict[Any, Any], dict[str, str] | None]:
    """Nested dicts flattened with ``.``; string values taken out (returned second)."""
    if not any(isinstance(v, (dict, str)) for v in data.values()):
        return data, None
    flat: dict[Any, Any] = {}
    _flatten(data, "", flat, 0)
    text = {str(k): v if len(v) <= _MAX_TEXT else v[:_MAX_TEXT] + f"… [{len(v) - _MAX_TEXT} more characters not stored]"
            for k, v in flat.items() if isinstance(v, str)}
    if text:
        flat = {k: v for k, v in flat.items() if not isinstance(v, str)}
    return flat, text or None


def _flatten(d: dict[Any, Any], prefix: str, out: dict[Any, Any], depth: int) -> None:
    for k, v in d.items():
        key = f"{prefix}{k}" if prefix else k
        if isinstance(v, dict) and v and depth < _MAX_DEPTH:
            _flatten(v, f"{key}.", out, depth + 1)
        else:
            out[key] = v


class WandbRunMixin:
    """wandb's run attributes and methods; ``Run`` inherits them (state lives on the run)."""

    _entity: str | None = None
    _settings: Any = None
    _mode: str = "online"
    _start_time: float | None = None

    # ------------------------------------------------------------ editable facts, stored
    def _set_field(self, attr: str, value: Any, column: str, stored: Any) -> None:
        d = self.__dict__
        ready = attr in d
        d[attr] = value
        if ready and not self.disabled and not getattr(self, "_closed", True):
            self._enqueue_update({column: stored})  # type: ignore[attr-defined]

    @property
    def name(self) -> str:
        return self.__dict__.get("_w_name", "")

    @name.setter
    def name(self, value: Any) -> None:
        value = str(value)
        self._set_field("_w_name", value, "name", value)
        info = getattr(getattr(self, "_writer", None), "run_info", {}).get(getattr(self, "_rid", None))
        if info is not None:
            info["run_name"] = value

    @property
    def tags(self) -> tuple[str, ...]:
        return self.__dict__.get("_w_tags", ())

    @tags.setter
    def tags(self, value: Any) -> None:
        from ._mask import masker
        from ._values import dumps

        tags = (str(value),) if isinstance(value, str) else tuple(str(t) for t in (value or ()))
        hide = masker(getattr(self, "_mask", True))
        self._set_field("_w_tags", tags, "tags", dumps([hide(t) for t in tags]))

    @property
    def notes(self) -> str | None:
        return self.__dict__.get("_w_notes")

    @notes.setter
    def notes(self, value: Any) -> None:
        from ._mask import masker

        v = None if value is None else str(value)
        self._set_field("_w_notes", v, "notes", None if v is None else masker(getattr(self, "_mask", True))(v))

    @property
    def group(self) -> str | None:
        return self.__dict__.get("_w_group")

    @group.setter
    def group(self, value: Any) -> None:
        v = None if value is None else str(value)
        self._set_field("_w_group", v, "group_name", v)

    # ------------------------------------------------------------ read-only facts
    @property
    def disabled(self) -> bool:
        """True for a run that records nothing (``mode="disabled"``, or a non-zero rank)."""
        return getattr(self, "_writer", None) is None

    @property
    def entity(self) -> str | None:
        """The ``entity=`` given to ``init()`` (or ``$TRACKER_ENTITY`` / ``$WANDB_ENTITY``); kept in meta."""
        return self._entity

    @property
    def path(self) -> str:
        """``entity/project/id`` (``project/id`` without an entity): ``tracker.Api().run(path)`` reads it."""
        parts = [self._entity, self.project, self.id]  # type: ignore[attr-defined]
        return "/".join(p for p in parts if p)

    @property
    def url(self) -> str:
        """A ``file://`` URL of this run's directory in the store (no web page: there is no server)."""
        if self.disabled:
            return ""
        return Path(self._writer.store.dir, "runs", self.id).absolute().as_uri()  # type: ignore[attr-defined]

    def get_url(self) -> str:
        """``run.url`` (wandb's older spelling)."""
        return self.url

    @property
    def start_time(self) -> float:
        """When ``init()`` was called (seconds since the epoch)."""
        return self._start_time if self._start_time is not None else 0.0

    @property
    def offline(self) -> bool:
        """True when started with ``mode="offline"`` (every run is local; the flag is kept for wandb code)."""
        return self._mode == "offline"

    @property
    def settings(self) -> Any:
        """The ``Settings`` given to ``init()`` (an empty one when none was)."""
        if self._settings is None:
            from ._settings import Settings

            self._settings = Settings()
        return self._settings

    @property
    def files_dir(self) -> str:
        return str(Path(self.dir) / "files")  # type: ignore[attr-defined]

    # ------------------------------------------------------------ files
    def save(self, glob_str: str | os.PathLike[str] | None = None, base_path: str | os.PathLike[str] | None = None,
             policy: str = "live") -> list[str]:
        """Copy the files matching ``glob_str`` into the run's files directory, named by their path
        relative to ``base_path`` (default: the glob's directory). ``policy``: ``"now"`` copies
        now, ``"end"`` at ``finish()``, ``"live"`` now and again at ``finish()`` if changed.
        Returns the stored paths."""
        import glob as globmod

        if policy not in ("live", "now", "end"):
            raise ValueError(f"tracker: save(policy={policy!r}): use 'live', 'now' or 'end'")
        if glob_str is None or self.disabled:
            return []
        pattern = os.fspath(glob_str)
        if base_path is None:
            head = pattern.split("*")[0].split("?")[0].split("[")[0]
            base = os.path.dirname(head) or "."
        else:
            base = os.fspath(base_path)
        out = []
        for f in sorted(globmod.glob(pattern, recursive=True)):
            if not os.path.isfile(f):
                continue
            rel = os.path.relpath(f, base)
            if rel.startswith(".."):
                rel = os.path.basename(f)
            watched = self.__dict__.setdefault("_w_saved", {})
            watched[f] = (rel, policy, None)
            if policy != "end":
                self._copy_saved(f)
            out.append(str(Path(self.files_dir) / rel))
        if policy == "live" and out and self.__dict__.get("_w_live") is None:
            self.__dict__["_w_live"] = LiveFiles(self)
        return out

    def _copy_saved(self, src: str) -> None:
        rel, policy, mtime = self.__dict__["_w_saved"][src]
        try:
            st = os.stat(src)
            if mtime == (st.st_mtime_ns, st.st_size):
                return
            dest = Path(self.files_dir) / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)  # a reader never sees a half-copied file
            self.__dict__["_w_saved"][src] = (rel, policy, (st.st_mtime_ns, st.st_size))
            self._enqueue_event("file", {"path": rel, "policy": policy, "size": st.st_size})  # type: ignore[attr-defined]
        except OSError as e:
            from ._values import warn_once

            warn_once(f"save:{src}", f"tracker: could not copy {src} into the run's files ({e})")

    def restore(self, name: str, run_path: str | None = None, replace: bool = False, root: str | None = None) -> Any:
        """Open a file saved with ``save()`` (of this run, or of ``run_path``) for reading."""
        from ._compat_files import restore

        return restore(name, run_path=run_path, replace=replace, root=root, run=self)

    # ------------------------------------------------------------ metrics
    def define_metric(self, name: str, step_metric: Any = None, step_sync: bool | None = None,
                      hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
                      overwrite: bool | None = None) -> dict[str, Any]:
        """wandb's ``define_metric``: ``name`` may be a glob (``"val/*"``). ``summary`` (``min``,
        ``max``, ``mean``, ``last``, ``best`` with ``goal``, ``none``) is what the run's summary
        holds for the metric once it finishes; ``step_metric`` is its default x axis."""
        step_name = getattr(step_metric, "name", step_metric)
        aggs = [a.strip().lower() for a in str(summary).split(",")] if summary else []
        for a in aggs:
            if a not in _SUMMARIES:
                raise ValueError(f"tracker: define_metric(summary={summary!r}): use min, max, mean, last, best or none")
        if goal is not None and str(goal).lower() not in ("minimize", "maximize", "min", "max"):
            raise ValueError(f"tracker: define_metric(goal={goal!r}): use 'minimize' or 'maximize'")
        spec = {"name": str(name), "step_metric": step_name, "summary": aggs, "goal": goal, "hidden": bool(hidden)}
        if not self.disabled:
            self.__dict__.setdefault("_w_metrics", {})[str(name)] = spec
            self._enqueue_event("define_metric", spec)  # type: ignore[attr-defined]
        return spec

    def watch(self, models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
              idx: int | None = None, log_graph: bool = False) -> None:
        """See :func:`tracker.watch` (statistics are logged into the current run)."""
        if not self.disabled:
            from ._watch import watch

            watch(models, criterion=criterion, log=log, log_freq=log_freq, idx=idx, log_graph=log_graph)

    def unwatch(self, models: Any = None) -> None:
        from ._watch import unwatch

        unwatch(models)

    def log_code(self, root: str | os.PathLike[str] = ".", name: str | None = None, include_fn: Any = None,
                 exclude_fn: Any = None) -> None:
        """Copy the ``.py`` files under ``root`` into ``<run dir>/code`` (as ``save_code`` with
        ``code_dir``; at most 200 files of 1 MB). ``name``, ``include_fn``, ``exclude_fn`` are
        accepted for wandb code."""
        if not self.disabled:
            from ._compat import _save_code

            _save_code(self, os.fspath(root))  # type: ignore[arg-type]

    def mark_preempting(self) -> None:
        """Record that the job is about to be preempted (kept in the run's meta as ``preempting``)."""
        if not self.disabled:
            self._enqueue_update({"meta_merge": {"preempting": time.time()}})  # type: ignore[attr-defined]

    def _log_text(self, step: int, values: dict[str, str]) -> None:
        from ._mask import masker

        hide = masker(getattr(self, "_mask", True))
        self._enqueue_event("text", {"step": step, "values": {k: hide(v) for k, v in values.items()}})  # type: ignore[attr-defined]

    def _compat_before_finish(self) -> None:
        """At a normal finish: re-copy ``live``/``end`` files; store define_metric summaries."""
        live = self.__dict__.pop("_w_live", None)
        if live is not None:
            live.stop()
        try:
            for src, (_rel, policy, _m) in list(self.__dict__.get("_w_saved", {}).items()):
                if policy in ("live", "end"):
                    self._copy_saved(src)
            if self.__dict__.get("_w_metrics"):
                from ._compat_files import metric_summaries

                values = metric_summaries(self, self.__dict__["_w_metrics"])
                if values:
                    self.summary._data.update(values)  # type: ignore[attr-defined]
                    self.summary._persist()  # type: ignore[attr-defined]
        except Exception as e:  # never fail finish() for a convenience
            from ._values import warn_once

            warn_once("compat-finish", f"tracker: could not store define_metric summaries ({type(e).__name__}: {e})")


class LiveFiles:
    """``save(policy="live")``: a daemon thread that re-copies the run's live files when their
    mtime or size changes, every ``POLL`` seconds, until ``finish()`` stops it (the final copy
    is then made by ``finish()`` itself)."""

    POLL = 2.0

    def __init__(self, run: Any) -> None:
        self.run = run
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="tracker-save-live", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.wait(self.POLL):
            if getattr(self.run, "_closed", False):
                return
            for src, (_rel, policy, _m) in list(self.run.__dict__.get("_w_saved", {}).items()):
                if policy == "live" and not self.stopped.is_set():
                    self.run._copy_saved(src)

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=10)


def match_metric(defs: dict[str, dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The definition for ``key``: an exact name first, then the first glob that matches."""
    if key in defs:
        return defs[key]
    for pat, spec in defs.items():
        if any(c in pat for c in "*?[") and fnmatch.fnmatchcase(key, pat):
            return spec
    return None
