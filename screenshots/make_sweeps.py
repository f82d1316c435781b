"""Screenshots of the Sweeps screen: `python screenshots/make_sweeps.py` (needs Pillow for the PNG).

Runs the README's example sweep (examples/sweep: bayes over lr / batch / dropout with hyperband)
with a function agent into a temporary store, then drives the real app: S from the runs screen,
the trials, and i for the parameter importance. Hyperband's stops depend on timing, so the
trials' states can differ between runs of this script.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOW = 1_790_000_000.0


def make_store(store: Path) -> None:
    import yaml

    import tracker

    cfg = yaml.safe_load((HERE.parent / "examples" / "sweep" / "sweep.yaml").read_text())
    cfg["seed"] = 1
    sid = tracker.sweep(cfg, project="demo", dir=store)

    def train() -> None:
        run = tracker.init(config={"lr": 0.01, "batch": 32, "dropout": 0.1, "epochs": 30}, dir=store,
                           system_interval=0, console=False)
        c = run.config
        for epoch in range(c["epochs"]):
            gap = abs(math.log10(c["lr"]) - math.log10(0.03))
            run.log({"val/loss": 0.2 + gap * 0.8 + c["batch"] / 640 + 1.5 * math.exp(-epoch / 6)})
            time.sleep(0.02)

    tracker.agent(sid, function=train, dir=store)


async def shoot(store: Path) -> None:
    from png import save_png

    from tracker.tui.app import make_app

    app = make_app(store, keymap={}, poll_interval=0, clock=lambda: NOW, ascii_only=False)
    async with app.run_test(size=(80, 24)) as pilot:
        async def settle() -> None:
            for _ in range(4):
                for w in [w for w in app.workers if not w.is_finished]:
                    try:
                        await w.wait()
                    except Exception:
                        pass
                await pilot.pause()

        await settle()
        await pilot.press("S")
        await settle()
        for name, key in (("sweeps-80x24", None), ("sweeps-importance-80x24", "i")):
            if key:
                await pilot.press(key)
                await settle()
            path = HERE / f"{name}.svg"
            app.save_screenshot(str(path))
            save_png(app, path.with_suffix(".png"))
            print("wrote", path.name, "+", path.with_suffix(".png").name)


def main() -> None:
    os.environ["TZ"] = "UTC"
    os.environ.setdefault("TRACKER_SWEEP_POLL", "0.1")
    time.tzset()
    sys.path.insert(0, str(HERE))
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "sweeps"
        make_store(store)
        asyncio.run(shoot(store))


if __name__ == "__main__":
    main()
