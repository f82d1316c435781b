"""``tracker.keras``: the Keras callbacks under wandb's names (see :mod:`tracker.integration.keras`)."""

from __future__ import annotations

from .integration.keras import TrackerMetricsLogger, WandbCallback, WandbMetricsLogger

__all__ = ["TrackerMetricsLogger", "WandbCallback", "WandbMetricsLogger"]
