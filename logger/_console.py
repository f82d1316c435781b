"""Console capture: the process's stdout and stderr go to the terminal unchanged *and* to the run.

Capture works on the file descriptors (1 and 2), not on ``sys.stdout``, so output from C
extensions (``printf``, CUDA, NCCL) and from child processes is kept too. ``start()`` flushes
Python's streams, keeps a duplicate of each original descriptor, and points fd 1/2 at the
write end of a pipe. A reader thread reads each pipe and first writes every byte, unchanged, to
the original descriptor (the *tee*: partial lines and ``\\r`` progress updates reach the terminal
at once), and then cuts the bytes into lines for the run. A second thread hands the lines to
``emit`` in batches, so a slow ``emit`` never holds up the terminal.

What ``emit`` receives: ``(wall_time, stream, text)`` tuples in the order they were read. Text
is decoded as UTF-8 (``errors="replace"``), without its line end. Escape sequences (colours,
OSC titles, hyperlinks...) are kept as written; whoever draws them must neutralise them. A progress bar that rewrites its line with ``\\r``
is kept as its last state: per line, only the text after the last ``\\r`` that is followed by
text (``"a\\rb\\n"`` gives ``"b"``, ``"a\\r\\n"`` gives ``"a"``). A line still open at ``stop()`` is
emitted as it is. Lines over ``MAX_LINE_BYTES`` are cut and end with ``" [line cut: N more
bytes not kept]"``. Once the kept lines reach ``max_bytes`` (each line counts its bytes plus one
for the line end), one line ``"[console truncated: output over N MB was not kept]"`` is
emitted with stream ``"tracker"`` and nothing more is kept; the terminal still gets everything.
Across the two streams the order is the order of reading: output written to stdout and stderr
within a few microseconds of each other may come out interleaved differently than written.

Behaviour worth knowing:

* **Nothing is swallowed.** Every byte is written to the original descriptor before anything
  else is done with it. If ``emit`` raises, one warning is shown and capture goes on (that batch
  is lost to the run, not to the terminal). If the reader fails unexpectedly it keeps tee-ing
  without keeping lines.
* **Terminal gone.** The reader blocks SIGPIPE for itself, so a closed pipe gives ``EPIPE``
  instead of killing the process even when the program set SIGPIPE to ``SIG_DFL``. After any
  write error (``EPIPE``, ``EIO`` of a hung-up tty, ...) that stream is no longer tee'd, but it
  is still drained and kept, so the program never blocks on a full pipe. A terminal that is
  merely slow (``| less`` waiting for a key) slows the program down exactly as it would without
  capture; ``stop()`` does not wait for it longer than its ``timeout``.
* **Process killed** (SIGKILL, SIGABRT after a C++ ``terminate called...``, a segfault): bytes
  still in the pipe would die with the reader thread. A small rescue process (``python -I -S``,
  started by ``start()``, doing nothing while this process lives) holds the read ends; when
  this process dies without ``stop()`` it copies what is left to the terminal and exits when
  the last writer is gone. Lines not yet emitted are lost to the run (at most one
  ``flush_interval``). The rescue process ignores SIGINT/SIGTERM (a Ctrl-C or a group kill must
  not end it before it did its job) and exits as soon as ``stop()`` says so. If it cannot be
  started (no ``sys.executable``, no fds left) and faulthandler is enabled, faulthandler is
  pointed at the original stderr while capturing, so a crash traceback still reaches the
  terminal (it is not kept), and at fd 2 afterwards.
* **fork()**: a forked child keeps fd 1/2 pointing at the parent's pipes, so its output is tee'd
  and kept by the parent as long as the parent reads. The child closes its copies of the
  capture's private descriptors (read ends, duplicates, rescue lifeline) at fork, and ``stop()``
  in the child does nothing: only the process that called ``start()`` restores fd 1/2. A child
  that outlives the parent's ``stop()`` is still tee'd (the reader lingers until the pipe has no
  writer left); one that outlives the parent process is served by the rescue process.
* **Child processes** inherit fd 1/2 as a pipe, not a tty: they (and code calling
  ``sys.stdout.isatty()`` after ``start()``) may turn colours off and buffer their output.
* **Closed or unusable fd 1/2** (daemons, ``>&-``), unsupported platform, or a second capture in
  the same process: ``start()`` warns once and does nothing; ``stop()`` is then a no-op too.
* ``stop()`` restores fd 1 and 2, emits what is pending and is idempotent. An ``atexit`` hook
  calls it if the program ends without doing so, so output flushed at exit is not lost.

No Textual or Rich import here: this module is imported by the logger.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._console_lines import MAX_LINE_BYTES, line_text, size_text
from ._console_lines import Stream as _Stream
from ._console_rescue import point_faulthandler, restore_faulthandler, start_rescue

if TYPE_CHECKING:  # pragma: no cover
    import subprocess

__all__ = ["ConsoleCapture", "MAX_LINE_BYTES", "TRACKER_STREAM", "TRUNCATED_PREFIX"]

Line = tuple[float, str, str]

#: Stream name of the lines the capture writes itself (the truncation marker).
TRACKER_STREAM = "tracker"
#: The truncation marker line starts with this.
TRUNCATED_PREFIX = "[console truncated:"

_FDS = {"stdout": 1, "stderr": 2}
_READ_SIZE = 64 * 1024
_PIPE_SIZE = 1 << 20  # a roomy pipe: a reader busy for a moment never stalls the program

_active: ConsoleCapture | None = None  # at most one capture per process
_active_lock = threading.Lock()


def _warn(tag: str, message: str) -> None:
    try:
        from ._values import warn_once

        warn_once(tag, message)
    except Exception:  # e.g. warnings turned into errors: never fatal here
        pass


def _flush_python_streams() -> None:
    seen = set()
    for f in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if f is None or id(f) in seen:
            continue
        seen.add(id(f))
        try:
            f.flush()
        except Exception:
            pass


def _close(fd: int | None) -> None:
    if fd is not None and fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


class ConsoleCapture:
    """Tee fd 1 and 2 to the terminal and hand the complete lines to ``emit`` (see the module
    docstring). ``emit(lines)`` runs on a background thread, at most every ``flush_interval``
    seconds while output flows, and once more from ``stop()``."""

    def __init__(self, emit: Callable[[list[Line]], None], *, max_bytes: int = 8 * 1024 * 1024,
                 streams: tuple[str, ...] = ("stdout", "stderr"), flush_interval: float = 0.5) -> None:
        if not callable(emit):
            raise TypeError("emit must be callable")
        streams = tuple(streams)
        bad = [s for s in streams if s not in _FDS]
        if bad or not streams or len(set(streams)) != len(streams):
            raise ValueError(f"streams must be distinct names from {tuple(_FDS)}, got {streams!r}")
        if not flush_interval > 0:
            raise ValueError(f"flush_interval must be > 0, got {flush_interval!r}")
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes!r}")
        self._emit = emit
        self._max_bytes = int(max_bytes)
        self._interval = float(flush_interval)
        self._streams = [_Stream(s, _FDS[s]) for s in streams]
        self._state = "new"  # new -> running | noop -> stopped
        self._pid: int | None = None
        self._lock = threading.RLock()
        # reader -> emitter
        self._cond = threading.Condition(threading.Lock())
        self._pending: list[Line] = []
        self._notes: list[tuple[str, str]] = []
        self._final = False  # the reader has queued its last line
        self._done = threading.Event()  # the emitter has handed over the last line
        self._keeping = True
        self._kept = 0
        self._last_t = 0.0
        # stop -> reader
        self._stop_requested = False
        self._drain_deadline = 0.0
        self._wake_r = self._wake_w = -1
        # fd ownership: released when both the reader is done and stop() has restored fd 1/2
        self._fd_lock = threading.Lock()
        self._reader_done = False
        self._restored = False
        self._released = False
        self._life_w = -1
        self._rescue: subprocess.Popen[bytes] | None = None
        self._fault_fd = -1
        self._reader: threading.Thread | None = None
        self._emitter: threading.Thread | None = None

    # ------------------------------------------------------------------------------ public
    @property
    def active(self) -> bool:
        """True while this process's fd 1/2 are captured by this object."""
        return self._state == "running" and self._pid == os.getpid()

    def __enter__(self) -> ConsoleCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> ConsoleCapture:
        """Redirect fd 1/2 through the capture. Never raises for an unusable console: it warns
        once and the capture stays a no-op."""
        global _active
        if self._pid is not None and self._pid != os.getpid():
            return self  # an inherited object in a forked child: not ours to start
        with self._lock:
            if self._state in ("running", "noop"):
                return self
            if self._state != "new":
                raise RuntimeError("a stopped ConsoleCapture cannot be started again; create a new one")
            self._pid = os.getpid()
            why = self._unusable()
            if why is None:
                with _active_lock:
                    other = _active
                    if other is not None and other._pid == os.getpid():  # set only while capturing
                        why = "another console capture is already running in this process"
                    else:
                        try:
                            self._setup()
                        except (OSError, RuntimeError) as e:
                            why = f"{type(e).__name__}: {e}"
                        else:
                            _active = self
            if why is not None:
                self._state = "noop"
                _warn("console-capture", f"tracker: console capture is off ({why}); output goes where it went")
                return self
            self._state = "running"
        atexit.register(self._at_exit)
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Restore fd 1 and 2, emit what is pending (waits up to ``timeout`` seconds for it),
        and end the capture. Idempotent; does nothing in a forked child."""
        self._stop(timeout, from_atexit=False)

    # ------------------------------------------------------------------------------ setup
    def _unusable(self) -> str | None:
        if os.name != "posix" or not hasattr(select, "poll"):
            return "not supported on this platform"
        _flush_python_streams()
        for st in self._streams:
            try:
                os.fstat(st.fd)
            except OSError as e:
                return f"fd {st.fd} ({st.name}) is not open: {e.strerror}"
        return None

    def _setup(self) -> None:
        made: list[int] = []  # every fd created, closed again if setup fails
        redirected: list[_Stream] = []
        try:
            self._wake_r, self._wake_w = os.pipe()
            made += [self._wake_r, self._wake_w]
            for st in self._streams:
                st.saved = os.dup(st.fd)
                made.append(st.saved)
                r, w = os.pipe()
                made.append(r)
                st.read = r
                try:
                    _grow_pipe(w)
                    os.dup2(w, st.fd)  # fd 1/2 stay inheritable: child processes are captured too
                finally:
                    os.close(w)
                redirected.append(st)
            self._emitter = threading.Thread(target=self._emitter_main, name="tracker-console-emit", daemon=True)
            self._emitter.start()
            self._reader = threading.Thread(target=self._reader_main, name="tracker-console-reader", daemon=True)
            self._reader.start()
        except BaseException:
            for st in reversed(redirected):
                try:
                    os.dup2(st.saved, st.fd)
                except OSError:
                    pass
            for fd in made:
                _close(fd)
            for st in self._streams:
                st.saved = st.read = -1
            self._wake_r = self._wake_w = -1
            self._set_final()  # an emitter that did start ends
            raise
        self._start_rescue()
        if self._rescue is None:
            self._point_faulthandler()

    def _start_rescue(self) -> None:
        """Best effort: without it, a process killed mid-output may lose its last bytes."""
        self._rescue, self._life_w = start_rescue([(st.read, st.saved) for st in self._streams])

    def _point_faulthandler(self) -> None:
        err = next((st for st in self._streams if st.name == "stderr"), None)
        if err is not None:
            self._fault_fd = point_faulthandler(err.saved)

    def _restore_faulthandler(self) -> None:
        restore_faulthandler(self._fault_fd)
        self._fault_fd = -1

    # ------------------------------------------------------------------------------ stop
    def _at_exit(self) -> None:
        self._stop(2.0, from_atexit=True)

    def _stop(self, timeout: float, from_atexit: bool) -> None:
        global _active
        if self._pid != os.getpid():
            return  # forked child (or never started): the parent owns fd 1/2 and the pipes
        with self._lock:
            if self._state != "running":
                if self._state == "noop":
                    self._state = "stopped"
                return
            self._state = "stopped"
        _flush_python_streams()  # Python's buffered text still goes through the capture
        self._restore_faulthandler()
        for st in self._streams:
            try:
                os.dup2(st.saved, st.fd)
            except OSError as e:
                _warn("console-restore", f"tracker: could not restore fd {st.fd} ({st.name}): {e.strerror}")
        with _active_lock:
            if _active is self:
                _active = None
        if not from_atexit:
            try:
                atexit.unregister(self._at_exit)
            except Exception:
                pass
        timeout = max(0.0, float(timeout))
        self._drain_deadline = time.monotonic() + timeout / 2
        self._stop_requested = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self._done.wait(timeout)
        with self._fd_lock:
            self._restored = True
        self._release_if_done()

    def _release_if_done(self) -> None:
        """Close the private fds once nobody needs them: the reader is done and fd 1/2 are back."""
        with self._fd_lock:
            if self._released or not (self._reader_done and self._restored):
                return
            self._released = True
        if self._life_w >= 0:
            try:
                os.write(self._life_w, b"q")  # the rescue process may go
            except OSError:
                pass
            _close(self._life_w)
            self._life_w = -1
        for st in self._streams:
            _close(st.read)
            _close(st.saved)
            st.read = st.saved = -1
        _close(self._wake_r)
        _close(self._wake_w)
        self._wake_r = self._wake_w = -1
        rescue = self._rescue
        if rescue is not None:
            try:
                rescue.wait(1.0)
            except Exception:  # still alive (or reaped by someone else): never block here
                pass

    def _after_fork_child(self) -> None:
        """In a forked child: drop our copies of the private fds. fd 1/2 keep pointing at the
        parent's pipes (the parent tees and keeps the child's output)."""
        for st in self._streams:
            _close(st.read)
            _close(st.saved)
        _close(self._wake_r)
        _close(self._wake_w)
        _close(self._life_w)  # else the rescue process would not see the parent die
        _close(self._fault_fd)
        self._rescue = None

    # ------------------------------------------------------------------------------ reader
    def _reader_main(self) -> None:
        try:  # a closed terminal gives EPIPE here instead of killing the process
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
        except (AttributeError, ValueError, OSError):
            pass
        by_fd = {st.read: st for st in self._streams}
        poller = select.poll()
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        try:
            try:
                self._pump(poller, by_fd)
            except BaseException as e:  # never leave the program writing into a pipe nobody reads
                self._keeping = False
                self._note("console-reader", f"tracker: console capture failed ({type(e).__name__}: {e}); "
                           "output still reaches the terminal but is no longer kept")
                self._set_final()
            try:
                self._tee_until_eof(poller, by_fd)
            except BaseException:
                pass
        finally:
            self._set_final()
            with self._fd_lock:
                self._reader_done = True
            self._release_if_done()

    def _pump(self, poller: select.poll, by_fd: dict[int, _Stream]) -> None:
        stopping = False
        while by_fd:
            if stopping:
                if time.monotonic() >= self._drain_deadline:
                    break
                events = poller.poll(0)  # only what is already in the pipes
                if not events:
                    break
            else:
                events = poller.poll()
            for fd, _ in events:
                if fd == self._wake_r:
                    if self._stop_requested and not stopping:
                        stopping = True
                        poller.unregister(fd)
                    continue
                st = by_fd.get(fd)
                if st is None:
                    continue
                data = self._read(fd)
                if data is None:
                    continue
                if not data:  # every write end is closed
                    poller.unregister(fd)
                    del by_fd[fd]
                    continue
                self._tee(st, data)
                if self._keeping:
                    now = time.time()
                    if now < self._last_t:  # wall clock stepped back: keep the order
                        now = self._last_t
                    self._last_t = now
                    self._feed(st, data, now)
        # lines still open at stop (or at EOF) are kept as they are
        now = max(time.time(), self._last_t)
        for st in self._streams:
            if st.buf or st.cut:
                self._end_line(st, now)
        self._set_final()

    def _tee_until_eof(self, poller: select.poll, by_fd: dict[int, _Stream]) -> None:
        """After stop(): a child process may still hold fd 1/2. Keep its output flowing to the
        terminal (not kept) until the last writer is gone."""
        try:
            poller.unregister(self._wake_r)
        except (KeyError, ValueError, OSError):
            pass
        while by_fd:
            for fd, _ in poller.poll():
                st = by_fd.get(fd)
                if st is None:
                    continue
                data = self._read(fd)
                if data is None:
                    continue
                if not data:
                    poller.unregister(fd)
                    del by_fd[fd]
                    continue
                self._tee(st, data)

    @staticmethod
    def _read(fd: int) -> bytes | None:
        """The next chunk, b"" at EOF (or a dead fd), None if there was nothing after all."""
        try:
            return os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return None
        except OSError:
            return b""

    def _tee(self, st: _Stream, data: bytes) -> None:
        if not st.tee_ok:
            return
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(st.saved, view):]
            except BlockingIOError:  # someone made the terminal non-blocking: wait as a write would
                try:
                    p = select.poll()
                    p.register(st.saved, select.POLLOUT)
                    p.poll(100)
                except OSError:
                    time.sleep(0.01)
            except OSError as e:
                st.tee_ok = False
                self._note(f"console-tee:{st.name}",
                           f"tracker: the terminal no longer accepts {st.name} ({e.strerror or e}); "
                           f"{st.name} is still kept with the run")
                return

    # ------------------------------------------------------------------------------ lines
    def _feed(self, st: _Stream, data: bytes, now: float) -> None:
        parts = data.split(b"\n")
        last = len(parts) - 1
        for i, part in enumerate(parts):
            if part:
                if b"\r" in part:
                    first, *rest = part.split(b"\r")
                    if first:
                        st.add(first)
                    for seg in rest:
                        st.cr = True
                        if seg:
                            st.add(seg)
                else:
                    st.add(part)
            if i < last:
                self._end_line(st, now)
                if not self._keeping:
                    return

    def _end_line(self, st: _Stream, now: float) -> None:
        raw, cut = st.take()
        if not self._keeping:
            return
        cost = len(raw) + 1
        if self._kept + cost > self._max_bytes:
            self._keeping = False
            self._queue((now, TRACKER_STREAM,
                         f"{TRUNCATED_PREFIX} output over {size_text(self._max_bytes)} was not kept]"))
            return
        self._kept += cost
        self._queue((now, st.name, line_text(raw, cut)))

    # ------------------------------------------------------------------------------ emitter
    def _queue(self, line: Line) -> None:
        with self._cond:
            self._pending.append(line)
            if len(self._pending) == 1:
                self._cond.notify()

    def _note(self, tag: str, message: str) -> None:
        # Warnings are written to stderr, which may be our own pipe: never from the reader.
        with self._cond:
            self._notes.append((tag, message))
            self._cond.notify()

    def _set_final(self) -> None:
        with self._cond:
            self._final = True
            self._cond.notify()

    def _emitter_main(self) -> None:
        last = float("-inf")  # when emit was last called (monotonic)
        try:
            while True:
                with self._cond:
                    while True:
                        wait = last + self._interval - time.monotonic()
                        if self._final or self._notes or (self._pending and wait <= 0):
                            break
                        self._cond.wait(wait if self._pending else None)
                    final = self._final
                    notes, self._notes = self._notes, []
                    batch: list[Line] = []
                    if final or last + self._interval <= time.monotonic():
                        batch, self._pending = self._pending, []
                for tag, message in notes:
                    _warn(tag, message)
                if batch:
                    last = time.monotonic()
                    try:
                        self._emit(batch)
                    except BaseException as e:  # the run loses this batch; the terminal lost nothing
                        _warn("console-emit", f"tracker: saving console output failed "
                              f"({type(e).__name__}: {e}); some lines are missing from the run")
                if final:
                    with self._cond:
                        if not self._pending and not self._notes:
                            break
        finally:
            self._done.set()


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_SIZE)
    except (OSError, ImportError, ValueError):
        pass


def _at_fork_child() -> None:
    global _active, _active_lock
    _active_lock = threading.Lock()  # may have been held by another thread at fork time
    cap, _active = _active, None
    if cap is not None:
        cap._after_fork_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_at_fork_child)
