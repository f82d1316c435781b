"""``tracker-tui demo``: the app on a freshly seeded demo store with two live simulated trainings."""

from __future__ import annotations

import argparse
import time
from typing import Any

from tracker.tui.cli._common import interactive
from tracker.tui.cli.ls import cmd_ls


def configure(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="open the app on a demo store with two live simulated trainings")
    p.add_argument("--images", choices=("halfblock", "kitty", "sixel"), default=argparse.SUPPRESS,
                   help="how the Media tab draws images (as tracker-tui --images)")
    p.set_defaults(func=cmd_demo)
    return p


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed the demo store, start two live trainings, open the app; stop them on quit."""
    from tracker.tui.demo import demo_dir, seed, start_live, stop_live

    d = demo_dir(args.store)
    print(f"tracker-tui demo: seeding a demo store in {d} (rebuilt each time; delete it with: rm -rf {d})")
    seed(d)
    procs = start_live(d, 2)
    try:
        if interactive():
            from tracker.tui.app import make_app

            make_app(d, poll_interval=args.poll, refresh_hz=args.refresh_hz,
                     low_bandwidth=getattr(args, "low_bandwidth", None),
                     images=getattr(args, "images", None)).run()
        else:
            time.sleep(1.5)  # let the live runs register
            args.store, args.project, args.json = str(d), None, False
            cmd_ls(args)
    finally:
        stop_live(procs)
    return 0
