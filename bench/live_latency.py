"""Live-update latency: from ``log()`` returning in a training process to the row being visible
to a reader in another process (RELIABILITY.md §B5, rows C4/R7/T6).

One writer process logs STEPS steps at HZ steps/s; each step carries ``sent = time.time()`` taken
just before ``log()`` (which only queues and returns in microseconds), so a receiver computes
latency = its ``time.time()`` when it sees the row - ``sent``. The latency therefore includes the
writer's flush interval (a step waits in memory for the next batched commit, up to 250 ms by
default), which is printed.

Two receivers see the same writer at the same time:

- ``watcher``: a :class:`tracker.store.watch.StoreWatcher` in this process; on each callback,
  ``Store.points_after(cursor, rids=[rid])`` reads what is new;
- ``tail``: a ``tracker-tui tail RUN`` subprocess with stdout piped, one JSON line per step (it
  also waits until a step is complete: the next step has appeared, or ~0.3 s without more).

Both are measured in watch mode (file events on ``tracker.db-wal``) and in polling mode
(``StoreWatcher(poll=P)`` / ``tail --poll P``), one writer run each. Targets:

- watch mode: p50 <= 300 ms and p95 <= 600 ms (flush interval included);
- polling mode: p95 <= P + flush interval + 100 ms, i.e. a commit is seen within the poll interval
  + 100 ms (and p50 <= P + 100 ms).

Usage: python bench/live_latency.py [--steps 500] [--hz 50] [--poll 0.5] [--flush-interval 0.25]
                                    [--modes watch,poll] [--dir DIR] [--json]
Exit status 1 when a receiver missed rows or a target was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def writer(store: str, go: str, steps: int, hz: float, flush_interval: float, name: str) -> None:
    """The training process: a warm-up step, wait for ``go``, then ``steps`` steps at ``hz``."""
    import tracker

    run = tracker.init(project="bench-live", name=name, dir=store, capture_git=False,
                       flush_interval=flush_interval)
    run.log({"sent": 0.0, "warmup": 1.0})  # lets the receivers show they are attached
    print("ready", run.id, flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise SystemExit("writer: no go signal")
        time.sleep(0.002)
    period = 1.0 / hz
    due = time.monotonic()
    for i in range(steps):
        run.log({"sent": time.time(), "i": float(i)})
        due += period
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    run.finish()


class WatcherReceiver:
    """StoreWatcher + cursor reads in this process."""

    def __init__(self, store_dir: Path, run_id: str, poll: float | None) -> None:
        from tracker.store import Store
        from tracker.store.watch import StoreWatcher

        self.store = Store(store_dir, create=False)
        self.rid = self.store.run(run_id).rid
        self.cursor = 0
        self.latencies: list[float] = []
        self.warm = threading.Event()
        self.callbacks = 0
        self._lock = threading.Lock()
        self.watcher = StoreWatcher(store_dir, self._on_change, poll=poll)

    def start(self) -> WatcherReceiver:
        self.watcher.start()
        self._on_change()  # whatever was committed before the watcher's baseline
        return self

    def _on_change(self) -> None:
        with self._lock:
            self.callbacks += 1
            while True:
                pts = self.store.points_after(self.cursor, rids=[self.rid])
                now = time.time()
                if not pts:
                    return
                self.cursor = pts[-1][0]
                for _id, _rid, key, _step, _ts, value in pts:
                    if key == "warmup":
                        self.warm.set()
                    elif key == "sent" and value:
                        self.latencies.append(now - value)
                if len(pts) < 50_000:
                    return

    def stop(self) -> None:
        self.watcher.stop()
        self.store.close()


class TailReceiver:
    """A ``tracker-tui tail`` subprocess; latency per JSON line."""

    def __init__(self, store_dir: Path, run_id: str, poll: float | None) -> None:
        cmd = [sys.executable, "-m", "tracker.tui.cli", "tail", "--store", str(store_dir), run_id, "-n", "1"]
        if poll is not None:
            cmd += ["--poll", str(poll)]
        env = dict(os.environ)
        env.pop("TRACKER_NO_INOTIFY", None)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.latencies: list[float] = []
        self.warm = threading.Event()
        self.bad_lines = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.time()
            try:
                d = json.loads(line)
            except ValueError:
                self.bad_lines += 1
                continue
            if d.get("warmup"):
                self.warm.set()
            elif d.get("sent"):
                self.latencies.append(now - d["sent"])

    def wait(self, timeout: float) -> int:
        rc = self.proc.wait(timeout)
        self.thread.join(5)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def pct(xs: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of ``xs``, in ms."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k] * 1000


def stats(lat: list[float], expected: int) -> dict[str, Any]:
    return {
        "count": len(lat), "missing": expected - len(lat),
        "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
        "max_ms": max(lat) * 1000 if lat else None,
    }


def run_mode(mode: str, args: argparse.Namespace, base: Path) -> list[dict[str, Any]]:
    """One writer run observed by both receivers in ``mode`` ("watch" or "poll")."""
    store = base / f"store-{mode}"
    go = base / f"go-{mode}"
    poll = args.poll if mode == "poll" else None
    w = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--writer", str(store), str(go),
                          str(args.steps), str(args.hz), str(args.flush_interval), f"latency-{mode}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher: WatcherReceiver | None = None
    tail: TailReceiver | None = None
    try:
        assert w.stdout is not None
        line = w.stdout.readline().split()
        if line[:1] != ["ready"]:
            raise SystemExit(f"bench: the writer did not start: {line} {w.stderr.read() if w.stderr else ''}")
        run_id = line[1]
        watcher = WatcherReceiver(store, run_id, poll).start()
        tail = TailReceiver(store, run_id, poll)
        for r, what in ((watcher, "watcher"), (tail, "tail")):
            if not r.warm.wait(30):
                raise SystemExit(f"bench: the {what} receiver did not see the warm-up step")
        go.touch()
        if w.wait(args.steps / args.hz * 3 + 60) != 0:
            raise SystemExit(f"bench: the writer failed: {w.stderr.read() if w.stderr else ''}")
        rc = tail.wait(30)
        deadline = time.monotonic() + 10
        while len(watcher.latencies) < args.steps and time.monotonic() < deadline:
            time.sleep(0.05)
        out = []
        for path, rec, extra in (("watcher", watcher, {"detector": watcher.watcher.mode,
                                                        "reason": watcher.watcher.reason,
                                                        "callbacks": watcher.callbacks}),
                                 ("tail", tail, {"exit_code": rc, "bad_lines": tail.bad_lines})):
            out.append({"mode": mode, "path": path, **stats(rec.latencies, args.steps), **extra})
        return out
    finally:
        if watcher is not None:
            watcher.stop()
        if tail is not None:
            tail.kill()
        if w.poll() is None:
            w.kill()
            w.wait(10)


def check(r: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The targets this result misses (empty when all are met)."""
    miss = []
    if r["missing"]:
        miss.append(f"{r['missing']} rows missing")
    if r["p50_ms"] is None:
        return miss
    if r["mode"] == "watch":
        if r["p50_ms"] > 300:
            miss.append("p50 > 300 ms")
        if r["p95_ms"] > 600:
            miss.append("p95 > 600 ms")
    else:
        p50_max = (args.poll + 0.1) * 1000
        p95_max = (args.poll + args.flush_interval + 0.1) * 1000
        if r["p50_ms"] > p50_max:
            miss.append(f"p50 > {p50_max:.0f} ms")
        if r["p95_ms"] > p95_max:
            miss.append(f"p95 > {p95_max:.0f} ms")
    if r["path"] == "tail" and r.get("exit_code") != 0:
        miss.append(f"tail exited {r.get('exit_code')}")
    return miss


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        store, go, steps, hz, fi, name = sys.argv[2:8]
        writer(store, go, int(steps), float(hz), float(fi), name)
        return 0
    from tracker._writer import FLUSH_INTERVAL

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--hz", type=float, default=50.0, help="steps per second logged by the writer")
    ap.add_argument("--poll", type=float, default=0.5, help="polling interval of the polling mode")
    ap.add_argument("--flush-interval", type=float, default=FLUSH_INTERVAL,
                    help=f"the writer's flush interval (default: tracker's, {FLUSH_INTERVAL:g} s)")
    ap.add_argument("--modes", default="watch,poll")
    ap.add_argument("--dir", help="work here instead of a temporary directory (kept)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="live-latency-"))
    base.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    try:
        for mode in [m for m in args.modes.split(",") if m]:
            results += run_mode(mode, args, base)
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    for r in results:
        r["misses"] = check(r, args)
    ok = not any(r["misses"] for r in results)
    if args.json:
        print(json.dumps({"steps": args.steps, "hz": args.hz, "flush_interval_s": args.flush_interval,
                          "poll_s": args.poll, "results": results, "ok": ok}, indent=2))
    else:
        print(f"writer: {args.steps} steps at {args.hz:g} Hz, flush interval {args.flush_interval * 1000:.0f} ms; "
              f"polling mode interval {args.poll * 1000:.0f} ms")
        print(f"{'mode':6} {'path':8} {'detector':16} {'rows':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
              f"{'max ms':>8}  result")
        for r in results:
            det = r.get("detector", "tail" + (f" --poll {args.poll:g}" if r["mode"] == "poll" else ""))
            rows = f"{r['count']}/{args.steps}"
            f = [f"{r[k]:8.0f}" if r[k] is not None else "       -" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]
            print(f"{r['mode']:6} {r['path']:8} {det:16} {rows:>9} {' '.join(f)}  "
                  f"{'ok' if not r['misses'] else 'MISSED: ' + '; '.join(r['misses'])}")
        print("targets: watch p50 <= 300 ms, p95 <= 600 ms; poll p50 <= interval + 100 ms, "
              "p95 <= interval + flush + 100 ms (all from log() returning)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
