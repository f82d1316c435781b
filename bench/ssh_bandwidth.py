"""Bytes on the wire over SSH: what the real ``tracker-tui`` writes to its terminal (issue 18).

The app runs as ``python -m tracker.tui.cli --store DIR`` on a pseudo-terminal of a fixed size
(TIOCSWINSZ), with ``SSH_CONNECTION`` set (the app's over-SSH mode), ``TERM=xterm-256color`` and,
unless ``--color`` says otherwise, ``COLORTERM=truecolor``. Live runs are separate writer
processes (``import tracker``) logging 10 steps/s. Every byte the app writes to the pty is
counted with its arrival time.

Figures (per terminal size):

- first paint: bytes from start until the output has been quiet for 1.5 s (no run is live);
- idle: bytes/s with nothing running;
- runs 1 live: bytes/s on the runs screen, cursor on the one live run;
- charts 1 live: bytes/s on the charts screen of that run;
- runs 8 live: bytes/s on the runs screen with 8 live runs.

Then the slow link: the app's output goes through a pipe read at 32 KB/s (the pty fills and the
app's writes wait, as on a saturated TCP connection), one live run going, and we time from a
keypress to its effect on the terminal as the far end would see it (a small terminal emulator
follows the stream): cursor down/up (the cursor colour moves to the next row), a filter keystroke
(the typed text appears), a screen switch (the charts title appears / the runs table is back).

``--colors`` adds the runs-screen rate under truecolor, 256 colours and ``NO_COLOR``.

wandb's LEET is not driven by this bench: it says whether ``wandb`` is importable here, and if it
is, how to compare by hand under the same setup.

Usage: python bench/ssh_bandwidth.py [--seconds 6] [--sizes 120x40,80x24] [--colors] [--no-latency]
                                     [--presses 20] [--json]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "gpt-tiny"  # the demo project the app opens on (the most recent)

# --------------------------------------------------------------------------------------------
# the writer (a training process)
# --------------------------------------------------------------------------------------------


def writer(store: str, index: int, hz: float, ready: str, history: int = 0) -> None:
    """Log ``history`` steps at once (a run that has been training a while), then ``hz``
    steps/s until SIGTERM (tracker flushes and marks the run on SIGTERM)."""
    import math

    import tracker

    run = tracker.init(project=PROJECT, name=f"live-{index}", dir=store, capture_git=False,
                       config={"lr": 3e-4, "batch_size": 128, "dropout": 0.1, "optimizer": "adamw", "seed": index})
    period, due, s = 1.0 / hz, time.monotonic(), 0
    while True:
        if s == history:
            Path(ready).write_text(run.id)
            due = time.monotonic()
        loss = 0.3 + 2.3 * math.exp(-s / 400) + 0.02 * math.sin(s * 0.7 + index)
        m = {"train/loss": loss, "train/acc": max(0.0, 1 - loss / 2.6), "train/lr": 3e-4}
        if s % 20 == 19:
            m["val/loss"] = loss + 0.06
            m["val/acc"] = max(0.0, 1 - (loss + 0.06) / 2.4)
        run.log(m)
        s += 1
        if s <= history:
            continue
        due += period
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)


class Writers:
    """Live writer processes; ``start(n)`` returns once each has created its run."""

    def __init__(self, store: Path, hz: float, history: int = 0) -> None:
        self.store, self.hz, self.history = store, hz, history
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ids: list[str] = []

    def start(self, n: int) -> None:
        new = []
        for _ in range(n):
            i = len(self.procs)
            ready = self.store / f"ready-{i}"
            p = subprocess.Popen([sys.executable, __file__, "--writer", str(self.store), str(i), str(self.hz), str(ready),
                 str(self.history)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(p)
            new.append(ready)
        deadline = time.monotonic() + 60
        for ready in new:
            while not ready.exists() or not ready.read_text():
                if time.monotonic() > deadline:
                    raise SystemExit("writer did not start")
                time.sleep(0.02)
            self.ids.append(ready.read_text())

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


# --------------------------------------------------------------------------------------------
# a small terminal emulator: enough for what Textual sends (absolute moves, SGR, text)
# --------------------------------------------------------------------------------------------

SEQ_RE = re.compile(r"\x1b\[([0-?]*)([ -/]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[^\[\]]|\r|\n")


class Term:
    """Characters and their SGR attributes per cell; remembers which lines each feed touched."""

    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.chars = [[" "] * cols for _ in range(rows)]
        self.attrs = [[""] * cols for _ in range(rows)]
        self.x = self.y = 0
        self.sgr = ""
        self.touched: set[int] = set()
        self._tail = ""

    def feed(self, data: str) -> None:
        data = self._tail + data
        # an escape sequence cut by the read boundary waits for the rest
        cut = data.rfind("\x1b")
        if cut != -1 and not SEQ_RE.match(data, cut):
            data, self._tail = data[:cut], data[cut:]
            if len(self._tail) > 64:  # not an escape sequence after all
                data, self._tail = data + self._tail, ""
        else:
            self._tail = ""
        pos = 0
        for m in SEQ_RE.finditer(data):
            self._text(data[pos:m.start()])
            pos = m.end()
            tok = m.group(0)
            if tok == "\r":
                self.x = 0
            elif tok == "\n":
                self.y = min(self.rows - 1, self.y + 1)
            elif m.group(3) == "H" and not m.group(2):
                parts = (m.group(1) or "").split(";")
                self.y = max(0, min(self.rows - 1, int(parts[0] or 1) - 1))
                self.x = max(0, min(self.cols - 1, int(parts[1] or 1) - 1 if len(parts) > 1 else 0))
            elif m.group(3) == "m" and not m.group(2):
                params = m.group(1)
                self.sgr = "" if params in ("", "0") else (self.sgr + ";" + params if self.sgr else params)
        self._text(data[pos:])

    def _text(self, s: str) -> None:
        for ch in s:
            if self.x < self.cols:
                self.chars[self.y][self.x] = ch
                self.attrs[self.y][self.x] = self.sgr
                self.touched.add(self.y)
            self.x += 1

    def line(self, y: int) -> str:
        return "".join(self.chars[y])

    def find(self, text: str) -> int | None:
        for y in range(self.rows):
            if text in self.line(y):
                return y
        return None


# --------------------------------------------------------------------------------------------
# the app on a pty
# --------------------------------------------------------------------------------------------


def app_env(color: str, ssh: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TEXTUAL", "TRACKER_", "TMUX")) and k not in ("NO_COLOR", "COLORTERM", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", LANG="C.UTF-8", TZ="UTC", PYTHONUNBUFFERED="1")
    env["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="ssh-bw-xdg-")  # no user keymap
    if color == "truecolor":
        env["COLORTERM"] = "truecolor"
    elif color == "none":
        env["NO_COLOR"] = "1"
    if ssh:
        env["SSH_CONNECTION"] = "10.0.0.2 50000 10.0.0.1 22"
    return env


class PtyApp:
    """``tracker-tui`` on a pty. A reader thread takes its output, at most ``rate`` bytes/s when
    given (the slow link), feeds a :class:`Term` and logs ``(time, bytes)``."""

    def __init__(self, store: Path, cols: int, rows: int, *, color: str = "truecolor",
                 rate: float | None = None, extra_args: list[str] | None = None) -> None:
        self.cols, self.rows, self.rate = cols, rows, rate
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        cmd = [sys.executable, "-m", "tracker.tui.cli", "--store", str(store), *(extra_args or [])]

        def ctty() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=app_env(color),
                                     start_new_session=True, preexec_fn=ctty, cwd=str(store))
        os.close(slave)
        self.t0 = time.monotonic()
        self.log: list[tuple[float, int]] = []
        self.term = Term(cols, rows)
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        tokens, last = 0.0, time.monotonic()
        while True:
            want = 65536
            if self.rate:
                now = time.monotonic()
                tokens = min(self.rate / 10, tokens + (now - last) * self.rate)  # at most 100 ms of burst
                last = now
                if tokens < 512:
                    time.sleep((512 - tokens) / self.rate)
                    continue
                want = int(tokens)
            try:
                r, _, _ = select.select([self.master], [], [], 0.2)
                if not r:
                    if self.proc.poll() is not None:
                        break
                    continue
                data = os.read(self.master, want)
            except OSError:
                break
            if not data:
                break
            if self.rate:
                tokens -= len(data)
            with self.cond:
                self.log.append((time.monotonic(), len(data)))
                self.term.feed(data.decode("utf-8", "replace"))
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    # -- observing
    def bytes_between(self, t1: float, t2: float) -> int:
        with self.cond:
            return sum(n for t, n in self.log if t1 <= t < t2)

    def total(self) -> int:
        with self.cond:
            return sum(n for _, n in self.log)

    def wait(self, cond: Callable[[Term], object], timeout: float, what: str) -> float:
        """Block until ``cond(term)`` holds; returns the time it first did."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not cond(self.term):
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    screen = "\n".join(self.term.line(y).rstrip() for y in range(self.term.rows))
                    raise TimeoutError(f"timed out waiting for {what}; the screen:\n{screen}")
                self.cond.wait(min(left, 0.2))
            return time.monotonic()

    def quiet(self, seconds: float, timeout: float = 30.0) -> float:
        """Wait until no output for ``seconds``; returns when the last output came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.cond:
                last = self.log[-1][0] if self.log else self.t0
            if time.monotonic() - last >= seconds:
                return last
            time.sleep(0.05)
        raise TimeoutError("the app never went quiet")

    def rate_over(self, seconds: float) -> float:
        t1 = time.monotonic()
        time.sleep(seconds)
        return self.bytes_between(t1, time.monotonic()) / seconds

    def press(self, keys: str) -> float:
        os.write(self.master, keys.encode())
        return time.monotonic()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.write(self.master, b"q")
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.thread.join(5)
        os.close(self.master)


# --------------------------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------------------------

ESC = "\x1b"
DOWN, UP = "\x1b[B", "\x1b[A"


def seed_store(base: Path) -> Path:
    from tracker.tui.demo import seed

    d = base / "store"
    # 44 GPT runs (the project the app opens) + 36 CIFAR runs, all created in the past (the live
    # runs go on top): a full 40-line table
    seed(d, runs=80, steps=300, now=time.time() - 8 * 86400)
    return d


def header_line(term: Term) -> int | None:
    for y in range(term.rows):
        line = term.line(y)
        if " state " in line and " name " in line:
            return y
    return None


def live_row_shown(name: str) -> Callable[[Term], bool]:
    return lambda term: term.find(name) is not None


def bandwidth(base: Path, cols: int, rows: int, seconds: float, color: str = "truecolor",
              extra: list[str] | None = None, history: int = 0) -> dict[str, float]:
    """First paint, idle, runs/charts following one live run, runs with 8 live runs."""
    store = seed_store(base / f"bw-{cols}x{rows}-{color}")
    writers = Writers(store, 10.0, history)
    app = PtyApp(store, cols, rows, color=color, extra_args=extra)
    out: dict[str, float] = {}
    try:
        app.wait(lambda t: header_line(t) is not None, 60, "the runs table")
        app.quiet(1.5)
        out["first_paint_bytes"] = app.total()
        out["idle_Bps"] = app.rate_over(seconds)
        writers.start(1)
        app.wait(live_row_shown("live-0"), 30, "the live run's row")
        app.press("g")  # the cursor on the newest run: the live one
        time.sleep(2.0)
        out["runs_1live_Bps"] = app.rate_over(seconds)
        app.press("v")
        app.wait(lambda t: t.find("smoothing") is not None, 30, "the charts screen")
        time.sleep(2.0)
        out["charts_1live_Bps"] = app.rate_over(seconds)
        app.press(ESC)
        app.wait(lambda t: t.find("smoothing") is None and header_line(t) is not None, 30, "the runs screen")
        writers.start(7)
        app.wait(live_row_shown("live-7"), 30, "8 live rows")
        time.sleep(2.0)
        out["runs_8live_Bps"] = app.rate_over(seconds)
    finally:
        app.close()
        writers.stop()
    return out


def cursor_on(term: Term, index: int, cursor_attr: str) -> bool:
    h = header_line(term)
    return h is not None and h + 1 + index < term.rows and term.attrs[h + 1 + index][2] == cursor_attr


def latency(base: Path, cols: int, rows: int, presses: int, rate: float, extra: list[str] | None = None,
            timeout: float = 10.0) -> dict[str, list[float]]:
    """Keypress → effect at the far end of a ``rate`` bytes/s link, one live run going. A press
    whose effect has not arrived after ``timeout`` s counts as infinite and ends that kind."""
    store = seed_store(base / f"lat-{cols}x{rows}")
    writers = Writers(store, 10.0)
    writers.start(1)
    app = PtyApp(store, cols, rows, rate=rate, extra_args=extra)
    res: dict[str, list[float]] = {"cursor": [], "filter": [], "screen": [], "chart": []}

    def timed(kind: str, keys: str, cond: Callable[[Term], object]) -> bool:
        t = app.press(keys)
        try:
            res[kind].append(app.wait(cond, timeout, kind) - t)
            return True
        except TimeoutError:
            res[kind].append(float("inf"))
            return False

    try:
        app.wait(live_row_shown("live-0"), 60, "the live run's row")
        app.press("g")
        time.sleep(3.0)
        with app.cond:
            h = header_line(app.term)
            assert h is not None
            cursor_attr = app.term.attrs[h + 1][2]
        for i in range(presses):
            target = 1 if i % 2 == 0 else 0
            if not timed("cursor", DOWN if target == 1 else UP,
                         lambda term, tg=target: cursor_on(term, tg, cursor_attr)):
                break
            time.sleep(0.15)
        word = "zqxj"
        ok = True
        for _ in range(presses // len(word) + 1):
            if not ok:
                break
            app.press("/")
            time.sleep(0.3)
            for k in range(1, len(word) + 1):
                ok = timed("filter", word[k - 1], lambda term, s=word[:k]: (term.find(s) or 99) <= 2)
                if not ok:
                    break
                time.sleep(0.15)
            app.press(ESC)
            try:
                app.wait(lambda term: term.find("zq") is None, timeout, "filter cleared")
            except TimeoutError:
                break
            time.sleep(2.0)  # the whole table comes back (~30 KB): let it through before typing again
        charts_keys = lambda term: "X axis" in term.line(term.rows - 1)  # noqa: E731 - the charts key bar
        for _ in range(max(2, presses // 4)):
            t0 = app.press("v")
            kind = "screen"
            try:  # the charts screen is shown, then its chart drawn
                res[kind].append(app.wait(charts_keys, timeout, "charts") - t0)
                kind = "chart"
                res[kind].append(app.wait(lambda term: term.find("smoothing") is not None, timeout, "chart") - t0)
            except TimeoutError:
                res[kind].append(float("inf"))
                break
            time.sleep(1.0)
            if not timed("screen", ESC, lambda term: not charts_keys(term) and header_line(term) is not None):
                break
            time.sleep(1.0)
    finally:
        app.close()
        writers.stop()
    return res


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))] if s else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--writer", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--history", type=int, default=0,
                    help="steps each live run has logged before it is followed (default 0: a new run)")
    ap.add_argument("--no-bandwidth", action="store_true", help="only the slow-link latency")
    # latency kinds: cursor (down/up), filter (a keystroke in the filter box), screen (runs <->
    # charts: the new screen shown), chart (after v: the chart drawn; not in "all")
    ap.add_argument("--seconds", type=float, default=6.0, help="seconds per bandwidth window")
    ap.add_argument("--sizes", default="120x40,80x24")
    ap.add_argument("--colors", action="store_true", help="also measure truecolor vs 256 colours vs NO_COLOR")
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--presses", type=int, default=20)
    ap.add_argument("--link", type=float, default=32 * 1024, help="slow link bytes/s (default 32 KB/s)")
    ap.add_argument("--app-args", default="", help="extra arguments for tracker-tui (e.g. --low-bandwidth)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.writer:
        store, index, hz, ready, history = a.writer
        writer(store, int(index), float(hz), ready, int(history))
        return 0
    extra = a.app_args.split()
    base = Path(tempfile.mkdtemp(prefix="ssh-bw-"))
    print(f"(each window {a.seconds:g} s; this takes a few minutes)", file=sys.stderr)
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "sizes": {}}
    try:
        for size in [] if a.no_bandwidth else a.sizes.split(","):
            cols, rows = (int(v) for v in size.split("x"))
            results["sizes"][size] = bandwidth(base, cols, rows, a.seconds, extra=extra, history=a.history)
        if a.colors:
            cols, rows = (int(v) for v in a.sizes.split(",")[0].split("x"))
            results["colors"] = {c: bandwidth(base, cols, rows, a.seconds, color=c, extra=extra, history=a.history)
                                 for c in ("truecolor", "256", "none")}
        if not a.no_latency:
            cols, rows = (int(v) for v in a.sizes.split(",")[0].split("x"))
            results["latency"] = latency(base, cols, rows, a.presses, a.link, extra)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if a.json:
        print(json.dumps(results, indent=1))
        return 0
    report(results, a)
    return 0


TARGETS = {"first_paint_bytes": {"120x40": 64 * 1024, "80x24": 32 * 1024}, "idle_Bps": 0,
           "runs_1live_Bps": 2048, "charts_1live_Bps": 4096, "runs_8live_Bps": 8192}
LABELS = {"first_paint_bytes": "first paint (bytes)", "idle_Bps": "idle (B/s)",
          "runs_1live_Bps": "runs screen, 1 live run at 10 steps/s (B/s)",
          "charts_1live_Bps": "charts screen, 1 live run (B/s)", "runs_8live_Bps": "runs screen, 8 live runs (B/s)"}


def size_table(results: dict[str, Any], sizes: list[str]) -> None:
    print(f"{'':46}" + "".join(f"{s:>12}" for s in sizes) + "   target")
    for k, label in LABELS.items():
        vals = "".join(f"{results['sizes'][s][k]:>12,.0f}" for s in sizes)
        t = TARGETS[k]
        target = t if isinstance(t, int) else t.get(sizes[0], 0)
        print(f"{label:46}{vals}   <= {target:,}" + ("" if isinstance(t, int) else f" / {t.get('80x24', 0):,} (80x24)"))


def report(results: dict[str, Any], a: argparse.Namespace) -> None:
    print(f"tracker-tui over SSH ({results['date']}; SSH_CONNECTION set, TERM=xterm-256color, "
          f"COLORTERM=truecolor, {a.seconds:g} s windows, live runs with {a.history} steps of history"
          f"{', app args: ' + a.app_args if a.app_args else ''})")
    sizes = list(results["sizes"])
    if sizes:
        size_table(results, sizes)
    if "colors" in results:
        print("\ncolour depth (first size):")
        print(f"{'':16}{'first paint':>14}{'runs 1 live':>14}{'charts 1 live':>15}{'runs 8 live':>14}")
        for c, r in results["colors"].items():
            print(f"{c:16}{r['first_paint_bytes']:>14,.0f}{r['runs_1live_Bps']:>14,.0f}"
                  f"{r['charts_1live_Bps']:>15,.0f}{r['runs_8live_Bps']:>14,.0f}")
    if "latency" in results:
        lat = results["latency"]
        print(f"\nkeypress -> effect over a {a.link / 1024:g} KB/s link, one live run (ms; target p95 <= 200):")
        alls = [x for k, v in lat.items() if k != "chart" for x in v]
        for k, v in [*lat.items(), ("all", alls)]:
            if v:
                late = sum(1 for x in v if x == float("inf"))
                print(f"  {k:8} n={len(v):3}  p50 {1000 * sorted(v)[len(v) // 2]:7.0f}  p95 {1000 * p95(v):7.0f}  "
                      f"max {1000 * max(v):7.0f}" + (f"  ({late} not shown within 10 s: 'inf')" if late else ""))
    try:
        import wandb  # noqa: F401
    except ImportError:
        print("\nLEET: skipped (wandb is not importable in this environment)")
    else:
        print("\nLEET: wandb is importable, but this bench does not drive LEET: run `wandb beta leet` "
              "under the same pty setup to compare")


if __name__ == "__main__":
    sys.exit(main())
