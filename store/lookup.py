"""Reading runs' values the same way everywhere: one dotted-config lookup (filters, the runs
table's config columns, ``Api.runs(filters=...)``) and one "missing values last" sort key (the
runs table, ``Api.runs(order=...)``). Here because the logger's read API and the app both build
on the store and neither may import the other."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

#: What a config getter returns for a key the config does not hold.
MISSING: Any = object()
_MAX_SPLIT_PARTS = 8  # beyond this a key is read as one nested path (no dotted-key search)


@lru_cache(maxsize=4096)
def config_getter(name: str) -> Callable[[Mapping[str, Any]], Any]:
    """How to find ``name`` in a config, as a function ``cfg -> value or MISSING``: the nested
    path first (``{"optimizer": {"lr": ...}}`` for ``optimizer.lr``), then keys that themselves
    hold dots (``{"optimizer.lr": ...}``, ``{"a.b": {"c": ...}}`` for ``a.b.c``)."""
    if "." not in name:
        return lambda cfg: cfg.get(name, MISSING)
    parts = name.split(".")
    n = len(parts)
    if n > _MAX_SPLIT_PARTS:
        def get_long(cfg: Mapping[str, Any]) -> Any:
            cur: Any = cfg
            for p in parts:
                if isinstance(cur, Mapping) and p in cur:
                    cur = cur[p]
                else:
                    return cfg.get(name, MISSING)
            return cur
        return get_long
    # choices[i]: (end, key) for every key that parts[i:end] can spell, shortest first
    choices = [[(j, ".".join(parts[i:j])) for j in range(i + 1, n + 1)] for i in range(n)]

    def walk(d: Mapping[str, Any], i: int) -> Any:
        for j, k in choices[i]:
            if k in d:
                v = d[k]
                if j == n:
                    return v
                if isinstance(v, Mapping):
                    found = walk(v, j)
                    if found is not MISSING:
                        return found
        return MISSING

    return lambda cfg: walk(cfg, 0)


def config_lookup(cfg: Mapping[str, Any], dotted: str) -> Any:
    """The value ``dotted`` names in ``cfg`` (see :func:`config_getter`); None when absent."""
    v = config_getter(dotted)(cfg)
    return None if v is MISSING else v


def missing_last_key(v: Any) -> tuple[int, Any]:
    """Sort key: numbers (and bools) first, then NaN and text, then missing (None) values.
    Sort the first two groups in either direction and append the missing ones: they stay last."""
    if v is None:
        return (2, "")
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, (int, float)):
        return (0, v) if v == v else (1, "nan")
    return (1, str(v))
