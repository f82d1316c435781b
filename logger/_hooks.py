"""Process hooks installed by the first ``tracker.init()``: exit, signals and fork.

* **Exit**: an ``atexit`` hook finishes every run this process still has open. The exit code it
  records comes from ``sys.exit`` / ``exit()`` / ``quit()`` (wrapped to remember the code) or an
  uncaught exception (``sys.excepthook``, 130 for KeyboardInterrupt, else 1).
* **Signals** (SIGTERM, SIGHUP; main thread only): the tracker chains, never replaces. With the
  default disposition the runs are finished as ``failed`` (exit code 128+signum, the signal named
  in meta) and the process then dies by the same signal. With a handler of the program's own, the
  queued points are flushed and that handler runs (it may keep training going). An ignored signal
  stays ignored: see :func:`_chain_signals`.
* **Alert hooks**: alerts still waiting to be coalesced (:mod:`._alert_hooks`) are handed to
  the hook at exit and on those signals; the hooks' timeouts do not depend on this process.
* **fork()**: the writers' transaction locks are held across the fork, and the child drops the
  parent's connections, queues and runs (``log()`` there warns, ``tracker.init()`` there starts a
  run of its own).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import Any

from . import _state

_installed = False
_exit_code: int | None = None
_exit_error: str | None = None
_prev_signal: dict[int, Any] = {}


def install() -> None:
    """Install the hooks once per process (later calls do nothing)."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    _wrap_exits()
    if threading.current_thread() is threading.main_thread():
        _chain_signals()
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


def _exit_status(code: Any) -> int:
    """The status ``sys.exit(code)`` gives: an int as is, None 0, anything else (a message) 1."""
    return code if isinstance(code, int) else (0 if code is None else 1)


def _wrap_exits() -> None:
    """Remember the exit code of ``sys.exit``, ``exit()``, ``quit()`` and uncaught exceptions."""
    prev_excepthook = sys.excepthook

    def excepthook(tp: Any, value: Any, tb: Any) -> None:
        global _exit_code, _exit_error
        _exit_code = 130 if issubclass(tp, KeyboardInterrupt) else 1
        _exit_error = f"{tp.__name__}: {value}"
        prev_excepthook(tp, value, tb)

    sys.excepthook = excepthook
    prev_exit = sys.exit

    def exit(code: Any = None) -> None:
        global _exit_code
        _exit_code = _exit_status(code)
        prev_exit(code)

    sys.exit = exit  # type: ignore[assignment]
    import builtins

    for name in ("exit", "quit"):
        quitter = getattr(builtins, name, None)
        if quitter is not None and not getattr(quitter, "_tracker_wrapped", False):
            setattr(builtins, name, _Quitter(quitter))


def _chain_signals() -> None:
    """Put :func:`_on_signal` in front of SIGTERM and SIGHUP, unless the signal is ignored.

    An ignored signal is left ignored, on purpose: ``nohup python train.py`` starts the program
    with SIGHUP ignored so that closing the terminal does not end training, and a program may
    ignore a signal itself. Installing a handler would turn the terminal closing into a finished,
    ``failed`` run and a dead process, the very thing the user asked to avoid. So the run is not
    marked when such a signal arrives (nothing happened to it) and training goes on.
    ``signal.getsignal`` is None for a handler not installed from Python: also left alone.
    """
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        prev = signal.getsignal(signum)
        if prev is signal.SIG_IGN or prev is None:
            continue
        _prev_signal[signum] = prev
        signal.signal(signum, _on_signal)


class _Quitter:
    """Wraps the builtin ``exit()`` / ``quit()`` to record the exit code, like ``sys.exit``."""

    _tracker_wrapped = True

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __repr__(self) -> str:
        return repr(self._inner)

    def __call__(self, code: Any = None) -> None:
        global _exit_code
        _exit_code = _exit_status(code)
        self._inner(code)


def _at_exit() -> None:
    for run in list(_state.active):
        if run._pid == os.getpid():
            code = _exit_code if _exit_code is not None else 0
            run._finish(code, error=_exit_error if code else None)
    _send_pending_alerts()


def _send_pending_alerts() -> None:
    """Alerts still waiting for the hook (coalescing) go out now; their timeouts are kept by
    the hooks' supervisors (:mod:`._alert_hooks`) after this process is gone."""
    hooks = sys.modules.get(__package__ + "._alert_hooks")
    if hooks is not None:
        hooks.flush_at_exit()


def _on_signal(signum: int, frame: Any) -> None:
    prev = _prev_signal.get(signum)
    if callable(prev) and prev not in (signal.SIG_DFL, signal.SIG_IGN):
        # Someone else handles this signal (and may keep training): only flush.
        for run in list(_state.active):
            if run._pid == os.getpid():
                run._writer.flush(5.0)
        prev(signum, frame)
        return
    name = signal.Signals(signum).name
    for run in list(_state.active):
        if run._pid == os.getpid():
            run._finish(128 + signum, timeout=10.0, error=f"killed by {name}", signame=name)
    _send_pending_alerts()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _before_fork() -> None:
    """Hold every writer's transaction lock across fork(): the child must not inherit a
    connection in the middle of a write transaction (its own new connection would then see
    the store as locked forever)."""
    for w in list(_state.writers.values()):
        w.store._wlock.acquire()


def _after_fork_in_parent() -> None:
    for w in list(_state.writers.values()):
        w.store._wlock.release()


def _after_fork_in_child() -> None:
    """A forked child must never touch the parent's connection or queue."""
    for w in _state.writers.values():
        w.store._wlock.release()
        w.dead = True
        w.q = type(w.q)()
        w.store.abandon()
    _state.writers.clear()
    for run in _state.active:
        run._closed = True
        run._forked = True
        run._q = type(run._q)()
    _state.active.clear()
    _state.forked_current = _state.current
    _state.current = None
