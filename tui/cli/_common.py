"""What the ``tracker-tui`` commands share: where output goes, opening the store, plain tables.

Nothing here imports Textual or Rich: ``tracker-tui ls | head`` stays cheap to start.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tracker.tui.text import sanitize


def rich_ok() -> bool:
    """Colour and layout for people only on a real terminal that can take them."""
    return sys.stdout.isatty() and os.environ.get("TERM", "") not in ("dumb", "")


def interactive() -> bool:
    """A terminal on both ends: the full-screen app can run."""
    return sys.stdout.isatty() and sys.stdin.isatty() and os.environ.get("TERM", "dumb") not in ("dumb", "")


def open_api(store: str | None) -> Any:
    """The read API on ``store``, or None (after saying why on stderr) when there is no store."""
    from tracker.api import Api

    api = Api(store)
    if api.store is None:
        print(f"tracker-tui: no store at {api.dir} (pass --store DIR or set TRACKER_DIR)", file=sys.stderr)
        return None
    return api


def find_runs(api: Any, refs: Sequence[str]) -> list[Any] | None:
    """The runs named by ids or unique prefixes, or None (after saying which did not match)."""
    from tracker.store import RunNotFound

    try:
        return [api.run(r) for r in refs]
    except RunNotFound as e:
        print(sanitize(e), file=sys.stderr)
        return None


def plain_table(header: list[str], rows: list[list[str]], right: Callable[[int], bool] = lambda i: False) -> str:
    """Rows as aligned text (two spaces between columns; column ``i`` right-aligned when
    ``right(i)``), no trailing blanks, one line per row after the header. Cells are already
    sanitised."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = []
    for line in [header, *rows]:
        cells = (c.rjust(w) if right(i) else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths)))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
