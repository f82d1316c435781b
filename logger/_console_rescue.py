"""What keeps a dying process's last output on the terminal while the console is captured.

When this process is killed (SIGKILL, SIGABRT after a C++ ``terminate called...``, a segfault),
bytes still in the capture pipes would die with the reader thread. :func:`start_rescue` starts a
small rescue process (``python -I -S``) that holds the read ends and does nothing while this
process lives; when this process dies without ``stop()`` it copies what is left to the terminal
and exits when the last writer is gone. Where it cannot be started, :func:`point_faulthandler`
sends a crash traceback (if faulthandler is enabled) straight to the terminal instead.
"""

from __future__ import annotations

import os
import subprocess
import sys


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


# The rescue process. It does nothing while its parent lives. If the lifeline reaches EOF
# without the "q" byte, the parent died without stop(): copy what is left in the pipes to the
# terminal until no writer is left. Ctrl-C and a group SIGTERM must not stop it before it did.
_RESCUE_SRC = r"""
import os, select, signal, sys
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
life = int(sys.argv[1])
pairs = dict(tuple(int(x) for x in p.split(":")) for p in sys.argv[2:])
while True:
    try:
        b = os.read(life, 1)
        break
    except InterruptedError:
        continue
    except OSError:
        b = b""
        break
if b:
    os._exit(0)
poller = select.poll()
for r in pairs:
    poller.register(r, select.POLLIN)
while pairs:
    for r, _ in poller.poll():
        try:
            data = os.read(r, 65536)
        except OSError:
            data = b""
        if not data:
            poller.unregister(r)
            pairs.pop(r, None)
            continue
        out = pairs.get(r, -1)
        view = memoryview(data)
        while view and out >= 0:
            try:
                view = view[os.write(out, view):]
            except BlockingIOError:
                p = select.poll()
                p.register(out, select.POLLOUT)
                p.poll(100)
            except OSError:
                pairs[r] = out = -1
os._exit(0)
"""


def start_rescue(pairs: list[tuple[int, int]]) -> tuple[subprocess.Popen[bytes] | None, int]:
    """Start the rescue process for ``(pipe read end, terminal fd)`` pairs. Returns it and the
    write end of its lifeline (write ``b"q"`` there, then close it, to let it go), or
    ``(None, -1)`` when it cannot be started (no ``sys.executable``, no fds left...)."""
    exe = sys.executable
    if not exe:
        return None, -1
    try:
        life_r, life_w = os.pipe()
    except OSError:
        return None, -1
    fds = [life_r] + [fd for pair in pairs for fd in pair]
    try:
        proc = subprocess.Popen(
            [exe, "-I", "-S", "-c", _RESCUE_SRC, str(life_r), *(f"{r}:{w}" for r, w in pairs)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=fds, close_fds=True)
    except (OSError, ValueError, subprocess.SubprocessError):
        _close(life_w)
        return None, -1
    finally:
        _close(life_r)
    return proc, life_w


def point_faulthandler(terminal_fd: int) -> int:
    """Without a rescue process, a fatal-error traceback must reach the terminal directly: the
    process dies right after writing it, before the reader could pass it on. If faulthandler is
    enabled, point it at a duplicate of ``terminal_fd`` (the original stderr) and return that
    duplicate for :func:`restore_faulthandler`; else -1."""
    fd = -1
    try:
        import faulthandler

        if faulthandler.is_enabled():
            fd = os.dup(terminal_fd)
            faulthandler.enable(file=fd, all_threads=True)
    except Exception:
        pass
    return fd


def restore_faulthandler(fd: int) -> None:
    """Undo :func:`point_faulthandler` (``fd`` is what it returned) once fd 2 is the original
    stderr again."""
    if fd < 0:
        return
    try:
        import faulthandler

        if faulthandler.is_enabled():
            faulthandler.enable(file=2, all_threads=True)
    except Exception:
        pass
    _close(fd)
