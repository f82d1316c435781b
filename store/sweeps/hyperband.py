"""Hyperband early termination, by W&B's rule (pure logic).

Bands are counts of logged values of the sweep's metric (``min_iter * eta**n``, or
``max_iter / eta**n`` for ``n = 1..s``). For each band, the threshold is the value at that
position of the sorted band values of every run that logged past it (index ``int(len / eta)``,
so the top 1/eta pass). A running run is stopped when the best value it has logged so far is
worse than the threshold of the last band it has passed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stop:
    """Why a run is stopped: the band (logged values), its threshold and the run's best value."""

    band: int
    threshold: float
    best: float

    def reason(self, metric: str, goal: str) -> str:
        word = "above" if goal == "minimize" else "below"
        return (f"hyperband: best {metric} {self.best:.6g} after {self.band} values is {word} the band's "
                f"threshold {self.threshold:.6g} (outside the top fraction)")


def thresholds(histories: Sequence[Sequence[float]], bands: Sequence[int], eta: float, goal: str) -> list[float]:
    """Per band, the (minimizing-sign) threshold a run must beat; ``inf`` where no run got there."""
    sign = -1.0 if goal == "maximize" else 1.0
    r = 1.0 / eta
    out = []
    for band in bands:
        vals = sorted(sign * h[band] for h in histories if len(h) > band)
        out.append(vals[int(r * len(vals))] if vals else math.inf)
    return out


def to_stop(histories: Mapping[str, Sequence[float]], running: Sequence[str], bands: Sequence[int], eta: float,
            goal: str) -> dict[str, Stop]:
    """Which of the ``running`` runs to stop, given every run's metric history (finite values)."""
    sign = -1.0 if goal == "maximize" else 1.0
    hs = [h for h in histories.values() if h]
    th = thresholds(hs, bands, eta, goal)
    out: dict[str, Stop] = {}
    for key in running:
        h = histories.get(key) or []
        closest = None
        for band, t in zip(bands, th):
            if band < len(h):
                closest = (band, t)
            else:
                break
        if closest is None:
            continue
        best = min(sign * v for v in h)
        if best > closest[1]:
            out[key] = Stop(band=closest[0], threshold=sign * closest[1], best=sign * best)
    return out
