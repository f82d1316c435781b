"""Everything about a run without extra code, end to end: system metrics, console capture, code
state, ranks — recorded by real processes, read back through the API and shown by the app."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from app_helpers import settle

import tracker
from helpers import wait_for
from tracker.tui.app import make_app
from tracker.tui.screens.compare import CompareScreen
from tracker.tui.screens.detail import DetailScreen
from tracker.tui.widgets.chart_view import ChartView
from tracker.tui.widgets.run_table import RunTable


def test_system_metrics_are_sampled_into_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_SYSTEM", "1")
    run = tracker.init(project="sys", dir=tmp_path, capture_git=False, system_interval=0.2)
    for i in range(5):
        run.log({"loss": 1.0 / (i + 1)})
        time.sleep(0.15)
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    sys_rows = r.system_history()
    assert len(sys_rows) >= 2
    keys = set().union(*sys_rows) - {"_step", "_timestamp"}
    assert {"system/cpu_percent", "system/ram_used_gib", "system/proc_rss_gib"} <= keys
    assert not any(k.startswith("system/gpu") for k in keys)  # no GPU here, and no error
    assert 0 < r.metric_stats()["system/proc_rss_gib"]["max"] < 64
    assert [h["loss"] for h in r.history(["loss"], pandas=False)] == [1.0, 0.5, 1 / 3, 0.25, 0.2]  # training untouched


def test_system_sampler_off_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_SYSTEM", "1")
    run = tracker.init(project="sys", dir=tmp_path, capture_git=False, system_interval=0)
    run.log({"loss": 1.0})
    run.finish()
    assert tracker.Api(tmp_path).run(run.id).system_history() == []


CONSOLE_SCRIPT = textwrap.dedent(
    """
    import os, subprocess, sys, tracker
    run = tracker.init(project="con", dir=sys.argv[1], capture_git=False)
    print(run.id, flush=True)
    print("hello \\x1b[32mgreen\\x1b[0m world")
    sys.stdout.write("epoch 1: 10%\\repoch 1: 50%\\repoch 1: 100%\\n")
    print("to stderr", file=sys.stderr)
    sys.stdout.flush()
    os.write(1, b"from C level\\n")
    subprocess.run(["echo", "from a child"])
    print("title \\x1b]0;PWNED\\x07 end")
    run.log({"loss": 1.0})
    run.finish()
    print("after finish: not captured")
    """
)


def test_console_is_captured_teed_and_collapsed(tmp_path):
    script = tmp_path / "c.py"
    script.write_text(CONSOLE_SCRIPT)
    env = {**os.environ, "TRACKER_CONSOLE": "1"}
    p = subprocess.run([sys.executable, str(script), str(tmp_path / "s")], capture_output=True, env=env, timeout=60)
    out, err = p.stdout.decode(), p.stderr.decode()  # bytes: text mode would turn \r into \n
    assert p.returncode == 0, err
    run_id = out.splitlines()[0]
    # tee: the terminal got everything, progress updates included
    assert "epoch 1: 10%\repoch 1: 50%\repoch 1: 100%" in out
    assert "from C level" in out and "from a child" in out and "to stderr" in err
    lines = tracker.Api(tmp_path / "s").run(run_id).console()
    assert "epoch 1: 100%" in lines and not any("10%" in x for x in lines)
    assert "from C level" in lines and "from a child" in lines and "to stderr" in lines
    assert "hello \x1b[32mgreen\x1b[0m world" in lines  # stored as written; the app neutralises
    assert "after finish: not captured" not in lines


async def test_app_shows_console_and_system_tabs(tmp_path):
    script = tmp_path / "c.py"
    script.write_text(CONSOLE_SCRIPT)
    env = {**os.environ, "TRACKER_CONSOLE": "1"}
    p = subprocess.run([sys.executable, str(script), str(tmp_path / "s")], capture_output=True, text=True,
                       env=env, timeout=60)
    run_id = p.stdout.splitlines()[0]
    app = make_app(tmp_path / "s", keymap={}, poll_interval=0, ascii_only=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        d = app.screen
        assert isinstance(d, DetailScreen) and d.record.id == run_id
        await pilot.press("5")
        await settle(pilot, app)
        log = d.query_one("#console-log")
        shown = "\n".join(line.text for line in log.lines)
        assert "epoch 1: 100%" in shown and "from a child" in shown
        assert "\\x1b]0;PWNED\\x07" in shown and "\x1b" not in shown  # only colours survive as styles
        await pilot.press("slash", *"child")
        await settle(pilot, app)
        assert [line.text.split(" ", 1)[1] for line in log.lines] == ["from a child"]
        await pilot.press("escape", "4")
        await settle(pilot, app)
        assert "No system metrics" in str(d.query_one("#system-empty").render())


async def test_gpu_columns_and_system_charts_from_recorded_gpu_metrics(tmp_path):
    run = tracker.init(project="gpu", name="a100", dir=tmp_path, capture_git=False)
    for i in range(20):
        run.log({"loss": 1.0, "system/gpu0/util_percent": 50.0 + i, "system/gpu0/mem_used_gib": 10.0 + i / 10,
                 "system/gpu1/util_percent": 70.0, "system/gpu1/mem_used_gib": 30.0})
    run.finish()
    app = make_app(tmp_path, keymap={}, poll_interval=0, ascii_only=False)
    async with app.run_test(size=(160, 36)) as pilot:
        await settle(pilot, app)
        await pilot.press("u")
        await settle(pilot, app)
        row = app.screen.query_one(RunTable).rows[0]
        assert row.cells["gpu_mem_peak"] == "30.0 GiB"
        assert row.cells["gpu_util_mean"] == f"{(59.5 + 70.0) / 2:.0f}%"
        await pilot.press("enter")
        await settle(pilot, app)
        await pilot.press("4")
        await settle(pilot, app)
        panels = app.screen.query_one("#system-chart", ChartView).panels
        assert set(panels) == {"gpu0/util_percent", "gpu0/mem_used_gib", "gpu1/util_percent", "gpu1/mem_used_gib"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


RUN_IN_REPO = textwrap.dedent(
    """
    import sys, tracker
    run = tracker.init(project="code", name=sys.argv[2], dir=sys.argv[1])
    run.log({"loss": 1.0})
    run.finish()
    print(run.id)
    """
)


async def test_compare_shows_the_code_diff_between_two_runs(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "model.py").write_text("depth = 18\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "one")
    script = tmp_path / "r.py"
    script.write_text(RUN_IN_REPO)
    store = tmp_path / "s"

    def run(name: str) -> str:
        p = subprocess.run([sys.executable, str(script), str(store), name], cwd=repo, capture_output=True,
                           text=True, timeout=60, check=True)
        return p.stdout.strip()

    first = run("first")
    (repo / "model.py").write_text("depth = 50\n")
    git(repo, "commit", "-qam", "two")
    (repo / "model.py").write_text("depth = 50\nwidth = 2\n")  # uncommitted
    second = run("second")
    assert tracker.Api(store).run(second).git["diff"].count("+width = 2") == 1
    app = make_app(store, keymap={}, poll_interval=0, ascii_only=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.open_compare([first, second])
        await settle(pilot, app)
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("3")
        await settle(pilot, app)
        text = str(app.screen.query_one("#code-diff").render())
        assert "-depth = 18" in text and "+depth = 50" in text  # the commits' diff
        assert "+width = 2" in text  # the second run's uncommitted change


RANK_SCRIPT = textwrap.dedent(
    """
    import os, sys, time, tracker
    go = sys.argv[2]
    open(go + "-ready-" + os.environ["RANK"], "w").close()  # started: waiting for the others
    while not os.path.exists(go):
        time.sleep(0.005)
    run = tracker.init(project="ddp", group="job-42", dir=sys.argv[1], capture_git=False)
    run.log({"loss": float(os.environ["RANK"])})
    run.finish()
    """
)


@pytest.mark.slow
async def test_eight_ranks_start_at_once_and_collapse_into_their_group(tmp_path):
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    store, go = tmp_path / "s", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), str(store), str(go)],
                              env={**os.environ, "RANK": str(i), "WORLD_SIZE": "8", "LOCAL_RANK": str(i % 4)},
                              stderr=subprocess.PIPE, text=True) for i in range(8)]
    wait_for(lambda: len(list(tmp_path.glob("go-ready-*"))) == 8, 60, "all 8 ranks started")
    go.write_text("")  # released together
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0 and "Traceback" not in err, err
    runs = tracker.Api(store).runs()
    assert sorted(r.rank for r in runs) == list(range(8)) and {r.world_size for r in runs} == {8}
    assert {r.group for r in runs} == {"job-42"}
    app = make_app(store, keymap={}, poll_interval=0, ascii_only=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("z")
        await settle(pilot, app)
        rows = app.screen.query_one(RunTable).rows
        assert [r.kind for r in rows] == ["group"] and "8 runs" in rows[0].cells["state"]
        await pilot.press("enter")
        await settle(pilot, app)
        assert len(app.screen.query_one(RunTable).rows) == 9
