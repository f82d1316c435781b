"""A simulated training run that logs like a real one: `python examples/train.py`.

No GPU or NumPy needed. Pass --store DIR (default $TRACKER_DIR, then ~/.tracker).
"""

import argparse
import math
import random
import time

import tracker


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--store", default=None)
    p.add_argument("--project", default="demo-cifar")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--optimizer", default="adamw")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--step-time", type=float, default=0.002, help="seconds per simulated step")
    args = p.parse_args()

    rng = random.Random(int(args.lr * 1e6) + args.batch_size)
    config = {k: v for k, v in vars(args).items() if k not in ("store", "project", "step_time")}
    with tracker.init(project=args.project, config=config, tags=["example", args.optimizer],
                      dir=args.store) as run:
        print(f"run {run.id} ({run.name}) -> {run.project}")
        floor = 0.15 + 0.2 * args.dropout + abs(math.log10(args.lr) + 3.5) * 0.1
        for step in range(args.steps):
            time.sleep(args.step_time)
            progress = step / args.steps
            loss = floor + 2.2 * math.exp(-5 * progress) + rng.gauss(0, 0.03)
            metrics = {"train/loss": loss, "train/lr": args.lr * min(1.0, (step + 1) / 50)}
            if step % 25 == 24:
                metrics["val/loss"] = loss + 0.05 + rng.gauss(0, 0.01)
                metrics["val/acc"] = max(0.0, min(1.0, 0.98 - loss / 3 + rng.gauss(0, 0.01)))
            run.log(metrics)
        run.summary["best_val_acc"] = max(0.0, 0.98 - floor / 3)


if __name__ == "__main__":
    main()
