"""Schema versioning and the filesystem checks (RELIABILITY.md S3, S5): a fresh store is stamped
with ``PRAGMA user_version``, an older store is backed up and migrated with its data intact, a
newer store is refused byte-for-byte untouched, and a store on a network filesystem is refused
unless the user opts into rollback-journal mode."""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import stat
from pathlib import Path

import pytest

import tracker
import tracker.store
from tracker.store import SCHEMA_VERSION, Store, StoreDirError, StoreVersionError
from tracker.store.schema import migrate

pytestmark = pytest.mark.usefixtures("clean_env")


def pragma(db: Path, name: str):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fresh_store_is_stamped_with_the_schema_version_and_uses_wal(store_dir):
    run = tracker.init(project="s", dir=store_dir, capture_git=False)
    run.log({"x": 1.0})
    run.finish()
    db = store_dir / "tracker.db"
    assert pragma(db, "user_version") == SCHEMA_VERSION
    assert pragma(db, "journal_mode") == "wal"
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert {"runs", "keys", "metrics", "events", "metric_summary"} <= tables
    assert Store(store_dir, create=False).schema_version() == SCHEMA_VERSION


# ------------------------------------------------------------------------------ older store
OLD_CONFIG = {"lr": 0.1, "layers": [64, 64]}
# (key, step, value, flag) as a v1 writer stored them: NaN as NULL + flag 1, -0.0 as 0.0 + flag 2
OLD_POINTS = [
    ("loss", 0, 3.0, None), ("loss", 1, 1.0, None), ("loss", 2, None, 1), ("loss", 3, 2.0, None),
    ("acc", 0, 0.0, None), ("acc", 1, 0.1, None), ("acc", 2, 0.2, None),
    ("gap", 0, 5.0, None), ("gap", 1, 0.0, 2),
    ("diverged", 0, 1.0, None), ("diverged", 1, float("inf"), None), ("diverged", 2, None, 1),
]


def make_v1_store(store: Path) -> Path:
    """A store as the first released schema left it, with two runs and their points."""
    store.mkdir(mode=0o700)
    db = store / "tracker.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    migrate(conn, 0, target=1)
    conn.execute("COMMIT")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    runs = [
        (1, "oldrun01", "legacy", "old-one", json.dumps(OLD_CONFIG), json.dumps(["v1"]), 1000.0, 1010.0),
        (2, "oldrun02", "legacy", "old-two", "{}", "[]", 2000.0, 2005.0),
    ]
    conn.executemany(
        "INSERT INTO runs (rid, id, project, name, config, tags, state, created_at, updated_at, finished_at, "
        "exit_code, last_step) VALUES (?, ?, ?, ?, ?, ?, 'finished', ?, ?, ?, 0, 3)",
        [(*r, r[-1]) for r in runs],
    )
    kids = {}
    for key, *_ in OLD_POINTS:
        if key not in kids:
            kids[key] = len(kids) + 1
            conn.execute("INSERT INTO keys (kid, name) VALUES (?, ?)", (kids[key], key))
    conn.executemany(
        "INSERT INTO metrics (rid, kid, step, ts, value, flag) VALUES (1, ?, ?, ?, ?, ?)",
        [(kids[k], s, 1000.0 + s, v, f) for k, s, v, f in OLD_POINTS],
    )
    conn.execute("INSERT INTO metrics (rid, kid, step, ts, value, flag) VALUES (2, ?, 0, 2000.0, 7.0, NULL)",
                 (kids["loss"],))
    conn.close()
    return db


def open_with(how: str, store: Path):
    if how == "Store":
        Store(store, create=False).close()
    elif how == "Api":
        tracker.Api(store).runs()
    else:
        tracker.init(project="legacy", dir=store, capture_git=False).finish()


@pytest.mark.parametrize("how", ["Store", "Api", "init"])
def test_v1_store_is_backed_up_and_migrated_with_data_intact(store_dir, how):
    db = make_v1_store(store_dir)
    v1_rows = sqlite3.connect(db).execute("SELECT rid, kid, step, value, flag FROM metrics ORDER BY id").fetchall()

    open_with(how, store_dir)

    assert pragma(db, "user_version") == SCHEMA_VERSION
    backup = store_dir / "tracker.db.v1.bak"
    assert backup.is_file()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert pragma(backup, "user_version") == 1
    bconn = sqlite3.connect(backup)
    assert bconn.execute("SELECT rid, kid, step, value, flag FROM metrics ORDER BY id").fetchall() == v1_rows
    assert bconn.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
    bconn.close()
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    api = tracker.Api(store_dir)
    old = api.run("oldrun01")
    assert (old.name, old.project, old.state, old.config, list(old.tags)) == (
        "old-one", "legacy", "finished", OLD_CONFIG, ["v1"])
    assert (old.created_at, old.finished_at) == (1000.0, 1010.0)

    hist = old.history(pandas=False)
    assert [h["_step"] for h in hist] == [0, 1, 2, 3]
    assert [h["loss"] for h in hist[:2]] == [3.0, 1.0] and math.isnan(hist[2]["loss"]) and hist[3]["loss"] == 2.0
    assert math.copysign(1.0, hist[1]["gap"]) == -1.0 and hist[1]["diverged"] == math.inf

    stats = old.metric_stats()  # the v2 summary table was backfilled from the v1 points
    assert stats["loss"] == {"last": 2.0, "last_step": 3, "min": 1.0, "max": 3.0, "count": 4}
    assert stats["acc"] == {"last": 0.2, "last_step": 2, "min": 0.0, "max": 0.2, "count": 3}
    assert stats["gap"]["last"] == 0.0 and math.copysign(1.0, stats["gap"]["last"]) == -1.0
    assert stats["gap"]["count"] == 2 and stats["gap"]["max"] == 5.0
    d = stats["diverged"]
    assert math.isnan(d["last"]) and d["last_step"] == 2 and d["max"] == math.inf and d["count"] == 3
    assert old.summary["loss"] == 2.0 and math.isnan(old.summary["diverged"])
    assert api.run("oldrun02").metric_stats()["loss"] == {
        "last": 7.0, "last_step": 0, "min": 7.0, "max": 7.0, "count": 1}
    assert [r.id for r in api.runs(project="legacy")][-2:] == ["oldrun02", "oldrun01"]


def test_migrated_store_keeps_working_and_is_not_migrated_twice(store_dir):
    make_v1_store(store_dir)
    tracker.Api(store_dir).runs()
    backup = store_dir / "tracker.db.v1.bak"
    backup_hash = digest(backup)

    run = tracker.init(project="legacy", resume="oldrun01", dir=store_dir, capture_git=False)
    run.log({"loss": 0.5})
    run.finish()
    tracker.Api(store_dir).runs()

    assert digest(backup) == backup_hash
    old = tracker.Api(store_dir).run("oldrun01")
    assert [h["_step"] for h in old.history(pandas=False)] == [0, 1, 2, 3, 4]
    assert old.metric_stats()["loss"] == {"last": 0.5, "last_step": 4, "min": 0.5, "max": 3.0, "count": 5}
    assert old.config == OLD_CONFIG


# ------------------------------------------------------------------------------ newer store
def make_newer_store(store: Path, wal: bool) -> Path:
    store.mkdir(mode=0o700)
    db = store / "tracker.db"
    conn = sqlite3.connect(db, isolation_level=None)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN IMMEDIATE")
    migrate(conn, 0)
    conn.execute("CREATE TABLE future_things (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.execute("COMMIT")
    conn.execute("INSERT INTO runs (id, project, name, state, created_at, updated_at) "
                 "VALUES ('future01', 'p', 'n', 'finished', 1, 1)")
    conn.close()
    return db


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
@pytest.mark.parametrize("how", ["init", "Api", "Store"])
def test_store_from_a_newer_tracker_is_refused_and_left_untouched(store_dir, how, wal):
    db = make_newer_store(store_dir, wal)
    before_hash, before_files = digest(db), sorted(p.name for p in store_dir.iterdir())

    with pytest.raises(StoreVersionError) as ei:
        if how == "init":
            tracker.init(project="p", dir=store_dir, capture_git=False)
        elif how == "Api":
            tracker.Api(store_dir)
        else:
            Store(store_dir, create=False)
    msg = str(ei.value)
    assert str(db) in msg
    assert f"version {SCHEMA_VERSION + 1}" in msg and "newer" in msg and "Upgrade" in msg
    assert tracker.run is None

    assert digest(db) == before_hash
    assert sorted(p.name for p in store_dir.iterdir()) == before_files
    assert pragma(db, "user_version") == SCHEMA_VERSION + 1


# ------------------------------------------------------------------------------ network filesystems
@pytest.fixture
def on_nfs(monkeypatch):
    monkeypatch.setattr(tracker.store, "filesystem_type", lambda path: "nfs4")


def test_store_on_a_network_filesystem_is_refused_with_advice(store_dir, on_nfs):
    with pytest.raises(StoreDirError) as ei:
        tracker.init(project="p", dir=store_dir, capture_git=False)
    msg = str(ei.value)
    assert str(store_dir) in msg and "nfs4" in msg
    assert "TRACKER_DIR" in msg and "local disk" in msg and "TRACKER_ALLOW_NETWORK_FS=1" in msg
    assert tracker.run is None
    assert not (store_dir / "tracker.db").exists()


def test_network_filesystem_opt_in_uses_a_rollback_journal(store_dir, on_nfs, monkeypatch):
    monkeypatch.setenv("TRACKER_ALLOW_NETWORK_FS", "1")
    run = tracker.init(project="p", dir=store_dir, capture_git=False)
    for i in range(3):
        run.log({"loss": float(i)})
    run.finish()
    db = store_dir / "tracker.db"
    assert pragma(db, "journal_mode") == "delete"
    assert not (store_dir / "tracker.db-wal").exists()
    assert pragma(db, "user_version") == SCHEMA_VERSION
    r = tracker.Api(store_dir).run(run.id)
    assert [h["loss"] for h in r.history(pandas=False)] == [0.0, 1.0, 2.0] and r.state == "finished"


def test_local_filesystem_types_are_accepted(store_dir, monkeypatch):
    monkeypatch.setattr(tracker.store, "filesystem_type", lambda path: "ext4")
    run = tracker.init(project="p", dir=store_dir, capture_git=False)
    run.finish()
    assert pragma(store_dir / "tracker.db", "journal_mode") == "wal"
