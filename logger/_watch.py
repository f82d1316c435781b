"""``tracker.watch(model)``: histograms of the gradients and parameters of a PyTorch model every
``log_freq`` training steps, stored as ``tracker.Histogram`` (like wandb's), plus each tensor's
L2 norm as a scalar (``gradients/<name>/norm``), which a histogram cannot give back.

Cost: one forward pre-hook call per training step. A logging step adds a post-accumulate-grad
hook to each parameter; the first one that fires queues a callback for the end of that backward
pass, when every gradient is final and not yet touched by the optimizer. There, for all N
watched tensors together:

1. each tensor's min, max and norm are computed on its device and come to the host in ONE
   transfer (per device);
2. ``torch.histc`` per tensor with those bounds, all counts stacked, and ONE more transfer.

So 2 device syncs per logging step whatever N (wandb's hooks do a ``.cpu()`` per tensor and
several per histogram). A tensor holding NaN or Inf needs its finite min/max: a third transfer,
only on a step where some tensor has them (the counts of NaN/+Inf/-Inf are kept in the
histogram). ``log="parameters"`` alone needs no backward hooks: it runs at the logging step's
forward.
"""

from __future__ import annotations

import math
from typing import Any

from . import _state
from ._values import warn_once

NUM_BINS = 64  # wandb's
_watched: list[Watcher] = []


class Watcher:
    """The hooks on one model; :func:`unwatch` removes them."""

    def __init__(self, model: Any, log: str | None, log_freq: int, prefix: str) -> None:
        self.model = model
        self.grads = log in ("gradients", "all")
        self.params = log in ("parameters", "all")
        self.log_freq = max(1, int(log_freq))
        self.prefix = prefix
        self.calls = 0
        self.queued = False  # the end-of-backward callback of this logging step is queued
        self.handles: list[Any] = [model.register_forward_pre_hook(self._before_forward)]
        self.grad_handles: list[Any] = []  # only during a logging step: other steps pay one hook call
        self.named = [(prefix + n, p) for n, p in model.named_parameters() if p.requires_grad]

    def _before_forward(self, module: Any, args: Any) -> None:
        active = module.training and self.calls % self.log_freq == 0
        self.calls += module.training  # eval forwards are not training steps
        if not active:
            self._drop_grad_hooks()  # a logging step's forward had no backward after it
            return
        if _state.current is None:
            return  # nothing to log into: no work, no sync
        if self.grads:
            if not self.grad_handles:
                self.grad_handles = [p.register_post_accumulate_grad_hook(self._grad_hook) for _, p in self.named]
            self.queued = False
        else:
            self.collect()  # parameters as this forward uses them

    def _grad_hook(self, p: Any) -> None:
        if not self.queued:
            import torch

            self.queued = True
            torch.autograd.Variable._execution_engine.queue_callback(self._after_backward)

    def _after_backward(self) -> None:
        self._drop_grad_hooks()
        self.collect()

    def _drop_grad_hooks(self) -> None:
        for h in self.grad_handles:
            h.remove()
        self.grad_handles = []

    def collect(self) -> None:
        """Log histograms (and norms) of what this step watches, with ``commit=False`` into
        the step being logged. Never raises into the training loop."""
        run = _state.current
        if run is None:
            return
        tensors: list[tuple[str, Any]] = []
        if self.grads:
            tensors += [("gradients/" + n, p.grad) for n, p in self.named if p.grad is not None]
        if self.params:
            tensors += [("parameters/" + n, p) for n, p in self.named]
        if not tensors:
            return
        try:
            out = histograms(tensors)
        except Exception as e:  # never break training for statistics
            warn_once("watch-stats", f"tracker: watch() could not compute histograms ({type(e).__name__}: {e})")
            return
        try:
            run.log(out, commit=False)
        except Exception as e:
            warn_once("watch-log", f"tracker: watch() could not log ({type(e).__name__}: {e})")

    def remove(self) -> None:
        self._drop_grad_hooks()
        for h in self.handles:
            h.remove()
        self.handles = []


def _bounds(t: Any) -> Any:
    """``[min, max, norm]`` of a float tensor, on its device (no sync)."""
    import torch

    lo, hi = torch.aminmax(t)
    return torch.stack([lo, hi, torch.linalg.vector_norm(t)])


def _finite_bounds(t: Any) -> Any:
    """``[finite min, finite max, #NaN, #+Inf, #-Inf]`` (the slow path, for a tensor with
    non-finite values)."""
    import torch

    fin = torch.isfinite(t)
    n_fin = fin.sum()
    lo = torch.where(fin, t, math.inf).amin()
    hi = torch.where(fin, t, -math.inf).amax()
    empty = n_fin == 0
    zero = torch.zeros((), dtype=t.dtype, device=t.device)
    return torch.stack([torch.where(empty, zero, lo), torch.where(empty, zero, hi), torch.isnan(t).sum().to(t.dtype),
                        torch.isposinf(t).sum().to(t.dtype), torch.isneginf(t).sum().to(t.dtype)])


def _to_host(rows: list[Any]) -> list[list[float]]:
    """Rows of equal length to Python lists: one transfer per device the rows live on."""
    import torch

    out: list[list[float] | None] = [None] * len(rows)
    by_device: dict[Any, list[int]] = {}
    for i, r in enumerate(rows):
        by_device.setdefault(r.device, []).append(i)
    for idx in by_device.values():
        for i, vals in zip(idx, torch.stack([rows[i] for i in idx]).tolist(), strict=True):
            out[i] = vals
    return out  # type: ignore[return-value]


def histograms(tensors: list[tuple[str, Any]], num_bins: int = NUM_BINS) -> dict[str, Any]:
    """``{key: Histogram, key + "/norm": float}`` for each ``(key, tensor)``: 2 transfers per
    device (3 when some tensor holds NaN/Inf). Counts are ``torch.histc(t, num_bins, min, max)``
    over the finite values (widened by 1 each side when min == max, as ``histc`` does)."""
    import torch

    from ._media_kinds import Histogram

    with torch.no_grad():
        flat = [(k, t.detach().float()) for k, t in tensors]
        bounds = _to_host([_bounds(t) for _, t in flat])  # sync 1
        odd = [i for i, (lo, hi, _) in enumerate(bounds) if not (math.isfinite(lo) and math.isfinite(hi))]
        extra = dict(zip(odd, _to_host([_finite_bounds(flat[i][1]) for i in odd]), strict=True)) if odd else {}
        ranges: list[tuple[float, float]] = []
        for i, (lo, hi, _) in enumerate(bounds):
            if i in extra:
                lo, hi = extra[i][0], extra[i][1]
            if lo == hi:
                lo, hi = lo - 1.0, hi + 1.0
            ranges.append((lo, hi))
        counts = _to_host([torch.histc(t, bins=num_bins, min=lo, max=hi)
                           for (_, t), (lo, hi) in zip(flat, ranges, strict=True)])  # sync 2
    out: dict[str, Any] = {}
    for i, ((key, _), (lo, hi), c) in enumerate(zip(flat, ranges, counts, strict=True)):
        step = (hi - lo) / num_bins
        edges = [lo + j * step for j in range(num_bins)] + [hi]
        h = Histogram(np_histogram=([int(x) for x in c], edges))
        if i in extra and h._record is not None:
            h._record.meta.update(nan=int(extra[i][2]), inf=int(extra[i][3]), ninf=int(extra[i][4]))
        out[key] = h
        norm = bounds[i][2]
        if math.isfinite(norm):
            out[key + "/norm"] = norm
    return out


def watch(models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
          idx: int | None = None, log_graph: bool = False) -> None:
    """wandb's ``watch``: histograms (and L2 norms) of gradients (``log="gradients"``),
    parameters (``"parameters"``) or both (``"all"``) of a ``torch.nn.Module`` (or a list of
    them) every ``log_freq`` training steps (forward calls in training mode), logged into the
    step of the next ``log()``. ``criterion``, ``idx`` and ``log_graph`` are accepted and
    ignored (no graph is stored)."""
    if log not in (None, "gradients", "parameters", "all"):
        raise ValueError(f"tracker: watch(log={log!r}): use 'gradients', 'parameters', 'all' or None")
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    for i, m in enumerate(models):
        if not hasattr(m, "named_parameters") or not hasattr(m, "register_forward_pre_hook"):
            raise TypeError(f"tracker: watch() takes a torch.nn.Module, got {type(m).__name__}")
        if log is None:
            continue
        prefix = f"graph_{i}/" if len(models) > 1 else ""
        _watched.append(Watcher(m, log, log_freq, prefix))


def unwatch(models: Any = None) -> None:
    """Remove the hooks of ``watch`` (of these models, or all)."""
    targets = None if models is None else (list(models) if isinstance(models, (list, tuple)) else [models])
    for w in list(_watched):
        if targets is None or any(w.model is m for m in targets):
            w.remove()
            _watched.remove(w)
