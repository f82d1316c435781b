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
