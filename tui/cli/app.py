"""``tracker-tui`` with no command: the full-screen app, or the plain listing when not on a terminal.

The only command module that imports Textual, and only once it knows a terminal is there.
"""

from __future__ import annotations

import argparse

from tracker.tui.cli._common import interactive
from tracker.tui.cli.ls import cmd_ls


def cmd_app(args: argparse.Namespace) -> int:
    """Open the full-screen app (or print the plain listing when not on a terminal)."""
    if not interactive():
        args.project, args.json = None, False
        return cmd_ls(args)
    from tracker.tui.app import make_app

    make_app(args.store, poll_interval=args.poll, refresh_hz=args.refresh_hz,
             low_bandwidth=getattr(args, "low_bandwidth", None),
             images=getattr(args, "images", None)).run()
    return 0
