"""Live updates: a real watchdog observer (or the polling fallback) and real writer processes
feeding the running app."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers import settle_workers
from tracker.store import Store
from tracker.store.watch import StoreWatcher
from tracker.tui.app import make_app
from tracker.tui.screens.charts import ChartsScreen
from tracker.tui.screens.runs import RunsScreen
from tracker.tui.widgets.chart_view import ChartView
from tracker.tui.widgets.run_table import RunTable

WRITER = textwrap.dedent(
    """
    import sys, time, tracker
    store, name, steps, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    run = tracker.init(project="live", name=name, dir=store, capture_git=False)
    print(run.id, flush=True)
    for i in range(steps):
        run.log({"loss": 1.0 / (i + 1), "acc": i / max(1, steps)})
        if delay:
            time.sleep(delay)
    run.finish()
    """
)


def start_writer(tmp_path: Path, store: Path, name: str, steps: int, delay: float,
                 env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    p = subprocess.Popen([sys.executable, str(script), str(store), name, str(steps), str(delay)],
                         stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout is not None
    run_id = p.stdout.readline().strip()
    return p, run_id


async def wait_for(pilot, app, cond, timeout: float = 15.0) -> None:
    """Let the app run until ``cond()`` holds (live data arrives on its own schedule)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await settle_workers(app)
        await pilot.pause()
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def runs_screen(app) -> RunsScreen:
    return next(s for s in app.screen_stack if isinstance(s, RunsScreen))


def rows(app) -> dict[str, dict[str, str]]:
    return {r.cells["name"]: r.cells for r in runs_screen(app).query_one(RunTable).rows}


@pytest.fixture
def store(tmp_path) -> Path:
    s = tmp_path / "store"
    Store(s).close()  # an empty store, as after a first init
    return s


@pytest.mark.slow
async def test_rows_stream_in_through_file_events(tmp_path, store):
    app = make_app(store, keymap={}, poll_interval=None, refresh_hz=10)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, app, lambda: app.watcher is not None and app.live_mode == "watch")
        p, run_id = start_writer(tmp_path, store, "streamer", 60, 0.05)
        await wait_for(pilot, app, lambda: "streamer" in rows(app) and rows(app)["streamer"]["state"] == "running")
        mid_step = int(rows(app)["streamer"]["step"] or 0)
        assert mid_step < 59  # seen while training, not after
        await wait_for(pilot, app, lambda: rows(app)["streamer"]["state"] == "finished")
        assert rows(app)["streamer"]["step"] == "59"
        assert app.watcher.events > 0  # the doorbell rang: events, not the safety poll
        p.wait(10)
        # Readers never keep a transaction open between refreshes (WAL growth, RELIABILITY C4).
        assert app.reader.store.conn.in_transaction is False


@pytest.mark.slow
async def test_polling_fallback_when_events_are_unavailable(tmp_path, store, monkeypatch):
    monkeypatch.setenv("TRACKER_NO_INOTIFY", "1")
    app = make_app(store, keymap={}, poll_interval=None, refresh_hz=10)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, app, lambda: app.live_mode.startswith("poll"))
        assert "TRACKER_NO_INOTIFY" in app.live_mode
        status = str(runs_screen(app).query_one("#status").render())
        assert "poll" in status  # the app says which mode is on
        p, _ = start_writer(tmp_path, store, "polled", 20, 0.02)
        await wait_for(pilot, app, lambda: rows(app).get("polled", {}).get("state") == "finished")
        assert app.watcher.events == 0
        p.wait(10)


@pytest.mark.slow
async def test_a_killed_writer_turns_crashed_live(tmp_path, store):
    app = make_app(store, keymap={}, poll_interval=None)
    async with app.run_test(size=(120, 30)) as pilot:
        p, _ = start_writer(tmp_path, store, "victim", 100_000, 0.01)
        await wait_for(pilot, app, lambda: rows(app).get("victim", {}).get("state") == "running")
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
        # no more commits will ring the doorbell: the periodic re-check must notice the dead pid
        await wait_for(pilot, app, lambda: rows(app)["victim"]["state"] == "crashed", timeout=10)


@pytest.mark.slow
async def test_open_chart_extends_live_and_keeps_the_zoom(tmp_path, store):
    app = make_app(store, keymap={}, poll_interval=None, refresh_hz=10)
    async with app.run_test(size=(120, 30)) as pilot:
        p, run_id = start_writer(tmp_path, store, "charted", 400, 0.02)
        await wait_for(pilot, app, lambda: int(rows(app).get("charted", {}).get("step") or 0) > 20)
        app.open_charts([run_id], "loss")
        await wait_for(pilot, app, lambda: isinstance(app.screen, ChartsScreen)
                       and app.screen.query_one(ChartView).panels.get("loss"))
        view = app.screen.query_one(ChartView)
        view.follow = False
        view.x_range = (0.0, 10.0)
        n0 = len(view.panels["loss"][0].ys)
        await wait_for(pilot, app, lambda: len(view.panels["loss"][0].ys) > n0 + 20)
        assert view.x_range == (0.0, 10.0)  # zoom kept while data grew
        steps = list(view.panels["loss"][0].x_values("step"))
        assert steps == sorted(steps) and len(set(steps)) == len(steps)  # no duplicated points
        p.wait(30)
        await wait_for(pilot, app, lambda: len(view.panels["loss"][0].ys) == 400)


@pytest.mark.slow
async def test_update_storm_is_coalesced_and_converges(tmp_path, store):
    hz = 4
    app = make_app(store, keymap={}, poll_interval=None, refresh_hz=hz)
    broadcasts = []
    orig = app.broadcast_changed
    app.broadcast_changed = lambda: (broadcasts.append(time.monotonic()), orig())[1]  # count redraws
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, app, lambda: app.live_mode == "watch")
        t0 = time.monotonic()
        writers = [start_writer(tmp_path, store, f"storm-{i}", 1500, 0.0)[0] for i in range(10)]
        for w in writers:
            w.wait(120)
        storm = time.monotonic() - t0
        await wait_for(pilot, app, lambda: len(rows(app)) == 10
                       and all(c["state"] == "finished" and c["step"] == "1499" for c in rows(app).values()),
                       timeout=5)
        converge = time.monotonic() - t0 - storm
        assert converge < 2.0, converge
        # redraws from live data never exceed the cap (plus the final trailing one)
        span = broadcasts[-1] - broadcasts[0] if len(broadcasts) > 1 else 0
        assert len(broadcasts) <= hz * span + 2, (len(broadcasts), span)
        assert app.watcher.events > len(broadcasts)  # many events, few refreshes


def test_watcher_rings_once_per_burst_and_ignores_readers(tmp_path, store):
    calls = []
    w = StoreWatcher(store, lambda: calls.append(time.monotonic()), min_interval=0.2).start()
    try:
        assert w.mode == "watch"
        s = Store(store, create=False)
        for _ in range(50):  # reads touch -shm: never a change
            s.runs()
        time.sleep(0.5)
        assert calls == []
        rid, _, _ = s.create_run(id=None, project="p", name=None, group=None, job_type=None, tags=[], notes=None,
                                 config_json="{}", host="h", pid=None, pid_start=None, user=None, argv=[],
                                 python=None, cwd=None, meta={})
        for i in range(100):  # a burst of 100 commits
            s.append([(rid, i, time.time(), ("x",), (1.0,))])
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.6)
        assert 1 <= len(calls) <= 5, len(calls)
        assert w.events >= len(calls)
    finally:
        w.stop()


def test_refresh_rate_defaults_to_4_hz_over_ssh(monkeypatch, store):
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22")
    assert make_app(store, keymap={}).refresh_hz == 4
    monkeypatch.delenv("SSH_CONNECTION")
    assert make_app(store, keymap={}).refresh_hz == 10
    assert make_app(store, keymap={}, refresh_hz=2).refresh_hz == 2


WRITER_10 = textwrap.dedent(
    """
    import sys, tracker
    run = tracker.init(project="wal", name="big", dir=sys.argv[1], capture_git=False)
    print(run.id, flush=True)
    for i in range(int(sys.argv[2])):
        run.log({f"m{j}": (i * 7 + j) * 1e-3 for j in range(10)})
    run.finish()
    """
)


@pytest.mark.slow
async def test_wal_stays_small_with_the_app_open_on_a_live_run(tmp_path, store):
    """RELIABILITY C4: the app reading a 200k-point run while it is written never pins the WAL
    (no read transaction spans refreshes), so SQLite's checkpoints keep it small."""
    script = tmp_path / "w10.py"
    script.write_text(WRITER_10)
    app = make_app(store, keymap={}, poll_interval=None, refresh_hz=10)
    wal = store / "tracker.db-wal"
    peak = 0
    async with app.run_test(size=(120, 30)) as pilot:
        p = subprocess.Popen([sys.executable, str(script), str(store), "20000"], stdout=subprocess.PIPE, text=True)
        assert p.stdout is not None
        run_id = p.stdout.readline().strip()
        app.open_detail(run_id)
        while p.poll() is None:
            await pilot.pause(0.05)
            if wal.exists():
                peak = max(peak, wal.stat().st_size)
            assert app.reader.store is None or app.reader.store.conn.in_transaction is False
        await wait_for(pilot, app, lambda: rows(app).get("big", {}).get("state") == "finished")
    assert Store(store, create=False).count_points() == 200_000
    assert peak < 64 * 1024 * 1024, peak
