"""``tracker.init()``: open (or resume) a run, start its helpers; and the module-level API.

``init`` normalises its arguments, opens the store's writer for this process, creates or
resumes the run row under the state lock, installs the process hooks (:mod:`._hooks`) and then
starts the optional helpers: system metrics (:mod:`._system`), console capture
(:mod:`._console`) and git facts (:mod:`._env`), each in the background and never fatal.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import _hooks, _state
from ._env import git_info, host_info
from ._mask import mask_argv, mask_text, masker
from ._mask import mask_secrets as _mask_config
from ._run import DisabledRun, Run
from ._values import clean_text, dumps, jsonable, load_config_source, warn_once
from ._writer import Control, Writer

_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_RESUME_MODES = (None, "allow", "must", "never", "auto")


@dataclass
class _Spec:
    """What ``init()`` was asked for, normalised (config loaded, tags a list of strings)."""

    project: str
    name: str | None
    group: str | None
    job_type: str | None
    notes: str | None
    tags: list[str]
    config: dict[str, Any]  # as given, for ``run.config``
    stored_config: dict[str, Any]  # JSON-ready and masked when asked: what the store gets
    mask: bool
    strict: bool

    def stored_tags(self) -> list[str]:
        return [masker(self.mask)(t) for t in self.tags]

    def stored_notes(self) -> str | None:
        return None if self.notes is None else masker(self.mask)(str(self.notes))


def init(project: str | None = None, name: str | None = None, config: Any = None,
         tags: Any = None, group: str | None = None, job_type: str | None = None,
         notes: str | None = None, dir: str | os.PathLike[str] | None = None, resume: str | None = None,
         id: str | None = None, *, mask_secrets: bool | None = None, strict: bool = False,
         reinit: bool = False, capture_git: bool = True, flush_interval: float | None = None,
         rank_zero_only: bool = False, system_interval: float | None = 10.0,
         console: bool | None = None) -> Run:
    """Start (or resume) a run and make it the current one.

    Args:
        project: project name (default ``$TRACKER_PROJECT`` or ``"uncategorized"``).
        name: display name (default ``adjective-noun-N``).
        config: dict, argparse.Namespace, dataclass instance or path to a YAML/JSON file.
        tags: list of strings.
        group, job_type, notes: free text.
        dir: store directory (default ``$TRACKER_DIR``, then ``~/.tracker``).
        resume: a run id to append to, or ``"allow"`` (with ``id=``) to create or resume,
            ``"must"`` (with ``id=``) to require an existing run, ``"never"`` to require a new one.
        id: the run id to use (default: a fresh 8-character id).
        mask_secrets: mask secret-looking config values before storing them (default True;
            ``TRACKER_MASK_SECRETS=0`` turns it off).
        strict: raise :class:`RunFinishedError` on ``log()`` after ``finish()`` instead of warning.
        reinit: keep the current run open and start another one alongside it (default: the
            current run is finished first, with a warning).
        capture_git: record git commit / branch / dirty flag (in the background).
        flush_interval: seconds between commits (default 0.25).
        system_interval: seconds between samples of CPU, memory, disk, network and GPU metrics
            (stored as ``system/...``); ``0`` or ``None`` (or ``TRACKER_SYSTEM=0``) turns it off.
        console: capture this process's stdout and stderr (tee'd, never swallowed) with the run
            (default on; ``False`` or ``TRACKER_CONSOLE=0`` turns it off).
        rank_zero_only: in a distributed job (``RANK`` / ``SLURM_PROCID`` set and not 0), return a
            run that accepts every call and records nothing, so only rank 0 logs.

    Raises:
        StoreDirError: the store directory cannot be used (the message names it and TRACKER_DIR).
        StoreVersionError: the store was written by a newer tracker.
    """
    if rank_zero_only:
        rank = os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")).strip()
        if rank not in ("", "0"):
            return DisabledRun(project=_project(project), rank=int(rank) if rank.isdigit() else None)
    spec = _spec(project, name, config, tags, group, job_type, notes, mask_secrets, strict)
    sweep_trial = "TRACKER_SWEEP_TRIAL" in os.environ  # started by a sweep agent: its params win
    if sweep_trial:
        from . import _sweep

        spec = _sweep.apply_to_spec(spec)
    cur = _state.current
    if cur is not None and not reinit:
        warn_once(f"reinit:{cur.id}", f"tracker: init() called while run {cur.id} is active; finishing it first "
                  "(pass reinit=True to keep both open)")
        cur.finish()
    writer = _writer_for(dir, flush_interval)
    info = host_info()
    run_id, resume = _resolve_id(resume, id)
    with _state.lock:
        run = _open_run(writer, spec, run_id, resume, info)
        writer.active.add(run._rid)
        writer.run_info[run._rid] = {"run_id": run.id, "run_name": run.name, "project": run.project}
        _state.active.append(run)
        _state.current = run
    if sweep_trial:
        _sweep.attach(run)
    _hooks.install()
    _start_helpers(run, system_interval, console)
    if capture_git:
        run._git_thread = threading.Thread(target=_capture_git, args=(run, info["cwd"]), name="tracker-git",
                                           daemon=True)
        run._git_thread.start()
    return run


def _project(project: str | None) -> str:
    return str(project or os.environ.get("TRACKER_PROJECT") or "uncategorized")


def _spec(project: str | None, name: str | None, config: Any, tags: Any, group: str | None,
          job_type: str | None, notes: str | None, mask_secrets: bool | None, strict: bool) -> _Spec:
    cfg = load_config_source(config)  # a bad config fails before anything else happens
    if mask_secrets is None:
        mask_secrets = os.environ.get("TRACKER_MASK_SECRETS", "1") not in ("0", "false", "no")
    stored_cfg = jsonable(cfg)
    if mask_secrets:
        stored_cfg = _mask_config(stored_cfg)
    if tags is None:
        tags = []
    elif isinstance(tags, str):
        tags = [tags]

    def text(v: Any, what: str) -> Any:  # lone surrogates -> U+FFFD, with a warning naming the field
        return v if v is None else clean_text(str(v), what)

    return _Spec(project=text(_project(project), "the project"), name=text(name, "the run name"),
                 group=text(group, "the group"), job_type=text(job_type, "the job type"),
                 notes=text(notes, "the notes"), tags=[text(t, "a tag") for t in tags], config=cfg,
                 stored_config=stored_cfg, mask=mask_secrets, strict=strict)


def _resolve_id(resume: str | None, id: str | None) -> tuple[str | None, str | None]:
    """(run id, resume mode): ``resume="<run id>"`` means that id with ``"must"``."""
    run_id = id
    if resume not in _RESUME_MODES and run_id is None:
        run_id, resume = str(resume), "must"
    elif resume not in _RESUME_MODES:
        raise ValueError(f"tracker: resume={resume!r} conflicts with id={id!r}")
    if run_id is not None and not _RUN_ID.fullmatch(str(run_id)):
        raise ValueError(
            f"tracker: run id {str(run_id)[:80]!r} is not valid: use 1-64 letters, digits, '-' or '_'"
        )
    return run_id, resume


def _open_run(writer: Writer, spec: _Spec, run_id: str | None, resume: str | None,
              info: dict[str, Any]) -> Run:
    """Create the run row, or resume the existing one as ``resume`` allows (under the state lock)."""
    from tracker.store import RunNotFound, StoreError

    store = writer.store
    exists = run_id is not None and store.find_run_id(run_id)
    if resume == "must" and not exists:
        raise RunNotFound(f"tracker: cannot resume run {run_id!r}: no such run in {store.path}")
    if resume == "never" and exists:
        raise StoreError(f"tracker: run {run_id!r} already exists in {store.path}")
    if exists and resume is None:
        raise StoreError(f"tracker: run {run_id!r} already exists; pass resume='allow' to append to it")
    if exists:
        assert run_id is not None
        return _resume_run(writer, spec, run_id, info)
    rid, new_id, run_name = store.create_run(
        id=run_id, project=spec.project, name=spec.name, group=spec.group, job_type=spec.job_type,
        tags=spec.stored_tags(), notes=spec.stored_notes(), config_json=dumps(spec.stored_config), host=info["host"],
        pid=info["pid"], pid_start=_pid_start(info), user=info["user"],
        argv=_masked_argv(info["argv"], spec.mask), python=info["python"], cwd=info["cwd"], meta=_meta(),
    )
    return Run(writer=writer, rid=rid, id=new_id, name=run_name, project=spec.project, group=spec.group,
               job_type=spec.job_type, tags=spec.tags, notes=spec.notes, config=spec.config, start_step=0,
               mask=spec.mask, strict=spec.strict)


def _pid_start(info: dict[str, Any]) -> Any:
    from tracker.store import process_start_marker

    return process_start_marker(info["pid"])


def _resume_run(writer: Writer, spec: _Spec, run_id: str, info: dict[str, Any]) -> Run:
    """Append to an existing run: its stored facts, overridden by what this ``init()`` gave."""
    rid, rec, max_step = writer.store.resume_run(run_id, host=info["host"], pid=info["pid"],
                                                 pid_start=_pid_start(info))
    merged = dict(rec.config)
    merged.update(spec.stored_config)
    start = 0 if max_step is None else max_step + 1
    run = Run(writer=writer, rid=rid, id=rec.id, name=spec.name or rec.name, project=rec.project,
              group=spec.group or rec.group, job_type=spec.job_type or rec.job_type,
              tags=spec.tags or rec.tags, notes=spec.notes or rec.notes, config={**rec.config, **spec.config},
              start_step=start, mask=spec.mask, strict=spec.strict)
    upd: dict[str, Any] = {"config": dumps(merged)}
    if spec.name:
        upd["name"] = spec.name
    if spec.tags:
        upd["tags"] = dumps(spec.stored_tags())
    if spec.notes:
        upd["notes"] = spec.stored_notes()
    run._enqueue_update(upd)
    run.summary._data.update(rec.summary_overrides)
    return run


def _masked_argv(argv: list[str], mask: bool) -> list[str]:
    return mask_argv(argv) if mask else argv


def _meta() -> dict[str, Any]:
    meta: dict[str, Any] = {"platform": sys.platform, "executable": sys.executable}
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "SLURM_JOB_ID", "CUDA_VISIBLE_DEVICES"):
        if k in os.environ:
            meta[k.lower()] = os.environ[k]
    # torchrun sets RANK / WORLD_SIZE; under srun alone SLURM_PROCID / SLURM_NTASKS say the same
    for key, names in (("rank", ("RANK", "SLURM_PROCID")), ("world_size", ("WORLD_SIZE", "SLURM_NTASKS")),
                       ("local_rank", ("LOCAL_RANK", "SLURM_LOCALID"))):
        for n in names:
            v = os.environ.get(n, "").strip()
            if v.isdigit():
                meta[key] = int(v)
                break
    return meta


def _env_off(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("0", "false", "no", "off")


def _start_helpers(run: Run, system_interval: float | None, console: bool | None) -> None:
    """System sampler and console capture: both optional, both never fatal to training."""
    if system_interval and system_interval > 0 and not _env_off("TRACKER_SYSTEM"):
        try:
            from ._system import SystemSampler

            def emit(values: dict[str, float], ts: float) -> None:
                if run._closed or not values:
                    return
                keys = tuple(values)
                step = run._max_step if run._max_step >= 0 else 0
                run._q.append((run._rid, step, ts, keys, tuple(values[k] for k in keys)))

            run._sampler = SystemSampler(emit, float(system_interval)).start()
        except Exception as e:  # the sampler is a convenience: say why it is off, go on
            warn_once("system-sampler", f"tracker: system metrics are off ({type(e).__name__}: {e})")
    if console is None:
        console = not _env_off("TRACKER_CONSOLE")
    if console and not any(r._console is not None for r in _state.active if r is not run):
        try:
            from ._console import ConsoleCapture

            hide = masker(run._mask)

            def emit_lines(lines: list[tuple[float, str, str]]) -> None:
                if lines:
                    lines = [(t, stream, hide(text)) for t, stream, text in lines]
                    run._q.append(Control(event=(run._rid, lines[-1][0], "console",
                                                 dumps({"lines": [list(x) for x in lines]}))))

            run._console = ConsoleCapture(emit_lines).start()
        except Exception as e:  # e.g. no usable stdout: output still goes where it went
            warn_once("console-capture", f"tracker: console capture is off ({type(e).__name__}: {e})")


def _capture_git(run: Run, cwd: str | None) -> None:
    info = git_info(cwd)
    if not info:
        return
    if run._mask and "git_diff" in info:  # a .env or config file with a key in it, uncommitted
        info["git_diff"] = mask_text(info["git_diff"])
    code = {k: info.pop(k) for k in ("git_remote", "git_diff", "git_root") if k in info}
    run._enqueue_update(info)
    if code:
        # The diff can be large: an event read only by whoever opens the run, not in every row.
        run._enqueue_event("code", {k[4:]: v for k, v in code.items()})


def _writer_for(dir: Any, flush_interval: float | None) -> Writer:
    from tracker.store import Store, resolve_dir

    key = str(resolve_dir(dir).expanduser().absolute())
    with _state.lock:
        w = _state.writers.get(key)
        if w is not None and not w.dead and w.pid == os.getpid():
            return w
        store = Store(dir, create=True)
        w = Writer(store, flush_interval or float(os.environ.get("TRACKER_FLUSH_INTERVAL", "0.25")))
        _state.writers[key] = w
        return w



# ---------------------------------------------------------------------- module-level API
def current() -> Run | None:
    return _state.current


def log(data: Mapping[str, Any], step: Any = None, commit: bool | None = None) -> None:
    """``log()`` on the current run."""
    run = _state.current or _state.forked_current
    if run is None:
        raise RuntimeError("tracker: no active run; call tracker.init() first")
    run.log(data, step=step, commit=commit)


def finish(exit_code: int | None = 0, quiet: bool | None = None) -> None:
    """``finish()`` the current run (no-op when there is none)."""
    run = _state.current
    if run is not None:
        run.finish(exit_code or 0)
