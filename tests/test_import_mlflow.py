"""``tracker-tui import`` of MLflow runs: the file store and the SQLite backend, as written by
MLflow itself (tests/data/importers/make_fixtures.py), read back through ``tracker.Api``."""

from __future__ import annotations

import math
import sqlite3

import pytest
from import_helpers import cli, dec, expected, fixture, point_count, runs_by_source, same

import tracker
from tracker.store import Store
from tracker.store.importers import Importer, find_sources

KINDS = {"file": "mlruns", "sqlite": "mlflow.db"}
STATE = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "failed"}


@pytest.fixture(params=list(KINDS))
def source(request, tmp_path):
    folder = fixture(tmp_path, f"mlflow_{request.param}")
    return request.param, folder / KINDS[request.param], expected(f"mlflow_{request.param}")


def test_import_reads_back_what_mlflow_wrote(source, tmp_path):
    _, path, want = source
    store = tmp_path / "store"
    out = cli(str(path), store=store)
    assert out.returncode == 0, out.stderr
    assert "3 runs (3 new), 13 new points" in out.stdout
    runs = runs_by_source(store)
    assert set(runs) == {w["run_id"] for w in want}
    for w in want:
        r = runs[w["run_id"]]
        assert (r.name, r.project, r.state) == (w["name"], w["experiment"], STATE[w["status"]])
        assert r.config == w["params"]  # exactly MLflow's strings, "/" in a key kept
        assert r.meta["origin"]["format"] == "mlflow" and r.meta["origin"]["path"].startswith(str(path.resolve()))
        assert r.meta["mlflow_status"] == w["status"]
        assert r.notes == w["tags"].get("mlflow.note.content")
        assert [t for t in r.tags] == sorted(f"{k}={v}" for k, v in w["tags"].items() if not k.startswith("mlflow."))
        assert r.finished_at is not None and r.created_at <= r.finished_at
        got = sorted((k, s, v) for s, _, k, v in r.points())
        exp = sorted((k, s, dec(v)) for k, s, v in w["metrics"])
        assert len(got) == len(exp)
        # sorted() puts NaN anywhere: compare per (key, step) in logging order instead
        by = {}
        for k, s, v in w["metrics"]:
            by.setdefault((k, s), []).append(dec(v))
        got_by = {}
        for s, _, k, v in r.points():
            got_by.setdefault((k, s), []).append(v)
        assert by.keys() == got_by.keys()
        for key in by:
            assert all(same(a, b) for a, b in zip(by[key], got_by[key])), (key, by[key], got_by[key])
    a = runs[want[0]["run_id"]]
    assert math.isnan(a.history(["train/loss"], pandas=False)[3]["train/loss"])
    assert a.summary["val/acc"] == math.inf and a.summary["grad/norm"] == -math.inf


def test_reimport_adds_nothing_and_changes_no_revision(source, tmp_path):
    _, path, _ = source
    store = tmp_path / "store"
    assert cli(str(path), store=store).returncode == 0
    before = {r.id: r._rec.rev for r in tracker.Api(store).runs()}
    again = cli(str(path), store=store)
    assert again.returncode == 0, again.stderr
    assert "3 runs (3 unchanged), 0 new points" in again.stdout
    assert point_count(store) == 13
    assert {r.id: r._rec.rev for r in tracker.Api(store).runs()} == before


def test_grown_source_adds_only_new_points(source, tmp_path):
    kind, path, want = source
    store = tmp_path / "store"
    assert cli(str(path), store=store).returncode == 0
    uuid = want[0]["run_id"]
    if kind == "file":
        f = next(path.glob(f"*/{uuid}/metrics/train/loss"))
        with open(f, "a") as fh:  # MLflow's own line format; the second line is still being written
            fh.write("1796224400000 0.0625 5\n1796224400001 0.03")
    else:
        c = sqlite3.connect(path)
        c.execute("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
                  ("train/loss", 0.0625, 1796224400000, uuid, 5, 0))
        c.commit()
        c.close()
    out = cli(str(path), store=store)
    assert out.returncode == 0, out.stderr
    assert "1 updated, 2 unchanged" in out.stdout and ", 1 new points" in out.stdout
    r = runs_by_source(store)[uuid]
    assert [p for p in r.points(["train/loss"]) if p[0] == 5][0][3] == 0.0625
    if kind == "file":  # the torn line completes: imported once, then never again
        with open(f, "a") as fh:
            fh.write("125 6\n")
        assert ", 1 new points" in cli(str(path), store=store).stdout
        assert ", 0 new points" in cli(str(path), store=store).stdout
        assert [v for s, _, _, v in runs_by_source(store)[uuid].points(["train/loss"]) if s == 6] == [0.03125]
    assert point_count(store) == 13 + (2 if kind == "file" else 1)


def test_same_run_ids_from_two_sources_stay_apart(tmp_path):
    a = fixture(tmp_path / "a", "mlflow_file") / "mlruns"
    b = fixture(tmp_path / "b", "mlflow_file") / "mlruns"
    store = tmp_path / "store"
    out = cli(str(a), str(b), store=store)
    assert out.returncode == 0 and "6 runs (6 new)" in out.stdout
    runs = tracker.Api(store).runs()
    assert len({r.id for r in runs}) == 6
    assert {r.meta["origin"]["path"].split("/")[-5] for r in runs} == {"a", "b"}


def test_unreadable_metric_line_is_skipped_counted_and_fails_the_exit_status(tmp_path):
    path = fixture(tmp_path, "mlflow_file") / "mlruns"
    uuid = expected("mlflow_file")[1]["run_id"]
    f = next(path.glob(f"*/{uuid}/metrics/train/loss"))
    f.write_text(f.read_text() + "garbage\x1b[2J here\n1796224400000 1.25 2\n")
    store = tmp_path / "store"
    out = cli(str(path), store=store)
    assert out.returncode == 1
    assert "skipped 1 unreadable record: mlflow: unreadable line in metric file 'train/loss'" in out.stdout
    assert [v for s, _, _, v in runs_by_source(store)[uuid].points() if s == 2] == [1.25]


def test_hostile_run_name_is_printed_inert(tmp_path):
    path = fixture(tmp_path, "mlflow_file") / "mlruns"
    uuid = expected("mlflow_file")[0]["run_id"]
    next(path.glob(f"*/{uuid}/tags/mlflow.runName")).write_text("\x1b]52;c;aGk=\x07evil\u202e")
    store = tmp_path / "store"
    out = cli(str(path), store=store)
    assert out.returncode == 0
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\u202e" not in out.stdout
    assert "\\x1b]52;c;aGk=\\x07evil" in out.stdout
    assert runs_by_source(store)[uuid].name == "\x1b]52;c;aGk=\x07evil\u202e"  # stored exactly


def test_missing_path_and_foreign_folder_exit_1_with_a_clear_message(tmp_path):
    store = tmp_path / "store"
    out = cli(str(tmp_path / "nope"), store=store)
    assert out.returncode == 1 and "no such file or directory" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    out = cli(str(tmp_path / "empty"), store=store)
    assert out.returncode == 1 and "found nothing to import" in out.stderr


def test_unreadable_database_is_an_error_not_a_traceback(tmp_path):
    db = fixture(tmp_path, "mlflow_sqlite") / "mlflow.db"
    store = tmp_path / "store"
    good = cli(str(db), "--format", "mlflow", store=store)
    assert good.returncode == 0
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page destroyed
    db.write_bytes(bytes(data))
    out = cli(str(db), "--format", "mlflow", store=store)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr


def test_a_batch_and_its_cursor_commit_together(tmp_path):
    """Cut an import after its first committed chunk: the store holds whole chunks and the cursor
    that matches them, and the next import completes the run without a duplicate."""
    db = fixture(tmp_path, "mlflow_sqlite") / "mlflow.db"
    uuid = expected("mlflow_sqlite")[0]["run_id"]
    c = sqlite3.connect(db)
    c.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
                  [("big", i / 7, 1796224400000 + i, uuid, 100 + i, 0) for i in range(25_000)])
    c.commit()
    c.close()
    src = next(s for s in find_sources(db) if s.source_id == uuid)
    store = Store(tmp_path / "store")
    real = src.read

    def cut(cursor):
        for n, u in enumerate(real(cursor)):
            if n == 3:
                raise OSError("disk went away")
            yield u

    src.read = cut
    imp = Importer(store, chunk=10_000)
    res = imp.run(src)
    assert res.error and "disk went away" in res.error
    got = store.count_points()
    assert got in (10_000, 20_000)  # whole chunks, each with its cursor
    src.read = real
    res = imp.run(src)
    assert res.error is None and got + res.points == 25_008
    assert sorted(s for s, _, k, _ in store.points(store.run(src.run_id).rid, ["big"])) == list(range(100, 25_100))
    store.close()


def test_experiment_with_tags_of_its_own_is_still_an_experiment(tmp_path):
    path = fixture(tmp_path, "mlflow_file") / "mlruns"
    for exp in path.iterdir():
        if (exp / "meta.yaml").is_file():  # what MlflowClient.set_experiment_tag writes
            (exp / "tags").mkdir()
            (exp / "tags" / "mlflow.note.content").write_text("experiment notes")
    out = cli(str(path), store=tmp_path / "store")
    assert out.returncode == 0 and "3 runs (3 new), 13 new points" in out.stdout


def test_a_run_bigger_than_one_transaction_reimports_as_unchanged(tmp_path):
    path = fixture(tmp_path, "mlflow_file") / "mlruns"
    uuid = expected("mlflow_file")[0]["run_id"]
    f = next(path.glob(f"*/{uuid}/metrics/train/loss"))
    with open(f, "a") as fh:
        fh.writelines(f"1796224400000 {i / 3} {100 + i}\n" for i in range(120_000))
    store = tmp_path / "store"
    assert cli(str(path), store=store).returncode == 0
    r = runs_by_source(store)[uuid]
    assert r.heartbeat_at == r.finished_at  # the source's time, not the import's
    assert r.meta["origin"]["cursor"]["metrics"]["train/loss"] == f.stat().st_size
    again = cli(str(path), store=store)
    assert "3 runs (3 unchanged), 0 new points" in again.stdout


def test_meta_yaml_with_values_of_the_wrong_type_fails_that_run_only(tmp_path):
    path = fixture(tmp_path, "mlflow_file") / "mlruns"
    uuid = expected("mlflow_file")[1]["run_id"]
    meta = next(path.glob(f"*/{uuid}/meta.yaml"))
    meta.write_text(meta.read_text().replace("start_time:", "start_time: yesterday\nold_start_time:"))
    out = cli(str(path), store=tmp_path / "store")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "unreadable (TypeError" in out.stderr
    assert "2 new, 1 error" in out.stdout


def test_a_damaged_run_meta_yaml_is_reported_and_the_other_runs_imported(tmp_path):
    path = fixture(tmp_path, "mlflow_file") / "mlruns"
    uuid = expected("mlflow_file")[1]["run_id"]
    next(path.glob(f"*/{uuid}/meta.yaml")).write_text("run_id: [unclosed\n")
    out = cli(str(path), store=tmp_path / "store")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "unreadable MLflow meta.yaml" in out.stderr and "2 new, 1 error" in out.stdout


def test_a_cut_file_store_import_resumes_mid_metric_file_without_duplicates(tmp_path):
    path = fixture(tmp_path, "mlflow_file") / "mlruns"
    uuid = expected("mlflow_file")[0]["run_id"]
    f = next(path.glob(f"*/{uuid}/metrics/train/loss"))
    with open(f, "a") as fh:
        fh.writelines(f"1796224400000 {i} {100 + i}\n" for i in range(35_000))
    src = next(s for s in find_sources(path) if s.source_id == uuid)
    store = Store(tmp_path / "store")
    real = src.read

    def cut(cursor):
        for n, u in enumerate(real(cursor)):
            if n == 4:  # inside train/loss, after two 10k-line pieces
                raise OSError("disk went away")
            yield u

    src.read = cut
    imp = Importer(store, chunk=10_000)
    assert "disk went away" in imp.run(src).error
    first = store.count_points()
    assert 0 < first < 35_008
    src.read = real
    assert imp.run(src).points == 35_008 - first
    steps = [s for s, _, k, _ in store.points(store.run(src.run_id).rid, ["train/loss"])]
    assert len(steps) == len(set(steps)) == 35_005
    store.close()
