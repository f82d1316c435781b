"""Build (or reuse) a big tracker store for the TUI benchmark.

N runs × S steps × K metrics in project ``bench`` (the TUI's default project: it is the most
recently active one), plus one run in project ``bench-long`` with a single ``loss`` series of
``--long-points`` points (1,000,000 by default). The issue's size is 1,000 × 1,000 × 10 = 10M
points.

Points go straight through ``tracker.store.Store.append`` (the writer thread's own call), in
transactions of ``--batch`` entries (an entry is one step of one run: K points), several runs per
transaction; ``tracker.init``/``log`` would spend most of the time in per-call bookkeeping. For
speed the generating connection uses ``synchronous=OFF`` and a large page cache (durability does
not matter for a throw-away store); the schema, indexes and summary/block tables are exactly what
the logger writes. At the end the WAL is checkpointed and truncated.

The store is cached in ``--out`` (default ``/tmp/tracker-bench-store-<params>``) and reused when its
marker file ``bench-store.json`` records the same parameters; ``--force`` rebuilds it.

Usage (from the repository root, with the package installed):

    python bench/make_store.py [--runs 1000] [--steps 1000] [--metrics 10] [--long-points 1000000]
                               [--out DIR] [--force] [--json]

Importable: ``ensure_store(runs, steps, metrics, long_points, out=None, force=False)`` returns
``(path, info)``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

MARKER = "bench-store.json"
FORMAT = 1  # bump when the generated data changes shape
PROJECT = "bench"
LONG_PROJECT = "bench-long"
LONG_KEY = "loss"
CHART_KEY = "train/loss"  # the key the benchmark charts over 10 runs

BASE_KEYS = [
    "train/loss", "val/loss", "train/acc", "val/acc", "train/lr",
    "grad_norm", "throughput", "epoch", "system/gpu_util", "system/mem_gb",
]


def metric_keys(k: int) -> list[str]:
    """The first ``k`` metric names (``train/loss`` always first)."""
    keys = BASE_KEYS[:k]
    keys += [f"extra/m{j}" for j in range(len(keys), k)]
    return keys


def default_out(runs: int, steps: int, metrics: int, long_points: int) -> Path:
    return Path(f"/tmp/tracker-bench-store-{runs}x{steps}x{metrics}-long{long_points}")


def _params(runs: int, steps: int, metrics: int, long_points: int, seed: int) -> dict[str, Any]:
    return {"format": FORMAT, "runs": runs, "steps": steps, "metrics": metrics,
            "long_points": long_points, "seed": seed}


def read_marker(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _clear(out: Path) -> None:
    """Remove a previous (partial or different) bench store: only the files this script writes."""
    for name in ("tracker.db", "tracker.db-wal", "tracker.db-shm", "tracker.db-journal", MARKER):
        try:
            (out / name).unlink()
        except FileNotFoundError:
            pass


def _step_values(keys: tuple[str, ...], step: int, steps: int, quality: float, lr: float,
                 rng: random.Random) -> tuple[float, ...]:
    """One step's values: decaying losses, rising accuracies, a cosine LR... never exactly 0."""
    frac = step / max(1, steps - 1)
    decay = math.exp(-4.0 * frac)
    out = []
    r = rng.random
    for k in keys:
        if k == "train/loss":
            v = 0.05 + quality * (2.3 * decay + 0.05 * r())
        elif k == "val/loss":
            v = 0.08 + quality * (2.3 * decay + 0.08 * r())
        elif k == "train/acc":
            v = min(0.999, 0.1 + 0.88 * (1 - decay) / quality + 0.01 * r())
        elif k == "val/acc":
            v = min(0.999, 0.1 + 0.85 * (1 - decay) / quality + 0.02 * r())
        elif k == "train/lr":
            v = lr * (0.5 + 0.5 * math.cos(math.pi * frac)) + 1e-9
        elif k == "grad_norm":
            v = 0.2 + 3.0 * decay * r() + 0.01
        elif k == "throughput":
            v = 1000.0 + 50.0 * r()
        elif k == "epoch":
            v = step // 100 + 1
        elif k == "system/gpu_util":
            v = 80.0 + 19.0 * r() + 0.5
        elif k == "system/mem_gb":
            v = 10.0 + r()
        else:
            v = 1.0 + r()
        out.append(v)
    return tuple(out)


def build(out: Path, runs: int, steps: int, metrics: int, long_points: int, *, batch: int = 5000,
          seed: int = 0, quiet: bool = False) -> dict[str, Any]:
    """Write a fresh store into ``out``; returns timings. ``out`` must not hold a store."""
    from tracker.store import Store

    rng = random.Random(seed)
    keys = tuple(metric_keys(metrics))
    out.mkdir(parents=True, exist_ok=True)
    store = Store(out)
    c = store.conn
    c.execute("PRAGMA synchronous = OFF")
    c.execute("PRAGMA cache_size = -262144")  # 256 MiB of pages: index inserts stay in memory
    t_start = time.perf_counter()
    now0 = time.time()
    # The long run first (oldest), then the sweep: 10 minutes apart, 0.5 s per step.
    long_created = now0 - (runs + 2) * 600 - long_points * 0.01
    base = now0 - (runs + 1) * 600
    points = 0

    # ---- the sweep
    entries: list[tuple[Any, ...]] = []
    updates: list[tuple[int, dict[str, Any]]] = []
    last_end = base

    def flush() -> None:
        nonlocal points, entries, updates
        if entries or updates:
            points += store.append(entries, updates=updates, now=last_end)
        entries, updates = [], []

    t_sweep = time.perf_counter()
    for i in range(runs):
        lr = 10 ** rng.uniform(-5, -2)
        cfg = {
            "lr": lr,
            "batch_size": rng.choice([32, 64, 128, 256]),
            "dropout": round(rng.uniform(0.0, 0.5), 3),
            "optimizer": rng.choice(["adam", "adamw", "sgd"]),
            "weight_decay": rng.choice([0.0, 1e-4, 1e-2]),
            "model": {"arch": rng.choice(["resnet18", "resnet50", "vit-s"]), "width": rng.choice([64, 128, 256])},
            "seed": i,
        }
        # Lower is better; the sweet spot is lr ≈ 1e-3 with little dropout.
        quality = 0.6 + abs(math.log10(lr) + 3) * 0.3 + cfg["dropout"] * 0.4 + rng.random() * 0.2
        created = base + i * 600
        rid, _run_id, _name = store.create_run(
            id=None, project=PROJECT, name=None, group=f"sweep-{i // 100}", job_type="train",
            tags=["bench", cfg["model"]["arch"].split("-")[0], cfg["optimizer"]], notes=None,
            config_json=json.dumps(cfg), host="h", pid=None, pid_start=None, user="u", argv=[],
            python="3.11", cwd="/", meta={}, now=created,
        )
        for step in range(steps):
            entries.append((rid, step, created + step * 0.5,
                            keys, _step_values(keys, step, steps, quality, lr, rng)))
            if len(entries) >= batch:
                last_end = created + step * 0.5
                flush()
        end = created + steps * 0.5
        last_end = end
        failed = i % 50 == 49
        updates.append((rid, {"state": "failed" if failed else "finished", "exit_code": 1 if failed else 0,
                              "finished_at": end}))
        if not quiet and (i + 1) % max(1, runs // 10) == 0:
            el = time.perf_counter() - t_sweep
            print(f"  {i + 1}/{runs} runs, {points:,} points, {el:.1f} s", file=sys.stderr, flush=True)
    flush()
    sweep_s = time.perf_counter() - t_sweep

    # ---- the long run (one key, logged every step)
    t_long = time.perf_counter()
    long_id = None
    if long_points:
        rid, long_id, _ = store.create_run(
            id=None, project=LONG_PROJECT, name="long-loss-1m", group=None, job_type="train", tags=["bench", "long"],
            notes=None, config_json=json.dumps({"lr": 3e-4, "batch_size": 64}), host="h", pid=None,
            pid_start=None, user="u", argv=[], python="3.11", cwd="/", meta={}, now=long_created,
        )
        lkeys = (LONG_KEY,)
        r = rng.random
        lbatch = batch * max(1, metrics)  # about as many rows per transaction as the sweep
        for lo in range(0, long_points, lbatch):
            hi = min(long_points, lo + lbatch)
            ents = [(rid, s, long_created + s * 0.01, lkeys,
                     (0.05 + 2.3 * math.exp(-4.0 * s / long_points) + 0.1 * r(),)) for s in range(lo, hi)]
            points += store.append(ents, now=long_created + hi * 0.01)
        store.append([], updates=[(rid, {"state": "finished", "exit_code": 0,
                                         "finished_at": long_created + long_points * 0.01})])
    long_s = time.perf_counter() - t_long

    t_ck = time.perf_counter()
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    ck_s = time.perf_counter() - t_ck
    total = time.perf_counter() - t_start
    size = sum(f.stat().st_size for f in out.iterdir() if f.name.startswith("tracker.db"))
    return {"points": points, "seconds": round(total, 2), "sweep_seconds": round(sweep_s, 2),
            "long_seconds": round(long_s, 2), "checkpoint_seconds": round(ck_s, 2),
            "points_per_second": round(points / total) if total else None, "db_bytes": size,
            "long_run_id": long_id, "chart_key": CHART_KEY, "long_key": LONG_KEY,
            "project": PROJECT, "long_project": LONG_PROJECT}


def ensure_store(runs: int = 1000, steps: int = 1000, metrics: int = 10, long_points: int = 1_000_000,
                 out: str | os.PathLike[str] | None = None, *, force: bool = False, batch: int = 5000,
                 seed: int = 0, quiet: bool = False) -> tuple[Path, dict[str, Any]]:
    """The store for these parameters: reused when the marker matches, else (re)built.

    Returns ``(directory, marker)``; ``marker["reused"]`` says whether it was reused.
    """
    path = Path(out) if out else default_out(runs, steps, metrics, long_points)
    params = _params(runs, steps, metrics, long_points, seed)
    marker = read_marker(path)
    if not force and marker is not None and marker.get("params") == params and (path / "tracker.db").exists():
        return path, {**marker, "reused": True}
    _clear(path)
    if not quiet:
        pts = runs * steps * metrics + long_points
        print(f"building {path}: {runs} runs x {steps} steps x {metrics} metrics + {long_points:,}-point run "
              f"= {pts:,} points", file=sys.stderr, flush=True)
    info = build(path, runs, steps, metrics, long_points, batch=batch, seed=seed, quiet=quiet)
    marker = {"params": params, "generation": info, "created": time.time()}
    (path / MARKER).write_text(json.dumps(marker, indent=1))
    return path, {**marker, "reused": False}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--long-points", type=int, default=1_000_000, help="points of the extra one-key run (0: none)")
    ap.add_argument("--out", help="store directory (default /tmp/tracker-bench-store-<params>)")
    ap.add_argument("--batch", type=int, default=5000, help="entries (steps of a run) per transaction")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="rebuild even if a matching store exists")
    ap.add_argument("--json", action="store_true", help="print the marker as JSON")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    path, marker = ensure_store(a.runs, a.steps, a.metrics, a.long_points, a.out, force=a.force,
                                batch=a.batch, seed=a.seed, quiet=a.quiet)
    g = marker["generation"]
    if a.json:
        print(json.dumps({"path": str(path), **marker}))
    elif marker["reused"]:
        print(f"reused {path} (generated earlier in {g['seconds']:.1f} s: {g['points']:,} points, "
              f"{g['db_bytes'] / 2**20:.0f} MiB)")
    else:
        print(f"generated {path} in {g['seconds']:.1f} s: {g['points']:,} points "
              f"({g['points_per_second']:,}/s; sweep {g['sweep_seconds']:.1f} s, long run {g['long_seconds']:.1f} s, "
              f"checkpoint {g['checkpoint_seconds']:.1f} s), {g['db_bytes'] / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
