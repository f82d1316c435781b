"""Keras 3: ``model.fit(..., callbacks=[TrackerMetricsLogger()])`` (any backend).

Epoch metrics go in as ``epoch/<name>`` (with ``epoch/epoch`` and ``epoch/learning_rate``) at
the epoch; with ``log_freq="batch"`` or a number N, batch metrics as ``batch/<name>`` every N
batches (with ``batch/batch_step``), like wandb's ``WandbMetricsLogger``. Uses the active run
(``tracker.init()`` first: creating the callback without one is an error, before training).
``WandbMetricsLogger`` and ``WandbCallback`` are aliases.
"""

from __future__ import annotations

from typing import Any

import keras

import tracker


class TrackerMetricsLogger(keras.callbacks.Callback):  # type: ignore[misc]
    """Log Keras training metrics to the current tracker run (see the module docstring)."""

    def __init__(self, log_freq: str | int = "epoch", initial_global_step: int = 0, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        if log_freq == "batch":
            log_freq = 1
        if log_freq != "epoch" and not (isinstance(log_freq, int) and log_freq > 0):
            raise ValueError(f"tracker: TrackerMetricsLogger(log_freq={log_freq!r}): use 'epoch', 'batch' or an int > 0")
        if tracker.run is None:  # said before training starts, never from inside fit()
            raise RuntimeError("tracker: TrackerMetricsLogger needs an active run; call tracker.init() first")
        self.log_freq = log_freq
        self.global_step = initial_global_step

    def _log(self, data: dict[str, Any]) -> None:
        run = tracker.run
        if run is not None:  # finished meanwhile: training goes on, nothing is logged
            run.log(data)

    def _lr(self) -> float | None:
        opt = getattr(self.model, "optimizer", None)
        lr = getattr(opt, "learning_rate", None)
        try:
            return float(keras.ops.convert_to_numpy(lr)) if lr is not None else None
        except Exception:  # a schedule object or an odd backend value: leave it out
            return None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        data = {f"epoch/{k}": float(v) for k, v in (logs or {}).items() if _number(v)}
        data["epoch/epoch"] = epoch
        lr = self._lr()
        if lr is not None:
            data["epoch/learning_rate"] = lr
        self._log(data)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.global_step += 1
        if self.log_freq == "epoch" or batch % int(self.log_freq):
            return
        data = {f"batch/{k}": float(v) for k, v in (logs or {}).items() if _number(v)}
        data["batch/batch_step"] = self.global_step
        self._log(data)


def _number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


WandbMetricsLogger = TrackerMetricsLogger
WandbCallback = TrackerMetricsLogger
