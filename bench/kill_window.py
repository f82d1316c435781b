"""What does kill -9 of a flat-out logging loop lose?

A child process logs as fast as it can (``run.log({...}, step=s)`` in a bare loop, N values per
call) and acknowledges every returned call by appending ``step monotonic_time`` to a file with one
``os.write`` (it survives SIGKILL). After a random 0.8-1.5 s it is killed with SIGKILL. Then:

- calls lost: acknowledged calls whose step is not in the store;
- seconds lost: kill time minus the acknowledgement time of the oldest lost call (the age of the
  oldest call the store did not have) -- the README promises about a quarter second.

Also prints the loop's speed (calls/s: a loop faster than the store is slowed to its pace).

Usage: python bench/kill_window.py [--trials 5] [--values 1 10 100 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

CHILD = textwrap.dedent("""
    import os, sys, time
    import tracker

    store, acks, nkeys = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run = tracker.init(project="window", dir=store, capture_git=False, system_interval=None)
    fd = os.open(acks, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.write(fd, f"ready {run.id}\\n".encode())
    keys = [f"m{j}" for j in range(nkeys)]
    s = 0
    while True:
        run.log({k: s + j / 1000 for j, k in enumerate(keys)}, step=s)
        os.write(fd, b"%d %.6f\\n" % (s, time.monotonic()))
        s += 1
""")


def acks(path: str) -> tuple[str, list[tuple[int, float]]]:
    run_id, out = "", []
    with open(path) as f:
        for line in f:
            a, _, b = line.strip().partition(" ")
            if a == "ready":
                run_id = b
            elif b:
                try:
                    out.append((int(a), float(b)))
                except ValueError:
                    pass
    return run_id, out


def trial(nkeys: int, rng: random.Random) -> tuple[int, int, float, float]:
    """(calls acknowledged, calls lost, seconds lost, calls/s of the loop)."""
    d = tempfile.mkdtemp(prefix="bench-kill-")
    try:
        child, ack = os.path.join(d, "child.py"), os.path.join(d, "acks")
        with open(child, "w") as f:
            f.write(CHILD)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        p = subprocess.Popen([sys.executable, child, os.path.join(d, "s"), ack, str(nkeys)], env=env)
        deadline = time.monotonic() + 60
        while not (os.path.exists(ack) and os.path.getsize(ack) > 2000):
            if p.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the child did not start")
            time.sleep(0.01)
        time.sleep(rng.uniform(0.8, 1.5))  # the kill comes at a random moment
        t_kill = time.monotonic()
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        run_id, acked = acks(ack)
        c = sqlite3.connect(f"file:{d}/s/tracker.db?mode=ro", uri=True)
        stored = c.execute("SELECT count(DISTINCT step) FROM metrics m JOIN runs r USING (rid) WHERE r.id = ?",
                           (run_id,)).fetchone()[0]
        c.close()
        lost = [(s, t) for s, t in acked if s >= stored]
        rate = len(acked) / (acked[-1][1] - acked[0][1]) if len(acked) > 1 else 0.0
        return len(acked), len(lost), (t_kill - lost[0][1]) if lost else 0.0, rate
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--values", type=int, nargs="+", default=[1, 10, 100, 1000])
    a = ap.parse_args()
    rng = random.Random(9)
    print(f"kill_window: kill -9 of a flat-out log() loop, {a.trials} trials per size")
    print(f"  {'values/call':>11}  {'loop calls/s':>12}  {'calls lost (each trial)':<40} seconds lost: median / max")
    for n in a.values:
        rs = [trial(n, rng) for _ in range(a.trials)]
        secs = [r[2] for r in rs]
        lost = ", ".join(f"{r[1]:,}" for r in rs)
        print(f"  {n:>11}  {statistics.median(r[3] for r in rs):>12,.0f}  {lost:<40} "
              f"{statistics.median(secs):.3f} / {max(secs):.3f} s", flush=True)


if __name__ == "__main__":
    main()
