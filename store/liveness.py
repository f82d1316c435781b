"""Is a ``running`` run's process still there? (RELIABILITY.md: crashed-run detection.)

On the run's own host a dead pid (or a pid reused by another process, told apart by the
kernel's start time) is seen at once; from elsewhere, a heartbeat older than
``HEARTBEAT_TIMEOUT`` seconds means the process is gone.
"""

from __future__ import annotations

import os
import socket
import time

#: A running run whose heartbeat is older than this (seconds) reads as ``crashed``.
HEARTBEAT_TIMEOUT = float(os.environ.get("TRACKER_HEARTBEAT_TIMEOUT", "60"))
_HOST = socket.gethostname()


def process_start_marker(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), to tell a live process from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        # Field 22 (starttime) counted after the parenthesised command name, which may hold spaces.
        return data[data.rindex(b")") + 2 :].split()[19].decode()
    except (OSError, ValueError, IndexError):
        return None


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return data[data.rindex(b")") + 2 : data.rindex(b")") + 3] == b"Z"
    except (OSError, ValueError):
        return False


def _pid_alive(pid: int, marker: str | None) -> bool:
    if _is_zombie(pid):  # exited, not yet reaped by its parent: gone as far as a run is concerned
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's live process
    except OSError:
        return True
    if marker is not None:
        now = process_start_marker(pid)
        if now is not None and now != marker:
            return False  # pid reused by another process
        if now is None and os.path.isdir("/proc"):
            return False
    return True


def effective_state(state: str, host: str | None, pid: int | None, pid_start: str | None,
                    heartbeat_at: float | None, now: float | None = None) -> str:
    """The state a reader should show: a ``running`` run whose process is gone is ``crashed``.

    On the same host a dead pid is seen at once; elsewhere a heartbeat older than
    ``HEARTBEAT_TIMEOUT`` seconds means the process is gone.
    """
    if state != "running":
        return state
    if host == _HOST and pid:
        if not _pid_alive(pid, pid_start):
            return "crashed"
        return "running"
    now = time.time() if now is None else now
    if heartbeat_at is not None and now - heartbeat_at > HEARTBEAT_TIMEOUT:
        return "crashed"
    return state
