"""``tracker-tui doctor``: check a store's integrity, and copy what is readable out of a damaged one.

    tracker-tui doctor [--store DIR] [--quick]
    tracker-tui doctor [--store DIR] --recover NEW.db [--with auto|sqlite3|python]

The store is only read (``mode=ro``); a recovery goes into a new file, never into the store.
Exit status: 0 when the store is intact (or the recovery was written), 1 when it is damaged or
the recovery failed, 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from tracker.tui.text import sanitize


def configure(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "doctor", help="check the store's integrity; --recover copies what is readable into a new file")
    p.add_argument("--quick", action="store_true", help="PRAGMA quick_check instead of integrity_check (faster)")
    p.add_argument("--recover", metavar="NEW.db", help="write what is readable into this new file")
    p.add_argument("--with", dest="method", choices=["auto", "sqlite3", "python"], default="auto",
                   help="recover with the sqlite3 tool's .recover or a row-by-row copy (default: sqlite3 if installed)")
    p.set_defaults(func=cmd_doctor)
    return p


def cmd_doctor(args: argparse.Namespace) -> int:
    from tracker.store import DB_NAME, resolve_dir

    path = resolve_dir(args.store) / DB_NAME
    if not path.exists():
        print(f"tracker-tui doctor: no store at {sanitize(path)} (pass --store DIR or set TRACKER_DIR)",
              file=sys.stderr)
        return 1
    if args.recover:
        return _recover(path, Path(args.recover).expanduser(), args.method)
    return _check(path, args.quick)


def _check(path: Path, quick: bool) -> int:
    from tracker.store.recover import check

    c = check(path, quick=quick)
    print(f"store: {sanitize(path)}")
    if c.version is not None and c.pages is not None and c.page_size is not None:
        print(f"schema version {c.version}, {c.pages:,} pages of {c.page_size:,} bytes")
    what = "quick_check" if quick else "integrity_check"
    if c.ok:
        print(f"{what}: ok")
        return 0
    print(f"{what}: {len(c.problems)} problem{'s' if len(c.problems) != 1 else ''}"
          f"{' (the first 100)' if len(c.problems) >= 100 else ''}:")
    for line in c.problems:
        print("  " + sanitize(line))
    store = shlex.quote(str(path.parent))
    print(f"the store is damaged. Copy what is readable into a new file with:\n"
          f"  tracker-tui doctor --store {sanitize(store)} --recover NEW.db")
    return 1


def _recover(path: Path, out: Path, method: str) -> int:
    from tracker.store.recover import recover

    own = {Path(f"{path.resolve()}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")}
    if out.resolve() in own:
        print(f"tracker-tui doctor: {sanitize(out)} is the store's own file; recover into a new file elsewhere",
              file=sys.stderr)
        return 2
    try:
        rec = recover(path, out, method)
    except FileExistsError as e:
        print(f"tracker-tui doctor: {sanitize(e)}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, ValueError) as e:
        print(f"tracker-tui doctor: the recovery failed: {sanitize(e)}", file=sys.stderr)
        return 1
    except Exception as e:  # sqlite3.Error from a copy beyond repair: say so, no traceback
        print(f"tracker-tui doctor: the recovery failed: {type(e).__name__}: {sanitize(e)}", file=sys.stderr)
        return 1
    print(f"recovered {sanitize(path)} into {sanitize(out)} with {rec.method}")
    for table, n in sorted(rec.rows.items()):
        print(f"  {sanitize(table)}: {n:,} rows")
    for line in rec.skipped:
        print("  " + sanitize(line))
    print(f"integrity_check of the copy: {sanitize(rec.integrity)}")
    d = shlex.quote(str(path.parent))
    print("to use it: stop every process writing to the store, move the damaged files aside "
          f"(mv {sanitize(d)}/{path.name} {sanitize(d)}/{path.name}.damaged, and its -wal/-shm if any), then "
          f"mv {sanitize(shlex.quote(str(out)))} {sanitize(d)}/{path.name}")
    return 0
