"""``tracker-tui import``: bring runs from other trackers into the store.

    tracker-tui import PATH... [--format wandb|tensorboard|mlflow|trackio] [--follow] [--store DIR]

Each PATH is walked; what is found is recognised by its files (or taken as ``--format``). Every
run found becomes one run of the store, with a stable id derived from where it came from:
importing again adds only what is new (nothing, for an unchanged source). On a terminal a
progress bar runs on stderr; the summary (one line per run, then totals and the records skipped
with why) goes to stdout. Names and messages from other tools are sanitised before printing.

``--follow`` keeps going: every ``--interval`` seconds, sources whose files changed are imported
again (only what is new) and runs that appear under the paths are added, one line per change,
until Ctrl-C or SIGTERM; then the totals. A wandb offline run or a TensorBoard log still being
written shows up live in the app this way.

Exit status: 0 when everything was read; 1 when a path or a run could not be read, or records
were skipped as unreadable (the rest is imported); 2 for usage errors; 130 when Ctrl-C stopped
a plain import (what was committed stays, and the next import carries on from there).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from tracker.tui.cli._common import plain_table
from tracker.tui.text import sanitize

#: The formats ``tracker.store.importers`` reads (named here so that building the parser, which
#: every ``tracker-tui`` command does, imports none of the readers; a test keeps them equal).
FORMATS = ("wandb", "tensorboard", "mlflow", "trackio")
EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_INTERRUPTED = 130


def configure(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "import", help=f"import runs from other trackers ({', '.join(FORMATS)})",
        description="Import runs from other trackers into the store; importing again adds only what is new.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="a file or folder to import (folders are walked)")
    p.add_argument("--format", "-f", choices=FORMATS, default=None, help="only this format (default: detect)")
    p.add_argument("--follow", action="store_true",
                   help="keep importing what the sources gain (and runs that appear) until Ctrl-C")
    p.add_argument("--interval", type=float, default=0.5, metavar="SECONDS",
                   help="with --follow: how often to look for changes (default 0.5)")
    p.set_defaults(func=cmd_import)
    return p


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.points = 0
        self.on = sys.stderr.isatty() and total > 0

    def update(self, points: int) -> None:
        if not self.on:
            return
        width = 24
        fill = width * self.done // max(1, self.total)
        bar = "#" * fill + "." * (width - fill)
        sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} runs  {self.points + points:,} points ")
        sys.stderr.flush()

    def finish_one(self, points: int) -> None:
        self.done += 1
        self.points += points
        self.update(0)

    def close(self) -> None:
        if self.on:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _status(r: Any) -> str:
    if r.error:
        return "error"
    if r.created:
        return "new"
    return "updated" if r.changed else "unchanged"


def cmd_import(args: argparse.Namespace) -> int:
    from tracker.store import Store
    from tracker.store.importers import Importer

    if args.follow and not args.interval > 0:
        print("tracker-tui import: --interval must be a positive number of seconds", file=sys.stderr)
        return 2
    problems: list[str] = []
    sources = _find(args, problems)
    store = Store(args.store)
    try:
        imp = Importer(store)
        bar = Progress(len(sources))
        results = []
        try:
            for src in sources:
                r = imp.run(src, bar.update)
                bar.finish_one(r.points)
                results.append(r)
        except KeyboardInterrupt:  # whole batches are in; the next import carries on
            bar.close()
            print_summary(results, problems)
            print("tracker-tui import: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            bar.close()
        if args.follow:
            print_summary(results, problems)
            results, problems = follow(args, imp, results)
            print("stopped following")
    finally:
        store.close()
    print_summary(results, problems)
    bad = problems or any(r.error or r.skipped for r in results)
    return EXIT_INCOMPLETE if bad else EXIT_OK


def _find(args: argparse.Namespace, problems: list[str]) -> list[Any]:
    from tracker.store.importers import SourceError, find_sources

    sources = []
    for path in args.paths:
        try:
            sources += find_sources(path, args.format, on_error=problems.append)
        except SourceError as e:
            problems.append(str(e))
    return sources


def _signature(path: str) -> tuple[Any, ...]:
    """What changes when a source grows: sizes and times of its file (and SQLite's -wal) or of
    the files in its folder."""
    import os

    out = []
    paths = [path, path + "-wal"] if os.path.isfile(path) else [
        os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        out.append((p, st.st_size, st.st_mtime_ns))
    return tuple(out)


def follow(args: argparse.Namespace, imp: Any, results: list[Any]) -> tuple[list[Any], list[str]]:
    """Re-import every source that changed, and runs that appear under the paths, every
    ``--interval`` seconds until SIGINT/SIGTERM. Each transaction is whole, so stopping at any
    moment leaves whole batches and their cursor. Returns the totals per run and the problems
    of the last look."""
    import signal
    import time

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    by_id = {r.run_id: r for r in results}
    seen: dict[str, tuple[Any, ...]] = {}  # first look: every source once (it may have grown meanwhile)
    problems: list[str] = []
    try:
        while True:
            time.sleep(args.interval)
            problems = []
            for src in _find(args, problems):
                sig = _signature(src.path)
                if seen.get(src.run_id) == sig:
                    continue
                seen[src.run_id] = sig
                r = imp.run(src)
                _merge(by_id, r)
                if r.points or r.events or r.error:
                    what = f"error: {sanitize(r.error)}" if r.error else f"+{r.points:,} points, +{r.events:,} events"
                    print(f"{_status(r)} {r.run_id} {sanitize(r.name or src.label)}: {what}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old)
    return list(by_id.values()), problems


def _merge(by_id: dict[str, Any], r: Any) -> None:
    """Add a follow-up import's counts to the run's running totals."""
    prev = by_id.get(r.run_id)
    if prev is None:
        by_id[r.run_id] = r
        return
    prev.points += r.points
    prev.events += r.events
    prev.skipped.update(r.skipped)
    prev.changed = prev.changed or r.changed
    prev.error = r.error
    prev.name, prev.project = r.name or prev.name, r.project or prev.project
    prev.notes = r.notes or prev.notes


def print_summary(results: list[Any], problems: list[str]) -> None:
    """One line per run, the totals, and what could not be read (sanitised: it is other tools' text)."""
    if results:
        rows = [[_status(r), r.run_id, sanitize(r.source.format), sanitize(r.project), sanitize(r.name or r.source.label),
                 f"{r.points:,}", str(sum(r.skipped.values()) or "")] for r in results]
        print(plain_table(["STATUS", "ID", "FORMAT", "PROJECT", "NAME", "NEW POINTS", "SKIPPED"], rows,
                          right=lambda i: i >= 5))
    states = Counter(_status(r) for r in results)
    points = sum(r.points for r in results)
    events = sum(r.events for r in results)
    parts = ", ".join(f"{states[s]} {s}" for s in ("new", "updated", "unchanged", "error") if states[s])
    print(f"{len(results)} runs ({parts or 'none'}), {points:,} new points, {events:,} new events")
    skipped: Counter[str] = Counter()
    for r in results:
        skipped.update(r.skipped)
    for why, n in sorted(skipped.items()):
        print(f"skipped {n:,} unreadable record{'s' if n != 1 else ''}: {sanitize(why)}")
    for r in results:
        for note in dict.fromkeys(r.notes):
            print(f"note: {sanitize(r.source.label)}: {sanitize(note)}")
    for r in results:
        if r.error:
            print(f"tracker-tui import: {sanitize(r.source.label)}: {sanitize(r.error)}", file=sys.stderr)
    for p in problems:
        print(f"tracker-tui import: {sanitize(p)}", file=sys.stderr)
