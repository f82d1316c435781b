"""Short text for numbers, times and sparklines, and the small value helpers every view shares
(non-finite text, dotted config keys, missing-last sorting). Shared by the app and the CLI."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

SPARK = "▁▂▃▄▅▆▇█"
SPARK_ASCII = "_.-=+*#@"


def nonfinite(v: float) -> str:
    """The text of a NaN or ±Inf float: ``"nan"``, ``"inf"``, ``"-inf"`` (used everywhere
    such a value is shown or written as strict JSON)."""
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def num(v: Any) -> str:
    """A metric value in at most ~9 characters."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) if abs(v) < 10**9 else f"{v:.3g}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return nonfinite(v)
        if v == 0:
            return "0"
        a = abs(v)
        if 1e-3 <= a < 1e5:
            return f"{v:.4g}"
        return f"{v:.2e}"
    return str(v)


def duration(s: float | None) -> str:
    if s is None:
        return ""
    s = int(max(0, s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def when(t: float | None, now: float | None = None) -> str:
    """``11-23 14:05`` for this year, ``2025-11-23`` before."""
    if t is None:
        return ""
    lt = time.localtime(t)
    if time.localtime(now if now is not None else time.time()).tm_year != lt.tm_year:
        return time.strftime("%Y-%m-%d", lt)
    return time.strftime("%m-%d %H:%M", lt)


def sparkline(values: Sequence[float], width: int = 12, ascii_only: bool = False) -> str:
    """Values as block characters (finite values only; empty when there are none)."""
    vals = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return ""
    if len(vals) > width:
        step = len(vals) / width
        vals = [vals[int(i * step)] for i in range(width)]
    lo, hi = min(vals), max(vals)
    chars = SPARK_ASCII if ascii_only else SPARK
    if hi == lo:
        return chars[len(chars) // 2] * len(vals)
    scale = (len(chars) - 1) / (hi - lo)
    return "".join(chars[int((v - lo) * scale)] for v in vals)


def json_safe(v: Any) -> Any:
    """Strict JSON for scripts: non-finite floats become the strings "nan", "inf", "-inf"."""
    if isinstance(v, float) and not math.isfinite(v):
        return nonfinite(v)
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [json_safe(x) for x in v]
    return v
