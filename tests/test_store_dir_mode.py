"""Bug 10 (issue 8): the default store directory is private (0700), as the README promises,
even when an earlier ``tracker-tui demo`` (or an older tracker) created it 0755."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import child_env


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def log_a_run_with_the_default_store(home: Path) -> None:
    """A real training script with neither dir= nor $TRACKER_DIR, in its own process."""
    code = "import tracker\nrun = tracker.init(project='p')\nrun.log({'loss': 1.0})\nrun.finish()\n"
    p = subprocess.run([sys.executable, "-c", code], env=child_env(HOME=str(home)), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    old = os.umask(0o022)  # the usual umask: what made the demo's directory 0755
    yield tmp_path
    os.umask(old)


def test_a_new_default_store_dir_is_private(home):
    log_a_run_with_the_default_store(home)
    assert mode(home / ".tracker") == 0o700
    assert mode(home / ".tracker" / "tracker.db") == 0o600


def test_a_default_dir_left_0755_by_the_demo_becomes_private(home, monkeypatch):
    from tracker.tui.demo import demo_dir, seed

    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("TRACKER_DIR", raising=False)
    seed(demo_dir(), runs=7, steps=5)  # makes ~/.tracker/demo with a plain mkdir, as tracker-tui demo does
    assert mode(home / ".tracker") == 0o700 and mode(home / ".tracker" / "demo") == 0o700
    (home / ".tracker").chmod(0o755)  # as an older tracker left it
    log_a_run_with_the_default_store(home)
    assert mode(home / ".tracker") == 0o700


def test_a_directory_the_user_chose_or_filled_keeps_its_mode(home):
    shared = home / "team-store"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    p = subprocess.run([sys.executable, "-c", "import tracker; tracker.init(project='p').finish()"],
                       env=child_env(HOME=str(home), TRACKER_DIR=str(shared)), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert mode(shared) == 0o755  # the user's choice
    default = home / ".tracker"
    default.mkdir(mode=0o755)
    default.chmod(0o755)
    (default / "notes.txt").write_text("mine")  # not only our files: not ours to change
    log_a_run_with_the_default_store(home)
    assert mode(default) == 0o755


# ---------------------------------------------------------------- issue 9, item 10: modes and links
def run_child(code: str, home: Path, umask: int = 0o022, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh process under ``umask`` (after ``import tracker``)."""
    body = f"import os\nos.umask({umask:#o})\nimport tracker\n{code}"
    return subprocess.run([sys.executable, "-c", body], env=child_env(HOME=str(home), **env), capture_output=True,
                          text=True, timeout=60)


def test_a_dangling_db_symlink_is_refused_not_followed(home):
    store = home / "s"
    store.mkdir(mode=0o700)
    elsewhere = home / "elsewhere"
    elsewhere.mkdir()
    (store / "tracker.db").symlink_to(elsewhere / "planted.db")
    p = run_child("tracker.init(project='p', capture_git=False).finish()", home, TRACKER_DIR=str(store))
    assert p.returncode == 1
    assert f"{store / 'tracker.db'} is a symlink to {elsewhere / 'planted.db'}, which does not exist" in p.stderr
    assert "refusing" in p.stderr
    assert not (elsewhere / "planted.db").exists()  # nothing created through the link
    assert sorted(x.name for x in elsewhere.iterdir()) == []


@pytest.mark.parametrize("holds_user_files", [False, True])
def test_a_world_writable_store_dir_is_fixed_and_said_so(home, holds_user_files):
    store = home / "team"
    store.mkdir()
    store.chmod(0o777)
    if holds_user_files:
        (store / "notes.txt").write_text("mine")
    p = run_child("r = tracker.init(project='p', capture_git=False); r.log({'loss': 1.0}); r.finish()", home,
                  TRACKER_DIR=str(store))
    assert p.returncode == 0, p.stderr
    want = 0o755 if holds_user_files else 0o700  # the user's other files stay readable as they were
    assert mode(store) == want
    assert f"the store directory {store} was writable by every user (0777); changed it to {want:04o}" in p.stderr


def test_run_dirs_are_private_under_umask_000(home):
    store = home / "s"
    p = run_child("r = tracker.init(project='p', capture_git=False); print(r.dir); r.finish()", home, umask=0,
                  TRACKER_DIR=str(store))
    assert p.returncode == 0, p.stderr
    run_dir = Path(p.stdout.strip().splitlines()[-1])
    assert mode(store) == 0o700 and mode(store / "tracker.db") == 0o600
    assert mode(store / "runs") == 0o700 and mode(run_dir) == 0o700


def test_an_open_runs_dir_left_by_an_older_tracker_is_made_private(home):
    store = home / "s"
    (store / "runs").mkdir(parents=True)
    (store / "runs").chmod(0o777)
    p = run_child("r = tracker.init(project='p', capture_git=False); r.dir; r.finish()", home,
                  TRACKER_DIR=str(store))
    assert p.returncode == 0, p.stderr
    assert mode(store / "runs") == 0o700


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write a 0400 file: the case does not exist for root")
def test_a_read_only_db_file_is_a_clear_error_at_init(home):
    store = home / "s"
    p = run_child("tracker.init(project='p', capture_git=False).finish()", home, TRACKER_DIR=str(store))
    assert p.returncode == 0, p.stderr
    (store / "tracker.db").chmod(0o400)
    p = run_child("tracker.init(project='p', capture_git=False).finish()", home, TRACKER_DIR=str(store))
    assert p.returncode == 1
    assert f"the store database {store / 'tracker.db'} is read-only for this user (mode 0400)" in p.stderr
    assert f"chmod u+w {store / 'tracker.db'}" in p.stderr
    assert "OperationalError" not in p.stderr
    ls = subprocess.run([sys.executable, "-m", "tracker.tui.cli", "ls", "--store", str(store)], capture_output=True,
                        text=True, timeout=60, env=child_env(HOME=str(home)))
    assert ls.returncode == 0 and "finished" in ls.stdout  # reading a read-only store still works


def test_a_sticky_shared_dir_like_tmp_is_left_as_it_is(home):
    shared = home / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    p = run_child("tracker.init(project='p', capture_git=False).finish()", home, TRACKER_DIR=str(shared))
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777 and "writable by every user" not in p.stderr
    assert mode(shared / "tracker.db") == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the directory to another user")
def test_someone_elses_world_writable_dir_is_refused(home):
    home.chmod(0o755)  # the other user must be able to own something below
    theirs = home / "theirs"
    theirs.mkdir()
    theirs.chmod(0o777)
    os.chown(theirs, 65534, 65534)
    p = run_child("tracker.init(project='p', capture_git=False).finish()", home, TRACKER_DIR=str(theirs))
    assert p.returncode == 1
    assert f"the store directory {theirs} is writable by every user (0777) and not yours" in p.stderr
    assert list(theirs.iterdir()) == [] and mode(theirs) == 0o777
