"""How responsive is the TUI on a big store? (the "10M points" issue)

On a store of N runs × S steps × K metrics (default 1,000 × 1,000 × 10 = 10M points) plus one run
with a single 1,000,000-point ``loss`` series, built or reused by ``bench/make_store.py`` in a
subprocess (so its memory does not count here), the app from ``make_app`` runs headless under
``App.run_test(size=(120, 40))`` and we measure:

1. first paint of the runs table: from creating the app to the first frame that shows the
   RunTable with rows (first rows / all N rows); also when the trend column is filled for the
   rows in view — target < 1 s;
2. a filter keystroke: "lr < 5e-4" typed one key at a time into ``#filter``; per key, the time
   from the key event to the first frame that shows the table holding exactly the runs the filter
   (as far as typed) selects — median and max — target < 100 ms. Keys that leave the text
   unparsable keep the previous filter (the app shows the error): for those it is the time to the
   frame showing the error. Also given: the same keystrokes driven the Pilot way
   (``await pilot.press(k); await pilot.pause()``), which includes Pilot's idle waits (each
   ``press`` sleeps ≥ 2 × 20 ms, ``pause()`` ≥ 20 ms), so it is an upper bound, not the latency;
3. a chart of 10 overlaid runs (``train/loss``, 1,000 points each): from pushing ``ChartsScreen``
   to the first frame showing the ChartView drawn with the loaded data — target < 250 ms;
4. a chart of the 1,000,000-point series (read from the store as per-1,024-point block extremes)
   — target < 250 ms;
5. RSS of this process (``/proc/self/status`` VmRSS, and the peak VmHWM) after all that — target
   < 300 MB.

Figures 1–4 are medians over ``--repeat`` (3) fresh app sessions; each session charts different
runs, so every chart reads and prepares its series cold. "Frame" means a compositor update the app
handed to the (headless) driver: the widgets' lines have been rendered; only writing escape codes
to a terminal is skipped. It is seen by wrapping ``app._display`` of the app under test; "shows the
table" means ``RunTable.render_line`` ran after the last ``RunTable.set_data`` (class-level
wrappers keep a generation counter on the table). The wrappers only observe and delegate; no app
code is changed.

Also printed, to say where the time goes: the duration of ``RunsScreen.refresh_table``,
``RunTable.set_data`` and drawing ``ChartView.render`` calls inside the app, the cyclic-GC pauses
during the keystrokes, and the chart pipeline timed directly (store read via ``StoreReader``,
``to_chart_series``, ``render_grid`` at the ChartView's size).

Usage, from the repository root:

    python bench/tui_bench.py [--runs 1000] [--steps 1000] [--metrics 10] [--quick]
                              [--repeat 3] [--store DIR] [--json] [--profile]

``--quick``: 100 runs × 200 steps (and the same 1M-point run) for a smoke run. ``--profile``: one
more session under cProfile (event-loop thread), printing the top functions of each phase.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_store  # noqa: E402  (bench/make_store.py)

TARGETS = {"first_paint_ms": 1000.0, "keystroke_ms": 100.0, "chart10_ms": 250.0, "chart1m_ms": 250.0,
           "rss_mb": 300.0, "cold_start_ms": 1000.0}
FILTER_TEXT = "lr < 5e-4"
SIZE = (120, 40)
TIMEOUT = 60.0
perf = time.perf_counter


def proc_status() -> dict[str, float]:
    """VmRSS / VmHWM of this process in MiB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0]) / 1024
    return out


# ---------------------------------------------------------------------------------- observation
class Probe:
    """Observes an app: the time of the first frame at which a condition holds; durations of
    some app calls (class-level wrappers installed once, delegating to the originals)."""

    calls: dict[str, list[float]] = {}
    marks: dict[str, float] = {}
    _installed = False

    def __init__(self, app: Any) -> None:
        self.app = app
        self.frames = 0
        self._watch: list[list[Any]] = []  # [cond, time or None]
        orig = app._display

        def display(screen: Any, renderable: Any) -> None:
            orig(screen, renderable)
            if renderable is None:
                return
            now = perf()
            self.frames += 1
            for w in self._watch:
                if w[1] is None:
                    try:
                        ok = w[0]()
                    except Exception:
                        ok = False
                    if ok:
                        w[1] = now

        app._display = display  # instance attribute: Screen calls app._display(...)

    def watch(self, cond: Callable[[], Any]) -> list[Any]:
        w = [cond, None]
        self._watch.append(w)
        return w

    async def wait(self, w: list[Any], timeout: float = TIMEOUT) -> float | None:
        """The perf_counter() of the first frame at which the condition held (None on timeout)."""
        end = perf() + timeout
        while w[1] is None and perf() < end:
            await asyncio.sleep(0.001)
        if w in self._watch:
            self._watch.remove(w)
        return w[1]

    @classmethod
    def install(cls) -> None:
        if cls._installed:
            return
        cls._installed = True
        from tracker.tui.screens.runs import RunsScreen
        from tracker.tui.widgets.chart_view import ChartView
        from tracker.tui.widgets.run_table import RunTable

        def timed(owner: Any, name: str, label: str, pred: Callable[..., bool] | None = None) -> None:
            orig = getattr(owner, name)

            def wrapper(self: Any, *a: Any, **k: Any) -> Any:
                measure = pred(self) if pred else True
                t = perf()
                try:
                    return orig(self, *a, **k)
                finally:
                    if measure:
                        cls.calls.setdefault(label, []).append((perf() - t) * 1000)

            wrapper.__wrapped__ = orig  # type: ignore[attr-defined]
            setattr(owner, name, wrapper)

        timed(RunsScreen, "refresh_table", "RunsScreen.refresh_table")
        timed(RunTable, "set_data", "RunTable.set_data")

        # "Painted since the last set_data": a generation counter bumped by set_data and copied
        # by render_line (which Textual calls only when it draws the widget into a frame).
        set_data, render_line = RunTable.set_data, RunTable.render_line

        def set_data_gen(self: Any, *a: Any, **k: Any) -> Any:
            self._bench_gen = getattr(self, "_bench_gen", 0) + 1
            return set_data(self, *a, **k)

        def render_line_gen(self: Any, y: int) -> Any:
            self._bench_painted = getattr(self, "_bench_gen", 0)
            return render_line(self, y)

        RunTable.set_data = set_data_gen  # type: ignore[method-assign]
        RunTable.render_line = render_line_gen  # type: ignore[method-assign]

        set_series = ChartView.set_series

        def set_series_mark(self: Any, *a: Any, **k: Any) -> Any:
            cls.marks["ChartView.set_series"] = perf()
            return set_series(self, *a, **k)

        ChartView.set_series = set_series_mark  # type: ignore[method-assign]
        # Only the render() calls that draw (cache key changed), not the cached repaints.
        def draws(v: Any) -> bool:  # render() will redraw rather than return its cached Text
            rk = v._rendered_key
            return rk is None or rk[2] != v._version or (rk[0], rk[1]) != tuple(v.content_size)

        timed(ChartView, "render", "ChartView.render (drawing)", draws)


def key_event(ch: str) -> Any:
    from textual import events
    from textual.keys import _character_to_key

    key = ch if ch.isalnum() else _character_to_key(ch)
    return events.Key(key, ch)


def painted(table: Any) -> bool:
    """The RunTable has been drawn since its last ``set_data`` (see ``Probe.install``)."""
    gen = getattr(table, "_bench_gen", None)
    return gen is not None and getattr(table, "_bench_painted", None) == gen


def pilot_key(ch: str) -> str:
    from textual.keys import _character_to_key

    return ch if ch.isalnum() else _character_to_key(ch)


# ---------------------------------------------------------------------------------- one session
async def session(store: Path, n_runs: int, long_id: str | None, rep: int, *,
                  pilot_round: bool, profile: cProfile.Profile | None = None) -> dict[str, Any]:
    from tracker.tui.app import make_app
    from tracker.tui.filter import FilterError, compile_filter
    from tracker.tui.screens.charts import ChartsScreen
    from tracker.tui.screens.runs import RunsScreen
    from tracker.tui.widgets.chart_view import ChartView
    from tracker.tui.widgets.run_table import RunTable

    res: dict[str, Any] = {}
    prof_out: dict[str, str] = {}

    def prof_on() -> None:
        if profile is not None:
            profile.enable()

    def prof_off(phase: str) -> None:
        if profile is not None:
            profile.disable()
            s = io.StringIO()
            st = pstats.Stats(profile, stream=s)
            st.sort_stats("tottime").print_stats(18)
            st.sort_stats("cumulative").print_stats(25)
            prof_out[phase] = s.getvalue()
            profile.clear()

    def runs_screen() -> Any:
        s = app.screen
        return s if isinstance(s, RunsScreen) else None

    def table() -> Any:
        s = runs_screen()
        return s.query_one(RunTable) if s is not None else None

    prof_on()
    t0 = perf()
    app = make_app(store, poll_interval=1.0, keymap={})
    probe = Probe(app)
    first_rows = probe.watch(lambda: (t := table()) is not None and len(t.rows) > 0 and painted(t))
    all_rows = probe.watch(lambda: (t := table()) is not None and len(t.rows) == n_runs and painted(t))
    def trend_in_view() -> bool:
        """Every run in view has its sparkline (a project of more than SPARKS_EAGER_MAX runs
        reads them only for rows drawn; a smaller one reads them all, rows in view first)."""
        s = runs_screen()
        if s is None:
            return False
        t = s.query_one(RunTable)
        if len(t.rows) != n_runs or not painted(t):
            return False
        top = int(t.scroll_y)
        return all(r.key in s.sparks for r in t.rows[top:top + t.size.height - 1])

    settled = probe.watch(trend_in_view)
    async with app.run_test(size=SIZE) as pilot:
        t_first = await probe.wait(first_rows)
        t_all = await probe.wait(all_rows)
        prof_off("1 first paint")
        t_settled = await probe.wait(settled)
        res["first_rows_ms"] = None if t_first is None else (t_first - t0) * 1000
        res["all_rows_ms"] = None if t_all is None else (t_all - t0) * 1000
        res["settled_ms"] = None if t_settled is None else (t_settled - t0) * 1000
        await app.workers.wait_for_complete()
        await pilot.pause()

        rs = runs_screen()
        tbl = rs.query_one(RunTable)
        inp = rs.query_one("#filter")
        err = rs.query_one("#filter-error")
        runs = list(rs.runs.values())
        assert len(runs) == n_runs, (len(runs), n_runs)

        # ---- 2. filter keystrokes
        inp.focus()
        await pilot.pause()

        def expected_after(prefixes: list[str]) -> list[tuple[str, bool, frozenset[str]]]:
            out = []
            cur = frozenset(r.id for r in runs)
            for text in prefixes:
                try:
                    f = compile_filter(text)
                    cur = frozenset(r.id for r in runs if f(r))
                    out.append((text, True, cur))
                except FilterError:
                    out.append((text, False, cur))
            return out

        prefixes = [FILTER_TEXT[: i + 1] for i in range(len(FILTER_TEXT))]
        plan = expected_after(prefixes)

        def shows(text: str, ok: bool, ids: frozenset[str]) -> Callable[[], bool]:
            def cond() -> bool:
                if inp.value != text or not painted(tbl):
                    return False
                if ok and rs.filter_text != text:
                    return False
                if not ok and not err.display:
                    return False
                return len(tbl.rows) == len(ids) and {r.key for r in tbl.rows} == ids
            return cond

        async def clear() -> None:
            w = probe.watch(lambda: inp.value == "" and len(tbl.rows) == n_runs and painted(tbl))
            inp.value = ""
            await probe.wait(w)
            await pilot.pause()

        keys: list[dict[str, Any]] = []
        gc_pauses: list[tuple[int, float]] = []
        gc_start: list[float] = [0.0]

        def gc_cb(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                gc_start[0] = perf()
            else:
                gc_pauses.append((info["generation"], (perf() - gc_start[0]) * 1000))

        gc.callbacks.append(gc_cb)
        prof_on()
        for ch, (text, ok, ids) in zip(FILTER_TEXT, plan):
            w = probe.watch(shows(text, ok, ids))
            t = perf()
            app._driver.send_message(key_event(ch))
            tf = await probe.wait(w, timeout=10)
            keys.append({"text": text, "parsed": ok, "rows": len(ids),
                         "ms": None if tf is None else (tf - t) * 1000})
            await pilot.pause()  # let the app go idle, as between a person's keystrokes
        prof_off("2 filter keystrokes")
        gc.callbacks.remove(gc_cb)
        res["gc"] = gc_pauses
        res["keys"] = keys
        res["filter_rows"] = len(tbl.rows)
        await clear()

        if pilot_round:
            pk = []
            for ch, (text, ok, ids) in zip(FILTER_TEXT, plan):
                cond = shows(text, ok, ids)
                t = perf()
                await pilot.press(pilot_key(ch))
                await pilot.pause()
                n = 0
                while not cond() and n < 1000:
                    await pilot.pause(0)
                    n += 1
                pk.append((perf() - t) * 1000 if cond() else None)
            res["pilot_keys_ms"] = pk
            await clear()
        tbl.focus()
        await pilot.pause()

        # ---- 3./4. charts
        shown = [r.id for r in rs.shown]

        async def chart(ids: list[str], metric: str, label: str) -> dict[str, Any]:
            def cond() -> bool:
                s = app.screen
                if not isinstance(s, ChartsScreen):
                    return False
                v = s.query_one(ChartView)
                n = sum(len(x) for x in v._panels.values())
                return n == len(ids) and v._rendered_key is not None and v._rendered_key[2] == v._version
            w = probe.watch(cond)
            prof_on()
            Probe.marks.pop("ChartView.set_series", None)
            t = perf()
            app.push_screen(ChartsScreen(ids, metric))
            tf = await probe.wait(w)
            prof_off(label)
            out = {"ms": None if tf is None else (tf - t) * 1000}
            td = Probe.marks.pop("ChartView.set_series", None)
            out["data_ms"] = None if td is None else (td - t) * 1000  # push -> data in the widget
            s = app.screen
            if isinstance(s, ChartsScreen):
                v = s.query_one(ChartView)
                out["content_size"] = tuple(v.content_size)
                out["points"] = sum(len(x.ys) for p in v._panels.values() for x in p)
            # the Pilot way, for comparison: workers done + pause, then check
            await app.workers.wait_for_complete()
            await pilot.pause()
            out["ok_after_pause"] = cond()
            app.pop_screen()
            w = probe.watch(lambda: isinstance(app.screen, RunsScreen))
            await probe.wait(w)
            await pilot.pause()
            return out

        k = rep % max(1, len(shown) // 10)
        res["chart10"] = await chart(shown[k * 10 : k * 10 + 10], make_store.CHART_KEY, "3 chart 10 runs")
        if long_id:
            res["chart1m"] = await chart([long_id], make_store.LONG_KEY, "4 chart 1M points")
        res["mem"] = proc_status()
    res["profile"] = prof_out
    return res


# ---------------------------------------------------------------------------------- direct breakdown
def chart_breakdown(store: Path, run_ids: list[list[str]], key: str, size: tuple[int, int]) -> dict[str, float]:
    """The chart pipeline without the app: read, convert, draw (median over the id lists)."""
    from tracker.tui.charts import ChartSpec, render_grid
    from tracker.tui.data import StoreReader
    from tracker.tui.screens.charts import to_chart_series

    reader = StoreReader(store)
    t_run, t_series, t_conv, t_render = [], [], [], []
    for ids in run_ids:
        t = perf()
        recs = [reader.run(i) for i in ids]
        t_run.append((perf() - t) * 1000)
        t = perf()
        data = reader.series(recs, key)
        t_series.append((perf() - t) * 1000)
        t = perf()
        ser = to_chart_series(data)
        t_conv.append((perf() - t) * 1000)
        t = perf()
        render_grid([ChartSpec(ser, title=key)], size[0], size[1], color=True)
        t_render.append((perf() - t) * 1000)
    reader.close()
    med = statistics.median
    return {"StoreReader.run x ids": med(t_run), "StoreReader.series": med(t_series),
            "to_chart_series": med(t_conv), "render_grid": med(t_render)}


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import tracker.tui.app; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip()) * 1000


# ---------------------------------------------------------------------------------- cold start
#: The child of ``cold_start``: what ``tracker-tui`` does after Enter (import the CLI, then the
#: app, open the store), headless, printing ``time.monotonic()`` at the first frame that shows
#: runs in the table. Nothing is imported before the CLI, so every import counts.
COLD_CHILD = """
import sys, time
import tracker.tui.cli
from tracker.tui.app import make_app
from tracker.tui.widgets.run_table import RunTable

render_line = RunTable.render_line

def drawn(self, y):
    if y >= 1 and self.rows:
        self._cold_drawn = True
    return render_line(self, y)

RunTable.render_line = drawn

async def main():
    app = make_app(sys.argv[1], keymap={})
    display = app._display
    shown = []

    def on_frame(screen, renderable):
        display(screen, renderable)
        if renderable is not None and not shown:
            for t in app.screen.query(RunTable):
                if getattr(t, "_cold_drawn", False):
                    shown.append(time.monotonic())

    app._display = on_frame
    async with app.run_test(size=(120, 40)) as pilot:
        while not shown:
            await pilot.pause(0.001)
    print(repr(shown[0]))

import asyncio
asyncio.run(main())
"""


def cold_start(store: Path, repeat: int = 5) -> dict[str, float]:
    """Enter -> first rows on screen, interpreter start-up and imports included: a fresh
    ``python`` per try (CLOCK_MONOTONIC is shared by the processes). Bytecode is written and
    used as after ``pip install`` (the first, warming try is not counted)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    import resource

    times, cpu = [], []
    for i in range(repeat + 1):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        out = subprocess.run([sys.executable, "-c", COLD_CHILD, str(store)], capture_output=True, text=True,
                             env=env, timeout=120)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0:
            raise RuntimeError(f"cold start child failed: {out.stderr[-2000:]}")
        if i:
            times.append((float(out.stdout.strip().splitlines()[-1]) - t0) * 1000)
            # CPU of the whole child (it quits right after the first rows): steadier than wall
            # time on a busy machine.
            cpu.append((r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1000)
    python_ms = []
    for _ in range(repeat):
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        python_ms.append((time.monotonic() - t0) * 1000)
    return {"cold_first_rows_ms": statistics.median(times), "cold_first_rows_min_ms": min(times),
            "cold_child_cpu_ms": statistics.median(cpu), "python_startup_ms": statistics.median(python_ms)}


# ---------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--long-points", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100 runs x 200 steps (smoke run)")
    ap.add_argument("--repeat", type=int, default=3, help="app sessions (figures are medians)")
    ap.add_argument("--store", help="store directory (default: make_store's cache directory)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--profile", action="store_true", help="one more session under cProfile; print hot spots")
    ap.add_argument("--cold-only", action="store_true",
                    help="only the cold start (Enter -> first rows, a fresh interpreter per try)")
    a = ap.parse_args(argv)
    if a.quick:
        a.runs, a.steps = 100, 200

    # ---- the store, built in a subprocess so its memory is not ours
    store = Path(a.store) if a.store else make_store.default_out(a.runs, a.steps, a.metrics, a.long_points)
    params = make_store._params(a.runs, a.steps, a.metrics, a.long_points, 0)
    marker = make_store.read_marker(store)
    reused = marker is not None and marker.get("params") == params and (store / "tracker.db").exists()
    if not reused:
        cmd = [sys.executable, str(HERE / "make_store.py"), "--runs", str(a.runs), "--steps", str(a.steps),
               "--metrics", str(a.metrics), "--long-points", str(a.long_points), "--out", str(store)]
        subprocess.run(cmd, check=True, stdout=sys.stderr)
        marker = make_store.read_marker(store)
    assert marker is not None
    gen = marker["generation"]
    long_id = gen.get("long_run_id")

    load0 = open("/proc/loadavg").read().split()[:3]
    cold = cold_start(store)
    if a.cold_only:
        cold["import_tracker_tui_app_ms"] = import_time()
        if a.json:
            print(json.dumps(cold, indent=1))
        else:
            print(f"cold start on {store} ({a.runs} runs), load average {' '.join(load0)}:")
            for k, v in cold.items():
                print(f"  {k:<28} {v:8.0f} ms")
        return 0 if cold["cold_first_rows_ms"] < TARGETS["cold_start_ms"] else 1
    mem0 = proc_status()
    imp_ms = import_time()
    Probe.install()

    sessions = []
    for rep in range(a.repeat):
        sessions.append(asyncio.run(session(store, a.runs, long_id, rep, pilot_round=True)))
    mem_end = proc_status()

    # direct breakdown of the chart pipeline (fresh ids, not used by the sessions)
    from tracker.store import Store

    st = Store(store, create=False)
    ids = [r.id for r in st.runs(make_store.PROJECT, with_metrics=False)]
    st.close()
    size = sessions[-1]["chart10"].get("content_size") or (SIZE[0], SIZE[1] - 2)
    groups = [ids[len(ids) - 10 * (i + 1) : len(ids) - 10 * i] for i in range(3)]
    bd10 = chart_breakdown(store, groups, make_store.CHART_KEY, size)
    bd1m = chart_breakdown(store, [[long_id]] * 3, make_store.LONG_KEY, size) if long_id else {}

    prof: dict[str, str] = {}
    if a.profile:
        p = cProfile.Profile()
        prof = asyncio.run(session(store, a.runs, long_id, a.repeat, pilot_round=False, profile=p))["profile"]

    med = statistics.median

    def medof(key: str, sub: str | None = None) -> float | None:
        vals = [(s[key][sub] if sub else s[key]) for s in sessions if key in s]
        vals = [v for v in vals if v is not None]
        return med(vals) if vals else None

    key_ms = [k["ms"] for s in sessions for k in s["keys"]]
    key_ok = [v for v in key_ms if v is not None]
    pilot_ms = [v for s in sessions for v in s.get("pilot_keys_ms", []) if v is not None]
    rss = max(s["mem"]["VmRSS"] for s in sessions)
    hwm = max(mem_end["VmHWM"], *(s["mem"]["VmHWM"] for s in sessions))
    calls = {k: {"n": len(v), "median_ms": med(v), "max_ms": max(v)} for k, v in Probe.calls.items()}

    def row(name: str, value: float | None, target: float | None, unit: str = "ms",
            all_vals: list[Any] | None = None) -> dict[str, Any]:
        ok = None if target is None else (value is not None and value < target)
        return {"figure": name, "value": None if value is None else round(value, 1), "unit": unit,
                "target": target, "pass": ok,
                "samples": None if all_vals is None else [None if v is None else round(v, 1) for v in all_vals]}

    rows = [
        row("first paint: first rows", medof("first_rows_ms"), TARGETS["first_paint_ms"],
            all_vals=[s["first_rows_ms"] for s in sessions]),
        row(f"first paint: all {a.runs} rows", medof("all_rows_ms"), TARGETS["first_paint_ms"],
            all_vals=[s["all_rows_ms"] for s in sessions]),
        row("table settled (trend column filled)", medof("settled_ms"), None,
            all_vals=[s["settled_ms"] for s in sessions]),
        row(f"filter keystroke, median of {len(key_ok)}", med(key_ok) if key_ok else None, TARGETS["keystroke_ms"]),
        row("filter keystroke, max", max(key_ok) if len(key_ok) == len(key_ms) and key_ok else None,
            TARGETS["keystroke_ms"]),
        row("  same via pilot.press+pause, median (upper bound)", med(pilot_ms) if pilot_ms else None, None),
        row("  same via pilot.press+pause, max (upper bound)", max(pilot_ms) if pilot_ms else None, None),
        row("chart 10 runs x train/loss", medof("chart10", "ms"), TARGETS["chart10_ms"],
            all_vals=[s["chart10"]["ms"] for s in sessions]),
    ]
    rows.append(row("  of which push -> data in ChartView", medof("chart10", "data_ms"), None,
                    all_vals=[s["chart10"]["data_ms"] for s in sessions]))
    if long_id:
        rows.append(row(f"chart 1 run x {a.long_points:,} points", medof("chart1m", "ms"), TARGETS["chart1m_ms"],
                        all_vals=[s["chart1m"]["ms"] for s in sessions]))
        rows.append(row("  of which push -> data in ChartView", medof("chart1m", "data_ms"), None,
                        all_vals=[s["chart1m"]["data_ms"] for s in sessions]))
    rows += [
        row("RSS (VmRSS) after the steps", rss, TARGETS["rss_mb"], "MB"),
        row("peak RSS (VmHWM)", hwm, TARGETS["rss_mb"], "MB"),
        row("RSS before the app (python + imports)", mem0["VmRSS"], None, "MB"),
        row("import tracker.tui.app (fresh process)", imp_ms, None),
        row("cold start: Enter -> first rows (fresh python)", cold["cold_first_rows_ms"], TARGETS["cold_start_ms"]),
        row("  of which python start-up", cold["python_startup_ms"], None),
    ]
    report = {
        "params": {"runs": a.runs, "steps": a.steps, "metrics": a.metrics, "long_points": a.long_points,
                   "repeat": a.repeat, "size": SIZE, "filter": FILTER_TEXT},
        "store": str(store), "store_reused": reused, "generation": gen,
        "loadavg_before_after": [load0, open("/proc/loadavg").read().split()[:3]], "cpus": os.cpu_count(),
        "figures": rows,
        "keystrokes": [s["keys"] for s in sessions],
        "app_calls": calls,
        "gc_during_keystrokes": [s.get("gc", []) for s in sessions],
        "chart_breakdown_10_runs": bd10, "chart_breakdown_1m": bd1m,
        "chart_points_drawn": {"10 runs": sessions[-1]["chart10"].get("points"),
                               "1M": sessions[-1].get("chart1m", {}).get("points")},
    }
    failed = [r for r in rows if r["pass"] is False]
    if a.json:
        print(json.dumps(report, indent=1))
        return 1 if failed else 0

    print(f"tracker-tui TUI benchmark: {a.runs} runs x {a.steps} steps x {a.metrics} metrics "
          f"({a.runs * a.steps * a.metrics:,} points) + one {a.long_points:,}-point run; "
          f"{SIZE[0]}x{SIZE[1]}, median of {a.repeat} sessions")
    print(f"store {store} ({'reused' if reused else 'generated'}; generation took {gen['seconds']:.1f} s for "
          f"{gen['points']:,} points, {gen['db_bytes'] / 2**20:.0f} MiB)")
    la = report["loadavg_before_after"]
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(la[0])} before, {' '.join(la[1])} after "
          "(other work on the machine inflates the figures, maxima most)")
    print()
    print(f"  {'figure':<52} {'value':>10}  {'target':>9}  result   samples")
    for r in rows:
        v = "-" if r["value"] is None else f"{r['value']:.1f} {r['unit']}"
        t = "" if r["target"] is None else f"< {r['target']:g} {r['unit']}"
        res = "" if r["pass"] is None else ("pass" if r["pass"] else "FAIL")
        smp = "" if r["samples"] is None else ", ".join("-" if x is None else f"{x:g}" for x in r["samples"])
        print(f"  {r['figure']:<52} {v:>10}  {t:>9}  {res:<7}  {smp}")
    print()
    print(f"  keystrokes (\"{FILTER_TEXT}\"; ms per session; * = unparsable so far, previous filter kept):")
    for i, k in enumerate(sessions[0]["keys"]):
        vals = "  ".join("-" if s["keys"][i]["ms"] is None else f"{s['keys'][i]['ms']:6.1f}" for s in sessions)
        mark = " " if k["parsed"] else "*"
        print(f"    {k['text']!r:<14}{mark} {k['rows']:5d} rows   {vals}")
    print()
    print("  inside the app (all sessions):")
    for k, v in calls.items():
        print(f"    {k:<34} n={v['n']:<4} median {v['median_ms']:7.1f} ms   max {v['max_ms']:7.1f} ms")
    gcs = [p for s in sessions for p in s.get("gc", [])]
    g2 = [ms for g, ms in gcs if g == 2]
    print(f"    cyclic GC during the keystrokes: {len(gcs)} collections, max {max([ms for _, ms in gcs] or [0]):.1f} ms; "
          f"{len(g2)} of generation 2 (max {max(g2 or [0]):.1f} ms)")
    print(f"  chart pipeline outside the app at {size[0]}x{size[1]} (median of 3, ms):")
    for name, bd in (("10 runs", bd10), ("1M points", bd1m)):
        if bd:
            print(f"    {name:<10} " + "   ".join(f"{k} {v:.1f}" for k, v in bd.items()))
    pts = report["chart_points_drawn"]
    print(f"    points handed to the chart: 10 runs {pts['10 runs']}, 1M run {pts['1M']}")
    if failed:
        print()
        for r in failed:
            over = r["value"] - r["target"] if r["value"] is not None else None
            print(f"  MISSED: {r['figure']}: {r['value']} {r['unit']} vs < {r['target']:g}"
                  + ("" if over is None else f" (+{over:.1f} {r['unit']}, {r['value'] / r['target']:.2f}x)"))
    if prof:
        print()
        for phase, text in prof.items():
            print(f"==== cProfile, event-loop thread: {phase}")
            print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
