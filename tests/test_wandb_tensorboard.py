"""``init(sync_tensorboard=True)`` / ``tracker.tensorboard.patch()`` (issue 10): scalars written
through a TensorBoard ``SummaryWriter`` also land in the run. Needs tensorboardX (skipped without)."""

from __future__ import annotations

import pytest

import tracker

tensorboardX = pytest.importorskip("tensorboardX", reason="needs tensorboardX (pip install tensorboardX)")


@pytest.fixture(autouse=True)
def _unpatched():
    yield
    tracker.tensorboard.unpatch()


def test_sync_tensorboard_copies_scalars_at_their_steps(tmp_path):
    run = tracker.init(project="tb", dir=tmp_path / "store", capture_git=False, sync_tensorboard=True)
    w = tensorboardX.SummaryWriter(logdir=str(tmp_path / "tb"))
    for step in range(3):
        w.add_scalar("train/loss", 1.0 / (step + 1), global_step=step * 10)
    w.add_scalars("lr", {"group0": 0.1, "group1": 0.01}, global_step=20)
    w.close()
    run.finish()
    rows = tracker.Api(tmp_path / "store").run(run.id).history(pandas=False)
    assert [(h["_step"], h.get("train/loss")) for h in rows] == [(0, 1.0), (10, 0.5), (20, pytest.approx(1 / 3))]
    assert (rows[-1]["lr/group0"], rows[-1]["lr/group1"]) == (0.1, 0.01)
    assert list((tmp_path / "tb").iterdir())  # TensorBoard's own files are still written


def test_patch_with_root_logdir_prefixes_subdirectories(tmp_path):
    tracker.tensorboard.patch(root_logdir=str(tmp_path / "tb"))
    run = tracker.init(project="tb", dir=tmp_path / "store", capture_git=False)
    for sub in ("train", "val"):
        w = tensorboardX.SummaryWriter(logdir=str(tmp_path / "tb" / sub))
        w.add_scalar("loss", 0.5, global_step=1)
        w.close()
    run.finish()
    assert set(tracker.Api(tmp_path / "store").run(run.id).keys()) == {"train/loss", "val/loss"}


def test_without_a_run_tensorboard_works_as_before(tmp_path):
    tracker.tensorboard.patch()
    w = tensorboardX.SummaryWriter(logdir=str(tmp_path / "tb"))
    w.add_scalar("loss", 1.0, 0)
    w.close()
    assert list((tmp_path / "tb").iterdir())
