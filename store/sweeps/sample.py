"""Proposing a trial's parameters: grid, random, and ``bayes`` (a small TPE in pure Python).

Pure logic, no I/O: the store calls :func:`propose` inside the write transaction that claims a
trial, with every earlier trial of the sweep, so two agents never get the same grid point and a
``bayes`` proposal sees the running trials as pending.

``bayes`` is a Tree-structured Parzen Estimator (Bergstra et al. 2011), independent per
parameter: each parameter is mapped to [0, 1] (log scale for log distributions, the normal CDF
for normal ones, an index for categorical ones); the finished trials are split into the best
quarter ("good") and the rest ("bad"); running trials join "bad" (a constant liar), so parallel
agents are pushed away from points already being tried; 24 candidates are drawn from the good
trials' Parzen density and the one with the largest good/bad density ratio is proposed. Until
10 trials have a metric value it samples at random.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from .config import Param, SweepConfig, _q, nest

N_STARTUP = 10
N_CANDIDATES = 24
GAMMA = 0.25
_N01 = NormalDist()


@dataclass(frozen=True)
class Trial:
    """What a sampler knows of an earlier trial: flat params, its metric value, still running?"""

    params: dict[str, Any]
    value: float | None
    running: bool
    grid_index: int | None = None


def sample_param(p: Param, rng: random.Random) -> Any:
    """One draw from a parameter's prior."""
    a, d = p.args, p.dist
    if d == "constant":
        return a["value"]
    if d == "categorical":
        if a.get("probabilities"):
            return rng.choices(a["values"], weights=a["probabilities"])[0]
        return rng.choice(a["values"])
    if d == "int_uniform":
        return rng.randint(a["min"], a["max"])
    if d in ("beta", "q_beta"):
        x = rng.betavariate(a["a"], a["b"])
        return _q(x, a["q"]) if d == "q_beta" else x
    return from_unit(p, rng.random())


def from_unit(p: Param, u: float) -> Any:
    """The parameter value at ``u`` in [0, 1] of its prior's quantiles (or range)."""
    a, d = p.args, p.dist
    u = min(max(u, 1e-12), 1 - 1e-12)
    if d == "categorical":
        vals = a["values"]
        return vals[min(int(u * len(vals)), len(vals) - 1)]
    if d == "constant":
        return a["value"]
    if d == "int_uniform":
        return min(a["max"], a["min"] + int(u * (a["max"] - a["min"] + 1)))
    if d in ("uniform", "q_uniform"):
        x = a["min"] + u * (a["max"] - a["min"])
        return min(max(_q(x, a["q"]), a["min"]), a["max"]) if d == "q_uniform" else x
    if d in ("log_uniform_values", "q_log_uniform_values"):
        x = math.exp(math.log(a["min"]) + u * (math.log(a["max"]) - math.log(a["min"])))
        return _q(x, a["q"]) if d == "q_log_uniform_values" else x
    if d == "log_uniform":  # bounds are exponents: exp(uniform(min, max))
        return math.exp(a["min"] + u * (a["max"] - a["min"]))
    if d == "inv_log_uniform_values":  # 1/x is log-uniform between 1/max and 1/min
        lo, hi = math.log(1 / a["max"]), math.log(1 / a["min"])
        return 1.0 / math.exp(lo + u * (hi - lo))
    if d in ("normal", "q_normal", "log_normal", "q_log_normal"):
        x = a["mu"] + a["sigma"] * _N01.inv_cdf(u)
        if d.endswith("log_normal"):
            x = math.exp(x)
        return _q(x, a["q"]) if d.startswith("q_") else x
    if d in ("beta", "q_beta"):
        x = _beta_ppf(u, a["a"], a["b"])
        return _q(x, a["q"]) if d == "q_beta" else x
    raise ValueError(d)


def to_unit(p: Param, x: Any) -> float | None:
    """Where a value lies in [0, 1] for :func:`from_unit` (None: not a value of this parameter)."""
    a, d = p.args, p.dist
    try:
        if d == "categorical":
            vals = a["values"]
            return (vals.index(x) + 0.5) / len(vals) if x in vals else None
        if d == "constant":
            return 0.5
        x = float(x)
        if d == "int_uniform":
            return (x - a["min"] + 0.5) / (a["max"] - a["min"] + 1)
        if d in ("uniform", "q_uniform"):
            return (x - a["min"]) / ((a["max"] - a["min"]) or 1.0)
        if d in ("log_uniform_values", "q_log_uniform_values"):
            lo, hi = math.log(a["min"]), math.log(a["max"])
            return (math.log(x) - lo) / ((hi - lo) or 1.0)
        if d == "log_uniform":
            return (math.log(x) - a["min"]) / ((a["max"] - a["min"]) or 1.0)
        if d == "inv_log_uniform_values":
            lo, hi = math.log(1 / a["max"]), math.log(1 / a["min"])
            return (math.log(1 / x) - lo) / ((hi - lo) or 1.0)
        if d in ("log_normal", "q_log_normal"):
            x = math.log(x)
        if d in ("normal", "q_normal", "log_normal", "q_log_normal"):
            return _N01.cdf((x - a["mu"]) / a["sigma"])
        if d in ("beta", "q_beta"):
            return _beta_cdf(x, a["a"], a["b"])
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return None


def _beta_cdf(x: float, a: float, b: float, n: int = 400) -> float:
    """Regularised incomplete beta by the midpoint rule (accurate to ~1e-3: enough for a sampler)."""
    x = min(max(x, 0.0), 1.0)
    if x in (0.0, 1.0):
        return x
    def f(t: float) -> float:
        return math.exp((a - 1) * math.log(t) + (b - 1) * math.log1p(-t))
    tot = sum(f((i + 0.5) / n) for i in range(n))
    part = sum(f(x * (i + 0.5) / n) for i in range(n)) * x
    return part / tot


def _beta_ppf(u: float, a: float, b: float) -> float:
    if a == 1 and b == 1:
        return u
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if _beta_cdf(mid, a, b, 200) < u:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def grid_point(cfg: SweepConfig, index: int) -> dict[str, Any]:
    """The ``index``-th grid point (last parameter varies fastest), flat."""
    out: dict[str, Any] = {}
    for p in reversed(cfg.params):
        vals = p.values
        index, i = divmod(index, len(vals))
        out[p.path] = vals[i]
    return {p.path: out[p.path] for p in cfg.params}


def _pdf(u: float, centers: Sequence[float], bw: float) -> float:
    """Parzen density at ``u``: Gaussian kernels at ``centers`` plus a uniform prior kernel."""
    s = 1.0  # the prior's weight
    inv = 1.0 / (bw * math.sqrt(2 * math.pi))
    for c in centers:
        z = (u - c) / bw
        if z * z < 50:
            s += inv * math.exp(-0.5 * z * z)
    return s / (len(centers) + 1)


def _bayes(cfg: SweepConfig, trials: Sequence[Trial], rng: random.Random) -> dict[str, Any] | None:
    done = [t for t in trials if t.value is not None and math.isfinite(t.value) and not t.running]
    if len(done) < N_STARTUP:
        return None
    sign = 1.0 if cfg.goal == "minimize" else -1.0
    done.sort(key=lambda t: sign * float(t.value or 0.0))
    n_good = max(1, int(math.ceil(GAMMA * len(done))))
    good, bad = done[:n_good], done[n_good:] + [t for t in trials if t.running]
    out: dict[str, Any] = {}
    for p in cfg.params:
        if p.dist == "constant":
            out[p.path] = p.args["value"]
            continue
        gu = [u for t in good if (u := to_unit(p, t.params.get(p.path))) is not None]
        bu = [u for t in bad if (u := to_unit(p, t.params.get(p.path))) is not None]
        bw_g = max(0.05, 1.0 / (len(gu) + 1) ** 0.5 * 0.5)
        bw_b = max(0.05, 1.0 / (len(bu) + 1) ** 0.5 * 0.5)
        best_u, best_score = rng.random(), -math.inf
        for _ in range(N_CANDIDATES):
            u = rng.gauss(rng.choice(gu), bw_g) if gu and rng.random() > 1 / (len(gu) + 1) else rng.random()
            u = -u if u < 0 else 2.0 - u if u > 1 else u  # reflected: clipping piles draws on the bounds
            u = min(max(u, 0.0), 1.0)
            score = math.log(_pdf(u, gu, bw_g)) - math.log(_pdf(u, bu, bw_b))
            if score > best_score:
                best_u, best_score = u, score
        out[p.path] = from_unit(p, best_u)
    return out


def propose(cfg: SweepConfig, trials: Sequence[Trial], rng: random.Random,
            retry: set[int] | None = None) -> tuple[dict[str, Any], int | None] | None:
    """The next trial's nested params and grid index, or None when a grid is exhausted.

    ``retry``: grid indices whose earlier trials crashed and may run again.
    """
    if cfg.method == "grid":
        taken = {t.grid_index for t in trials if t.grid_index is not None}
        size = cfg.grid_size()
        if retry:
            i = min(retry)
            return nest(grid_point(cfg, i)), i
        nxt = next((i for i in range(size) if i not in taken), None)
        if nxt is None:
            return None
        return nest(grid_point(cfg, nxt)), nxt
    flat = _bayes(cfg, trials, rng) if cfg.method == "bayes" else None
    if flat is None:
        flat = {p.path: sample_param(p, rng) for p in cfg.params}
    return nest(flat), None
