"""``tracker-tui import`` of trackio projects (``<TRACKIO_DIR>/<project>.db``, written by trackio
itself: tests/data/importers/make_fixtures.py), read back through ``tracker.Api``."""

from __future__ import annotations

import json
import math
import sqlite3

from import_helpers import cli, dec, expected, fixture, point_count, same

import tracker


def by_name(store):
    return {(r.project, r.name): r for r in tracker.Api(store).runs() if r.meta["origin"]["format"] == "trackio"}


def test_import_reads_back_what_trackio_wrote(tmp_path):
    folder = fixture(tmp_path, "trackio")
    store = tmp_path / "store"
    out = cli(str(folder), store=store)
    assert out.returncode == 0, out.stderr
    assert "3 runs (3 new), 12 new points, 1 new events" in out.stdout
    runs = by_name(store)
    assert set(runs) == {(w["project"], w["name"]) for w in expected("trackio")}
    for w in expected("trackio"):
        r = runs[(w["project"], w["name"])]
        assert r.config == w["config"]  # nested as trackio kept it
        assert r.state == "finished" and r.meta["origin"]["path"] == str((folder / f"{w['project']}.db").resolve())
        want = {}
        step = 0
        for metrics, s in w["logs"]:
            step = s if s is not None else step
            for k, v in metrics.items():
                want[(k, step)] = dec(v)
            step += 1
        for i, m in enumerate(w["system"]):
            for k, v in m.items():
                want[("system/trackio/" + k, i)] = v
        got = {(k, s): v for s, _, k, v in r.points()}
        if w["system"]:  # trackio's system metrics are system metrics here: out of the summary
            assert any(k.startswith("system/trackio/") for k in r.system_summary)
            assert not any(k.startswith("system/") for k in r.summary)
        assert got.keys() == want.keys()
        assert all(same(got[k], want[k]) for k in want), (got, want)
        user_alerts = [a for a in r.alerts() if a["auto"] is None]
        assert [(a["title"], a["text"], a["level"]) for a in user_alerts] == [
            (t, x, lvl.upper()) for t, x, lvl in w["alerts"]]
    a = runs[("vision", "resnet-a")]
    assert math.isnan(a.history(["train/loss"], pandas=False)[1]["train/loss"]) and a.summary["grad/norm"] == -math.inf
    assert a.created_at <= a.finished_at


def _add_row(db, run_name, step, metrics):
    c = sqlite3.connect(db)
    rid = c.execute("SELECT run_id FROM metrics WHERE run_name = ?", (run_name,)).fetchone()[0]
    c.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?, ?, ?, ?, ?)",
              (rid, "2026-12-02T16:00:00+00:00", run_name, step, metrics))
    c.commit()
    c.close()


def test_reimport_adds_nothing_and_a_grown_project_adds_only_new_rows(tmp_path):
    folder = fixture(tmp_path, "trackio")
    store = tmp_path / "store"
    assert cli(str(folder), store=store).returncode == 0
    again = cli(str(folder), store=store)
    assert "3 runs (3 unchanged), 0 new points, 0 new events" in again.stdout
    _add_row(folder / "vision.db", "resnet-b", 2, json.dumps({"train/loss": "NaN", "lr": 1e-3}))
    out = cli(str(folder), store=store)
    assert out.returncode == 0 and "1 updated, 2 unchanged" in out.stdout and ", 2 new points" in out.stdout
    r = by_name(store)[("vision", "resnet-b")]
    assert [(k, v) for s, _, k, v in r.points() if s == 2][1] == ("lr", 1e-3)
    assert math.isnan(r.summary["train/loss"])
    assert point_count(store) == 14


def test_unreadable_row_is_skipped_and_counted(tmp_path):
    folder = fixture(tmp_path, "trackio")
    _add_row(folder / "vision.db", "resnet-b", 2, "{not json")
    _add_row(folder / "vision.db", "resnet-b", 3, json.dumps({"train/loss": 1.0, "img": {"_type": "image"}}))
    store = tmp_path / "store"
    out = cli(str(folder / "vision.db"), store=store)
    assert out.returncode == 1
    assert "skipped 1 unreadable record: trackio: unreadable metrics row (not a JSON object)" in out.stdout
    assert "1 values that are not numbers" in out.stdout
    assert [v for s, _, _, v in by_name(store)[("vision", "resnet-b")].points() if s == 3] == [1.0]


def test_older_store_without_run_id_names_runs_by_run_name(tmp_path):
    folder = fixture(tmp_path, "trackio")
    db = folder / "vision.db"
    c = sqlite3.connect(db)
    for table in ("metrics", "configs", "system_metrics", "alerts"):
        for (idx,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                "AND sql IS NOT NULL", (table,)).fetchall():
            c.execute(f'DROP INDEX "{idx}"')
    c.execute("CREATE TABLE configs2 AS SELECT id, run_name, config, created_at FROM configs")
    c.execute("DROP TABLE configs")
    c.execute("ALTER TABLE configs2 RENAME TO configs")
    for table in ("metrics", "system_metrics", "alerts"):
        c.execute(f"ALTER TABLE {table} DROP COLUMN run_id")
    c.commit()
    c.close()
    store = tmp_path / "store"
    out = cli(str(db), store=store)
    assert out.returncode == 0, out.stdout + out.stderr
    runs = by_name(store)
    assert {r.meta["origin"]["source_id"] for r in runs.values()} == {"resnet-a", "resnet-b"}
    assert runs[("vision", "resnet-a")].config["optim"] == {"name": "adam", "betas": [0.9, 0.999]}
    assert point_count(store) == 11


def test_project_copied_elsewhere_is_imported_apart(tmp_path):
    a = fixture(tmp_path / "a", "trackio")
    b = fixture(tmp_path / "b", "trackio")
    store = tmp_path / "store"
    out = cli(str(a), str(b), store=store)
    assert "6 runs (6 new)" in out.stdout
    assert point_count(store) == 24
