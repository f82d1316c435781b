"""The ``tracker-tui`` command.

    tracker-tui [--store DIR]                 the full-screen app (a plain listing when piped)
    tracker-tui demo                          the app on a demo store with two live trainings
    tracker-tui ls [--project P] [--json]
    tracker-tui diff RUN RUN [RUN...] [--all]
    tracker-tui export RUN... [--format csv|jsonl] [--keys k1,k2] [-o FILE]

Output for people is a table (Rich on a terminal, plain aligned text when piped); ``--json``
and ``export`` are for scripts. Every string from the store is sanitised before it is printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from tracker.tui import fmt
from tracker.tui.fmt import json_safe
from tracker.tui.text import sanitize


def _rich_ok() -> bool:
    """Colour and layout for people only on a real terminal that can take them."""
    return sys.stdout.isatty() and os.environ.get("TERM", "") not in ("dumb", "")


def _api(store: str | None) -> Any:
    from tracker.api import Api

    return Api(store)


def _run_json(r: Any) -> dict[str, Any]:
    return json_safe({
        "id": r.id, "name": r.name, "project": r.project, "state": r.state, "group": r.group,
        "job_type": r.job_type, "tags": r.tags, "notes": r.notes, "created_at": r.created_at,
        "updated_at": r.updated_at, "finished_at": r.finished_at, "runtime": r.runtime,
        "exit_code": r.exit_code, "host": r.host, "user": r.user, "last_step": r.last_step,
        "git": r.git, "config": r.config, "summary": r.summary,
    })


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


def cmd_ls(args: argparse.Namespace) -> int:
    api = _api(args.store)
    if api.store is None:
        print(f"tracker-tui: no store at {api.dir} (pass --store DIR or set TRACKER_DIR)", file=sys.stderr)
        return 1
    runs = api.runs(project=args.project)
    if args.json:
        json.dump([_run_json(r) for r in runs], sys.stdout)  # ASCII: C1 / bidi never reach a terminal raw
        sys.stdout.write("\n")
        return 0
    if not runs:
        where = f" in project {sanitize(args.project)!s}" if args.project else ""
        print(f"no runs{where} in {api.dir}")
        return 0
    if _rich_ok():
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
        return 0
    header, rows = ls_rows(runs)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    for line in [header, *rows]:
        print("  ".join(c.ljust(w) if i < 6 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))).rstrip())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tracker.store import RunNotFound

    api = _api(args.store)
    if api.store is None:
        print(f"tracker-tui: no store at {api.dir} (pass --store DIR or set TRACKER_DIR)", file=sys.stderr)
        return 1
    try:
        runs = [api.run(r) for r in args.runs]
    except RunNotFound as e:
        print(sanitize(e), file=sys.stderr)
        return 1
    keys = [k for k in args.keys.split(",") if k] if args.keys else None
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    try:
        if args.format == "jsonl":
            for r in runs:
                for row in r.history(keys):
                    rec = {"run_id": r.id, **json_safe(row)}
                    out.write(json.dumps(rec) + "\n")
        else:
            histories = [(r, r.history(keys)) for r in runs]
            cols: list[str] = []
            seen: set[str] = set()
            for _, h in histories:
                for row in h:
                    for k in row:
                        if k not in seen and not k.startswith("_"):
                            seen.add(k)
                            cols.append(k)
            cols.sort()
            w = csv.writer(out)
            w.writerow(["run_id", "run_name", "_step", "_timestamp", *cols])
            for r, h in histories:
                for row in h:
                    w.writerow([r.id, r.name, row["_step"], f"{row['_timestamp']:.6f}",
                                *[_fmt_csv(row.get(k)) for k in cols]])
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _fmt_csv(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    return str(v)


def cmd_diff(args: argparse.Namespace) -> int:
    """Config diff and metrics of 2+ runs: a Rich table on a terminal, plain text when piped."""
    from tracker.store import RunNotFound
    from tracker.tui.diff import MISSING, best_index, config_diff, fmt_value

    api = _api(args.store)
    if api.store is None:
        print(f"tracker-tui: no store at {api.dir} (pass --store DIR or set TRACKER_DIR)", file=sys.stderr)
        return 1
    if len(args.runs) < 2:
        print("tracker-tui diff: give two or more runs", file=sys.stderr)
        return 2
    try:
        runs = [api.run(r) for r in args.runs]
    except RunNotFound as e:
        print(sanitize(e), file=sys.stderr)
        return 1
    rows = config_diff([r.config for r in runs], only_different=not args.all)
    marks = {"changed": "~", "added": "+", "removed": "-", "same": " "}
    header = ["", "key", *[f"{sanitize(r.name)} ({r.id})" for r in runs]]
    body = [[marks[row.status], sanitize(row.key), *[sanitize(fmt_value(v)) for v in row.values]] for row in rows]
    metric_keys = sorted({k for r in runs for k in r.summary if args.all or not k.startswith("system/")})
    mbody = []
    for k in metric_keys:
        vals = [r.summary.get(k, MISSING) for r in runs]
        b = best_index([None if v is MISSING else v for v in vals], k)
        mbody.append(["", sanitize(k), *[sanitize(fmt_value(v)) + (" *" if i == b else "") for i, v in enumerate(vals)]])
    if _rich_ok():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        styles = {"~": "yellow", "+": "green", "-": "red"}
        console = Console()
        for title, data in (("config" + ("" if args.all else " (differences)"), body), ("metrics (* best)", mbody)):
            t = Table(title=Text(title, style="bold"), box=None, pad_edge=False, header_style="bold")
            for i, h in enumerate(header):
                t.add_column(Text(h), no_wrap=i < 2, justify="left" if i < 2 else "right")
            for row in data:
                cells = [Text(c) for c in row]
                if row[0] in styles:
                    for c in cells:
                        c.stylize(styles[row[0]])
                for c in cells[2:]:
                    if c.plain.endswith(" *"):
                        c.stylize("bold green")
                t.add_row(*cells)
            console.print(t)
        if not body:
            console.print(Text("configs are identical", style="dim"))
        return 0
    for title, data in (("config" + ("" if args.all else " (differences)"), body), ("metrics (* best)", mbody)):
        print(f"# {title}")
        if not data:
            print("(identical)" if title.startswith("config") else "(none)")
            continue
        widths = [max(len(h), *(len(r[i]) for r in data)) for i, h in enumerate(header)]
        for line in [header, *data]:
            print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
    return 0


def _interactive() -> bool:
    return sys.stdout.isatty() and sys.stdin.isatty() and os.environ.get("TERM", "dumb") not in ("dumb", "")


def cmd_app(args: argparse.Namespace) -> int:
    """Open the full-screen app (or print the plain listing when not on a terminal)."""
    if not _interactive():
        args.project, args.json = None, False
        return cmd_ls(args)
    from tracker.tui.app import make_app

    make_app(args.store, poll_interval=args.poll, refresh_hz=args.refresh_hz).run()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed the demo store, start two live trainings, open the app; stop them on quit."""
    from tracker.tui.demo import demo_dir, seed, start_live, stop_live

    d = demo_dir(args.store)
    print(f"tracker-tui demo: seeding a demo store in {d} (rebuilt each time; delete it with: rm -rf {d})")
    seed(d)
    procs = start_live(d, 2)
    try:
        if _interactive():
            from tracker.tui.app import make_app

            make_app(d, poll_interval=args.poll, refresh_hz=args.refresh_hz).run()
        else:
            time.sleep(1.5)  # let the live runs register
            args.store, args.project, args.json = str(d), None, False
            cmd_ls(args)
    finally:
        stop_live(procs)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tracker-tui", description="Local-first experiment tracker for the terminal.")
    p.add_argument("--store", metavar="DIR", help="store directory (default: $TRACKER_DIR, then ~/.tracker)")
    p.add_argument("--poll", type=float, default=None, metavar="SECONDS",
                   help="poll the store every SECONDS instead of watching file events "
                        "(automatic when events are unavailable, e.g. on network filesystems)")
    p.add_argument("--refresh-hz", type=float, default=None, metavar="HZ",
                   help="most live screen updates per second (default 4 over SSH, else 10)")
    sub = p.add_subparsers(dest="cmd")
    demo = sub.add_parser("demo", help="open the app on a demo store with two live simulated trainings")
    demo.set_defaults(func=cmd_demo)
    df = sub.add_parser("diff", help="config diff and metrics of two or more runs")
    df.add_argument("runs", nargs="+", metavar="RUN")
    df.add_argument("--all", action="store_true", help="show every config key, not only differences")
    df.set_defaults(func=cmd_diff)
    ls = sub.add_parser("ls", help="list runs")
    ls.add_argument("--project", "-p", help="only this project's runs")
    ls.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    ls.set_defaults(func=cmd_ls)
    ex = sub.add_parser("export", help="write runs' metric history as CSV or JSON lines")
    ex.add_argument("runs", nargs="+", metavar="RUN", help="run id (or a unique prefix of an id or name)")
    ex.add_argument("--format", "-f", choices=["csv", "jsonl"], default="csv")
    ex.add_argument("--keys", "-k", help="comma-separated metric names (default: all)")
    ex.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    ex.set_defaults(func=cmd_export)
    tl = sub.add_parser("tail", help="follow a run's metrics as they are logged")
    from tracker.tui.cli.tail import configure_parser as _tail_parser

    _tail_parser(tl)
    for sp in (ls, ex, demo, df, tl):
        sp.add_argument("--store", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if sp is not tl:  # tail has its own --poll
            sp.add_argument("--poll", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.add_argument("--refresh-hz", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from tracker.store import StoreError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.cmd is None:
        args.func = cmd_app
    try:
        return int(args.func(args))
    except StoreError as e:
        print(sanitize(e), file=sys.stderr)
        return 1
    except BrokenPipeError:  # `tracker-tui ls | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0

