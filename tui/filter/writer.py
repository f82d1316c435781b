"""The expression writer: a syntax tree (or a brush built as one) back into filter text.

What :func:`write` returns parses back into the same tree (positions aside) and selects the
same runs; it is the one place that quotes keys and values, so the parallel-coordinates brushes
and anything else that writes a filter agree with the parser on every odd key and value.
"""

from __future__ import annotations

import math
import re
from numbers import Integral, Real
from typing import Any

from tracker.tui.filter.ast import (
    And,
    Compare,
    FieldMatch,
    Has,
    InList,
    Key,
    MatchAll,
    Node,
    Not,
    Or,
    Range,
    Search,
    Value,
)
from tracker.tui.filter.lexer import KEYWORDS, WORD
from tracker.tui.filter.values import parse_number

__all__ = ["key", "key_text", "literal", "number_text", "quote", "value_text", "write"]

#: Names after a ``summary.`` / ``config.`` prefix that need no quotes.
_BARE_NAME = re.compile(r"[A-Za-z0-9_./-]+")
_PREFIXES = ("summary.", "config.")
#: The shorthand written for each field a :class:`FieldMatch` tests.
_SHORTHAND = {"tags": "tag", "state": "state", "group": "group", "project": "project",
              "job_type": "job_type", "host": "host", "id": "id", "name": "name", "notes": "notes"}


def quote(text: str, mark: str = '"') -> str:
    """``text`` between ``mark`` quotes, with ``\\`` and the mark backslash-escaped."""
    return mark + text.replace("\\", "\\\\").replace(mark, "\\" + mark) + mark


def _plain(word: str) -> bool:
    """Whether ``word`` reads back as one bare word that is neither a keyword nor a number."""
    return (WORD.fullmatch(word) is not None and word.casefold() not in KEYWORDS
            and parse_number(word) is None)


def key(name: str, source: str = "auto") -> Key:
    """The :class:`Key` for ``name`` in ``source`` (``"auto"``, ``"summary"`` or ``"config"``)."""
    return Key(name if source == "auto" else f"{source}.{name}", source, name)


def key_text(k: Key) -> str:
    """A key as written: ``lr``, ``config.lr``, ``summary."val loss"``, ```my key```.

    A key forced to a source keeps its prefix outside the quotes; other keys that do not read
    as one plain word (spaces, operators, keywords, numbers) go in backticks.
    """
    if k.source != "auto":
        name = k.name if _BARE_NAME.fullmatch(k.name) else quote(k.name)
        return f"{k.source}.{name}"
    if _plain(k.text) and not k.text.startswith(_PREFIXES):
        return k.text
    return quote(k.text, "`")


def number_text(x: float) -> str:
    """The shortest text that reads back as ``x``: ``3`` not ``3.0``, ``inf``, ``nan``."""
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e16:
        return str(int(x))  # exact: below 2**53 every float is, and above it ints are floats
    return repr(x)


def literal(value: Any) -> Value:
    """A Python value as the literal that compares equal to it.

    Args:
        value: None, a bool, a number (NumPy scalars too) or a str.

    Returns:
        A :class:`Value` (``pos`` is 0: it was never typed).

    Raises:
        TypeError: ``value`` is none of those.
    """
    if value is None:
        return Value("null", None, "null", None, 0)
    if not isinstance(value, (bool, str, Real)) and callable(getattr(value, "item", None)):
        value = value.item()  # NumPy scalars (numpy.bool_ is not a numbers.Real)
    if isinstance(value, bool):
        return Value("bool", value, "true" if value else "false", None, 0)
    if isinstance(value, Integral):
        n = int(value)
        return Value("num", n, str(n), n, 0)
    if isinstance(value, Real):
        x = float(value)
        return Value("num", x, number_text(x), x, 0)
    if isinstance(value, str):
        return Value("str", value, value, parse_number(value), 0)
    raise TypeError(f"can't write a {type(value).__name__} as a filter value")


def value_text(v: Value) -> str:
    """A literal as written: numbers as typed, ``true``/``false``/``null``, text double-quoted."""
    if v.kind == "num":
        return v.text if parse_number(v.text) is not None else number_text(float(v.value))
    if v.kind == "bool":
        word = "true" if v.value else "false"
        return v.text if v.text.casefold() == word else word  # TRUE stays as typed
    if v.kind == "null":
        return v.text if v.text.casefold() in ("null", "none") else "null"
    return quote(v.text)


def _word_or_quoted(text: str) -> str:
    return text if _plain(text) and ":" not in text else quote(text)


def _range_text(node: Range) -> str:
    lo, hi, k = value_text(node.lo), value_text(node.hi), key_text(node.key)
    if node.negate and node.lo_inclusive and node.hi_inclusive:
        return f"{k} not between {lo} and {hi}"
    text = (f"{lo} {'<=' if node.lo_inclusive else '<'} {k} "
            f"{'<=' if node.hi_inclusive else '<'} {hi}")
    return f"not ({text})" if node.negate else text


def _operand(node: Node) -> str:
    """``node`` as one operand of and / or / not: bracketed unless it is a single term."""
    text = write(node)
    return f"({text})" if isinstance(node, (And, Or)) else text


def write(node: Node) -> str:
    """Filter text for a syntax tree.

    Args:
        node: A tree from :func:`~tracker.tui.filter.parser.parse`, or one built from
            :func:`key` and :func:`literal` (brushes).

    Returns:
        Text that parses back into the same tree (``""`` for :class:`MatchAll`).
    """
    if isinstance(node, And):
        return " and ".join(_operand(n) for n in node.items)
    if isinstance(node, Or):
        return " or ".join(_operand(n) for n in node.items)
    if isinstance(node, Not):
        return f"not {_operand(node.item)}"
    if isinstance(node, Compare):
        return f"{key_text(node.key)} {node.op} {value_text(node.value)}"
    if isinstance(node, InList):
        items = ", ".join(value_text(v) for v in node.values)
        return f"{key_text(node.key)} {'not in' if node.negate else 'in'} ({items})"
    if isinstance(node, Range):
        return _range_text(node)
    if isinstance(node, FieldMatch):
        return f"{_SHORTHAND[node.field]}:" + ",".join(_word_or_quoted(v) for v in node.values)
    if isinstance(node, Has):
        return "has:" + ",".join(_word_or_quoted(k.text) for k in node.keys)
    if isinstance(node, Search):
        return _word_or_quoted(node.text)
    if isinstance(node, MatchAll):
        return ""
    raise TypeError(f"not a filter syntax node: {type(node).__name__}")
