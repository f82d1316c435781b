"""``tracker-tui tail``: follow one run's metrics as they are committed, like ``tail -f``.

    tracker-tui tail RUN [-n N] [--keys k1,k2] [--poll SECONDS] [--store DIR]
    tracker-tui tail --latest [--project P] ...

RUN is a run id or a unique prefix of a run id or name; ``--latest`` picks the newest run that is
still running. The last N steps are printed first (``-n``, default 10), then each new step once it
is complete: a later step has appeared, the run ended, or no more points came for it for
~0.3 s. Values that arrive later for a step already printed print that step again (with all its
values); a step is never printed twice otherwise.

On a terminal the output is aligned columns (``step`` and one column per metric; the header is
printed again when new metrics appear) with a status line kept at the bottom: run name, state,
step, steps/s and the time since the last point. When stdout is not a terminal it is one JSON
object per step per line, ``{"_step": 12, "_timestamp": 1718000000.1, "loss": 0.3}``, flushed per
line; NaN and ±Inf are the strings ``"nan"``, ``"inf"``, ``"-inf"`` so every line is strict JSON.

Change detection is the store watcher (file events on ``tracker.db-wal``, or ``PRAGMA
data_version`` polling when events are unavailable or ``TRACKER_NO_INOTIFY=1``); ``--poll
SECONDS`` forces polling. The watcher only rings the bell: points are read with a cursor on the
point id, and the run's state is re-read every 0.5 s even when nothing changes, so a process
that died silently is noticed (at once on this host; elsewhere after the heartbeat timeout).

Exit status:
    0    the run finished
    1    the run failed (an exception, a non-zero exit, killed by SIGTERM/SIGHUP), or tail could
         not start: unknown or ambiguous run, no store, no running run for ``--latest``
    2    the run crashed: its process is gone without finishing (kill -9, OOM killer, segfault)
    130  interrupted by Ctrl-C (SIGINT); 143 SIGTERM; 129 SIGHUP
    141  the reader of stdout went away (``tracker-tui tail RUN | head -3``)
Usage errors reported by argparse exit 2, as for every tracker-tui command; they print
``usage:`` and happen before any run is looked at.

Every string from the store is passed through :func:`~tracker.tui.text.sanitize` before it
reaches a terminal; the only escape sequences written are the status line's own.

This module is the command (arguments, finding the run, signals, exit status);
:mod:`.tail_follow` reads the store and runs the live loop, :mod:`.tail_output` writes.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import sys
import threading
from typing import Any

from tracker.tui.cli.tail_follow import Follower, follow
from tracker.tui.cli.tail_output import JsonOut, TableOut
from tracker.tui.text import sanitize

#: Exit status by the run's (effective) final state.
STATE_EXIT = {"finished": 0, "failed": 1, "crashed": 2}
EXIT_ERROR = 1
EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe

EPILOG = """\
also accepted:
  --store DIR       the store directory (default: $TRACKER_DIR, then ~/.tracker)
  --refresh-hz HZ   most terminal writes per second (default 4 over SSH, else 10)

change detection:
  by default tail watches the store's -wal file and falls back to polling every 0.5 s
  where file events are unavailable (network filesystems, TRACKER_NO_INOTIFY=1);
  `tracker-tui tail --poll 0.5 RUN` forces polling every 0.5 s.

output:
  on a terminal: aligned columns and a status line; when piped: one JSON object per
  step per line, {"_step": N, "_timestamp": T, "<metric>": value, ...}, with NaN/Inf
  as the strings "nan", "inf", "-inf" (strict JSON), flushed per line.

exit status:
  0    the run finished
  1    the run failed; or an unknown run, no store, nothing running for --latest
  2    the run crashed (its process is gone without finishing)
  130  Ctrl-C (SIGINT)    143  SIGTERM    129  SIGHUP
  141  the output pipe was closed (e.g. `| head -3`)
  (argparse usage errors also exit 2, after printing "usage:")
"""


# ---------------------------------------------------------------------------------- signals
class _Interrupted(BaseException):
    """A second signal while the first is being handled: leave at once."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Signals:
    """SIGINT/SIGTERM/SIGHUP set an exit code the main loop checks every ``TICK`` seconds.

    The handler only sets a flag (no locks: it runs between two bytecodes of the main thread,
    which may hold one). A second signal before the loop has reacted raises, for a stuck write.
    """

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self.code: int | None = None
        self._prev: dict[int, Any] = {}

    def install(self) -> Signals:
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in self.NAMES:
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            prev = signal.getsignal(signum)
            if prev is signal.SIG_IGN:
                continue  # e.g. started with nohup: keep ignoring
            self._prev[signum] = prev
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.code is not None:
            raise _Interrupted(128 + signum)
        self.code = 128 + signum

    def restore(self) -> None:
        for signum, prev in self._prev.items():
            try:
                signal.signal(signum, prev)
            except (ValueError, TypeError, OSError):
                pass
        self._prev.clear()


def _silence_stdout() -> None:
    """After EPIPE: point fd 1 at /dev/null so the interpreter's final flush stays quiet."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError):
        pass


# ---------------------------------------------------------------------------------- command
def _err(msg: str) -> int:
    print(f"tracker-tui tail: {msg}", file=sys.stderr)
    return EXIT_ERROR


def _count_arg(s: str) -> int:
    try:
        n = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {s!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return n


def configure(sub: Any) -> argparse.ArgumentParser:
    """The ``tail`` subparser with its own arguments (the CLI adds ``--store``/``--refresh-hz``)."""
    p: argparse.ArgumentParser = sub.add_parser("tail", help="follow a run's metrics as they are logged")
    p.description = (
        "Print a run's last steps, then each new step as it is committed, until the run ends.\n"
        "Aligned columns on a terminal; one JSON object per step per line when piped."
    )
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("run", nargs="?", metavar="RUN", help="run id, or a unique prefix of a run id or name")
    p.add_argument("--latest", action="store_true", help="follow the newest run that is running")
    p.add_argument("--project", "-p", help="with --latest: only this project's runs")
    p.add_argument("-n", "--lines", dest="n", type=_count_arg, default=10, metavar="N",
                   help="print the last N steps first (default 10; 0: only new steps)")
    p.add_argument("--keys", "-k", help="comma-separated metric names (default: all)")
    # SUPPRESS: without it, ``tracker-tui --poll S tail RUN`` (same meaning) still applies.
    p.add_argument("--poll", type=float, default=argparse.SUPPRESS, metavar="SECONDS",
                   help="poll the store every SECONDS instead of watching file events")
    p.set_defaults(func=cmd_tail)
    return p


def cmd_tail(args: argparse.Namespace) -> int:
    """Follow a run; returns the exit status documented in the module docstring."""
    sig = Signals().install()
    try:
        return _tail(args, sig)
    except (KeyboardInterrupt, _Interrupted) as e:
        return e.code if isinstance(e, _Interrupted) else 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_PIPE
    except OSError as e:
        if e.errno not in (errno.EIO, errno.ENXIO):
            raise
        _silence_stdout()  # the terminal went away (hang-up)
        return sig.code if sig.code is not None else 128 + int(getattr(signal, "SIGHUP", 1))
    finally:
        sig.restore()


class _Options:
    """tail's arguments, checked."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.run: str | None = getattr(args, "run", None)
        self.latest = bool(getattr(args, "latest", False))
        self.project: str | None = getattr(args, "project", None)
        self.poll: float | None = getattr(args, "poll", None)
        self.keys = [k for k in (getattr(args, "keys", None) or "").split(",") if k] or None
        self.n = int(getattr(args, "n", 10))
        self.hz: float | None = getattr(args, "refresh_hz", None)
        self.store: str | None = getattr(args, "store", None)

    def problem(self) -> str | None:
        """What is wrong with the arguments, or None."""
        if self.latest and self.run:
            return "give a RUN or --latest, not both"
        if not self.latest and not self.run:
            return "give a RUN (id, or unique prefix of an id or name) or --latest"
        if self.project and not self.latest:
            return "--project goes with --latest"
        if self.poll is not None and not (self.poll > 0 and math.isfinite(self.poll)):
            return f"--poll needs a positive number of seconds, got {self.poll}"
        if self.hz is not None and not (self.hz > 0 and math.isfinite(self.hz)):
            return f"--refresh-hz needs a positive number, got {self.hz}"
        return None

    @property
    def min_draw(self) -> float:
        """Seconds between terminal writes (``--refresh-hz``; 4 Hz over SSH, else 10)."""
        hz = self.hz if self.hz is not None else (4.0 if os.environ.get("SSH_CONNECTION") else 10.0)
        return 1.0 / hz


def _tail(args: argparse.Namespace, sig: Signals) -> int:
    from tracker.store import Store, StoreError, resolve_dir

    opts = _Options(args)
    problem = opts.problem()
    if problem:
        return _err(problem)
    try:
        store = Store(resolve_dir(opts.store), create=False)
    except StoreError as e:  # StoreMissing included
        print(sanitize(e), file=sys.stderr)
        return EXIT_ERROR
    try:
        rec = _find_run(store, opts)
        if rec is None:
            return EXIT_ERROR
        return _follow(store, rec, opts, sig)
    except StoreError as e:
        print(sanitize(e), file=sys.stderr)
        return EXIT_ERROR
    finally:
        store.close()


def _find_run(store: Any, opts: _Options) -> Any:
    """The run to follow, or None after saying why not."""
    from tracker.store import RunNotFound

    if opts.latest:
        running = [r for r in store.runs(opts.project, with_metrics=False) if r.state == "running"]
        if not running:
            where = f" in project {sanitize(opts.project)!r}" if opts.project else ""
            _err(f"no running run{where} in {sanitize(store.dir)}")
            return None
        return store.run(running[0].id)
    try:
        return store.run(str(opts.run))
    except RunNotFound as e:
        print(sanitize(e), file=sys.stderr)
        return None


def _output(watcher: Any, keys: list[str] | None) -> JsonOut | TableOut:
    """Columns and a status line on a terminal, JSON lines otherwise."""
    stream = sys.stdout
    if not stream.isatty():
        return JsonOut(stream)
    fancy = os.environ.get("TERM", "") not in ("", "dumb")
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="backslashreplace")
        except ValueError:
            pass
    return TableOut(stream, keys, status=fancy, colour=fancy and not os.environ.get("NO_COLOR"),
                    mode=watcher.mode if watcher else "")


def _follow(store: Any, rec: Any, opts: _Options, sig: Signals) -> int:
    from tracker.store import StoreError
    from tracker.store.watch import StoreWatcher

    keys = opts.keys
    if keys and rec.metrics and not set(keys) & set(rec.metrics):
        have = ", ".join(sanitize(k) for k in sorted(rec.metrics)[:12])
        _err(f"run {sanitize(rec.id)} has none of --keys yet (it has: {have})")
    follower = Follower(store, rec, keys)
    final = rec.state != "running"
    wake = threading.Event()
    watcher = None
    if not final:
        # Start watching before the first read, so no commit falls between the two.
        watcher = StoreWatcher(store.dir, wake.set, poll=opts.poll).start()
    try:
        out = _output(watcher, keys)
        if final and isinstance(out, TableOut):
            out.use_status = False  # nothing to follow: rows, then the final line
        out.rows(follower.history(opts.n, final), follower, rec)
        rec, code = follow(store, rec, follower, out, wake, min_draw=opts.min_draw, stop=lambda: sig.code)
        if code is not None:
            return code
        out.finish(rec, follower)
        return STATE_EXIT.get(rec.state, EXIT_ERROR)
    except StoreError as e:
        _err(f"cannot read {sanitize(store.path)}: {sanitize(e)}")
        return EXIT_ERROR
    finally:
        if watcher is not None:
            watcher.stop()
