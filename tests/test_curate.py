"""Curating runs from the shell: ``tracker-tui rm|restore|archive|rename|tag|note|mv|purge`` run
as real subprocesses on a real store, and the trash honoured by every reader."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from tracker.store import Store
from tracker.store.schema import SCHEMA_VERSION

HOSTILE = "[/]\x1b]52;c;aGk=\x07\x1b[2J\u202eevil[bold red]x"


def cli(*args: str, store: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", store, *args],
                          capture_output=True, text=True, timeout=60)


def ls_ids(store: str, *extra: str) -> list[str]:
    out = cli("ls", "--json", *extra, store=store)
    assert out.returncode == 0, out.stderr
    return [r["id"] for r in json.loads(out.stdout)]


@pytest.fixture
def three(tmp_path):
    store = str(tmp_path / "store")
    runs = []
    for name in ("a", "b", HOSTILE):
        r = tracker.init(project="p", name=name, dir=store, capture_git=False)
        for i in range(3000):
            r.log({"loss": 1.0 / (i + 1)})
        r.finish()
        runs.append(r)
    return store, runs


def on_disk(store: str) -> int:
    return sum(p.stat().st_size for p in Path(store).glob("tracker.db*"))


def counts(store: str, rid_of: str) -> dict[str, int]:
    c = sqlite3.connect(Path(store) / "tracker.db")
    try:
        rid = c.execute("SELECT rid FROM runs WHERE id = ?", (rid_of,)).fetchone()
        if rid is None:
            return {}
        return {t: c.execute(f"SELECT count(*) FROM {t} WHERE rid = ?", rid).fetchone()[0]
                for t in ("metrics", "metric_summary", "metric_blocks", "events")}
    finally:
        c.close()


def test_rm_is_a_tombstone_that_every_reader_honours_and_restore_undoes(three):
    store, (a, b, c) = three
    before = counts(store, a.id)
    out = cli("rm", a.id, store=store)
    assert out.returncode == 0, out.stderr
    assert "1 run(s) moved to the trash" in out.stdout
    assert counts(store, a.id) == before  # no metric row rewritten or removed
    assert a.id not in ls_ids(store)
    assert cli("export", a.id, store=store).returncode == 1  # no such run for export
    assert cli("diff", a.id, b.id, store=store).returncode == 1
    api = tracker.Api(store)
    assert a.id not in [r.id for r in api.runs()]
    with pytest.raises(tracker.store.RunNotFound):
        api.run(a.id)
    assert dict(api.store.projects())["p"] == 2
    out = cli("restore", a.id, store=store)
    assert out.returncode == 0, out.stderr
    assert set(ls_ids(store)) == {a.id, b.id, c.id}


def test_rm_refuses_a_run_being_written_unless_forced(tmp_path):
    store = str(tmp_path / "store")
    live = tracker.init(project="p", name="live", dir=store, capture_git=False)
    live.log({"x": 1})
    out = cli("rm", live.id, store=store)
    assert out.returncode == 1
    assert "is being written" in out.stderr and "--force" in out.stderr
    assert live.id in ls_ids(store)
    out = cli("rm", "--force", live.id, store=store)
    assert out.returncode == 0, out.stderr
    assert live.id not in ls_ids(store)


def test_archive_hides_until_asked_and_undo(three):
    store, (a, b, _) = three
    assert cli("archive", a.id, store=store).returncode == 0
    assert a.id not in ls_ids(store)
    assert a.id in ls_ids(store, "--archived")
    assert a.id not in [r.id for r in tracker.Api(store).runs()]
    assert a.id in [r.id for r in tracker.Api(store).runs(archived=True)]
    assert cli("archive", "--undo", a.id, store=store).returncode == 0
    assert a.id in ls_ids(store)


def test_rename_tag_note_mv(three):
    store, (a, _, _) = three
    assert cli("rename", a.id, "better", store=store).returncode == 0
    assert cli("tag", a.id, "+x", "+y", store=store).returncode == 0
    assert cli("tag", a.id, "-x", store=store).returncode == 0
    assert cli("note", a.id, "tried lr 3e-4", store=store).returncode == 0
    assert cli("mv", a.id, "q", store=store).returncode == 0
    run = tracker.Api(store).run(a.id)
    assert (run.name, run.tags, run.notes, run.project) == ("better", ["y"], "tried lr 3e-4", "q")
    bad = cli("tag", a.id, "oops", store=store)
    assert bad.returncode == 2 and "+TAG or -TAG" in bad.stderr and "Traceback" not in bad.stderr
    assert cli("rename", a.id, " ", store=store).returncode == 2


def max_id(store: str) -> int:
    c = sqlite3.connect(Path(store) / "tracker.db")
    try:
        return int(c.execute("SELECT max(id) FROM metrics").fetchone()[0])
    finally:
        c.close()


def test_purge_frees_the_space_and_only_of_old_trash(three):
    store, (a, b, c) = three
    assert cli("rm", b.id, c.id, store=store).returncode == 0  # c holds the newest point ids
    out = cli("purge", "--older-than", "30d", store=store)
    assert out.returncode == 0 and "purged 0 run(s)" in out.stdout
    size, top = on_disk(store), max_id(store)
    out = cli("purge", "--older-than", "0s", store=store)
    assert out.returncode == 0, out.stderr
    assert "purged 2 run(s); freed" in out.stdout
    assert counts(store, b.id) == {} and counts(store, c.id) == {}
    assert counts(store, a.id)["metrics"] == 3000  # the live run keeps every point
    assert on_disk(store) < size
    assert cli("restore", b.id, store=store).returncode == 1  # gone for good
    assert cli("purge", "--older-than", "soon", store=store).returncode == 2
    d = tracker.init(project="p", name="after", dir=store, capture_git=False)
    d.log({"loss": 1.0})
    d.finish()
    assert max_id(store) > top  # ids keep growing after a purge (live readers follow id > cursor)


def test_hostile_names_are_sanitised_in_curate_output(three):
    store, (_, _, c) = three
    for args in (("rm", c.id), ("restore", c.id), ("archive", c.id)):
        out = cli(*args, store=store)
        assert out.returncode == 0, out.stderr
        assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\u202e" not in out.stdout


def test_api_delete_is_restorable_and_running_is_refused(three):
    store, (a, _, _) = three
    tracker.Api(store).run(a.id).delete()
    assert a.id not in [r.id for r in tracker.Api(store).runs()]
    assert counts(store, a.id)["metrics"] == 3000
    assert cli("restore", a.id, store=store).returncode == 0
    assert tracker.Api(store).run(a.id).id == a.id


def test_a_store_from_before_the_trash_is_migrated_and_keeps_its_runs(tmp_path):
    store = tmp_path / "s"
    r = tracker.init(project="p", name="old", dir=str(store), capture_git=False)
    r.log({"x": 1})
    r.finish()
    c = sqlite3.connect(store / "tracker.db")
    c.execute("ALTER TABLE runs DROP COLUMN archived")
    c.execute("ALTER TABLE runs DROP COLUMN deleted_at")
    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    c.commit()
    c.close()
    assert ls_ids(str(store)) == [r.id]  # opening it adds the columns
    s = Store(store)
    try:
        assert s.schema_version() == SCHEMA_VERSION
        from tracker.store.schema_curate import has_curate_columns, migrate

        assert has_curate_columns(s.conn)
        s.conn.execute("BEGIN IMMEDIATE")
        migrate(s.conn)  # a second run leaves the columns as they are
        s.conn.execute("COMMIT")
    finally:
        s.close()
    assert cli("rm", r.id, store=str(store)).returncode == 0
    assert ls_ids(str(store)) == []


def test_tail_stops_when_the_followed_run_is_trashed(tmp_path):
    store = str(tmp_path / "store")
    live = tracker.init(project="p", name="live", dir=store, capture_git=False)
    live.log({"x": 1})
    tail = subprocess.Popen([sys.executable, "-m", "tracker.tui.cli", "--store", store, "tail", live.id],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert tail.stdout is not None
        tail.stdout.readline()  # following: the header is out
        assert cli("rm", "--force", live.id, store=store).returncode == 0
        _, err = tail.communicate(timeout=30)
        assert tail.returncode == 1 and "moved to the trash" in err and "Traceback" not in err
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
