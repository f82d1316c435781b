"""Sweep costs: trial claim latency with N agent processes claiming at once, and the time of one
``bayes`` (TPE) proposal with 20 / 500 / 2,000 finished trials.

    python bench/sweep_bench.py [--agents 8] [--claims 50]

Each agent process registers and claims ``--claims`` trials of a random sweep (no training), so
the figure is the claim transaction itself under contention: reap, run_cap, sample, insert.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = """
import json, sys, time
from tracker.store import Store
from tracker.store.sweeps import coord
store = Store(sys.argv[1]); sid = sys.argv[2]; n = int(sys.argv[3]); go = sys.argv[4]
aid = coord.register_agent(store, sid, "bench", 0, None)
import os
while not os.path.exists(go):
    time.sleep(0.001)
lat = []
for _ in range(n):
    t = time.perf_counter(); c = coord.claim(store, sid, aid); lat.append(time.perf_counter() - t)
    assert c.trial is not None
    coord.end_trial(store, c.trial.tid, "finished")
print(json.dumps(lat))
"""


def claims(agents: int, per: int) -> None:
    from tracker.store import Store
    from tracker.store.sweeps import coord, parse

    d = tempfile.mkdtemp(prefix="sweep-bench-")
    store = Store(d)
    cfg = parse({"method": "random", "parameters": {"lr": {"min": 1e-5, "max": 1e-1,
                                                           "distribution": "log_uniform_values"},
                                                    "bs": {"values": [16, 32, 64]}}})
    sid = coord.create_sweep(store, cfg, "bench")
    go = os.path.join(d, "go")
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, d, sid, str(per), go], stdout=subprocess.PIPE, text=True)
             for _ in range(agents)]
    time.sleep(1.0)  # let every child import and register before the start signal
    open(go, "w").close()
    lat = [x for p in procs for x in json.loads(p.communicate()[0])]
    lat.sort()
    n = len(coord.trials(store, sid))
    print(f"claim latency, {agents} agents x {per} claims (+ end_trial each): median {statistics.median(lat) * 1e3:.1f} ms, "
          f"p95 {lat[int(0.95 * len(lat))] * 1e3:.1f} ms, max {lat[-1] * 1e3:.1f} ms; {n} trials, "
          f"{len({t.tid for t in coord.trials(store, sid)})} distinct")


def bayes() -> None:
    from tracker.store.sweeps import parse
    from tracker.store.sweeps.sample import Trial, propose

    cfg = parse({"method": "bayes", "metric": {"name": "loss", "goal": "minimize"},
                 "parameters": {"lr": {"min": 1e-5, "max": 1e-1, "distribution": "log_uniform_values"},
                                "wd": {"min": 0.0, "max": 0.1}, "bs": {"values": [16, 32, 64, 128]},
                                "layers": {"min": 1, "max": 8}}})
    rng = random.Random(0)
    for n in (20, 500, 2000):
        trials = [Trial({"lr": 10 ** rng.uniform(-5, -1), "wd": rng.uniform(0, 0.1), "bs": rng.choice([16, 32, 64, 128]),
                         "layers": rng.randint(1, 8)}, rng.random(), i >= n - 8) for i in range(n)]
        reps = 20 if n < 2000 else 5
        t = time.perf_counter()
        for s in range(reps):
            propose(cfg, trials, random.Random(s))
        print(f"bayes proposal, 4 params, {n} trials (8 running): {(time.perf_counter() - t) / reps * 1e3:.1f} ms")


def monitor(runs: int = 10, points: int = 20_000) -> None:
    """One hyperband check by an agent's monitor: every point read vs the indexed curves."""
    import tracker
    from tracker.store import Store
    from tracker.store.sweeps import coord
    from tracker.store.sweeps.hyperband import curve

    d = tempfile.mkdtemp(prefix="sweep-bench-mon-")
    sid = tracker.sweep({"method": "grid", "metric": {"name": "loss"}, "parameters": {"x": {"values": list(range(runs))}}},
                        dir=d)

    def fn() -> None:
        run = tracker.init(dir=d, system_interval=0, console=False, capture_git=False)
        for i in range(points):
            run.log({"loss": 1.0 / (i + 1)})

    tracker.agent(sid, function=fn, dir=d)
    store = Store(d)
    bands = (3, 9, 27, 81, 243, 729, 2187, 6561, 19683)
    t = time.perf_counter()
    full = {k: curve(h, bands, "minimize") for k, h in coord.histories(store, sid, "loss").items()}
    t_full = time.perf_counter() - t
    t = time.perf_counter()
    fast = coord.curves(store, sid, "loss", bands, "minimize")
    t_fast = time.perf_counter() - t
    assert fast == full
    print(f"hyperband check, {runs} runs x {points:,} points: reading every point {t_full * 1e3:.0f} ms, "
          f"indexed curves {t_fast * 1e3:.1f} ms ({t_full / t_fast:.0f}x)")


def importance_cost() -> None:
    from tracker.store.sweeps.importance import importance

    rng = random.Random(0)
    for n in (100, 500, 2000):
        rows = [({"a": rng.random(), "b": rng.random(), "c": rng.choice("xyz"), "d": rng.randint(1, 8),
                  "e": rng.random()}, rng.random()) for _ in range(n)]
        t = time.perf_counter()
        importance(rows, list("abcde"))
        print(f"importance, 5 params, {n} trials, 200 permutations: {(time.perf_counter() - t) * 1e3:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=8)
    ap.add_argument("--claims", type=int, default=50)
    a = ap.parse_args()
    print(f"host: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    claims(a.agents, a.claims)
    bayes()
    importance_cost()
    monitor()


if __name__ == "__main__":
    main()
