"""``Api().sweep(id)``: a stored sweep, its runs and its best run (read-only)."""

from __future__ import annotations

import math
from typing import Any


class ApiSweep:
    """A sweep as stored when it was fetched: ``config``, ``state``, ``name``, ``runs``."""

    def __init__(self, store: Any, row: Any) -> None:
        from tracker.store.sweeps import coord

        self._store = store
        self.id: str = row.id
        self.name: str = row.name
        self.project: str = row.project
        self.config: dict[str, Any] = row.config
        self.state: str = row.state
        self.method: str = row.method
        self.metric: str | None = row.metric
        self.goal: str = row.goal
        self.run_cap: int | None = row.run_cap
        self.trials = coord.trials(store, row.id, row.metric)

    @property
    def runs(self) -> list[Any]:
        """The sweep's runs in the order their trials were claimed."""
        from .api import ApiRun

        out = []
        for t in self.trials:
            if t.run_id is not None:
                try:
                    out.append(ApiRun(self._store, self._store.run(t.run_id)))
                except LookupError:
                    continue
        return out

    def best_run(self, order: str | None = None) -> Any | None:
        """The run with the best value of the sweep's metric (``order="-acc"``: the largest
        ``acc``; ``"acc"`` or ``"+acc"``: the smallest). None when no run logged it."""
        if order is None:
            if self.metric is None:
                raise ValueError("tracker: this sweep has no metric; pass order='-<metric>' or '<metric>'")
            key, desc = self.metric, self.goal == "maximize"
        else:
            desc = order.startswith("-")
            key = order.lstrip("+-").removeprefix("summary_metrics.")
        best, best_v = None, None
        for r in self.runs:
            v = r.summary.get(key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                continue
            if best_v is None or (v > best_v if desc else v < best_v):
                best, best_v = r, v
        return best

    def __repr__(self) -> str:
        return f"<Sweep {self.id} {self.name!r} {self.method} {self.state}>"
