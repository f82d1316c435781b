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
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from tracker.tui.text import sanitize

#: Exit status by the run's (effective) final state.
STATE_EXIT = {"finished": 0, "failed": 1, "crashed": 2}
EXIT_ERROR = 1
EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe

QUIET = 0.3  #: seconds without new points after which the newest step counts as complete
STATE_EVERY = 0.5  #: the run's state is re-read at least this often (seconds)
TICK = 0.1  #: longest sleep of the main loop: signal flags and timers are checked this often
STATUS_EVERY = 1.0  #: the status line is redrawn at least this often while nothing else prints
PAGE = 50_000  #: points per read
KEEP_PRINTED = 2_000  #: printed steps whose values are kept to merge values arriving late

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


# ---------------------------------------------------------------------------------- grouping
@dataclass
class Row:
    """One step of the run, ready to print: its values by metric name."""

    step: int
    values: dict[str, Any]
    ts: float  #: the writer's time of the step's newest point
    first_id: int  #: id of the step's first point (print order)
    seen: float  #: local monotonic time the step's newest point was read
    done: bool = False  #: a point of another step came after this step's newest point
    again: bool = False  #: the step had been printed before; this row merges the new values


class StepGrouper:
    """Turns points (in commit order) into complete steps.

    A step is complete when a point of another step follows its newest point, when the caller
    says the run has ended (``final``), or when no point came for it for ``quiet`` seconds.

    Args:
        keys: the metric names to keep (all when None); other names still mark steps complete.
        quiet: seconds after which a step without new points is complete.
        keep: how many printed steps keep their values, so a late value reprints the whole row.
    """

    def __init__(self, keys: Sequence[str] | None = None, quiet: float = QUIET, keep: int = KEEP_PRINTED) -> None:
        self.keys = frozenset(keys) if keys is not None else None
        self.quiet = quiet
        self.keep = keep
        self.pending: dict[int, Row] = {}
        self.printed: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._current: int | None = None

    def feed(self, points: Iterable[Sequence[Any]], now: float) -> None:
        """Add ``(id, rid, key, step, ts, value)`` points of one run, oldest first."""
        pending = self.pending
        keys = self.keys
        for pid, _rid, key, step, ts, value in points:
            if step != self._current:
                prev = pending.get(self._current) if self._current is not None else None
                if prev is not None:
                    prev.done = True
                self._current = step
            row = pending.get(step)
            if row is None:
                row = pending[step] = Row(step, {}, ts, pid, now)
            else:
                row.done = False  # it is the newest step again
                row.ts = max(row.ts, ts)
                row.seen = now
            if keys is None or key in keys:
                row.values[key] = value

    def next_deadline(self) -> float | None:
        """The monotonic time at which a pending step becomes complete by quietness."""
        times = [r.seen + self.quiet for r in self.pending.values() if not r.done]
        return min(times) if times else None

    def ready(self, now: float, final: bool = False) -> list[Row]:
        """Remove and return the complete steps in the order they started arriving; steps with
        no value among the selected keys are dropped."""
        out: list[Row] = []
        for step in [s for s, r in self.pending.items() if final or r.done or now - r.seen >= self.quiet]:
            row = self.pending.pop(step)
            if not row.values:
                continue
            old = self.printed.pop(step, None)
            if old is not None:
                row.values = {**old, **row.values}
                row.again = True
            self.printed[step] = row.values
            if len(self.printed) > self.keep:
                self.printed.popitem(last=False)
            out.append(row)
        out.sort(key=lambda r: r.first_id)
        return out


# ---------------------------------------------------------------------------------- reading
class Follower:
    """Reads a run's new points through a cursor on the point id and feeds a StepGrouper.

    Two read paths, whichever costs less (the store's ``points_after(rids=[rid])`` walks every
    point of the run through the ``(rid, kid, step)`` index, while the unfiltered one walks only
    the points committed after the cursor, by any run): the run's own points when the run is
    smaller than the backlog, otherwise everything after the cursor, filtered here.
    """

    def __init__(self, store: Any, rec: Any, keys: Sequence[str] | None) -> None:
        self.store = store
        self.rid = rec.rid
        self.cursor = 0
        self.run_points = _point_count(rec)
        self.nkeys = max(1, len(rec.metrics))
        self.grouper = StepGrouper(keys)
        self.last_ts: float | None = None
        self.last_step: int | None = rec.last_step

    def update(self, rec: Any) -> None:
        self.run_points = _point_count(rec)
        self.nkeys = max(1, len(rec.metrics))

    def _read(self, after: int, own: bool) -> list[tuple[Any, ...]]:
        """This run's points with ``id > after``, oldest first; moves the cursor past them."""
        rid = self.rid
        out: list[tuple[Any, ...]] = []
        cur = after
        while True:
            page = self.store.points_after(cur, rids=[rid] if own else None, limit=PAGE)
            if not page:
                break
            cur = page[-1][0]
            out.extend(page if own else [p for p in page if p[1] == rid])
            if len(page) < PAGE:
                break
        self.cursor = max(self.cursor, cur)
        return out

    def history(self, n: int, final: bool) -> list[Row]:
        """The run's last ``n`` steps (all complete: they are in the past) and a cursor after them."""
        top = self.store.max_point_id()
        pts: list[tuple[Any, ...]] = []
        if n > 0:
            # ``run_points`` may be stale (points committed since the run was read): it only
            # picks the read path, and the cursor never moves past points not read.
            if self.run_points <= PAGE:
                pts = self._read(0, own=True)
            else:  # a window of recent ids, widened until it holds more than n of the run's steps
                width = (n + 1) * self.nkeys * 2 + 1024
                while True:
                    start = max(0, top - width)
                    pts = self._read(start, own=False)
                    keys = self.grouper.keys
                    if start == 0 or len({p[3] for p in pts if keys is None or p[2] in keys}) > n:
                        break
                    width *= 4
        self.cursor = max(self.cursor, top)
        self._feed(pts, time.monotonic() - QUIET)  # old points: already quiet
        rows = self.grouper.ready(time.monotonic(), final=final)
        return rows[-n:] if n > 0 else []

    def read_new(self) -> int:
        """Read points committed since the last read; returns how many were this run's."""
        top = self.store.max_point_id()
        if top <= self.cursor:
            return 0
        pts = self._read(self.cursor, own=self.run_points <= top - self.cursor)
        # Every point with id <= top was committed before max(id) was read, so the run's points
        # up to there are all in ``pts``: skip the other runs' points for good.
        self.cursor = max(self.cursor, top)
        self._feed(pts, time.monotonic())
        return len(pts)

    def _feed(self, pts: list[tuple[Any, ...]], now: float) -> None:
        if not pts:
            return
        self.grouper.feed(pts, now)
        last = pts[-1]
        self.last_step = last[3]
        ts = max(p[4] for p in pts)
        self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)


def _point_count(rec: Any) -> int:
    return sum(int(m.count or 0) for m in rec.metrics.values())


# ---------------------------------------------------------------------------------- output
def json_value(v: Any) -> Any:
    """A value for strict JSON: non-finite floats become "nan", "inf", "-inf"."""
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    return v


def json_line(row: Row) -> str:
    """One step as a line of strict JSON (ASCII only, so nothing raw reaches a terminal)."""
    d: dict[str, Any] = {"_step": row.step, "_timestamp": row.ts}
    for k, v in row.values.items():
        if k not in d:
            d[k] = json_value(v)
    return json.dumps(d, allow_nan=False, default=str)


def fmt_cell(v: Any) -> str:
    """A metric value for a table cell."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.6g}"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "<blob>"
    return sanitize(v)


class JsonOut:
    """Piped output: one JSON object per step per line, flushed per line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def rows(self, rows: list[Row], follower: Follower | None = None, rec: Any = None) -> None:
        for row in rows:
            self.stream.write(json_line(row) + "\n")
            self.stream.flush()

    def status(self, rec: Any, follower: Follower, force: bool = False) -> None:
        pass

    def finish(self, rec: Any, follower: Follower) -> None:
        if rec.state in ("failed", "crashed"):
            print(f"tracker-tui tail: run {sanitize(rec.id)} ({sanitize(rec.name)}) {rec.state}", file=sys.stderr)

    def interrupted(self) -> None:
        pass


class TableOut:
    """Terminal output: aligned columns plus (on capable terminals) a status line at the bottom.

    Args:
        stream: the terminal.
        keys: fixed columns (``--keys``), or None to add metrics as they appear.
        status: keep a status line (needs ``\\r`` and ``ESC [2K``; off for ``TERM=dumb``).
        colour: dim the status line (off with ``NO_COLOR``).
        mode: the watcher's mode, shown in the status line when it is polling.
    """

    MIN_W = 10
    MAX_W = 24

    def __init__(self, stream: TextIO, keys: Sequence[str] | None, *, status: bool, colour: bool,
                 mode: str = "") -> None:
        from rich.cells import cell_len

        self._cell_len = cell_len
        self.stream = stream
        self.fixed = keys is not None
        self.cols: list[str] = list(keys or [])
        self.labels: dict[str, str] = {}
        self.widths: dict[str, int] = {}
        for k in self.cols:
            self._add_col(k)
        self.step_w = 6
        self.visible: list[str] = []
        self.hidden = 0
        self.header_due = True
        self.since_header = 0
        self.term = shutil.get_terminal_size((100, 24))
        self.use_status = status
        self.colour = colour
        self.mode = mode
        self.status_on = False
        self.last_draw = 0.0
        self.rates: deque[tuple[float, int]] = deque(maxlen=200)
        enc = (getattr(stream, "encoding", "") or "").lower()
        utf = "utf" in enc
        self.dot = " · " if utf else " | "
        self.ell = "…" if utf else "~"

    # ---------------------------------------------------------------- columns
    def _add_col(self, key: str) -> None:
        label = self._fit(sanitize(key), self.MAX_W)
        self.labels[key] = label
        self.widths[key] = max(self.MIN_W, self._cell_len(label))

    def _fit(self, s: str, width: int) -> str:
        """``s`` cut in the middle to ``width`` cells (metric names differ at both ends)."""
        if self._cell_len(s) <= width:
            return s
        left, right = "", ""
        budget = width - self._cell_len(self.ell)
        i, j = 0, len(s)
        turn = 0
        while i < j:
            c = s[i] if turn == 0 else s[j - 1]
            w = self._cell_len(c)
            if w > budget:
                break
            budget -= w
            if turn == 0:
                left += c
                i += 1
            else:
                right = c + right
                j -= 1
            turn ^= 1
        return left + self.ell + right

    def _layout(self) -> None:
        self.term = shutil.get_terminal_size((100, 24))
        room = self.term.columns - self.step_w
        vis = []
        for k in self.cols:
            need = self.widths[k] + 2
            if vis and need > room:
                break
            vis.append(k)
            room -= need
        if vis != self.visible:
            self.header_due = True
        self.visible = vis
        self.hidden = len(self.cols) - len(vis)

    def _header(self) -> str:
        cells = ["step".rjust(self.step_w)]
        for k in self.visible:
            lab = self.labels[k]
            cells.append(" " * (self.widths[k] - self._cell_len(lab)) + lab)
        more = f"  (+{self.hidden} more: --keys)" if self.hidden else ""
        return "  ".join(cells) + more

    # ---------------------------------------------------------------- rows
    def rows(self, rows: list[Row], follower: Follower, rec: Any) -> None:
        if not rows:
            return
        out: list[str] = []
        if shutil.get_terminal_size((100, 24)) != self.term:  # resized: fit the columns again
            self.header_due = True
        for row in rows:
            if not self.fixed:
                for k in row.values:
                    if k not in self.widths:
                        self.cols.append(k)
                        self._add_col(k)
                        self.header_due = True
            cells = {k: fmt_cell(row.values.get(k)) for k in self.cols}
            step = str(row.step)
            if len(step) > self.step_w:
                self.step_w = len(step)
                self.header_due = True
            for k, c in cells.items():
                w = self._cell_len(c)
                if w > self.widths[k]:
                    if w > self.MAX_W:  # a long string value: cut it, keep the column
                        cells[k] = self._fit(c, max(self.widths[k], self.MAX_W))
                        w = self._cell_len(cells[k])
                    if w > self.widths[k]:
                        self.widths[k] = w
                        self.header_due = True
            if self.header_due:
                self._layout()
            if self.header_due or self.since_header >= max(10, self.term.lines - 2):
                out.append(self._header())
                self.header_due = False
                self.since_header = 0
            line = [step.rjust(self.step_w)]
            for k in self.visible:
                c = cells[k]
                line.append(" " * (self.widths[k] - self._cell_len(c)) + c)
            text = "  ".join(line)
            if row.again:
                text += "  (late values)"
            out.append(text)
            self.since_header += 1
            self.rates.append((row.ts, row.step))
        self._write("\n".join(out) + "\n", rec, follower)

    def _status_text(self, rec: Any, follower: Follower) -> str:
        parts = [self._fit(sanitize(rec.name), 32), rec.state]
        if follower.last_step is not None:
            parts.append(f"step {follower.last_step}")
        rate = self._rate()
        if rate is not None:
            parts.append(f"{rate:.3g} steps/s")
        last = follower.last_ts or rec.created_at
        if last:
            parts.append(f"updated {_ago(time.time() - last)} ago")
        if self.mode and self.mode != "watch":
            parts.append(self.mode)
        if self.hidden:
            parts.append(f"{self.hidden} metrics hidden (--keys)")
        return self._cut(self.dot.join(parts), max(10, self.term.columns - 1))

    def _cut(self, s: str, width: int) -> str:
        """``s`` cut at the end to ``width`` cells (never wraps, so ``\\r`` can redraw it)."""
        if self._cell_len(s) <= width:
            return s
        budget = width - self._cell_len(self.ell)
        out = []
        for c in s:
            w = self._cell_len(c)
            if w > budget:
                break
            budget -= w
            out.append(c)
        return "".join(out) + self.ell

    def _rate(self) -> float | None:
        r = self.rates
        if len(r) < 2:
            return None
        (t0, s0), (t1, s1) = r[0], r[-1]
        if t1 - t0 <= 0 or s1 <= s0:
            return None
        return (s1 - s0) / (t1 - t0)

    def _write(self, text: str, rec: Any, follower: Follower) -> None:
        if not self.use_status:
            self.stream.write(text)
            self.stream.flush()
            return
        status = self._status_text(rec, follower)
        if self.colour:
            status = f"\x1b[2m{status}\x1b[0m"
        prefix = "\r\x1b[2K" if self.status_on else ""
        self.stream.write(prefix + text + status)
        self.stream.flush()
        self.status_on = True
        self.last_draw = time.monotonic()

    def status(self, rec: Any, follower: Follower, force: bool = False) -> None:
        """Redraw the status line when it is due (about once a second) or ``force``d."""
        if not self.use_status:
            return
        if force or time.monotonic() - self.last_draw >= STATUS_EVERY:
            self._write("", rec, follower)

    def finish(self, rec: Any, follower: Follower) -> None:
        prefix = "\r\x1b[2K" if self.status_on else ""
        self.status_on = False
        step = f" at step {follower.last_step}" if follower.last_step is not None else ""
        line = f"run {sanitize(rec.id)} ({self._fit(sanitize(rec.name), 40)}) {rec.state}{step}"
        self.stream.write(prefix + line + "\n")
        self.stream.flush()

    def interrupted(self) -> None:
        if self.status_on:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.status_on = False


def _ago(s: float) -> str:
    s = max(0.0, s)
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


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


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add tail's arguments to its subparser (``--store``/``--poll`` are added by the CLI)."""
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


def _tail(args: argparse.Namespace, sig: Signals) -> int:
    from tracker.store import RunNotFound, Store, StoreError, resolve_dir

    run_arg = getattr(args, "run", None)
    latest = bool(getattr(args, "latest", False))
    project = getattr(args, "project", None)
    poll = getattr(args, "poll", None)
    if latest and run_arg:
        return _err("give a RUN or --latest, not both")
    if not latest and not run_arg:
        return _err("give a RUN (id, or unique prefix of an id or name) or --latest")
    if project and not latest:
        return _err("--project goes with --latest")
    if poll is not None and not (poll > 0 and math.isfinite(poll)):
        return _err(f"--poll needs a positive number of seconds, got {poll}")
    keys = [k for k in (getattr(args, "keys", None) or "").split(",") if k] or None
    n = int(getattr(args, "n", 10))
    hz = getattr(args, "refresh_hz", None)
    if hz is not None and not (hz > 0 and math.isfinite(hz)):
        return _err(f"--refresh-hz needs a positive number, got {hz}")
    if hz is None:
        hz = 4.0 if os.environ.get("SSH_CONNECTION") else 10.0

    try:
        store = Store(resolve_dir(getattr(args, "store", None)), create=False)
    except StoreError as e:  # StoreMissing included
        print(sanitize(e), file=sys.stderr)
        return EXIT_ERROR
    try:
        if latest:
            running = [r for r in store.runs(project, with_metrics=False) if r.state == "running"]
            if not running:
                where = f" in project {sanitize(project)!r}" if project else ""
                return _err(f"no running run{where} in {sanitize(store.dir)}")
            rec = store.run(running[0].id)
        else:
            try:
                rec = store.run(run_arg)
            except RunNotFound as e:
                print(sanitize(e), file=sys.stderr)
                return EXIT_ERROR
        return _follow(store, rec, keys, n, poll, 1.0 / hz, sig)
    except StoreError as e:
        print(sanitize(e), file=sys.stderr)
        return EXIT_ERROR
    finally:
        store.close()


def _follow(store: Any, rec: Any, keys: list[str] | None, n: int, poll: float | None, min_draw: float,
            sig: Signals) -> int:
    import sqlite3

    from tracker.store.watch import StoreWatcher

    if keys and rec.metrics and not set(keys) & set(rec.metrics):
        have = ", ".join(sanitize(k) for k in sorted(rec.metrics)[:12])
        print(f"tracker-tui tail: run {sanitize(rec.id)} has none of --keys yet (it has: {have})", file=sys.stderr)
    out_stream = sys.stdout
    follower = Follower(store, rec, keys)
    final = rec.state != "running"
    wake = threading.Event()
    watcher = None
    if not final:
        # Start watching before the first read, so no commit falls between the two.
        watcher = StoreWatcher(store.dir, wake.set, poll=poll).start()
    try:
        if out_stream.isatty():
            term = os.environ.get("TERM", "")
            fancy = term not in ("", "dumb")
            try:
                out_stream.reconfigure(errors="backslashreplace")  # type: ignore[attr-defined]
            except (AttributeError, ValueError):
                pass
            out: JsonOut | TableOut = TableOut(
                out_stream, keys, status=fancy, colour=fancy and not os.environ.get("NO_COLOR"),
                mode=watcher.mode if watcher else "",
            )
        else:
            out = JsonOut(out_stream)
        if final and isinstance(out, TableOut):
            out.use_status = False  # nothing to follow: rows, then the final line
        out.rows(follower.history(n, final), follower, rec)
        next_state = time.monotonic() + STATE_EVERY
        while not final:
            if sig.code is not None:
                out.interrupted()
                return sig.code
            woke = wake.is_set()
            if woke:
                wake.clear()
            now = time.monotonic()
            if woke or now >= next_state:
                next_state = now + STATE_EVERY
                try:
                    fresh = store.run(rec.id)  # the state first, then the points it covers
                    follower.update(fresh)
                    follower.read_new()
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e).lower() and "busy" not in str(e).lower():
                        raise
                    next_state = now + TICK  # a writer is recovering the WAL: try again soon
                else:
                    rec = fresh
                    final = rec.state != "running"
            rows = follower.grouper.ready(time.monotonic(), final=final)
            if rows:
                out.rows(rows, follower, rec)
            elif not final:
                out.status(rec, follower)  # keeps "updated Ns ago" current
            if final:
                break
            timeout = TICK
            deadline = follower.grouper.next_deadline()
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()) + 0.005)
            if isinstance(out, TableOut) and out.use_status:
                gap = min_draw - (time.monotonic() - out.last_draw)
                if gap > 0:  # at most refresh_hz terminal writes a second; changes wait in the store
                    time.sleep(gap)
            wake.wait(timeout)
        out.finish(rec, follower)
        return STATE_EXIT.get(rec.state, EXIT_ERROR)
    except sqlite3.Error as e:
        print(f"tracker-tui tail: cannot read {sanitize(store.path)}: {sanitize(e)}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if watcher is not None:
            watcher.stop()
