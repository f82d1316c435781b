"""``tracker.watch(model)`` (issue 10): gradient and parameter statistics as scalars every
``log_freq`` training steps. Needs torch (skipped without it)."""

from __future__ import annotations

import pytest

import tracker

torch = pytest.importorskip("torch", reason="watch() needs torch (pip install 'torch==2.13.0')")


def _train(run, model, steps, log_freq=2, log="all"):
    tracker.watch(model, log=log, log_freq=log_freq)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4, generator=torch.Generator().manual_seed(0)), torch.randn(16, 1)
    grads = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        grads.append(model[0].weight.grad.norm().item())
        opt.step()
        run.log({"loss": loss.item()})
    tracker.unwatch(model)
    return grads


def test_gradient_and_parameter_statistics_every_log_freq_steps(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    run = tracker.init(project="w", dir=tmp_path, capture_git=False)
    grads = _train(run, model, 5)
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    rows = r.history()
    got = [(h["_step"], h["gradients/0.weight/norm"]) for h in rows if "gradients/0.weight/norm" in h]
    assert [s for s, _ in got] == [1, 3, 5]  # training steps 0, 2, 4: logged into the next step
    assert [v for _, v in got] == pytest.approx([grads[0], grads[2], grads[4]], rel=1e-5)
    keys = set(r.keys())
    for stat in ("norm", "mean", "std", "min", "max"):
        assert {f"gradients/2.bias/{stat}", f"parameters/0.weight/{stat}"} <= keys
    assert not any(k.startswith("gradients/1.") for k in keys)  # ReLU has no parameters


def test_unwatch_stops_and_eval_forwards_do_not_count(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 1))
    run = tracker.init(project="w", dir=tmp_path, capture_git=False)
    _train(run, model, 2, log_freq=1, log="gradients")
    model.eval()
    with torch.no_grad():
        model(torch.randn(2, 4))
    model.train()
    model(torch.randn(2, 4)).sum().backward()  # unwatched: nothing more is logged
    run.finish()
    keys = tracker.Api(tmp_path).run(run.id).keys()
    assert "gradients/0.weight/norm" in keys and not any(k.startswith("parameters/") for k in keys)
    n = sum("gradients/0.weight/norm" in h for h in tracker.Api(tmp_path).run(run.id).history())
    assert n == 2


def test_watch_rejects_what_is_not_a_module(tmp_path):
    run = tracker.init(project="w", dir=tmp_path, capture_git=False)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        tracker.watch(object())
    with pytest.raises(ValueError, match="log='weights'"):
        run.watch(torch.nn.Linear(1, 1), log="weights")
    run.finish()
