"""``tracker.init`` and the ``Run`` it returns: wandb's names, a local SQLite store."""

from __future__ import annotations

import atexit
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from itertools import count
from pathlib import Path
from typing import Any

from ._env import git_info, host_info
from ._values import (
    INT64_MAX,
    INT64_MIN,
    dumps,
    jsonable,
    load_config_source,
    normalize_metrics,
    normalize_step,
    warn_once,
)
from ._values import (
    mask_secrets as _mask_config,
)
from ._writer import MAX_PENDING, WAKE_AT, Control, Writer

_FAST_TYPES = frozenset({float, int, bool})
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Distinct metric keys in one run past which a one-time warning is given (RELIABILITY.md B6).
MAX_KEYS_WARN = 10_000
_time = time.time

_lock = threading.RLock()
_writers: dict[str, Writer] = {}  # one writer per store path in this process
_active: list[Run] = []
_current: Run | None = None
_exit_code: int | None = None
_exit_error: str | None = None
_hooks_installed = False
_prev_signal: dict[int, Any] = {}
_forked_current: Run | None = None  # in a forked child: the parent's run (log() warns, ignores)


class RunFinishedError(RuntimeError):
    """``log()`` on a finished run when ``strict=True``."""


class Config(Mapping[str, Any]):
    """A run's config: ``config.lr``, ``config["lr"]``, ``config.update({...})``.

    Values are kept as given in this process; what is stored is converted to JSON and has
    secret-looking values masked (unless the run was created with ``mask_secrets=False``).
    """

    def __init__(self, run: Run | None, data: dict[str, Any]) -> None:
        object.__setattr__(self, "_run", run)
        object.__setattr__(self, "_data", data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, other: Any = None, **kw: Any) -> None:  # type: ignore[override]
        """Merge keys into the config and store it."""
        data = load_config_source(other) if other is not None else {}
        data.update(kw)
        self._data.update(data)
        if self._run is not None:
            self._run._store_config()

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"


class Summary(Mapping[str, Any]):
    """Values set with ``run.summary[k] = v`` override a metric's last value for readers."""

    def __init__(self, run: Run | None) -> None:
        self._run = run
        self._data: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._persist()

    def update(self, other: Mapping[str, Any] | None = None, **kw: Any) -> None:  # type: ignore[override]
        for k, v in dict(other or {}, **kw).items():
            self._data[str(k)] = jsonable(v, str(k))
        self._persist()

    def _persist(self) -> None:
        if self._run is not None:
            self._run._enqueue_update({"summary": dumps(self._data)})

    def __repr__(self) -> str:
        return f"Summary({self._data!r})"


class Run:
    """A run being logged by this process. Create it with :func:`tracker.init`."""

    def __init__(self, *, writer: Writer, rid: int, id: str, name: str, project: str, group: str | None,
                 job_type: str | None, tags: list[str], notes: str | None, config: dict[str, Any],
                 start_step: int, mask: bool, strict: bool) -> None:
        self._writer = writer
        self._q = writer.q
        self._wake = writer.wake
        self._rid = rid
        self.id = id
        self.name = name
        self.project = project
        self.group = group
        self.job_type = job_type
        self.tags = tuple(tags)
        self.notes = notes
        self._mask = mask
        self._strict = strict
        self.config = Config(self, config)
        self.summary = Summary(self)
        self._counter = count(start_step)
        self._held: int | None = None
        self._max_step = start_step - 1
        self._keys: tuple[str, ...] = ()
        self._seen_keys: set[str] = set()
        self._final_state: str | None = None
        self._git_thread: threading.Thread | None = None
        self._sampler: Any = None
        self._console: Any = None
        self._closed = False
        self._forked = False
        self._finishing = False
        self._pid = os.getpid()

    # ------------------------------------------------------------------ properties
    @property
    def dir(self) -> str:
        """A private directory for this run's files: ``<store>/runs/<id>``."""
        d = Path(self._writer.store.dir) / "runs" / self.id
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        return str(d)

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` will use."""
        return self._held if self._held is not None else self._max_step + 1

    @property
    def state(self) -> str:
        """``running`` until finished; then ``finished`` or ``failed`` as stored."""
        return self._final_state or ("finished" if self._closed else "running")

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.name!r} project={self.project!r}>"

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.finish(exit_code=0)
        else:
            code = 130 if issubclass(exc_type, KeyboardInterrupt) else 1
            if issubclass(exc_type, SystemExit):
                c = exc.code
                code = c if isinstance(c, int) else (0 if c is None else 1)
            self.finish(exit_code=code, error=None if code == 0 else f"{exc_type.__name__}: {exc}")

    # ------------------------------------------------------------------ logging
    def log(self, data: Mapping[str, Any], step: Any = None, commit: bool | None = None) -> None:
        """Queue metric values for ``step`` and return at once.

        Args:
            data: metric name -> number (int, float, bool, NumPy scalar, 0-d tensor...).
                A value that is not a scalar is skipped with a warning naming the key.
            step: the step; default: one more than the last step. Steps may repeat or go
                backwards: every point is stored (with a one-time warning).
            commit: ``False`` keeps the step open so the next ``log()`` uses it too.
        """
        if self._closed:
            self._log_closed()
            return
        if type(data) is not dict:
            if isinstance(data, Mapping):
                data = dict(data)
            elif data is None:
                return
            else:
                raise TypeError(
                    f"tracker: log() takes a dict of metric name -> number, got {type(data).__name__} {data!r:.60}"
                )
        if not data:
            return
        vals = tuple(data.values())
        types = set(map(type, vals))
        keys = tuple(data)
        cached = self._keys  # read once: another thread may replace it meanwhile
        if not (types <= _FAST_TYPES and (int not in types or _ints_fit(vals))
                and (keys == cached or self._keys_ok(keys))):
            keys, vals = normalize_metrics(data)
            if not keys:
                return
        elif keys == cached:
            keys = cached  # share one tuple per key set: less memory per queued call
        if step is None:
            held = self._held
            if held is None:
                step = next(self._counter)
                if step > self._max_step:
                    self._max_step = step
            else:
                step = held
            self._held = step if commit is False else None
        else:
            step = self._explicit_step(step, commit)
        q = self._q
        q.append((self._rid, step, _time(), keys, vals))
        n = len(q)
        if n >= WAKE_AT:
            self._wake.set()
            if n > MAX_PENDING:
                self._writer.backpressure()

    def _keys_ok(self, keys: tuple[str, ...]) -> bool:
        for k in keys:
            if type(k) is not str or len(k) > 250 or k in ("_step", "_timestamp"):
                return False
        self._keys = keys
        seen = self._seen_keys
        if len(seen) <= MAX_KEYS_WARN:
            seen.update(keys)
            if len(seen) > MAX_KEYS_WARN:
                warn_once(
                    f"cardinality:{self.id}",
                    f"tracker: run {self.id} has logged more than {MAX_KEYS_WARN:,} distinct metric names; "
                    "every name is kept, but tables and charts get slow (log per-item values as one metric "
                    "with a step, or aggregate them)",
                )
        return True

    def _explicit_step(self, step: Any, commit: bool | None) -> int:
        s = normalize_step(step)
        if s < self._max_step:
            warn_once(
                f"backstep:{self.id}",
                f"tracker: run {self.id}: step {s} is lower than step {self._max_step} logged before; "
                "all points are kept (readers sort by step; for one step, the last value logged wins)",
            )
        else:
            self._max_step = s
        self._counter = count(max(s, self._max_step) + 1)
        self._held = s if commit is False else None
        return s

    def _log_closed(self) -> None:
        if self._forked:
            warn_once(
                f"forked:{self.id}:{os.getpid()}",
                f"tracker: run {self.id} was started in process {self._pid}; log() from the forked child "
                f"{os.getpid()} is ignored. Log from the parent, or call tracker.init() in the child.",
            )
            return
        if self._strict:
            raise RunFinishedError(f"tracker: run {self.id} is finished; log() is not allowed")
        warn_once(f"closed:{self.id}", f"tracker: run {self.id} is finished; log() after finish() was ignored")

    def alert(self, title: str, text: str = "", level: str = "INFO") -> None:
        """Store an alert on the run (shown in the app; run through ``$TRACKER_ALERT_CMD``).

        Args:
            title: short headline.
            text: details.
            level: ``"INFO"``, ``"WARN"`` or ``"ERROR"``.
        """
        lv = str(level).upper()
        lv = {"WARNING": "WARN", "ERR": "ERROR"}.get(lv, lv)
        if lv not in ("INFO", "WARN", "ERROR"):
            raise ValueError(f"tracker: alert level must be INFO, WARN or ERROR, got {level!r}")
        self._enqueue_event("alert", {"title": str(title), "text": str(text), "level": lv,
                                      "step": self._max_step if self._max_step >= 0 else None})

    # ------------------------------------------------------------------ updates
    def _enqueue_update(self, fields: dict[str, Any]) -> None:
        if self._closed and not self._finishing:
            return
        self._q.append(Control(rid=self._rid, fields=fields))

    def _enqueue_event(self, kind: str, data: dict[str, Any]) -> None:
        if self._closed and not self._finishing:
            return
        self._q.append(Control(event=(self._rid, _time(), kind, dumps(data))))

    def _store_config(self) -> None:
        data = jsonable(dict(self.config._data))
        if self._mask:
            data = _mask_config(data)
        self._enqueue_update({"config": dumps(data)})

    def set_tags(self, tags: list[str]) -> None:
        self.tags = tuple(str(t) for t in tags)
        self._enqueue_update({"tags": dumps(list(self.tags))})

    # ------------------------------------------------------------------ finish
    def finish(self, exit_code: int = 0, *, timeout: float | None = None, error: str | None = None) -> None:
        """Write everything queued, mark the run ``finished`` (or ``failed`` for a non-zero
        exit code) and stop accepting ``log()``. Safe to call twice."""
        self._finish(exit_code, timeout=timeout, error=error)

    def _finish(self, exit_code: int, *, timeout: float | None = None, error: str | None = None,
                signame: str | None = None) -> None:
        global _current
        with _lock:
            if self._closed or self._forked:
                return
            self._finishing = True
        gt = self._git_thread
        if gt is not None and gt is not threading.current_thread():
            gt.join(3.0)  # git facts of a short run must not be lost
        for helper in (self._sampler, self._console):
            if helper is not None:
                try:
                    helper.stop()  # the console's last lines are queued before the final flush
                except Exception:  # stopping a helper must never fail finish()
                    pass
        self._sampler = self._console = None
        with _lock:
            self._closed = True
        if timeout is None:
            timeout = float(os.environ.get("TRACKER_FINISH_TIMEOUT", "60"))
        state = "finished" if exit_code == 0 else "failed"
        self._final_state = state
        fields: dict[str, Any] = {"state": state, "exit_code": int(exit_code), "finished_at": _time()}
        meta_extra = {k: v for k, v in (("error", error), ("signal", signame)) if v}
        if meta_extra:
            fields["meta_merge"] = meta_extra
        self._q.append(Control(rid=self._rid, fields=fields))
        ok = self._writer.flush(timeout)
        self._finishing = False
        self._writer.active.discard(self._rid)
        with _lock:
            if self in _active:
                _active.remove(self)
            if _current is self:
                _current = None
        if not ok:
            print(
                f"tracker: run {self.id}: the store {self._writer.store.path} did not accept the last "
                f"writes within {timeout:.0f} s ({self._writer.last_error or 'unknown reason'}); "
                f"{len(self._writer.q)} queued calls may be lost.",
                file=sys.stderr,
            )


class DisabledRun(Run):
    """What ``init(rank_zero_only=True)`` returns on ranks other than 0: every call is accepted
    and nothing is recorded (no store is opened)."""

    def __init__(self, project: str, rank: int | None) -> None:  # noqa: D107 - no store behind it
        self.id = ""
        self.name = f"rank-{rank}" if rank is not None else "disabled"
        self.project = project
        self.group = self.job_type = self.notes = None
        self.tags = ()
        self.rank = rank
        self.config = Config(None, {})
        self.summary = Summary(None)
        self._closed = False
        self._final_state = None
        self._held = None
        self._max_step = -1

    @property
    def dir(self) -> str:
        raise RuntimeError("tracker: this rank does not log (rank_zero_only=True): it has no run directory")

    def log(self, data: Any, step: Any = None, commit: bool | None = None) -> None:
        return None

    def alert(self, title: str, text: str = "", level: str = "INFO") -> None:
        return None

    def finish(self, exit_code: int = 0, *, timeout: float | None = None, error: str | None = None) -> None:
        self._closed = True


def _ints_fit(vals: tuple[Any, ...]) -> bool:
    for v in vals:
        if type(v) is int and not INT64_MIN <= v <= INT64_MAX:
            return False
    return True


# ---------------------------------------------------------------------- init
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
    global _current
    from tracker.store import RunNotFound, StoreError, process_start_marker

    if rank_zero_only:
        rank = os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0"))
        if rank.strip() not in ("", "0"):
            return DisabledRun(project=str(project or os.environ.get("TRACKER_PROJECT") or "uncategorized"),
                               rank=int(rank) if rank.strip().isdigit() else None)

    cfg = load_config_source(config)  # a bad config fails before anything else happens
    if mask_secrets is None:
        mask_secrets = os.environ.get("TRACKER_MASK_SECRETS", "1") not in ("0", "false", "no")
    stored_cfg = jsonable(cfg)
    if mask_secrets:
        stored_cfg = _mask_config(stored_cfg)
    if _current is not None and not reinit:
        warn_once(f"reinit:{_current.id}", f"tracker: init() called while run {_current.id} is active; finishing it first "
                  "(pass reinit=True to keep both open)")
        _current.finish()
    project = str(project or os.environ.get("TRACKER_PROJECT") or "uncategorized")
    if tags is None:
        tags = []
    elif isinstance(tags, str):
        tags = [tags]
    tags = [str(t) for t in tags]

    writer = _writer_for(dir, flush_interval)
    store = writer.store
    info = host_info()
    pid_start = process_start_marker(info["pid"])
    run_id = id
    if resume not in (None, "allow", "must", "never", "auto") and run_id is None:
        run_id, resume = str(resume), "must"
    elif resume not in (None, "allow", "must", "never", "auto"):
        raise ValueError(f"tracker: resume={resume!r} conflicts with id={id!r}")
    if run_id is not None and not _RUN_ID.fullmatch(str(run_id)):
        raise ValueError(
            f"tracker: run id {str(run_id)[:80]!r} is not valid: use 1-64 letters, digits, '-' or '_'"
        )
    with _lock:
        exists = run_id is not None and store.find_run_id(run_id)
        if resume == "must" and not exists:
            raise RunNotFound(f"tracker: cannot resume run {run_id!r}: no such run in {store.path}")
        if resume == "never" and exists:
            raise StoreError(f"tracker: run {run_id!r} already exists in {store.path}")
        if exists and resume is None:
            raise StoreError(f"tracker: run {run_id!r} already exists; pass resume='allow' to append to it")
        if exists:
            rid, rec, max_step = store.resume_run(run_id, host=info["host"], pid=info["pid"], pid_start=pid_start)
            merged = dict(rec.config)
            merged.update(stored_cfg)
            start = 0 if max_step is None else max_step + 1
            run = Run(writer=writer, rid=rid, id=rec.id, name=name or rec.name, project=rec.project,
                      group=group or rec.group, job_type=job_type or rec.job_type, tags=tags or rec.tags,
                      notes=notes or rec.notes, config={**rec.config, **cfg}, start_step=start,
                      mask=mask_secrets, strict=strict)
            upd: dict[str, Any] = {"config": dumps(merged)}
            if name:
                upd["name"] = name
            if tags:
                upd["tags"] = dumps(tags)
            if notes:
                upd["notes"] = notes
            run._enqueue_update(upd)
            run.summary._data.update(rec.summary_overrides)
        else:
            rid, run_id, run_name = store.create_run(
                id=run_id, project=project, name=name, group=group, job_type=job_type, tags=tags,
                notes=notes, config_json=dumps(stored_cfg), host=info["host"], pid=info["pid"],
                pid_start=pid_start, user=info["user"], argv=_masked_argv(info["argv"], mask_secrets),
                python=info["python"], cwd=info["cwd"], meta=_meta(),
            )
            run = Run(writer=writer, rid=rid, id=run_id, name=run_name, project=project, group=group,
                      job_type=job_type, tags=tags, notes=notes, config=cfg, start_step=0,
                      mask=mask_secrets, strict=strict)
        writer.active.add(rid)
        writer.run_info[rid] = {"run_id": run.id, "run_name": run.name, "project": run.project}
        _active.append(run)
        _current = run
    _install_hooks()
    _start_helpers(run, system_interval, console)
    if capture_git:
        run._git_thread = threading.Thread(target=_capture_git, args=(run, info["cwd"]), name="tracker-git",
                                           daemon=True)
        run._git_thread.start()
    return run


def _masked_argv(argv: list[str], mask: bool) -> list[str]:
    if not mask:
        return argv
    from ._values import is_secret_key
    from ._values import mask as mask_value

    out = []
    hide_next = False
    for a in argv:
        if hide_next:
            out.append(mask_value(a))
            hide_next = False
            continue
        if a.startswith("-") and "=" in a:
            k, v = a.split("=", 1)
            out.append(f"{k}={mask_value(v)}" if is_secret_key(k.lstrip("-")) else a)
        elif a.startswith("-") and is_secret_key(a.lstrip("-")):
            out.append(a)
            hide_next = True
        else:
            out.append(_mask_config(a))
    return out


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
    if console and not any(r._console is not None for r in _active if r is not run):
        try:
            from ._console import ConsoleCapture

            def emit_lines(lines: list[tuple[float, str, str]]) -> None:
                if lines:
                    run._q.append(Control(event=(run._rid, lines[-1][0], "console",
                                                 dumps({"lines": [list(x) for x in lines]}))))

            run._console = ConsoleCapture(emit_lines).start()
        except Exception as e:  # e.g. no usable stdout: output still goes where it went
            warn_once("console-capture", f"tracker: console capture is off ({type(e).__name__}: {e})")


def _capture_git(run: Run, cwd: str | None) -> None:
    info = git_info(cwd)
    if not info:
        return
    code = {k: info.pop(k) for k in ("git_remote", "git_diff", "git_root") if k in info}
    run._enqueue_update(info)
    if code:
        # The diff can be large: an event read only by whoever opens the run, not in every row.
        run._enqueue_event("code", {k[4:]: v for k, v in code.items()})


def _writer_for(dir: Any, flush_interval: float | None) -> Writer:
    from tracker.store import Store, resolve_dir

    key = str(resolve_dir(dir).expanduser().absolute())
    with _lock:
        w = _writers.get(key)
        if w is not None and not w.dead and w.pid == os.getpid():
            return w
        store = Store(dir, create=True)
        w = Writer(store, flush_interval or float(os.environ.get("TRACKER_FLUSH_INTERVAL", "0.25")))
        _writers[key] = w
        return w


# ---------------------------------------------------------------------- module-level API
def current() -> Run | None:
    return _current


def log(data: Mapping[str, Any], step: Any = None, commit: bool | None = None) -> None:
    """``log()`` on the current run."""
    run = _current or _forked_current
    if run is None:
        raise RuntimeError("tracker: no active run; call tracker.init() first")
    run.log(data, step=step, commit=commit)


def finish(exit_code: int = 0) -> None:
    """``finish()`` the current run (no-op when there is none)."""
    if _current is not None:
        _current.finish(exit_code)


# ---------------------------------------------------------------------- exit, signals, fork
def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    prev_excepthook = sys.excepthook

    def excepthook(tp: Any, value: Any, tb: Any) -> None:
        global _exit_code, _exit_error
        _exit_code = 130 if issubclass(tp, KeyboardInterrupt) else 1
        _exit_error = f"{tp.__name__}: {value}"
        prev_excepthook(tp, value, tb)

    sys.excepthook = excepthook
    prev_exit = sys.exit

    def exit(code: Any = None) -> None:
        global _exit_code
        _exit_code = code if isinstance(code, int) else (0 if code is None else 1)
        prev_exit(code)

    sys.exit = exit
    import builtins

    for name in ("exit", "quit"):
        quitter = getattr(builtins, name, None)
        if quitter is not None and not getattr(quitter, "_tracker_wrapped", False):
            setattr(builtins, name, _Quitter(quitter))
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            prev = signal.getsignal(signum)
            if prev is signal.SIG_IGN or prev is None:
                continue  # ignored (e.g. nohup): keep ignoring
            _prev_signal[signum] = prev
            signal.signal(signum, _on_signal)
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


class _Quitter:
    """Wraps the builtin ``exit()`` / ``quit()`` to record the exit code, like ``sys.exit``."""

    _tracker_wrapped = True

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __repr__(self) -> str:
        return repr(self._inner)

    def __call__(self, code: Any = None) -> None:
        global _exit_code
        _exit_code = code if isinstance(code, int) else (0 if code is None else 1)
        self._inner(code)


def _at_exit() -> None:
    for run in list(_active):
        if run._pid == os.getpid():
            code = _exit_code if _exit_code is not None else 0
            run._finish(code, error=_exit_error if code else None)


def _on_signal(signum: int, frame: Any) -> None:
    prev = _prev_signal.get(signum)
    if callable(prev) and prev not in (signal.SIG_DFL, signal.SIG_IGN):
        # Someone else handles this signal (and may keep training): only flush.
        for run in list(_active):
            if run._pid == os.getpid():
                run._writer.flush(5.0)
        prev(signum, frame)
        return
    name = signal.Signals(signum).name
    for run in list(_active):
        if run._pid == os.getpid():
            run._finish(128 + signum, timeout=10.0, error=f"killed by {name}", signame=name)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _before_fork() -> None:
    """Hold every writer's transaction lock across fork(): the child must not inherit a
    connection in the middle of a write transaction (its own new connection would then see
    the store as locked forever)."""
    for w in list(_writers.values()):
        w.store._wlock.acquire()


def _after_fork_in_parent() -> None:
    for w in list(_writers.values()):
        w.store._wlock.release()


def _after_fork_in_child() -> None:
    """A forked child must never touch the parent's connection or queue."""
    global _current, _forked_current
    for w in _writers.values():
        w.store._wlock.release()
        w.dead = True
        w.q = type(w.q)()
        w.store.abandon()
    _writers.clear()
    for run in _active:
        run._closed = True
        run._forked = True
        run._q = type(run._q)()
    _active.clear()
    _forked_current = _current
    _current = None
