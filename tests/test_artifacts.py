"""Artifacts in one process: versions, dedup, aliases, download byte-identity, hostile names,
references, the read API. Real stores in tmp directories; no mocks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import test_crash

import tracker
from tracker.store import Store
from tracker.store.artifacts import ArtifactStore
from tracker.store.artifacts_models import ArtifactError, ArtifactNotFound
from tracker.store.objects import ObjectStore

readonly_dir = test_crash.readonly_dir  # a fixture: (a store dir, the same dir read-only)

pytestmark = pytest.mark.usefixtures("clean_env")


def _objects(store: Path) -> list[Path]:
    return [p for p in (store / "objects").rglob("*") if p.is_file() and p.parent.name != "tmp"]


def _run(store_dir: Path, **kw):
    return tracker.init(project="p", dir=store_dir, **kw)


def test_versions_dedup_and_latest(tmp_path: Path, store_dir: Path) -> None:
    big = tmp_path / "weights.bin"
    big.write_bytes(os.urandom(3 << 20))
    small = tmp_path / "notes.txt"
    run = _run(store_dir)
    a = tracker.Artifact("model", type="model")
    a.add_file(big)
    small.write_text("one")
    a.add_file(small)
    run.log_artifact(a).wait()
    small.write_text("two")  # the big file is unchanged in the next version
    b = tracker.Artifact("model", type="model")
    b.add_file(big)
    b.add_file(small)
    run.log_artifact(b).wait()
    same = tracker.Artifact("model", type="model")
    same.add_file(big)
    same.add_file(small)
    run.log_artifact(same).wait()
    assert (a.version, b.version, same.version) == ("v0", "v1", "v1")  # identical content: no new version
    assert same.digest == b.digest != a.digest
    assert b.aliases == ["latest"] and tracker.Api(store_dir).artifact("model:v0").aliases == []
    objs = _objects(store_dir)
    assert len(objs) == 3  # the 3 MB file once, two versions of the text file
    assert sum(p.stat().st_size for p in objs) == (3 << 20) + 6
    for p in objs:
        assert not p.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert not list((store_dir / "objects" / "tmp").iterdir())


def test_add_file_snapshots_before_the_user_overwrites(tmp_path: Path, store_dir: Path) -> None:
    f = tmp_path / "ckpt.pt"
    f.write_bytes(b"epoch-1" * 1000)
    run = _run(store_dir)
    a = tracker.Artifact("ckpt", type="model")
    a.add_file(f)
    f.write_bytes(b"epoch-2")  # torch.save to the same path right after add_file
    run.log_artifact(a)
    run.finish()  # finish waits for the commit
    out = tracker.Api(store_dir).artifact("p/ckpt:v0").download(tmp_path / "dl")
    assert (Path(out) / "ckpt.pt").read_bytes() == b"epoch-1" * 1000
    assert f.stat().st_nlink == 1  # never hardlinked in


def test_download_is_byte_identical_and_verify_rehashes(tmp_path: Path, store_dir: Path) -> None:
    src = tmp_path / "data"
    (src / "sub" / "deeper").mkdir(parents=True)
    files = {"a.bin": os.urandom(70_000), "sub/b.txt": b"hello\n", "sub/deeper/empty": b"",
             "sub/sp ace ünï.txt": b"x" * 5}
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    run = _run(store_dir)
    art = run.log_artifact(str(src), name="ds", type="dataset").wait()
    out = Path(art.download(tmp_path / "dl"))
    got = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == files
    art.verify()
    art.verify(out)
    (out / "sub" / "b.txt").write_bytes(b"changed")
    with pytest.raises(ArtifactError, match="sub/b.txt"):
        art.verify(out)
    (out / "stray.txt").write_text("not mine")
    art.checkout(out)
    assert (out / "sub" / "b.txt").read_bytes() == b"hello\n" and not (out / "stray.txt").exists()
    obj = ObjectStore(store_dir / "objects").path_of(art.manifest["a.bin"]["digest"])
    os.chmod(obj, 0o644)
    obj.write_bytes(b"bit rot")
    with pytest.raises(ArtifactError, match="a.bin"):
        art.verify()


def test_aliases_move_and_vn_is_reserved(tmp_path: Path, store_dir: Path) -> None:
    run = _run(store_dir)
    arts = []
    for i in range(3):
        a = tracker.Artifact("m", type="model")
        with a.new_file("w.txt") as f:
            f.write(f"weights {i}")
        arts.append(run.log_artifact(a, aliases=["best"] if i < 2 else []).wait())
    api = tracker.Api(store_dir)
    assert arts[1].aliases == ["latest", "best"] and api.artifact("m:v1").aliases == ["best"]
    assert api.artifact("m:best").version == "v1"
    assert api.artifact("m").version == "v2" and api.artifact("m:latest").version == "v2"
    v0 = api.artifact("m:v0")
    v0.aliases.append("production")
    v0.metadata["note"] = "promoted"
    v0.save()
    assert api.artifact("p/m:production").version == "v0"
    assert api.artifact("m:production").metadata == {"note": "promoted"}
    v2 = api.artifact("m:v2")
    v2.aliases.append("production")
    v2.save()  # moves, never duplicates
    assert api.artifact("m:production").version == "v2" and "production" not in api.artifact("m:v0").aliases
    events = ArtifactStore(Store(store_dir)).alias_events("p", "m")
    prod = [e for e in events if e["alias"] == "production"]
    assert [(e["version"], e["previous"]) for e in prod] == [(0, None), (2, 0)]
    assert prod[0]["user"] and prod[0]["host"]
    for bad in ("v3", "a/b", "x:y", "", "bad\nname"):
        with pytest.raises(ArtifactError):
            run.log_artifact(tracker.Artifact("m2", type="model"), aliases=[bad])
    with pytest.raises(ArtifactNotFound):
        api.artifact("m:nope")


def test_delete_refuses_an_aliased_version_and_latest_moves_back(store_dir: Path) -> None:
    run = _run(store_dir)
    for i in range(3):
        a = tracker.Artifact("m", type="model")
        with a.new_file("f") as f:
            f.write(str(i))
        run.log_artifact(a, aliases=["best"] if i == 1 else []).wait()
    api = tracker.Api(store_dir)
    with pytest.raises(ArtifactError, match="best"):
        api.artifact("m:v1").delete()
    api.artifact("m:v2").delete()
    assert api.artifact("m:latest").version == "v1"
    api.artifact("m:v1").delete(delete_aliases=True)
    assert api.artifact("m:latest").version == "v0" and not api.artifact_exists("m:best")
    b = tracker.Artifact("m", type="model")
    with b.new_file("f") as f:
        f.write("new")
    assert run.log_artifact(b).wait().version == "v3"  # numbers are never reused


def test_hostile_file_names_are_refused(tmp_path: Path, store_dir: Path) -> None:
    f = tmp_path / "ok.txt"
    f.write_text("x")
    a = tracker.Artifact("h", type="dataset")
    for bad in ("../escape", "a/../../b", "/etc/passwd", "line\nbreak", "nul\x00", "esc\x1b[31m", "", "C:\\x"):
        with pytest.raises(ArtifactError):
            a.add_file(f, name=bad)
    a.add_file(f, name="./dir//./ok.txt")
    d = tmp_path / "tree"
    d.mkdir()
    (d / "evil\nname").write_text("x")
    with pytest.raises(ArtifactError, match="control"):
        tracker.Artifact("h2", type="dataset").add_dir(d)
    for bad_name in ("../x", "a/b", "", "x" * 200, "new\nline"):
        with pytest.raises(ArtifactError):
            tracker.Artifact(bad_name, type="dataset")
    run = _run(store_dir)
    art = run.log_artifact(a).wait()
    assert list(art.manifest) == ["dir/ok.txt"]


def test_download_never_writes_outside_root_even_from_a_hostile_db(tmp_path: Path, store_dir: Path) -> None:
    f = tmp_path / "x"
    f.write_text("payload")
    run = _run(store_dir)
    art = run.log_artifact(str(f), name="x", type="t").wait()
    run.finish()
    import sqlite3

    c = sqlite3.connect(store_dir / "tracker.db")
    c.execute("UPDATE artifact_files SET path = '../../outside' WHERE path = 'x'")
    c.commit()
    c.close()
    with pytest.raises(ArtifactError, match=r"\.\."):
        tracker.Api(store_dir).artifact("x:v0").download(tmp_path / "dl")
    assert not (tmp_path / "outside").exists()
    del art


def test_references_are_recorded_not_fetched(tmp_path: Path, store_dir: Path) -> None:
    local = tmp_path / "big.parquet"
    local.write_bytes(b"columns")
    a = tracker.Artifact("refs", type="dataset")
    a.add_reference(local.as_uri())
    a.add_reference("s3://bucket/path/shard-0.parquet")
    run = _run(store_dir)
    art = run.log_artifact(a).wait()
    m = art.manifest
    assert m["big.parquet"]["size"] == 7 and len(m["big.parquet"]["etag"]) == 64
    assert m["shard-0.parquet"] == {"digest": None, "size": None, "ref": "s3://bucket/path/shard-0.parquet",
                                    "etag": None}
    assert _objects(store_dir) == []
    out = Path(art.download(tmp_path / "dl"))
    assert list(out.iterdir()) == []
    local.write_bytes(b"changed!")  # a changed local reference makes a new version
    b = tracker.Artifact("refs", type="dataset")
    b.add_reference(local.as_uri())
    b.add_reference("s3://bucket/path/shard-0.parquet")
    assert run.log_artifact(b).wait().version == "v1"


def test_incremental_keeps_the_previous_files(tmp_path: Path, store_dir: Path) -> None:
    run = _run(store_dir)
    a = tracker.Artifact("inc", type="dataset")
    with a.new_file("part-0") as f:
        f.write("zero")
    run.log_artifact(a).wait()
    b = tracker.Artifact("inc", type="dataset", incremental=True)
    with b.new_file("part-1") as f:
        f.write("one")
    assert sorted(run.log_artifact(b).wait().manifest) == ["part-0", "part-1"]


def test_lineage_use_link_and_the_read_api(tmp_path: Path, store_dir: Path) -> None:
    f = tmp_path / "d.csv"
    f.write_text("a,b\n")
    prod = _run(store_dir, name="prep")
    ds = prod.log_artifact(str(f), name="data", type="dataset").wait()
    prod.finish()
    train = _run(store_dir, name="train")
    used = train.use_artifact("data:latest", type="dataset")
    assert used.digest == ds.digest
    with pytest.raises(ArtifactError, match="type"):
        train.use_artifact("data:v0", type="model")
    m = tracker.Artifact("net", type="model", metadata={"acc": 0.91})
    with m.new_file("w.bin", mode="wb") as fh:
        fh.write(b"\x00\x01")
    train.log_artifact(m).wait()
    linked = train.link_artifact(m, "registry/classifier", aliases=["production"])
    assert linked.qualified_name == "registry/classifier:v0" and linked.source_name == "p/net:v0"
    assert [a.name for a in train.used_artifacts()] == ["data"]
    assert [a.name for a in train.logged_artifacts()] == ["net"]
    train.finish()
    api = tracker.Api(store_dir)
    assert api.artifact("data:v0").logged_by().name == "prep"
    assert [r.name for r in api.artifact("data:v0").used_by()] == ["train"]
    assert api.artifact("registry/classifier:production").manifest == api.artifact("net:v0").manifest
    assert api.artifact_types() == ["dataset", "model"]
    assert {c.name for c in api.artifact_collections("p")} == {"data", "net"}
    assert [a.version for a in api.artifacts("model", "p/net")] == ["v0"]
    assert [a.name for a in api.list_artifacts("p", type="dataset")] == ["data"]
    assert api.artifact_exists("net:v0") and not api.artifact_exists("net:v9")
    assert [a.name for a in api.run(train.id).used_artifacts()] == ["data"]
    assert len(_objects(store_dir)) == 2  # linking copies no file


def test_type_is_kept_and_module_level_functions(tmp_path: Path, store_dir: Path) -> None:
    f = tmp_path / "f"
    f.write_text("1")
    _run(store_dir)
    tracker.log_artifact(str(f), name="thing", type="dataset").wait()
    with pytest.raises(ArtifactError, match="type 'dataset'"):
        tracker.log_artifact(str(f), name="thing", type="model").wait()
    assert tracker.use_artifact("thing:v0").type == "dataset"


def test_import_tracker_does_not_load_artifacts() -> None:
    import subprocess
    import sys

    code = ("import sys, tracker; mods = [m for m in sys.modules if 'artifact' in m or m.endswith('objects')];"
            "print(mods)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_schema_3_store_gains_the_artifact_tables_without_a_backup(tmp_path: Path, store_dir: Path) -> None:
    import sqlite3

    run = _run(store_dir)
    run.log({"loss": 1.0})
    run.finish()
    c = sqlite3.connect(store_dir / "tracker.db")
    for t in ("artifacts", "artifact_versions", "artifact_files", "artifact_aliases", "artifact_usage",
              "artifact_alias_events"):
        c.execute(f"DROP TABLE {t}")
    c.execute("PRAGMA user_version = 3")
    c.commit()
    c.close()
    with pytest.raises(ArtifactNotFound):  # opening a writable store migrates it: nothing there yet
        tracker.Api(store_dir).artifact("x")
    f = tmp_path / "f"
    f.write_text("1")
    run = _run(store_dir)
    assert run.log_artifact(str(f), name="x", type="t").wait().version == "v0"
    assert not list(store_dir.glob("*.bak")) and len(tracker.Api(store_dir).runs()) == 2


def test_a_read_only_schema_3_store_says_it_holds_no_artifacts(readonly_dir) -> None:
    import sqlite3

    src, ro, make_ro = readonly_dir
    _run(src).finish()
    c = sqlite3.connect(src / "tracker.db")
    for t in ("artifacts", "artifact_versions", "artifact_files", "artifact_aliases", "artifact_usage",
              "artifact_alias_events"):
        c.execute(f"DROP TABLE {t}")
    c.execute("PRAGMA user_version = 3")
    c.commit()
    c.close()
    make_ro()
    api = tracker.Api(ro)
    assert api.store.readonly
    with pytest.raises(ArtifactNotFound, match="predates artifacts"):
        api.artifact("x")
