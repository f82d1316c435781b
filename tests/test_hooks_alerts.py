"""The alert hook (TRACKER_ALERT_CMD) under load and at exit, with real training processes:
its timeout holds after the training process is gone (exit or SIGKILL), a burst of alerts starts
a handful of hook processes (coalesced per run), and no more than a few run at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import child_env, script, wait_for


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (zombies waiting for their reaper
    count as gone: they run nothing)."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


TRAIN = """
    import os, signal, sys, tracker
    run = tracker.init(project="hooks", dir=sys.argv[1], capture_git=False)
    run.alert("diverged", "loss 1e9", level="ERROR")
    run.finish()
    how = sys.argv[2]
    if how == "sigkill":  # the hook started: die without any exit handler
        import time
        deadline = time.monotonic() + 20
        while not os.path.exists(sys.argv[3]) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)
    # "exit": leave at once, the hook still running
"""


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process groups from /proc")
@pytest.mark.parametrize("hook", ["sleep 77", "yes > /dev/null"])
@pytest.mark.parametrize("how", ["exit", "sigkill"])
def test_a_hook_running_when_training_ends_is_stopped_at_its_timeout(tmp_path, hook, how):
    pgfile = tmp_path / "hook.pgid"
    timeout = 1.0
    env = child_env(TRACKER_ALERT_CMD=f"echo $$ > {pgfile}.tmp && mv {pgfile}.tmp {pgfile}; {hook}",
                    TRACKER_ALERT_TIMEOUT=str(timeout))
    path = script(tmp_path, "train.py", TRAIN)
    p = subprocess.run([sys.executable, str(path), str(tmp_path / "s"), how, str(pgfile)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == (-signal.SIGKILL if how == "sigkill" else 0), p.stderr
    pgid = int(wait_for(lambda: pgfile.exists() and pgfile.read_text().strip(), 20, "the hook to start"))
    try:
        # the hook's shell leads its own process group: gone within the timeout plus slack
        wait_for(lambda: not group_alive(pgid), timeout + 5, f"hook group {pgid} to be stopped")
    finally:
        if group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)


BURST = """
    import math, sys, tracker
    run = tracker.init(project="burst", name="b1", dir=sys.argv[1], capture_git=False)
    run.log({f"layer{i}/grad": math.nan for i in range(500)})
    run.log({f"layer{i}/grad": math.nan for i in range(500)})  # not new: no alert again
    run.finish()
"""


def payloads(box: Path) -> list[dict]:
    out = []
    for p in box.iterdir():
        try:
            out.append(json.loads(p.read_text()))
        except ValueError:  # still being written
            pass
    return out


def test_500_nan_metrics_start_a_handful_of_hooks_carrying_every_alert(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    env = child_env(TRACKER_ALERT_CMD=f'cat > "$(mktemp -p {box})"')
    path = script(tmp_path, "burst.py", BURST)
    p = subprocess.run([sys.executable, str(path), str(tmp_path / "s")], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr

    def delivered() -> int:
        return sum(a.get("count", 1) for a in payloads(box))

    wait_for(lambda: delivered() >= 500, 20, "all 500 alerts to reach the hook")
    got = payloads(box)
    assert delivered() == 500 and len(got) <= 3, f"{len(got)} hook processes for one log() call"
    big = max(got, key=lambda a: a.get("count", 1))
    assert big["run_name"] == "b1" and big["project"] == "burst" and big["level"] == "WARN"
    assert big["title"].startswith(f"{big['count']} alerts: layer0/grad is NaN")
    titles = {a["title"] for g in got for a in g.get("alerts", [g])}
    assert "layer0/grad is NaN" in titles and len(titles) == min(sum(len(g.get("alerts", [g])) for g in got), 500)


MANY_RUNS = """
    import os, sys, time, tracker
    runs = [tracker.init(project="many", name=f"r{i}", dir=sys.argv[1], capture_git=False, reinit=True)
            for i in range(10)]
    for r in runs:
        r.alert("hello", r.name)
    for r in runs:
        r.finish()
    deadline = time.monotonic() + 60  # stay alive: the hooks are started by this process
    while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
        time.sleep(0.02)
"""


def test_no_more_than_four_hooks_run_at_once(tmp_path):
    box, live, done = tmp_path / "box", tmp_path / "live", tmp_path / "done"
    for d in (box, live, done):
        d.mkdir()
    # each hook marks itself live, records how many it sees live, works 0.3 s, and leaves
    hook = (f'mkdir {live}/$$; ls {live} | wc -l > {box}/$$.seen; cat > {box}/$$.json; sleep 0.3; '
            f'rmdir {live}/$$; touch {done}/$$')
    env = child_env(TRACKER_ALERT_CMD=hook)
    path = script(tmp_path, "many.py", MANY_RUNS)
    stop = tmp_path / "stop"
    p = subprocess.Popen([sys.executable, str(path), str(tmp_path / "s"), str(stop)], env=env,
                         stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(list(done.iterdir())) >= 10, 30, "ten hooks to finish")
    finally:
        stop.write_text("x")
        _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    seen = [int(f.read_text()) for f in box.glob("*.seen")]
    names = sorted(json.loads(f.read_text())["run_name"] for f in box.glob("*.json"))
    assert names == sorted(f"r{i}" for i in range(10))  # one per run: nothing to coalesce
    assert max(seen) <= 4, f"up to {max(seen)} hooks ran at once"


@pytest.mark.parametrize("ending", ["exit", "sigterm"])
def test_alerts_pending_at_exit_are_still_handed_to_the_hook(tmp_path, ending):
    """A burst just before the end: the per-run window must not swallow the late alerts."""
    box = tmp_path / "box"
    box.mkdir()
    code = (
        "import os, signal, sys, tracker\n"
        "run = tracker.init(project='late', dir=sys.argv[1], capture_git=False)\n"
        "run.alert('first')\n"
        "run._writer.flush(10)\n"
        "run.alert('second')\n"
        "run.alert('third')\n"
        "if sys.argv[2] == 'sigterm':\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
    )
    env = child_env(TRACKER_ALERT_CMD=f'cat > "$(mktemp -p {box})"')
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s"), ending], env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == (-signal.SIGTERM if ending == "sigterm" else 0), p.stderr
    wait_for(lambda: sum(a.get("count", 1) for a in payloads(box)) >= 3, 20, "three alerts at the hook")
    titles = sorted(a["title"] for g in payloads(box) for a in g.get("alerts", [g]))
    assert titles == ["first", "second", "third"]


def test_a_slow_hook_is_stopped_and_the_training_process_says_so(tmp_path):
    code = ("import os, sys, time, tracker\n"
            "run = tracker.init(project='slow', dir=sys.argv[1], capture_git=False)\n"
            "run.alert('x')\n"
            "run.finish()\n"
            "deadline = time.monotonic() + 30\n"
            "while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:\n"
            "    time.sleep(0.02)\n")
    stop = tmp_path / "stop"
    env = child_env(TRACKER_ALERT_CMD="sleep 30", TRACKER_ALERT_TIMEOUT="0.5")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "s"), str(stop)], env=env,
                         stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    seen = []
    try:
        for line in p.stderr:  # the warning comes once the hook was stopped; EOF if it never does
            seen.append(line)
            if "took longer than 0.5 s" in line:
                break
    finally:
        stop.write_text("x")
        p.communicate(timeout=30)
    assert "took longer than 0.5 s and was stopped" in "".join(seen), seen
