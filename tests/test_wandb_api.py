"""``tracker.Api`` as wandb code uses it (issue 10): paths, wandb's order spellings, MongoDB
filters, history()/scan_history(), projects, run.update()."""

from __future__ import annotations

import time

import pytest

import tracker


@pytest.fixture
def store(tmp_path):
    """Three runs in project "cv" (entity "lab" for two), one in "nlp"."""
    specs = [("a", "lab", {"lr": 0.1, "opt": {"name": "sgd"}}, ["base"], [0.5, 0.7]),
             ("b", "lab", {"lr": 0.01, "opt": {"name": "adam"}}, ["base", "best"], [0.6, 0.9]),
             ("c", None, {"lr": 0.001}, [], [0.2])]
    for name, entity, cfg, tags, accs in specs:
        run = tracker.init(project="cv", name=name, entity=entity, config=cfg, tags=tags, dir=tmp_path,
                           capture_git=False)
        for acc in accs:
            run.log({"val/acc": acc, "loss": 1 - acc})
        run.finish()
        time.sleep(0.01)  # distinct created_at
    run = tracker.init(project="nlp", name="d", entity="other", dir=tmp_path, capture_git=False)
    run.finish()
    return tmp_path


def names(runs):
    return [r.name for r in runs]


def test_entity_project_paths(store):
    api = tracker.Api(store)
    assert sorted(names(api.runs("cv"))) == ["a", "b", "c"]
    assert sorted(names(api.runs("lab/cv"))) == ["a", "b", "c"]  # c was logged without an entity
    assert names(api.runs("someone/cv")) == ["c"]
    assert names(api.runs("other/nlp")) == ["d"]
    b = api.runs("cv", filters={"display_name": "b"})[0]
    assert b.path == ["lab", "cv", b.id] and b.entity == "lab"
    assert api.run("lab/cv/" + b.id).name == "b"
    assert api.run("cv/" + b.id).name == "b" and api.run(f"lab/cv/runs/{b.id}").name == "b"
    with pytest.raises(tracker.store.RunNotFound):
        api.run("lab/nlp/" + b.id)
    # wandb's keywords are accepted (never the user's own store: the test's)
    assert tracker.Api(store, overrides={"entity": "lab", "project": "cv"}, timeout=20).dir == tracker.Api(store).dir


def test_projects_are_names_with_wandbs_attributes(store):
    api = tracker.Api(store)
    assert sorted(api.projects()) == ["cv", "nlp"]
    p = api.project("cv")
    assert (p.name, p.run_count, p == "cv") == ("cv", 3, True)
    with pytest.raises(ValueError, match="no project 'nope'"):
        api.project("nope")


def test_order_with_wandbs_spellings_and_an_unknown_field_is_an_error(store):
    api = tracker.Api(store)
    assert names(api.runs("cv", order="-summary_metrics.val/acc")) == ["b", "a", "c"]
    assert names(api.runs("cv", order="+config.lr")) == ["c", "b", "a"]
    assert names(api.runs("cv", order="config.lr")) == ["c", "b", "a"]
    assert names(api.runs("cv", order="+created_at")) == ["a", "b", "c"]
    assert names(api.runs("cv", order="-summary.loss")) == ["c", "a", "b"]
    with pytest.raises(ValueError, match="unknown run field 'val_acc'"):
        api.runs("cv", order="-val_acc")


@pytest.mark.parametrize(("filters", "expected"), [
    ({"config.lr": {"$lt": 0.05}}, ["b", "c"]),
    ({"summary_metrics.val/acc": {"$gte": 0.7}}, ["a", "b"]),
    ({"$or": [{"config.lr": 0.1}, {"tags": "best"}]}, ["a", "b"]),
    ({"$and": [{"tags": {"$in": ["base"]}}, {"config.opt.name": {"$ne": "sgd"}}]}, ["b"]),
    ({"$nor": [{"display_name": "a"}, {"display_name": "b"}]}, ["c"]),
    ({"config.lr": {"$not": {"$gt": 0.005}}}, ["c"]),
    ({"$not": {"state": "finished"}}, []),
    ({"config.opt.name": {"$exists": False}}, ["c"]),
    ({"display_name": {"$regex": "^[ab]$"}}, ["a", "b"]),
    ({"config.lr": {"$nin": [0.1, 0.01]}}, ["c"]),
    ({"tags": {"$regex": "be"}}, ["b"]),
    ({"created_at": {"$gt": "2000-01-01T00:00:00Z"}, "state": {"$eq": "finished"}}, ["a", "b", "c"]),
    ({"config.lr.value": 0.1}, ["a"]),
])
def test_mongodb_filters(store, filters, expected):
    assert sorted(names(tracker.Api(store).runs("cv", filters=filters))) == expected


def test_an_unknown_filter_operator_or_field_is_an_error(store):
    api = tracker.Api(store)
    with pytest.raises(ValueError, match=r"unknown filter operator '\$gtt'"):
        api.runs("cv", filters={"config.lr": {"$gtt": 1}})
    with pytest.raises(ValueError, match=r"unknown filter operator '\$xor'"):
        api.runs("cv", filters={"$xor": []})
    with pytest.raises(ValueError, match="unknown run field 'colour'"):
        api.runs("cv", filters={"colour": "red"})


def test_history_samples_keys_and_texts(tmp_path):
    run = tracker.init(project="p", dir=tmp_path, capture_git=False)
    for i in range(10):
        run.log({"loss": float(i), "epoch": i // 5, **({"note": f"n{i}"} if i % 3 == 0 else {})})
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    rows = r.history(pandas=False)
    assert len(rows) == 10 and rows[3]["note"] == "n3" and "note" not in rows[1]
    assert [x["_step"] for x in r.history(samples=4, pandas=False)] == [0, 3, 6, 9]
    assert set(r.history(keys=["loss"], x_axis="epoch", pandas=False)[0]) == {"_step", "_timestamp", "loss", "epoch"}
    assert r.history(["loss"], pandas=False)[-1]["loss"] == 9.0  # tracker's own positional keys
    assert r.texts()[:2] == [(0, "note", "n0"), (3, "note", "n3")]


def test_scan_history_ranges_and_keys(tmp_path):
    run = tracker.init(project="p", dir=tmp_path, capture_git=False)
    for i in range(6):
        run.log({"loss": float(i), **({"val": 1.0} if i % 2 else {})})
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    assert [x["_step"] for x in r.scan_history(min_step=1, max_step=4)] == [1, 2, 3]
    assert [x["_step"] for x in r.scan_history(keys=["loss", "val"], page_size=2)] == [1, 3, 5]


def test_update_persists_edits(store):
    api = tracker.Api(store)
    r = api.runs("cv", filters={"display_name": "a"})[0]
    r.name = "renamed"
    r.tags.append("checked")
    r.notes = "looked at it"
    r.config["lr"] = 0.2
    r.summary["val/acc"] = 0.99
    r.summary["verdict"] = "good"
    r.update()
    again = tracker.Api(store).run(r.id)
    assert (again.name, again.tags, again.notes, again.config["lr"]) == ("renamed", ["base", "checked"],
                                                                          "looked at it", 0.2)
    assert (again.summary["val/acc"], again.summary["verdict"], again.summary["loss"]) == (
        0.99, "good", pytest.approx(0.3))
    again.display_name = "third"
    again.save()
    assert tracker.Api(store).run(r.id).name == "third"


def test_delete_moves_the_run_to_the_trash_and_refuses_a_running_run(store):
    from pathlib import Path

    from tracker.store.curate import purge, restore, trashed

    api = tracker.Api(store)
    a = api.runs("cv", filters={"display_name": "a"})[0]
    files = Path(store, "runs", a.id)
    files.mkdir(parents=True)
    (files / "x.txt").write_text("x")
    a.delete()
    api = tracker.Api(store)
    assert sorted(names(api.runs("cv"))) == ["b", "c"]
    with pytest.raises(tracker.store.RunNotFound):
        api.run(a.id)
    assert files.exists()  # restorable: nothing is removed until purge
    restore(api.store, [api.store.run(a.id, deleted=True).rid])
    assert sorted(names(tracker.Api(store).runs("cv"))) == ["a", "b", "c"]
    tracker.Api(store).run(a.id).delete()
    purge(api.store, trashed(api.store, 0))
    assert not files.exists()
    assert api.store.conn.execute("SELECT count(*) FROM metrics m WHERE m.rid NOT IN (SELECT rid FROM runs) "
                                  "AND m.rid != 0").fetchone() == (0,)  # rid 0: the id marker kept
    live = tracker.init(project="cv", dir=store, capture_git=False)
    with pytest.raises(tracker.store.StoreError, match="still running"):
        tracker.Api(store).run(live.id).delete()
    live.finish()


def test_files_saved_with_a_run_are_listed_and_downloaded(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "model.yaml").write_text("layers: 2\n")
    run = tracker.init(project="p", dir=tmp_path / "store", capture_git=False)
    tracker.save(str(tmp_path / "cfg" / "*.yaml"))
    run.finish()
    r = tracker.Api(tmp_path / "store").run(run.id)
    assert [(f.name, f.size) for f in r.files()] == [("model.yaml", 10)]
    with r.file("model.yaml").download(root=str(tmp_path / "dl")) as f:
        assert f.read() == "layers: 2\n"
    with pytest.raises(ValueError, match="exists"):
        r.file("model.yaml").download(root=str(tmp_path / "dl"))
    with pytest.raises(ValueError, match="no file 'x.txt'"):
        r.file("x.txt")
