"""The ``tracker-tui`` command: argument parsing and dispatch; each command is its own module.

    tracker-tui [--store DIR] [--low-bandwidth]  the full-screen app (a plain listing when piped) app.py
                [--images kitty|sixel]        Media tab images as terminal graphics (default half-blocks)
    tracker-tui demo                          the app on a demo store with two live trainings    demo.py
    tracker-tui ls [--project P] [--json]                                                        ls.py
    tracker-tui diff RUN RUN [RUN...] [--all]                                                    diff.py
    tracker-tui export RUN... [--format csv|jsonl] [--keys k1,k2] [-o FILE]                      export.py
    tracker-tui tail RUN | --latest [-n N] [--keys k1,k2]                                        tail.py
    tracker-tui doctor [--quick] [--recover NEW.db]            check the store / copy it out  doctor.py
    tracker-tui artifact ls|show|download|promote|rm|prune|gc|diff     artifact versions  artifact.py
    tracker-tui rm RUN... [--force] | restore RUN... | archive RUN... [--undo]                 curate.py
    tracker-tui rename RUN NAME | tag RUN +t -t | note RUN TEXT | mv RUN PROJECT              curate.py
    tracker-tui purge [--older-than 30d] [--dry-run]   delete trashed runs for good        curate.py
    tracker-tui sweep sweep.yaml | pause|resume|stop|cancel SWEEP; agent SWEEP [--gpus 0,1]     sweep.py

Output for people is a table (Rich on a terminal, plain aligned text when piped); ``--json``,
``export`` and piped ``tail`` are for scripts. Every string from the store is sanitised before it
is printed. Only the app imports Textual (``tracker-tui ls`` never does).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tracker.tui.cli import artifact, curate, demo, diff, doctor, export, import_, ls, sweep, tail
from tracker.tui.cli.app import cmd_app
from tracker.tui.text import sanitize

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tracker-tui", description="Local-first experiment tracker for the terminal.")
    p.add_argument("--store", metavar="DIR", help="store directory (default: $TRACKER_DIR, then ~/.tracker)")
    p.add_argument("--poll", type=float, default=None, metavar="SECONDS",
                   help="poll the store every SECONDS instead of watching file events "
                        "(automatic when events are unavailable, e.g. on network filesystems)")
    p.add_argument("--refresh-hz", type=float, default=None, metavar="HZ",
                   help="most live screen updates per second (default 4 over SSH, else 10)")
    p.add_argument("--low-bandwidth", action=argparse.BooleanOptionalAction, default=None,
                   help="for slow links: redraw runs off the cursor and sparklines less often (keys are "
                        "still answered at once); on by default over SSH, --no-low-bandwidth turns it off")
    p.add_argument("--images", choices=("halfblock", "kitty", "sixel"), default=None,
                   help="how the app's Media tab draws images: halfblock cells (default; $TRACKER_IMAGES), or "
                        "kitty / sixel terminal graphics (needs: pip install 'tracker-tui[images]')")
    sub = p.add_subparsers(dest="cmd")
    subs = [demo.configure(sub), diff.configure(sub), ls.configure(sub), export.configure(sub), doctor.configure(sub),
            import_.configure(sub), artifact.configure(sub)]
    subs += sweep.configure(sub)  # sweep, agent
    subs += curate.configure(sub)  # rm, restore, archive, rename, tag, note, mv, purge
    tl = tail.configure(sub)  # with its own --poll
    # The global options also after the command (``tracker-tui ls --store DIR``); SUPPRESS keeps
    # a value given before the command when it is not repeated after it.
    for sp in [*subs, tl]:
        sp.add_argument("--store", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if sp is not tl:
            sp.add_argument("--poll", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.add_argument("--refresh-hz", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from tracker.store import StoreError

    args = build_parser().parse_args(argv)
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
