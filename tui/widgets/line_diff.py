"""Which cells of a line changed: widgets repaint only those, so over SSH the bytes sent follow
what changed on screen (issue 18).

Textual sends every cell of every region a widget marks dirty, and each styled segment costs a
whole SGR sequence (~40 bytes in truecolor). A table that refreshed whole lines when one value
changed wrote kilobytes a frame; comparing the new line with the one on screen and refreshing
only the changed spans sends a few dozen bytes per changed value.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style

Cell = tuple[str, Style | None]

GAP = 6
"""Changed spans fewer than this many cells apart are sent as one (a cursor move and a new SGR
sequence cost more than a few unchanged cells)."""


def cells(segments: Iterable[Segment]) -> list[Cell]:
    """One ``(character, style)`` per terminal cell (a wide character's second cell is ``""``)."""
    out: list[Cell] = []
    for text, style, control in segments:
        if control:
            continue
        for ch in text:
            out.append((ch, style))
            if cell_len(ch) == 2:
                out.append(("", style))
    return out


def changed_spans(old: list[Cell], new: list[Cell], gap: int = GAP) -> list[tuple[int, int]]:
    """``(start, end)`` cell ranges (end exclusive) where ``new`` differs from ``old``."""
    n, common = max(len(old), len(new)), min(len(old), len(new))
    spans: list[list[int]] = []
    for x in range(n):
        if x < common and old[x] == new[x]:
            continue
        if spans and x - spans[-1][1] < gap:
            spans[-1][1] = x + 1
        else:
            spans.append([x, x + 1])
    # never cut a wide character in half: widen a span over both of its cells
    for span in spans:
        if 0 < span[0] < len(new) and new[span[0]][0] == "":
            span[0] -= 1
        if span[1] < len(new) and new[span[1]][0] == "":
            span[1] += 1
    return [(a, b) for a, b in spans]
