"""How the filter language reads numbers and text: in what users type and in run values."""

from __future__ import annotations

import re
from numbers import Integral, Real
from typing import Any

_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf(?:inity)?|nan)", re.I)
_INT = re.compile(r"[+-]?\d+")


def parse_number(s: str) -> int | float | None:
    """``s`` as a number when it reads as one (``" 1e-3 "``, ``"-inf"``), else ``None``."""
    s = s.strip()
    if _NUMBER.fullmatch(s) is None:
        return None
    if _INT.fullmatch(s):
        try:
            return int(s)  # exact for ids and step counts beyond 2**53
        except ValueError:  # more digits than int() accepts: its magnitude is all that matters
            return float(s)
    return float(s)


def to_number(v: Any) -> int | float | None:
    """A run value as a number: numbers and numeric strings; booleans and the rest are not."""
    t = type(v)
    if t is int or t is float:
        return v
    if t is str:
        return parse_number(v)
    if t is bool or v is None:
        return None
    if isinstance(v, Real):  # NumPy scalars, Decimal, Fraction
        try:
            return int(v) if isinstance(v, Integral) else float(v)
        except (ValueError, OverflowError, TypeError):
            return None
    return None


def to_text(v: Any) -> str | None:
    """A run value as the text a regular expression is searched in; ``None`` if it has none."""
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is float:
        return repr(v)
    if t is int or isinstance(v, Real):
        try:
            return str(v)
        except ValueError:  # an int with more digits than str() will write
            return None
    return None
