"""The ``Run`` that ``tracker.init()`` returns (wandb's names, a local SQLite store): ``log()``
on the training loop's hot path, ``config`` / ``summary``, alerts and ``finish()``.

``init()`` itself is in :mod:`._init`; the exit/signal/fork hooks in :mod:`._hooks`; the state
they share in :mod:`._state`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from itertools import count
from pathlib import Path
from typing import Any

from . import _state
from ._artifacts_run import ArtifactRunMixin
from ._mask import mask_secrets as _mask_config
from ._mask import masker
from ._media_run import MediaRunMixin, split_media
from ._run_compat import WandbRunMixin, split_log
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
from ._writer import Control, Writer
from ._writer_bounds import weight as _weight

_FAST_TYPES = frozenset({float, int})  # bools take normalize_metrics: stored flagged, read back as bools
#: Distinct metric keys in one run past which a one-time warning is given (RELIABILITY.md B6).
MAX_KEYS_WARN = 10_000
_time = time.time



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

    def update(self, other: Any = None, allow_val_change: bool | None = None, **kw: Any) -> None:
        """Merge keys into the config and store it (``allow_val_change`` is wandb's: values may
        always change here)."""
        data = load_config_source(other) if other is not None else {}
        data.update(kw)
        if self._run is not None and self._run.sweep_id is not None:
            from ._sweep import warn_override

            warn_override(self._run, data)
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

    def update(self, other: Mapping[str, Any] | None = None, **kw: Any) -> None:
        for k, v in dict(other or {}, **kw).items():
            self._data[str(k)] = jsonable(v, str(k))
        self._persist()

    def _persist(self) -> None:
        if self._run is not None:
            data = _mask_config(self._data, numbers=False) if self._run._mask else self._data
            self._run._enqueue_update({"summary": dumps(data)})

    def __repr__(self) -> str:
        return f"Summary({self._data!r})"


class Run(WandbRunMixin, ArtifactRunMixin, MediaRunMixin):
    """A run being logged by this process. Create it with :func:`tracker.init`."""

    #: The sweep whose agent started this run (``None`` outside sweeps).
    sweep_id: str | None = None
    _sweep_params: dict[str, Any] | None = None
    _sweep_stop: dict[str, Any] | None = None  # set by the sweep agent: the next log() raises SweepStopped

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
        self._weight, self._gate = _weight(1)  # the queue's bound, per call of this key count
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
        from tracker.store.fs import private_subdir  # 0700 whatever the umask, runs/ included

        return str(private_subdir(Path(self._writer.store.dir) / "runs" / self.id))

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
        if exc_type is None or getattr(exc_type, "_clean_stop", False):  # SweepStopped: a clean end
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
        if self._sweep_stop is not None:
            from ._sweep import SweepStopped

            raise SweepStopped(self._sweep_stop)
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
        text = media = None
        if not (types <= _FAST_TYPES and (int not in types or _ints_fit(vals))
                and (keys == cached or self._keys_ok(keys))):
            data, media = split_media(data)  # rich objects go to _media_run (issue 11)
            data, text = split_log(data)  # nested dicts flattened, strings kept as text
            keys, vals = _storable(*normalize_metrics(data)) if data else ((), ())
            if not keys and not text and media is None:
                return
            self._weight, self._gate = _weight(len(keys))
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
        if text is not None or media is not None:
            if text is not None:
                self._log_text(step, text)
            if media is not None:
                self._log_media(step, media)
            if not keys:
                return
        q = self._q
        q.append((self._rid, step, _time(), keys, vals))
        n = len(q)
        if n >= self._gate:
            w = self._writer
            if not w.rung:  # one ring per writer wake-up is enough (a syscall saved per call)
                w.rung = True
                self._wake.ring()
            if n * self._weight > w.max_points:
                w.backpressure(self._weight)

    def _keys_ok(self, keys: tuple[str, ...]) -> bool:
        for k in keys:
            if type(k) is not str or len(k) > 250 or k in ("_step", "_timestamp"):
                return False
            if not k.isascii() and not _encodes(k):
                return False
        self._keys = keys
        self._weight, self._gate = _weight(len(keys))
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

    def alert(self, title: str, text: str = "", level: Any = "INFO", wait_duration: Any = None) -> None:
        """Store an alert on the run (shown in the app; run through ``$TRACKER_ALERT_CMD``).

        Args:
            title: short headline.
            text: details.
            level: ``"INFO"``, ``"WARN"`` or ``"ERROR"`` (or ``tracker.AlertLevel``).
            wait_duration: seconds (or a ``timedelta``): an alert with the same title sent less
                than this long ago drops this one (wandb's throttle).
        """
        lv = str(level).upper()
        lv = {"WARNING": "WARN", "ERR": "ERROR"}.get(lv, lv)
        if lv not in ("INFO", "WARN", "ERROR"):
            raise ValueError(f"tracker: alert level must be INFO, WARN or ERROR, got {level!r}")
        if wait_duration is not None:
            from ._compat_files import throttled

            if throttled(self.id, str(title), wait_duration):
                return
        hide = masker(self._mask)
        self._enqueue_event("alert", {"title": hide(str(title)), "text": hide(str(text)), "level": lv,
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
        self._enqueue_update({"tags": dumps([masker(self._mask)(t) for t in self.tags])})

    # ------------------------------------------------------------------ finish
    def finish(self, exit_code: int | None = 0, quiet: bool | None = None, *, timeout: float | None = None,
               error: str | None = None) -> None:
        """Write everything queued, mark the run ``finished`` (or ``failed`` for a non-zero
        exit code) and stop accepting ``log()``. Safe to call twice. ``quiet`` (wandb's) is
        accepted: nothing is printed anyway."""
        self._finish(exit_code or 0, timeout=timeout, error=error)

    def _finish(self, exit_code: int, *, timeout: float | None = None, error: str | None = None,
                signame: str | None = None) -> None:
        if signame is None and not self._closed and not self._forked:
            self._compat_before_finish()  # save() files, define_metric summaries
        with _state.lock:
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
        with _state.lock:
            self._closed = True
        if timeout is None:
            timeout = float(os.environ.get("TRACKER_FINISH_TIMEOUT", "60"))
        self._close_artifacts(timeout)  # a logged artifact is committed before the run says finished
        self._close_media(timeout)
        state = "finished" if exit_code == 0 else "failed"
        self._final_state = state
        fields: dict[str, Any] = {"state": state, "exit_code": int(exit_code), "finished_at": _time()}
        meta_extra = {k: v for k, v in (("error", error and masker(self._mask)(error)), ("signal", signame)) if v}
        if meta_extra:
            fields["meta_merge"] = meta_extra
        self._q.append(Control(rid=self._rid, fields=fields))
        ok = self._writer.flush(timeout)
        self._finishing = False
        self._writer.active.discard(self._rid)
        with _state.lock:
            if self in _state.active:
                _state.active.remove(self)
            if _state.current is self:
                _state.current = None
        if self._writer.discarding:
            print(f"tracker: run {self.id}: {self._writer.discarded:,} log() calls of this process were not "
                  f"stored: {self._writer.discarding}.", file=sys.stderr)
        elif not ok:
            self._report_unwritten(fields, timeout)

    def _report_unwritten(self, fields: dict[str, Any], timeout: float) -> None:
        """``finish()`` timed out: drop this run's queued work, mark the run in the store if it
        still takes one small write, and say exactly what was not written."""
        w = self._writer
        why = w.last_error or "the writer did not catch up"
        head = (f"tracker: run {self.id}: the store {w.store.path} did not accept the last writes within "
                f"{timeout:.0f} s ({why})")
        gone = w.give_up(self._rid, fields) if not w.dead else None
        if gone is None:
            print(f"{head}; {len(w.q):,} queued calls may be lost.", file=sys.stderr)
            return
        lost = (f"not written: {gone.calls:,} log() calls ({gone.points:,} points), {gone.updates:,} run "
                f"updates (config, summary, tags...), {gone.events:,} events (alerts, console lines)")
        if gone.marked:
            tail = (f"The run is marked {self.state} in the store, these counts in its meta "
                    "('unwritten').")
        else:
            tail = ("The run could not be marked either: readers will show it crashed once this "
                    "process has exited.")
        print(f"{head}; {lost}. {tail}", file=sys.stderr)


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

    def alert(self, title: str, text: str = "", level: Any = "INFO", wait_duration: Any = None) -> None:
        return None

    def finish(self, exit_code: int | None = 0, quiet: bool | None = None, *, timeout: float | None = None,
               error: str | None = None) -> None:
        self._closed = True


def _encodes(key: str) -> bool:
    try:
        key.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _storable(keys: tuple[str, ...], vals: tuple[Any, ...]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Drop (with a warning naming it) a metric key that is not valid text: a lone surrogate,
    e.g. from a file name decoded with ``surrogateescape``. SQLite cannot store it, and a batch
    holding it would fail as a whole."""
    if all(k.isascii() or _encodes(k) for k in keys):
        return keys, vals
    kept = [(k, v) for k, v in zip(keys, vals) if k.isascii() or _encodes(k)]
    for k in keys:
        if not (k.isascii() or _encodes(k)):
            warn_once(f"badkey:{k!a}", f"tracker: metric key {k!a} is not valid Unicode text (it holds a lone "
                      "surrogate) and was dropped; the other keys of the log() call were kept")
    return tuple(k for k, _ in kept), tuple(v for _, v in kept)


def _ints_fit(vals: tuple[Any, ...]) -> bool:
    for v in vals:
        if type(v) is int and not INT64_MIN <= v <= INT64_MAX:
            return False
    return True
