"""The watcher's fallbacks when file events are unavailable (issue 20): each still sees another
process's commit, through the real watchdog observer or the data_version poll."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import tracker
from tracker.store import fs
from tracker.store.watch import StoreWatcher

LOG_ONE = textwrap.dedent("""
    import sys, tracker
    run = tracker.init(project="w", name=sys.argv[2], dir=sys.argv[1], capture_git=False)
    run.log({"loss": 1.0})
    run.finish()
""")


def log_from_another_process(store: Path, name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    subprocess.run([sys.executable, "-c", LOG_ONE, str(store), name], env=env, check=True, timeout=60)


class Bell:
    def __init__(self) -> None:
        self.rang = threading.Event()
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        self.rang.set()


def test_a_store_that_does_not_exist_yet_is_polled_until_it_appears(tmp_path):
    store = tmp_path / "later"
    bell = Bell()
    with StoreWatcher(store, bell, fallback_poll=0.1) as w:
        assert w.mode.startswith("poll") and "does not exist yet" in w.reason
        log_from_another_process(store, "first")
        assert bell.rang.wait(10), "the store's appearance was never reported"


def test_with_file_events_disabled_commits_are_seen_by_polling(tmp_path, monkeypatch):
    store = tmp_path / "s"
    log_from_another_process(store, "before")
    monkeypatch.setenv("TRACKER_NO_INOTIFY", "1")
    bell = Bell()
    with StoreWatcher(store, bell, fallback_poll=0.1) as w:
        assert w.mode == "poll 0.1s" and "TRACKER_NO_INOTIFY" in w.reason
        assert not bell.rang.wait(0.4)  # nothing changed yet: no false alarm
        log_from_another_process(store, "after")
        assert bell.rang.wait(10)
        assert w.events == 0  # polling, not file events


def test_a_network_filesystem_is_polled(tmp_path, monkeypatch):
    """On NFS/SSHFS file events do not report other hosts' writes: the watcher must poll."""
    store = tmp_path / "s"
    log_from_another_process(store, "before")
    monkeypatch.setattr("tracker.store.watch.filesystem_type", lambda p: "nfs4")
    bell = Bell()
    with StoreWatcher(store, bell, fallback_poll=0.1) as w:
        assert w.mode.startswith("poll") and "network filesystem (nfs4)" in w.reason
        log_from_another_process(store, "after")
        assert bell.rang.wait(10)
    assert fs.is_network_fs("nfs4") and fs.is_network_fs("fuse.sshfs") and not fs.is_network_fs("ext4")


def test_when_file_events_go_missing_the_safety_poll_still_sees_commits(tmp_path):
    """In watch mode the observer can lose events (queue overflow, a remounted dir): the slow
    data_version check reports the commit anyway."""
    store = tmp_path / "s"
    log_from_another_process(store, "before")
    bell = Bell()
    with StoreWatcher(store, bell, safety_poll=0.2) as w:
        assert w.mode == "watch"
        w._observer.stop()  # the observer dies: no more file events
        w._observer.join(5)
        log_from_another_process(store, "after")
        assert bell.rang.wait(10), "a commit was missed when file events stopped"
        assert w.events == 0


def test_an_inotify_limit_falls_back_to_polling(tmp_path, monkeypatch):
    """ENOSPC from inotify (the per-user watch limit) is common on shared GPU boxes."""
    store = tmp_path / "s"
    log_from_another_process(store, "before")
    import watchdog.observers

    class Exhausted:
        def schedule(self, *a, **k):
            raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(watchdog.observers, "Observer", Exhausted)
    bell = Bell()
    with StoreWatcher(store, bell, fallback_poll=0.1) as w:
        assert w.mode == "poll 0.1s" and "inotify watch limit reached" in w.reason
        log_from_another_process(store, "after")
        assert bell.rang.wait(10)


def test_a_failing_listener_does_not_stop_the_watcher(tmp_path):
    store = tmp_path / "s"
    log_from_another_process(store, "before")
    calls = Bell()

    def listener() -> None:
        calls()
        raise RuntimeError("listener bug")

    with StoreWatcher(store, listener, poll=0.1):
        log_from_another_process(store, "one")
        assert calls.rang.wait(10)
        calls.rang.clear()
        log_from_another_process(store, "two")
        assert calls.rang.wait(10), "the watcher died with its listener"
    assert len(tracker.Api(store).runs()) == 3
