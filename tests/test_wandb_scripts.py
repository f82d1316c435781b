"""wandb scripts run unchanged (issue 10): each script in tests/wandb_scripts/ is written for
wandb; only ``import wandb`` becomes ``import tracker as wandb`` (and ``from wandb import`` ->
``from tracker import``). Each runs in its own process; the test asserts what landed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from helpers import child_env

SCRIPTS = Path(__file__).parent / "wandb_scripts"


def run_script(tmp_path: Path, name: str, **env: str) -> subprocess.CompletedProcess[str]:
    src = (SCRIPTS / name).read_text()
    ported = src.replace("import wandb\n", "import tracker as wandb\n").replace("from wandb import", "from tracker import")
    assert ported != src
    (tmp_path / name).write_text(ported)
    out = subprocess.run([sys.executable, name], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env=child_env(TRACKER_DIR=str(tmp_path / "store"), **env))
    assert out.returncode == 0, out.stderr
    return out


def only_run(tmp_path: Path, project: str):
    (run,) = tracker.Api(tmp_path / "store").runs(project)
    return run


def test_basic_loop(tmp_path):
    run_script(tmp_path, "basic_loop.py")
    r = only_run(tmp_path, "quickstart")
    assert r.config == {"learning_rate": 0.02, "architecture": "CNN", "epochs": 5}
    assert [h["_step"] for h in r.history(pandas=False)] == [0, 1, 2, 3, 4] and r.state == "finished"
    assert 0.75 < r.summary["acc"] < 1


def test_context_manager(tmp_path):
    out = run_script(tmp_path, "context_manager.py")
    r = only_run(tmp_path, "ctx")
    assert (r.name, r.tags, r.notes, r.group, r.job_type) == ("ctx-run", ["baseline"], "first try", "exp1", "train")
    assert r.summary["best_val_acc"] == 0.9 and r.config == {"batch_size": 64, "finished_epochs": 10}
    assert f"file://{tmp_path / 'store' / 'runs' / r.id}" in out.stdout


def test_nested_text_commit(tmp_path):
    run_script(tmp_path, "nested_text_commit.py")
    r = only_run(tmp_path, "nested")
    rows = r.history(pandas=False)
    assert [(h["_step"], h["train.loss"], h["status"]) for h in rows[:3]] == [
        (0, 1.0, "epoch 0 done"), (1, 0.5, "epoch 1 done"), (2, pytest.approx(1 / 3), "epoch 2 done")]
    assert rows[-1]["_step"] == 10 and rows[-1]["eval.bleu"] == 31.5
    assert r.entity == "my-team" and tracker.Api(tmp_path / "store").runs("my-team/nested")[0].id == r.id


def test_define_metric(tmp_path):
    run_script(tmp_path, "define_metric.py")
    r = only_run(tmp_path, "defmetric")
    assert (r.summary["val/acc"], r.summary["train/loss"], r.summary["train/grad_norm"]) == (0.8, 0.5, 1.5)


def test_env_argparse(tmp_path):
    run_script(tmp_path, "env_argparse.py", WANDB_PROJECT="envproj", WANDB_ENTITY="lab", WANDB_TAGS="a,b",
               WANDB_NOTES="from env")
    r = only_run(tmp_path, "envproj")
    assert (r.entity, r.tags, r.notes) == ("lab", ["a", "b"], "from env")
    assert r.config == {"lr": 0.001, "batch_size": 32}
    assert (tmp_path / "store" / "runs" / r.id / "code" / "env_argparse.py").is_file()


def test_disabled_mode(tmp_path):
    out = run_script(tmp_path, "disabled_mode.py")
    assert "disabled True" in out.stdout and not (tmp_path / "store").exists()


def test_disabled_by_environment(tmp_path):
    run_script(tmp_path, "basic_loop.py", WANDB_MODE="disabled")
    assert not (tmp_path / "store").exists()


def test_alerts_files_rename(tmp_path):
    run_script(tmp_path, "alerts_files_rename.py")
    r = only_run(tmp_path, "misc")
    assert r.name == f"renamed-{r.id}" and r.tags == ["late-tag"] and "preempting" in r.meta
    assert [(a["title"], a["level"], a["step"]) for a in r.alerts()] == [("Loss spike", "WARN", 3)]
    assert (tmp_path / "store" / "runs" / r.id / "files" / "model.yaml").read_text() == "layers: 4\n"


def test_resume_allow(tmp_path):
    for _ in range(2):
        run_script(tmp_path, "resume_allow.py")
    r = tracker.Api(tmp_path / "store").run("resume/job-7")
    assert [h["loss"] for h in r.history(pandas=False)] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_api_read(tmp_path):
    for lr, acc in ((0.1, 0.7), (0.01, 0.9), (1.0, 0.95)):
        run = tracker.init(project="sweepish", entity="my-team", config={"lr": lr}, dir=tmp_path / "store",
                           capture_git=False)
        run.log({"val/acc": acc})
        run.finish()
    out = run_script(tmp_path, "api_read.py")
    assert "best" in out.stdout and " 0.01 0.9" in out.stdout
    assert "rows 1" in out.stdout and "tags ['best']" in out.stdout
