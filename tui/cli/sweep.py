"""``tracker-tui sweep`` and ``tracker-tui agent``: sweeps from the shell.

    tracker-tui sweep sweep.yaml [--project P]            store a sweep, print its id
    tracker-tui sweep pause|resume|stop|cancel SWEEP      change a sweep's state
    tracker-tui agent SWEEP [--count N] [--gpus 0,1,2,3]  run the sweep's program per trial

``stop`` lets running trials finish and claims no more; ``cancel`` also stops running trials.
With ``--gpus``, one agent process per GPU runs with ``CUDA_VISIBLE_DEVICES`` set to it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any

from tracker.tui.text import sanitize

ACTIONS = {"pause": "paused", "resume": "running", "stop": "stopped", "cancel": "cancelled"}


def configure(sub: Any) -> list[argparse.ArgumentParser]:
    s: argparse.ArgumentParser = sub.add_parser(
        "sweep", help="store a sweep from a YAML/JSON config (prints its id), or pause|resume|stop|cancel SWEEP")
    s.add_argument("target", metavar="CONFIG|ACTION", help="sweep.yaml, or one of pause, resume, stop, cancel")
    s.add_argument("sweep", nargs="?", metavar="SWEEP", help="the sweep id (with an action)")
    s.add_argument("--project", help="project for the sweep's runs (default: the config's, then $TRACKER_PROJECT)")
    s.set_defaults(func=cmd_sweep)
    a: argparse.ArgumentParser = sub.add_parser("agent", help="run a sweep's program for its trials")
    a.add_argument("sweep", metavar="SWEEP")
    a.add_argument("--count", type=int, default=None, help="run at most N trials (per agent)")
    a.add_argument("--gpus", default=None, help="comma-separated GPU ids: one agent per GPU (CUDA_VISIBLE_DEVICES)")
    a.set_defaults(func=cmd_agent)
    return [s, a]


def cmd_sweep(args: argparse.Namespace) -> int:
    from tracker.store import Store
    from tracker.store.sweeps import SweepConfigError, coord

    if args.target in ACTIONS:
        if not args.sweep:
            print(f"tracker-tui sweep {args.target}: give the sweep id", file=sys.stderr)
            return 2
        store = Store(args.store, create=False)
        try:
            before = coord.set_state(store, args.sweep, ACTIONS[args.target])
        except KeyError:
            print(f"tracker-tui sweep: no sweep {sanitize(args.sweep)!s} in {sanitize(store.path)}", file=sys.stderr)
            return 1
        except ValueError as e:
            print(f"tracker-tui sweep {args.target}: {sanitize(e)}", file=sys.stderr)
            return 1
        finally:
            store.close()
        print(f"sweep {sanitize(args.sweep)}: {before} -> {ACTIONS[args.target]}")
        return 0
    if args.sweep:
        print(f"tracker-tui sweep: {sanitize(args.target)!s} is not an action (pause, resume, stop, cancel)",
              file=sys.stderr)
        return 2
    from tracker._sweep import sweep

    if not os.path.isfile(args.target):
        print(f"tracker-tui sweep: no file {sanitize(args.target)}", file=sys.stderr)
        return 2
    try:
        sid = sweep(args.target, project=args.project, dir=args.store)
    except SweepConfigError as e:
        print(f"tracker-tui sweep: {sanitize(args.target)}: {sanitize(e)}", file=sys.stderr)
        return 2
    except ValueError as e:  # the file is not YAML/JSON
        print(f"tracker-tui sweep: {sanitize(e)}", file=sys.stderr)
        return 2
    print(sid)
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    if args.gpus:
        return _per_gpu(args)
    from tracker._sweep_program import run_program_agent

    try:
        n = run_program_agent(args.sweep, count=args.count, dir=args.store)
    except ValueError as e:
        print(f"tracker-tui agent: {sanitize(e)}", file=sys.stderr)
        return 1
    print(f"agent: {n} trial{'s' if n != 1 else ''} run", file=sys.stderr)
    return 0


def _per_gpu(args: argparse.Namespace) -> int:
    gpus = [g.strip() for g in str(args.gpus).split(",") if g.strip()]
    if not gpus:
        print("tracker-tui agent: --gpus needs ids such as 0,1", file=sys.stderr)
        return 2
    procs = []
    for g in gpus:
        argv = [sys.executable, "-m", "tracker.tui.cli", "agent", args.sweep]
        if args.count is not None:
            argv += ["--count", str(args.count)]
        if args.store:
            argv += ["--store", args.store]
        procs.append(subprocess.Popen(argv, env={**os.environ, "CUDA_VISIBLE_DEVICES": g}))
    try:
        codes = [p.wait() for p in procs]
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        codes = [p.wait() for p in procs]
    return max(codes, default=0)
