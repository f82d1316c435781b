"""Config and summary comparison of two or more runs (pure data; used by the Compare screen
and ``tracker-tui diff``)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tracker.store.keys import is_system_metric
from tracker.tui.fmt import nonfinite

#: Marker for a key a run does not have.
MISSING: Any = object()


def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys: ``{"opt": {"lr": 1}}`` -> ``{"opt.lr": 1}``.

    Lists stay values. A flat key that already holds a dot is kept as is; if it collides with a
    flattened path, the nested value is kept under ``path`` and the flat one under ``path (flat)``
    (no silent overwrite, RELIABILITY.md B4).
    """
    out: dict[str, Any] = {}
    if not isinstance(cfg, dict):
        return {prefix: cfg} if prefix else {}
    for k, v in cfg.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            for fk, fv in flatten(v, key).items():
                _put(out, fk, fv)
        else:
            _put(out, key, v)
    return out


def _put(out: dict[str, Any], key: str, v: Any) -> None:
    if key in out:
        key = f"{key} (flat)"
    out[key] = v


def fmt_value(v: Any) -> str:
    """A config or summary value as short text."""
    if v is MISSING:
        return "—"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if not math.isfinite(v):
            return nonfinite(v)
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))
    return str(v)


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b or (
        isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool)
        and not isinstance(b, bool) and a == b
    )


@dataclass
class DiffRow:
    """One config key across runs. ``status``: same / changed / added / removed."""

    key: str
    values: list[Any]
    status: str


def config_diff(configs: Sequence[dict[str, Any]], *, only_different: bool = True) -> list[DiffRow]:
    """Rows for every flattened key, sorted; ``added`` = missing in the first run, ``removed`` =
    present in the first run but missing in a later one, ``changed`` = values differ."""
    flats = [flatten(c) for c in configs]
    keys = sorted(set().union(*flats)) if flats else []
    rows = []
    for k in keys:
        vals = [f.get(k, MISSING) for f in flats]
        first = vals[0]
        if all(_same(first, v) for v in vals[1:]):
            status = "same"
        elif first is MISSING:
            status = "added"
        elif any(v is MISSING for v in vals[1:]):
            status = "removed"
        else:
            status = "changed"
        if only_different and status == "same":
            continue
        rows.append(DiffRow(k, vals, status))
    return rows


def training_first(keys: Iterable[str]) -> list[str]:
    """Metric names sorted, training metrics before the system metrics the sampler records (a key
    the user logged under ``system/`` is a training metric)."""
    return sorted(keys, key=lambda k: (is_system_metric(k), k))


def lower_is_better(metric: str) -> bool:
    """Loss-like metric names are minimised; everything else is maximised."""
    m = metric.lower()
    return any(w in m for w in ("loss", "err", "perplexity", "ppl", "mse", "mae", "rmse", "nll", "wer", "cer",
                                "time", "latency", "regret", "distance"))


def best_index(values: Sequence[Any], metric: str) -> int | None:
    """Index of the best finite number in ``values`` (None if there are fewer than two)."""
    nums = [(i, v) for i, v in enumerate(values)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if len(nums) < 2:
        return None
    pick = min if lower_is_better(metric) else max
    return pick(nums, key=lambda t: t[1])[0]


def varying_keys(configs: Sequence[dict[str, Any]], limit: int = 6) -> list[str]:
    """Config keys whose values differ across runs (the default config columns), most
    informative first: keys present in most runs, with few distinct values but more than one."""
    flats = [flatten(c) for c in configs]
    stats: dict[str, tuple[int, set[str]]] = {}
    for f in flats:
        for k, v in f.items():
            n, vals = stats.get(k, (0, set()))
            vals.add(fmt_value(v))
            stats[k] = (n + 1, vals)
    cands = [(k, n, len(vals)) for k, (n, vals) in stats.items() if len(vals) > 1]
    cands.sort(key=lambda t: (-t[1], t[2] == t[1] and t[1] > 3, t[2], t[0]))
    return [k for k, _, _ in cands[:limit]]
