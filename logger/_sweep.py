"""``tracker.sweep()`` and ``tracker.agent()``: W&B-style sweeps coordinated through the store.

``sweep(config, project=)`` checks a sweep config (a dict or a YAML/JSON file) and stores it;
``agent(sweep_id, function=fn, count=N)`` claims trials one at a time and calls ``fn()`` for
each. Inside ``fn``, ``tracker.init()`` finds the trial through ``TRACKER_SWEEP_*`` variables
the agent sets (a program agent sets the same ones for its child), puts the trial's parameters
into ``run.config`` over the script's defaults and links the run to the trial.

Early termination: a monitor thread of the agent applies hyperband (and a ``cancel``) to the
agent's current trial; a stopped function trial's next ``run.log()`` raises
:class:`SweepStopped`, which the agent catches; the run finishes and its ``meta.sweep_stop``
holds the band and the reason.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from ._mask import mask_secrets
from ._values import jsonable, load_config_source, warn_once

ENV_SWEEP, ENV_TRIAL, ENV_PARAMS = "TRACKER_SWEEP_ID", "TRACKER_SWEEP_TRIAL", "TRACKER_SWEEP_PARAMS"
#: Seconds between the agent's checks for early termination and a cancelled sweep.
POLL = float(os.environ.get("TRACKER_SWEEP_POLL", "1.0"))


class SweepStopped(Exception):
    """Raised by ``run.log()`` in a function agent's trial once the sweep stopped the trial
    (hyperband, or the sweep was cancelled). ``tracker.agent`` catches it and records the trial
    as ``stopped``; a ``with tracker.init()`` block ends with the run ``finished``."""

    _clean_stop = True  # Run.__exit__: the run ends finished, not failed

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(str(info.get("reason", "stopped by the sweep")))
        self.info = info


# ---------------------------------------------------------------------- the init() side
_attached: dict[int, Any] = {}  # trial id -> the Run that init() created for it (this process)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def trial_params() -> dict[str, Any] | None:
    """The current trial's parameters, when this process runs one (set by an agent)."""
    raw = os.environ.get(ENV_PARAMS)
    if not raw or not os.environ.get(ENV_TRIAL):
        return None
    try:
        params = json.loads(raw)
    except ValueError:
        warn_once("sweep-params", f"tracker: {ENV_PARAMS} is not JSON; the trial's parameters are ignored")
        return None
    return params if isinstance(params, dict) else None


def apply_to_spec(spec: Any) -> Any:
    """``init()``'s spec with the trial's parameters over the script's config (they win)."""
    params = trial_params()
    if params is None:
        return spec
    spec.config = _merge(spec.config, params)
    stored = jsonable(spec.config)
    spec.stored_config = mask_secrets(stored) if spec.mask else stored
    return spec


def attach(run: Any) -> None:
    """Link a new run to the agent's trial (called by ``init()``)."""
    params = trial_params()
    if params is None:
        return
    from tracker.store.sweeps import coord

    tid = int(os.environ[ENV_TRIAL])
    run.sweep_id = os.environ.get(ENV_SWEEP)
    run._sweep_params = params
    coord.attach_run(run._writer.store, tid, run.id)
    run._enqueue_update({"meta_merge": {"sweep_id": run.sweep_id, "sweep_trial": tid}})
    _attached[tid] = run


def warn_override(run: Any, data: dict[str, Any]) -> None:
    """``run.config.update`` of a key the sweep set: the stored config changes; say so once."""
    params = run._sweep_params or {}
    for k, v in data.items():
        if k in params and params[k] != v:
            warn_once(f"sweep-override:{run.id}:{k}",
                      f"tracker: run {run.id}: config[{k!r}] was set to {params[k]!r} by sweep {run.sweep_id}; "
                      f"changing it to {v!r:.60} makes the sweep's record of this trial wrong")


# ---------------------------------------------------------------------- the agent side
def sweep(sweep: Any, project: str | None = None, entity: str | None = None, *,
          dir: str | os.PathLike[str] | None = None) -> str:
    """Check a sweep config (dict, or path to a YAML/JSON file) and store it; returns the sweep id.

    wandb's signature (``sweep=``, ``project=``; ``entity`` is accepted and unused: there is no
    server). Raises ``SweepConfigError`` (a ``ValueError``) naming the field and what is allowed.
    """
    config = sweep
    from tracker.store import Store
    from tracker.store.sweeps import coord, parse

    cfg = parse(load_config_source(config) if isinstance(config, (str, os.PathLike)) else config)
    proj = str(project or cfg.raw.get("project") or os.environ.get("TRACKER_PROJECT") or "uncategorized")
    store = Store(dir, create=True)
    try:
        return coord.create_sweep(store, cfg, proj)
    finally:
        store.close()


class Monitor(threading.Thread):
    """The agent's watcher: heartbeats, and stops the current trial when hyperband says so or the
    sweep is cancelled (``on_stop(tid, info)``)."""

    def __init__(self, store_dir: str, sweep_id: str, agent_id: str, on_stop: Callable[[int, dict[str, Any]], None],
                 poll: float = POLL) -> None:
        super().__init__(name="tracker-sweep-monitor", daemon=True)
        self.store_dir, self.sweep_id, self.agent_id = store_dir, sweep_id, agent_id
        self.on_stop, self.poll = on_stop, poll
        self.current: int | None = None
        self.stopped: dict[int, dict[str, Any]] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        from tracker.store import Store

        store = Store(self.store_dir, create=False)
        try:
            n = 0
            while not self.halt.wait(self.poll):
                try:
                    self.tick(store, heartbeat=n % 5 == 0)
                except Exception as e:  # a busy store or a bad row must not end the agent
                    warn_once("sweep-monitor", f"tracker: sweep monitor: {type(e).__name__}: {e}")
                n += 1
        finally:
            store.close()

    def tick(self, store: Any, heartbeat: bool = True) -> None:
        from tracker.store.sweeps import coord, hyperband, parse

        if heartbeat:
            coord.agent_heartbeat(store, self.agent_id)
        tid = self.current
        if tid is None or tid in self.stopped:
            return
        sw = coord.get_sweep(store, self.sweep_id)
        if sw is None:
            return
        if sw.state == "cancelled":
            self._stop(tid, {"reason": "the sweep was cancelled"})
            return
        cfg = parse(sw.config)
        et = cfg.early_terminate
        if et is None or cfg.metric is None:
            return
        cs = coord.curves(store, self.sweep_id, cfg.metric, et.bands, cfg.goal)
        stops = hyperband.to_stop_curves({str(k): v for k, v in cs.items()}, [str(tid)], et.bands, et.eta, cfg.goal)
        s = stops.get(str(tid))
        if s is not None:
            self._stop(tid, {"band": s.band, "threshold": s.threshold, "value": s.best,
                             "reason": s.reason(cfg.metric, cfg.goal)})

    def _stop(self, tid: int, info: dict[str, Any]) -> None:
        if self.current == tid and tid not in self.stopped:
            self.stopped[tid] = info
            self.on_stop(tid, info)


def open_agent(sweep_id: str, dir: Any) -> tuple[Any, Any, str]:
    """(store, sweep row, agent id) for an agent of ``sweep_id`` in this process."""
    from tracker.store import Store, process_start_marker
    from tracker.store.sweeps import coord

    store = Store(dir, create=True)
    sw = coord.get_sweep(store, sweep_id)
    if sw is None:
        store.close()
        raise ValueError(f"tracker: no sweep {sweep_id!r} in {store.path}")
    aid = coord.register_agent(store, sweep_id, socket.gethostname(), os.getpid(), process_start_marker(os.getpid()))
    return store, sw, aid


def next_trial(store: Any, sweep_id: str, agent_id: str, halt: threading.Event | None = None) -> Any:
    """The next claimed trial, waiting while the sweep is paused; None when the sweep is done."""
    from tracker.store.sweeps import coord

    halt = halt or threading.Event()
    while True:
        c = coord.claim(store, sweep_id, agent_id)
        if c.trial is not None:
            return c.trial
        if c.why != "paused" or halt.wait(POLL):
            return None


def trial_env(store: Any, sw: Any, trial: Any) -> dict[str, str]:
    return {ENV_SWEEP: sw.id, ENV_TRIAL: str(trial.tid), ENV_PARAMS: json.dumps(trial.params),
            "TRACKER_DIR": str(store.dir), "TRACKER_PROJECT": sw.project}


def agent(sweep_id: str, function: Callable[[], Any], entity: str | None = None, project: str | None = None,
          count: int | None = None, *, dir: str | os.PathLike[str] | None = None) -> int:
    """Run ``function()`` for trials of the sweep until it is done (or ``count`` trials ran).

    Each call should ``tracker.init()`` (which receives the trial's parameters in ``config``) and
    log the sweep's metric. An exception in ``function`` fails that trial (printed, the agent goes
    on); :class:`SweepStopped` stops it. Returns the number of trials run. ``entity`` and
    ``project`` are wandb's and unused (the sweep id names the sweep).
    """
    from tracker.store.sweeps import coord

    store, sw, aid = open_agent(sweep_id, dir)

    def on_stop(tid: int, info: dict[str, Any]) -> None:
        run = _attached.get(tid)
        if run is not None:
            run._sweep_stop = info

    mon = Monitor(str(store.dir), sweep_id, aid, on_stop)
    mon.start()
    n = 0
    try:
        while count is None or n < count:
            trial = next_trial(store, sweep_id, aid)
            if trial is None:
                break
            mon.current = trial.tid
            state = _run_function(function, trial_env(store, sw, trial))
            mon.current = None
            _attached.pop(trial.tid, None)
            stop = mon.stopped.get(trial.tid)
            coord.end_trial(store, trial.tid, "stopped" if stop is not None else state, stop)
            n += 1
    finally:
        mon.halt.set()
        coord.agent_heartbeat(store, aid, state="done")
        store.close()
    return n


def _run_function(function: Callable[[], Any], env: dict[str, str]) -> str:
    from . import _state

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    state = "finished"
    try:
        function()
    except SweepStopped:
        state = "stopped"
    except Exception:
        traceback.print_exc(file=sys.stderr)
        state = "failed"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        run = _state.current
        if run is not None and getattr(run, "sweep_id", None) is not None:
            run.finish(exit_code=1 if state == "failed" else 0)
    return state
