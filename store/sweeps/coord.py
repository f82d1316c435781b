"""Sweep coordination through the store: create a sweep, register agents, claim trials.

A claim is one ``BEGIN IMMEDIATE`` transaction: it frees the trials of dead agents, checks the
sweep's state and ``run_cap``, asks the sampler for the next point with every earlier trial in
view (running ones as pending) and inserts the trial. SQLite lets one writer in at a time, so
N agents on a box never take the same grid point and never pass ``run_cap``.

A trial whose agent is gone (``kill -9``) is freed at the next claim by any agent: it becomes
``crashed`` (its run reads ``crashed`` through :mod:`..liveness`), it counts towards
``run_cap``, and a grid point whose trial crashed is tried once more.
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..ids import new_run_id
from ..liveness import effective_state
from .config import SweepConfig, parse
from .sample import Trial, propose

if TYPE_CHECKING:  # pragma: no cover
    from .. import Store

SWEEP_STATES = ("running", "paused", "finished", "stopped", "cancelled")
#: A grid point is run at most this many times (a crashed trial's point is tried again once).
GRID_ATTEMPTS = 2


@dataclass
class TrialRow:
    tid: int
    sweep_id: str
    seq: int
    params: dict[str, Any]
    grid_index: int | None
    state: str
    agent_id: str | None
    run_id: str | None
    stop: dict[str, Any] | None
    created_at: float
    finished_at: float | None
    value: float | None = None
    run_state: str | None = None


@dataclass
class SweepRow:
    id: str
    project: str
    name: str
    config: dict[str, Any]
    method: str
    metric: str | None
    goal: str
    state: str
    run_cap: int | None
    created_at: float
    updated_at: float


@dataclass
class Claim:
    """A claimed trial, or why none was given: ``paused``, ``done`` (grid exhausted, cap
    reached, sweep stopped / cancelled / finished) or ``missing``."""

    trial: TrialRow | None
    why: str = "ok"


_SWEEP_COLS = "id, project, name, config, method, metric, goal, state, run_cap, created_at, updated_at"
_TRIAL_COLS = ("t.tid, t.sweep_id, t.seq, t.params, t.grid_index, t.state, t.agent_id, t.run_id, t.stop, "
               "t.created_at, t.finished_at")


def _loads(s: str | None) -> Any:
    try:
        return json.loads(s) if s else None
    except ValueError:
        return None


def _sweep(r: Any) -> SweepRow:
    return SweepRow(r[0], r[1], r[2], _loads(r[3]) or {}, r[4], r[5], r[6], r[7], r[8], r[9], r[10])


def _trial(r: Any) -> TrialRow:
    return TrialRow(r[0], r[1], r[2], _loads(r[3]) or {}, r[4], r[5], r[6], r[7], _loads(r[8]), r[9], r[10])


def create_sweep(store: Store, cfg: SweepConfig, project: str, now: float | None = None) -> str:
    """Store a parsed config as a new ``running`` sweep; returns its id."""
    now = time.time() if now is None else now

    def do(c: sqlite3.Connection) -> str:
        while True:
            sid = new_run_id()
            if c.execute("SELECT 1 FROM sweeps WHERE id = ?", (sid,)).fetchone() is None:
                break
        name = cfg.name or f"sweep-{sid}"
        c.execute(f"INSERT INTO sweeps ({_SWEEP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                  (sid, project, name, json.dumps(cfg.raw), cfg.method, cfg.metric, cfg.goal, cfg.run_cap, now, now))
        return sid

    return store._write(store.conn, do)


def get_sweep(store: Store, sweep_id: str) -> SweepRow | None:
    try:
        r = store.conn.execute(f"SELECT {_SWEEP_COLS} FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
    except sqlite3.OperationalError:  # a read-only store from before sweeps: none there
        return None
    return None if r is None else _sweep(r)


def list_sweeps(store: Store, project: str | None = None) -> list[SweepRow]:
    sql = f"SELECT {_SWEEP_COLS} FROM sweeps"
    args: tuple[Any, ...] = ()
    if project is not None:
        sql, args = sql + " WHERE project = ?", (project,)
    try:
        return [_sweep(r) for r in store.conn.execute(sql + " ORDER BY created_at DESC", args)]
    except sqlite3.OperationalError:
        return []


def set_state(store: Store, sweep_id: str, state: str) -> str:
    """Pause / resume (``running``) / stop / cancel a sweep; returns the state before."""
    if state not in SWEEP_STATES:
        raise ValueError(f"tracker: sweep state must be one of {', '.join(SWEEP_STATES)}, got {state!r}")

    def do(c: sqlite3.Connection) -> str:
        row = c.execute("SELECT state FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        if row is None:
            raise KeyError(sweep_id)
        if row[0] in ("finished", "cancelled") and state != row[0]:
            raise ValueError(f"sweep {sweep_id} is {row[0]}; its state no longer changes")
        c.execute("UPDATE sweeps SET state = ?, updated_at = ? WHERE id = ?", (state, time.time(), sweep_id))
        return str(row[0])

    return store._write(store.conn, do)


def register_agent(store: Store, sweep_id: str, host: str, pid: int, pid_start: str | None) -> str:
    now = time.time()

    def do(c: sqlite3.Connection) -> str:
        aid = f"{sweep_id}-{new_run_id()}"
        c.execute("INSERT INTO sweep_agents (id, sweep_id, host, pid, pid_start, started_at, heartbeat_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)", (aid, sweep_id, host, pid, pid_start, now, now))
        return aid

    return store._write(store.conn, do)


def agent_heartbeat(store: Store, agent_id: str, state: str = "running") -> None:
    store._write(store.conn, lambda c: c.execute(
        "UPDATE sweep_agents SET heartbeat_at = ?, state = ? WHERE id = ?", (time.time(), state, agent_id)))


def agents_alive(store: Store, sweep_id: str) -> int:
    try:
        rows = store.conn.execute("SELECT state, host, pid, pid_start, heartbeat_at FROM sweep_agents "
                                  "WHERE sweep_id = ? AND state = 'running'", (sweep_id,)).fetchall()
    except sqlite3.OperationalError:
        return 0
    return sum(effective_state(*r) == "running" for r in rows)


def _reap(c: sqlite3.Connection, sweep_id: str, now: float) -> None:
    """Trials whose agent is gone take their run's final state, or ``crashed``."""
    rows = c.execute(
        """SELECT t.tid, a.state, a.host, a.pid, a.pid_start, a.heartbeat_at,
                  r.state, r.host, r.pid, r.pid_start, r.heartbeat_at
           FROM sweep_trials t LEFT JOIN sweep_agents a ON a.id = t.agent_id
           LEFT JOIN runs r ON r.id = t.run_id
           WHERE t.sweep_id = ? AND t.state = 'running'""", (sweep_id,)).fetchall()
    for tid, *agent_run in rows:
        agent, run = agent_run[:5], agent_run[5:]
        if agent[0] is not None and effective_state(*agent) == "running":
            continue
        run_state = None if run[0] is None else effective_state(*run)
        if run_state == "running":
            continue  # a program agent died but its trial's process still runs
        state = run_state if run_state in ("finished", "failed") else "crashed"
        c.execute("UPDATE sweep_trials SET state = ?, finished_at = ? WHERE tid = ?", (state, now, tid))


def _value(summary_json: str | None, last: Any, metric: str | None) -> float | None:
    if metric is None:
        return None
    v = last
    s = _loads(summary_json)
    if isinstance(s, dict) and metric in s:
        v = s[metric]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def trials(store: Store, sweep_id: str, metric: str | None = None, conn: sqlite3.Connection | None = None
           ) -> list[TrialRow]:
    """Every trial of a sweep in claim order, with its run's metric value and effective state."""
    c = conn or store.conn
    try:
        rows = c.execute(
            f"""SELECT {_TRIAL_COLS}, r.summary, ms.last, r.state, r.host, r.pid, r.pid_start, r.heartbeat_at
                FROM sweep_trials t LEFT JOIN runs r ON r.id = t.run_id
                LEFT JOIN keys k ON k.name = ?
                LEFT JOIN metric_summary ms ON ms.rid = r.rid AND ms.kid = k.kid
                WHERE t.sweep_id = ? ORDER BY t.seq""", (metric or "", sweep_id)).fetchall()
    except sqlite3.OperationalError:
        return []
    out = []
    for r in rows:
        t = _trial(r)
        t.value = _value(r[11], r[12], metric)
        t.run_state = None if r[13] is None else effective_state(*r[13:18])
        out.append(t)
    return out


def claim(store: Store, sweep_id: str, agent_id: str, now: float | None = None) -> Claim:
    """Claim the sweep's next trial for ``agent_id`` (one write transaction)."""
    now = time.time() if now is None else now

    def do(c: sqlite3.Connection) -> Claim:
        r = c.execute(f"SELECT {_SWEEP_COLS} FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        if r is None:
            return Claim(None, "missing")
        sw = _sweep(r)
        if sw.state == "paused":
            return Claim(None, "paused")
        if sw.state != "running":
            return Claim(None, "done")
        _reap(c, sweep_id, now)
        cfg = parse(sw.config)
        rows = trials(store, sweep_id, sw.metric, conn=c)
        if cfg.run_cap is not None and len(rows) >= cfg.run_cap:
            return _finish_if_idle(c, sw, rows, now)
        retry = {t.grid_index for t in rows if t.grid_index is not None and t.state == "crashed"}
        retry -= {t.grid_index for t in rows if t.state != "crashed"}
        tries: dict[int, int] = {}
        for t in rows:
            if t.grid_index is not None:
                tries[t.grid_index] = tries.get(t.grid_index, 0) + 1
        retry = {i for i in retry if i is not None and tries.get(i, 0) < GRID_ATTEMPTS}
        seq = len(rows)
        # seed: in the config, the same draws for every sweep made from it (else per sweep)
        rng = random.Random(f"seed:{cfg.seed}:{seq}" if cfg.seed is not None else f"{sweep_id}:{seq}")
        known = [Trial(_flat(t.params), t.value, t.state == "running", t.grid_index) for t in rows]
        got = propose(cfg, known, rng, retry={i for i in retry if i is not None})
        if got is None:
            return _finish_if_idle(c, sw, rows, now)
        params, gi = got
        attempt = tries.get(gi, 0) if gi is not None else 0
        cur = c.execute(
            "INSERT INTO sweep_trials (sweep_id, seq, params, grid_index, attempt, state, agent_id, created_at) "
            "VALUES (?, ?, ?, ?, ?, 'running', ?, ?)", (sweep_id, seq, json.dumps(params), gi, attempt, agent_id, now))
        return Claim(TrialRow(int(cur.lastrowid or 0), sweep_id, seq, params, gi, "running", agent_id, None, None,
                              now, None))

    return store._write(store.conn, do)


def _flat(params: dict[str, Any]) -> dict[str, Any]:
    from .config import flatten

    return flatten(params)


def _finish_if_idle(c: sqlite3.Connection, sw: SweepRow, rows: list[TrialRow], now: float) -> Claim:
    if not any(t.state == "running" for t in rows):
        c.execute("UPDATE sweeps SET state = 'finished', updated_at = ? WHERE id = ?", (now, sw.id))
    return Claim(None, "done")


def attach_run(store: Store, tid: int, run_id: str) -> None:
    """Record which run a trial's ``tracker.init()`` created."""
    store._write(store.conn, lambda c: c.execute("UPDATE sweep_trials SET run_id = ? WHERE tid = ?", (run_id, tid)))


def end_trial(store: Store, tid: int, state: str, stop: dict[str, Any] | None = None) -> None:
    """A trial ended: ``finished``, ``failed`` or ``stopped`` (with the band and reason, also put in
    the run's ``meta`` as ``sweep_stop`` so every view of the run can say why it ended)."""
    now = time.time()

    def do(c: sqlite3.Connection) -> None:
        c.execute("UPDATE sweep_trials SET state = ?, finished_at = ?, stop = ? WHERE tid = ?",
                  (state, now, None if stop is None else json.dumps(stop), tid))
        if stop is not None:
            c.execute("""UPDATE runs SET meta = json_set(meta, '$.sweep_stop', json(?)),
                             rev = (SELECT max(rev) + 1 FROM runs)
                         WHERE id = (SELECT run_id FROM sweep_trials WHERE tid = ?)""", (json.dumps(stop), tid))

    store._write(store.conn, do)


def curves(store: Store, sweep_id: str, metric: str, bands: Sequence[int], goal: str) -> dict[int, Any]:
    """Each trial's :class:`~.hyperband.Curve` of ``metric``, read without scanning its points: the
    count and best value from ``metric_summary``, the value at each band it passed by one indexed
    lookup (``ORDER BY step, id ... OFFSET band``). A few rows per run and band, however long."""
    from .hyperband import Curve

    c = store.conn
    try:
        rows = c.execute(
            """SELECT t.tid, r.rid, ms.kid, ms.count, ms.min, ms.max FROM sweep_trials t
               JOIN runs r ON r.id = t.run_id JOIN keys k ON k.name = ?
               JOIN metric_summary ms ON ms.rid = r.rid AND ms.kid = k.kid
               WHERE t.sweep_id = ?""", (metric, sweep_id)).fetchall()
    except sqlite3.OperationalError:
        return {}
    out: dict[int, Any] = {}
    for tid, rid, kid, n, lo, hi in rows:
        at: dict[int, float] = {}
        for b in bands:
            if b >= n:
                break
            v = c.execute("SELECT value FROM metrics WHERE rid = ? AND kid = ? ORDER BY step, id LIMIT 1 OFFSET ?",
                          (rid, kid, b)).fetchone()
            if v is not None and isinstance(v[0], (int, float)) and math.isfinite(v[0]):
                at[b] = float(v[0])
        best = hi if goal == "maximize" else lo
        out[tid] = Curve(int(n), at, float(best) if isinstance(best, (int, float)) and math.isfinite(best) else None)
    return out


def histories(store: Store, sweep_id: str, metric: str) -> dict[int, list[float]]:
    """Each trial's logged values of ``metric`` in step order (finite values only)."""
    try:
        rows = store.conn.execute(
            """SELECT t.tid, m.value FROM sweep_trials t JOIN runs r ON r.id = t.run_id
               JOIN metrics m ON m.rid = r.rid AND m.kid = (SELECT kid FROM keys WHERE name = ?)
               WHERE t.sweep_id = ? ORDER BY t.tid, m.step, m.id""", (metric, sweep_id)).fetchall()
    except sqlite3.OperationalError:
        return {}
    out: dict[int, list[float]] = {}
    for tid, v in rows:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.setdefault(tid, []).append(float(v))
    return out
