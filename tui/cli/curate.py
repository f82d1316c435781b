"""``tracker-tui rm|restore|archive|rename|tag|note|mv|purge``: curate runs from the shell.

``rm`` moves runs to the trash (a tombstone: every reader leaves them out, their points stay);
``restore`` takes them back out; ``purge --older-than 30d`` deletes trashed runs for good and
says how much space that freed. A run being written (running, with a live heartbeat) is not
moved to the trash without ``--force``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from typing import Any

from tracker.tui.cli._common import open_api
from tracker.tui.text import sanitize

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _sub(sub: Any, name: str, help: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help)
    p.set_defaults(func=func)
    return p


def configure(sub: Any) -> list[argparse.ArgumentParser]:
    rm = _sub(sub, "rm", "move runs to the trash (restorable until purged)", cmd_rm)
    rm.add_argument("runs", nargs="+", metavar="RUN")
    rm.add_argument("--force", action="store_true", help="also runs that are still being written")
    rs = _sub(sub, "restore", "take runs out of the trash", cmd_restore)
    rs.add_argument("runs", nargs="+", metavar="RUN")
    ar = _sub(sub, "archive", "hide runs from listings (ls --archived shows them)", cmd_archive)
    ar.add_argument("runs", nargs="+", metavar="RUN")
    ar.add_argument("--undo", action="store_true", help="unarchive them")
    rn = _sub(sub, "rename", "give a run a new name", cmd_rename)
    rn.add_argument("run", metavar="RUN")
    rn.add_argument("name", metavar="NAME")
    tg = _sub(sub, "tag", "add (+t) or remove (-t) tags of a run", cmd_tag)
    tg.add_argument("run", metavar="RUN")
    # REMAINDER: "-t" is a change here, not an option (options go before RUN).
    tg.add_argument("changes", nargs=argparse.REMAINDER, metavar="+TAG|-TAG")
    nt = _sub(sub, "note", "set a run's notes ('' clears them)", cmd_note)
    nt.add_argument("run", metavar="RUN")
    nt.add_argument("text", metavar="TEXT")
    mv = _sub(sub, "mv", "move a run to another project", cmd_mv)
    mv.add_argument("run", metavar="RUN")
    mv.add_argument("project", metavar="PROJECT")
    pg = _sub(sub, "purge", "delete runs in the trash for good, freeing their space", cmd_purge)
    pg.add_argument("--older-than", default="30d", metavar="AGE",
                    help="only runs trashed at least this long ago: 30d, 12h, 90m, 0s (default 30d)")
    pg.add_argument("--dry-run", action="store_true", help="list what would be purged")
    return [rm, rs, ar, rn, tg, nt, mv, pg]


def _runs(args: argparse.Namespace, refs: list[str], *, deleted: bool = False) -> tuple[Any, list[Any]] | None:
    from tracker.store import RunNotFound

    api = open_api(args.store)
    if api is None:
        return None
    try:
        return api.store, [api.store.run(r, deleted=deleted) for r in refs]
    except RunNotFound as e:
        print(sanitize(e), file=sys.stderr)
        return None


def _label(r: Any) -> str:
    return f"{sanitize(r.id)} ({sanitize(r.name)})"


def cmd_rm(args: argparse.Namespace) -> int:
    from tracker.store.curate import trash

    found = _runs(args, args.runs)
    if found is None:
        return 1
    store, runs = found
    live = [r for r in runs if r.state == "running"]
    if live and not args.force:
        for r in live:
            print(f"tracker-tui: {_label(r)} is being written (running); pass --force to trash it anyway",
                  file=sys.stderr)
        return 1
    trash(store, [r.rid for r in runs])
    for r in runs:
        print(f"trashed {_label(r)}")
    print(f"{len(runs)} run(s) moved to the trash; tracker-tui restore RUN brings one back")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from tracker.store.curate import restore

    found = _runs(args, args.runs, deleted=True)
    if found is None:
        return 1
    store, runs = found
    restore(store, [r.rid for r in runs])
    for r in runs:
        print(f"restored {_label(r)}")
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    from tracker.store.curate import set_archived

    found = _runs(args, args.runs)
    if found is None:
        return 1
    store, runs = found
    set_archived(store, [r.rid for r in runs], not args.undo)
    for r in runs:
        print(f"{'unarchived' if args.undo else 'archived'} {_label(r)}")
    return 0


def _edit(args: argparse.Namespace, fields: Callable[[Any], dict[str, Any]], done: str) -> int:
    from tracker.store.curate import set_fields

    found = _runs(args, [args.run])
    if found is None:
        return 1
    store, (run,) = found
    set_fields(store, run.rid, fields(run))
    print(f"{done} {sanitize(run.id)}")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    if not args.name.strip():
        print("tracker-tui: a run's name cannot be empty", file=sys.stderr)
        return 2
    return _edit(args, lambda r: {"name": args.name}, "renamed")


def _new_tags(tags: list[str], changes: list[str]) -> list[str] | str:
    out = list(tags)
    if not changes:
        return "tracker-tui: tag RUN +TAG|-TAG...: give at least one change"
    for ch in changes:
        if len(ch) < 2 or ch[0] not in "+-" or ch.startswith("--"):
            return f"tracker-tui: {sanitize(ch)!r} is not +TAG or -TAG (options go before RUN)"
        tag = ch[1:]
        if ch[0] == "+" and tag not in out:
            out.append(tag)
        elif ch[0] == "-":
            out = [t for t in out if t != tag]
    return out


def cmd_tag(args: argparse.Namespace) -> int:
    bad = _new_tags([], args.changes)
    if isinstance(bad, str):
        print(bad, file=sys.stderr)
        return 2
    return _edit(args, lambda r: {"tags": json.dumps(_new_tags(r.tags, args.changes))}, "tagged")


def cmd_note(args: argparse.Namespace) -> int:
    return _edit(args, lambda r: {"notes": args.text or None}, "noted")


def cmd_mv(args: argparse.Namespace) -> int:
    if not args.project.strip():
        print("tracker-tui: a project name cannot be empty", file=sys.stderr)
        return 2
    return _edit(args, lambda r: {"project": args.project}, f"moved to {sanitize(args.project)}:")


def human_bytes(n: int) -> str:
    """``n`` bytes as ``512 B`` / ``3.2 KiB`` / ``41.0 MiB``."""
    size, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            break
        size /= 1024
    return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"


def parse_age(s: str) -> float | None:
    """``30d`` / ``12h`` / ``90m`` / ``45s`` / ``2w`` in seconds, or None when it is none of those."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", s)
    return None if m is None else float(m.group(1)) * _UNITS[m.group(2) or "s"]


def cmd_purge(args: argparse.Namespace) -> int:
    from tracker.store.curate import purge, trashed

    age = parse_age(args.older_than)
    if age is None:
        print(f"tracker-tui: --older-than {sanitize(args.older_than)!r}: give an age like 30d, 12h, 90m or 0s",
              file=sys.stderr)
        return 2
    api = open_api(args.store)
    if api is None:
        return 1
    runs = trashed(api.store, age)
    for _, rid, name in runs:
        print(f"{'would purge' if args.dry_run else 'purged'} {sanitize(rid)} ({sanitize(name)})")
    if args.dry_run:
        print(f"{len(runs)} run(s) in the trash for longer than {sanitize(args.older_than)}")
        return 0
    freed = purge(api.store, runs)
    print(f"purged {len(runs)} run(s); freed {human_bytes(freed)}")
    return 0
