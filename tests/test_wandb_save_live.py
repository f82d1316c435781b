"""``save(policy="live")`` (issue 10): a file is re-copied into the run's files while the run
goes, whenever it changes; the watcher thread stops at ``finish()``, which makes the last copy."""

from __future__ import annotations

import threading
from pathlib import Path

import tracker
from helpers import wait_for
from tracker._run_compat import LiveFiles


def _live_threads():
    return [t for t in threading.enumerate() if t.name == "tracker-save-live"]


def test_live_file_is_recopied_while_the_run_goes_and_the_watcher_stops_at_finish(tmp_path, monkeypatch):
    monkeypatch.setattr(LiveFiles, "POLL", 0.05)
    src = tmp_path / "work" / "log.txt"
    src.parent.mkdir()
    src.write_text("epoch 0\n")
    run = tracker.init(project="p", dir=tmp_path / "store", capture_git=False)
    (stored,) = run.save(str(src), policy="live")
    assert Path(stored).read_text() == "epoch 0\n"
    assert len(_live_threads()) == 1
    src.write_text("epoch 0\nepoch 1\n")
    wait_for(lambda: Path(stored).read_text() == "epoch 0\nepoch 1\n", 10, "the first change copied")
    src.write_text("epoch 0\nepoch 1\nepoch 2\n")
    wait_for(lambda: Path(stored).read_text().count("epoch") == 3, 10, "the second change copied")
    run.finish()
    assert _live_threads() == []
    src.write_text("after finish")  # the run is over: nothing more is copied
    assert Path(stored).read_text().count("epoch") == 3
    names = [f.name for f in tracker.Api(tmp_path / "store").run(run.id).files()]
    assert names == ["log.txt"]  # no temporary copy left behind


def test_now_and_end_policies_start_no_watcher(tmp_path, monkeypatch):
    monkeypatch.setattr(LiveFiles, "POLL", 0.05)
    f = tmp_path / "a.txt"
    f.write_text("a")
    run = tracker.init(project="p", dir=tmp_path / "store", capture_git=False)
    run.save(str(f), policy="now")
    run.save(str(f), base_path=str(tmp_path), policy="end")
    assert _live_threads() == []
    run.finish()
