"""Turning what users log into what the store can keep, losslessly and without surprises.

Metric values must be numbers. Python's sqlite3 silently stores NumPy scalars as BLOBs of raw
bytes and NaN as NULL (RELIABILITY.md §B6): values are converted here (``.item()`` for NumPy
and torch scalars, without importing either) and NaN/-0.0 are flagged by the store.

Config values go through an explicit type table into JSON, and secret-looking values are
masked before they are stored (RELIABILITY.md X2) by the policy in :mod:`._mask`.
"""

from __future__ import annotations

import enum
import json
import math
import re
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tracker.store.models import FlaggedKeys

from ._mask import is_secret_key, mask, mask_secrets

if TYPE_CHECKING:  # pragma: no cover
    from types import FrameType

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_KEY_LEN = 250
#: Config strings longer than this are truncated with a marker (RELIABILITY.md B6).
MAX_CONFIG_STR = 64 * 1024
#: Config entries (keys and list items, at every depth) stored at most (RELIABILITY.md B6 asks a
#: 50k-key config to be kept whole, in < 1 s); the rest is left out with a
#: marker and a warning (``run.config`` keeps everything).
MAX_CONFIG_ENTRIES = 100_000
#: Names ``history()`` rows use for themselves; a metric with one of them is renamed.
RESERVED_KEYS = frozenset({"_step", "_timestamp"})


class TrackerWarning(UserWarning):
    """Something the user logged could not be kept as given (the message says what and why)."""


_warned: set[str] = set()


_PKG_DIR = __file__.rsplit("/", 1)[0] if "/" in __file__ else ""


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package (the
    user's ``log()`` line), or at the outermost frame of a background thread."""
    import sys

    f: FrameType | None = sys._getframe(2)
    level = 2
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f = f.f_back
        level += 1
    return level if f is not None else 1


def warn_once(tag: str, message: str) -> None:
    """Warn with ``message`` the first time ``tag`` is seen in this process."""
    if tag in _warned:
        return
    _warned.add(tag)
    warnings.warn(message, TrackerWarning, stacklevel=_user_stacklevel())


# ---------------------------------------------------------------------------------- metrics
def to_number(key: str, v: Any) -> int | float | None:
    """Convert one logged value to ``int``/``float``; warn (once per key and type) and return
    None for anything that is not a scalar number."""
    t = type(v)
    if t is float or t is bool:
        return v
    if t is int:
        if INT64_MIN <= v <= INT64_MAX:
            return v
        warn_once(f"bigint:{key}", f"tracker: {key!r}: integer {v} does not fit in 64 bits; logged as float")
        return float(v)
    item = getattr(v, "item", None)
    if item is not None and callable(item) and not isinstance(v, (str, bytes)):
        try:
            out = item()  # NumPy scalars, 0-d arrays, torch 0-d tensors (CPU or CUDA)
        except (ValueError, RuntimeError, TypeError):
            shape = getattr(v, "shape", None)
            warn_once(
                f"nonscalar:{key}:{t.__name__}",
                f"tracker: {key!r} is a {t.__module__}.{t.__name__}"
                + (f" of shape {tuple(shape)}" if shape is not None else "")
                + ", not a scalar; it was not logged (log a number, e.g. x.mean().item())",
            )
            return None
        if type(out) is not type(v):
            return to_number(key, out)
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return to_number(key, int(v))
    if isinstance(v, float):
        return float(v)
    if not isinstance(v, (str, bytes, complex)):
        try:
            import numbers

            if isinstance(v, numbers.Real):  # Decimal is not Real; Fraction is
                return float(v)
        except (TypeError, ValueError, OverflowError):
            pass
        if type(v).__name__ == "Decimal":
            try:
                return float(v)
            except (TypeError, ValueError, OverflowError):
                pass
    warn_once(
        f"nonscalar:{key}:{t.__name__}",
        f"tracker: {key!r} is a {t.__name__}, not a number; it was not logged "
        "(metrics must be int, float, bool or a scalar with .item())",
    )
    return None


_PLAIN = frozenset({float, int, bool})
_STR = {str}
_FLAGGED: dict[tuple[str, ...], FlaggedKeys] = {}


def _flagged_keys(keys: tuple[str, ...]) -> FlaggedKeys:
    """One :class:`FlaggedKeys` per key set, so the store sees consecutive calls as one series."""
    fk = _FLAGGED.get(keys)
    if fk is None:
        if len(_FLAGGED) > 1000:
            _FLAGGED.clear()
        fk = _FLAGGED[keys] = FlaggedKeys(keys)
    return fk


def normalize_metrics(data: Mapping[Any, Any]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The slow path of ``Run.log``: keys made strings, values converted, bad ones dropped.

    Entries holding bools get :class:`~tracker.store.models.FlaggedKeys` (stored flagged, read
    back as bools); a dict of plain numbers and bools under plain keys is passed through at once."""
    vals0 = tuple(data.values())
    types = set(map(type, vals0))
    if types <= _PLAIN and (int not in types or all(INT64_MIN <= v <= INT64_MAX for v in vals0 if type(v) is int)):
        keys0 = tuple(data)
        if (keys0 and set(map(type, keys0)) == _STR and max(map(len, keys0)) <= MAX_KEY_LEN
                and RESERVED_KEYS.isdisjoint(keys0)):
            return (_flagged_keys(keys0) if bool in types else keys0), vals0
    keys: list[str] = []
    vals: list[Any] = []
    seen: set[str] = set()
    for k, v in data.items():
        if not isinstance(k, str):
            name = str(k)
            warn_once(f"keytype:{name}", f"tracker: metric key {k!r} ({type(k).__name__}) stored as the string {name!r}")
            k = name
        if k in RESERVED_KEYS:
            new = k + "_"
            warn_once(f"reserved:{k}", f"tracker: metric key {k!r} is reserved for history rows; stored as {new!r}")
            k = new
        if len(k) > MAX_KEY_LEN:
            short = k[: MAX_KEY_LEN - 1] + "…"
            warn_once(f"keylen:{k}", f"tracker: metric key of {len(k)} characters truncated to {MAX_KEY_LEN}: {short[:40]!r}…")
            k = short
        if k in seen:
            warn_once(f"dupkey:{k}", f"tracker: two metric keys became {k!r}; the later value was kept")
            i = keys.index(k)
            del keys[i], vals[i]
        n = to_number(k, v)
        if n is None:
            continue
        seen.add(k)
        keys.append(k)
        vals.append(n)
    if bool in set(map(type, vals)):  # stored with each bool flagged (reads back True/False)
        return _flagged_keys(tuple(keys)), tuple(vals)
    return tuple(keys), tuple(vals)


def normalize_step(step: Any) -> int:
    """An explicit ``step=`` as an int; a clear error for anything that is not a whole number."""
    t = type(step)
    if t is int:
        v = step
    elif t is bool:
        raise TypeError(f"tracker: step must be an integer, got bool {step!r}")
    elif hasattr(step, "item") and not isinstance(step, (str, bytes)):
        return normalize_step(step.item())
    elif isinstance(step, float):
        if not math.isfinite(step) or step != int(step):
            raise ValueError(f"tracker: step must be a whole number, got {step!r}")
        v = int(step)
    elif isinstance(step, int):
        v = int(step)
    else:
        raise TypeError(f"tracker: step must be an integer, got {type(step).__name__} {step!r}")
    if not INT64_MIN <= v <= INT64_MAX:
        raise ValueError(f"tracker: step {v} does not fit in 64 bits")
    return v


# ---------------------------------------------------------------------------------- config
def load_config_source(cfg: Any) -> dict[str, Any]:
    """Accept a dict, an argparse.Namespace, a dataclass instance, an object with
    ``model_dump()``/``dict()`` (pydantic), or a path to a YAML/JSON file."""
    if cfg is None:
        return {}
    if isinstance(cfg, Mapping):
        return dict(cfg)
    import os

    if isinstance(cfg, (str, os.PathLike)):
        path = os.fspath(cfg)
        low = path.lower()
        if not low.endswith((".yaml", ".yml", ".json")):
            raise ValueError(f"tracker: config path {path!r} must end in .yaml, .yml or .json")
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ValueError(f"tracker: cannot read config file {path!r}: {e.strerror or e}") from e
        try:
            if low.endswith(".json"):
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as e:  # yaml.YAMLError / json.JSONDecodeError: report, with the file
            raise ValueError(f"tracker: cannot parse config file {path!r}: {e}") from e
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            raise ValueError(f"tracker: config file {path!r} must hold a mapping at the top, got {type(data).__name__}")
        return dict(data)
    import dataclasses

    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    dump = getattr(cfg, "model_dump", None) or getattr(cfg, "dict", None)
    if callable(dump):
        try:
            out = dump()
        except Exception as e:  # a foreign model's dump: a clear error, not its traceback
            raise TypeError(f"tracker: config {type(cfg).__name__}.{getattr(dump, '__name__', 'dump')}() raised "
                            f"{type(e).__name__}: {safe_str(e, str)}") from e
        if isinstance(out, Mapping):
            return dict(out)
    if type(cfg).__name__ == "Namespace" or hasattr(cfg, "__dict__"):
        return dict(vars(cfg))
    raise TypeError(
        f"tracker: config must be a dict, argparse.Namespace, dataclass or a YAML/JSON path, got {type(cfg).__name__}"
    )


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(s: str, what: str) -> str:
    """``s`` with each lone surrogate (``\\udc80`` from ``os.fsdecode`` of a stray byte, a cut
    emoji…) replaced by U+FFFD, which UTF-8 (and so the store) can hold; a warning names ``what``."""
    if s.isascii():
        return s
    fixed, n = _SURROGATE.subn("\ufffd", s)
    if n:
        warn_once(f"surrogate:{what}", f"tracker: {what} holds {n} lone surrogate(s), which UTF-8 cannot store; "
                  "stored with U+FFFD (\ufffd) in their place")
    return fixed


def safe_str(v: Any, how: Any = repr) -> str:
    """``repr(v)`` (or ``how(v)``); a placeholder naming the type when that raises."""
    try:
        return str(how(v))
    except Exception as e:  # a foreign object's __repr__ / __str__: never fatal to init()
        return f"<{type(v).__name__} object: {getattr(how, '__name__', 'repr')}() raised {type(e).__name__}>"


def jsonable(v: Any, path: str = "", depth: int = 0, budget: list[int] | None = None) -> Any:
    """Convert a config value to JSON-compatible data, deterministically (RELIABILITY.md B3).

    A whole config (a call with no ``path``) keeps at most :data:`MAX_CONFIG_ENTRIES` keys and
    list items, with a marker and a warning past that; lone surrogates become U+FFFD; an object
    whose ``repr()`` raises is stored as a placeholder naming its type."""
    if budget is None and not path and not depth:
        budget = [MAX_CONFIG_ENTRIES]
    if isinstance(v, str):
        v = clean_text(v, f"config {path!r}")
        if len(v) > MAX_CONFIG_STR:
            warn_once(f"bigstr:{path}", f"tracker: config {path!r} is a string of {len(v):,} characters; "
                      f"stored truncated to {MAX_CONFIG_STR:,} with a marker")
            return v[:MAX_CONFIG_STR] + f"…[truncated {len(v) - MAX_CONFIG_STR:,} characters]"
        return v
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if depth > 64:
        warn_once(f"deep:{path}", f"tracker: config {path!r} nests deeper than 64 levels; stored as text")
        return safe_str(v)
    if isinstance(v, Mapping):
        return _jsonable_mapping(v, path, depth, budget)
    if isinstance(v, (list, tuple)):
        return _jsonable_list(v, path, depth, budget)
    try:
        return _jsonable_object(v, path, depth, budget)
    except Exception as e:  # a foreign object's isoformat() / model_dump() / __fspath__ raised
        tname = type(v).__name__
        warn_once(f"repr:{path}:{tname}", f"tracker: config {path!r} is a {tname} that could not be converted "
                  f"({type(e).__name__}); stored as a placeholder")
        return f"<{tname} object: conversion raised {type(e).__name__}>"


def _over_budget(budget: list[int] | None, left: int, path: str) -> str | None:
    """Count one entry; the marker to store instead of the ``left`` entries when the budget is spent."""
    if budget is None:
        return None
    budget[0] -= 1
    if budget[0] >= 0:
        return None
    warn_once("config-entries", f"tracker: the config has more than {MAX_CONFIG_ENTRIES:,} entries (keys and list "
              f"items); the first {MAX_CONFIG_ENTRIES:,} are stored, the rest is left out with a marker from "
              f"{path or 'the top level'} on (run.config keeps everything)")
    return f"[{left:,} more entries not stored]"


def _jsonable_mapping(v: Mapping[Any, Any], path: str, depth: int, budget: list[int] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    originals: dict[str, Any] = {}
    for i, (k, sub) in enumerate(v.items()):
        marker = _over_budget(budget, len(v) - i, path)
        if marker is not None:
            out["…"] = marker
            break
        name = clean_text(k, f"config key at {path or 'top level'}") if isinstance(k, str) else _key_str(k)
        if name in out:
            # {1: 'a', '1': 'b'}: keep both, under distinct, reported names (no silent loss).
            alt = f"{name} ({type(k).__name__})"
            warn_once(
                f"collide:{path}{name}",
                f"tracker: config keys {safe_str(originals[name])} and {safe_str(k)} at {path or 'top level'} "
                f"both read as {name!r}; the second is stored as {alt!r}",
            )
            name = alt
        originals[name] = k
        out[name] = jsonable(sub, f"{path}.{name}" if path else name, depth + 1, budget)
    return out


def _jsonable_list(v: Any, path: str, depth: int, budget: list[int] | None) -> list[Any]:
    out = []
    for i, x in enumerate(v):
        marker = _over_budget(budget, len(v) - i, path)
        if marker is not None:
            out.append(marker)
            break
        out.append(jsonable(x, path, depth + 1, budget))
    return out


def _jsonable_object(v: Any, path: str, depth: int, budget: list[int] | None) -> Any:
    """Sets, enums, NumPy / torch values, dates, paths, dataclasses…; else the ``repr()``."""
    if isinstance(v, (set, frozenset)):
        items = _jsonable_list(list(v), path, depth, budget)
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True, default=str))
    if isinstance(v, enum.Enum):
        return jsonable(v.value, path, depth + 1, budget)
    item = getattr(v, "item", None)
    if callable(item) and getattr(v, "ndim", 0) == 0:
        try:
            return jsonable(item(), path, depth + 1, budget)
        except Exception:  # a foreign object's .item(): fall through to the generic cases
            pass
    tolist = getattr(v, "tolist", None)
    if callable(tolist):
        try:
            return jsonable(tolist(), path, depth + 1, budget)
        except Exception:  # same
            pass
    iso = getattr(v, "isoformat", None)
    if callable(iso):
        return iso()
    import os

    if isinstance(v, os.PathLike):
        return clean_text(os.fspath(v), f"config {path!r}")
    tname = type(v).__name__
    if tname in ("Decimal", "Fraction", "UUID"):
        return str(v)
    if isinstance(v, complex):
        return str(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "backslashreplace")
    try:
        return jsonable(load_config_source(v), path, depth + 1, budget)
    except (TypeError, ValueError):
        pass
    text = safe_str(v)
    warn_once(f"repr:{path}:{tname}", f"tracker: config {path!r} is a {tname}; stored as its repr()"
              + (" (which raised: a placeholder is stored)" if text.startswith(f"<{tname} object: repr() raised") else ""))
    return clean_text(text, f"config {path!r}")


def _key_str(k: Any) -> str:
    if isinstance(k, tuple):
        return ",".join(map(_key_text, k))
    return _key_text(k)


def _key_text(k: Any) -> str:
    return clean_text(safe_str(k, str), "a config key")


def dumps(v: Any) -> str:
    """JSON text for the store; NaN/Infinity kept as Python's json reads them back."""
    return json.dumps(v, ensure_ascii=False, allow_nan=True, separators=(",", ":"))


# ---------------------------------------------------------------------------------- secrets
# The masking policy lives in ._mask (one policy for config, argv, text, console, git diff);
# its names are re-exported here for the modules that import them from ._values.
__all__ = ["TrackerWarning", "dumps", "is_secret_key", "jsonable", "load_config_source", "mask", "mask_secrets",
           "normalize_metrics", "normalize_step", "to_number", "warn_once"]
