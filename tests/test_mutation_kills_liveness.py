"""Crashed-run detection pinned where mutation testing found it unpinned (tests/MUTATION.md):
real child processes that live, exit unreaped (zombies) or are gone, a pid whose start time does
not match (reused), and the heartbeat rule for runs on other hosts."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import wait_for
from tracker.store import liveness
from tracker.store.liveness import _HOST, HEARTBEAT_TIMEOUT, effective_state, process_start_marker


def _stat_field_22(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_start_marker_is_the_kernels_start_time_even_with_a_tricky_process_name(tmp_path):
    assert process_start_marker(os.getpid()) == _stat_field_22(os.getpid())
    # a command name with spaces and a ')' inside: the marker is counted after the last ')'
    exe = tmp_path / "a) b c"
    exe.symlink_to(sys.executable)
    p = subprocess.Popen([str(exe), "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert process_start_marker(p.pid) == _stat_field_22(p.pid)
    finally:
        p.stdin.close()
        p.wait(30)
    assert process_start_marker(p.pid) is None  # gone


def test_a_live_process_reads_running_and_a_reused_pid_reads_crashed():
    p = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        marker = process_start_marker(p.pid)
        assert effective_state("running", _HOST, p.pid, marker, None) == "running"
        assert effective_state("running", _HOST, p.pid, None, None) == "running"
        assert effective_state("running", _HOST, p.pid, str(int(marker) + 1), None) == "crashed"
        # a live local process wins over an old heartbeat
        assert effective_state("running", _HOST, p.pid, marker, 0.0, now=1e9) == "running"
    finally:
        p.stdin.close()
        p.wait(30)
    assert effective_state("running", _HOST, p.pid, marker, None) == "crashed"
    assert effective_state("running", _HOST, p.pid, None, None) == "crashed"


def test_an_exited_but_unreaped_process_reads_crashed():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        wait_for(lambda: _state(p.pid) == "Z", 30, "the child to exit (a zombie until reaped)")
        assert liveness._is_zombie(p.pid)
        assert effective_state("running", _HOST, p.pid, None, None) == "crashed"
    finally:
        p.wait(30)
    assert not liveness._is_zombie(os.getpid()) and not liveness._is_zombie(p.pid)


def test_a_zombie_with_a_tricky_name_is_still_seen(tmp_path):
    exe = tmp_path / "z) Z (x"
    exe.symlink_to(sys.executable)
    p = subprocess.Popen([str(exe), "-c", "pass"])
    try:
        wait_for(lambda: _state(p.pid) == "Z", 30, "the child to exit (a zombie until reaped)")
        assert liveness._is_zombie(p.pid)
    finally:
        p.wait(30)


def test_without_a_given_time_the_clock_is_read():
    import time

    assert effective_state("running", "other-host", 1, None, time.time() - HEARTBEAT_TIMEOUT - 60) == "crashed"
    assert effective_state("running", "other-host", 1, None, time.time()) == "running"


def test_a_marker_with_no_readable_process_is_gone():
    assert process_start_marker(2**22 + 12345) is None
    assert effective_state("running", _HOST, 2**22 + 12345, "123", None) == "crashed"


def test_only_running_runs_can_read_crashed():
    for state in ("finished", "failed", "crashed", "killed"):
        assert effective_state(state, _HOST, 2**22 + 12345, "1", 0.0, now=1e9) == state


def test_elsewhere_a_heartbeat_older_than_the_timeout_means_crashed():
    t = 1_000_000.0
    assert effective_state("running", "other-host", 123, "1", t, now=t + HEARTBEAT_TIMEOUT) == "running"
    assert effective_state("running", "other-host", 123, "1", t, now=t + HEARTBEAT_TIMEOUT + 0.5) == "crashed"
    assert effective_state("running", "other-host", 123, "1", None, now=t) == "running"
    assert effective_state("running", _HOST, None, None, t, now=t + HEARTBEAT_TIMEOUT + 1) == "crashed"
    assert effective_state("running", _HOST, 0, None, t, now=t + 1) == "running"
    assert effective_state("running", None, None, None, None) == "running"
