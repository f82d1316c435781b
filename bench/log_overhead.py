"""How much does logging cost a training loop?

1. Tight loop: N log() calls of 10 scalars; µs per call, and time until durable (incl. finish()).
   In the same run, the same points written by raw sqlite3.executemany in one WAL transaction
   into (a) the identical schema (b) a bare table without indexes; ratios printed. A loop this
   fast outruns the writer: log() then waits for it (the kill -9 window is bounded by time), so
   the µs per call of this loop is the writer's pace. The call's own cost is measured apart:
   bursts of 1,000 calls, each after the writer has caught up (median of 30 bursts).
2. Paced loop: 2,000 steps of a 1 ms time.sleep (a GPU-bound step) + log(), versus the same
   loop without logging: wall time added per step.
3. Peak RSS of a logging process vs bare Python, and `import tracker` time.

Runs use tracker's defaults (system sampler every 10 s and console capture on).

Usage: python bench/log_overhead.py [--calls 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

KEYS = [f"train/m{i}" for i in range(10)]


def tight(calls: int) -> tuple[float, float]:
    import tracker

    d = tempfile.mkdtemp(prefix="bench-log-")
    try:
        run = tracker.init(project="bench", dir=d, capture_git=False)
        vals = [[(i * 7 + j) * 1e-3 for j in range(10)] for i in range(1000)]
        t0 = time.perf_counter()
        for i in range(calls):
            v = vals[i % 1000]
            run.log(dict(zip(KEYS, v)))
        t1 = time.perf_counter()
        run.finish()
        t2 = time.perf_counter()
        stats = tracker.Api(d).run(run.id).metric_stats()
        n = sum(stats[k]["count"] for k in KEYS)  # the defaults also sample system/... metrics
        assert n == calls * 10, (n, calls * 10)
        # subtract the cost of building the dicts (identical in the baseline loop)
        b0 = time.perf_counter()
        for i in range(calls):
            v = vals[i % 1000]
            dict(zip(KEYS, v))
        b1 = time.perf_counter()
        return ((t1 - t0) - (b1 - b0)) / calls * 1e6, t2 - t0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def burst(n: int = 1000, reps: int = 30) -> float:
    """µs per log() call while the writer keeps up: median over bursts of n calls (dict building
    subtracted), each burst started once everything before it is committed."""
    import tracker

    d = tempfile.mkdtemp(prefix="bench-burst-")
    try:
        run = tracker.init(project="bench", dir=d, capture_git=False)
        vals = [[(i * 7 + j) * 1e-3 for j in range(10)] for i in range(n)]
        out = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for i in range(n):
                run.log(dict(zip(KEYS, vals[i])))
            t1 = time.perf_counter()
            for i in range(n):
                dict(zip(KEYS, vals[i]))
            t2 = time.perf_counter()
            out.append(((t1 - t0) - (t2 - t1)) / n * 1e6)
            run._writer.flush(30)  # not timed: the next burst starts with an empty queue
        run.finish()
        return statistics.median(out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def raw(calls: int, indexed: bool) -> float:
    from tracker.store import Store

    d = tempfile.mkdtemp(prefix="bench-raw-")
    try:
        if indexed:
            Store(d).close()  # identical schema and pragmas
            conn = sqlite3.connect(os.path.join(d, "tracker.db"), isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("INSERT INTO keys(name) VALUES " + ",".join(f"('{k}')" for k in KEYS))
            sql = "INSERT INTO metrics (rid, kid, step, ts, value, flag) VALUES (?,?,?,?,?,NULL)"
        else:
            conn = sqlite3.connect(os.path.join(d, "raw.db"), isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE metrics (rid, kid, step, ts, value, flag)")
            sql = "INSERT INTO metrics VALUES (?,?,?,?,?,NULL)"
        vals = [[(i * 7 + j) * 1e-3 for j in range(10)] for i in range(1000)]
        ts = time.time()
        rows = [(1, j + 1, i, ts, vals[i % 1000][j]) for i in range(calls) for j in range(10)]
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        t1 = time.perf_counter()
        conn.close()
        return t1 - t0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def paced(steps: int, with_log: bool) -> float:
    import tracker

    d = tempfile.mkdtemp(prefix="bench-paced-")
    try:
        run = tracker.init(project="bench", dir=d, capture_git=False) if with_log else None
        t0 = time.perf_counter()
        for i in range(steps):
            time.sleep(0.001)
            m = {k: i * 1e-3 for k in KEYS}
            if run is not None:
                run.log(m)
        t1 = time.perf_counter()
        if run is not None:
            run.finish()
        return (t1 - t0) / steps * 1e6
    finally:
        shutil.rmtree(d, ignore_errors=True)


def child(mode: str) -> None:
    """Run in a fresh interpreter; prints peak RSS in kB."""
    if mode == "log":
        import tracker

        d = tempfile.mkdtemp(prefix="bench-rss-")
        run = tracker.init(project="bench", dir=d, capture_git=False)
        for i in range(2000):
            time.sleep(0.0005)
            run.log({k: i * 1e-3 for k in KEYS})
        run.finish()
        shutil.rmtree(d, ignore_errors=True)
    else:
        for i in range(2000):
            time.sleep(0.0005)
            {k: i * 1e-3 for k in KEYS}
    # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork+exec.
    with open("/proc/self/status") as f:
        print(next(line.split()[1] for line in f if line.startswith("VmHWM:")))


def import_time() -> float:
    """Median ms of `import tracker` over bare interpreter start, 5 fresh processes each."""
    def t(code: str) -> float:
        s = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - s

    bare = statistics.median(t("pass") for _ in range(7))
    imp = statistics.median(t("import tracker") for _ in range(7))
    return (imp - bare) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", choices=["log", "bare"])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.child:
        child(a.child)
        return
    res = []
    for _ in range(a.repeat):
        us, dur = tight(a.calls)
        res.append((us, dur, raw(a.calls, True), raw(a.calls, False)))
    us = statistics.median(r[0] for r in res)
    dur = statistics.median(r[1] for r in res)
    raw_idx = statistics.median(r[2] for r in res)
    raw_bare = statistics.median(r[3] for r in res)
    burst_us = statistics.median(burst() for _ in range(a.repeat))
    base = statistics.median(paced(2000, False) for _ in range(a.repeat))
    logged = statistics.median(paced(2000, True) for _ in range(a.repeat))
    rss_log = int(subprocess.check_output([sys.executable, __file__, "--child", "log"]).split()[-1])
    rss_bare = int(subprocess.check_output([sys.executable, __file__, "--child", "bare"]).split()[-1])
    imp = import_time()
    out = {
        "calls": a.calls,
        "points": a.calls * 10,
        "us_per_log_call": round(burst_us, 2),
        "us_per_call_flat_out": round(us, 2),
        "time_to_durable_s": round(dur, 3),
        "raw_executemany_same_schema_s": round(raw_idx, 3),
        "raw_executemany_bare_table_s": round(raw_bare, 3),
        "ratio_vs_same_schema": round(dur / raw_idx, 2),
        "ratio_vs_bare_table": round(dur / raw_bare, 2),
        "paced_step_us_without": round(base, 1),
        "paced_step_us_with": round(logged, 1),
        "paced_added_us_per_step": round(logged - base, 1),
        "peak_rss_mb_logging": round(rss_log / 1024, 1),
        "peak_rss_mb_bare": round(rss_bare / 1024, 1),
        "peak_rss_added_mb": round((rss_log - rss_bare) / 1024, 1),
        "import_tracker_ms": round(imp, 1),
    }
    if a.json:
        print(json.dumps(out))
        return
    print(f"log_overhead: {a.calls:,} log() calls x 10 scalars, medians of {a.repeat}")
    print(f"  per log() call, writer keeping up {out['us_per_log_call']:>5.2f} us   (target <= 5; bursts of 1,000)")
    print(f"  per call flat out, {a.calls:,} calls {out['us_per_call_flat_out']:>5.2f} us   (= the writer's pace: "
          f"{10e6 / max(us, 1e-9):,.0f} points/s)")
    print(f"  time to durable (incl finish)  {out['time_to_durable_s']:>8.3f} s")
    print(f"  raw executemany, same schema   {out['raw_executemany_same_schema_s']:>8.3f} s   ratio {out['ratio_vs_same_schema']:.2f}x (target <= 1.5)")
    print(f"  raw executemany, bare table    {out['raw_executemany_bare_table_s']:>8.3f} s   ratio {out['ratio_vs_bare_table']:.2f}x")
    print(f"  paced 1 ms step: without {base:.1f} us, with {logged:.1f} us -> added {out['paced_added_us_per_step']:.1f} us/step (target <= 20)")
    print(f"  peak RSS: logging {out['peak_rss_mb_logging']} MB, bare {out['peak_rss_mb_bare']} MB -> +{out['peak_rss_added_mb']} MB (target <= 30)")
    print(f"  import tracker: {out['import_tracker_ms']:.1f} ms over bare python (target < 50)")


if __name__ == "__main__":
    main()
