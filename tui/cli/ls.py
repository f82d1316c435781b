"""``tracker-tui ls``: the runs listing (Rich on a terminal, aligned text when piped, JSON for scripts)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tracker.tui import fmt
from tracker.tui.cli._common import open_api, plain_table, rich_ok
from tracker.tui.fmt import json_safe
from tracker.tui.text import sanitize


def configure(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("ls", help="list runs")
    p.add_argument("--project", "-p", help="only this project's runs")
    p.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    p.add_argument("--archived", action="store_true", help="archived runs too (tracker-tui archive)")
    p.set_defaults(func=cmd_ls)
    return p


def run_json(r: Any) -> dict[str, Any]:
    """Every field of a run, as strict JSON (NaN/±Inf as strings)."""
    out: dict[str, Any] = json_safe({
        "id": r.id, "name": r.name, "project": r.project, "state": r.state, "group": r.group,
        "job_type": r.job_type, "tags": r.tags, "notes": r.notes, "created_at": r.created_at,
        "updated_at": r.updated_at, "finished_at": r.finished_at, "runtime": r.runtime,
        "exit_code": r.exit_code, "host": r.host, "user": r.user, "last_step": r.last_step,
        "git": r.git, "config": r.config, "summary": r.summary,
    })
    return out


def rich_table(header: list[str], rows: list[list[str]]) -> Any:
    """The runs listing as a Rich table; cells are ``Text`` (never markup), already sanitised."""
    from rich.table import Table
    from rich.text import Text

    colours = {"running": "cyan", "finished": "green", "failed": "red", "crashed": "magenta"}
    table = Table(box=None, header_style="bold", pad_edge=False)
    for i, h in enumerate(header):
        numeric = h == "STEP" or i > header.index("STEP")
        table.add_column(Text(h), justify="right" if numeric else "left", no_wrap=True,
                         overflow="ellipsis", max_width=24 if h in ("NAME", "PROJECT") else None,
                         min_width=8 if i < 2 else None)
    for row in rows:
        cells = [Text(c) for c in row]
        cells[0].stylize(colours.get(row[0], ""))
        table.add_row(*cells)
    return table


def ls_rows(runs: list[Any], max_metrics: int = 3) -> tuple[list[str], list[list[str]]]:
    """Header and sanitised rows of the runs listing (the metrics most runs have, first)."""
    counts: dict[str, int] = {}
    for r in runs:
        for k in r.summary:
            if not k.startswith("system/"):  # every run has those: they would crowd out the training metrics
                counts[k] = counts.get(k, 0) + 1
    metrics = sorted(counts, key=lambda k: (-counts[k], k))[:max_metrics]
    header = [sanitize(h) for h in ["STATE", "ID", "NAME", "PROJECT", "CREATED", "RUNTIME", "STEP", *metrics]]
    rows = []
    for r in runs:
        rows.append([
            r.state, r.id, sanitize(r.name), sanitize(r.project), fmt.when(r.created_at),
            fmt.duration(r.runtime), "" if r.last_step is None else str(r.last_step),
            *[sanitize(fmt.num(r.summary[m])) if m in r.summary else "" for m in metrics],
        ])
    return header, rows


def _print_rich(runs: list[Any]) -> None:
    from rich.console import Console

    console = Console()
    one_project = len({r.project for r in runs}) == 1
    fixed = 60 if one_project else 72  # the columns before the metrics, with gaps
    header, rows = ls_rows(runs, max_metrics=max(0, min(6, (console.width - fixed) // 13)))
    if one_project:  # the project is the same on every row: give its width to metrics
        header.pop(3)
        for row in rows:
            row.pop(3)
    console.print(rich_table(header, rows))


def write_json(runs: Any, out: Any) -> None:
    """One JSON array, written a run at a time (``runs`` is read lazily, a page at a time), so
    memory stays flat however many runs there are. ASCII: C1 / bidi never reach a terminal raw."""
    out.write("[")
    for i, r in enumerate(runs):
        if i:
            out.write(", ")
        json.dump(run_json(r), out)
    out.write("]\n")


def cmd_ls(args: argparse.Namespace) -> int:
    api = open_api(args.store)
    if api is None:
        return 1
    runs = api.runs(project=args.project, per_page=200, archived=getattr(args, "archived", False))
    if args.json:
        write_json(runs, sys.stdout)
        return 0
    runs = list(runs)
    if not runs:
        where = f" in project {sanitize(args.project)!s}" if args.project else ""
        print(f"no runs{where} in {sanitize(api.dir)}")
        return 0
    if rich_ok():
        _print_rich(runs)
        return 0
    header, rows = ls_rows(runs)
    print(plain_table(header, rows, right=lambda i: i >= 6))
    return 0
