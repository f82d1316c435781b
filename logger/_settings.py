"""wandb's ``Settings`` and ``AlertLevel`` for scripts that pass them to ``tracker``.

``tracker.Settings(...)`` accepts every keyword (wandb has hundreds; most are about its cloud
service). The ones with a meaning for a local store take effect in ``init()``:

``mode``, ``project``, ``entity``, ``run_id``, ``run_name``, ``run_group``, ``run_job_type``,
``run_tags``, ``run_notes``, ``save_code``, ``code_dir``, ``console`` (``"off"`` turns console
capture off), ``x_stats_sampling_interval`` / ``_stats_sample_rate_seconds`` (system metrics
interval), ``x_disable_stats`` / ``_disable_stats`` (system metrics off), ``disable_git``,
``resume``, ``silent``. Everything else is kept on the object and otherwise ignored.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

#: Settings fields that change what ``init()`` does (see the module docstring).
MEANINGFUL = frozenset({
    "mode", "project", "entity", "run_id", "run_name", "run_group", "run_job_type", "run_tags", "run_notes",
    "save_code", "code_dir", "console", "x_stats_sampling_interval", "_stats_sample_rate_seconds",
    "x_disable_stats", "_disable_stats", "disable_git", "resume", "silent",
})


class Settings:
    """A bag of wandb settings: ``Settings(console="off", save_code=True, ...)``.

    Attributes read back as given; an unset field reads as ``None``.
    """

    def __init__(self, **kwargs: Any) -> None:
        object.__setattr__(self, "_values", dict(kwargs))

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return self._values.get(key)

    def __setattr__(self, key: str, value: Any) -> None:
        self._values[key] = value

    def update(self, other: Any = None, **kwargs: Any) -> None:
        """Merge fields (a dict, another ``Settings`` or keywords)."""
        if isinstance(other, Settings):
            self._values.update(other._values)
        elif other:
            self._values.update(dict(other))
        self._values.update(kwargs)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"


class AlertLevel(str, Enum):
    """``tracker.alert(..., level=tracker.AlertLevel.WARN)``."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"

    def __str__(self) -> str:
        return self.value
