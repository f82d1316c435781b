"""Over a slow SSH link the bytes sent follow what changed on screen (issue 18).

The real ``tracker-tui`` runs on a pseudo-terminal (100x30, TIOCSWINSZ) next to a real training
process logging 20 steps/s. The test answers Textual's synchronized-output query, so every frame
the app draws arrives between ``ESC[?2026h`` and ``ESC[?2026l``; within a frame each piece of a
line is written after an absolute cursor move ``ESC[row;colH``, which tells which screen lines
the frame rewrote. Before issue 18 every live refresh rewrote all 30 lines (a screen below the
runs screen repainted the whole top screen); now a live step rewrites the live row's changed
cells and nothing else. Bandwidth figures themselves are measured by bench/ssh_bandwidth.py, not
here.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import child_env, script, wait_for

COLS, ROWS = 100, 30
SYNC_QUERY = "\x1b[?2026$p"
SYNC_REPLY = b"\x1b[?2026;2$y"  # "mode 2026 is supported (reset)": Textual then brackets frames
BEGIN, END = "\x1b[?2026h", "\x1b[?2026l"
MOVE_RE = re.compile(r"\x1b\[(\d+);(\d+)H")
CSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")

WRITER = """\
    import sys, time
    import tracker

    store, ready, stop, name = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    run = tracker.init(project="gpt-tiny", name=name, dir=store, capture_git=False,
                       config={"lr": 3e-4}, flush_interval=0.05)
    open(ready, "w").write(run.id)
    step = 0
    while not __import__("os").path.exists(stop):
        run.log({"train/loss": 2.0 / (1 + step), "train/lr": 3e-4, "tokens_per_s": 40000.0 + step})
        step += 1
        time.sleep(0.05)
    run.finish()
"""


class PtyApp:
    """The app on a pty; a thread keeps everything it writes (and answers the sync query)."""

    def __init__(self, store: Path, env: dict[str, str], args: list[str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.proc = subprocess.Popen([sys.executable, "-m", "tracker.tui.cli", "--store", str(store), *args],
                                     stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.out: list[str] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        answered = False
        while True:
            try:
                r, _, _ = select.select([self.master], [], [], 0.2)
                if not r:
                    if self.proc.poll() is not None:
                        return
                    continue
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.out.append(data.decode("utf-8", "replace"))
                if not answered and SYNC_QUERY in "".join(self.out):
                    os.write(self.master, SYNC_REPLY)
                    answered = True

    def text(self) -> str:
        with self.lock:
            return "".join(self.out)

    def press(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.press("q")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.thread.join(5)
        os.close(self.master)


def frames(stream: str) -> list[str]:
    """The complete synchronized-output frames in ``stream``."""
    out = []
    for piece in stream.split(BEGIN)[1:]:
        if END in piece:
            out.append(piece.split(END, 1)[0])
    return out


def lines_touched(frame: str) -> set[int]:
    """Screen lines (1-based) on which the frame writes at least one character."""
    touched = set()
    pieces = MOVE_RE.split(frame)
    # split gives [before, row, col, text, row, col, text, ...]
    for i in range(1, len(pieces) - 2, 3):
        if CSI_RE.sub("", pieces[i + 2]).strip("\r\n"):
            touched.add(int(pieces[i]))
    return touched


def wait_quiet(app: PtyApp, seconds: float) -> None:
    """Poll until the app has written nothing for ``seconds``."""
    seen = [len(app.text()), time.monotonic()]

    def quiet() -> bool:
        n = len(app.text())
        if n != seen[0]:
            seen[:] = [n, time.monotonic()]
        return time.monotonic() - seen[1] >= seconds

    wait_for(quiet, 30, "the app to go quiet")


@contextmanager
def following(tmp: Path, names: list[str], args: list[str]) -> Iterator[tuple[PtyApp, str, str]]:
    """The app (``args``) with the cursor on the newest of live runs ``names``: (app, stream
    before the live runs, stream from the cursor move on, 15 frames or more)."""
    from tracker.tui.demo import seed

    store = tmp / "store"
    seed(store, runs=46, steps=40, now=time.time() - 8 * 86400)  # 10 runs of gpt-tiny, opened first
    env = child_env(TERM="xterm-256color", LANG="C.UTF-8", TZ="UTC", XDG_CONFIG_HOME=str(tmp / "xdg"))
    for k in ("COLORTERM", "NO_COLOR", "FORCE_COLOR", "SSH_CONNECTION", "SSH_TTY", "TEXTUAL_COLOR_SYSTEM"):
        env.pop(k, None)
    app = PtyApp(store, env, args)
    writers = []
    stop = tmp / "stop"
    try:
        wait_for(lambda: "tokens_per_s" in app.text(), 60, "the runs table")
        wait_quiet(app, 0.5)  # the first paint and its sparklines are out
        before = app.text()
        path = script(tmp, "writer.py", WRITER)
        for name in names:
            ready = tmp / f"ready-{name}"
            writers.append(subprocess.Popen([sys.executable, str(path), str(store), str(ready), str(stop), name],
                                            env=child_env()))
            wait_for(lambda r=ready: r.exists() and r.read_text(), 60, f"the live run {name}")
        wait_for(lambda: all(n in app.text()[len(before):] for n in names), 60, "the live runs' rows")
        app.press("g")  # the cursor onto the newest run
        mark = len(app.text())
        wait_for(lambda: len(frames(app.text()[mark:])) >= 15, 60, "15 frames of live updates")
        yield app, before, app.text()[mark:]
    finally:
        stop.touch()
        for w in writers:
            w.wait(30)
        app.close()


@pytest.fixture(scope="module")
def live_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PtyApp, str, str]]:
    """The app (local, no low-bandwidth mode) following one live run."""
    with following(tmp_path_factory.mktemp("bandwidth"), ["live-one"], []) as session:
        yield session


def test_a_live_step_rewrites_only_the_live_row(live_session: tuple[PtyApp, str, str]) -> None:
    _app, _before, live = live_session
    fs = frames(live)[4:]
    touched = [lines_touched(f) for f in fs]
    assert all(touched), "every frame draws something"
    # The live row is the table's first (line 4: status, filter, header, row): it changes in
    # every frame. A frame may also touch the status line (run counts) -- nothing else.
    worst = max(touched, key=len)
    assert len(worst) <= 2, f"a live step rewrote {len(worst)} lines: {sorted(worst)}"
    assert sum(4 in t for t in touched) >= len(touched) // 2


def test_no_colours_the_terminal_did_not_ask_for(live_session: tuple[PtyApp, str, str]) -> None:
    """TERM=xterm-256color without COLORTERM: 256-colour SGR only, never 24-bit colour."""
    _app, before, live = live_session
    stream = before + live
    assert "\x1b[38;5;" in stream or "\x1b[48;5;" in stream  # it does draw in colour
    assert not re.search(r"\x1b\[[0-9;]*[34]8;2;", stream)


def test_low_bandwidth_mode_redraws_rows_off_the_cursor_less_often(tmp_path: Path) -> None:
    """``--low-bandwidth``: the run under the cursor follows every refresh, another live run's
    row at most every 2 s (and with the sparklines, every 5 s); the status line says so."""
    with following(tmp_path, ["live-a", "live-b"], ["--low-bandwidth"]) as (app, _before, _live):
        start = len(app.text())
        wait_for(lambda: len(frames(app.text()[start:])) >= 20, 60, "20 more frames")
        fs = frames(app.text()[start:])
        shown = CSI_RE.sub("", app.text())
    assert "low bandwidth" in shown
    # newest first: live-b (under the cursor) on line 4, live-a on line 5
    on_cursor = sum(4 in lines_touched(f) for f in fs)
    off_cursor = sum(5 in lines_touched(f) for f in fs)
    assert on_cursor >= len(fs) // 2, (on_cursor, len(fs))
    assert off_cursor <= on_cursor // 3, (off_cursor, on_cursor, len(fs))


def test_low_bandwidth_is_on_over_ssh_or_by_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tracker.tui.app import make_app
    from tracker.tui.cli import build_parser

    for k in ("SSH_CONNECTION", "SSH_TTY"):
        monkeypatch.delenv(k, raising=False)
    assert make_app(tmp_path, keymap={}).low_bandwidth is False
    monkeypatch.setenv("SSH_TTY", "/dev/pts/3")
    assert make_app(tmp_path, keymap={}).low_bandwidth is True
    assert make_app(tmp_path, keymap={}, low_bandwidth=False).low_bandwidth is False
    parser = build_parser()
    assert parser.parse_args([]).low_bandwidth is None  # automatic
    assert parser.parse_args(["--low-bandwidth"]).low_bandwidth is True
    assert parser.parse_args(["--no-low-bandwidth"]).low_bandwidth is False


def test_sgr_compaction_keeps_what_the_terminal_shows() -> None:
    from tracker.tui.wire import compact_sgr

    # a run of segments in one style costs one SGR sequence
    assert (compact_sgr("\x1b[0m\x1b[1mA\x1b[0m\x1b[1mB\x1b[0m\x1b[2mC\x1b[0m")
            == "\x1b[0m\x1b[1mAB\x1b[0m\x1b[2mC\x1b[0m")
    # segments apart (a cursor move between them) are left as they are
    assert compact_sgr("\x1b[0m\x1b[7mA\x1b[0m\x1b[3;9H\x1b[7mB\x1b[0m") == "\x1b[0m\x1b[7mA\x1b[0m\x1b[3;9H\x1b[7mB\x1b[0m"
    # stacked styles: the reset stays (B must not be bold)
    stacked = "\x1b[0m\x1b[1m\x1b[31mA\x1b[0m\x1b[31mB\x1b[0m"
    assert compact_sgr(stacked) == stacked
    assert compact_sgr("no escapes") == "no escapes"


@pytest.mark.asyncio
@pytest.mark.usefixtures("utc")
async def test_the_low_bandwidth_mark_fits_the_status_line_at_80_columns(demo_store: Path) -> None:
    """At 80 columns the status line still ends with its mode, whole ("low bw"); wider, in full."""
    from app_helpers import app_for, settle

    for size, mark in (((80, 24), " · low bw]"), ((120, 40), " · low bandwidth]")):
        app = app_for(demo_store, low_bandwidth=True, poll_interval=1.0)
        async with app.run_test(size=size) as pilot:
            await settle(pilot, app)
            line = str(app.screen.query_one("#status").render()).rstrip()
            assert line.endswith(mark), line
            assert len(line) <= size[0]
