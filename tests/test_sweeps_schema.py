"""The sweeps migration: a store from before it gains the tables, keeps its runs, takes no backup;
a store without the tables (read-only, from before) reads as having no sweeps."""

from __future__ import annotations

import sqlite3

import tracker
from tracker.store import SCHEMA_VERSION, Store
from tracker.store.schema import MIGRATIONS
from tracker.store.schema_sweeps import migrate_sweeps


def before_sweeps(store_dir) -> int:
    """Make the store look like one written before the sweeps migration; returns that version."""
    version = MIGRATIONS.index(migrate_sweeps)
    conn = sqlite3.connect(store_dir / "tracker.db")
    conn.executescript(f"DROP TABLE sweeps; DROP TABLE sweep_trials; DROP TABLE sweep_agents; "
                       f"PRAGMA user_version = {version};")
    conn.close()
    return version


def test_a_store_from_before_sweeps_gains_them_and_keeps_its_runs_without_a_backup(store_dir):
    with tracker.init(project="p", dir=store_dir, capture_git=False) as run:
        run.log({"loss": 1.0})
    before_sweeps(store_dir)
    s = Store(store_dir)
    assert s.schema_version() == SCHEMA_VERSION and len(s.runs("p")) == 1
    s.close()
    assert not list(store_dir.glob("*.bak"))
    sid = tracker.sweep({"method": "random", "parameters": {"x": {"value": 1}}}, dir=store_dir)
    assert tracker.Api(store_dir).sweep(sid).state == "running"


def test_a_store_without_the_sweep_tables_reads_as_having_no_sweeps(store_dir):
    """What a read-only store from before the migration (which cannot be migrated) looks like."""
    from tracker.store.sweeps import coord

    tracker.init(project="p", dir=store_dir, capture_git=False).finish()
    s = Store(store_dir, create=False)
    before_sweeps(store_dir)
    assert coord.list_sweeps(s) == [] and coord.get_sweep(s, "x") is None and coord.trials(s, "x") == []
    assert coord.agents_alive(s, "x") == 0 and coord.histories(s, "x", "loss") == {}
    s.close()
