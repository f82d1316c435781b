"""Where the time goes on a project of many runs (issue 19: "10,000 runs feel like 100").

On the store ``bench/make_store.py`` builds for ``--runs`` × ``--steps`` × ``--metrics`` (cached
in /tmp; the issue's store is 10,000 × 100 × 10), measures, in this process:

1. ``StoreReader.snapshot``: the first screenful (``FIRST_WINDOW`` newest runs, what the runs
   table draws first) and every run (read next, in a worker);
2. in the real app (headless, 120×40, ``App.run_test``), once every run is in memory and the
   workers are done: the runs screen's ``apply_filter`` for each prefix of "lr < 5e-4" and a
   bare word, and ``refresh_table`` after a sort by a metric column (each reversed and
   repeated ``--repeat`` times; median and max) — the Python work a keystroke causes, without
   Pilot's waits (``bench/tui_bench.py`` times keystroke to frame);
3. parallel coordinates of every run: from the key (``action_parcoords``) to the view's
   first ``render``;
4. ``tracker.Api().runs()``: ``len()``, ``[0]`` and a full iteration, with the peak of Python
   allocations (tracemalloc) during the iteration;
5. peak RSS of this process (VmHWM).

Usage (repository root, package installed)::

    python bench/many_runs_bench.py [--runs 10000] [--steps 100] [--metrics 10] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_store  # noqa: E402

perf = time.perf_counter


def ms(t: float) -> float:
    return round(t * 1000, 1)


def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reads(store: Path) -> dict[str, Any]:
    from tracker.tui.data import StoreReader
    from tracker.tui.screens.runs import FIRST_WINDOW

    r = StoreReader(store)
    try:
        t = perf()
        first = r.snapshot(make_store.PROJECT, limit=FIRST_WINDOW)
        t1 = perf()
        whole = r.snapshot(make_store.PROJECT)
        t2 = perf()
    finally:
        r.close()
    return {"first_window_runs": len(first.runs), "snapshot_first_window_ms": ms(t1 - t),
            "snapshot_all_ms": ms(t2 - t1), "runs": len(whole.runs)}


async def in_app(store: Path, repeat: int) -> dict[str, Any]:
    from tracker.tui.app import make_app
    from tracker.tui.screens.runs import RunsScreen
    from tracker.tui.widgets.parcoords_view import ParCoordsView

    out: dict[str, Any] = {}
    app = make_app(store, poll_interval=0, keymap={})
    async with app.run_test(size=(120, 40)) as pilot:
        t0 = perf()
        while not (isinstance(s := app.screen, RunsScreen) and s._loaded):
            await asyncio.sleep(0.01)
        await app.workers.wait_for_complete()
        await pilot.pause()
        out["app_all_runs_loaded_ms"] = ms(perf() - t0)
        rs: RunsScreen = app.screen  # type: ignore[assignment]
        text = "lr < 5e-4"
        keys = []
        for _ in range(repeat):
            for i in range(1, len(text) + 1):
                t = perf()
                rs.apply_filter(text[:i])
                keys.append(perf() - t)
            rs.apply_filter("")
        out["filter_keystroke_median_ms"] = ms(statistics.median(keys))
        out["filter_keystroke_max_ms"] = ms(max(keys))
        words = []
        for _ in range(repeat):
            for w in ("a", "ad", "adam"):
                t = perf()
                rs.apply_filter(w)
                words.append(perf() - t)
            rs.apply_filter("")
        out["search_word_median_ms"] = ms(statistics.median(words))
        rs.sort_key, rs.sort_reverse = "m:val/acc", True
        rs.refresh_table()  # the new column: planned once
        sorts = []
        for _ in range(repeat):
            rs.sort_reverse = not rs.sort_reverse
            t = perf()
            rs.refresh_table()
            sorts.append(perf() - t)
        out["sort_metric_median_ms"] = ms(statistics.median(sorts))
        out["sort_metric_max_ms"] = ms(max(sorts))
        rs.sort_key, rs.sort_reverse = "created", True
        rs.refresh_table()
        await pilot.pause()

        drawn: list[float] = []
        orig = ParCoordsView.render

        def render(self: Any) -> Any:
            res = orig(self)
            drawn.append(perf())
            return res

        ParCoordsView.render = render  # type: ignore[method-assign]
        try:
            t = perf()
            rs.action_parcoords()
            while not drawn and perf() - t < 30:
                await asyncio.sleep(0)
            out["parcoords_first_render_ms"] = ms(drawn[0] - t) if drawn else None
        finally:
            ParCoordsView.render = orig  # type: ignore[method-assign]
    return out


def api(store: Path) -> dict[str, Any]:
    import tracker

    runs = tracker.Api(store).runs(make_store.PROJECT)
    t = perf()
    n = len(runs)
    t1 = perf()
    _ = runs[0].name
    t2 = perf()
    tracemalloc.start()
    t3 = perf()
    k = sum(1 for _ in runs)
    t4 = perf()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"api_len_ms": ms(t1 - t), "api_len": n, "api_first_ms": ms(t2 - t1), "api_iterate_ms": ms(t4 - t3),
            "api_iterated": k, "api_iterate_peak_python_mb": round(peak / 2**20, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--long-points", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    store, _ = make_store.ensure_store(a.runs, a.steps, a.metrics, a.long_points)
    res: dict[str, Any] = {"runs": a.runs, "store": str(store)}
    res.update(reads(store))
    res.update(asyncio.run(in_app(store, a.repeat)))
    res.update(api(store))
    res["peak_rss_mb"] = round(vm_hwm_mb(), 1)
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"  {k:32s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
