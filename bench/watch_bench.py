"""Cost of ``tracker.watch(model)`` per training step on CPU, against the same loop without it.

A small MLP (4 Linear layers of 256, 8 parameter tensors, batch 64) trains for ``--steps``
steps under each setting; each setting runs ``--repeats`` times and the best time is kept.
A logging step stores a 64-bin ``tracker.Histogram`` and a norm per watched tensor (8 for
``"gradients"``, 16 for ``"all"``). Prints microseconds per step and the ratio to no watch.

Usage: python bench/watch_bench.py [--steps 400] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

import tracker


def loop(steps: int, watch: dict[str, object] | None, store: str) -> float:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    layers: list[torch.nn.Module] = []
    for i in range(4):
        layers += [torch.nn.Linear(256 if i else 32, 256), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(64, 32), torch.randn(64, 256)
    run = tracker.init(project="watch-bench", dir=store, capture_git=False, system_interval=None, console=False)
    if watch is not None:
        tracker.watch(model, **watch)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()})
    dt = time.perf_counter() - t0
    tracker.unwatch()
    run.finish()
    return dt / steps * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    settings: list[tuple[str, dict[str, object] | None]] = [
        ("no watch", None),
        ("gradients, log_freq=100", {"log": "gradients", "log_freq": 100}),
        ("all, log_freq=100", {"log": "all", "log_freq": 100}),
        ("all, log_freq=1", {"log": "all", "log_freq": 1}),
    ]
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(a.repeats):  # settings interleaved: a busy machine slows them alike
            for name, w in settings:
                out[name] = min(out.get(name, float("inf")), loop(a.steps, w, d))
    base = out["no watch"]
    if a.json:
        print(json.dumps({k: {"us_per_step": v, "ratio": v / base} for k, v in out.items()}))
        return
    for name, us in out.items():
        print(f"{name:28s} {us:9.1f} us/step  x{us / base:.3f}")


if __name__ == "__main__":
    main()
