"""Which parameters matter for a sweep's metric (pure logic).

Per parameter, over the trials with a metric value:

- ``rho``: Spearman's rank correlation (numeric parameters; monotone effects);
- ``eta2``: the correlation ratio η² of the metric over bins of the parameter (its values for a
  categorical one, up to 5 quantile bins for a numeric one): the share of the metric's variance
  explained by the bin means, so a U-shaped effect shows too;
- a noise floor for each: the 95th percentile of ``|rho|`` and ``eta2`` over 200 permutations of
  the metric (fixed seed). A value under its floor is what chance gives with this many runs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PERMUTATIONS = 200
MAX_BINS = 5


@dataclass(frozen=True)
class Importance:
    param: str
    n: int
    rho: float | None
    rho_floor: float | None
    eta2: float | None
    eta2_floor: float | None

    @property
    def real(self) -> bool:
        """Above its noise floor by either measure."""
        return bool((self.rho is not None and self.rho_floor is not None and abs(self.rho) > self.rho_floor)
                    or (self.eta2 is not None and self.eta2_floor is not None and self.eta2 > self.eta2_floor))


def ranks(xs: Sequence[float]) -> list[float]:
    """Ranks from 1, ties given their average rank."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    out = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def _pearson(a: Sequence[float], b: Sequence[float]) -> float | None:
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    sa = math.sqrt(sum((x - ma) ** 2 for x in a))
    sb = math.sqrt(sum((y - mb) ** 2 for y in b))
    if sa == 0 or sb == 0:
        return None
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / (sa * sb)


def _eta2(groups: Sequence[int], ys: Sequence[float]) -> float | None:
    n = len(ys)
    mean = sum(ys) / n
    total = sum((y - mean) ** 2 for y in ys)
    if total == 0:
        return None
    sums: dict[int, list[float]] = {}
    for g, y in zip(groups, ys):
        s = sums.setdefault(g, [0.0, 0.0])
        s[0] += y
        s[1] += 1
    between = sum(c * (s / c - mean) ** 2 for s, c in sums.values())
    return between / total


def _bins(xs: Sequence[Any]) -> tuple[list[int], list[float] | None]:
    """Group ids for η², and the numeric values for Spearman (None for a categorical parameter)."""
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
    if not numeric:
        keys = {k: i for i, k in enumerate(dict.fromkeys(repr(x) for x in xs))}
        return [keys[repr(x)] for x in xs], None
    vals = [float(x) for x in xs]
    distinct = sorted(set(vals))
    if len(distinct) <= MAX_BINS:
        idx = {v: i for i, v in enumerate(distinct)}
        return [idx[v] for v in vals], vals
    r = ranks(vals)
    n = len(vals)
    return [min(int((ri - 1) * MAX_BINS / n), MAX_BINS - 1) for ri in r], vals


def importance(rows: Sequence[tuple[dict[str, Any], float]], params: Sequence[str],
               seed: int = 0) -> list[Importance]:
    """``rows``: (flat params, metric value) of each trial with a value; one result per param."""
    out = []
    rng = random.Random(seed)
    for p in params:
        pts = [(r[p], v) for r, v in rows if p in r and r[p] is not None and math.isfinite(v)]
        n = len(pts)
        if n < 3:
            out.append(Importance(p, n, None, None, None, None))
            continue
        xs, ys = [x for x, _ in pts], [v for _, v in pts]
        groups, num = _bins(xs)
        rx = ranks(num) if num is not None else None
        ry = ranks(ys)
        rho = _pearson(rx, ry) if rx is not None else None
        eta = _eta2(groups, ys) if len(set(groups)) > 1 else None
        null_rho, null_eta = [], []
        order = list(range(n))
        for _ in range(PERMUTATIONS):
            rng.shuffle(order)  # one shuffle for both: the ranks of shuffled values are the shuffled ranks
            if rx is not None:
                null_rho.append(abs(_pearson(rx, [ry[i] for i in order]) or 0.0))
            if eta is not None:
                null_eta.append(_eta2(groups, [ys[i] for i in order]) or 0.0)
        out.append(Importance(p, n, rho, _q95(null_rho), eta, _q95(null_eta)))
    out.sort(key=lambda i: -max(abs(i.rho or 0.0), i.eta2 or 0.0))
    return out


def _q95(xs: list[float]) -> float | None:
    if not xs:
        return None
    xs.sort()
    return xs[min(len(xs) - 1, int(0.95 * len(xs)))]


def best_so_far(values: Sequence[float | None], goal: str) -> list[float]:
    """The best metric value after each trial (trials without a value keep the previous best)."""
    out: list[float] = []
    best: float | None = None
    for v in values:
        if v is not None and math.isfinite(v):
            if best is None or (v < best if goal == "minimize" else v > best):
                best = v
        if best is not None:
            out.append(best)
    return out
