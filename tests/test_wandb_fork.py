"""``init(fork_from="RUNID?_step=N")`` / ``resume_from`` (issue 10): a new run that starts with
its parent's metric history up to step N (copied, with the original steps and wall times) and
continues from step N + 1; bad specs and unknown parents are clear errors before any run is made."""

from __future__ import annotations

import pytest

import tracker


def _parent(d):
    run = tracker.init(project="p", id="parentrun1", dir=d, capture_git=False)
    for i in range(10):
        run.log({"loss": 10.0 - i, "acc": i / 10} if i % 2 == 0 else {"loss": 10.0 - i})
    run.finish()
    return run


@pytest.mark.parametrize("kind", ["fork_from", "resume_from"])
def test_fork_shares_history_up_to_step_and_continues(tmp_path, kind):
    _parent(tmp_path)
    child = tracker.init(project="p", id="childrun01", dir=tmp_path, capture_git=False, **{kind: "parentrun1?_step=4"})
    assert child.step == 5
    child.log({"loss": 0.5})
    child.log({"loss": 0.25, "acc": 1.0})
    child.finish()
    api = tracker.Api(tmp_path)
    p, c = api.run("parentrun1"), api.run("childrun01")
    rows = c.history(pandas=False)
    assert [(h["_step"], h["loss"]) for h in rows] == [(0, 10.0), (1, 9.0), (2, 8.0), (3, 7.0), (4, 6.0),
                                                       (5, 0.5), (6, 0.25)]
    assert [h["_timestamp"] for h in rows[:5]] == [h["_timestamp"] for h in p.history(pandas=False)[:5]]  # wall times kept
    assert [h.get("acc") for h in rows] == [0.0, None, 0.2, None, 0.4, None, 1.0]
    assert c.summary["loss"] == 0.25 and c.meta[kind] == {"run": "parentrun1", "step": 4, "points": 8}
    assert len(p.history(pandas=False)) == 10  # the parent is untouched


def test_fork_by_id_prefix_and_past_the_parents_last_step(tmp_path):
    _parent(tmp_path)
    child = tracker.init(project="p", dir=tmp_path, capture_git=False, fork_from="parentr?_step=100")
    child.log({"loss": -1.0})
    child.finish()
    rows = tracker.Api(tmp_path).run(child.id).history(pandas=False)
    assert len(rows) == 11 and rows[-1]["_step"] == 101


def test_bad_fork_specs_are_clear_errors_and_create_no_run(tmp_path):
    _parent(tmp_path)
    for spec, match in [("parentrun1", "RUNID\\?_step=N"), ("parentrun1?_step=-1", "RUNID"),
                        ("nosuchrun?_step=3", "no run 'nosuchrun'")]:
        with pytest.raises(ValueError, match=match):
            tracker.init(project="p", dir=tmp_path, capture_git=False, fork_from=spec)
    with pytest.raises(ValueError, match="both"):
        tracker.init(project="p", dir=tmp_path, capture_git=False, fork_from="parentrun1?_step=1",
                     resume_from="parentrun1?_step=1")
    with pytest.raises(ValueError, match="itself"):  # its points would be copied into itself
        tracker.init(project="p", id="parentrun1", resume="allow", dir=tmp_path, capture_git=False,
                     resume_from="parentrun1?_step=3")
    with pytest.raises(ValueError, match="no store"):
        tracker.init(project="p", dir=tmp_path / "empty", capture_git=False, fork_from="x?_step=1")
    assert [r.id for r in tracker.Api(tmp_path).runs("p")] == ["parentrun1"]
    assert tracker.run is None
