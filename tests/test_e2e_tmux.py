"""End-to-end checks of the real ``tracker-tui`` process in a real terminal emulator (tmux).

Each test runs its own tmux server on a private socket (``tmux -L <unique>``), killed in the
fixture teardown. The app runs as ``<python> -m tracker.tui.cli --store DIR --poll 0.5`` inside
a pane with ``TERM=xterm-256color`` and ``TZ=UTC``; the pane command waits on a gate file so that
``tmux pipe-pane`` is attached before the first byte is written, which gives us the raw byte
stream the app sent to the terminal. Waiting is always "poll capture-pane until a condition holds
or a deadline passes", never a fixed sleep.

RELIABILITY.md rows covered: R1/R2 (hostile strings, §B7), T2 (dumb terminal / pipe), T3 (80x24,
40x12, resize), K10 (clean exit restores the terminal modes), §B8.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TMUX = shutil.which("tmux") or ("/usr/bin/tmux" if os.access("/usr/bin/tmux", os.X_OK) else None)
NOW = 1_700_000_000.0  # fixed "now" for the demo seed

#: Any CSI sequence (ECMA-48): ESC [ params intermediates final.
CSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
#: The one OSC Textual itself sends (pointer shape, OSC 22), BEL- or ST-terminated.
OSC22_RE = re.compile(r"\x1b\]22;[^\x07\x1b]*(?:\x07|\x1b\\)")
#: C0 (except TAB/LF/CR), DEL, C1, and bidi controls: none may reach the terminal outside the
#: escape sequences Textual itself emits.
#: Lone surrogates stand for bytes that were not UTF-8 (a raw 0x9b C1 CSI byte, say).
STRAY_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                      "\udc80-\udcff]")
PRIVATE_MODE_RE = re.compile(r"\x1b\[\?([0-9;]+)([hl])")
STATES = ("finished", "failed", "running", "crashed")


# --------------------------------------------------------------------------------------------
# tmux driver
# --------------------------------------------------------------------------------------------
class Tmux:
    """One private tmux server with one session ("e2e") whose pane runs a script."""

    def __init__(self, tmux: str, workdir: Path) -> None:
        self.tmux = tmux
        self.workdir = workdir
        self.socket = f"trk-e2e-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        self.conf = workdir / "tmux.conf"
        # status off: a 24-row window is a 24-row pane; remain-on-exit: the pane (and what the
        # app left on it) stays readable after the command ends.
        self.conf.write_text("set -g status off\nset -g remain-on-exit on\n"
                             "set -g default-terminal xterm-256color\nset -g history-limit 5000\n")
        self.xdg = workdir / "xdg"  # no user keymap.yaml can change the keys under test
        self.xdg.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TMUX", "TEXTUAL", "TRACKER_")) and k not in ("NO_COLOR", "COLORTERM", "FORCE_COLOR")}
        env.update(TERM="xterm-256color", TZ="UTC", LANG="C.UTF-8", XDG_CONFIG_HOME=str(self.xdg))
        self.env = env
        self.raw_path: Path | None = None
        self.started = False

    # -- plumbing
    def run(self, *args: str, check: bool = True) -> str:
        p = subprocess.run([self.tmux, "-u", "-L", self.socket, "-f", str(self.conf), *args], env=self.env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=15)
        if check and p.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
        return p.stdout

    def start(self, body: str, width: int, height: int, *, raw: bool = True) -> None:
        """Run the shell ``body`` in a new detached session of ``width`` x ``height``; with ``raw``
        the pane's output stream is copied byte for byte into ``raw.bin`` from its first byte."""
        gate = self.workdir / "gate"
        script = self.workdir / "pane.sh"
        script.write_text(
            "#!/bin/sh\n"
            f"while [ ! -e {shlex.quote(str(gate))} ]; do sleep 0.02; done\n"
            "export TERM=xterm-256color TZ=UTC LANG=C.UTF-8\n"
            f"export XDG_CONFIG_HOME={shlex.quote(str(self.xdg))}\n"
            f"cd {shlex.quote(str(self.workdir))}\n"
            f"{body}\n"
            "exec sleep 300\n"  # keep the pane alive: its terminal state is what the user's shell gets
        )
        self.run("new-session", "-d", "-s", "e2e", "-x", str(width), "-y", str(height), f"sh {shlex.quote(str(script))}")
        self.started = True
        if raw:
            self.raw_path = self.workdir / "raw.bin"
            self.raw_path.touch()
            self.run("pipe-pane", "-t", "e2e", f"cat >> {shlex.quote(str(self.raw_path))}")
        gate.touch()

    def kill(self) -> None:
        if not self.started:
            return
        path = self.run("display-message", "-p", "#{socket_path}", check=False).strip()
        self.run("kill-server", check=False)
        if path and Path(path).name == self.socket:  # tmux leaves the socket file behind
            Path(path).unlink(missing_ok=True)

    # -- observing
    def screen(self, history: bool = False, attrs: bool = False) -> str:
        """The pane as plain text (``attrs``: with colour / attribute escapes, ``capture-pane -e``)."""
        args = ["capture-pane", "-p", "-t", "e2e"]
        if history:
            args += ["-S", "-", "-E", "-"]
        if attrs:
            args.append("-e")
        return self.run(*args)

    def info(self, fmt: str) -> str:
        return self.run("display-message", "-p", "-t", "e2e", fmt).strip()

    def wait_for(self, cond: Callable[[str], object], what: str, timeout: float = 10.0, history: bool = False,
                 attrs: bool = False) -> str:
        """Poll the screen until ``cond(screen)`` is truthy; fail with the last screen otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen(history, attrs)
            if cond(s):
                return s
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}; screen was:\n{s}")
            time.sleep(0.05)

    def wait_text(self, *needles: str, timeout: float = 10.0) -> str:
        return self.wait_for(lambda s: all(n in s for n in needles), f"{needles!r} on screen", timeout)

    def wait_exit(self, marker: str = "EXITED", timeout: float = 10.0) -> int:
        s = self.wait_for(lambda s: re.search(rf"^{marker} (\d+)", s, re.M), f"'{marker} <status>'",
                          timeout, history=True)
        return int(re.search(rf"^{marker} (\d+)", s, re.M).group(1))  # type: ignore[union-attr]

    def raw(self, until: bytes = b"EXITED", timeout: float = 10.0) -> str:
        """The pane's raw output stream (decoded), once it contains ``until``."""
        assert self.raw_path is not None
        deadline = time.monotonic() + timeout
        while True:
            data = self.raw_path.read_bytes()
            if until in data or time.monotonic() > deadline:
                assert until in data, f"raw stream never contained {until!r} ({len(data)} bytes)"
                return data.decode("utf-8", errors="surrogateescape")
            time.sleep(0.05)

    # -- acting
    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "e2e", *keys)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "e2e", "-l", text)

    def focus_filter(self) -> None:
        """Press ``/`` and wait until the filter input has the focus (its line is drawn
        differently). Keys sent before the focus moves would still go to the table: ``/lr``
        typed in one burst runs the table's ``l`` and ``r`` bindings."""
        plain = self.screen().splitlines()
        row = next(i for i, line in enumerate(plain) if "filter" in line and "e.g." in line)
        before = self.screen(attrs=True).splitlines()[row]
        self.type("/")
        self.wait_for(lambda s: s.splitlines()[row] != before, "the filter input to take the focus", attrs=True)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if TMUX is None:
        pytest.skip("tmux is not installed")
    t = Tmux(TMUX, tmp_path)
    try:
        yield t
    finally:
        t.kill()


def app_cmd(store: Path, *extra: str) -> str:
    return " ".join(shlex.quote(a) for a in (sys.executable, "-m", "tracker.tui.cli", "--store", str(store),
                                             "--poll", "0.5", *extra))


def entry_point() -> str:
    exe = Path(sys.executable).parent / "tracker-tui"
    if exe.exists():
        return shlex.quote(str(exe))
    return " ".join(shlex.quote(a) for a in (sys.executable, "-m", "tracker.tui.cli"))


# --------------------------------------------------------------------------------------------
# screen / stream helpers
# --------------------------------------------------------------------------------------------
def header_index(screen: str) -> int | None:
    """Index of the runs-table header line (has the "state" and "name" column titles)."""
    for i, line in enumerate(screen.splitlines()):
        if re.search(r"\bstate\b\s+\bname\b", line):
            return i
    return None


def table_ready(screen: str) -> bool:
    i = header_index(screen)
    return i is not None and any(w in line for line in screen.splitlines()[i + 1:] for w in STATES)


def data_rows(screen: str) -> list[str]:
    lines = screen.splitlines()
    i = header_index(screen)
    assert i is not None, screen
    rows = []
    for line in lines[i + 1:]:
        if not any(w in line for w in STATES):
            break
        rows.append(line)
    return rows


def private_modes(text: str) -> dict[int, str]:
    """The last set (h) / reset (l) of every DEC private mode in ``text``."""
    state: dict[int, str] = {}
    for m in PRIVATE_MODE_RE.finditer(text):
        for n in m.group(1).split(";"):
            if n:
                state[int(n)] = m.group(2)
    return state


def assert_terminal_restored(t: Tmux, stream: str) -> None:
    """K10 / §B8: after a clean exit the alt screen is left, mouse and focus reporting, bracketed
    paste and the kitty keyboard mode are off, the cursor is back, and nothing else was printed."""
    app = stream[: stream.rindex("EXITED")]
    assert "\x1b[?1049h" in app, "the app never entered the alternate screen: was the stream captured?"
    modes = private_modes(app)
    assert modes.get(1049) == "l", f"alternate screen still on at exit: {modes}"
    assert modes.get(1000) == "l", f"mouse tracking (?1000) still on at exit: {modes}"
    for mode in (1002, 1003, 1004, 1005, 1006, 1015, 2004):
        assert modes.get(mode, "l") == "l", f"private mode ?{mode} left on at exit: {modes}"
    assert modes.get(25, "h") == "h", "cursor left hidden at exit"
    assert modes.get(7, "h") == "h", "auto-wrap left off at exit"
    pushes = len(re.findall(r"\x1b\[>\d*u", app))
    pops = len(re.findall(r"\x1b\[<\d*u", app))
    assert pops >= pushes, f"kitty keyboard mode pushed {pushes}x, popped {pops}x"
    # After leaving the alt screen the app wrote only mode resets: no traceback, no stray text.
    tail = app[app.rindex("\x1b[?1049l"):]
    assert "\x1b[?1000l" in tail, repr(tail)
    assert CSI_RE.sub("", tail).strip() == "", f"output after leaving the alt screen: {tail!r}"
    # What the terminal emulator itself thinks (tmux tracks the modes of the pane).
    state = t.info("#{alternate_on} #{mouse_any_flag} #{cursor_flag} #{wrap_flag}")
    assert state == "0 0 1 1", f"tmux pane state alternate/mouse/cursor/wrap = {state!r} (want '0 0 1 1')"


def stray_controls(stream: str) -> list[str]:
    """Control / bidi characters left after removing the CSI and OSC 22 sequences Textual emits."""
    rest = OSC22_RE.sub("", CSI_RE.sub("", stream))
    return sorted({repr(m.group()) for m in STRAY_RE.finditer(rest)})


# --------------------------------------------------------------------------------------------
# 1. navigate at 80x24 and quit cleanly
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_navigate_and_quit_cleanly_at_80x24(tmux: Tmux, tmp_path: Path) -> None:
    from tracker.tui.demo import seed

    store = tmp_path / "store"
    seed(store, now=NOW)
    tmux.start(f"{app_cmd(store)}; echo EXITED $?", 80, 24)

    s = tmux.wait_for(table_ready, "the runs table")
    assert tmux.info("#{pane_width}x#{pane_height}") == "80x24"
    lines = s.splitlines()
    header = lines[header_index(s)]
    # T3: at 80x24 the run name, state, step and a loss column are all on screen.
    for col in ("state", "name", "step", "loss"):
        assert col in header, f"{col!r} not in header {header!r}"
    rows = data_rows(s)
    assert len(rows) >= 5, s
    # state, name (adjective-noun-N), step, then the primary loss value
    assert re.match(r"^\s*(finished|failed|crashed|running)\s+[a-z]+-[a-z]+-\d+\s+\d+\s+-?[0-9][0-9.e+-]*\b", rows[0]), rows[0]
    names = [re.match(r"^\s*\S+\s+(\S+)", r).group(1) for r in rows]  # type: ignore[union-attr]
    total = int(re.search(r"\b(\d+) runs\b", lines[0]).group(1))  # type: ignore[union-attr]

    # Move down three rows (j, j, down), select two runs with space (space also moves down).
    tmux.keys("j", "j", "Down", "Space", "Space")
    s = tmux.wait_text("2 selected")
    rows = data_rows(s)
    marked = [i for i, r in enumerate(rows) if "●" in r]
    assert marked == [3, 4], f"selection marks on rows {marked}, expected [3, 4]:\n{s}"

    tmux.keys("c")
    # the compare view names both selected runs (rows 3 and 4) in its column headers
    tmux.wait_text("Config diff", names[3], names[4])
    tmux.keys("Escape")
    tmux.wait_for(lambda s: table_ready(s) and "Config diff" not in s, "the runs table after compare")

    tmux.keys("Enter")  # the cursor is on row 5 (two spaces moved it down)
    # the detail of the run under the cursor (row 5)
    tmux.wait_for(lambda s: "Overview" in s and names[5] in s and re.search(r"^\s*state\s+\w+", s, re.M),
                  f"the detail of {names[5]}")
    tmux.keys("Escape")
    tmux.wait_for(lambda s: table_ready(s) and "Overview" not in s, "the runs table after detail")

    tmux.keys("p")
    s = tmux.wait_for(lambda s: re.search(r"cifar-resnet\s+\(\d+ runs\)", s) and re.search(r"gpt-tiny\s+\(\d+ runs\)", s),
                      "the project picker with both projects")
    tmux.keys("Escape")
    tmux.wait_for(lambda s: table_ready(s) and "search…" not in s, "the picker to close")

    tmux.type("?")
    # The first screenful of the help (the Filter language section is further down: see
    # test_help_filter_language_is_reachable_at_80x24).
    tmux.wait_text("runs.filter", "runs.compare")
    tmux.keys("Escape")
    tmux.wait_for(lambda s: table_ready(s) and "runs.filter" not in s, "the help to close")

    # The filter: the status line says "N/M runs" with N the runs of this project with lr < 5e-4.
    from tracker.api import Api

    project = lines[0].split()[0]
    expected = sum(1 for r in Api(store).runs(project=project) if r.config["lr"] < 5e-4)
    assert 0 < expected < total, (project, expected, total)
    tmux.focus_filter()
    tmux.type("lr < 5e-4")
    tmux.wait_for(lambda s: "lr < 5e-4" in s and f" {expected}/{total} runs" in s.splitlines()[0],
                  f"the status line to show {expected}/{total} runs")
    tmux.keys("Escape")  # clears the filter and gives the focus back to the table
    tmux.wait_for(lambda s: not re.search(r"\b\d+/\d+ runs\b", s) and f" {total} runs" in s, "the filter to clear")

    tmux.keys("q")
    assert tmux.wait_exit() == 0
    screen = tmux.screen(history=True)
    assert "Traceback" not in screen and "Error" not in screen, screen
    stream = tmux.raw()
    assert_terminal_restored(tmux, stream)
    # Baseline for test 2: a normal session sends no control characters outside CSI / OSC 22.
    assert stray_controls(stream[: stream.rindex("EXITED")]) == []


@pytest.mark.slow
def test_help_filter_language_is_reachable_at_80x24(tmux: Tmux, tmp_path: Path) -> None:
    from tracker.tui.demo import seed

    store = tmp_path / "store"
    seed(store, runs=8, steps=20, now=NOW)
    tmux.start(f"{app_cmd(store)}; echo EXITED $?", 80, 24, raw=False)
    tmux.wait_for(table_ready, "the runs table")
    tmux.type("?")
    tmux.wait_text("runs.filter")
    # Page through the help as a user would: every section must come into view, the filter
    # language included, and End must reach the bottom line.
    seen = False
    for _ in range(20):
        if "Filter language" in tmux.screen():
            seen = True
            break
        tmux.keys("PageDown")
        time.sleep(0.05)
    tmux.keys("End")
    deadline = time.monotonic() + 3
    while "ctrl+p lists every command" not in (s := tmux.screen()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "ctrl+p lists every command" in s, s
    tmux.keys("Escape")
    tmux.wait_for(table_ready, "the help to close")
    tmux.keys("q")
    if tmux.wait_exit() != 0:
        pytest.fail("the app did not exit 0")
    assert seen, "the help never showed 'Filter language' at 80x24"


# --------------------------------------------------------------------------------------------
# 2. hostile strings (R1, R2)
# --------------------------------------------------------------------------------------------
OSC52 = "\x1b]52;c;aGVsbG8=\x07"
OSC0 = "\x1b]0;PWNED\x07"
PAYLOADS = [
    "[/]",
    "[bold red]x",
    "[link=file:///etc/passwd]x[/link]",
    "[@click=app.quit]x",
    "\x1b]0;PWNED2\x1b\\",  # OSC 0 with an ST terminator
    "a\x1b[2Jb",
    "c\x9b31md",  # C1 CSI
    "abc\u202etxt.exe",  # bidi override
    "bell\x07del\x7fcr\rx",
    "sgr\x1b[5;31mred",
    "x\\",
    "训练-运行",
    "🚀 launch 👩‍🔬",
    OSC0,
    OSC52,  # created last: the newest run, first row of the table
]


def build_hostile_store(store: Path) -> None:
    import tracker

    n = len(PAYLOADS)
    for i, name in enumerate(PAYLOADS):
        config = {"lr": 1e-3 * (i + 1), "seed": i}
        for j in range(4):
            config[PAYLOADS[(i + j) % n]] = PAYLOADS[(i + j + 1) % n]
        r = tracker.init(project="hostile", name=name, config=config,
                         tags=[PAYLOADS[(i + 1) % n], PAYLOADS[(i + 2) % n]], group=PAYLOADS[(i + 3) % n],
                         notes=PAYLOADS[(i + 4) % n], dir=store, capture_git=False, mask_secrets=False)
        r.log({"loss": 1.0 / (i + 1)})
        r.finish()


@pytest.mark.slow
def test_hostile_names_are_shown_literally_and_never_reach_the_terminal(tmux: Tmux, tmp_path: Path) -> None:
    store = tmp_path / "store"
    build_hostile_store(store)
    tmux.start(f"{app_cmd(store)}; echo EXITED $?", 100, 30)

    s = tmux.wait_for(table_ready, "the runs table")
    rows = data_rows(s)
    assert len(rows) == len(PAYLOADS), s
    # R1: markup is shown as text (the name column is 18 cells: long names are cut with "…").
    for literal in ("[/]", "[bold red]x", "[link=file:///etc", "[@click=app.quit]x", "x\\", "训练-运行",
                    "\\x1b]0;PWNED\\x07", "abc\\u202etxt.exe", "a\\x1b[2Jb", "c\\x9b31md", "bell\\x07del\\x7f",
                    "sgr\\x1b[5;31mred"):
        assert literal in s, f"{literal!r} not shown literally in the runs table:\n{s}"
    assert r"\x1b]52;c;aGVsb" in rows[0], rows[0]

    # The detail of the OSC 52 run: the title shows the escaped name in full.
    tmux.keys("Enter")
    s = tmux.wait_for(lambda s: "Overview" in s and re.search(r"^\s*notes\s", s, re.M), "the hostile run's detail")
    assert r"\x1b]52;c;aGVsbG8=\x07" in s, s
    assert "[bold red]x" in s or "[/]" in s, s  # tags / group / notes rows of the overview
    tmux.keys("2")  # config tree: hostile keys and values
    tmux.wait_for(lambda s: "lr: " in s and "[/]" in s, "the hostile config tree")
    tmux.keys("Escape")
    tmux.wait_for(lambda s: table_ready(s) and "Overview" not in s, "the runs table after detail")

    # Compare the first two runs (OSC 52 and OSC 0 names, hostile config keys and values).
    tmux.keys("g", "Space", "Space")
    tmux.wait_text("2 selected")
    tmux.keys("c")
    s = tmux.wait_for(lambda s: "Config diff" in s and "changed" in s, "the compare view")
    assert r"\x1b]52;c;aGVsb" in s or r"\x1b]0;PWNED" in s, s
    tmux.keys("Escape")
    tmux.wait_for(lambda s: table_ready(s) and "Config diff" not in s, "the runs table after compare")

    # The filter input with markup typed into it (R1 "filter input"): inline error, no crash.
    tmux.focus_filter()
    tmux.type("name ~ [/]")
    tmux.wait_text("name ~ [/]")
    tmux.keys("Escape")
    tmux.wait_for(lambda s: table_ready(s) and "name ~ [/]" not in s, "the filter to clear")

    tmux.type("?")
    tmux.wait_text("runs.filter")
    tmux.keys("Escape")
    tmux.wait_for(lambda s: table_ready(s) and "runs.filter" not in s, "the help to close")

    tmux.keys("q")
    assert tmux.wait_exit() == 0, "the app did not exit 0 (crash / MarkupError?)"
    screen = tmux.screen(history=True)
    assert "MarkupError" not in screen and "Traceback" not in screen, screen

    stream = tmux.raw()
    app = stream[: stream.rindex("EXITED")]
    # R2: none of the injected sequences reach the terminal.
    injected = {
        "OSC 52 clipboard write": "\x1b]52",
        "OSC 0 title (BEL)": "\x1b]0;PWNED",
        "OSC 0 title (ST)": "\x1b]0;PWNED2",
        "any OSC 0": "\x1b]0;",
        "CSI 2J clear": "\x1b[2J",
        "SGR blink red": "\x1b[5;31m",
        "C1 CSI U+009B": "\x9b",
        "bidi override U+202E": "\u202e",
        "DEL": "\x7f",
    }
    leaked = {what: app.count(seq) for what, seq in injected.items() if seq in app}
    assert not leaked, f"injected sequences in the raw output stream: {leaked}"
    assert "\u202e".encode() not in tmux.raw_path.read_bytes()  # type: ignore[union-attr]
    # Beyond the list: no control character of any kind outside Textual's own CSI / OSC 22.
    assert stray_controls(app) == []
    assert_terminal_restored(tmux, stream)


# --------------------------------------------------------------------------------------------
# 3. dumb terminal and pipes (T2)
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_dumb_terminal_and_pipe_get_a_plain_listing(tmux: Tmux, tmp_path: Path) -> None:
    from tracker.tui.demo import seed

    store = tmp_path / "store"
    ids = seed(store, runs=8, steps=20, now=NOW)
    tui = entry_point()
    q = shlex.quote(str(store))
    tmux.start(
        f"TERM=dumb {tui} --store {q}; echo EXITED-DUMB $?\n"
        f"{{ {tui} --store {q}; echo EXITED-PIPEAPP $? >&2; }} | cat; echo EXITED-PIPE $?",
        160, 50,
    )
    for marker in ("EXITED-DUMB", "EXITED-PIPEAPP", "EXITED-PIPE"):
        assert tmux.wait_exit(marker) == 0, marker
    screen = tmux.screen(history=True)
    headers = re.findall(r"^STATE\s+ID\s+NAME\b.*$", screen, re.M)
    assert len(headers) == 2, f"plain 'STATE ID NAME' header expected for dumb and pipe:\n{screen}"
    for rid in ids:
        assert screen.count(rid) == 2, f"run {rid} missing from one of the listings:\n{screen}"

    stream = tmux.raw(until=b"EXITED-PIPE ")
    # The app's status in the pipe goes to the tty (stderr) and may come before or after cat's
    # output, so cut the stream at the stdout markers and drop that one line.
    cut = [stream.index(m) for m in ("EXITED-DUMB ", "EXITED-PIPE ")]
    dumb = stream[: cut[0]]
    piped = re.sub(r"EXITED-PIPEAPP \d+", "", stream[cut[0] : cut[1]].split("\n", 1)[1])
    for what, out in (("TERM=dumb", dumb), ("| cat", piped)):
        assert "\x1b[?1049h" not in out, f"{what}: entered the alternate screen"
        assert "\x1b[?1000h" not in out and "\x1b[?1003h" not in out, f"{what}: enabled mouse tracking"
        assert "\x1b" not in out, f"{what}: escape sequences in a plain listing: {out[:200]!r}"
        assert re.search(r"^STATE\s+ID\s+NAME\s+PROJECT\s+CREATED\s+RUNTIME\s+STEP", out, re.M), out[:300]

    # stdout piped to the test (no pty at all), with a colourful TERM: plain text, exit 0.
    env = dict(tmux.env, TERM="xterm-256color")
    p = subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", str(store), "--poll", "0.5"],
                       stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    out = p.stdout.decode()
    assert out.splitlines()[0].split()[:3] == ["STATE", "ID", "NAME"], out[:300]
    assert "\x1b" not in out, out[:300]
    assert all(rid in out for rid in ids)


@pytest.mark.slow
def test_unset_term_gets_a_plain_listing(tmux: Tmux, tmp_path: Path) -> None:
    from tracker.tui.demo import seed

    store = tmp_path / "store"
    ids = seed(store, runs=8, steps=20, now=NOW)
    tmux.start(f"env -u TERM {entry_point()} --store {shlex.quote(str(store))}; echo EXITED $?", 160, 50)
    if tmux.wait_exit() != 0:
        pytest.fail("tracker-tui exited non-zero with TERM unset")
    out = tmux.raw()
    out = out[: out.rindex("EXITED")]
    if "\x1b[?1049h" in out or "\x1b[?1000h" in out or not all(rid in out for rid in ids):
        pytest.fail(f"TERM unset: full-screen app or missing runs: {out[:300]!r}")
    assert "\x1b" not in out, f"TERM unset: escape sequences in the listing: {out[:160]!r}"


# --------------------------------------------------------------------------------------------
# 4. resize (T3)
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_resize_does_not_crash(tmux: Tmux, tmp_path: Path) -> None:
    from tracker.tui.demo import seed

    store = tmp_path / "store"
    seed(store, runs=12, steps=50, now=NOW)
    # A live training keeps committing while we resize (T3: "resize mid-update").
    live = subprocess.Popen([sys.executable, "-m", "tracker.tui.demo", "--train", "--store", str(store),
                             "--index", "0", "--step-time", "0.05", "--steps", "100000"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(tmux.env))
    try:
        tmux.start(f"{app_cmd(store)}; echo EXITED $?", 120, 40)
        tmux.wait_for(lambda s: table_ready(s) and "running" in s, "the runs table with the live run")

        def settled(w: int, h: int) -> Callable[[str], bool]:
            def ok(s: str) -> bool:
                lines = s.splitlines()
                # redrawn for the new size: header on top, the footer on the last line
                return (tmux.info("#{pane_width}x#{pane_height}") == f"{w}x{h}" and len(lines) == h
                        and header_index(s) is not None and "Filter" in lines[-1])
            return ok

        tmux.run("resize-window", "-t", "e2e", "-x", "40", "-y", "12")
        s = tmux.wait_for(settled(40, 12), "the app redrawn at 40x12")
        assert "EXITED" not in s and tmux.info("#{pane_dead}") == "0"

        # A burst of SIGWINCHes without waiting, then back to 80x24.
        for w, h in ((100, 30), (20, 5), (60, 16), (33, 9)):
            tmux.run("resize-window", "-t", "e2e", "-x", str(w), "-y", str(h))
        tmux.run("resize-window", "-t", "e2e", "-x", "80", "-y", "24")
        s = tmux.wait_for(settled(80, 24), "the app redrawn at 80x24")
        assert table_ready(s), s
        header = s.splitlines()[header_index(s)]  # type: ignore[index]
        for col in ("state", "name", "step", "loss"):
            assert col in header, header
        # still responsive
        tmux.keys("j", "Space")
        tmux.wait_text("1 selected")
        tmux.keys("q")
        assert tmux.wait_exit() == 0
        assert "Traceback" not in tmux.screen(history=True)
        assert_terminal_restored(tmux, tmux.raw())
    finally:
        live.terminate()
        try:
            live.wait(10)
        except subprocess.TimeoutExpired:
            live.kill()
            live.wait()


@pytest.mark.slow
def test_no_color_and_an_ascii_locale_do_not_crash(tmux: Tmux, tmp_path: Path) -> None:
    """NO_COLOR, LC_ALL=C and an ASCII-only output encoding: the app starts, uses ASCII
    sparklines, moves between screens and quits cleanly (RELIABILITY.md T5, T8)."""
    from tracker.tui.demo import seed

    store = tmp_path / "store"
    seed(store, runs=8, steps=60, now=NOW)
    env = "NO_COLOR=1 LC_ALL=C LANG=C PYTHONIOENCODING=ascii"
    tmux.start(f"{env} {app_cmd(store)}; echo EXITED $?", 80, 24)
    s = tmux.wait_for(table_ready, "the runs table")
    assert not any(ch in s for ch in "▁▂▃▄▅▆▇█"), s  # sparklines fall back to ASCII
    tmux.keys("Space")
    tmux.wait_text("1 selected")
    tmux.keys("Space")
    tmux.wait_text("2 selected")
    tmux.keys("c")
    tmux.wait_text("changed")
    tmux.keys("Escape")
    tmux.wait_for(table_ready, "back on the runs table")
    tmux.keys("Enter")
    tmux.wait_text("Overview")
    tmux.keys("3")
    tmux.wait_text("step")
    tmux.keys("Escape")
    tmux.wait_for(table_ready, "back on the runs table again")
    tmux.keys("q")
    assert tmux.wait_exit() == 0
    assert "Traceback" not in tmux.screen(history=True)
