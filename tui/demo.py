"""``tracker-tui demo``: a seeded demo store plus two live simulated trainings.

The demo store lives in ``<tracker dir>/demo`` (``$TRACKER_DIR/demo``, else ``~/.tracker/demo``)
so it never mixes with real runs; it is rebuilt on each start. The live trainings are child
processes that log through ``import tracker``; they are stopped when the app quits (and, on
Linux, by the kernel if the app dies: ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tracker.store import _ADJ, _NOUN, DB_NAME, Store, resolve_dir

SWEEP = [
    (lr, bs, dr, opt)
    for lr in (1e-3, 3e-4, 1e-4)
    for bs in (64, 256)
    for dr in (0.0, 0.1, 0.3)
    for opt in ("adamw", "sgd")
]


def demo_dir(base: str | os.PathLike[str] | None = None) -> Path:
    return resolve_dir(base) / "demo"


def _curve(rng: random.Random, steps: int, floor: float, speed: float, noise: float) -> list[float]:
    out = []
    for s in range(steps):
        p = s / steps
        out.append(floor + 2.3 * math.exp(-speed * 5 * p) + rng.gauss(0, noise) * (1 - 0.5 * p))
    return out


def _plan(rng: random.Random, runs: int) -> list[dict[str, Any]]:
    """Project, config, group and tags of each demo run (a CIFAR sweep, then tiny GPTs)."""
    combos = rng.sample(SWEEP, min(runs - 6, len(SWEEP)))
    plan: list[dict[str, Any]] = []
    for i, (lr, bs, dr, opt) in enumerate(combos):
        plan.append(dict(project="cifar-resnet", config={
            "lr": lr, "batch_size": bs, "dropout": dr, "optimizer": opt, "epochs": 30,
            "model": {"arch": "resnet18", "width": 64, "norm": "batchnorm"},
            "data": {"dataset": "cifar10", "augment": True}, "seed": i,
            "wandb_api_key": "demo-0000-not-a-real-key-1234",
        }, group="lr-sweep" if i < 12 else "bs-sweep", tags=["resnet", "sweep", opt], kind="cls"))
    for i in range(runs - len(plan)):
        plan.append(dict(project="gpt-tiny", config={
            "lr": [6e-4, 3e-4, 1e-3][i % 3], "n_layer": [4, 6, 8][i % 3], "n_head": 8, "d_model": 256 * (1 + i % 2),
            "context": 512, "optimizer": "adamw", "warmup": 200}, group=None, tags=["gpt", "tiny"], kind="lm"))
    return plan


def _points(rng: random.Random, rid: int, p: dict[str, Any], n: int, steps: int, created: float,
            step_time: float, loss: list[float], fate: str) -> list[Any]:
    """The run's logged steps, with the system metrics a sampler would have recorded."""
    cfg = p["config"]
    lr = float(cfg["lr"])
    entries = []
    for s in range(n):
        ts = created + s * step_time
        vals: dict[str, float] = {"train/loss": loss[s], "train/lr": lr * min(1.0, (s + 1) / 50) *
                                  (0.5 + 0.5 * math.cos(math.pi * s / steps))}
        if p["kind"] == "cls":
            vals["train/acc"] = max(0.0, min(1.0, 1.0 - loss[s] / 2.6 + rng.gauss(0, 0.01)))
        else:
            vals["tokens_per_s"] = 41000 + rng.gauss(0, 900)
        if s % 50 == 49:
            vl = loss[s] + 0.06 + rng.gauss(0, 0.015)
            vals["val/loss"] = vl
            if p["kind"] == "cls":
                vals["val/acc"] = max(0.0, min(1.0, 1.0 - vl / 2.4))
            else:
                vals["val/ppl"] = math.exp(vl)
        if fate == "failed" and s == n - 1:
            vals["train/loss"] = math.nan
        keys = tuple(vals)
        entries.append((rid, s, ts, keys, tuple(vals[k] for k in keys)))
        if s % 25 == 0:  # what the system sampler would have recorded
            util = min(99.0, 88 + rng.gauss(0, 4))
            sysv = {"system/cpu_percent": 35 + rng.gauss(0, 5), "system/ram_used_gib": 21.5 + s / 400,
                    "system/proc_rss_gib": 3.1 + s / 2000, "system/gpu0/util_percent": util,
                    "system/gpu0/mem_used_gib": 14.2 + 2 * (s > 5), "system/gpu0/mem_total_gib": 40.0,
                    "system/gpu0/temp_c": 61 + util / 10, "system/gpu0/power_w": 180 + util * 1.5}
            skeys = tuple(sysv)
            entries.append((rid, s, ts + 0.5, skeys, tuple(sysv[k] for k in skeys)))
    return entries


def _events(rid: int, p: dict[str, Any], created: float, end: float, n: int, step_time: float,
            loss: list[float], fate: str) -> list[Any]:
    """Captured console lines and (CIFAR) the code state."""
    cfg = p["config"]
    console = [(created, "stdout", f"loading {cfg.get('data', {}).get('dataset', 'openwebtext')} ..."),
               (created + 2, "stderr", "\x1b[33mwarning:\x1b[0m torch.compile is not available, running eager")]
    for e in range(1, 6):
        t = created + e * n * step_time / 6
        console.append((t, "stdout", f"epoch {e}: 100%|\x1b[32m{'█' * 20}\x1b[0m| {n // 6}/{n // 6} "
                                     f"[loss {loss[min(len(loss) - 1, e * n // 6)]:.3f}]"))
    if fate == "failed":
        console.append((end, "stderr", "Traceback (most recent call last):"))
        console.append((end, "stderr", "RuntimeError: loss is NaN"))
    events = [(rid, console[-1][0], "console", json.dumps({"lines": [list(x) for x in console]}))]
    if p["kind"] == "cls":
        events.append((rid, created, "code", json.dumps({
            "remote": "https://github.com/alice/cifar-experiments.git", "root": "/home/alice/exp",
            "diff": "--- a/train.py\n+++ b/train.py\n@@ -10 +10 @@\n-    dropout = 0.0\n+    dropout = args.dropout\n"})))
    return events


def _finish(store: Store, rid: int, p: dict[str, Any], entries: list[Any], end: float, n: int, fate: str) -> None:
    """Finished, failed (NaN loss) or crashed (still "running", heartbeat long gone)."""
    if fate == "finished":
        summary = {}
        if p["kind"] == "cls":
            accs = [e[4][e[3].index("val/acc")] for e in entries if "val/acc" in e[3]]
            summary = {"best_val_acc": max(accs)} if accs else {}
        store.append([], updates=[(rid, {"state": "finished", "exit_code": 0, "finished_at": end,
                                         "summary": json.dumps(summary)})], now=end)
    elif fate == "failed":
        store.append([], updates=[(rid, {"state": "failed", "exit_code": 1, "finished_at": end,
                                         "meta_merge": {"error": f"RuntimeError: loss is NaN at step {n - 1}"}})],
                     now=end)
    else:  # crashed: still "running" in the store, heartbeat long gone, on another host
        store.append([], updates=[(rid, {"heartbeat_at": end, "meta_merge": {"note": "node lost"}})], now=end)


def seed(store_dir: Path, *, runs: int = 28, steps: int = 600, now: float | None = None, rng_seed: int = 7) -> list[str]:
    """Write a realistic demo store (deterministic for a given seed and ``now``); returns run ids."""
    rng = random.Random(rng_seed)
    now = time.time() if now is None else now
    store_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        try:
            (store_dir / (DB_NAME + suffix)).unlink()
        except FileNotFoundError:
            pass
    store = Store(store_dir)
    ids = []
    t0 = now - 3 * 86400
    plan = _plan(rng, runs)
    for i, p in enumerate(plan):
        created = t0 + i * 7200 + rng.uniform(0, 1800)
        cfg = p["config"]
        fate = "finished"
        n = steps
        if i in (3, 11, 19):
            fate, n = "failed", rng.randint(steps // 5, steps // 2)
        elif i == 15:
            fate, n = "crashed", steps // 3
        rid, run_id, _ = store.create_run(
            id="".join(rng.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(8)), project=p["project"],
            name=f"{rng.choice(_ADJ)}-{rng.choice(_NOUN)}-{i + 1}", group=p["group"], job_type="train", tags=p["tags"],
            notes="baseline with cosine schedule" if i == 0 else None,
            config_json=json.dumps({k: ("••••1234" if "api_key" in k else v) for k, v in cfg.items()}),
            host="gpu-node-7" if fate == "crashed" else "gpu-node-3", pid=None, pid_start=None, user="alice",
            argv=["/usr/bin/python", "train.py", f"--lr={cfg['lr']}"], python="3.11.7",
            cwd="/home/alice/exp", meta={"platform": "linux"}, now=created,
        )
        ids.append(run_id)
        lr = float(cfg["lr"])
        if p["kind"] == "cls":
            floor = 0.18 + 0.25 * float(cfg["dropout"]) + abs(math.log10(lr) + 3.5) * 0.12 + (0.1 if cfg["optimizer"] == "sgd" else 0)
            loss = _curve(rng, steps, floor, 1.0 + 256 / float(cfg["batch_size"]) * 0.2, 0.05)[:n]
        else:
            floor = 2.6 - 0.1 * float(cfg["n_layer"]) / 2
            loss = _curve(rng, steps, floor, 0.8, 0.04)[:n]
        step_time = 2.0 + rng.uniform(0, 1)
        entries = _points(rng, rid, p, n, steps, created, step_time, loss, fate)
        end = created + n * step_time
        events = _events(rid, p, created, end, n, step_time, loss, fate)
        store.append(entries, events=events, now=end)
        _finish(store, rid, p, entries, end, n, fate)
    store.close()
    return ids


def _pdeathsig() -> None:  # runs in the child before exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the app still stops the children when it quits
        pass


def start_live(store_dir: Path, count: int = 2) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` simulated trainings logging into ``store_dir``."""
    procs = []
    for i in range(count):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "tracker.tui.demo", "--train", "--store", str(store_dir), "--index", str(i)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_pdeathsig if sys.platform.startswith("linux") else None,
        ))
    return procs


def stop_live(procs: list[subprocess.Popen[bytes]], timeout: float = 5.0) -> None:
    """SIGTERM (the run is flushed and marked), then SIGKILL whatever is left."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def train(store: str, index: int, steps: int = 20_000, step_time: float = 0.25) -> None:
    """One live simulated training (the child process)."""
    import tracker

    rng = random.Random(100 + index)
    lr = (3e-4, 1e-3)[index % 2]
    cfg = {"lr": lr, "batch_size": 128, "dropout": 0.1, "optimizer": "adamw", "epochs": 30,
           "model": {"arch": "resnet18", "width": 64, "norm": "batchnorm"},
           "data": {"dataset": "cifar10", "augment": True}, "seed": 100 + index}
    run = tracker.init(project="cifar-resnet", config=cfg, group="live", tags=["resnet", "live"], dir=store,
                       job_type="train", capture_git=False)
    floor = 0.2 + abs(math.log10(lr) + 3.5) * 0.12
    for s in range(steps):
        time.sleep(step_time)
        p = min(1.0, s / 2000)
        loss = floor + 2.3 * math.exp(-5 * p) + rng.gauss(0, 0.04)
        m = {"train/loss": loss, "train/acc": max(0.0, 1 - loss / 2.6), "train/lr": lr}
        if s % 20 == 19:
            m["val/loss"] = loss + 0.06
            m["val/acc"] = max(0.0, 1 - (loss + 0.06) / 2.4)
        run.log(m)
    run.finish()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="tracker-tui-demo-train")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--store", required=True)
    ap.add_argument("--index", type=int, default=0)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--step-time", type=float, default=0.25)
    a = ap.parse_args(argv)
    train(a.store, a.index, a.steps, a.step_time)


if __name__ == "__main__":
    main()
