"""``tracker.watch(model)``: gradient and parameter statistics of a PyTorch model, logged as
scalars every ``log_freq`` training steps.

Per tensor ``gradients/<name>/{norm,mean,std,min,max}`` (and ``parameters/<name>/...``) are
logged with ``commit=False`` into the step being logged, like wandb's histograms. Until the
Rich objects issue stores histograms, these summary statistics are what is kept.

Cost: one forward pre-hook call per training step. A logging step adds a post-accumulate-grad
hook to each parameter for its backward; there the gradient statistics are computed as
tensors (no device sync), and all of them (with the parameters' statistics) come to the host
in ONE transfer at the next forward, when the hooks are removed again.
"""

from __future__ import annotations

from typing import Any

from . import _state
from ._values import warn_once

_STATS = ("norm", "mean", "std", "min", "max")
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
        self.active = False
        self.pending: dict[str, Any] = {}
        self.handles: list[Any] = [model.register_forward_pre_hook(self._before_forward)]
        self.grad_handles: list[Any] = []  # only during a logging step: other steps pay one hook call
        self.named = [(prefix + n, p) for n, p in model.named_parameters() if p.requires_grad]

    def _grad_hook(self, name: str) -> Any:
        def hook(p: Any) -> None:
            if p.grad is not None:
                self.pending["gradients/" + name] = _stats(p.grad.detach())
        return hook

    def _before_forward(self, module: Any, args: Any) -> None:
        if not module.training:
            return
        if self.pending or (self.params and self.active):
            self.flush()
        self.active = self.calls % self.log_freq == 0
        self.calls += 1
        if self.active and self.grads and not self.grad_handles:
            self.grad_handles = [p.register_post_accumulate_grad_hook(self._grad_hook(name)) for name, p in self.named]

    def flush(self) -> None:
        """Log what the last logging step collected: one device-to-host transfer."""
        import torch

        pending, self.pending = self.pending, {}
        for h in self.grad_handles:
            h.remove()
        self.grad_handles = []
        if self.params:
            with torch.no_grad():
                for name, p in self.named:
                    pending["parameters/" + name] = _stats(p.detach())
        run = _state.current
        if not pending or run is None:
            return
        values = torch.stack([t.float() for t in pending.values()]).tolist()
        out: dict[str, float] = {}
        for key, row in zip(pending, values, strict=True):
            for stat, v in zip(_STATS, row, strict=True):
                out[f"{key}/{stat}"] = v
        try:
            run.log(out, commit=False)
        except Exception as e:  # never break training for statistics
            warn_once("watch-log", f"tracker: watch() could not log ({type(e).__name__}: {e})")

    def remove(self) -> None:
        for h in self.handles + self.grad_handles:
            h.remove()
        self.handles = self.grad_handles = []


def _stats(t: Any) -> Any:
    import torch

    f = t.float()
    std = f.std() if f.numel() > 1 else torch.zeros((), device=f.device)
    return torch.stack([f.norm(), f.mean(), std, f.min(), f.max()])


def watch(models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
          idx: int | None = None, log_graph: bool = False) -> None:
    """wandb's ``watch``: statistics of gradients (``log="gradients"``), parameters
    (``"parameters"``) or both (``"all"``) of a ``torch.nn.Module`` (or a list of them) every
    ``log_freq`` training steps (forward calls in training mode). ``criterion``, ``idx`` and
    ``log_graph`` are accepted and ignored (no graph is stored)."""
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
    """Remove the hooks of ``watch`` (of these models, or all); what was collected is logged."""
    targets = None if models is None else (list(models) if isinstance(models, (list, tuple)) else [models])
    for w in list(_watched):
        if targets is None or any(w.model is m for m in targets):
            if w.pending:
                w.flush()
            w.remove()
            _watched.remove(w)
