"""A toy training script for the sweep example: tracker.init() receives the trial's parameters."""

import math
import time

import tracker

run = tracker.init(config={"lr": 0.01, "batch": 32, "dropout": 0.1, "epochs": 30})
cfg = run.config
loss = 2.0
for epoch in range(cfg["epochs"]):
    # the best lr is near 0.03; batch matters a little; dropout not at all
    gap = abs(math.log10(cfg["lr"]) - math.log10(0.03))
    loss = 0.2 + gap * 0.8 + cfg["batch"] / 640 + 1.5 * math.exp(-epoch / 6)
    run.log({"val/loss": loss})
    time.sleep(0.05)
run.finish()
