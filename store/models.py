"""Plain records returned by the store's read methods (no SQL, no widgets)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: ``metrics.flag`` values: a point whose float cannot be stored as-is in SQLite.
FLAG_NAN = 1  # SQLite turns NaN into NULL
FLAG_NEG_ZERO = 2  # SQLite stores -0.0 as integer 0
FLAG_BOOL = 3  # SQLite stores True / False as integers 1 / 0


class FlaggedKeys(tuple):
    """The keys of a logged entry holding bools: the store writes it value by value, so that
    each bool gets :data:`FLAG_BOOL` (plain tuples of keys take the bulk path, which has none)."""

    __slots__ = ()

RUN_STATES = ("running", "finished", "failed", "crashed")


def decode_value(value: Any, flag: int | None) -> Any:
    """Turn a stored ``(value, flag)`` pair back into the logged number."""
    if flag is None:
        return value
    if flag == FLAG_NAN:
        return math.nan
    if flag == FLAG_NEG_ZERO:
        return -0.0
    if flag == FLAG_BOOL:
        return bool(value)
    return value


@dataclass(slots=True)
class MetricStats:
    """Summary of one metric of one run (slots: a project of 10,000 runs holds ~100,000)."""

    last: Any
    last_step: int | None
    min: float | None
    max: float | None
    count: int
    mean: float | None = None  # filled for system/gpu*/util_percent (finite values)


@dataclass
class SeriesData:
    """One metric of one run, ready to draw.

    Raw points when the (zoomed) series is short — NaN / ±Inf included, so a chart can mark
    them; otherwise two points per stored block of 1,024 points — its finite min and max at the
    block's first and last step — plus each block's mean in ``means`` (for smoothing), the
    non-finite values left out. Either way ``nonfinite`` counts them.
    """

    key: str
    steps: list[int]
    ts: list[float]
    values: list[float]
    nonfinite: int
    total: int
    downsampled: bool = False
    means: list[float] = field(default_factory=list)


@dataclass
class RunRecord:
    """One run as stored, plus its effective state (``crashed`` when its process is gone)."""

    rid: int
    id: str
    project: str
    name: str
    group: str | None
    job_type: str | None
    tags: list[str]
    notes: str | None
    state: str
    stored_state: str
    created_at: float
    updated_at: float
    finished_at: float | None
    heartbeat_at: float | None
    exit_code: int | None
    host: str | None
    pid: int | None
    user: str | None
    argv: list[str]
    python: str | None
    cwd: str | None
    git_commit: str | None
    git_branch: str | None
    git_dirty: bool | None
    config: dict[str, Any]
    summary_overrides: dict[str, Any]
    meta: dict[str, Any]
    last_step: int | None
    rev: int
    metrics: dict[str, MetricStats] = field(default_factory=dict)
    alerts: int = 0  # stored alerts (run.alert() and automatic ones)
    deleted_at: float | None = None  # in the trash since (readers leave such runs out)
    archived: bool = False  # hidden from listings unless asked for

    @property
    def summary(self) -> dict[str, Any]:
        """Each metric's last value, overridden by values set through ``run.summary[k] = v``."""
        out: dict[str, Any] = {k: s.last for k, s in self.metrics.items()}
        out.update(self.summary_overrides)
        return out

    @property
    def runtime(self) -> float:
        """Seconds from creation to finish (or to the last heartbeat / update while running)."""
        end = self.finished_at or max(self.heartbeat_at or 0.0, self.updated_at)
        return max(0.0, end - self.created_at)
