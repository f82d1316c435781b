"""A program agent: runs the sweep config's ``program`` (through ``command``) once per trial.

The command's macros are W&B's: ``${env}`` (``/usr/bin/env``), ``${interpreter}`` (this
Python), ``${program}``, ``${args}`` (``--name=value`` per flat parameter), ``${args_no_hyphens}``
(``name=value``), ``${args_json}`` (one JSON argument) and ``${args_json_file}`` (the path of a
JSON file holding the parameters). The default command is
``${env} ${interpreter} ${program} ${args}``.

Each trial runs in its own process group with ``TRACKER_SWEEP_*``, ``TRACKER_DIR`` and
``TRACKER_PROJECT`` set, so ``tracker.init()`` in the program picks up the parameters. A trial
stopped by hyperband or a cancelled sweep gets SIGTERM on its process group (SIGKILL 30 s later).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from typing import Any

from ._sweep import Monitor, next_trial, open_agent, trial_env

DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")
KILL_AFTER = float(os.environ.get("TRACKER_SWEEP_KILL_AFTER", "30"))


def _fmt(v: Any) -> str:
    """As W&B writes a value into ``--name=value``: Python's str(), JSON for lists and dicts."""
    return json.dumps(v) if isinstance(v, (dict, list)) else str(v)


def build_command(command: tuple[str, ...] | None, program: str | None, params: dict[str, Any],
                  json_file: str) -> list[str]:
    """The argv of one trial, macros expanded."""
    from tracker.store.sweeps.config import flatten

    flat = flatten(params)
    out: list[str] = []
    for part in command or DEFAULT_COMMAND:
        if part == "${env}":
            out.append("/usr/bin/env")
        elif part == "${interpreter}":
            out.append(sys.executable)
        elif part == "${program}":
            if not program:
                raise ValueError("tracker: the sweep's command uses ${program} but the config has no program:")
            out.append(program)
        elif part == "${args}":
            out.extend(f"--{k}={_fmt(v)}" for k, v in flat.items())
        elif part == "${args_no_hyphens}":
            out.extend(f"{k}={_fmt(v)}" for k, v in flat.items())
        elif part == "${args_json}":
            out.append(json.dumps(params))
        elif part == "${args_json_file}":
            out.append(json_file)
        else:
            out.append(part)
    return out


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_program_agent(sweep_id: str, count: int | None = None, dir: Any = None) -> int:
    """Run trials of ``sweep_id`` as child processes until the sweep is done or ``count`` ran."""
    from tracker.store.sweeps import coord, parse

    store, sw, aid = open_agent(sweep_id, dir)
    cfg = parse(sw.config)
    if cfg.program is None and (cfg.command is None or "${program}" in cfg.command):
        store.close()
        raise ValueError(f"tracker: sweep {sweep_id} has no program: to run (use tracker.agent(..., function=fn))")
    current: dict[str, Any] = {}

    def on_stop(tid: int, info: dict[str, Any]) -> None:
        proc = current.get("proc")
        if proc is not None and current.get("tid") == tid:
            _kill_group(proc, signal.SIGTERM)
            t = threading.Timer(KILL_AFTER, _kill_group, (proc, signal.SIGKILL))
            t.daemon = True
            t.start()

    def on_term(signum: int, frame: Any) -> None:  # the agent is stopped: its trial goes with it
        proc = current.get("proc")
        if proc is not None:
            _kill_group(proc, signal.SIGTERM)
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, on_term) if threading.current_thread() is threading.main_thread() else None
    mon = Monitor(str(store.dir), sweep_id, aid, on_stop)
    mon.start()
    n = 0
    try:
        while count is None or n < count:
            trial = next_trial(store, sweep_id, aid)
            if trial is None:
                break
            state = _run_trial(store, sw, cfg, trial, current, mon)
            stop = mon.stopped.get(trial.tid)
            coord.end_trial(store, trial.tid, "stopped" if stop is not None else state, stop)
            n += 1
    finally:
        mon.halt.set()
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        coord.agent_heartbeat(store, aid, state="done")
        store.close()
    return n


def _run_trial(store: Any, sw: Any, cfg: Any, trial: Any, current: dict[str, Any], mon: Monitor) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="tracker-sweep-", delete=False) as f:
        json.dump(trial.params, f)
    try:
        argv = build_command(cfg.command, cfg.program, trial.params, f.name)
        env = {**os.environ, **trial_env(store, sw, trial)}
        proc = subprocess.Popen(argv, env=env, start_new_session=True)
        current.update(proc=proc, tid=trial.tid)
        mon.current = trial.tid
        try:
            code = proc.wait()
        except BaseException:  # Ctrl-C or SIGTERM of the agent: the trial's own group goes with it
            _kill_group(proc, signal.SIGTERM)
            try:
                proc.wait(KILL_AFTER)
            except subprocess.TimeoutExpired:
                _kill_group(proc, signal.SIGKILL)
            raise
        mon.current = None
        current.clear()
        return "finished" if code == 0 else "failed"
    finally:
        os.unlink(f.name)
