"""``tracker-tui diff``: config differences and metrics of two or more runs.

A Rich table on a terminal, aligned text when piped. Metrics are training metrics first, then
the ``system/`` ones (only with ``--all``); ``*`` marks the best value of each metric.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tracker.tui.cli._common import find_runs, open_api, plain_table, rich_ok
from tracker.tui.diff import MISSING, best_index, config_diff, fmt_value, training_first
from tracker.tui.text import sanitize

MARKS = {"changed": "~", "added": "+", "removed": "-", "same": " "}
STYLES = {"~": "yellow", "+": "green", "-": "red"}

Table = list[list[str]]


def configure(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("diff", help="config diff and metrics of two or more runs")
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--all", action="store_true",
                   help="show every config key, not only differences, and the system metrics")
    p.set_defaults(func=cmd_diff)
    return p


def diff_tables(runs: list[Any], show_all: bool) -> tuple[list[str], Table, Table]:
    """The header, the config rows and the metric rows, every cell sanitised.

    Config rows start with a mark (``~`` changed, ``+`` added, ``-`` removed, blank same); metric
    rows are training metrics, then the sampled system metrics (with ``show_all``), best values marked ``*``.
    """
    header = ["", "key", *[f"{sanitize(r.name)} ({r.id})" for r in runs]]
    rows = config_diff([r.config for r in runs], only_different=not show_all)
    body = [[MARKS[row.status], sanitize(row.key), *[sanitize(fmt_value(v)) for v in row.values]] for row in rows]
    values = [{**r.summary, **(r.system_summary if show_all else {})} for r in runs]
    keys = training_first({k for v in values for k in v})
    metrics = []
    for k in keys:
        vals = [v.get(k, MISSING) for v in values]
        b = best_index([None if v is MISSING else v for v in vals], k)
        metrics.append(["", sanitize(k), *[sanitize(fmt_value(v)) + (" *" if i == b else "")
                                             for i, v in enumerate(vals)]])
    return header, body, metrics


def cmd_diff(args: argparse.Namespace) -> int:
    """Config diff and metrics of 2+ runs: a Rich table on a terminal, plain text when piped."""
    api = open_api(args.store)
    if api is None:
        return 1
    if len(args.runs) < 2:
        print("tracker-tui diff: give two or more runs", file=sys.stderr)
        return 2
    runs = find_runs(api, args.runs)
    if runs is None:
        return 1
    header, body, metrics = diff_tables(runs, args.all)
    sections = [("config" + ("" if args.all else " (differences)"), body), ("metrics (* best)", metrics)]
    if rich_ok():
        _print_rich(header, sections, identical=not body)
        return 0
    for title, data in sections:
        print(f"# {title}")
        if not data:
            print("(identical)" if title.startswith("config") else "(none)")
            continue
        print(plain_table(header, data))
    return 0


def _print_rich(header: list[str], sections: list[tuple[str, Table]], identical: bool) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    console = Console()
    for title, data in sections:
        t = RichTable(title=Text(title, style="bold"), box=None, pad_edge=False, header_style="bold")
        for i, h in enumerate(header):
            t.add_column(Text(h), no_wrap=i < 2, justify="left" if i < 2 else "right")
        for row in data:
            cells = [Text(c) for c in row]
            if row[0] in STYLES:
                for c in cells:
                    c.stylize(STYLES[row[0]])
            for c in cells[2:]:
                if c.plain.endswith(" *"):
                    c.stylize("bold green")
            t.add_row(*cells)
        console.print(t)
    if identical:
        console.print(Text("configs are identical", style="dim"))
