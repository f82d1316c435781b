"""How much memory does a logging process take while the store refuses writes?

A child process logs 1,000-value dicts as fast as it can while another process holds the store's
write lock (``BEGIN IMMEDIATE``) for --hold seconds. The child's RSS is sampled every 0.1 s. The
logger keeps calls in memory up to its budget (``TRACKER_MAX_QUEUE_MB``, default 256 MB), then
``log()`` pauses and says why; after the lock is released every call is written. Printed: RSS at
start and peak, the budget, when the first pause message came and how many followed, how long the
backlog took to write after the release, and whether every call was stored.

Usage: python bench/queue_memory.py [--hold 15] [--budget-mb 256] [--values 1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time

CHILD = textwrap.dedent("""
    import os, sys, time
    import tracker

    store, flags, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run = tracker.init(project="memory", dir=store, capture_git=False, system_interval=None)
    run.log({"x": 0.0})

    open(flags + "/ready", "w").close()
    while not os.path.exists(flags + "/locked"):
        time.sleep(0.01)
    keys = [f"layer{j}/grad_norm" for j in range(n)]
    s = 0
    while not os.path.exists(flags + "/stop"):
        run.log({k: s + j / 1000 for j, k in enumerate(keys)}, step=s)
        s += 1
    t = time.monotonic()
    run.finish()
    print(s, time.monotonic() - t)
""")


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hold", type=float, default=15.0)
    ap.add_argument("--budget-mb", type=float, default=256)
    ap.add_argument("--values", type=int, default=1000)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="bench-mem-")
    try:
        store, flags, child = os.path.join(d, "s"), os.path.join(d, "f"), os.path.join(d, "c.py")
        os.mkdir(flags)
        with open(child, "w") as f:
            f.write(CHILD)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        env["TRACKER_MAX_QUEUE_MB"] = str(a.budget_mb)
        errf = open(os.path.join(d, "err"), "w+")
        p = subprocess.Popen([sys.executable, child, store, flags, str(a.values)], stdout=subprocess.PIPE,
                             stderr=errf, text=True, env=env)
        while not os.path.exists(flags + "/ready"):
            if p.poll() is not None:
                raise SystemExit("the child failed")
            time.sleep(0.01)
        base = rss_mb(p.pid)
        lock = sqlite3.connect(os.path.join(store, "tracker.db"), isolation_level=None, timeout=30)
        lock.execute("BEGIN IMMEDIATE")
        t0 = time.monotonic()
        open(flags + "/locked", "w").close()
        peak, first_pause = base, None
        while time.monotonic() - t0 < a.hold:
            peak = max(peak, rss_mb(p.pid))
            if first_pause is None:
                errf.seek(0)
                if "pausing" in errf.read():
                    first_pause = time.monotonic() - t0
            time.sleep(0.1)
        lock.execute("ROLLBACK")
        lock.close()
        t_rel = time.monotonic()
        open(flags + "/stop", "w").close()
        out, _ = p.communicate(timeout=600)
        drained = time.monotonic() - t_rel
        calls, finish_s = out.split()
        errf.seek(0)
        err = errf.read()
        c = sqlite3.connect(f"file:{store}/tracker.db?mode=ro", uri=True)
        stored = c.execute("SELECT count(*) FROM metrics").fetchone()[0]
        c.close()
        expected = 1 + a.values * int(calls)
        print(f"queue_memory: {a.values:,}-value log() calls flat out, store locked for {a.hold:g} s, "
              f"budget {a.budget_mb:g} MB")
        print(f"  RSS               {base:,.0f} MB at start, peak {peak:,.0f} MB (+{peak - base:,.0f} MB)")
        fp = "never" if first_pause is None else f"{first_pause:.1f} s after the lock was taken"
        print(f"  log() paused      first message {fp}; {err.count('still wait')} 'still paused' messages, "
              f"{err.count('resumed')} 'resumed'")
        print(f"  after release     {drained:.1f} s until finish() returned (finish itself {float(finish_s):.1f} s)")
        print(f"  stored            {stored:,} of {expected:,} points ({'all' if stored == expected else 'LOST SOME'})")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
