"""What wandb code does with a run beyond numbers (issue 10): nested dicts, strings, editable
name/tags/notes/group, alerts with wandb's level and throttle, save/restore, define_metric,
and the run attributes wandb code reads."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from helpers import child_env, script


def _run(tmp_path, **kw):
    return tracker.init(project="p", dir=tmp_path, capture_git=False, **kw)


def test_nested_dicts_are_flattened_with_dots(tmp_path):
    run = _run(tmp_path)
    run.log({"train": {"loss": 0.5, "opt": {"lr": 0.1}}, "epoch": 1})
    run.finish()
    assert tracker.Api(tmp_path).run(run.id).history(pandas=False)[0] | {"_timestamp": 0} == {
        "_step": 0, "_timestamp": 0, "train.loss": 0.5, "train.opt.lr": 0.1, "epoch": 1}


def test_strings_are_kept_as_text_at_their_step(tmp_path):
    run = _run(tmp_path)
    run.log({"loss": 1.0, "phase": "warmup"})
    run.log({"sample": "the cat sat"})  # a log() of text alone still takes a step
    run.log({"loss": 0.5})
    run.finish()
    store = tracker.Api(tmp_path).store
    text = [d for _, _, _, kind, d in store.events(None) if kind == "text"]
    assert text == [{"step": 0, "values": {"phase": "warmup"}}, {"step": 1, "values": {"sample": "the cat sat"}}]
    rows = tracker.Api(tmp_path).run(run.id).history(pandas=False)
    assert [(h["_step"], h.get("loss"), h.get("phase"), h.get("sample")) for h in rows] == [
        (0, 1.0, "warmup", None), (1, None, None, "the cat sat"), (2, 0.5, None, None)]
    assert all("_timestamp" in h for h in rows)


def test_name_tags_notes_group_set_after_init_are_saved(tmp_path):
    run = _run(tmp_path, name="first", tags=["a"])
    run.name = "second"
    run.tags = run.tags + ("b",)
    run.notes = "why this run"
    run.group = "sweep-1"
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    assert (r.name, r.tags, r.notes, r.group) == ("second", ["a", "b"], "why this run", "sweep-1")
    assert (run.name, run.tags) == ("second", ("a", "b"))


def test_alert_with_wandbs_level_and_wait_duration(tmp_path):
    run = _run(tmp_path)
    tracker.alert(title="loss spiked", text="x", level=tracker.AlertLevel.WARN, wait_duration=300)
    tracker.alert(title="loss spiked", text="again", level=tracker.AlertLevel.WARN,
                  wait_duration=datetime.timedelta(minutes=5))  # within 5 minutes: dropped
    run.alert("other", "y", level=tracker.AlertLevel.ERROR, wait_duration=300)
    run.finish()
    got = [(a["title"], a["text"], a["level"]) for a in tracker.Api(tmp_path).run(run.id).alerts()]
    assert got == [("loss spiked", "x", "WARN"), ("other", "y", "ERROR")]


def test_module_functions_without_a_run(tmp_path):
    assert tracker.login() is True and tracker.login(key="x", relogin=True) is True
    tracker.mark_preempting()  # nothing to mark: no error
    with pytest.raises(RuntimeError, match="tracker.init"):
        tracker.alert("t", "x")
    with pytest.raises(RuntimeError, match="tracker.init"):
        tracker.define_metric("loss", summary="min")


def test_run_attributes_wandb_code_reads(tmp_path):
    run = _run(tmp_path, entity="lab")
    assert run.url == (Path(tmp_path) / "runs" / run.id).absolute().as_uri()
    assert run.path == f"lab/p/{run.id}" and run.entity == "lab"
    assert abs(run.start_time - __import__("time").time()) < 60
    assert (run.offline, run.disabled, run.step) == (False, False, 0)
    run.mark_preempting()
    run.finish()
    assert "preempting" in tracker.Api(tmp_path).run(run.id).meta
    assert tracker.run is None


def test_save_copies_files_and_live_ones_again_at_finish(tmp_path):
    src = tmp_path / "out"
    (src / "ckpt").mkdir(parents=True)
    (src / "ckpt" / "a.txt").write_text("v1")
    (src / "log.txt").write_text("early")
    (src / "final.txt").write_text("f0")
    run = _run(tmp_path / "store")
    paths = tracker.save(str(src / "ckpt" / "*.txt"), base_path=str(src))
    assert paths == [str(Path(run.dir) / "files" / "ckpt" / "a.txt")]
    tracker.save(str(src / "log.txt"), policy="now")
    run.save(str(src / "final.txt"), policy="end")
    files = Path(run.dir) / "files"
    assert not (files / "final.txt").exists()
    for name, text in (("ckpt/a.txt", "v2"), ("log.txt", "late"), ("final.txt", "f1")):
        (src / name).write_text(text)
    run.finish()
    assert (files / "ckpt" / "a.txt").read_text() == "v2"  # live: copied again
    assert (files / "log.txt").read_text() == "early"  # now: copied once
    assert (files / "final.txt").read_text() == "f1"  # end: copied at finish
    with pytest.raises(ValueError, match="policy"):
        tracker.init(project="p", dir=tmp_path / "store", capture_git=False).save("x", policy="sometimes")
    tracker.finish()


def test_restore_opens_a_saved_file_of_this_or_another_run(tmp_path):
    (tmp_path / "model.cfg").write_text("layers=2")
    a = _run(tmp_path / "store")
    tracker.save(str(tmp_path / "model.cfg"))
    with tracker.restore("model.cfg") as f:
        assert f.read() == "layers=2"
    a.finish()
    b = _run(tmp_path / "store")
    with tracker.restore("model.cfg", run_path=a.path) as f:
        assert f.read() == "layers=2"
    assert (Path(b.dir) / "files" / "model.cfg").read_text() == "layers=2"
    with b.restore("model.cfg") as f:  # the method too: now a file of b
        assert f.read() == "layers=2"
    with pytest.raises(ValueError, match="no file 'nope.cfg'"):
        tracker.restore("nope.cfg", run_path=a.path)
    b.finish()


def test_define_metric_summaries_are_what_readers_show(tmp_path):
    run = _run(tmp_path)
    tracker.define_metric("loss", summary="min")
    tracker.define_metric("val/*", summary="max", step_metric="epoch")
    tracker.define_metric("grad", summary="mean")
    tracker.define_metric("err", summary="best", goal="minimize")
    tracker.define_metric("noise", summary="none")
    tracker.define_metric("kept", summary="min")
    for i, loss in enumerate([3.0, 1.0, 2.0]):
        run.log({"loss": loss, "val/acc": [0.5, 0.9, 0.7][i], "grad": float(i), "err": [5, 2, 4][i],
                 "noise": 1.0, "kept": float(i), "epoch": i})
    run.summary["kept"] = 42  # set by the user: wins
    run.finish()
    s = tracker.Api(tmp_path).run(run.id).summary
    assert (s["loss"], s["val/acc"], s["grad"], s["err"], s["noise"], s["kept"], s["epoch"]) == (
        1.0, 0.9, 1.0, 2, None, 42, 2)
    assert run.summary["loss"] == 1.0
    store = tracker.Api(tmp_path).store
    defs = [d for _, _, _, kind, d in store.events(None) if kind == "define_metric"]
    assert {"name": "val/*", "step_metric": "epoch", "summary": ["max"], "goal": None, "hidden": False} in defs


def test_define_metric_summary_is_stored_when_the_script_never_calls_finish(tmp_path):
    p = script(tmp_path, "t.py", """
        import tracker as wandb
        run = wandb.init(project="p", capture_git=False)
        wandb.define_metric("loss", summary="min")
        for v in (3.0, 1.0, 2.0):
            wandb.log({"loss": v})
        print(run.id)
    """)
    out = subprocess.run([sys.executable, str(p)], env=child_env(TRACKER_DIR=str(tmp_path / "s")),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert tracker.Api(tmp_path / "s").run(out.stdout.strip()).summary["loss"] == 1.0


def test_define_metric_rejects_a_summary_it_cannot_compute(tmp_path):
    run = _run(tmp_path)
    with pytest.raises(ValueError, match="summary='median'"):
        run.define_metric("loss", summary="median")
    run.finish()


def test_small_module_names_wandb_scripts_call(tmp_path, capsys):
    tracker.require("service")
    tracker.setup()
    rid = tracker.util.generate_id()
    assert len(rid) == 8 and rid.isalnum() and rid != tracker.util.generate_id()
    run = tracker.init(project="p", dir=tmp_path, capture_git=False, id=rid, resume="allow")
    assert run.id == rid and run.get_url() == run.url
    tracker.termlog("hello")
    tracker.termwarn("careful")
    assert "tracker: hello" in capsys.readouterr().err
    try:
        raise tracker.Error("x")
    except tracker.Error:
        pass
    tracker.teardown()
    assert tracker.run is None and run.state == "finished"


def test_hostile_nested_and_text_values_never_raise(tmp_path):
    run = _run(tmp_path)
    loop: dict = {}
    loop["self"] = loop
    with pytest.warns(tracker.TrackerWarning, match="dict"):
        run.log({"x": 1.0, "loop": loop})  # a dict that contains itself: flattened 32 deep, then skipped
    run.log({"big": "y" * 100_000})
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    assert r.history(pandas=False)[0]["x"] == 1.0
    (big,) = [t for _, k, t in r.texts() if k == "big"]
    assert big.startswith("y" * 65_536) and big.endswith("[34464 more characters not stored]")
