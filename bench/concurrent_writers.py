"""Many training processes logging into one store while a reader polls it (RELIABILITY.md §B1, C1).

N writer processes (default 8) each run ``tracker.init`` and log STEPS steps of METRICS metrics
(default 10,000 x 10, i.e. 800,000 points in all), released together by a barrier. A reader thread
in this process polls ``SELECT max(id) FROM metrics`` every 50 ms through its own autocommit
connection, as the TUI does. Printed:

- points/s: expected points / (barrier release -> last writer's ``finish()`` returned), target >= 300k/s
- points lost: expected - stored (must be 0)
- reader staleness: the longest gap between two changes the reader saw while writers ran, and the
  time from the last ``finish()`` returning to the reader seeing the final ``max(id)`` (negative when
  the reader saw the last commit before ``finish()`` had returned in the writer)
- reader errors and whether ``max(id)`` ever went backwards; peak ``-wal`` size; slowest ``log()``
- ``finish()`` time per writer (end of its log() loop -> finish() returned; the drop cutoff is
  60 s), and the longest single commit of any writer, waiting for the write lock included
- ``PRAGMA integrity_check``

Usage: python bench/concurrent_writers.py [--procs 8] [--steps 10000] [--metrics 10] [--poll 0.05]
                                          [--dir DIR] [--keep] [--json]
Exit status 1 when points were lost, integrity is not ok, the reader erred or went backwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TARGET_PPS = 300_000


def worker(store: str, go: str, idx: int, steps: int, nmetrics: int) -> None:
    """One training process: wait for the barrier, log, finish, report timings as JSON."""
    import tracker

    keys = [f"train/m{j}" for j in range(nmetrics)]
    vals = [[(s * 7 + j) * 1e-3 + idx for j in range(nmetrics)] for s in range(100)]
    Path(f"{go}.ready{idx}").touch()
    while not os.path.exists(go):
        time.sleep(0.0005)
    t0 = time.monotonic()
    run = tracker.init(project="bench-concurrent", name=f"writer-{idx}", dir=store, capture_git=False,
                       system_interval=None)  # exactly the points logged here
    t_init = time.monotonic()
    slowest = 0.0
    log = run.log
    for s in range(steps):
        a = time.perf_counter()
        log(dict(zip(keys, vals[s % 100])))
        d = time.perf_counter() - a
        if d > slowest:
            slowest = d
    t_logged = time.monotonic()
    run.finish()
    t_done = time.monotonic()
    longest = getattr(getattr(run, "_writer", None), "longest_write", None)  # None before issue 9
    print(json.dumps({"idx": idx, "id": run.id, "t0": t0, "t_init": t_init, "t_logged": t_logged,
                      "t_done": t_done, "slowest_log": slowest, "longest_write": longest}))


class Reader(threading.Thread):
    """Polls max(id) through its own connection; never keeps a transaction open."""

    def __init__(self, db: Path, every: float) -> None:
        super().__init__(daemon=True)
        self.db, self.every = db, every
        self.samples: list[tuple[float, int]] = []
        self.errors: list[str] = []
        self.max_wal = 0
        self.stop = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, isolation_level=None, timeout=30)
        wal = Path(str(self.db) + "-wal")
        try:
            while not self.stop.is_set():
                t = time.monotonic()
                try:
                    v = conn.execute("SELECT max(id) FROM metrics").fetchone()[0] or 0
                    self.samples.append((t, v))
                except sqlite3.Error as e:
                    self.errors.append(f"{type(e).__name__}: {e}")
                try:
                    self.max_wal = max(self.max_wal, wal.stat().st_size)
                except OSError:
                    pass
                self.stop.wait(max(0.0, self.every - (time.monotonic() - t)))
        finally:
            conn.close()


def bench(procs: int, steps: int, nmetrics: int, poll: float, store: Path) -> dict:
    from tracker.store import Store

    Store(store).close()  # the store exists: creation races are not what is measured here
    db = store / "tracker.db"
    go = str(store.parent / f"{store.name}.go")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker"]
    ps = [subprocess.Popen(cmd + [str(store), go, str(i), str(steps), str(nmetrics)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True) for i in range(procs)]
    try:
        deadline = time.monotonic() + 120
        while not all(os.path.exists(f"{go}.ready{i}") for i in range(procs)):
            if time.monotonic() > deadline or any(p.poll() is not None for p in ps):
                raise SystemExit("bench: a writer failed to start:\n" + "".join(p.stderr.read() for p in ps
                                                                              if p.poll() is not None))
            time.sleep(0.005)
        reader = Reader(db, poll)
        reader.start()
        time.sleep(poll * 2)  # let the reader take a baseline sample
        t_go = time.monotonic()
        Path(go).touch()
        outs = [p.communicate(timeout=600) for p in ps]
    finally:
        for p in ps:
            if p.poll() is None:
                p.kill()
        for f in [go] + [f"{go}.ready{i}" for i in range(procs)]:
            try:
                os.unlink(f)
            except OSError:
                pass
    failed = [(p.returncode, err) for p, (_, err) in zip(ps, outs) if p.returncode != 0]
    if failed:
        reader.stop.set()
        raise SystemExit(f"bench: {len(failed)} writers failed:\n{failed[0][1][-3000:]}")
    reports = [json.loads(out) for out, _ in outs]
    writer_stderr = [err for _, err in outs if err.strip()]
    t_last_done = max(r["t_done"] for r in reports)
    t_last_logged = max(r["t_logged"] for r in reports)

    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    stored = conn.execute("SELECT count(*) FROM metrics").fetchone()[0]
    final_id = conn.execute("SELECT max(id) FROM metrics").fetchone()[0] or 0
    per_run = conn.execute("SELECT rid, count(*) FROM metrics GROUP BY rid").fetchall()
    # Final visibility: when did the reader first see the final max(id)?
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (reader.samples and reader.samples[-1][1] >= final_id):
        time.sleep(poll / 5)
    reader.stop.set()
    reader.join(5)
    seen_final = next((t for t, v in reader.samples if v >= final_id), None)
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()

    vals = [v for _, v in reader.samples]
    backwards = sum(1 for a, b in zip(vals, vals[1:]) if b < a)
    # Gaps between changes the reader observed while writers ran (from the barrier on).
    change_times = [t_go]
    prev = None
    for t, v in reader.samples:
        if prev is not None and v != prev and t_go <= t <= t_last_done:
            change_times.append(t)
        prev = v
    change_times.append(min(t_last_done, seen_final or t_last_done))
    gaps = [b - a for a, b in zip(change_times, change_times[1:])]

    expected = procs * steps * nmetrics
    elapsed = t_last_done - t_go
    return {
        "procs": procs,
        "steps": steps,
        "metrics": nmetrics,
        "expected_points": expected,
        "stored_points": stored,
        "points_lost": expected - stored,
        "per_run_ok": len(per_run) == procs and all(n == steps * nmetrics for _, n in per_run),
        "elapsed_s": round(elapsed, 3),
        "points_per_s": round(expected / elapsed),
        "log_phase_s": round(t_last_logged - t_go, 3),
        "slowest_log_ms": round(max(r["slowest_log"] for r in reports) * 1e3, 2),
        # finish(): from the end of the writer's log() loop to finish() returning (drop cutoff 60 s)
        "finish_s_max": round(max(r["t_done"] - r["t_logged"] for r in reports), 3),
        "finish_s_median": round(sorted(r["t_done"] - r["t_logged"] for r in reports)[procs // 2], 3),
        # the longest single commit of any writer, waiting for the write lock included
        "longest_write_s": (round(max(r["longest_write"] for r in reports), 3)
                            if all(r.get("longest_write") is not None for r in reports) else None),
        "reader_polls": len(reader.samples),
        "reader_poll_s": poll,
        "reader_errors": len(reader.errors),
        "reader_error_examples": reader.errors[:3],
        "reader_went_backwards": backwards,
        "max_gap_between_observed_changes_s": round(max(gaps), 3) if gaps else None,
        "final_visible_after_last_finish_s": round(seen_final - t_last_done, 3) if seen_final else None,
        "max_wal_mb": round(reader.max_wal / 1e6, 1),
        "writer_stderr_lines": sum(len(e.splitlines()) for e in writer_stderr),
        "writer_stderr_examples": sorted({line[:200] for e in writer_stderr for line in e.splitlines()
                                          if line.startswith("tracker:") or "Warning" in line})[:4],
        "integrity_check": integrity,
        "target_points_per_s": TARGET_PPS,
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        store, go, idx, steps, nmetrics = sys.argv[2:7]
        worker(store, go, int(idx), int(steps), int(nmetrics))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--poll", type=float, default=0.05, help="reader poll interval, seconds")
    ap.add_argument("--dir", help="parent directory for the store (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the store afterwards")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args()
    parent = Path(tempfile.mkdtemp(prefix="bench-concurrent-", dir=a.dir))
    try:
        r = bench(a.procs, a.steps, a.metrics, a.poll, parent / "store")
    finally:
        if not a.keep:
            shutil.rmtree(parent, ignore_errors=True)
    if a.keep:
        r["store"] = str(parent / "store")
    ok = (r["points_lost"] == 0 and r["integrity_check"] == "ok" and r["reader_errors"] == 0
          and r["reader_went_backwards"] == 0 and r["per_run_ok"])
    if a.json:
        print(json.dumps(r, indent=2))
        return 0 if ok else 1
    print(f"{r['procs']} writer processes x {r['steps']:,} steps x {r['metrics']} metrics "
          f"= {r['expected_points']:,} points; reader polls max(id) every {r['reader_poll_s'] * 1e3:.0f} ms")
    target = "meets" if r["points_per_s"] >= TARGET_PPS else "BELOW"
    print(f"  throughput        {r['points_per_s']:,} points/s ({target} the {TARGET_PPS:,}/s target); "
          f"{r['elapsed_s']:.2f} s from barrier to last finish(), log() loops done at {r['log_phase_s']:.2f} s")
    print(f"  points lost       {r['points_lost']:,} (expected {r['expected_points']:,}, stored {r['stored_points']:,})")
    fv = r["final_visible_after_last_finish_s"]
    if fv is None:
        final = "final count NOT seen by the reader"
    elif fv < 0:
        final = f"final count seen {-fv:.3f} s before the last finish() returned"
    else:
        final = f"final count seen {fv:.3f} s after the last finish() returned"
    print(f"  reader staleness  max gap between observed changes {r['max_gap_between_observed_changes_s']:.3f} s; "
          f"{final}")
    print(f"  reader            {r['reader_polls']} polls, {r['reader_errors']} errors, "
          f"max(id) went backwards {r['reader_went_backwards']} times")
    print(f"  writers           slowest log() {r['slowest_log_ms']} ms; {r['writer_stderr_lines']} stderr lines; "
          f"peak WAL {r['max_wal_mb']} MB")
    for line in r["writer_stderr_examples"]:
        print(f"    e.g. {line}")
    lw = r["longest_write_s"]
    print(f"  finish()          median {r['finish_s_median']:.2f} s, slowest {r['finish_s_max']:.2f} s (queued calls "
          f"are dropped after 60 s); longest single write incl. lock wait "
          f"{'n/a' if lw is None else f'{lw:.2f} s'}")
    print(f"  integrity_check   {r['integrity_check']}")
    if a.keep:
        print(f"  store kept at     {r['store']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
