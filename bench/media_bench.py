"""What rich media cost a training loop, the disk, and the app.

1. Paced loop: N steps of a 1 ms ``time.sleep`` (a GPU-bound step) + ``log()`` of 10 scalars; every
   10th step also a 256x256 RGB image, a 64-bin histogram of 10,000 samples and a 100-row table.
   Wall time per step against the same loop logging scalars only: the added time per step, and
   per media step (constructing the objects included: that is what a user's loop pays).
2. Bytes on disk per item (the object files and the media rows' metadata).
3. The Media tab opening on a run with 1,000 histogram steps: from pressing ``6`` until the pane
   has drawn (the key list, the heat map, the bands and the bars), in the real app.

Usage: python bench/media_bench.py [--steps 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

KEYS = [f"train/m{i}" for i in range(10)]


def paced(steps: int, media: bool) -> tuple[float, str]:
    import numpy as np

    import tracker

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
    d = tempfile.mkdtemp(prefix="bench-media-")
    try:
        run = tracker.init(project="bench", dir=d, capture_git=False, system_interval=None, console=False)
        t0 = time.perf_counter()
        for i in range(steps):
            time.sleep(0.001)
            m: dict[str, object] = {k: i * 1e-3 for k in KEYS}
            if media and i % 10 == 0:
                img[0, 0, 0] = i % 256  # a new image each time (no dedup helping)
                t = tracker.Table(columns=["id", "label", "score"], data=[[j, f"class {j % 7}", j / 100] for j in range(100)])
                m.update({"sample": tracker.Image(img, caption=f"step {i}"),
                          "weights": tracker.Histogram(rng.normal(size=10_000), num_bins=64), "preds": t})
            run.log(m)
        t1 = time.perf_counter()
        run.finish()
        return (t1 - t0) / steps * 1e6, d
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise


def disk(d: str) -> dict[str, float]:
    conn = sqlite3.connect(os.path.join(d, "tracker.db"))
    out = {}
    for kind, n, meta, size in conn.execute(
            "SELECT kind, count(*), sum(length(meta)), sum(size) FROM media GROUP BY kind"):
        out[kind] = (size + meta) / n
    conn.close()
    return out


def make_hist_store(d: Path, steps: int) -> str:
    import numpy as np

    import tracker

    rng = np.random.default_rng(1)
    run = tracker.init(project="bench", dir=d, capture_git=False, system_interval=None, console=False)
    for s in range(steps):
        run.log({"weights": tracker.Histogram(rng.normal(s / steps, 1, size=1000), num_bins=64)}, step=s)
    run.finish()
    return run.id


async def open_tab(d: Path, run_id: str, key: str = "6") -> tuple[float, float]:
    """(ms from pressing ``key`` (6: the Media tab, whose pane then reads the media in a thread)
    until the first value is laid out; ms until the test harness is idle again). The second
    includes Pilot's settling, which costs as much for a tab that does nothing (Console, 5)."""
    from tracker.tui.app import make_app
    from tracker.tui.widgets.media import MediaPane

    shown: list[float] = []
    original = MediaPane._show

    def timed(self: MediaPane) -> None:
        original(self)
        shown.append(time.perf_counter())

    async def settle(pilot, app) -> None:
        for _ in range(3):
            for w in [w for w in app.workers if not w.is_finished]:
                await w.wait()
            await pilot.pause()

    MediaPane._show = timed  # type: ignore[method-assign]
    try:
        app = make_app(d, keymap={}, poll_interval=0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, app)
            await pilot.press("enter")  # run detail opens; the Media tab and its pane are added
            await settle(pilot, app)
            t0 = time.perf_counter()
            await pilot.press(key)
            await settle(pilot, app)
            t1 = time.perf_counter()
            if key == "6":
                assert len(app.screen.query_one(MediaPane).by_key["weights"]) == 1000
            return ((shown[0] - t0) * 1000 if shown else float("nan")), (t1 - t0) * 1000
    finally:
        MediaPane._show = original  # type: ignore[method-assign]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    base, with_media = [], []
    sizes: dict[str, float] = {}
    for _ in range(a.repeat):
        us, d = paced(a.steps, False)
        shutil.rmtree(d, ignore_errors=True)
        base.append(us)
        us, d = paced(a.steps, True)
        sizes = disk(d)
        shutil.rmtree(d, ignore_errors=True)
        with_media.append(us)
    b, m = statistics.median(base), statistics.median(with_media)
    print(f"paced loop, {a.steps} steps of 1 ms, median of {a.repeat}:")
    print(f"  scalars only          {b:8.0f} us/step")
    print(f"  + media every 10      {m:8.0f} us/step   added {m - b:6.0f} us/step = {(m - b) * 10 / 1000:.2f} ms "
          "per media step (image + histogram + table)")
    print("bytes on disk per item (files + metadata):")
    for kind, n in sorted(sizes.items()):
        print(f"  {kind:<10} {n:10,.0f} B")
    with tempfile.TemporaryDirectory() as tmp:
        rid = make_hist_store(Path(tmp) / "store", 1000)
        media = [asyncio.run(open_tab(Path(tmp) / "store", rid)) for _ in range(a.repeat)]
        console = [asyncio.run(open_tab(Path(tmp) / "store", rid, "5")) for _ in range(a.repeat)]
    first = statistics.median(m[0] for m in media)
    print(f"Media tab on 1,000 histogram steps: {first:.0f} ms from pressing 6 to the first value laid "
          f"out (read in a thread, distribution lines, heat map, bars; target < 300 ms)")
    print(f"  pressing 6 until the test harness is idle: {statistics.median(m[1] for m in media):.0f} ms; pressing 5 "
          f"(the Console tab): {statistics.median(c[1] for c in console):.0f} ms (the harness's floor)")


if __name__ == "__main__":
    sys.exit(main())
