"""``tracker.init()`` takes every keyword wandb's ``init`` takes and wandb's environment names
(issue 10): what has a meaning here takes effect, the rest is accepted, never an exception."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

import tracker
from helpers import child_env, script
from tracker.store import StoreError

WANDB_ENV = ("WANDB_PROJECT", "WANDB_ENTITY", "WANDB_MODE", "WANDB_DISABLED", "WANDB_RUN_ID", "WANDB_RUN_GROUP",
             "WANDB_JOB_TYPE", "WANDB_TAGS", "WANDB_NOTES", "WANDB_NAME", "WANDB_DIR", "WANDB_SILENT",
             "WANDB_CONSOLE", "TRACKER_RUN_ID", "TRACKER_ENTITY", "TRACKER_MODE", "TRACKER_PROJECT")


@pytest.fixture(autouse=True)
def _no_wandb_env(monkeypatch):
    for k in WANDB_ENV:
        monkeypatch.delenv(k, raising=False)


def test_entity_is_stored_in_meta_and_makes_the_run_path(tmp_path):
    run = tracker.init(project="p", entity="team", dir=tmp_path, capture_git=False)
    assert (run.entity, run.path) == ("team", f"team/p/{run.id}")
    run.finish()
    assert tracker.Api(tmp_path).run(run.id).meta["entity"] == "team"


def test_wandb_keywords_are_accepted_and_an_unknown_one_warns_once(tmp_path):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        run = tracker.init(project="p", dir=tmp_path, capture_git=False, anonymous="allow", magic=True,
                           monitor_gym=False, allow_val_change=True, force=False, no_such_option=1)
        run.finish()
        run = tracker.init(project="p", dir=tmp_path, capture_git=False, no_such_option=2)
        run.finish()
    msgs = [str(w.message) for w in rec]
    assert sum("no_such_option" in m for m in msgs) == 1, msgs
    assert not any(k in m for m in msgs for k in ("anonymous", "magic", "monitor_gym", "allow_val_change")), msgs


def test_mode_disabled_is_a_run_whose_methods_work_and_write_nothing(tmp_path):
    run = tracker.init(project="p", dir=tmp_path / "store", mode="disabled", config={"lr": 0.1}, entity="e")
    assert run.disabled and tracker.run is run
    assert tracker.config.lr == 0.1 and run.config["lr"] == 0.1
    tracker.log({"loss": 1.0, "text": "hi"})
    run.log({"a": {"b": 1}})
    run.summary["best"] = 1
    run.name, run.tags, run.notes = "x", ["t"], "n"
    assert run.save(str(tmp_path / "*.txt")) == []
    run.define_metric("loss", summary="min")
    tracker.alert("t", "x", level=tracker.AlertLevel.WARN)
    run.mark_preempting()
    tracker.finish()
    assert tracker.run is None
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("env", [{"WANDB_MODE": "disabled"}, {"WANDB_DISABLED": "true"},
                                 {"TRACKER_MODE": "disabled", "WANDB_MODE": "online"}])
def test_disabled_from_the_environment(tmp_path, monkeypatch, env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    run = tracker.init(project="p", dir=tmp_path / "store")
    assert run.disabled
    run.finish()
    assert not (tmp_path / "store").exists()


def test_offline_mode_logs_normally(tmp_path):
    run = tracker.init(project="p", dir=tmp_path, mode="offline", capture_git=False)
    run.log({"x": 1.0})
    assert run.offline and not run.disabled
    run.finish()
    assert tracker.Api(tmp_path).run(run.id).history(pandas=False) == [
        {"_step": 0, "_timestamp": pytest.approx(run.start_time, abs=60), "x": 1.0}]


def test_a_mode_wandb_does_not_know_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="mode='onlin'"):
        tracker.init(project="p", dir=tmp_path, mode="onlin")


def test_wandb_environment_names_are_the_fallback(tmp_path, monkeypatch):
    for k, v in {"WANDB_PROJECT": "wp", "WANDB_ENTITY": "we", "WANDB_RUN_ID": "wid1", "WANDB_RUN_GROUP": "wg",
                 "WANDB_JOB_TYPE": "train", "WANDB_TAGS": "a, b", "WANDB_NOTES": "note",
                 "WANDB_NAME": "wname"}.items():
        monkeypatch.setenv(k, v)
    run = tracker.init(dir=tmp_path, capture_git=False)
    run.finish()
    r = tracker.Api(tmp_path).run("wid1")
    assert (r.project, r.meta["entity"], r.group, r.job_type, r.tags, r.notes, r.name) == (
        "wp", "we", "wg", "train", ["a", "b"], "note", "wname")
    monkeypatch.setenv("TRACKER_PROJECT", "tp")  # TRACKER_* first
    monkeypatch.delenv("WANDB_RUN_ID")
    run = tracker.init(dir=tmp_path, capture_git=False)
    run.finish()
    assert run.project == "tp"


def test_config_include_and_exclude_keys(tmp_path):
    cfg = {"lr": 0.1, "bs": 32, "seed": 1}
    run = tracker.init(project="p", dir=tmp_path, config=cfg, config_exclude_keys=["seed"], capture_git=False)
    assert dict(run.config) == {"lr": 0.1, "bs": 32}
    run.finish()
    run = tracker.init(project="p", dir=tmp_path, config=cfg, config_include_keys=["lr"], capture_git=False)
    run.finish()
    assert tracker.Api(tmp_path).run(run.id).config == {"lr": 0.1}


def test_settings_take_effect_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_SYSTEM", "1")
    monkeypatch.setenv("TRACKER_CONSOLE", "1")
    s = tracker.Settings(x_disable_stats=True, console="off", init_timeout=90, base_url="https://x")
    run = tracker.init(project="p", dir=tmp_path, settings=s, capture_git=False)
    assert run.settings.init_timeout == 90 and run.settings.no_such_field is None
    assert run._sampler is None and run._console is None
    run.finish()
    run = tracker.init(dir=tmp_path, settings={"run_name": "from-settings", "project": "sp"}, capture_git=False)
    run.finish()
    assert (run.name, run.project) == ("from-settings", "sp")


def test_reinit_with_wandbs_string_values(tmp_path):
    a = tracker.init(project="p", dir=tmp_path, capture_git=False)
    assert tracker.init(project="p", dir=tmp_path, reinit="return_previous") is a
    b = tracker.init(project="p", dir=tmp_path, capture_git=False, reinit="create_new")
    assert a.state == "running" and tracker.run is b
    c = tracker.init(project="p", dir=tmp_path, capture_git=False, reinit="finish_previous")
    assert b.state == "finished" and tracker.run is c
    for r in (a, c):
        r.finish(quiet=True)
    tracker.finish(exit_code=None)
    assert tracker.run is None and a.state == c.state == "finished"


def _child(tmp_path, body: str, **env: str) -> subprocess.CompletedProcess[str]:
    p = script(tmp_path, "train.py", body)
    return subprocess.run([sys.executable, str(p)], env=child_env(TRACKER_DIR=str(tmp_path / "store"), **env),
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_resume_true_continues_this_scripts_last_unfinished_run(tmp_path):
    body = """
        import tracker as wandb
        run = wandb.init(project="p", resume=True, capture_git=False)
        run.log({"x": float(run.step)})
        print(run.id, run.step, flush=True)
        if {fail}:
            raise RuntimeError("diverged")
    """
    first = _child(tmp_path, body.replace("{fail}", "True"))
    assert first.returncode == 1 and "diverged" in first.stderr, first.stderr
    second = _child(tmp_path, body.replace("{fail}", "False"))
    assert second.returncode == 0, second.stderr
    assert second.stdout.split()[0] == first.stdout.split()[0]  # the failed run continued
    r = tracker.Api(tmp_path / "store").run(first.stdout.split()[0])
    assert [h["x"] for h in r.history(pandas=False)] == [0.0, 1.0] and r.state == "finished"
    third = _child(tmp_path, body.replace("{fail}", "False"))
    assert third.stdout.split()[0] != first.stdout.split()[0]  # a finished run is not resumed


def test_resume_true_takes_the_id_from_the_environment(tmp_path):
    body = """
        import tracker as wandb
        run = wandb.init(project="p", resume=True, capture_git=False)
        run.log({"x": 1.0})
        print(run.id)
    """
    for _ in range(2):
        out = _child(tmp_path, body, WANDB_RUN_ID="job-42")
        assert out.returncode == 0 and out.stdout.strip() == "job-42", out.stderr
    assert len(tracker.Api(tmp_path / "store").run("job-42").history(pandas=False)) == 2
    out = _child(tmp_path, body.replace("resume=True", 'resume="never"'), WANDB_RUN_ID="job-42")
    assert out.returncode != 0 and "already exists" in out.stderr


def test_save_code_keeps_the_script(tmp_path):
    out = _child(tmp_path, """
        import tracker as wandb
        run = wandb.init(project="p", save_code=True, capture_git=False)
        print(run.dir)
        run.finish()
    """)
    assert out.returncode == 0, out.stderr
    from pathlib import Path

    saved = Path(out.stdout.strip()) / "code" / "train.py"
    assert "save_code=True" in saved.read_text()


def test_code_dir_setting_keeps_the_python_files(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.py").write_text("W = 1\n")
    run = tracker.init(project="p", dir=tmp_path / "store", capture_git=False,
                       settings=tracker.Settings(code_dir=str(tmp_path / "pkg")))
    run.finish()
    from pathlib import Path

    assert (Path(run.dir) / "code" / "model.py").read_text() == "W = 1\n"
    run = tracker.init(project="p", dir=tmp_path / "store", capture_git=False)
    run.log_code(str(tmp_path / "pkg"))
    run.finish()
    assert (Path(run.dir) / "code" / "model.py").read_text() == "W = 1\n"


def test_resume_must_of_a_missing_run_still_fails_clearly(tmp_path):
    with pytest.raises(StoreError, match="cannot resume"):
        tracker.init(project="p", dir=tmp_path, id="nope", resume="must")


def test_wandb_keywords_on_a_rank_that_does_not_log(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    run = tracker.init(project="p", dir=tmp_path / "store", rank_zero_only=True, entity="lab", mode="offline",
                       save_code=True, sync_tensorboard=False)
    assert run.disabled and run.entity == "lab"
    run.log({"x": 1.0})
    run.finish()
    assert not (tmp_path / "store").exists()
