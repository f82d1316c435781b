"""What ``tracker-tui tail`` writes: one JSON object per step per line when piped
(:class:`JsonOut`), aligned columns and a status line on a terminal (:class:`TableOut`).

Every string from the store goes through :func:`~tracker.tui.text.sanitize` (or ``json.dumps``,
which is ASCII) before it is written; the only escape sequences written are the status line's own.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, TextIO

from tracker.tui.cli.tail_follow import Follower, Row
from tracker.tui.fmt import json_safe, nonfinite
from tracker.tui.text import sanitize

STATUS_EVERY = 1.0  #: the status line is redrawn at least this often while nothing else prints


def json_value(v: Any) -> Any:
    """A value for strict JSON: non-finite floats become "nan", "inf", "-inf"; bytes hex."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    return json_safe(v)


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
        if not math.isfinite(v):
            return nonfinite(v)
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

    def draw_gap(self, min_draw: float) -> float:
        return 0.0  # a pipe takes every line at once


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
        enc = (getattr(stream, "encoding", "") or "").lower()
        utf = "utf" in enc
        self.dot = " · " if utf else " | "
        self.ell = "…" if utf else "~"  # before the columns: a long --keys name is cut with it
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
        vis: list[str] = []
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

    def draw_gap(self, min_draw: float) -> float:
        """Seconds until the next write is allowed (``min_draw`` apart while a status line is kept)."""
        if not self.use_status:
            return 0.0
        return min_draw - (time.monotonic() - self.last_draw)

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

