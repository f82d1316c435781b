"""``tracker-tui export``: runs' metric history as CSV or JSON lines, for scripts.

JSON lines are ASCII (``json.dumps``), so names with control characters arrive escaped and
exact. CSV has no escaping of its own: run names and metric names go through
:func:`~tracker.tui.text.sanitize`, so a hostile name cannot drive the terminal the CSV is
printed on; a text cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return: OWASP's rule) gets a leading ``'``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from typing import Any, TextIO

from tracker.tui.cli._common import find_runs, open_api
from tracker.tui.fmt import json_safe, nonfinite
from tracker.tui.text import sanitize


def configure(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("export", help="write runs' metric history as CSV or JSON lines")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run id (or a unique prefix of an id or name)")
    p.add_argument("--format", "-f", choices=["csv", "jsonl"], default="csv")
    p.add_argument("--keys", "-k", help="comma-separated metric names (default: all)")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout (with --media: a directory)")
    p.add_argument("--media", metavar="KEY", help="write media KEY's values as files (tables CSV, images PNG) into -o DIR")
    p.set_defaults(func=cmd_export)
    return p


def cmd_export(args: argparse.Namespace) -> int:
    api = open_api(args.store)
    if api is None:
        return 1
    runs = find_runs(api, args.runs)
    if runs is None:
        return 1
    if args.media is not None:
        from tracker.tui.cli.export_media import export_media

        return export_media(runs, args.media, args.output or ".")
    keys = [k for k in args.keys.split(",") if k] if args.keys else None
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    try:
        if args.format == "jsonl":
            write_jsonl(out, runs, keys)
        else:
            write_csv(out, runs, keys)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def write_jsonl(out: TextIO, runs: list[Any], keys: list[str] | None) -> None:
    """One strict-JSON object per point row: ``run_id``, ``_step``, ``_timestamp`` and the values."""
    for r in runs:
        for row in r.history(keys, pandas=False):
            out.write(json.dumps({"run_id": r.id, **json_safe(row)}) + "\n")


def write_csv(out: TextIO, runs: list[Any], keys: list[str] | None) -> None:
    """A header (``run_id``, ``run_name``, ``_step``, ``_timestamp``, the metrics sorted) and one
    row per step per run; a metric a step lacks is an empty cell."""
    histories = [(r, r.history(keys, pandas=False)) for r in runs]
    cols = sorted({k for _, h in histories for row in h for k in row if not k.startswith("_")})
    w = csv.writer(out)
    w.writerow(["run_id", "run_name", "_step", "_timestamp", *(csv_text(k) for k in cols)])
    for r, h in histories:
        for row in h:
            w.writerow([r.id, csv_text(r.name), row["_step"], f"{row['_timestamp']:.6f}",
                        *[csv_value(row.get(k)) for k in cols]])


def csv_value(v: Any) -> str:
    """A value for a CSV cell: ``repr`` of floats (round-trips), ``nan``/``inf``/``-inf``, empty for none."""
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return nonfinite(v)
        return repr(v)
    if isinstance(v, (bool, int)):
        return str(v)
    return csv_text(v)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(v: Any) -> str:
    """Stored text for a CSV cell: sanitised for the terminal, and never a spreadsheet formula."""
    text = sanitize(v)
    return "'" + text if text.startswith(FORMULA_START) else text
