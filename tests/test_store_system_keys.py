"""Bug 9 (issue 8): a key the user logs under ``system/`` is a training metric; the system
sampler's metrics stay out of ``history()`` and ``run.summary``."""

from __future__ import annotations

import time

import pytest

import tracker
from tracker.store import Store
from tracker.store.keys import is_system_metric


@pytest.fixture
def sampled_run(tmp_path, monkeypatch):
    """A real run with the real system sampler on and a user key under ``system/``."""
    monkeypatch.delenv("TRACKER_SYSTEM", raising=False)
    run = tracker.init(project="p", dir=tmp_path, capture_git=False, system_interval=0.02, console=False)
    store = Store(tmp_path, create=False)
    for i in range(5):
        run.log({"train/loss": 1.0 / (i + 1), "system/gpu_memory_mb": 1000.0 + i})
    deadline = time.monotonic() + 10
    while "system/cpu_percent" not in store.run(run.id).metrics and time.monotonic() < deadline:
        time.sleep(0.05)  # the sampler's first samples reach the store
        run._writer.flush(5)
    run.summary["best"] = 0.5
    run.finish()
    assert "system/cpu_percent" in store.run(run.id).metrics, "the sampler wrote nothing"
    return tracker.Api(tmp_path).run(run.id)


def test_user_keys_under_system_stay_in_history(sampled_run):
    hist = sampled_run.history(pandas=False)
    assert [h["system/gpu_memory_mb"] for h in hist if "system/gpu_memory_mb" in h] == [1000.0 + i for i in range(5)]
    assert [h["train/loss"] for h in hist if "train/loss" in h] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert not any("system/cpu_percent" in h for h in hist)


def test_sampled_system_metrics_stay_out_of_the_summary(sampled_run):
    assert sampled_run.summary == {"train/loss": 0.2, "system/gpu_memory_mb": 1004.0, "best": 0.5}
    sys_hist = sampled_run.system_history()
    assert sys_hist and all("system/cpu_percent" in h or "system/ram_used_gb" in h for h in sys_hist)
    assert not any("system/gpu_memory_mb" in h for h in sys_hist)
    assert "system/cpu_percent" in sampled_run.metric_stats()  # still there for those who ask


def test_every_name_the_sampler_writes_is_a_system_metric():
    from tracker._system import GPU_KEYS, SYSTEM_KEYS

    for key in SYSTEM_KEYS + tuple(f"system/gpu{i}/{s}" for i in (0, 7, 12) for s in GPU_KEYS):
        assert is_system_metric(key), key
    for key in ("system/gpu_memory_mb", "system/gpu0", "system/gpux/util_percent", "system/gpu0/util_percent/x",
                "system/my_metric", "train/loss", "gpu0/util_percent"):
        assert not is_system_metric(key), key
