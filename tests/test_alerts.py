"""Alerts: run.alert(), the automatic first NaN/Inf of each metric, the TRACKER_ALERT_CMD hook,
the read API, and how the app shows them."""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from pathlib import Path

import pytest

import tracker
from helpers import settle_workers, wait_for
from tracker.tui.app import make_app
from tracker.tui.screens.detail import DetailScreen
from tracker.tui.widgets.run_table import RunTable


def wait_file(path: Path, lines: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            got = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            if len(got) >= lines:
                return got
        time.sleep(0.02)
    raise AssertionError(f"{path} did not get {lines} alerts")


def test_manual_and_automatic_alerts_are_stored_once_per_metric(tmp_path):
    run = tracker.init(project="a", dir=tmp_path, capture_git=False)
    for i in range(10):
        run.log({"loss": math.nan if i in (5, 6) else 1.0, "grad": math.inf if i in (7, 8) else 0.5, "ok": 1.0})
    run.alert("lr dropped", "to 1e-4", level="warning")
    run.finish()
    # a resumed run that logs NaN again does not alert again for the same metric
    again = tracker.init(dir=tmp_path, resume=run.id, capture_git=False)
    again.log({"loss": math.nan})
    again.finish()
    alerts = tracker.Api(tmp_path).run(run.id).alerts()
    assert [(a["title"], a["level"], a["step"]) for a in alerts] == [
        ("loss is NaN", "WARN", 5), ("grad is +Inf", "WARN", 7), ("lr dropped", "WARN", 9)]
    assert all(isinstance(a["time"], float) for a in alerts)


def test_failed_and_crashed_runs_read_as_alerts(tmp_path):
    run = tracker.init(project="a", dir=tmp_path, capture_git=False)
    run.log({"loss": 1.0})
    run.finish(exit_code=3)
    (alert,) = tracker.Api(tmp_path).run(run.id).alerts()
    assert alert["title"] == "run failed" and alert["level"] == "ERROR" and "exit code 3" in alert["text"]


def test_bad_level_is_a_clear_error(tmp_path):
    run = tracker.init(project="a", dir=tmp_path, capture_git=False)
    with pytest.raises(ValueError, match="INFO, WARN or ERROR"):
        run.alert("x", level="LOUD")
    run.finish()


def test_alert_hook_gets_json_beside_training(tmp_path, monkeypatch):
    box = tmp_path / "box"
    box.mkdir()
    # one file per hook call: two hooks may run at the same time
    monkeypatch.setenv("TRACKER_ALERT_CMD", f'cat > "$(mktemp -p {box})"')
    run = tracker.init(project="hooked", name="h1", dir=tmp_path / "s", capture_git=False)
    run.alert("diverged", "loss 1e9", level="ERROR")
    run.log({"loss": math.nan})
    run.finish()
    # both alerts of the run reach the hook, in one call carrying both when they came together
    def alerts() -> list[dict]:
        out = []
        for p in box.iterdir():
            try:
                g = json.loads(p.read_text())
            except ValueError:  # still being written
                continue
            out += g.get("alerts", [g])
        return out

    got = wait_for(lambda: len(alerts()) >= 2 and alerts(), 10, "two alerts at the hook")
    by_title = {a["title"]: a for a in got}
    assert by_title["diverged"]["level"] == "ERROR" and by_title["diverged"]["run_id"] == run.id
    assert by_title["diverged"]["project"] == "hooked" and by_title["loss is NaN"]["auto"] == "nonfinite"


def test_a_slow_hook_is_stopped_at_its_timeout_with_one_warning(tmp_path, monkeypatch):
    pidfile = tmp_path / "hook.pid"
    monkeypatch.setenv("TRACKER_ALERT_TIMEOUT", "0.5")
    monkeypatch.setenv("TRACKER_ALERT_CMD", f"echo $$ > {pidfile}; sleep 5")
    t0 = time.monotonic()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        run = tracker.init(project="slow", dir=tmp_path / "s", capture_git=False)
        run.alert("x")
        run.finish()
        wait_for(lambda: any("longer than 0.5 s" in str(w.message) for w in rec), 10, "the timeout warning")
    assert time.monotonic() - t0 < 5
    assert [w.category for w in rec if "TRACKER_ALERT_CMD" in str(w.message)] == [tracker.TrackerWarning]
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):  # the hook's shell is gone (and reaped) at once
        os.kill(pid, 0)
    # that its children go too is tests/test_gaps.py::test_a_timed_out_hook_is_stopped_with_the_processes_it_started
    # and that the timeout holds after training ends, tests/test_hooks_alerts.py


async def test_the_app_badges_runs_with_alerts_and_lists_them(tmp_path):
    store = tmp_path / "s"
    quiet = tracker.init(project="p", name="quiet", dir=store, capture_git=False)
    quiet.log({"loss": 1.0})
    quiet.finish()
    loud = tracker.init(project="p", name="loud", dir=store, capture_git=False)
    loud.log({"loss": math.nan})
    loud.alert("[bold]disk[/] almost full", "\x1b]0;x\x07 93%", level="WARN")
    loud.finish()
    app = make_app(store, keymap={}, poll_interval=0, ascii_only=False)
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(3):
            await settle_workers(app)
            await pilot.pause()
        table = app.screen.query_one(RunTable)
        names = {r.key: r.cells["name"] for r in table.rows}
        assert names[loud.id] == "! loud" and names[quiet.id] == "quiet"
        table.move_to(loud.id)
        await pilot.press("enter")
        for _ in range(3):
            await settle_workers(app)
            await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        text = str(app.screen.query_one("#overview-text").render())
        assert "loss is NaN" in text and "[bold]disk[/] almost full" in text and "\\x1b]0;x\\x07 93%" in text
