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


@dataclass(frozen=True)
class Curve:
    """What the rule needs of one run: how many values it logged, its value at each band it
    passed (``at[band]`` is the value at 0-based position ``band``) and its best value so far."""

    n: int
    at: Mapping[int, float]
    best: float | None


def curve(history: Sequence[float], bands: Sequence[int], goal: str) -> Curve:
    """A full history reduced to a :class:`Curve`."""
    best = (min if goal != "maximize" else max)(history) if history else None
    return Curve(len(history), {b: history[b] for b in bands if b < len(history)}, best)


def to_stop_curves(curves: Mapping[str, Curve], running: Sequence[str], bands: Sequence[int], eta: float,
                   goal: str) -> dict[str, Stop]:
    """Which of the ``running`` runs to stop (W&B's rule, on each run's :class:`Curve`)."""
    sign = -1.0 if goal == "maximize" else 1.0
    r = 1.0 / eta
    th = []
    for band in bands:
        vals = sorted(sign * c.at[band] for c in curves.values() if band in c.at)
        th.append(vals[int(r * len(vals))] if vals else math.inf)
    out: dict[str, Stop] = {}
    for key in running:
        c = curves.get(key)
        if c is None or c.best is None:
            continue
        closest = None
        for band, t in zip(bands, th):
            if band < c.n:
                closest = (band, t)
            else:
                break
        if closest is not None and sign * c.best > closest[1]:
            out[key] = Stop(band=closest[0], threshold=sign * closest[1], best=c.best)
    return out


def to_stop(histories: Mapping[str, Sequence[float]], running: Sequence[str], bands: Sequence[int], eta: float,
            goal: str) -> dict[str, Stop]:
    """Which of the ``running`` runs to stop, given every run's metric history (finite values)."""
    return to_stop_curves({k: curve(h, bands, goal) for k, h in histories.items() if h}, running, bands, eta, goal)
