"""``tracker.tensorboard.patch()`` / ``tracker.init(sync_tensorboard=True)``: scalars written
through a TensorBoard ``SummaryWriter`` (``torch.utils.tensorboard`` or ``tensorboardX``) also
land in the current run, at their ``global_step``.

``add_scalar(tag, value, global_step)`` logs ``tag``; ``add_scalars(main, {k: v}, step)`` logs
``main/k``. With ``root_logdir``, a writer in a subdirectory of it prefixes its tags with that
subdirectory (``root/train`` -> ``train/loss``), as wandb does. The TensorBoard files are
written as before. Other summaries (images, histograms) are not copied.
"""

from __future__ import annotations

import os
from typing import Any

from ._values import warn_once

_patched: list[tuple[Any, str, Any]] = []
_root: list[str | None] = [None]


def patch(root_logdir: str | None = None, pytorch: bool = True, tensorboard_x: bool = True, save: bool = True) -> None:
    """Send the scalars of every ``SummaryWriter`` to the current run (idempotent). ``save`` is
    accepted for wandb code (the event files stay where TensorBoard wrote them)."""
    _root[0] = None if root_logdir is None else os.path.abspath(root_logdir)
    if _patched:
        return
    classes = []
    if pytorch:
        try:
            from torch.utils.tensorboard import SummaryWriter as TorchWriter

            classes.append(TorchWriter)
        except ImportError:
            pass
    if tensorboard_x:
        try:
            from tensorboardX import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
                SummaryWriter as XWriter,
            )

            classes.append(XWriter)
        except ImportError:
            pass
    if not classes:
        warn_once("tb-none", "tracker: sync_tensorboard: neither torch.utils.tensorboard (needs the tensorboard "
                  "package) nor tensorboardX is installed; nothing to patch")
        return
    for cls in classes:
        for name, make in (("add_scalar", _wrap_scalar), ("add_scalars", _wrap_scalars)):
            orig = cls.__dict__.get(name)
            if orig is not None:
                _patched.append((cls, name, orig))
                setattr(cls, name, make(orig))


def unpatch() -> None:
    """Undo :func:`patch`."""
    while _patched:
        cls, name, orig = _patched.pop()
        setattr(cls, name, orig)


def _prefix(writer: Any) -> str:
    root = _root[0]
    logdir = getattr(writer, "log_dir", None) or getattr(writer, "logdir", None)
    if root is None or not logdir:
        return ""
    rel = os.path.relpath(os.path.abspath(str(logdir)), root)
    return "" if rel == "." or rel.startswith("..") else rel.replace(os.sep, "/") + "/"


def _send(writer: Any, values: dict[str, Any], step: Any) -> None:
    from . import _state

    run = _state.current
    if run is None or run.disabled:
        return
    try:
        pre = _prefix(writer)
        data = {pre + k: float(v.item() if hasattr(v, "item") else v) for k, v in values.items()}
        run.log(data, step=None if step is None else int(step))
    except Exception as e:  # TensorBoard logging must keep working whatever happens here
        warn_once("tb-send", f"tracker: a TensorBoard scalar was not copied to the run ({type(e).__name__}: {e})")


def _wrap_scalar(orig: Any) -> Any:
    def add_scalar(self: Any, tag: str, scalar_value: Any, global_step: Any = None, *args: Any, **kw: Any) -> Any:
        out = orig(self, tag, scalar_value, global_step, *args, **kw)
        _send(self, {str(tag): scalar_value}, global_step)
        return out

    return add_scalar


def _wrap_scalars(orig: Any) -> Any:
    def add_scalars(self: Any, main_tag: str, tag_scalar_dict: dict[str, Any], global_step: Any = None,
                    *args: Any, **kw: Any) -> Any:
        out = orig(self, main_tag, tag_scalar_dict, global_step, *args, **kw)
        _send(self, {f"{main_tag}/{k}": v for k, v in tag_scalar_dict.items()}, global_step)
        return out

    return add_scalars
