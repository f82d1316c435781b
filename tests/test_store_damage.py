"""Stores that are not what they should be (issue 9, items 8 and 9): a damaged file (garbage written
over pages of a real store, as a failing disk or a bad copy leaves it) and a store written by a
newer tracker with commits still in its WAL. Every entry point says what is wrong and where, and
none of them writes a byte to the file it refuses; ``tracker-tui doctor`` checks and recovers
into a new file."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tracker
from helpers import child_env
from tracker.store import SCHEMA_VERSION, Store, StoreDamaged, StoreVersionError

CLI = [sys.executable, "-m", "tracker.tui.cli"]
MARK = b"RUN-CONFIG-MARK"
PAGE = 4096


def make_store(d: Path, runs: int = 12) -> list[str]:
    """A real store: runs with large configs interleaved with their metrics, so run rows sit on
    pages all through the file; checkpointed, as after every writer finished."""
    ids = []
    for j in range(runs):
        r = tracker.init(project="p", name=f"run-{j}", dir=d, capture_git=False,
                         config={"lr": j, "pad": MARK.decode() + "x" * 1500})
        for i in range(400):
            r.log({"loss": 1.0 / (i + 1), "acc": i / 400})
        r.finish()
        ids.append(r.id)
    c = sqlite3.connect(d / "tracker.db")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    return ids


def damage(db: Path, where: str = "runs") -> None:
    """Write random bytes over pages: ``runs``, the pages holding run rows (they lie all through
    the file, between the metrics logged after each run was created); ``header``, the file's
    first 100 bytes."""
    data = bytearray(db.read_bytes())
    rnd = random.Random(7)
    if where == "header":
        data[:100] = rnd.randbytes(100)
    else:
        n = len(data) // PAGE
        pages = [p for p in range(1, n) if MARK in data[p * PAGE:(p + 1) * PAGE]]
        assert len(pages) > 3 and pages[-1] > n // 2, pages
        for p in pages:
            data[p * PAGE:(p + 1) * PAGE] = rnd.randbytes(PAGE)
    db.write_bytes(bytes(data))


def fingerprint(d: Path) -> dict[str, tuple[object, ...]]:
    """Size, mtime (ns) and SHA-256 of the database, and of its WAL when that holds anything (an
    empty WAL file appearing beside the database is no change to the store)."""
    out: dict[str, tuple[object, ...]] = {}
    for name in ("tracker.db", "tracker.db-wal"):
        p = d / name
        st = p.stat() if p.exists() else None
        if st is not None and st.st_size:
            out[name] = (st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def cli(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args, "--store", str(store)], capture_output=True, text=True, timeout=120,
                          env=child_env(), stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    d = tmp_path_factory.mktemp("good") / "s"
    return d, make_store(d)


@pytest.fixture
def damaged_store(good, tmp_path: Path) -> tuple[Path, list[str]]:
    src, ids = good
    d = tmp_path / "damaged"
    d.mkdir(mode=0o700)
    (d / "tracker.db").write_bytes((src / "tracker.db").read_bytes())
    damage(d / "tracker.db")
    return d, ids


def pending_wal(d: Path, sql: str) -> None:
    """Commit ``sql`` from another process that then dies before any checkpoint (as a killed
    writer leaves it): the commits exist only in ``tracker.db-wal``."""
    code = textwrap.dedent(f"""
        import os, sqlite3
        c = sqlite3.connect({str(d / 'tracker.db')!r}, isolation_level=None)
        c.execute("PRAGMA wal_autocheckpoint = 0")
        c.executescript({sql!r})
        os._exit(0)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert (d / "tracker.db-wal").stat().st_size > 0


@pytest.mark.parametrize("where", ["runs", "header"])
@pytest.mark.parametrize("cmd", [["ls"], ["ls", "--json"], ["export", "RUN"], ["export", "RUN", "-f", "jsonl"],
                                 ["diff", "RUN", "RUN2"], ["tail", "RUN"]])
def test_every_command_says_the_store_is_damaged_and_writes_nothing(good, tmp_path, where, cmd):
    src, ids = good
    d = tmp_path / "s"
    d.mkdir(mode=0o700)
    (d / "tracker.db").write_bytes((src / "tracker.db").read_bytes())
    damage(d / "tracker.db", where)
    before = fingerprint(d)
    args = [ids[0] if a == "RUN" else ids[1] if a == "RUN2" else a for a in cmd]
    p = cli(*args, store=d)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"the store at {d / 'tracker.db'} is damaged" in p.stderr
    assert f"tracker-tui doctor --store {d}" in p.stderr and "--recover" in p.stderr
    assert "Traceback" not in p.stderr
    assert fingerprint(d) == before


def test_damage_found_after_opening_writes_nothing_even_with_pending_wal(damaged_store):
    """The header is fine, so the store opens read-write; the damage shows only when ``ls`` reads
    the run rows. The connection that found it must not checkpoint the WAL into the file."""
    d, _ = damaged_store
    pending_wal(d, "INSERT INTO keys (name) VALUES ('late/key');")
    before = fingerprint(d)
    p = cli("ls", store=d)
    assert p.returncode == 1 and "is damaged" in p.stderr, p.stderr
    assert fingerprint(d) == before
    s = Store(d, create=False)  # in-process: the damage is an error naming the file, every time
    for _ in range(2):
        with pytest.raises(StoreDamaged, match=f"the store at {d / 'tracker.db'} is damaged"):
            s.runs()
    with pytest.raises(StoreDamaged):  # and nothing more is written to it
        s.append([(1, 10_000, 0.0, ("loss",), (0.5,))])
    s.close()
    assert fingerprint(d) == before


def test_init_into_a_damaged_store_is_a_clear_error_and_writes_nothing(damaged_store, tmp_path):
    d, _ = damaged_store
    damage(d / "tracker.db", "header")
    before = fingerprint(d)
    with pytest.raises(StoreDamaged, match=r"is damaged \(file is not a database\).*tracker-tui doctor"):
        tracker.init(project="p", dir=d, capture_git=False)
    assert fingerprint(d) == before


def test_init_that_meets_damage_creating_its_run_is_a_clear_error(good, tmp_path):
    """Page 1 is fine, so the store opens; inserting the run needs the runs table's root page,
    which is garbage. (Damage in pages init never reads goes unseen until a read meets it:
    ``tracker-tui doctor`` checks every page.)"""
    src, _ = good
    d = tmp_path / "s"
    d.mkdir(mode=0o700)
    db = d / "tracker.db"
    db.write_bytes((src / "tracker.db").read_bytes())
    c = sqlite3.connect(db)
    root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
    c.close()
    data = bytearray(db.read_bytes())
    data[(root - 1) * PAGE:root * PAGE] = random.Random(3).randbytes(PAGE)
    db.write_bytes(bytes(data))
    before = fingerprint(d)
    with pytest.raises(StoreDamaged, match=f"the store at {db} is damaged .*tracker-tui doctor"):
        tracker.init(project="p", name="n", dir=d, capture_git=False)
    assert fingerprint(d) == before


def test_doctor_reports_an_intact_store_as_ok(good):
    d, _ = good
    p = cli("doctor", store=d)
    assert p.returncode == 0, p.stderr
    assert "integrity_check: ok" in p.stdout and f"schema version {SCHEMA_VERSION}" in p.stdout


def test_doctor_reports_damage_and_points_to_recover(damaged_store):
    d, _ = damaged_store
    before = fingerprint(d)
    for args in (["doctor"], ["doctor", "--quick"]):
        p = cli(*args, store=d)
        assert p.returncode == 1, p.stdout + p.stderr
        assert "problem" in p.stdout and "the store is damaged" in p.stdout
        assert f"--store {d} --recover NEW.db" in p.stdout
    assert fingerprint(d) == before


@pytest.mark.parametrize("method", ["python", "auto"])
def test_doctor_recovers_what_is_readable_into_a_new_file(damaged_store, tmp_path, method):
    d, ids = damaged_store
    before = fingerprint(d)
    out = tmp_path / "recovered.db"
    p = cli("doctor", "--recover", str(out), "--with", method, store=d)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "integrity_check of the copy: ok" in p.stdout
    assert fingerprint(d) == before
    c = sqlite3.connect(out)
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    n_metrics = c.execute("SELECT count(*) FROM metrics").fetchone()[0]
    c.close()
    assert n_metrics > 0 and f"metrics: {n_metrics:,} rows" in p.stdout
    if method == "python":
        assert "python row-by-row copy" in p.stdout and "not readable" in p.stdout  # says what it lost
    # the copy is a store this tracker opens and can log to
    new = tmp_path / "new"
    new.mkdir(mode=0o700)
    out.rename(new / "tracker.db")
    r = tracker.init(project="after", dir=new, capture_git=False)
    r.log({"loss": 1.0})
    r.finish()
    assert tracker.Api(new).run(r.id).summary["loss"] == 1.0


def test_doctor_never_recovers_into_an_existing_file_or_the_store(damaged_store, tmp_path):
    d, _ = damaged_store
    before = fingerprint(d)
    taken = tmp_path / "taken.db"
    taken.write_text("mine")
    p = cli("doctor", "--recover", str(taken), store=d)
    assert p.returncode == 2 and "already exists" in p.stderr
    assert taken.read_text() == "mine"
    for target in (d / "tracker.db", d / "tracker.db-wal"):
        p = cli("doctor", "--recover", str(target), store=d)
        assert p.returncode == 2, p.stdout + p.stderr
    assert fingerprint(d) == before


def test_the_app_shows_the_damage_not_an_empty_store(damaged_store):
    import asyncio

    from app_helpers import app_for, settle

    from tracker.tui.screens.base import StatusLine

    d, _ = damaged_store
    before = fingerprint(d)

    async def go() -> str:
        app = app_for(d)
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            return str(app.screen.query_one("#status", StatusLine).render())

    status = asyncio.run(go())
    assert "is damaged" in status and "tracker-tui doctor" in status
    assert "0 runs" not in status
    assert fingerprint(d) == before


def newer_store_with_pending_wal(d: Path) -> None:
    """A store a newer tracker migrated to schema 99 and was killed before any checkpoint."""
    code = (f"import tracker; r = tracker.init(project='p', dir={str(d)!r}, capture_git=False); r.log({{'loss': 1.0}}); "
            "r.finish()")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=child_env())
    c = sqlite3.connect(d / "tracker.db")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    pending_wal(d, "PRAGMA user_version = 99; CREATE TABLE future (x); "
                   "INSERT INTO future SELECT randomblob(500) FROM (WITH RECURSIVE n(i) AS "
                   "(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) SELECT i FROM n);")


def test_a_newer_store_with_pending_wal_is_refused_without_a_checkpoint(tmp_path):
    d = tmp_path / "s"
    newer_store_with_pending_wal(d)
    before = fingerprint(d)
    with pytest.raises(StoreVersionError, match="schema version 99.*left untouched"):
        tracker.init(project="p", dir=d, capture_git=False)
    assert fingerprint(d) == before
    with pytest.raises(StoreVersionError):
        Store(d, create=False)
    assert fingerprint(d) == before
    for args in (["ls"], ["doctor"]):
        p = cli(*args, store=d)
        assert p.returncode == (1 if args == ["ls"] else 0), p.stdout + p.stderr
        if args == ["ls"]:
            assert "schema version 99" in p.stderr and "Traceback" not in p.stderr
    assert fingerprint(d) == before
