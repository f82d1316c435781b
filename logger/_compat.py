"""``tracker.init()`` with every keyword wandb's ``init`` takes, and wandb's environment names.

``init`` here translates wandb's arguments to :func:`tracker._init.init` and applies what has a
meaning for a local store: ``entity`` (kept in the run's meta), ``mode`` (``"disabled"`` gives a
run that accepts every call and writes nothing), ``settings``, ``save_code``/``code_dir``,
``resume=True``/``"auto"`` (the id from ``TRACKER_RUN_ID``/``WANDB_RUN_ID``, else the last
unfinished run of this script in this project), ``config_include_keys``/``config_exclude_keys``
and wandb's string values of ``reinit``. Keywords with no meaning here (``anonymous``,
``magic``, ``monitor_gym``, ``force``, ``allow_val_change``...) are accepted and ignored; an
unknown keyword warns once. ``TRACKER_*`` environment variables come first, then wandb's.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from . import _state
from ._run import Config, DisabledRun, Run
from ._settings import Settings
from ._values import load_config_source, warn_once

#: wandb ``init`` keywords accepted with no effect here (no cloud, no account, no auto-logging).
IGNORED = frozenset({"anonymous", "magic", "monitor_gym", "force", "allow_val_change", "tensorboard",
                     "sync_tensorboard", "fork_from", "resume_from", "job_type_override", "reinit_previous"})
_MODES = ("online", "offline", "disabled", "shared", "dryrun", "run")
_CODE_MAX_FILES = 200
_CODE_MAX_BYTES = 1_000_000


def _env(*names: str) -> str | None:
    for n in names:
        v = os.environ.get(n)
        if v not in (None, ""):
            return v
    return None


def _truthy(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "true", "yes", "on")


def init(project: str | None = None, name: str | None = None, config: Any = None, tags: Any = None,
         group: str | None = None, job_type: str | None = None, notes: str | None = None,
         dir: str | os.PathLike[str] | None = None, resume: Any = None, id: str | None = None, *,
         entity: str | None = None, mode: str | None = None, settings: Any = None, save_code: bool | None = None,
         config_exclude_keys: Any = None, config_include_keys: Any = None, reinit: Any = False,
         **kwargs: Any) -> Run:
    """Start a run: tracker's :func:`tracker._init.init` keywords plus all of wandb's.

    See the module docstring for what each wandb keyword does here. Raises ``ValueError`` for a
    ``mode`` wandb does not know either.
    """
    s = settings if isinstance(settings, Settings) else Settings(**(dict(settings) if settings else {}))
    own: dict[str, Any] = {k: kwargs.pop(k) for k in ("mask_secrets", "strict", "capture_git", "flush_interval",
                                      "rank_zero_only", "system_interval", "console") if k in kwargs}
    for k in list(kwargs):
        if k not in IGNORED:
            warn_once(f"init-kw:{k}", f"tracker: init() keyword {k!r} is not known; it was ignored")
    mode = mode or s.mode or _env("TRACKER_MODE", "WANDB_MODE")
    if _truthy(_env("WANDB_DISABLED")):
        mode = "disabled"
    if mode is not None and str(mode) not in _MODES:
        raise ValueError(f"tracker: init(mode={mode!r}): use 'online', 'offline' or 'disabled'")
    project = project or s.project or _env("TRACKER_PROJECT", "WANDB_PROJECT")
    entity = entity or s.entity or _env("TRACKER_ENTITY", "WANDB_ENTITY")
    cfg = _filter_config(load_config_source(config), config_include_keys, config_exclude_keys)
    if mode == "disabled":
        return _disabled(project, name, cfg, entity, s)
    name = name or s.run_name or _env("TRACKER_NAME", "WANDB_NAME")
    group = group or s.run_group or _env("TRACKER_RUN_GROUP", "WANDB_RUN_GROUP")
    job_type = job_type or s.run_job_type or _env("TRACKER_JOB_TYPE", "WANDB_JOB_TYPE")
    notes = notes or s.run_notes or _env("TRACKER_NOTES", "WANDB_NOTES")
    if tags is None:
        tags = s.run_tags
    if tags is None and (t := _env("TRACKER_TAGS", "WANDB_TAGS")):
        tags = [x.strip() for x in t.split(",") if x.strip()]
    if resume is None:
        resume = s.resume
    id = id or s.run_id or _env("TRACKER_RUN_ID", "WANDB_RUN_ID")
    resume, id = _resume(resume, id, project, dir)
    _apply_settings(s, own)
    keep_both = reinit is True or reinit == "create_new"
    if reinit == "return_previous" and _state.current is not None:
        return _state.current
    if reinit in ("finish_previous", "default") and _state.current is not None:
        _state.current.finish()
    from ._init import init as _init

    fork = _fork_parent(kwargs, dir)
    if fork is not None and id is not None and id == fork[1]:
        raise ValueError(f"tracker: init({fork[0]}=...) names run {id!r} itself: a fork is a new run (another id)")
    started = time.time()
    run = _init(project, name, cfg, tags, group, job_type, notes, dir, resume, id, reinit=keep_both, **own)
    run._start_time = started
    run._entity = entity
    run._settings = s
    run._mode = mode or "online"
    if run.disabled:  # a rank that does not log (rank_zero_only=True): nothing to store
        return run
    if fork is not None:
        from ._compat_fork import apply

        apply(run, *fork)
    meta = {k: v for k, v in (("entity", entity), ("mode", mode)) if v}
    if meta:
        run._enqueue_update({"meta_merge": meta})
    if kwargs.get("sync_tensorboard") or kwargs.get("tensorboard") or s.sync_tensorboard:
        from .tensorboard import patch

        patch(root_logdir=s.root_logdir)
    if save_code if save_code is not None else (s.save_code or s.code_dir):
        _save_code(run, s.code_dir)
    return run


def _fork_parent(kwargs: dict[str, Any], dir: Any) -> tuple[str, str, int, list[Any]] | None:
    """``fork_from`` / ``resume_from``: the parent's points, read before the run is created."""
    given = [k for k in ("fork_from", "resume_from") if kwargs.get(k)]
    if not given:
        return None
    if len(given) > 1:
        raise ValueError("tracker: init(): fork_from and resume_from cannot both be given")
    from ._compat_fork import parent_points, parse

    kind = given[0]
    parent, step = parse(kind, kwargs[kind])
    full_id, points = parent_points(dir, kind, parent, step)
    return kind, full_id, step, points


def _filter_config(cfg: dict[str, Any], include: Any, exclude: Any) -> dict[str, Any]:
    if include:
        keep = set(include)
        cfg = {k: v for k, v in cfg.items() if k in keep}
    if exclude:
        drop = set(exclude)
        cfg = {k: v for k, v in cfg.items() if k not in drop}
    return cfg


def _disabled(project: str | None, name: str | None, cfg: dict[str, Any], entity: str | None,
              s: Settings) -> Run:
    run = NoopRun(project=str(project or "uncategorized"), rank=None)
    run.config = Config(None, cfg)
    run.name = name or "disabled"
    run._entity = entity
    run._settings = s
    run._mode = "disabled"
    run._start_time = time.time()
    with _state.lock:
        _state.current = run
    return run


class NoopRun(DisabledRun):
    """``init(mode="disabled")``: every method works, nothing is written, no store is opened."""

    def finish(self, exit_code: int | None = 0, quiet: bool | None = None, *, timeout: float | None = None,
               error: str | None = None) -> None:
        self._closed = True
        with _state.lock:
            if _state.current is self:
                _state.current = None


def _resume(resume: Any, id: str | None, project: str | None, dir: Any) -> tuple[Any, str | None]:
    """wandb's ``resume=True``/``"auto"``: the given id with ``"allow"``, else the last run of
    this script in this project if it did not finish (a crashed or killed run continues)."""
    if resume is False:
        return None, id
    if resume is not True and resume != "auto":
        return resume, id
    if id is not None:
        return "allow", id
    from tracker.store import Store, StoreError, resolve_dir

    script = sys.argv[0] if sys.argv else ""
    try:
        store = Store(resolve_dir(dir), create=False)
    except StoreError:
        return None, None
    try:
        recs = store.runs(str(project or os.environ.get("TRACKER_PROJECT") or "uncategorized"), with_metrics=False)
    finally:
        store.close()
    mine = [r for r in recs if r.argv[1:2] == [script]]  # argv is stored after the interpreter
    mine.sort(key=lambda r: r.created_at)
    if mine and mine[-1].state != "finished":
        return "allow", mine[-1].id
    return None, None


def _apply_settings(s: Settings, own: dict[str, Any]) -> None:
    if s.console is not None and "console" not in own:
        own["console"] = str(s.console).lower() not in ("off", "false", "0")
    elif "console" not in own and (c := os.environ.get("WANDB_CONSOLE")) and "TRACKER_CONSOLE" not in os.environ:
        own["console"] = c.strip().lower() not in ("off", "false", "0")
    interval = s.x_stats_sampling_interval or s._stats_sample_rate_seconds
    if interval is not None and "system_interval" not in own:
        own["system_interval"] = float(interval)
    if (s.x_disable_stats or s._disable_stats) and "system_interval" not in own:
        own["system_interval"] = None
    if s.disable_git and "capture_git" not in own:
        own["capture_git"] = False


def _save_code(run: Run, code_dir: Any) -> None:
    """Copy the source files into ``<run dir>/code``: the ``.py`` files under ``code_dir``, else
    the main script (at most 200 files of 1 MB)."""
    import shutil

    files: list[tuple[Path, str]] = []
    if code_dir:
        root = Path(code_dir)
        for p in sorted(root.rglob("*.py")):
            if ".venv" in p.parts or "site-packages" in p.parts or any(x.startswith(".") for x in p.relative_to(root).parts):
                continue
            files.append((p, str(p.relative_to(root))))
            if len(files) >= _CODE_MAX_FILES:
                break
    elif sys.argv and sys.argv[0] and Path(sys.argv[0]).is_file():
        p = Path(sys.argv[0])
        files.append((p, p.name))
    dest = Path(run.dir) / "code"
    saved = []
    for src, rel in files:
        try:
            if src.stat().st_size > _CODE_MAX_BYTES:
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out)
            saved.append(rel)
        except OSError as e:
            warn_once(f"save-code:{src}", f"tracker: could not save {src} with the run ({e})")
    if saved:
        run._enqueue_event("code_files", {"files": saved})
