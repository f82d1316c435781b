"""``tracker-tui sweep`` / ``agent`` from the shell: ids, state changes, bad input without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tracker
from helpers import child_env

pytestmark = pytest.mark.usefixtures("clean_env")


def cli(store, *args):
    return subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", str(store), *args],
                          capture_output=True, text=True, env=child_env(), timeout=60)


def test_sweep_from_yaml_prints_its_id_and_states_change(tmp_path, store_dir):
    (tmp_path / "s.yaml").write_text("method: random\nparameters:\n  lr: {min: 1e-5, max: 1e-1}\n")
    r = cli(store_dir, "sweep", str(tmp_path / "s.yaml"), "--project", "cli")
    assert r.returncode == 0 and r.stderr == ""
    sid = r.stdout.strip()
    sweep = tracker.Api(store_dir).sweep(sid)
    assert sweep.project == "cli" and sweep.state == "running" and sweep.name == f"sweep-{sid}"
    assert sweep.config["parameters"]["lr"]["min"] == "1e-5"  # stored as written; read as a number
    for action, state in (("pause", "paused"), ("resume", "running"), ("stop", "stopped")):
        r = cli(store_dir, "sweep", action, sid)
        assert r.returncode == 0 and r.stdout.strip().endswith(f"-> {state}")
        assert tracker.Api(store_dir).sweep(sid).state == state
    assert cli(store_dir, "sweep", "cancel", sid).returncode == 0
    r = cli(store_dir, "sweep", "resume", sid)
    assert r.returncode == 1 and "is cancelled" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("text,words", [
    ("method: grid\nparameters:\n  lr: {min: 0.1, max: 1.0}\n", ["parameters.lr", "finite set"]),
    ("method: [\n", ["cannot parse config file", "bad.yaml"]),
    ("program: t.py\nmethod: random\nparameters:\n  x: {distribution: log_uniform_values, min: -1, max: 1}\n",
     ["parameters.x.min", "min > 0"]),
])
def test_a_bad_config_is_refused_with_the_field_and_no_traceback(tmp_path, store_dir, text, words):
    (tmp_path / "bad.yaml").write_text(text)
    r = cli(store_dir, "sweep", str(tmp_path / "bad.yaml"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stdout == ""
    for w in words:
        assert w in r.stderr


def test_agent_without_a_program_or_for_an_unknown_sweep_says_so(store_dir):
    sid = tracker.sweep({"method": "random", "parameters": {"x": {"value": 1}}}, dir=store_dir)
    r = cli(store_dir, "agent", sid)
    assert r.returncode == 1 and "has no program" in r.stderr and "Traceback" not in r.stderr
    r = cli(store_dir, "agent", "nope")
    assert r.returncode == 1 and "no sweep 'nope'" in r.stderr
    r = cli(store_dir, "sweep", "pause", "nope")
    assert r.returncode == 1 and "no sweep" in r.stderr
