"""``tracker.watch(model)`` (issue 10): histograms (``tracker.Histogram``) of gradients and
parameters, and their L2 norms, every ``log_freq`` training steps, with 2 device-to-host
transfers per logging step. Needs torch (skipped without it)."""

from __future__ import annotations

import math

import pytest

import tracker
from tracker import _watch

torch = pytest.importorskip("torch", reason="watch() needs torch (pip install 'torch==2.13.0')")
from torch.overrides import TorchFunctionMode  # noqa: E402

#: Tensor -> host conversions: each one waits for the device (a sync on a GPU).
_SYNCS = {"tolist", "item", "cpu", "numpy", "__float__", "__int__", "__bool__", "__index__"}


class CountSyncs(TorchFunctionMode):
    """Counts every torch call that brings a tensor's values to the host."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in _SYNCS or (name == "to" and any(str(a) == "cpu" for a in args[1:])):
            self.calls.append(name)
        return func(*args, **(kwargs or {}))


def _mlp(width=8, layers=2):
    torch.manual_seed(0)
    mods = []
    for i in range(layers):
        mods += [torch.nn.Linear(4 if i == 0 else width, width), torch.nn.ReLU()]
    return torch.nn.Sequential(*mods, torch.nn.Linear(width, 1))


def _train(run, model, steps, log_freq=2, log="all"):
    """Train, keeping copies of the gradients and parameters of each step as backward left them."""
    tracker.watch(model, log=log, log_freq=log_freq)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4, generator=torch.Generator().manual_seed(0)), torch.randn(16, 1)
    seen = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        seen.append({n: (p.grad.clone(), p.detach().clone()) for n, p in model.named_parameters()})
        opt.step()
        run.log({"loss": loss.item()})
    tracker.unwatch(model)
    return seen


def _histc(t):
    lo, hi = t.min().item(), t.max().item()
    return [int(c) for c in torch.histc(t.float(), bins=64, min=lo, max=hi).tolist()]


def test_histograms_every_log_freq_steps_equal_histc_of_the_tensors(tmp_path):
    model = _mlp()
    run = tracker.init(project="w", dir=tmp_path, capture_git=False)
    seen = _train(run, model, 5)
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    items = r.media(key="gradients/0.weight")
    assert [m.step for m in items] == [0, 2, 4]  # in the step of the log() after each logging backward
    assert all(m.kind == "histogram" for m in items)
    for m in items:
        g = seen[m.step]["0.weight"][0]
        assert m.data["counts"] == _histc(g) and sum(m.data["counts"]) == g.numel()
        assert m.data["bins"][0] == pytest.approx(g.min().item()) and m.data["bins"][-1] == pytest.approx(g.max().item())
        assert len(m.data["bins"]) == 65
    for m in r.media(key="parameters/2.bias"):  # the parameters the backward saw (before opt.step)
        assert m.data["counts"] == _histc(seen[m.step]["2.bias"][1])
    keys = {k for k, *_ in r.media_keys()}
    assert {"gradients/0.bias", "gradients/4.weight", "parameters/4.bias"} <= keys
    assert not any(k.startswith(("gradients/1.", "gradients/3.")) for k in keys)  # ReLUs have no parameters
    norms = [(h["_step"], h["gradients/0.weight/norm"]) for h in r.history(pandas=False) if "gradients/0.weight/norm" in h]
    assert norms == [(s, pytest.approx(seen[s]["0.weight"][0].norm().item(), rel=1e-5)) for s in (0, 2, 4)]


def test_two_host_transfers_per_logging_step_whatever_the_number_of_tensors(tmp_path, monkeypatch):
    model = _mlp(width=16, layers=23)  # 48 parameter tensors
    assert len(list(model.parameters())) == 48
    # The autograd engine runs hooks and callbacks without the caller's function modes: the
    # count is taken again inside the end-of-backward work (histograms, Histogram objects, log())
    inner: list[list[str]] = []
    collect = _watch.Watcher.collect

    def counted_collect(self):
        with CountSyncs() as c:
            collect(self)
        inner.append(c.calls)

    monkeypatch.setattr(_watch.Watcher, "collect", counted_collect)
    run = tracker.init(project="w", dir=tmp_path, capture_git=False)
    tracker.watch(model, log="all", log_freq=2)
    x = torch.randn(8, 4)
    outer = []
    for _ in range(4):
        model.zero_grad()
        with CountSyncs() as c:  # forward (pre-hook) and backward
            model(x).sum().backward()
        outer.append(c.calls)
        run.log({"x": 1})
    tracker.unwatch()
    run.finish()
    assert outer == [[], [], [], []]
    assert inner == [["tolist", "tolist"]] * 2  # steps 0 and 2, all 96 tensors
    assert len(tracker.Api(tmp_path).run(run.id).media(step=0)) == 96  # 48 gradients + 48 parameters
    # the same count for the computation alone, with gradients that hold NaN and Inf: one more
    tensors = [(f"t{i}", torch.randn(10, 10)) for i in range(48)]
    with CountSyncs() as c:
        _watch.histograms(tensors)
    assert c.calls == ["tolist", "tolist"]
    tensors[3][1][0, :3] = torch.tensor([math.nan, math.inf, -math.inf])
    with CountSyncs() as c:
        out = _watch.histograms(tensors)
    assert c.calls == ["tolist"] * 3
    meta = out["t3"].to_record().meta
    assert (meta["nan"], meta["inf"], meta["ninf"], sum(meta["counts"])) == (1, 1, 1, 97)


def test_nan_and_inf_are_counted_apart_and_constant_tensors_get_a_range():
    t = torch.tensor([0.0, 1.0, 2.0, math.nan, math.inf, math.inf, -math.inf])
    out = _watch.histograms([("g", t), ("c", torch.full((5,), 3.0)), ("z", torch.zeros(4)),
                             ("bad", torch.tensor([math.nan, math.inf]))])
    rec = out["g"].to_record().meta
    assert (rec["nan"], rec["inf"], rec["ninf"]) == (1, 2, 1)
    assert sum(rec["counts"]) == 3 and rec["bins"][0] == 0.0 and rec["bins"][-1] == 2.0
    assert "g/norm" not in out  # an infinite norm is not a point on a chart
    c = out["c"].to_record().meta
    assert sum(c["counts"]) == 5 and c["bins"][0] == 2.0 and c["bins"][-1] == 4.0  # as histc widens it
    assert c["counts"] == [int(v) for v in torch.histc(torch.full((5,), 3.0), bins=64).tolist()]
    assert out["c/norm"] == pytest.approx(math.sqrt(45)) and out["z/norm"] == 0.0
    bad = out["bad"].to_record().meta
    assert sum(bad["counts"]) == 0 and (bad["nan"], bad["inf"]) == (1, 1)


def test_gradients_only_and_no_backward_after_a_logging_forward(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 1))
    run = tracker.init(project="w", dir=tmp_path, capture_git=False)
    tracker.watch(model, log="gradients", log_freq=1)
    with torch.no_grad():
        model(torch.randn(2, 4))  # a training-mode forward with no backward: nothing logged, hooks dropped later
    run.log({"a": 1})
    model.eval()
    model(torch.randn(2, 4)).sum().backward()  # eval forwards are not training steps
    run.log({"a": 2})
    model.train()
    model(torch.randn(2, 4)).sum().backward()
    run.log({"a": 3})
    tracker.unwatch(model)
    model(torch.randn(2, 4)).sum().backward()  # unwatched: nothing more
    run.log({"a": 4})
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    assert [(m.key, m.step) for m in r.media()] == [("gradients/0.bias", 2), ("gradients/0.weight", 2)]
    assert not any(k.startswith("parameters/") for k in r.keys())


def test_parameters_only_needs_no_backward(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 2))
    run = tracker.init(project="w", dir=tmp_path, capture_git=False)
    tracker.watch(model, log="parameters", log_freq=3)
    with torch.no_grad():
        for i in range(4):
            model(torch.randn(2, 4))
            run.log({"i": i})
    tracker.unwatch()
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    items = r.media(key="parameters/0.weight")
    assert [m.step for m in items] == [0, 3]
    assert items[0].data["counts"] == _histc(model[0].weight.detach())


def test_watch_rejects_what_is_not_a_module(tmp_path):
    run = tracker.init(project="w", dir=tmp_path, capture_git=False)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        tracker.watch(object())
    with pytest.raises(ValueError, match="log='weights'"):
        run.watch(torch.nn.Linear(1, 1), log="weights")
    run.finish()
