"""Sweeps coordinated through the store, with real agent processes: grid exactly once under four
concurrent agents, run_cap, kill -9 of an agent mid-trial, pause/resume, a failing trial,
cancel and hyperband stopping a function trial and a program trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from helpers import child_env, ro_conn, script, wait_for
from tracker.store import Store
from tracker.store.sweeps import coord

pytestmark = pytest.mark.usefixtures("clean_env")

FAST = {"TRACKER_SWEEP_POLL": "0.05", "TRACKER_FLUSH_INTERVAL": "0.05"}

AGENT = """
import os, sys, time, tracker
store, sid, mode = sys.argv[1], sys.argv[2], sys.argv[3]
count = int(sys.argv[4]) if len(sys.argv) > 4 else None
ready = os.path.join(os.path.dirname(store), "ready")

def fn():
    run = tracker.init(config={"x": -1, "keep": "default"}, dir=store)
    assert run.config["keep"] == "default" and run.sweep_id == sid
    x = run.config["x"]
    if mode == "fail" and x == 1:
        raise RuntimeError("trial x=1 fails")
    if mode in ("block", "loop"):
        open(ready + f"-{run.id}", "w").write(str(x))
        if mode == "block":
            while True:
                time.sleep(0.05)
        for i in range(100000):
            run.log({"loss": 1.0})
            time.sleep(0.01)
    run.log({"loss": float(x)})

print("ran", tracker.agent(sid, function=fn, count=count, dir=store), flush=True)
"""


def spawn(tmp_path: Path, store: Path, sid: str, mode: str = "plain", count: int | None = None):
    p = script(tmp_path, "agent.py", AGENT)
    argv = [sys.executable, str(p), str(store), sid, mode] + ([str(count)] if count is not None else [])
    return subprocess.Popen(argv, env=child_env(**FAST), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def grid(n: int, **extra) -> dict:
    return {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"values": list(range(n))}}, **extra}


def rows(store: Path, sid: str) -> list[tuple]:
    with ro_conn(store) as c:
        return c.execute("SELECT grid_index, state, run_id, params, stop FROM sweep_trials WHERE sweep_id = ? "
                         "ORDER BY seq", (sid,)).fetchall()


def test_grid_runs_every_point_exactly_once_with_four_concurrent_agents(tmp_path, store_dir):
    sid = tracker.sweep(grid(24), project="g", dir=store_dir)
    procs = [spawn(tmp_path, store_dir, sid) for _ in range(4)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    got = rows(store_dir, sid)
    assert sorted(r[0] for r in got) == list(range(24))
    assert [json.loads(r[3])["x"] for r in sorted(got)] == list(range(24))
    assert {r[1] for r in got} == {"finished"} and len({r[2] for r in got}) == 24
    assert sum(int(o.split()[-1]) for o, _ in outs) == 24
    sweep = tracker.Api(store_dir).sweep(sid)
    assert sweep.state == "finished" and len(sweep.runs) == 24
    assert sweep.best_run().config["x"] == 0 and sweep.best_run(order="-loss").config["x"] == 23


def test_run_cap_is_never_exceeded_by_three_agents(tmp_path, store_dir):
    cfg = {"method": "random", "run_cap": 7, "parameters": {"x": {"values": [0, 1, 2, 3]}}}
    sid = tracker.sweep(cfg, project="c", dir=store_dir)
    procs = [spawn(tmp_path, store_dir, sid) for _ in range(3)]
    for p in procs:
        p.communicate(timeout=240)
    assert len(rows(store_dir, sid)) == 7
    assert tracker.Api(store_dir).sweep(sid).state == "finished"


def test_a_failing_trial_is_failed_and_the_agent_goes_on(tmp_path, store_dir):
    sid = tracker.sweep(grid(3), project="f", dir=store_dir)
    p = spawn(tmp_path, store_dir, sid, "fail")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and "RuntimeError: trial x=1 fails" in err
    assert [r[1] for r in rows(store_dir, sid)] == ["finished", "failed", "finished"]
    runs = {r.config["x"]: r for r in tracker.Api(store_dir).sweep(sid).runs}
    assert runs[1].state == "failed" and runs[0].state == runs[2].state == "finished"


def test_kill_9_of_an_agent_frees_its_trial_and_the_grid_point_is_run_again(tmp_path, store_dir):
    sid = tracker.sweep(grid(2), project="k", dir=store_dir)
    victim = spawn(tmp_path, store_dir, sid, "block")
    ready = wait_for(lambda: [f for f in tmp_path.iterdir() if f.name.startswith("ready-")], 60, "the first trial")
    run_id = ready[0].name.split("-", 1)[1]
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    assert tracker.Api(store_dir).run(run_id).state == "crashed"  # the existing liveness check
    p = spawn(tmp_path, store_dir, sid)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    got = rows(store_dir, sid)
    assert [(r[0], r[1]) for r in got] == [(0, "crashed"), (0, "finished"), (1, "finished")]  # retried first
    assert got[0][2] == run_id


def test_pause_holds_agents_and_resume_lets_them_claim(tmp_path, store_dir):
    sid = tracker.sweep(grid(3), project="p", dir=store_dir)
    cli = [sys.executable, "-m", "tracker.tui.cli", "--store", str(store_dir), "sweep"]
    assert subprocess.run([*cli, "pause", sid], capture_output=True, text=True, env=child_env()).returncode == 0
    p = spawn(tmp_path, store_dir, sid)

    def beats() -> float:
        with ro_conn(store_dir) as c:
            r = c.execute("SELECT started_at, heartbeat_at FROM sweep_agents WHERE sweep_id = ?", (sid,)).fetchone()
        return 0.0 if r is None else r[1] - r[0]

    wait_for(lambda: beats() > 0.4, 60, "the paused agent to heartbeat a few times")
    assert rows(store_dir, sid) == [] and p.poll() is None
    r = subprocess.run([*cli, "resume", sid], capture_output=True, text=True, env=child_env())
    assert r.returncode == 0 and "paused -> running" in r.stdout
    p.communicate(timeout=120)
    assert [r[1] for r in rows(store_dir, sid)] == ["finished"] * 3


def test_cancel_stops_a_running_function_trial_through_its_next_log(tmp_path, store_dir):
    sid = tracker.sweep(grid(2), project="x", dir=store_dir)
    p = spawn(tmp_path, store_dir, sid, "loop")
    wait_for(lambda: [f for f in tmp_path.iterdir() if f.name.startswith("ready-")], 60, "the trial to start")
    store = Store(store_dir)
    coord.set_state(store, sid, "cancelled")
    store.close()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    (gi, state, run_id, _, stop), = rows(store_dir, sid)
    assert state == "stopped" and "cancelled" in json.loads(stop)["reason"]
    run = tracker.Api(store_dir).run(run_id)
    assert run.state == "finished" and "cancelled" in run.meta["sweep_stop"]["reason"]


PROGRAM = """
import signal, sys, time, tracker
run = tracker.init(config={"lr": 0.0})
lr = run.config["lr"]
for i in range(150 if lr < 1 else 100000):
    run.log({"loss": lr + 1.0 / (i + 1)})
    time.sleep(0.01)
"""


def test_hyperband_sigterms_a_program_trial_that_falls_outside_the_top(tmp_path, store_dir):
    prog = script(tmp_path, "train.py", PROGRAM)
    (tmp_path / "s.yaml").write_text(
        f"program: {prog}\nmethod: grid\nmetric: {{name: loss, goal: minimize}}\n"
        "early_terminate: {type: hyperband, min_iter: 5, eta: 2}\nparameters:\n  lr: {values: [0.1, 0.2, 5]}\n")
    cli = [sys.executable, "-m", "tracker.tui.cli", "--store", str(store_dir)]
    r = subprocess.run([*cli, "sweep", str(tmp_path / "s.yaml"), "--project", "hb"], capture_output=True,
                       text=True, env=child_env())
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()
    a = subprocess.run([*cli, "agent", sid], capture_output=True, text=True, env=child_env(**FAST), timeout=120)
    assert a.returncode == 0, a.stderr
    got = rows(store_dir, sid)
    assert [r[1] for r in got] == ["finished", "finished", "stopped"]
    stop = json.loads(got[2][4])
    assert stop["band"] in (5, 10, 20, 40, 80, 160, 320) and "threshold" in stop["reason"]
    run = tracker.Api(store_dir).run(got[2][2])
    assert run.state != "running" and run.meta["sweep_stop"]["band"] == stop["band"]
    assert run.meta.get("signal") == "SIGTERM"


GPU_PROGRAM = """
import os, sys, time, tracker
run = tracker.init(config={"x": 0})
ready = os.path.join(os.environ["READY_DIR"], f"ready-{run.id}")
open(ready, "w").close()
deadline = time.monotonic() + 60
while len([f for f in os.listdir(os.environ["READY_DIR"]) if f.startswith("ready-")]) < 2:
    assert time.monotonic() < deadline, "the other agent's trial never started"
    time.sleep(0.01)
run.log({"loss": float(run.config["x"])})
"""


def test_gpus_runs_one_agent_per_gpu_with_cuda_visible_devices(tmp_path, store_dir):
    prog = script(tmp_path, "train.py", GPU_PROGRAM)
    sid = tracker.sweep({"program": str(prog), "method": "grid", "parameters": {"x": {"values": [1, 2]}}},
                        project="gpu", dir=store_dir)
    r = subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", str(store_dir), "agent", sid,
                        "--gpus", "0,1"], capture_output=True, text=True, timeout=120,
                       env=child_env(READY_DIR=str(tmp_path), **FAST))
    assert r.returncode == 0, r.stderr
    runs = tracker.Api(store_dir).sweep(sid).runs
    assert sorted(run.meta["cuda_visible_devices"] for run in runs) == ["0", "1"]  # both trials ran at once
    assert sorted(run.config["x"] for run in runs) == [1, 2] and {run.sweep_id for run in runs} == {sid}


def test_command_macros_expand_as_wandb_documents(tmp_path):
    from tracker._sweep_program import build_command

    params = {"lr": 0.1, "optim": {"name": "adam", "betas": [0.9, 0.99]}}
    cmd = ("${env}", "${interpreter}", "${program}", "--fixed", "${args}", "${args_no_hyphens}", "${args_json}",
           "${args_json_file}")
    argv = build_command(cmd, "train.py", params, str(tmp_path / "p.json"))
    assert argv[:4] == ["/usr/bin/env", sys.executable, "train.py", "--fixed"]
    assert argv[4:7] == ["--lr=0.1", "--optim.name=adam", "--optim.betas=[0.9, 0.99]"]
    assert argv[7:10] == ["lr=0.1", "optim.name=adam", "optim.betas=[0.9, 0.99]"]
    assert json.loads(argv[10]) == params and argv[11] == str(tmp_path / "p.json")


def test_changing_a_swept_key_later_warns_and_the_agent_refuses_an_unknown_sweep(store_dir):
    sid = tracker.sweep(grid(1), project="w", dir=store_dir)
    seen = []

    def fn():
        run = tracker.init(config={"x": 5, "other": 1}, dir=store_dir)
        with pytest.warns(tracker.TrackerWarning, match="set to 0 by sweep"):
            run.config.update({"x": 7})
        run.config.update({"other": 2})  # not swept: no warning
        seen.append(dict(run.config))

    assert tracker.agent(sid, function=fn, dir=store_dir) == 1
    assert seen == [{"x": 7, "other": 2}]
    with pytest.raises(ValueError, match="no sweep 'nope'"):
        tracker.agent("nope", function=fn, dir=store_dir)


def test_wandb_call_shapes_work(store_dir):
    cfg = {"method": "random", "run_cap": 2, "metric": {"name": "loss", "goal": "maximize"},
           "parameters": {"x": {"values": [1, 2, 3]}}}
    sid = tracker.sweep(sweep=cfg, project="w", entity="me", dir=store_dir)

    def train():
        with tracker.init(dir=store_dir) as run:
            run.log({"loss": run.config["x"]})

    assert tracker.agent(sid, train, "me", "w", 5, dir=store_dir) == 2  # run_cap ends it first
    s = tracker.Api(store_dir).sweep(sid)
    assert s.best_run().summary["loss"] == max(r.summary["loss"] for r in s.runs)


def test_the_monitors_indexed_curves_agree_with_full_histories(store_dir):
    from tracker.store.sweeps.hyperband import curve

    sid = tracker.sweep(grid(3), project="c", dir=store_dir)

    def fn():
        run = tracker.init(dir=store_dir)
        x = run.config["x"]
        for i in range(40 + 10 * x):
            run.log({"loss": (x + 1) * 10.0 / (i + 1) + (0.5 if i % 7 == 0 else 0.0), "other": 1.0})

    tracker.agent(sid, function=fn, dir=store_dir)
    store = Store(store_dir)
    bands = (3, 9, 27, 81)
    for goal in ("minimize", "maximize"):
        got = coord.curves(store, sid, "loss", bands, goal)
        want = {tid: curve(h, bands, goal) for tid, h in coord.histories(store, sid, "loss").items()}
        assert got == want and len(got) == 3
    store.close()


LOOP_PROGRAM = """
import os, time, tracker
run = tracker.init(config={"x": 0})
open(os.path.join(os.environ["READY_DIR"], f"ready-{run.id}"), "w").close()
while True:
    run.log({"loss": 1.0})
    time.sleep(0.01)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopping_a_program_agent_stops_its_trial_process_too(tmp_path, store_dir, sig):
    prog = script(tmp_path, "train.py", LOOP_PROGRAM)
    sid = tracker.sweep({"program": str(prog), "method": "grid", "parameters": {"x": {"values": [1, 2]}}},
                        project="sig", dir=store_dir)
    agent = subprocess.Popen([sys.executable, "-m", "tracker.tui.cli", "--store", str(store_dir), "agent", sid],
                             env=child_env(READY_DIR=str(tmp_path), **FAST), stderr=subprocess.PIPE, text=True)
    ready = wait_for(lambda: [f for f in tmp_path.iterdir() if f.name.startswith("ready-")], 60, "the trial")
    run_id = ready[0].name.split("-", 1)[1]
    agent.send_signal(sig)
    agent.communicate(timeout=60)
    # the trial ran in its own process group (SIGTERM from hyperband must not hit the agent): it
    # would go on logging forever if the agent did not take it along
    wait_for(lambda: tracker.Api(store_dir).run(run_id).state != "running", 30, "the trial's run to end")
    assert len(rows(store_dir, sid)) == 1
