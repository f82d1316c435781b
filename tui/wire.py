"""What the app writes to the terminal, made smaller on the way out (issue 18).

Textual writes each segment of a line as ``ESC[<style>m text ESC[0m``: a table row of 20 cells
separated by blanks in one style repeats the same SGR sequence ~40 times (~40 bytes each in
truecolor). :func:`compact_sgr` drops every "reset, then the very style that was just reset"
pair, so a run of same-styled segments costs one sequence. The terminal ends up in exactly the
same state: nothing else in the stream is touched.

:func:`compacting` wraps a Textual driver class so that everything the app writes goes through
it (tests that use ``App.run_test`` use Textual's headless driver and are not affected).

:func:`crop_partial_updates`: Textual 8.2.8 writes a partial update of a line from the left edge
of the widget to the end of the dirty region (``ChopsUpdate.render_segments`` crops only the
right end; its unused ``__rich_console__`` twin crops both). A changed value in the middle of a
table row then resent the row's first half, once per changed span. The replacement starts at
the first segment that reaches the dirty region, as ``__rich_console__`` does.
"""

from __future__ import annotations

import re
from typing import Any

_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_RESET = "\x1b[0m"


def compact_sgr(data: str) -> str:
    """``data`` without redundant SGR resets and repeats (see the module docstring)."""
    if "\x1b[0m" not in data:
        return data
    out: list[str] = []
    pos = 0
    state: str | None = None  # None: unknown or several SGRs stacked; "": reset; else the one SGR in force
    pending = False  # a reset seen but not written yet
    for m in _SGR.finditer(data):
        text = data[pos : m.start()]
        pos = m.end()
        if text:
            if pending:
                out.append(_RESET)
                pending, state = False, ""
            out.append(text)
        params = m.group(1)
        if params in ("", "0"):
            if state != "":
                pending = True
            continue
        if pending and params == state:
            pending = False  # the same style again: keep it in force
            continue
        if pending:
            out.append(_RESET)
            pending, state = False, ""
        out.append(m.group(0))
        state = params if state == "" else None
    if pending:
        out.append(_RESET)
    out.append(data[pos:])
    return "".join(out)


def _render_segments(self: Any, console: Any) -> str:
    """``ChopsUpdate.render_segments`` that skips the segments left of each dirty span."""
    from rich.cells import cell_len
    from rich.control import Control

    sequences: list[str] = []
    append = sequences.append
    move_to = Control.move_to
    last_y = self.spans[-1][0]
    for y, x1, x2 in self.spans:
        for end, (x, strip) in zip(self.chop_ends[y], self.chops[y].items()):
            if strip is None or x > x2 or end <= x1:
                continue
            if x < x1:  # skip whole segments before the span (never splits a character)
                skipped = 0
                for text, _style, _control in strip:
                    width = cell_len(text)
                    if x + skipped + width > x1:
                        break
                    skipped += width
                strip = strip.crop(skipped)
                x += skipped
            strip = strip.crop(0, min(end, x2) - x)
            append(move_to(x, y).segment.text)
            append(strip.render(console))
        if y != last_y:
            append("\n")
    return "".join(sequences)


def crop_partial_updates() -> None:
    """Make Textual's partial updates start at the dirty region (see the module docstring)."""
    from textual._compositor import ChopsUpdate

    ChopsUpdate.render_segments = _render_segments  # type: ignore[method-assign]


def compacting(driver_class: type[Any]) -> type[Any]:
    """A subclass of the Textual driver class ``driver_class`` that writes through :func:`compact_sgr`."""

    class CompactingDriver(driver_class):
        def write(self, data: str) -> None:
            super().write(compact_sgr(data))

    CompactingDriver.__name__ = CompactingDriver.__qualname__ = f"Compacting{driver_class.__name__}"
    return CompactingDriver
