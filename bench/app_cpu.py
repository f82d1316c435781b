"""CPU the app spends following live runs.

The real app (headless, through ``App.run_test``, live updates on: watchdog observer, refresh
cap) is opened on a store while (1) one run logs a step every 0.25 s — "idle with a live run" —
and (2) 10 writer processes log as fast as they can (the storm). Reports the app process's CPU
time per wall second (% of one core) over each phase, the number of screen refreshes from live
data, and how long after the storm the table matched the store. The writers run in their own
processes, so their CPU is not counted.

Targets (issue: Live): idle with a live run < 5% of one core; under the storm the app keeps up
(converges within 1 s after it ends) without falling behind or growing.

Usage: python bench/app_cpu.py [--idle-seconds 10] [--storm-writers 10] [--storm-steps 3000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

WRITER = textwrap.dedent(
    """
    import sys, time, tracker
    store, name, steps, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    run = tracker.init(project="cpu", name=name, dir=store, capture_git=False)
    for i in range(steps):
        run.log({"loss": 1.0 / (i + 1), "acc": i / steps, "lr": 1e-3})
        if delay:
            time.sleep(delay)
    run.finish()
    """
)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def main_async(a: argparse.Namespace) -> dict[str, float]:
    from tracker.store import Store
    from tracker.tui.app import make_app
    from tracker.tui.screens.runs import RunsScreen
    from tracker.tui.widgets.run_table import RunTable

    tmp = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    store = tmp / "store"
    Store(store).close()
    script = tmp / "writer.py"
    script.write_text(WRITER)
    app = make_app(store, keymap={}, poll_interval=None, refresh_hz=a.refresh_hz)
    refreshes = []
    orig = app.broadcast_changed
    app.broadcast_changed = lambda: (refreshes.append(time.monotonic()), orig())[1]  # type: ignore[method-assign]
    out: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        while app.live_mode == "starting":
            await pilot.pause(0.05)
        out["mode_watch"] = float(app.live_mode == "watch")
        live = subprocess.Popen([sys.executable, str(script), str(store), "live", "100000", "0.25"])
        await pilot.pause(2.0)  # the run appears
        rss0 = rss_mb()
        c0, t0, n0 = time.process_time(), time.monotonic(), len(refreshes)
        await pilot.pause(a.idle_seconds)
        c1, t1 = time.process_time(), time.monotonic()
        out["idle_cpu_pct"] = 100 * (c1 - c0) / (t1 - t0)
        out["idle_refreshes_per_s"] = (len(refreshes) - n0) / (t1 - t0)
        # the storm
        writers = [subprocess.Popen([sys.executable, str(script), str(store), f"storm-{i}", str(a.storm_steps), "0"])
                   for i in range(a.storm_writers)]
        c0, t0, n0 = time.process_time(), time.monotonic(), len(refreshes)
        while any(w.poll() is None for w in writers):
            await pilot.pause(0.1)
        c1, t1 = time.process_time(), time.monotonic()
        out["storm_seconds"] = t1 - t0
        out["storm_cpu_pct"] = 100 * (c1 - c0) / (t1 - t0)
        out["storm_refreshes_per_s"] = (len(refreshes) - n0) / (t1 - t0)
        out["storm_points"] = a.storm_writers * a.storm_steps * 3
        screen = next(s for s in app.screen_stack if isinstance(s, RunsScreen))
        table = screen.query_one(RunTable)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = {r.cells.get("name"): r.cells for r in table.rows}
            if all(rows.get(f"storm-{i}", {}).get("state") == "finished"
                   and rows[f"storm-{i}"].get("step") == str(a.storm_steps - 1) for i in range(a.storm_writers)):
                break
            await pilot.pause(0.02)
        out["converged_after_storm_s"] = time.monotonic() - t1
        out["rss_growth_mb"] = rss_mb() - rss0
        live.terminate()
        live.wait(10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--storm-writers", type=int, default=10)
    ap.add_argument("--storm-steps", type=int, default=3000)
    ap.add_argument("--refresh-hz", type=float, default=10.0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out = asyncio.run(main_async(a))
    if a.json:
        print(json.dumps(out))
        return
    print(f"app_cpu: live updates in {'watch' if out['mode_watch'] else 'poll'} mode, refresh cap {a.refresh_hz:g} Hz, "
          f"{os.cpu_count()} cores")
    print(f"  idle with one live run (4 steps/s): {out['idle_cpu_pct']:.1f}% of one core "
          f"({out['idle_refreshes_per_s']:.1f} refreshes/s)   target < 5%")
    print(f"  storm: {a.storm_writers} writers x {a.storm_steps} steps ({out['storm_points']:,} points) "
          f"in {out['storm_seconds']:.1f} s: app {out['storm_cpu_pct']:.1f}% of one core, "
          f"{out['storm_refreshes_per_s']:.1f} refreshes/s (cap {a.refresh_hz:g})")
    print(f"  table matched the store {out['converged_after_storm_s']:.2f} s after the storm ended   target < 1 s")
    print(f"  app memory growth over the run: {out['rss_growth_mb']:+.1f} MB")


if __name__ == "__main__":
    main()
