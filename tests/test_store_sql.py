"""The read-only SQL views (schema 3) queried through sqlite-utils, on stores made by real logging;
and the README's sqlite-utils commands, run as written."""

from __future__ import annotations

import json
import math
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils
import test_crash

import tracker
from helpers import child_env
from tracker.store import SCHEMA_VERSION, Store, StoreMissing
from tracker.store.sql import database

readonly_dir = test_crash.readonly_dir  # a fixture: (a store dir, the same dir read-only)

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Two runs of one project, logged for real: nested config, a NaN, a summary override."""
    for lr, losses in ((0.1, [2.0, 1.0, math.nan, 0.5]), (0.01, [3.0, 2.5])):
        run = tracker.init(project="cifar", dir=tmp_path, capture_git=False, name=f"lr-{lr}",
                           config={"optim": {"lr": lr, "name": "adam"}, "batch_size": 64})
        for loss in losses:
            run.log({"train/loss": loss, "val/acc": 1 - loss / 4 if loss == loss else 0.0})
        run.summary["best_acc"] = 0.9
        run.finish()
    return tmp_path


def test_history_is_long_format_with_names_resolved(store):
    db = sqlite_utils.Database(store / "tracker.db")
    assert {"history", "runs_flat"} <= set(db.view_names())
    rows = list(db.query("SELECT run_name, project, key, step, value, is_nan, is_system FROM history "
                         "WHERE key = 'train/loss' ORDER BY run_name, step"))
    assert [(r["run_name"], r["step"], r["value"]) for r in rows] == [
        ("lr-0.01", 0, 3.0), ("lr-0.01", 1, 2.5),
        ("lr-0.1", 0, 2.0), ("lr-0.1", 1, 1.0), ("lr-0.1", 2, None), ("lr-0.1", 3, 0.5)]
    assert [r["is_nan"] for r in rows] == [0, 0, 0, 0, 1, 0]  # NaN reads as NULL, flagged
    assert {r["project"] for r in rows} == {"cifar"} and not any(r["is_system"] for r in rows)
    run_ids = {r["run_id"] for r in db["history"].rows}
    assert run_ids == {r.id for r in Store(store, create=False).runs()}


def test_runs_flat_is_one_row_per_run(store):
    db = database(store)
    rows = {r["name"]: r for r in db["runs_flat"].rows}
    assert set(rows) == {"lr-0.1", "lr-0.01"}
    r = rows["lr-0.1"]
    assert r["project"] == "cifar" and r["state"] == "finished" and r["exit_code"] == 0 and r["last_step"] == 3
    assert r["runtime_s"] >= 0 and r["finished_at"] >= r["created_at"]
    assert json.loads(r["config"]) == {"optim": {"lr": 0.1, "name": "adam"}, "batch_size": 64}
    assert json.loads(r["summary"]) == {"train/loss": 0.5, "val/acc": 0.875, "best_acc": 0.9}
    q = ("SELECT name, config ->> 'optim.lr' AS lr, summary ->> 'val/acc' AS acc FROM runs_flat "
         "WHERE config ->> 'optim.name' = 'adam' ORDER BY lr")
    assert [tuple(x.values()) for x in db.query(q)] == [("lr-0.01", 0.01, 0.375), ("lr-0.1", 0.1, 0.875)]


def test_the_database_helper_is_read_only(store, tmp_path):
    db = database(store)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db["runs"].insert({"id": "x"})
    with pytest.raises(StoreMissing):
        database(tmp_path / "nothing-here")


def as_schema_2(store: Path) -> None:
    """Schema 3 only added the views, 4 the artifact tables: without them and with user_version 2
    this is a v2 store."""
    conn = sqlite3.connect(store / "tracker.db")
    conn.executescript("DROP VIEW history; DROP VIEW runs_flat; PRAGMA user_version = 2;")
    for t in ("artifacts", "artifact_versions", "artifact_files", "artifact_aliases", "artifact_usage",
              "artifact_alias_events"):
        conn.execute(f"DROP TABLE {t}")
    conn.close()


def test_a_schema_2_store_gains_the_views_without_a_backup(store):
    db_path = store / "tracker.db"
    as_schema_2(store)
    Store(store, create=False).close()  # any writable open migrates it
    assert sqlite_utils.Database(db_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert not list(store.glob("*.bak"))  # views change no row: nothing to back up
    assert sqlite_utils.Database(db_path).execute("SELECT count(*) FROM history").fetchone()[0] == 12


def test_a_read_only_schema_2_store_is_still_read(readonly_dir):
    src, ro, make_ro = readonly_dir
    run = tracker.init(project="p", dir=src, capture_git=False)
    run.log({"loss": 0.5})
    run.finish()
    as_schema_2(src)
    make_ro()
    s = Store(ro, create=False)  # cannot be migrated here, and needs no migration to be read
    assert s.readonly and s.schema_version() == 2
    assert [r.summary for r in s.runs()] == [{"loss": 0.5}]
    s.close()


def test_logging_never_imports_sqlite_utils(tmp_path):
    code = ("import sys, tracker\n"
            f"run = tracker.init(project='p', dir={str(tmp_path)!r}, capture_git=False)\n"
            "run.log({'loss': 1.0})\nrun.finish()\n"
            "assert 'sqlite_utils' not in sys.modules, 'the logger imported sqlite_utils'\n"
            "assert tracker.Api(run.dir.rsplit('/runs/', 1)[0]).run(run.id).summary == {'loss': 1.0}\n"
            "assert 'sqlite_utils' not in sys.modules, 'the read API imported sqlite_utils'\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=child_env())
    assert p.returncode == 0, p.stderr


def readme_commands() -> list[str]:
    text = README.read_text()
    section = text.split("## Query the store with SQL", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", section, re.S)
    return [line for b in blocks for line in b.splitlines() if line.startswith("sqlite-utils ")]


def test_the_readme_sqlite_utils_commands_work(store):
    exe = shutil.which("sqlite-utils")
    assert exe, "sqlite-utils (a dependency) installs its command"
    commands = readme_commands()
    assert len(commands) >= 3
    for cmd in commands:
        argv = shlex.split(cmd.replace("~/.tracker/tracker.db", str(store / "tracker.db")))
        p = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"{cmd}\n{p.stderr}"
        assert "lr-0.1" in p.stdout or "train/loss" in p.stdout, f"{cmd}\n{p.stdout}"
