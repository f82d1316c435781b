"""Console capture (``tracker._console.ConsoleCapture``) with real child processes.

Each test runs a small Python program that captures its own fd 1/2. Its ``emit`` appends one JSON
record per call (``{"t": call time, "lines": [...]}``) to a file with ``os.write``, so what was
emitted survives ``kill -9``. The test reads the program's real stdout/stderr through pipes: that
is "the terminal", and it must get every byte, whatever happens to the capture.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tracker._console import MAX_LINE_BYTES, TRUNCATED_PREFIX, ConsoleCapture

PY = sys.executable

PRELUDE = """\
import json, os, subprocess, sys, time
from tracker._console import ConsoleCapture

_out = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

def emit(lines):
    os.write(_out, (json.dumps({"t": time.time(), "lines": lines}) + "\\n").encode())

def meta(**kw):
    with open(sys.argv[1] + ".meta", "w") as f:
        json.dump(kw, f)
"""


def run_child(tmp_path: Path, body: str, *, timeout: float = 20.0) -> tuple[subprocess.CompletedProcess[bytes],
                                                                             list[dict], dict]:
    prog = tmp_path / "child.py"
    prog.write_text(PRELUDE + textwrap.dedent(body))
    out = tmp_path / "emitted.jsonl"
    proc = subprocess.run([PY, str(prog), str(out)], capture_output=True, timeout=timeout)
    calls = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    meta_path = Path(str(out) + ".meta")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return proc, calls, meta


def lines_of(calls: list[dict]) -> list[tuple[float, str, str]]:
    return [tuple(x) for c in calls for x in c["lines"]]


# ------------------------------------------------------------------------------------ the feature
MAIN = r"""
fd1_before = os.fstat(1)
cap = ConsoleCapture(emit, flush_interval=0.2).start()
print("line one", flush=True)
print("line two", flush=True)
sys.stdout.write("epoch 1: 10%"); sys.stdout.flush(); time.sleep(0.02)
sys.stdout.write("\repoch 1: 50%"); sys.stdout.flush(); time.sleep(0.02)
sys.stdout.write("\repoch 1: 100%\n"); sys.stdout.flush()
sys.stdout.write("epoch 2: 10%\repoch 2: 50%\repoch 2: 100%\n"); sys.stdout.flush()
sys.stderr.write("warning: on stderr\n"); sys.stderr.flush()
os.write(1, b"from C level\n")
subprocess.run(["echo", "from child"], check=True)
print("\x1b[31mred\x1b[0m plain", flush=True)
print("\x1b]0;window title\x07\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\", flush=True)
e = "caf\u00e9 ok\n".encode()
os.write(1, e[:4]); time.sleep(0.02); os.write(1, e[4:])  # a UTF-8 character split across writes
os.write(1, b"bad \xff byte\n")
os.write(1, b"crlf line\r\n")
os.write(1, b"\n")
os.write(1, b"trailing cr\r")
time.sleep(0.02)
os.write(1, b"\n")
sys.stdout.write("no newline at the end"); sys.stdout.flush()
active = cap.active
cap.stop()
cap.stop()  # idempotent
fd1_after = os.fstat(1)
os.write(1, b"|after stop\n")
meta(active=active, same_fd1=(fd1_before.st_dev, fd1_before.st_ino) == (fd1_after.st_dev, fd1_after.st_ino))
"""

MAIN_STDOUT = (
    b"line one\nline two\n"
    b"epoch 1: 10%\repoch 1: 50%\repoch 1: 100%\n"
    b"epoch 2: 10%\repoch 2: 50%\repoch 2: 100%\n"
    b"from C level\nfrom child\n"
    b"\x1b[31mred\x1b[0m plain\n"
    b"\x1b]0;window title\x07\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\\n"
    + "caf\u00e9 ok\n".encode()
    + b"bad \xff byte\ncrlf line\r\n\ntrailing cr\r\nno newline at the end|after stop\n"
)

MAIN_EMITTED = [
    "line one", "line two", "epoch 1: 100%", "epoch 2: 100%", "from C level", "from child",
    "\x1b[31mred\x1b[0m plain",
    "\x1b]0;window title\x07\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\",
    "caf\u00e9 ok", "bad \ufffd byte", "crlf line", "", "trailing cr", "no newline at the end",
]


def test_tee_and_lines(tmp_path: Path) -> None:
    proc, calls, meta = run_child(tmp_path, MAIN)
    assert proc.returncode == 0, proc.stderr.decode()
    # the terminal saw every byte, \r and escapes included, in order, and fd 1 is back afterwards
    assert proc.stdout == MAIN_STDOUT
    assert proc.stderr == b"warning: on stderr\n"
    assert meta == {"active": True, "same_fd1": True}

    lines = lines_of(calls)
    assert [text for _, s, text in lines if s == "stdout"] == MAIN_EMITTED
    assert [text for _, s, text in lines if s == "stderr"] == ["warning: on stderr"]
    assert {s for _, s, _ in lines} == {"stdout", "stderr"}
    ts = [t for t, _, _ in lines]
    assert all(isinstance(t, float) for t in ts)
    assert ts == sorted(ts)
    assert abs(ts[0] - time.time()) < 60
    call_ts = [c["t"] for c in calls]
    assert call_ts == sorted(call_ts)
    assert all(c["lines"] for c in calls)  # never called with an empty batch
    assert "|after stop" not in [text for _, _, text in lines]


def test_emit_cadence_while_output_flows(tmp_path: Path) -> None:
    interval = 0.2
    proc, calls, _ = run_child(tmp_path, f"""
        cap = ConsoleCapture(emit, flush_interval={interval}).start()
        end = time.time() + 1.2
        i = 0
        while time.time() < end:
            print(f"tick {{i}}", flush=True)
            i += 1
            time.sleep(0.03)
        cap.stop()
        meta(n=i)
    """)
    assert proc.returncode == 0, proc.stderr.decode()
    n = json.loads((tmp_path / "emitted.jsonl.meta").read_text())["n"]
    assert [text for _, _, text in lines_of(calls)] == [f"tick {i}" for i in range(n)]
    assert proc.stdout == b"".join(f"tick {i}\n".encode() for i in range(n))
    call_ts = [c["t"] for c in calls]
    gaps = [b - a for a, b in zip(call_ts, call_ts[1:])]
    slack = 0.25  # a loaded CI box
    assert len(calls) >= 4
    assert max(gaps) <= interval + slack, gaps  # at least every interval while output flows
    assert min(gaps[:-1]) >= interval - 0.02, gaps  # at most every interval (the last call is stop())
    for c in calls:  # no line waits much longer than one interval
        assert all(c["t"] - t <= interval + slack for t, _, _ in c["lines"])


# ------------------------------------------------------------------------------------ bounds
def test_size_bound_one_marker_and_terminal_gets_everything(tmp_path: Path) -> None:
    proc, calls, _ = run_child(tmp_path, """
        cap = ConsoleCapture(emit, max_bytes=1000, flush_interval=0.1).start()
        for i in range(100):
            print(f"{i:03d} " + "x" * 45, flush=True)
            if i == 50:
                print("to stderr after the bound", file=sys.stderr, flush=True)
        sys.stdout.write("partial after the bound"); sys.stdout.flush()
        cap.stop()
    """)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b"".join(f"{i:03d} {'x' * 45}\n".encode() for i in range(100)) + b"partial after the bound"
    assert proc.stderr == b"to stderr after the bound\n"
    lines = lines_of(calls)
    markers = [x for x in lines if x[1] == "tracker"]
    assert len(markers) == 1
    assert markers[0][2].startswith(TRUNCATED_PREFIX)
    assert markers[0][2] == "[console truncated: output over 1000 bytes was not kept]"
    assert lines[-1] == markers[0]  # nothing kept after the marker
    kept = [text for _, s, text in lines if s == "stdout"]
    assert kept == [f"{i:03d} {'x' * 45}" for i in range(len(kept))]
    assert sum(len(t) + 1 for t in kept) <= 1000 < sum(len(t) + 1 for t in kept) + 50


def test_default_marker_says_mb(tmp_path: Path) -> None:
    proc, calls, _ = run_child(tmp_path, """
        cap = ConsoleCapture(emit, max_bytes=2 * 1024 * 1024).start()
        block = ("y" * 1023 + "\\n").encode() * 1024
        for _ in range(3):
            os.write(1, block)
        cap.stop()
    """)
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(proc.stdout) == 3 * 1024 * 1024
    markers = [x for x in lines_of(calls) if x[1] == "tracker"]
    assert [m[2] for m in markers] == ["[console truncated: output over 2 MB was not kept]"]


def test_long_line_is_cut_with_marker(tmp_path: Path) -> None:
    proc, calls, _ = run_child(tmp_path, """
        cap = ConsoleCapture(emit).start()
        long = "\\u00e9" * 150_000  # 300,000 bytes, 2 per character
        for i in range(0, len(long), 7_000):
            sys.stdout.write(long[i:i + 7_000]); sys.stdout.flush()
        sys.stdout.write("\\n")
        sys.stdout.write("z" * 100_000 + "\\rshort after a long progress line\\n")
        sys.stdout.flush()
        cap.stop()
    """)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == ("\u00e9" * 150_000 + "\n" + "z" * 100_000 + "\rshort after a long progress line\n").encode()
    (_, _, cut), (_, _, short) = lines_of(calls)
    head, _, marker = cut.partition(" [line cut: ")
    assert head == "\u00e9" * (MAX_LINE_BYTES // 2)  # no U+FFFD from a character cut in half
    assert marker == f"{300_000 - MAX_LINE_BYTES} more bytes not kept]"
    assert short == "short after a long progress line"


# ------------------------------------------------------------------------------------ robustness
def test_emit_raising_warns_once_and_capture_goes_on(tmp_path: Path) -> None:
    proc, calls, _ = run_child(tmp_path, """
        n = 0
        def flaky(lines):
            global n
            n += 1
            if n <= 2:
                raise RuntimeError("store is gone")
            emit(lines)
        cap = ConsoleCapture(flaky, flush_interval=0.05).start()
        for i in range(3):
            print(f"batch {i}", flush=True)
            time.sleep(0.15)
        cap.stop()
    """)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b"batch 0\nbatch 1\nbatch 2\n"
    err = proc.stderr.decode()
    assert err.count("saving console output failed (RuntimeError: store is gone)") == 1
    texts = [text for _, s, text in lines_of(calls) if s == "stdout"]
    assert texts[-1] == "batch 2"
    assert "batch 0" not in texts


def test_closed_stdout_degrades_to_noop(tmp_path: Path) -> None:
    proc, calls, meta = run_child(tmp_path, """
        os.close(1)
        cap = ConsoleCapture(emit).start()
        os.write(2, b"stderr still works\\n")
        active = cap.active
        cap.stop()
        cap.stop()
        meta(active=active)
    """)
    assert proc.returncode == 0, proc.stderr.decode()
    err = proc.stderr.decode()
    assert err.count("console capture is off (fd 1 (stdout) is not open") == 1
    assert "stderr still works\n" in err
    assert calls == []
    assert meta == {"active": False}


def test_broken_terminal_pipe_no_sigpipe_death_and_lines_kept(tmp_path: Path) -> None:
    # fd 1 is a pipe nobody reads; SIGPIPE has its default action (it would kill the process)
    proc, calls, meta = run_child(tmp_path, """
        import signal
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        r, w = os.pipe(); os.dup2(w, 1); os.close(r); os.close(w)
        cap = ConsoleCapture(emit, flush_interval=0.05).start()
        for i in range(2000):  # far more than a pipe holds: nothing may block
            print(f"line {i}", flush=True)
        cap.stop()
        meta(done=True)
    """)
    assert proc.returncode == 0, (proc.returncode, proc.stderr.decode())
    assert meta == {"done": True}
    texts = [text for _, s, text in lines_of(calls) if s == "stdout"]
    assert texts == [f"line {i}" for i in range(2000)]
    assert proc.stderr.decode().count("the terminal no longer accepts stdout") == 1


def test_second_capture_in_same_process_is_noop(tmp_path: Path) -> None:
    proc, calls, meta = run_child(tmp_path, """
        a = ConsoleCapture(emit).start()
        b = ConsoleCapture(emit).start()
        print("once", flush=True)
        meta(a=a.active, b=b.active)
        b.stop(); a.stop()
    """)
    assert proc.returncode == 0
    assert meta == {"a": True, "b": False}
    assert proc.stdout == b"once\n"
    assert [t for _, s, t in lines_of(calls) if s == "stdout"] == ["once"]
    warning = [t for _, s, t in lines_of(calls) if s == "stderr" and "already running" in t]
    assert len(warning) == 1  # written while the first capture runs: tee'd and kept
    assert warning[0] in proc.stderr.decode()


def test_fork_child_output_kept_by_parent_and_child_stop_is_noop(tmp_path: Path) -> None:
    proc, calls, meta = run_child(tmp_path, """
        cap = ConsoleCapture(emit, flush_interval=0.05).start()
        read_fd = cap._streams[0].read
        print("parent before fork", flush=True)
        pid = os.fork()
        if pid == 0:
            print("from the forked child", flush=True)
            cap.stop()  # must not touch the parent's capture
            try:
                os.fstat(read_fd)
                closed = False
            except OSError:
                closed = True
            print(f"child closed its copy of the read end: {closed}", flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent after fork", flush=True)
        active = cap.active
        cap.stop()
        meta(active=active)
    """)
    assert proc.returncode == 0, proc.stderr.decode()
    assert meta == {"active": True}
    expected = ["parent before fork", "from the forked child", "child closed its copy of the read end: True",
                "parent after fork"]
    assert proc.stdout.decode().splitlines() == expected
    assert [t for _, s, t in lines_of(calls) if s == "stdout"] == expected


def test_child_still_writing_after_stop_reaches_terminal(tmp_path: Path) -> None:
    # a child process keeps fd 1 after stop() (lingering reader) and even after the parent
    # exits (the rescue process copies it)
    proc, calls, _ = run_child(tmp_path, """
        cap = ConsoleCapture(emit).start()
        p = subprocess.Popen(["sh", "-c", "sleep 0.3; echo late child; sleep 0.3; echo orphan child"])
        print("parent", flush=True)
        cap.stop()
        time.sleep(0.45)
        print("parent exits", flush=True)
    """)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().splitlines() == ["parent", "late child", "parent exits", "orphan child"]
    assert [t for _, _, t in lines_of(calls)] == ["parent"]


def test_abort_right_after_writing_loses_nothing_on_terminal(tmp_path: Path) -> None:
    # e.g. "terminate called after throwing ..." then abort(): the process dies before the
    # reader thread runs again; the rescue process passes the bytes on
    proc, _, _ = run_child(tmp_path, """
        cap = ConsoleCapture(emit).start()
        time.sleep(0.2)
        os.write(1, b"last stdout words\\n")
        os.write(2, b"terminate called after throwing an instance of 'c10::Error'\\n")
        os.abort()
    """)
    assert proc.returncode == -signal.SIGABRT
    assert proc.stdout == b"last stdout words\n"
    assert proc.stderr == b"terminate called after throwing an instance of 'c10::Error'\n"


def test_sigkill_keeps_lines_emitted_before(tmp_path: Path) -> None:
    interval = 0.1
    prog = tmp_path / "child.py"
    prog.write_text(PRELUDE + textwrap.dedent(f"""
        cap = ConsoleCapture(emit, flush_interval={interval}).start()
        i = 0
        while True:
            print(f"tick {{i}} {{time.time():.6f}}", flush=True)
            i += 1
            time.sleep(0.02)
    """))
    out = tmp_path / "emitted.jsonl"
    proc = subprocess.Popen([PY, str(prog), str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = []
        while len(seen) < 30:
            line = proc.stdout.readline()
            assert line, proc.stderr.read().decode()
            seen.append(line.decode().rstrip("\n"))
        t_kill = time.time()
        proc.kill()
        rest, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    printed = seen + rest.decode().splitlines()
    assert printed[:30] == [f"tick {i} {x.split()[2]}" for i, x in enumerate(printed[:30])]
    emitted = [t for _, _, t in lines_of([json.loads(x) for x in out.read_text().splitlines()])]
    assert emitted == printed[:len(emitted)]  # a prefix, in order
    old = [x for x in printed if float(x.split()[2]) < t_kill - (interval + 0.3)]
    assert len(old) >= 10
    assert set(old) <= set(emitted)


# ------------------------------------------------------------------------------------ in process
def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        ConsoleCapture(lambda lines: None, streams=("stdin",))
    with pytest.raises(ValueError):
        ConsoleCapture(lambda lines: None, streams=())
    with pytest.raises(ValueError):
        ConsoleCapture(lambda lines: None, flush_interval=0)
    with pytest.raises(TypeError):
        ConsoleCapture(None)  # type: ignore[arg-type]
    ConsoleCapture(lambda lines: None).stop()  # never started: a no-op


def test_segfault_traceback_reaches_terminal(tmp_path: Path) -> None:
    proc, _, _ = run_child(tmp_path, """
        import ctypes, faulthandler
        faulthandler.enable()
        cap = ConsoleCapture(emit).start()
        print("about to crash", flush=True)
        ctypes.string_at(0)
    """)
    assert proc.returncode == -signal.SIGSEGV
    assert proc.stdout == b"about to crash\n"
    assert b"Fatal Python error: Segmentation fault" in proc.stderr
    assert b"in string_at" in proc.stderr  # the Python traceback of the crash
