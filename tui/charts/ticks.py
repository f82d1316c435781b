"""Axis ticks and their labels: round numbers, SI suffixes, clock times and durations.

Pure functions of the axis limits and the room available; no Textual, no plotext.
"""

from __future__ import annotations

import math
import time

__all__ = ["fmt_duration", "fmt_num", "nice_step", "x_ticks", "y_ticks"]


def nice_step(span: float, count: int) -> float:
    raw = span / max(1, count)
    if not raw > 0:
        return 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * mag >= raw * (1 - 1e-9):
            return m * mag
    return 10.0 * mag


def _nice_ticks(lo: float, hi: float, count: int, min_step: float = 0.0) -> tuple[list[float], float]:
    """Round-numbered ticks in ``[lo, hi]``, about ``count`` of them, at least ``min_step`` apart."""
    step = max(nice_step(hi - lo, count), min_step)
    k = math.ceil(lo / step - 1e-9)
    ticks: list[float] = []
    while (v := k * step) <= hi + step * 1e-9 and len(ticks) < 100:
        ticks.append(v)
        k += 1
    return ticks, step


def _decimals(step: float) -> int:
    for d in range(0, 12):
        if abs(round(step, d) - step) <= step * 1e-6:
            return d
    return 12


def fmt_num(v: float, step: float) -> str:
    a = abs(v)
    if a < step * 1e-6:
        return "0"
    if a >= 1e4:
        for unit, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
            if a >= unit:
                if a >= unit * 1e4:  # beyond 9999P: scientific
                    break
                return f"{v / unit:.{min(3, _decimals(step / unit))}f}{suffix}"
    if a >= 1e4 or a < 1e-3:
        digits = max(0, min(4, math.floor(math.log10(a)) - math.floor(math.log10(step))))
        mant, exp = f"{v:.{digits}e}".split("e")
        return f"{mant}e{int(exp)}"
    return f"{v:.{min(6, _decimals(step))}f}"


_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
               43200, 86400, 172800, 604800, 2592000, 31536000)


def _time_step(span: float, count: int) -> float:
    raw = span / max(1, count)
    for s in _TIME_STEPS:
        if s >= raw:
            return float(s)
    return nice_step(span, count)


def fmt_duration(s: float) -> str:
    s = round(s)
    sign = "-" if s < 0 else ""
    s = abs(s)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{sign}{d}d{h}h" if h else f"{sign}{d}d"
    if h:
        return f"{sign}{h}h{m:02d}m" if m else f"{sign}{h}h"
    if m:
        return f"{sign}{m}m{sec:02d}s" if sec else f"{sign}{m}m"
    return f"{sign}{sec}s"


def x_ticks(lo: float, hi: float, x_mode: str, width: int) -> tuple[list[float], list[str]]:
    label_w = {"step": 7, "time": 11, "relative": 7}[x_mode]
    count = max(1, min(10, width // (label_w + 3)))
    if x_mode == "step":
        # Steps are whole numbers: no ticks between them (one point at step 0 has the padded
        # window -0.5…0.5 and must read "0", not "-0.4 -0.2 0 0.2 0.4"). A window under one
        # step wide can only come from fractional x values given by hand: fine ticks there.
        ticks, step = _nice_ticks(lo, hi, count, min_step=1.0 if hi - lo >= 1 else 0.0)
        return ticks, [fmt_num(t, step) for t in ticks]
    step = _time_step(hi - lo, count)
    if x_mode == "relative":
        k = math.ceil(lo / step - 1e-9)
        ticks = [v * step for v in range(k, k + 200) if v * step <= hi + 1e-9]
        return ticks, [fmt_duration(t) for t in ticks]
    try:
        off = time.localtime(lo).tm_gmtoff or 0
    except (OverflowError, OSError, ValueError):
        return [], []
    k = math.ceil((lo + off) / step - 1e-9)
    ticks = [v * step - off for v in range(k, k + 200) if v * step - off <= hi + 1e-9]
    span = hi - lo
    if step >= 86400:
        fmt = "%m-%d"
    elif span >= 86400:
        fmt = "%m-%d %H:%M"
    else:
        fmt = "%H:%M" if step >= 60 else "%H:%M:%S"
    labels = []
    for t in ticks:
        try:
            labels.append(time.strftime(fmt, time.localtime(t)))
        except (OverflowError, OSError, ValueError):
            return [], []
    return ticks, labels


def _fmt_pow10(e: int) -> str:
    return f"{10.0 ** e:g}" if -2 <= e <= 3 else f"1e{e}"


def y_ticks(lo: float, hi: float, log_y: bool, height: int) -> tuple[list[float], list[str]]:
    count = max(1, min(8, (height - 2) // 2))
    if not log_y:
        ticks, step = _nice_ticks(lo, hi, count)
        return ticks, [fmt_num(t, step) for t in ticks]
    if math.floor(hi + 1e-9) - math.ceil(lo - 1e-9) >= 1:  # at least two decades shown
        step_e = max(1, math.ceil(nice_step(hi - lo, count)))
        e = math.ceil(lo - 1e-9)
        ticks = []
        while e <= hi + 1e-9:
            if e % step_e == 0:
                ticks.append(float(e))
            e += 1
        return ticks, [_fmt_pow10(int(t)) for t in ticks]
    lin, step = _nice_ticks(10.0**lo, 10.0**hi, count)
    lin = [v for v in lin if v > 0]
    return [math.log10(v) for v in lin], [fmt_num(v, step) for v in lin]
