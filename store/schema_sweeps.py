"""The sweeps migration: sweeps, their trials and the agents working on them.

- ``sweeps``: id, project, name, the config as given (JSON), method, metric and goal, state
  (``running``, ``paused``, ``finished``, ``stopped``, ``cancelled``).
- ``sweep_trials``: one row per claimed trial: its number in the sweep, params (JSON), the grid
  point it took (``UNIQUE (sweep_id, grid_index)``: a grid point is claimed once unless its
  trial crashed), state (``running``, ``finished``, ``failed``, ``stopped``, ``crashed``), the
  agent and run it belongs to, and for a stopped trial the band and reason (``stop``, JSON).
- ``sweep_agents``: one row per agent process (host, pid and its start marker for liveness).

Adds tables only (IF NOT EXISTS: a store that has them is left as it is): no stored row
changes, so no backup is taken for it.
"""

from __future__ import annotations

import sqlite3


def migrate_sweeps(conn: sqlite3.Connection) -> None:
    for stmt in (
        """CREATE TABLE IF NOT EXISTS sweeps (
            id          TEXT PRIMARY KEY,
            project     TEXT NOT NULL,
            name        TEXT NOT NULL,
            config      TEXT NOT NULL,
            method      TEXT NOT NULL,
            metric      TEXT,
            goal        TEXT NOT NULL DEFAULT 'minimize',
            state       TEXT NOT NULL DEFAULT 'running',
            run_cap     INTEGER,
            created_at  REAL NOT NULL,
            updated_at  REAL NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS sweep_trials (
            tid         INTEGER PRIMARY KEY,
            sweep_id    TEXT NOT NULL,
            seq         INTEGER NOT NULL,
            params      TEXT NOT NULL,
            grid_index  INTEGER,
            attempt     INTEGER NOT NULL DEFAULT 0,
            state       TEXT NOT NULL,
            agent_id    TEXT,
            run_id      TEXT,
            stop        TEXT,
            created_at  REAL NOT NULL,
            finished_at REAL,
            UNIQUE (sweep_id, seq),
            UNIQUE (sweep_id, grid_index, attempt)
        )""",
        "CREATE INDEX IF NOT EXISTS sweep_trials_state ON sweep_trials(sweep_id, state)",
        """CREATE TABLE IF NOT EXISTS sweep_agents (
            id           TEXT PRIMARY KEY,
            sweep_id     TEXT NOT NULL,
            host         TEXT,
            pid          INTEGER,
            pid_start    TEXT,
            started_at   REAL NOT NULL,
            heartbeat_at REAL NOT NULL,
            state        TEXT NOT NULL DEFAULT 'running'
        )""",
    ):
        conn.execute(stmt)
