"""``TRACKER_ALERT_CMD``: the shell command run for alerts — coalesced, capped, and always stopped.

The writer thread hands each committed batch's alerts to :func:`submit` and returns at once. A
dispatcher thread starts the hooks:

* **Coalesced per run**: the first alert of a run starts a hook at once; alerts of the same run
  arriving within :data:`WINDOW` seconds after that start are gathered into the next call. A call
  carrying one alert gets that alert's JSON object, as always; a call carrying several gets one
  object whose ``title`` says how many (``"500 alerts: layer0/grad is NaN, …"``), ``text`` lists
  them one per line, ``level`` is the highest, ``count`` is the number of alerts and ``alerts``
  holds the first :data:`MAX_LISTED` of them (each with its run id, name and project).
* **Capped**: at most :data:`MAX_RUNNING` hooks run at once; the others wait (and coalesce).
* **Always stopped**: each hook runs under a small supervisor process (``python -I -S``) that
  puts the shell in its own process group and kills that group at the timeout
  (``TRACKER_ALERT_TIMEOUT``, 10 s), also after the shell exits if it left processes behind.
  The supervisor does not depend on the training process: the timeout holds when training exits,
  is killed by a signal, or even by SIGKILL, and no hook outlives it.
* **At exit** (and on SIGTERM/SIGHUP): what is still waiting goes out at once, in one call
  (the window and the cap no longer apply), so the last alerts of a run are not lost.

The alert's JSON reaches the hook on stdin from a temporary file: a hook that never reads its
input cannot block anything. A hook that cannot be started, or that was stopped at its timeout,
is reported once per process (a :class:`~tracker._values.TrackerWarning`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from ._values import warn_once

#: Seconds after a run's hook started during which its next alerts are gathered into one call.
WINDOW = 2.0
#: Hooks running at the same time, at most.
MAX_RUNNING = 4
#: Alerts listed in one coalesced call (``count`` says how many there were).
MAX_LISTED = 50
_LEVELS = {"INFO": 0, "WARN": 1, "ERROR": 2}
_TIMED_OUT = 124
_INF = float("inf")

# Run by ``python -I -S -c``: start the hook in its own process group, stop the group at the
# timeout (also what the hook left running after its shell exited), exit 124 when it had to.
_SUPERVISOR = r"""
import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
timeout, cmd = float(sys.argv[1]), sys.argv[2]
deadline = time.monotonic() + timeout
try:
    p = subprocess.Popen(cmd, shell=True, start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
except OSError:
    sys.exit(127)
def group_alive():
    try:
        os.killpg(p.pid, 0)
        return True
    except OSError:
        return False
try:
    p.wait(max(0.0, deadline - time.monotonic()))
except subprocess.TimeoutExpired:
    pass
while group_alive() and time.monotonic() < deadline:
    time.sleep(0.05)
if p.poll() is None or group_alive():
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    p.wait()
    sys.exit(124)
"""


def timeout() -> float:
    try:
        return float(os.environ.get("TRACKER_ALERT_TIMEOUT", "10"))
    except ValueError:
        return 10.0


class _Dispatcher:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.cond = threading.Condition()
        self.pending: dict[str, list[dict[str, Any]]] = {}  # run id -> alerts waiting
        self.counts: dict[str, int] = {}  # run id -> alerts waiting (including unlisted ones)
        self.last_start: dict[str, float] = {}
        self.running: list[tuple[subprocess.Popen[bytes], str, float]] = []
        self.cmd = ""
        self.thread = threading.Thread(target=self._loop, name="tracker-alert-hooks", daemon=True)
        self.thread.start()

    def submit(self, cmd: str, alerts: list[dict[str, Any]]) -> None:
        with self.cond:
            self.cmd = cmd
            for a in alerts:
                key = str(a.get("run_id") or "")
                listed = self.pending.setdefault(key, [])
                if len(listed) < MAX_LISTED:
                    listed.append(a)
                self.counts[key] = self.counts.get(key, 0) + 1
            self.cond.notify()

    def _loop(self) -> None:
        while True:
            with self.cond:
                self.cond.wait(self._next_wait())
                self._reap()
                now = time.monotonic()
                for key in list(self.pending):
                    if len(self.running) >= MAX_RUNNING:
                        break
                    if now - self.last_start.get(key, -_INF) >= WINDOW:
                        self._start([key])

    def _next_wait(self) -> float | None:
        """How long the loop may sleep: until a window ends or a running hook may have ended."""
        if not self.pending and not self.running:
            return None
        waits = [0.05] if self.running else []
        now = time.monotonic()
        waits += [self.last_start.get(k, -_INF) + WINDOW - now for k in self.pending]
        return max(0.0, min(waits))

    def _reap(self) -> None:
        still = []
        for p, cmd, t in self.running:
            code = p.poll()
            if code is None:
                still.append((p, cmd, t))
            elif code == _TIMED_OUT:
                warn_once(f"hook-timeout:{cmd}", f"tracker: TRACKER_ALERT_CMD took longer than {t:g} s and was "
                          "stopped")
            elif code == 127:
                warn_once(f"hook-error:{cmd}", "tracker: TRACKER_ALERT_CMD could not run (no shell)")
        self.running = still

    def _start(self, keys: list[str]) -> None:
        """Start one hook for the alerts waiting under ``keys`` (called with the lock held)."""
        alerts = [a for k in keys for a in self.pending.pop(k, [])]
        count = sum(self.counts.pop(k, 0) for k in keys)
        now = time.monotonic()
        for k in keys:
            self.last_start[k] = now
        if not alerts:
            return
        t = timeout()
        try:
            with tempfile.TemporaryFile() as f:
                f.write(json.dumps(payload(alerts, count), ensure_ascii=False).encode("utf-8", "replace"))
                f.seek(0)
                p = subprocess.Popen([sys.executable, "-I", "-S", "-c", _SUPERVISOR, str(t), self.cmd], stdin=f,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        except (OSError, ValueError) as e:
            warn_once(f"hook-error:{self.cmd}", f"tracker: TRACKER_ALERT_CMD could not run: {e}")
            return
        self.running.append((p, self.cmd, t))

    def flush(self) -> None:
        """Start one hook for everything still waiting, now (exit, SIGTERM/SIGHUP)."""
        if not self.cond.acquire(timeout=1.0):
            return
        try:
            self._reap()
            if self.pending:
                self._start(list(self.pending))
        finally:
            self.cond.release()


def payload(alerts: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """What one hook call receives: the alert itself, or one object standing for several."""
    if count == 1 and len(alerts) == 1:
        return alerts[0]
    first = alerts[0]
    titles = ", ".join(str(a.get("title", "")) for a in alerts[:5]) + (", …" if count > 5 else "")
    lines = [f"[{a.get('level', 'INFO')}] {a.get('title', '')}" + (f": {a['text']}" if a.get("text") else "")
             for a in alerts]
    if count > len(alerts):
        lines.append(f"… and {count - len(alerts)} more")
    out: dict[str, Any] = {
        "title": f"{count} alerts: {titles}", "text": "\n".join(lines),
        "level": max((str(a.get("level", "INFO")) for a in alerts), key=lambda lv: _LEVELS.get(lv, 0)),
        "step": first.get("step"), "count": count, "alerts": alerts,
    }
    runs = {a.get("run_id") for a in alerts}
    if len(runs) == 1:
        out.update({k: first[k] for k in ("run_id", "run_name", "project") if k in first})
    return out


_dispatcher: _Dispatcher | None = None
_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """A forked child starts without the parent's dispatcher (its thread is not there) and with
    a lock nobody holds (the parent's writer thread may have held it at the fork)."""
    global _dispatcher, _lock
    _dispatcher = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def submit(cmd: str, alerts: list[dict[str, Any]]) -> None:
    """Hand alerts (each with its run id, name and project) to the hook; never blocks."""
    global _dispatcher
    if not alerts:
        return
    with _lock:
        d = _dispatcher
        if d is None:  # first use (in this process: a forked child gets its own)
            d = _dispatcher = _Dispatcher()
    d.submit(cmd, alerts)


def flush_at_exit() -> None:
    """Send what is still waiting (the process is about to end; supervisors keep the timeouts)."""
    d = _dispatcher
    if d is not None and d.pid == os.getpid():
        d.flush()
