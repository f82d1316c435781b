"""Sweep configs in W&B's schema, parsed and checked before anything is stored.

A config is a dict (or YAML read into one). :func:`parse` returns a :class:`SweepConfig` with
every parameter flattened to a dotted path (``optim.lr`` for a nested ``parameters:`` block) and
its distribution resolved; an invalid config raises :class:`SweepConfigError` naming the field
and what is allowed there. Numbers written as strings (PyYAML reads ``1e-5`` as the string
``"1e-5"``) are taken as numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")
#: distribution -> (required keys, optional keys with defaults)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "constant": (("value",), {}),
    "categorical": (("values",), {"probabilities": None}),
    "int_uniform": (("min", "max"), {}),
    "uniform": (("min", "max"), {}),
    "q_uniform": (("min", "max"), {"q": 1.0}),
    "log_uniform_values": (("min", "max"), {}),
    "log_uniform": (("min", "max"), {}),
    "q_log_uniform_values": (("min", "max"), {"q": 1.0}),
    "inv_log_uniform_values": (("min", "max"), {}),
    "normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "log_normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_log_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "beta": ((), {"a": 1.0, "b": 1.0}),
    "q_beta": ((), {"a": 1.0, "b": 1.0, "q": 1.0}),
}
_PARAM_KEYS = {"value", "values", "probabilities", "min", "max", "distribution", "mu", "sigma", "q", "a", "b",
               "parameters", "description"}
_TOP_KEYS = {"program", "command", "method", "metric", "parameters", "early_terminate", "run_cap", "name",
             "description", "project", "entity", "controller", "seed"}
#: Command macros W&B documents; anything else in ``${...}`` is refused.
MACROS = ("${env}", "${interpreter}", "${program}", "${args}", "${args_no_hyphens}", "${args_json}",
          "${args_json_file}")


class SweepConfigError(ValueError):
    """An invalid sweep config; the message names the field and what is allowed."""


@dataclass(frozen=True)
class Param:
    """One searched parameter: its dotted path, distribution and the distribution's arguments."""

    path: str
    dist: str
    args: dict[str, Any]

    @property
    def values(self) -> list[Any]:
        """The finite set a grid walks (constant, categorical, int_uniform, q_uniform)."""
        a = self.args
        if self.dist == "constant":
            return [a["value"]]
        if self.dist == "categorical":
            return list(a["values"])
        if self.dist == "int_uniform":
            return list(range(a["min"], a["max"] + 1))
        if self.dist == "q_uniform":
            n = int(math.floor((a["max"] - a["min"]) / a["q"] + 1e-9))
            return [_q(a["min"] + i * a["q"], a["q"]) for i in range(n + 1)]
        raise SweepConfigError(f"parameters.{self.path}: a grid needs a finite set of values; distribution "
                               f"{self.dist!r} is continuous (use values:, int_uniform or q_uniform)")


@dataclass(frozen=True)
class EarlyTerminate:
    """Hyperband: a run is checked at each band (a count of logged values of the metric)."""

    bands: tuple[int, ...]
    eta: float


@dataclass(frozen=True)
class SweepConfig:
    raw: dict[str, Any]
    method: str
    metric: str | None
    goal: str
    params: tuple[Param, ...]
    program: str | None = None
    command: tuple[str, ...] | None = None
    run_cap: int | None = None
    name: str | None = None
    description: str | None = None
    early_terminate: EarlyTerminate | None = None
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def grid_size(self) -> int:
        n = 1
        for p in self.params:
            n *= len(p.values)
        return n


def _q(x: float, q: float) -> float | int:
    """Round to a multiple of ``q`` (an int when ``q`` is a whole number, as W&B returns)."""
    v = round(x / q) * q
    if float(q).is_integer():
        return int(round(v))
    return round(v, 12)


def number(value: Any, where: str) -> float:
    """A number, also from a string such as ``"1e-5"`` (PyYAML's reading of ``1e-5``)."""
    if isinstance(value, bool):
        raise SweepConfigError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        f = float(value)
    elif isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            raise SweepConfigError(f"{where}: expected a number, got {value!r}") from None
    else:
        raise SweepConfigError(f"{where}: expected a number, got {type(value).__name__} {value!r:.40}")
    if not math.isfinite(f):
        raise SweepConfigError(f"{where}: expected a finite number, got {value!r}")
    return f


def _int(value: Any, where: str) -> int:
    f = number(value, where)
    if not f.is_integer():
        raise SweepConfigError(f"{where}: expected a whole number, got {value!r}")
    return int(f)


def _infer(spec: dict[str, Any]) -> str:
    if "value" in spec:
        return "constant"
    if "values" in spec:
        return "categorical"
    if "min" in spec and "max" in spec:
        lo, hi = spec["min"], spec["max"]
        if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool) and not isinstance(hi, bool):
            return "int_uniform"
        return "uniform"
    raise SweepConfigError("needs one of value:, values:, min: and max:, distribution: or parameters:")


def _param(path: str, spec: Any) -> Param:
    where = f"parameters.{path}"
    if not isinstance(spec, dict):
        raise SweepConfigError(f"{where}: expected a mapping such as {{values: [...]}} or {{min: 0, max: 1}}, "
                               f"got {spec!r:.60}")
    unknown = sorted(set(spec) - _PARAM_KEYS)
    if unknown:
        raise SweepConfigError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_PARAM_KEYS))}")
    try:
        dist = str(spec["distribution"]) if "distribution" in spec else _infer(spec)
    except SweepConfigError as e:
        raise SweepConfigError(f"{where}: {e}") from None
    if dist not in DISTRIBUTIONS:
        raise SweepConfigError(f"{where}.distribution: {dist!r} is not a distribution; allowed: "
                               f"{', '.join(DISTRIBUTIONS)}")
    required, optional = DISTRIBUTIONS[dist]
    missing = [k for k in required if k not in spec]
    if missing:
        raise SweepConfigError(f"{where}: distribution {dist} needs {' and '.join(missing)}")
    args: dict[str, Any] = dict(optional)
    for k in (*required, *optional):
        if k in spec:
            args[k] = spec[k]
    return Param(path, dist, _check_args(where, dist, args))


_YAML_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def yaml_number(v: Any) -> Any:
    """``"1e-5"`` -> ``1e-05``: PyYAML (YAML 1.1) reads exponents without a dot as strings."""
    return float(v) if isinstance(v, str) and _YAML_FLOAT.fullmatch(v.strip()) else v


def _check_args(where: str, dist: str, args: dict[str, Any]) -> dict[str, Any]:
    if dist == "constant":
        return {"value": yaml_number(args["value"])}
    if dist == "categorical":
        return _categorical(where, args)
    out: dict[str, Any] = {}
    for k, v in args.items():
        out[k] = _int(v, f"{where}.{k}") if dist == "int_uniform" else number(v, f"{where}.{k}")
    if "min" in out and out["min"] > out["max"]:
        raise SweepConfigError(f"{where}: min ({out['min']}) must not be greater than max ({out['max']})")
    if dist in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values") and out["min"] <= 0:
        raise SweepConfigError(f"{where}.min: {dist} needs min > 0 (the bounds are values, not exponents; "
                               "use log_uniform for exponents)")
    for k in ("q", "sigma", "a", "b"):
        if k in out and out[k] <= 0:
            raise SweepConfigError(f"{where}.{k}: must be greater than 0, got {out[k]}")
    return out


def _categorical(where: str, args: dict[str, Any]) -> dict[str, Any]:
    values = args["values"]
    if not isinstance(values, list) or not values:
        raise SweepConfigError(f"{where}.values: expected a non-empty list, got {values!r:.60}")
    probs = args.get("probabilities")
    if probs is not None:
        if not isinstance(probs, list) or len(probs) != len(values):
            raise SweepConfigError(f"{where}.probabilities: expected a list of {len(values)} numbers (one per value)")
        ps = [number(p, f"{where}.probabilities") for p in probs]
        if any(p < 0 for p in ps) or abs(sum(ps) - 1.0) > 1e-6:
            raise SweepConfigError(f"{where}.probabilities: must be >= 0 and sum to 1, got {probs}")
        probs = ps
    return {"values": [yaml_number(v) for v in values], "probabilities": probs}


def _params(block: Any, prefix: str = "") -> list[Param]:
    where = f"parameters{'.' + prefix[:-1] if prefix else ''}"
    if not isinstance(block, dict) or not block:
        raise SweepConfigError(f"{where}: expected a non-empty mapping of parameter name -> spec")
    out: list[Param] = []
    for name, spec in block.items():
        if not isinstance(name, str) or not name or "." in name:
            raise SweepConfigError(f"{where}: parameter name {name!r} must be a non-empty string without '.'")
        if isinstance(spec, dict) and "parameters" in spec:
            out.extend(_params(spec["parameters"], f"{prefix}{name}."))
        else:
            out.append(_param(prefix + name, spec))
    return out


def _choice(cfg: dict[str, Any], key: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    v = cfg.get(key, default)
    if v not in allowed:
        raise SweepConfigError(f"{key}: {v!r} is not allowed; use one of {', '.join(allowed)}")
    return str(v)


def _metric(cfg: dict[str, Any], method: str) -> tuple[str | None, str]:
    m = cfg.get("metric")
    if m is None:
        if method == "bayes" or "early_terminate" in cfg:
            raise SweepConfigError(f"metric: method {method} and early_terminate need metric: {{name: ..., goal: "
                                   "minimize|maximize}")
        return None, "minimize"
    if not isinstance(m, dict) or not isinstance(m.get("name"), str) or not m["name"]:
        raise SweepConfigError("metric: expected {name: <logged metric>, goal: minimize|maximize}")
    goal = m.get("goal", "minimize")
    if goal not in GOALS:
        raise SweepConfigError(f"metric.goal: {goal!r} is not allowed; use minimize or maximize")
    return m["name"], goal


def _early(cfg: dict[str, Any]) -> EarlyTerminate | None:
    et = cfg.get("early_terminate")
    if et is None:
        return None
    if not isinstance(et, dict) or et.get("type") != "hyperband":
        raise SweepConfigError("early_terminate.type: only 'hyperband' is supported")
    eta = number(et.get("eta", 3), "early_terminate.eta")
    if eta <= 1:
        raise SweepConfigError(f"early_terminate.eta: must be greater than 1, got {eta}")
    if "min_iter" in et:
        band = float(_int(et["min_iter"], "early_terminate.min_iter"))
        if band < 1:
            raise SweepConfigError("early_terminate.min_iter: must be at least 1")
        bands: list[int] = []
        while band <= 1e9 and len(bands) < 100:
            bands.append(int(band))
            band *= eta
    elif "max_iter" in et:
        max_iter = _int(et["max_iter"], "early_terminate.max_iter")
        if max_iter < 2:
            raise SweepConfigError("early_terminate.max_iter: must be at least 2")
        # W&B requires s with max_iter; without it, every band down to 1 iteration
        s = _int(et["s"], "early_terminate.s") if "s" in et else int(math.log(max_iter) / math.log(eta) + 1e-9)
        band_f, found = float(max_iter), []
        for _ in range(max(s, 1)):
            band_f /= eta
            if band_f < 1:
                break
            found.append(int(band_f))
        bands = sorted(found)
    else:
        raise SweepConfigError("early_terminate: hyperband needs min_iter or max_iter")
    if not bands:
        raise SweepConfigError("early_terminate: these settings give no band of at least 1 iteration")
    return EarlyTerminate(tuple(dict.fromkeys(bands)), eta)


def _command(cfg: dict[str, Any]) -> tuple[str, ...] | None:
    cmd = cfg.get("command")
    if cmd is None:
        return None
    if not isinstance(cmd, list) or not cmd or not all(isinstance(c, (str, int, float)) for c in cmd):
        raise SweepConfigError("command: expected a list of strings, e.g. [${env}, ${interpreter}, ${program}, ${args}]")
    for c in cmd:
        s = str(c)
        if "${" in s and s not in MACROS:
            raise SweepConfigError(f"command: unknown macro {s!r}; allowed: {', '.join(MACROS)}")
    return tuple(str(c) for c in cmd)


def parse(cfg: Any) -> SweepConfig:
    """Check a sweep config and resolve it; raises :class:`SweepConfigError` on the first problem."""
    if not isinstance(cfg, dict):
        raise SweepConfigError(f"a sweep config is a mapping (method:, parameters:, ...), got {type(cfg).__name__}")
    unknown = sorted(str(k) for k in set(cfg) - _TOP_KEYS)
    if unknown:
        raise SweepConfigError(f"{unknown[0]}: unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}")
    method = _choice(cfg, "method", METHODS)
    metric, goal = _metric(cfg, method)
    params = tuple(_params(cfg.get("parameters")))
    run_cap = None
    if cfg.get("run_cap") is not None:
        run_cap = _int(cfg["run_cap"], "run_cap")
        if run_cap < 1:
            raise SweepConfigError(f"run_cap: must be at least 1, got {run_cap}")
    program = cfg.get("program")
    if program is not None and not isinstance(program, str):
        raise SweepConfigError(f"program: expected a path to a script, got {program!r:.60}")
    seed = _int(cfg["seed"], "seed") if cfg.get("seed") is not None else None
    out = SweepConfig(raw=cfg, method=method, metric=metric, goal=goal, params=params, program=program,
                      command=_command(cfg), run_cap=run_cap, name=_text(cfg, "name"),
                      description=_text(cfg, "description"), early_terminate=_early(cfg), seed=seed)
    if method == "grid":
        for p in params:
            p.values  # noqa: B018 - raises for a continuous distribution
    return out


def _text(cfg: dict[str, Any], key: str) -> str | None:
    v = cfg.get(key)
    if v is None:
        return None
    if not isinstance(v, (str, int, float)):
        raise SweepConfigError(f"{key}: expected text, got {type(v).__name__}")
    return str(v)


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"optim.lr": 1}`` -> ``{"optim": {"lr": 1}}``."""
    out: dict[str, Any] = {}
    for path, v in flat.items():
        d = out
        *head, last = path.split(".")
        for h in head:
            d = d.setdefault(h, {})
        d[last] = v
    return out


def flatten(nested: Any, prefix: str = "") -> dict[str, Any]:
    """The inverse of :func:`nest` (non-dict leaves)."""
    if not isinstance(nested, dict):
        return {prefix[:-1]: nested} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in nested.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
