r"""The runs-table filter language: parse a filter-bar expression once, test it on many runs.

Pure Python (no Textual), so the table, the ``?`` help screen and the tests share one
implementation. The section between the two rulers below is :data:`HELP`, shown verbatim in the
help screen and the README.

Filter language
---------------
  lr < 1e-3 and val/acc > 0.9 and tag:resnet and state:finished

Comparisons: KEY OP VALUE, the key always on the left
  =  ==  !=          equal, not equal (text ignores case)
  <  <=  >  >=       numbers by value, text alphabetically (ignoring case)
  ~  !~              a regular expression (Python syntax, ignoring case)
                     is / is not found in the value; no wildcards here
  KEY in (A, B)      equal to one of the values; [A, B] works too
  KEY not in (A, B)  equal to none of them
  LO <= KEY <= HI    a range; < for open ends; HI >= KEY >= LO works too
  KEY between LO and HI   same as LO <= KEY <= HI; also: not between
Combining
  A and B   A && B   A B   both (terms side by side mean and)
  A or B    A || B         either; and binds tighter than or
  not A     !A             negation; ( ) group
Shorthands: ignore case; A,B means any of; with * (any run of
characters) or ? (one character) the value must match the whole text
  tag:A                          the run has tag A
  state:A group:A project:A job_type:A host:A    the field is A
  id:A                           the id starts with A
  name:A notes:A                 the field contains A
  has:KEY                        KEY is in the summary or config
Bare words
  resnet  "res net"   name, id, group or a tag contains the text
                      (ignoring case; * and ? as in shorthands); the
                      name may also hold its letters in order (rsnt)
Keys
  A key is a summary metric (val/acc), else a config entry (optimizer.lr:
  a path into nested dicts, or one key containing dots), else a run field:
  name id project group job_type state host notes tags. The prefixes
  summary. and config. force the source: summary.val/acc, config.lr.
  Quote a key holding spaces or ( ) [ ] , ' " = ! < > ~ & | as `my key`
  or "my key" (after a prefix: summary."my key"); also the words and or
  not in between, and plain numbers.
Values
  Numbers (3, -5, 1e-3, inf, nan), true, false, null (or none), "text" or
  'text' (\" \' \\ are escapes, other backslashes stay: "^res\d+"), or a
  bare word (optimizer = adam). Text that reads as a number compares as
  that number (config "0.001" < 1e-2). A list value (tags) matches if
  any element does; then !=, !~ and not in mean no element does.
  Keywords ignore case: AND, Not, TRUE.
Missing keys and NaN
  A comparison on a key the run lacks is false, != and not in included;
  use not for those runs (not has:lr, not lr > 0). NaN is never < <= > >=
  or in a range; x = nan finds it. true, false and null are not ordered:
  they work with = != in only.
---------------

API
---
``compile_filter(text) -> Filter``: call ``f(run) -> bool``; ``f.text``; ``f.keys`` (the keys the
expression compares, in order, as written: columns to show); ``f.select(runs)``. Blank text
matches every run. Filters are cached per text, and evaluation compiles nothing. ``parse(text)``
returns the syntax tree. Both raise only :class:`FilterError` for any string: ``.message``,
``.position`` (0-based index into the text; ``str(error)`` appends "at column N").

``range_expr(key, lo, hi, log=False, digits=4)`` and ``in_expr(key, values)`` write expressions
for parallel-coordinates brushes; ``quote_key`` / ``quote_value`` quote one item; ``lookup(run, key)``
resolves a key as filters do; ``fuzzy_score(query, text)`` / ``fuzzy_filter(query, items)`` rank
names for fuzzy pickers. A run is any object with the :class:`RunView` attributes, or a mapping
with those keys.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from functools import lru_cache
from numbers import Integral, Real
from typing import Any, List, Optional, Protocol, TypeVar

from tracker.tui.text import sanitize

__all__ = [
    "HELP", "FilterError", "Filter", "RunView", "compile_filter", "parse", "lookup",
    "range_expr", "in_expr", "quote_key", "quote_value", "fuzzy_score", "fuzzy_filter",
]


def _help_text(doc: str | None) -> str:
    # Derived from the docstring so the help screen can never drift from the documentation;
    # under ``python -OO`` docstrings are gone and the help screen says where to look instead.
    if not doc:
        return "Filter syntax: see the module tracker.tui.filter."
    ruler = "---------------\n"
    start = doc.index("Filter language\n" + ruler) + len("Filter language\n" + ruler)
    return doc[start:doc.index(ruler, start)].rstrip("\n")


#: The language reference (the part of this module's docstring between the rulers).
HELP: str = _help_text(__doc__)

#: Run attributes a bare key falls back to, after the summary and the config.
FIELDS = ("name", "id", "project", "group", "job_type", "state", "host", "notes", "tags")

#: Nesting (parentheses and ``not``) deeper than this is refused: it keeps the recursive parser
#: and the compiled closures far from Python's recursion limit for any pasted text.
MAX_DEPTH = 100


class RunView(Protocol):
    """What a filter reads from a run (a mapping with these keys works as well)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def project(self) -> str: ...
    @property
    def group(self) -> str | None: ...
    @property
    def job_type(self) -> str | None: ...
    @property
    def state(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def notes(self) -> str | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def config(self) -> Mapping[str, Any]: ...
    @property
    def summary(self) -> Mapping[str, Any]: ...


class FilterError(ValueError):
    """A filter that cannot be parsed.

    Attributes:
        message: What is wrong, for people (no position in it).
        position: 0-based index into the filter text where the problem is (``len(text)`` when
            something is missing at the end).
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    @property
    def column(self) -> int:
        """1-based column of :attr:`position`."""
        return self.position + 1

    def __str__(self) -> str:
        return f"{self.message} at column {self.column}"


def _show(s: str, limit: int = 30) -> str:
    # Error messages end up on screen: control characters made visible, pastes shortened.
    s = sanitize(s)
    return f"'{s[:limit]}…'" if len(s) > limit else f"'{s}'"


# --------------------------------------------------------------------------------------------
# Numbers

_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf(?:inity)?|nan)", re.I)
_INT = re.compile(r"[+-]?\d+")


def _parse_number(s: str) -> int | float | None:
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


def _num(v: Any) -> int | float | None:
    """A run value as a number: numbers and numeric strings; booleans and the rest are not."""
    t = type(v)
    if t is int or t is float:
        return v
    if t is str:
        return _parse_number(v)
    if t is bool or v is None:
        return None
    if isinstance(v, Real):  # NumPy scalars, Decimal, Fraction
        try:
            return int(v) if isinstance(v, Integral) else float(v)
        except (ValueError, OverflowError, TypeError):
            return None
    return None


def _text(v: Any) -> str | None:
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


# --------------------------------------------------------------------------------------------
# Tokens

_WORD = re.compile(r"[^\s()\[\],\"'`=!<>~&|]+")
_SPACE = re.compile(r"\s+")
_OPCHARS = frozenset("=!<>~&|")
_KEYWORDS = {"and": "and", "or": "or", "not": "not", "in": "in", "between": "between"}
_TWO_CHAR_OPS = {"==": "op", "!=": "op", "<=": "op", ">=": "op", "!~": "op",
                  "&&": "and", "||": "or"}
_ONE_CHAR_OPS = {"=": "op", "<": "op", ">": "op", "~": "op", "!": "not"}
# Operators from other languages, answered with the one meant.
_TYPOS = {"=>": ">=", "=<": "<=", "<>": "!=", "=~": "~", "~=": "~", "===": "==", "!==": "!=",
          "=!": "!=", "!<": ">=", "!>": "<="}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # word str key op and or not in between ( ) [ ] , end
    text: str  # as written
    value: str  # the word, the unquoted string or key, or the operator
    start: int
    end: int


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """The unescaped content of the quoted item starting at ``text[i]``, and the index after it."""
    q = text[i]
    out: list[str] = []
    j, n = i + 1, len(text)
    while j < n:
        k = text.find(q, j)
        b = text.find("\\", j, k if k >= 0 else n)
        if b >= 0:  # only \<quote> and \\ are escapes, so "^res\d+" needs no doubling
            out.append(text[j:b])
            nxt = text[b + 1:b + 2]
            if nxt == q or nxt == "\\":
                out.append(nxt)
                j = b + 2
            else:
                out.append("\\")
                j = b + 1
            continue
        if k < 0:
            break
        out.append(text[j:k])
        return "".join(out), k + 1
    what = "key" if q == "`" else "text"
    raise FilterError(f"unclosed quote: the {what} starting here needs a closing {q}", i)


def _split_ops(run: str, start: int) -> list[_Tok]:
    """Tokens for a run of operator characters such as ``>=``, ``&&!`` or ``!!``."""
    if run in _TYPOS:
        raise FilterError(f"unknown operator '{run}' (did you mean '{_TYPOS[run]}'?)", start)
    out: list[_Tok] = []
    k = 0
    while k < len(run):
        piece = run[k:k + 2]
        kind = _TWO_CHAR_OPS.get(piece)
        if kind is None:
            piece = run[k]
            kind = _ONE_CHAR_OPS.get(piece)
            if kind is None:
                word = "and" if piece == "&" else "or"
                raise FilterError(f"unknown operator '{piece}' (did you mean '{piece * 2}' or "
                                  f"'{word}'? quote text or a regular expression that holds "
                                  f"it)", start + k)
        out.append(_Tok(kind, piece, piece, start + k, start + k + len(piece)))
        k += len(piece)
    ops = [t for t in out if t.kind == "op"]
    # At most one comparison, and nothing glued after it: "<==" or "==>" is a typo, not two ops.
    if len(ops) > 1 or (ops and out[-1].kind != "op"):
        hint = f" (did you mean '{_TYPOS[run[:2]]}'?)" if run[:2] in _TYPOS else ""
        raise FilterError(f"unknown operator '{run}'{hint}", start)
    return out


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i = _SPACE.match(text, i).end()  # type: ignore[union-attr]
        elif c in "()[],":
            toks.append(_Tok(c, c, c, i, i + 1))
            i += 1
        elif c in "\"'`":
            value, j = _read_quoted(text, i)
            toks.append(_Tok("key" if c == "`" else "str", text[i:j], value, i, j))
            i = j
        elif c in _OPCHARS:
            j = i
            while j < n and text[j] in _OPCHARS:
                j += 1
            toks.extend(_split_ops(text[i:j], i))
            i = j
        else:
            j = _WORD.match(text, i).end()  # type: ignore[union-attr]
            word = text[i:j]
            if j < n and text[j] in "\"'`" and word in ("summary.", "config."):
                # summary."val loss": the prefix stays outside the quotes, as the
                # parallel-coordinates view writes it.
                value, k = _read_quoted(text, j)
                toks.append(_Tok("key", text[i:k], word + value, i, k))
                i = k
                continue
            toks.append(_Tok(_KEYWORDS.get(word.casefold(), "word"), word, word, i, j))
            i = j
    toks.append(_Tok("end", "", "", n, n))
    return toks


# --------------------------------------------------------------------------------------------
# Syntax tree (what parse() returns)

@dataclass(frozen=True)
class Key:
    """A key as written (``text``), the source it is forced to, and the name in that source."""

    text: str
    source: str  # "auto", "summary" or "config"
    name: str


@dataclass(frozen=True)
class Value:
    """A literal: ``kind`` is num, str, bool or null; ``num`` is set when the text is a number."""

    kind: str
    value: Any
    text: str
    num: int | float | None
    pos: int


class Node:
    """Base of the syntax-tree nodes."""


@dataclass(frozen=True)
class MatchAll(Node):
    """The blank filter."""


@dataclass(frozen=True)
class And(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    item: Node


@dataclass(frozen=True)
class Compare(Node):
    """``key op value``; ``op`` is one of = != < <= > >= ~ !~ (``==`` is stored as ``=``)."""

    key: Key
    op: str
    value: Value
    regex: re.Pattern[str] | None = None


@dataclass(frozen=True)
class InList(Node):
    key: Key
    values: tuple[Value, ...]
    negate: bool


@dataclass(frozen=True)
class Range(Node):
    """``lo <(=) key <(=) hi``; ``negate`` for ``not between``."""

    key: Key
    lo: Value
    lo_inclusive: bool
    hi: Value
    hi_inclusive: bool
    negate: bool = False


@dataclass(frozen=True)
class FieldMatch(Node):
    """A shorthand such as ``state:running,failed``: ``mode`` is equal, prefix or contains."""

    field: str
    values: tuple[str, ...]
    mode: str


@dataclass(frozen=True)
class Has(Node):
    keys: tuple[Key, ...]


@dataclass(frozen=True)
class Search(Node):
    """A bare word: the name, id, group or a tag contains it."""

    text: str


_SHORTHANDS = {
    "tag": ("tags", "equal"), "tags": ("tags", "equal"),
    "state": ("state", "equal"), "group": ("group", "equal"), "project": ("project", "equal"),
    "job_type": ("job_type", "equal"), "job": ("job_type", "equal"), "host": ("host", "equal"),
    "id": ("id", "prefix"), "name": ("name", "contains"), "notes": ("notes", "contains"),
    "has": ("", "has"),
}
_SHORTHAND_NAMES = ["tag", "state", "group", "project", "job_type", "host", "id", "name", "notes",
                    "has"]
_IDENT = re.compile(r"[A-Za-z_]+")
_ORDER_DIRECTION = {"<": "up", "<=": "up", ">": "down", ">=": "down"}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "==": "==", "!=": "!="}
_STARTS_TERM = frozenset({"word", "str", "key", "(", "not"})


class _Parser:
    """Recursive descent: or > and (also implicit) > not > term."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.keys: list[str] = []

    # -- token helpers

    def peek(self, k: int = 0) -> _Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        if t.kind != "end":
            self.i += 1
        return t

    def enter(self, t: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(f"nested too deeply (more than {MAX_DEPTH} parentheses or nots)",
                              t.start)

    def unexpected(self, t: _Tok) -> FilterError:
        k = t.kind
        if k == ")":
            return FilterError("unmatched ')'", t.start)
        if k == "]":
            return FilterError("unmatched ']'", t.start)
        if k == "[":
            return FilterError("unexpected '[': square brackets only hold the list after 'in'",
                               t.start)
        if k == ",":
            return FilterError("unexpected ',': commas separate the values of 'in (A, B)' and "
                               "'tag:A,B'", t.start)
        if k == "op":
            return FilterError(f"unexpected '{t.text}': a comparison needs a key on its left",
                               t.start)
        if k in ("in", "between"):
            return FilterError(f"expected a key before {_show(t.text)}", t.start)
        return FilterError(f"unexpected {_show(t.text)}", t.start)

    # -- grammar

    def parse(self) -> Node:
        if self.peek().kind == "end":
            return MatchAll()
        node = self.parse_or(None)
        t = self.peek()
        if t.kind != "end":  # a stray ) ] , or operator: and/or/terms were all consumed
            raise self.unexpected(t)
        return node

    def parse_or(self, after: str | None) -> Node:
        items = [self.parse_and(after)]
        while self.peek().kind == "or":
            op = self.take()
            items.append(self.parse_and(op.text))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self, after: str | None) -> Node:
        items = [self.parse_unary(after)]
        while True:
            t = self.peek()
            if t.kind == "and":
                self.take()
                items.append(self.parse_unary(t.text))
            elif t.kind in _STARTS_TERM:  # "resnet cifar" means "resnet and cifar"
                items.append(self.parse_unary(None))
            else:
                break
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self, after: str | None) -> Node:
        t = self.peek()
        if t.kind == "not":
            self.take()
            self.enter(t)
            node = Not(self.parse_unary(t.text))
            self.depth -= 1
            return node
        return self.parse_primary(after)

    def parse_primary(self, after: str | None) -> Node:
        t = self.peek()
        k = t.kind
        if k == "(":
            self.take()
            self.enter(t)
            nxt = self.peek()
            if nxt.kind == "end":
                raise FilterError("unclosed parenthesis", t.start)
            if nxt.kind == ")":
                raise FilterError("empty parentheses: expected an expression after '('",
                                  nxt.start)
            node = self.parse_or("(")
            close = self.peek()
            if close.kind == "end":
                raise FilterError("unclosed parenthesis", t.start)
            if close.kind != ")":
                raise self.unexpected(close)
            self.take()
            self.depth -= 1
            return node
        if k in ("word", "str", "key"):
            return self.parse_term()
        if k == "end":
            raise FilterError(f"expected an expression after {_show(after or '')}", t.start)
        if k in ("and", "or"):
            if after:
                raise FilterError(f"expected an expression after {_show(after)}, found "
                                  f"{_show(t.text)}", t.start)
            raise FilterError(f"expected an expression before {_show(t.text)}", t.start)
        raise self.unexpected(t)

    def parse_term(self) -> Node:
        a = self.take()
        t = self.peek()
        if t.kind == "op":
            return self.parse_comparison(a)
        if t.kind in ("in", "between"):
            self.take()
            return self.parse_in(a, t, False) if t.kind == "in" else self.parse_between(a, t, False)
        # "x not in (...)": only the word not, since "x !in" reads like a typo.
        if (t.kind == "not" and t.text.casefold() == "not"
                and self.peek(1).kind in ("in", "between")):
            self.take()
            kw = self.take()
            if kw.kind == "in":
                return self.parse_in(a, kw, True)
            return self.parse_between(a, kw, True)
        if a.kind == "key":
            raise FilterError(f"expected an operator after the key {_show(a.text)}", t.start)
        if a.kind == "word":
            node = self.parse_shorthand(a)
            if node is not None:
                return node
        return Search(a.value)

    def parse_comparison(self, a: _Tok) -> Node:
        op = self.take()
        b = self.operand_after(op)
        t = self.peek()
        if t.kind == "op":
            d1, d2 = _ORDER_DIRECTION.get(op.value), _ORDER_DIRECTION.get(t.value)
            if d1 and d1 == d2:
                self.take()
                c = self.operand_after(t)
                if a.kind == "key" or c.kind == "key":
                    bad = a if a.kind == "key" else c
                    raise FilterError("a range is written 'lo <= key <= hi' with the key in the "
                                      "middle and values outside", bad.start)
                key = self.key(b, "the middle of a range must be a key, as in '0 <= lr <= 1'")
                if d1 == "up":
                    lo, lo_op, hi, hi_op = a, op, c, t
                else:
                    lo, lo_op, hi, hi_op = c, t, a, op
                return Range(key, self.bound(lo, lo_op), lo_op.value.endswith("="),
                             self.bound(hi, hi_op), hi_op.value.endswith("="))
            if d1 and d2:
                raise FilterError("the two comparisons of a range must point the same way, as "
                                  "in 'lo <= key <= hi'", t.start)
            raise FilterError(f"unexpected '{t.text}' after a comparison", t.start)
        if a.kind == "word" and _parse_number(a.value) is not None:
            flipped = f"{b.text} {_FLIPPED.get(op.value, op.value)} {a.text}"
            raise FilterError(f"put the key on the left: {_show(flipped, 60)}", a.start)
        key = self.key(a, "")
        value = self.value(b, op)
        o = "=" if op.value == "==" else op.value
        regex = None
        if o in ("<", "<=", ">", ">="):
            self.check_orderable(value, op.text)
        elif o in ("~", "!~"):
            regex = _compile_regex(value, b)
        return Compare(key, o, value, regex)

    def parse_in(self, a: _Tok, kw: _Tok, negate: bool) -> Node:
        key = self.key(a, f"expected a key before '{kw.text}'")
        opener = self.peek()
        if opener.kind not in ("(", "["):
            raise FilterError(f"expected '(' after '{kw.text}', as in 'x in (A, B)'", opener.start)
        self.take()
        closer = ")" if opener.kind == "(" else "]"
        what = "parenthesis" if closer == ")" else "bracket"
        values: list[Value] = []
        while True:
            t = self.peek()
            if t.kind == closer:
                self.take()
                break
            if t.kind == "end":
                raise FilterError(f"unclosed {what}", opener.start)
            if t.kind not in ("word", "str"):
                raise FilterError(f"expected a value in the list, found {_show(t.text)}", t.start)
            values.append(self.literal(self.take()))
            t = self.peek()
            if t.kind == ",":
                self.take()
            elif t.kind == "end":
                raise FilterError(f"unclosed {what}", opener.start)
            elif t.kind != closer:
                raise FilterError(f"expected ',' or '{closer}' in the list, found {_show(t.text)}",
                                  t.start)
        return InList(key, tuple(values), negate)

    def parse_between(self, a: _Tok, kw: _Tok, negate: bool) -> Node:
        key = self.key(a, f"expected a key before '{kw.text}'")
        lo = self.bound(self.operand_after(kw), kw)
        t = self.peek()
        if t.kind != "and":
            raise FilterError("expected 'and' after the lower bound, as in 'x between 1 and 2'",
                              t.start)
        self.take()
        hi = self.bound(self.operand_after(t), t)
        return Range(key, lo, True, hi, True, negate)

    def parse_shorthand(self, a: _Tok) -> Node | None:
        w = a.value
        colon = w.find(":")
        if colon <= 0:
            return None
        prefix = w[:colon]
        spec = _SHORTHANDS.get(prefix.casefold())
        if spec is None:
            if _IDENT.fullmatch(prefix) is None:  # "12:30" is just text to search for
                return None
            close = difflib.get_close_matches(prefix.casefold(), _SHORTHAND_NAMES, n=1)
            hint = f"did you mean '{close[0]}:'? " if close else ""
            raise FilterError(f"unknown shorthand {_show(prefix + ':')} ({hint}known: "
                              f"{' '.join(n + ':' for n in _SHORTHAND_NAMES)}; quote text to "
                              f"search for it)", a.start)
        values: list[tuple[str, int]] = []
        if colon + 1 < len(w):
            values.append((w[colon + 1:], a.start + colon + 1))
        else:  # tag:"my tag" or tag: resnet
            t = self.peek()
            if t.kind not in ("word", "str"):
                raise FilterError(f"expected a value after {_show(w)}", t.start)
            self.take()
            values.append((t.value, t.start))
        while self.peek().kind == ",":
            comma = self.take()
            t = self.peek()
            if t.kind not in ("word", "str"):
                raise FilterError("expected a value after ','", t.start if t.kind != "end"
                                  else comma.end)
            self.take()
            values.append((t.value, t.start))
        field, mode = spec
        if mode == "has":
            return Has(tuple(self.key_from(v, pos) for v, pos in values))
        return FieldMatch(field, tuple(v for v, _ in values), mode)

    # -- operands

    def operand_after(self, op: _Tok) -> _Tok:
        t = self.peek()
        if t.kind in ("word", "str", "key"):
            self.take()
            nxt = self.peek()
            if t.kind == "word" and nxt.kind in ("(", "[") and nxt.start == t.end:
                # "name ~ res(net)" would otherwise read as "name ~ res and net": refuse it.
                what = "a regular expression" if op.value in ("~", "!~") else "text"
                example = sanitize(t.text[:20]) + nxt.text
                raise FilterError(f"quote {what} that holds '{nxt.text}', e.g. \"{example}…\"",
                                  nxt.start)
            return t
        if t.kind == "end":
            raise FilterError(f"expected a value after '{op.text}'", t.start)
        hint = ""
        if op.value in ("~", "!~") and t.kind in ("(", "["):
            hint = " (quote a regular expression that holds spaces or ( ) [ ] |)"
        elif t.kind in ("(", "["):
            hint = " (lists go after 'in')"
        raise FilterError(f"expected a value after '{op.text}', found {_show(t.text)}{hint}",
                          t.start)

    def key(self, t: _Tok, number_message: str) -> Key:
        if t.kind == "word" and _parse_number(t.value) is not None:
            raise FilterError(number_message, t.start)
        return self.key_from(t.value, t.start)

    def key_from(self, text: str, pos: int) -> Key:
        if not text:
            raise FilterError("empty key", pos)
        source, name = "auto", text
        for prefix in ("summary.", "config."):
            if text.startswith(prefix):
                if len(text) == len(prefix):
                    raise FilterError(f"expected a key after '{prefix}'", pos + len(prefix))
                source, name = prefix[:-1], text[len(prefix):]
                break
        self.keys.append(text)
        return Key(text, source, name)

    def value(self, t: _Tok, op: _Tok) -> Value:
        if t.kind == "key":
            raise FilterError(f"expected a value after '{op.text}', found the key "
                              f"{_show(t.text)}: comparing two keys is not supported", t.start)
        return self.literal(t)

    def bound(self, t: _Tok, op: _Tok) -> Value:
        v = self.value(t, op)
        self.check_orderable(v, op.text)
        return v

    @staticmethod
    def check_orderable(v: Value, op: str) -> None:
        if v.kind in ("bool", "null"):
            raise FilterError(f"'{op}' needs a number or text, not {_show(v.text)}", v.pos)

    @staticmethod
    def literal(t: _Tok) -> Value:
        if t.kind == "str":
            return Value("str", t.value, t.value, _parse_number(t.value), t.start)
        word = t.value
        low = word.casefold()
        if low in ("true", "false"):
            return Value("bool", low == "true", word, None, t.start)
        if low in ("null", "none"):
            return Value("null", None, word, None, t.start)
        n = _parse_number(word)
        if n is not None:
            return Value("num", n, word, n, t.start)
        return Value("str", word, word, None, t.start)


def _compile_regex(value: Value, tok: _Tok) -> re.Pattern[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarning for "[[" must not escape as an error
            return re.compile(value.text, re.IGNORECASE)
    except Exception as e:  # re.error, and RecursionError/OverflowError for absurd patterns
        pos = tok.start
        offset = getattr(e, "pos", None)
        # Point into the pattern when the written text maps 1:1 onto it (no escapes).
        if isinstance(offset, int):
            if tok.kind == "word":
                pos = tok.start + offset
            elif tok.text[1:-1] == value.text:
                pos = tok.start + 1 + offset
        msg = getattr(e, "msg", None) or type(e).__name__
        raise FilterError(f"invalid regular expression: {sanitize(str(msg))}", pos) from None


def parse(text: str) -> Node:
    """Parse a filter expression into its syntax tree.

    Args:
        text: What the user typed; blank text gives :class:`MatchAll`.

    Returns:
        The root node.

    Raises:
        FilterError: The text is not a valid filter (the only exception for any string).
    """
    if not isinstance(text, str):
        raise TypeError(f"filter text must be str, not {type(text).__name__}")
    return _Parser(text).parse()


# --------------------------------------------------------------------------------------------
# Evaluation

_MISSING: Any = object()


class _Row:
    """One run during one evaluation: reads summary and config at most once."""

    __slots__ = ("run", "mapping", "_summary", "_config")

    def __init__(self, run: Any) -> None:
        self.run = run
        self.mapping = isinstance(run, Mapping)
        self._summary: Any = None
        self._config: Any = None

    def field(self, name: str) -> Any:
        if self.mapping:
            return self.run.get(name)
        return getattr(self.run, name, None)

    def summary(self) -> Mapping[str, Any]:
        s = self._summary
        if s is None:
            # RunRecord.summary is a property that builds a dict: fetch it once per run.
            s = self.field("summary")
            if not isinstance(s, Mapping):
                s = {}
            self._summary = s
        return s

    def config(self) -> Mapping[str, Any]:
        c = self._config
        if c is None:
            c = self.field("config")
            if not isinstance(c, Mapping):
                c = {}
            self._config = c
        return c


Pred = Callable[[_Row], bool]
Getter = Callable[[_Row], Any]

# Mixed nested/flat config paths are searched only for keys with few dots; longer keys try the
# nested path and the flat key, so a pasted key with a thousand dots costs nothing.
_MAX_SPLIT_PARTS = 8


def _config_getter(name: str) -> Callable[[Mapping[str, Any]], Any]:
    """How to find ``name`` in a config: nested path first, then a flat key holding dots."""
    if "." not in name:
        return lambda cfg: cfg.get(name, _MISSING)
    parts = name.split(".")
    n = len(parts)
    if n > _MAX_SPLIT_PARTS:
        def get_long(cfg: Mapping[str, Any]) -> Any:
            cur: Any = cfg
            for p in parts:
                if isinstance(cur, Mapping) and p in cur:
                    cur = cur[p]
                else:
                    return cfg.get(name, _MISSING)
            return cur
        return get_long
    # choices[i]: (end, key) for every key that parts[i:end] can spell, shortest first, so
    # {"optimizer": {"lr": ...}} wins over {"optimizer.lr": ...} and {"a.b": {"c": ...}} works.
    choices = [[(j, ".".join(parts[i:j])) for j in range(i + 1, n + 1)] for i in range(n)]

    def walk(d: Mapping[str, Any], i: int) -> Any:
        for j, k in choices[i]:
            if k in d:
                v = d[k]
                if j == n:
                    return v
                if isinstance(v, Mapping):
                    found = walk(v, j)
                    if found is not _MISSING:
                        return found
        return _MISSING

    return lambda cfg: walk(cfg, 0)


@lru_cache(maxsize=1024)
def _getter(source: str, name: str) -> Getter:
    """Reads a key's value from a row, or ``_MISSING``."""
    if source == "summary":
        return lambda row: row.summary().get(name, _MISSING)
    from_config = _config_getter(name)
    if source == "config":
        return lambda row: from_config(row.config())
    is_field = name in FIELDS

    def get(row: _Row) -> Any:
        s = row.summary()
        if name in s:
            return s[name]
        v = from_config(row.config())
        if v is _MISSING and is_field:
            return row.field(name)
        return v

    return get


def _value_pred(get: Getter, test: Callable[[Any], bool], negate: bool) -> Pred:
    """A comparison: false when the key is missing; a list matches when any element does."""
    def pred(row: _Row) -> bool:
        v = get(row)
        if v is _MISSING:
            return False
        if isinstance(v, (list, tuple)):
            hit = False
            for x in v:
                if test(x):
                    hit = True
                    break
        else:
            hit = test(v)
        return hit != negate

    return pred


def _eq_test(values: Sequence[Value]) -> Callable[[Any], bool]:
    """Equality with any of ``values``: numbers by value, text ignoring case, null only null."""
    null = False
    nan = False
    nums: set[int | float] = set()
    words: set[str] = set()
    for v in values:
        if v.kind == "null":
            null = True
        elif v.kind == "bool":
            words.add("true" if v.value else "false")  # also matches config strings "True"
        elif v.num is not None:
            if v.num != v.num:
                nan = True
            else:
                nums.add(v.num)
        else:
            words.add(v.text.casefold())

    def test(x: Any) -> bool:
        if x is None:
            return null
        t = type(x)
        if t is str:
            n = _parse_number(x)
            if n is None:
                return x.casefold() in words
        elif t is bool:
            return ("true" if x else "false") in words
        else:
            n = _num(x)
            if n is None:
                return False
        return n in nums or (nan and n != n)

    return test


_ORDER_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _order_test(op: str, bound: Value) -> Callable[[Any], bool]:
    """``x op bound``: numbers by value (NaN never passes), text alphabetically ignoring case."""
    cmp = _ORDER_OPS[op]
    if bound.num is not None:
        b = bound.num
        if b != b:
            return lambda x: False

        def test_num(x: Any) -> bool:
            n = _num(x)
            return n is not None and cmp(n, b)  # a NaN n fails every ordering by itself

        return test_num
    s = bound.text.casefold()
    return lambda x: type(x) is str and cmp(x.casefold(), s)


def _regex_test(rx: re.Pattern[str]) -> Callable[[Any], bool]:
    search = rx.search

    def test(x: Any) -> bool:
        s = _text(x)
        return s is not None and search(s) is not None

    return test


def _glob_test(pattern: str) -> Callable[[str], bool]:
    """Whole-text wildcard match on casefolded text without regex backtracking.

    The pattern splits at ``*`` into fixed-length pieces (``?`` is one character): the first
    must start the text, the last end it, the middle ones are found left to right. Greedy
    leftmost placement is exact for fixed-length pieces, and a pasted ``*a*a*a…`` stays linear
    per piece instead of blowing up the way a translated ``.*a.*a.*`` regex can.
    """
    pieces = pattern.split("*")
    rx = [re.compile("".join("." if ch == "?" else re.escape(ch) for ch in p), re.S)
          for p in pieces]
    if len(pieces) == 1:
        only = rx[0].fullmatch
        return lambda s: only(s) is not None
    first, last, middle = rx[0], rx[-1], [r for r, p in zip(rx[1:-1], pieces[1:-1]) if p]
    head, tail = len(pieces[0]), len(pieces[-1])
    need = sum(len(p) for p in pieces)

    def test(s: str) -> bool:
        n = len(s)
        if n < need:
            return False
        if head and first.match(s) is None:
            return False
        end = n - tail
        if tail and last.fullmatch(s, end) is None:
            return False
        pos = head
        for r in middle:
            m = r.search(s, pos, end)
            if m is None:
                return False
            pos = m.end()
        return True

    return test


def _text_test(values: Sequence[str], mode: str) -> Callable[[str], bool]:
    """Any of ``values`` matches casefolded text: equal / prefix / contains, or a glob."""
    tests: list[Callable[[str], bool]] = []
    for raw in values:
        v = raw.casefold()
        if "*" in v or "?" in v:
            tests.append(_glob_test(re.sub(r"\*+", "*", v)))
        elif mode == "equal":
            tests.append(v.__eq__)
        elif mode == "prefix":
            tests.append(lambda s, v=v: s.startswith(v))
        else:
            tests.append(lambda s, v=v: v in s)
    if len(tests) == 1:
        return tests[0]
    return lambda s: any(t(s) for t in tests)


def _field_pred(field: str, test: Callable[[str], bool]) -> Pred:
    if field == "tags":
        def has_tag(row: _Row) -> bool:
            tags = row.field("tags")
            if not isinstance(tags, (list, tuple)):
                return False
            return any(isinstance(t, str) and test(t.casefold()) for t in tags)
        return has_tag

    def pred(row: _Row) -> bool:
        s = row.field(field)
        return isinstance(s, str) and test(s.casefold())

    return pred


def _search_pred(text: str) -> Pred:
    test = _text_test([text], "contains")
    fields = [_field_pred(f, test) for f in ("name", "id", "group", "tags")]
    needle = text.casefold()
    if len(needle) >= 2 and "*" not in needle and "?" not in needle and not needle.isspace():
        # Fuzzy name search: the letters in order, not necessarily together ("rsnt" -> resnet).
        def subsequence(s: str) -> bool:
            it = iter(s)
            return all(ch in it for ch in needle)

        fields.append(_field_pred("name", subsequence))
    return lambda row: any(p(row) for p in fields)


def _compile(node: Node) -> Pred:
    if isinstance(node, And):
        preds = tuple(_compile(n) for n in node.items)

        def all_of(row: _Row) -> bool:
            for p in preds:
                if not p(row):
                    return False
            return True

        return all_of
    if isinstance(node, Or):
        preds = tuple(_compile(n) for n in node.items)

        def any_of(row: _Row) -> bool:
            for p in preds:
                if p(row):
                    return True
            return False

        return any_of
    if isinstance(node, Not):
        inner = _compile(node.item)
        return lambda row: not inner(row)
    if isinstance(node, Compare):
        get = _getter(node.key.source, node.key.name)
        op = node.op
        if op in ("=", "!="):
            return _value_pred(get, _eq_test([node.value]), op == "!=")
        if op in ("~", "!~"):
            assert node.regex is not None
            return _value_pred(get, _regex_test(node.regex), op == "!~")
        return _value_pred(get, _order_test(op, node.value), False)
    if isinstance(node, InList):
        get = _getter(node.key.source, node.key.name)
        return _value_pred(get, _eq_test(node.values), node.negate)
    if isinstance(node, Range):
        get = _getter(node.key.source, node.key.name)
        above = _order_test(">=" if node.lo_inclusive else ">", node.lo)
        below = _order_test("<=" if node.hi_inclusive else "<", node.hi)
        # One element of a list value must satisfy both bounds.
        return _value_pred(get, lambda x: above(x) and below(x), node.negate)
    if isinstance(node, FieldMatch):
        return _field_pred(node.field, _text_test(node.values, node.mode))
    if isinstance(node, Has):
        getters = []
        for key in node.keys:
            if key.source == "auto":  # has: asks about logged data, not about run fields
                s, c = _getter("summary", key.name), _getter("config", key.name)
                getters.append(
                    lambda row, s=s, c=c: s(row) is not _MISSING or c(row) is not _MISSING)
            else:
                g = _getter(key.source, key.name)
                getters.append(lambda row, g=g: g(row) is not _MISSING)
        return lambda row: any(g(row) for g in getters)
    if isinstance(node, Search):
        return _search_pred(node.text)
    return lambda row: True  # MatchAll


class Filter:
    """A compiled filter: ``f(run) -> bool``.

    Attributes:
        text: The text it was compiled from.
        keys: The keys it compares (comparisons, ranges, lists, ``has:``), in order of first
            appearance, as written without quotes; shorthands and bare words add none.
        expr: The syntax tree.
    """

    __slots__ = ("text", "keys", "expr", "_pred")

    def __init__(self, text: str, expr: Node, keys: tuple[str, ...], pred: Pred) -> None:
        self.text = text
        self.expr = expr
        self.keys = keys
        self._pred = pred

    @property
    def matches_all(self) -> bool:
        """True for the blank filter, so callers can skip filtering altogether."""
        return isinstance(self.expr, MatchAll)

    def __call__(self, run: Any) -> bool:
        return self._pred(_Row(run))

    def select(self, runs: Iterable[Any]) -> list[Any]:
        """The runs that match, in their order."""
        pred = self._pred
        return [r for r in runs if pred(_Row(r))]

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"


@lru_cache(maxsize=256)
def _compile_cached(text: str) -> Filter:
    p = _Parser(text)
    expr = p.parse()
    return Filter(text, expr, tuple(dict.fromkeys(p.keys)), _compile(expr))


def compile_filter(text: str) -> Filter:
    """Compile filter-bar text into a :class:`Filter` (cached per text).

    Args:
        text: The expression; blank or whitespace-only text matches every run.

    Returns:
        The compiled filter.

    Raises:
        FilterError: The text is not a valid filter (the only exception for any string).
    """
    if not isinstance(text, str):
        raise TypeError(f"filter text must be str, not {type(text).__name__}")
    return _compile_cached(text)


def lookup(run: Any, key: str, default: Any = None) -> Any:
    """The value a filter sees for ``key`` in ``run`` (for table cells and columns).

    Args:
        run: A :class:`RunView` or a mapping.
        key: A key as written in a filter, without quotes (``val/acc``, ``config.lr``).
        default: Returned when the run has no such key.

    Returns:
        The value, or ``default``.
    """
    source, name = "auto", key
    for prefix in ("summary.", "config."):
        if key.startswith(prefix) and len(key) > len(prefix):
            source, name = prefix[:-1], key[len(prefix):]
            break
    v = _getter(source, name)(_Row(run))
    return default if v is _MISSING else v


# --------------------------------------------------------------------------------------------
# Writing expressions (parallel-coordinates brushes, "filter by this cell")

_PLAIN = re.compile(r"[^\s()\[\],\"'`=!<>~&|]+")


def quote_key(key: str) -> str:
    """``key`` as written in a filter: bare when it lexes as one word, else in backticks.

    Args:
        key: A key as :func:`lookup` takes it; a ``summary.`` / ``config.`` prefix is kept and
            keeps forcing the source.

    Returns:
        Text that :func:`parse` reads back as ``key``.

    Raises:
        ValueError: ``key`` is empty.
    """
    if not key:
        raise ValueError("empty key")
    if (_PLAIN.fullmatch(key) and key.casefold() not in _KEYWORDS
            and _parse_number(key) is None):
        return key
    return "`" + key.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _fmt_float(x: float) -> str:
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e16:
        return str(int(x))  # "3" rather than "3.0"; exact below 2**53 and still exact here
    return repr(x)  # shortest text that reads back as the same float


def quote_value(value: Any) -> str:
    """A Python value as a filter literal that compares equal to it.

    Args:
        value: None, a bool, a number (NumPy scalars too) or a str.

    Returns:
        ``null``, ``true``/``false``, the shortest exact number, or double-quoted text.

    Raises:
        TypeError: ``value`` is not None, a bool, a number or a str.
    """
    if value is None:
        return "null"
    if not isinstance(value, (bool, str, Real)) and callable(getattr(value, "item", None)):
        value = value.item()  # NumPy scalars (numpy.bool_ is not a numbers.Real)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return _fmt_float(float(value))
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"can't write a {type(value).__name__} as a filter value")


def _quantize(x: float, exponent: int, rounding: str) -> float:
    # Decimal(x) is the float's exact value, so flooring it (and reading it back, which rounds
    # monotonically) never lands above x; ceiling never below. Precision covers every float.
    with localcontext() as ctx:
        ctx.prec = 1200
        return float(Decimal(x).quantize(Decimal(1).scaleb(exponent), rounding=rounding))


def _relative(x: float, digits: int, rounding: str) -> float:
    if not math.isfinite(x) or x == 0:
        return x
    return _quantize(x, Decimal(x).adjusted() - digits + 1, rounding)


def range_expr(key: str, lo: float, hi: float, log: bool = False, *, digits: int | None = 4) -> str:
    """``lo <= key <= hi`` for a brushed axis, with readable bounds.

    Bounds are rounded outwards to ``digits`` significant digits: of the span ``hi - lo`` on a
    linear axis, of each bound itself on a log axis (where a span-based rounding would turn the
    lower bound of ``1e-5 .. 1e-1`` into 0). Every value in ``[lo, hi]`` is therefore selected;
    with ``digits=None`` the bounds are written exactly and the expression selects exactly
    ``lo <= value <= hi``.

    Args:
        key: The axis key, written with :func:`quote_key` (prefixes keep forcing the source).
        lo: One end of the brush, in data units (not log units).
        hi: The other end (the two are swapped if needed); ``±inf`` leave an end open.
        log: The axis is log-scaled.
        digits: Significant digits to keep, or ``None`` for exact bounds.

    Returns:
        An expression :func:`parse` accepts.

    Raises:
        ValueError: A bound is NaN, the key is empty or ``digits`` is below 1.
    """
    lo, hi = float(lo), float(hi)
    if lo != lo or hi != hi:
        raise ValueError("range bounds must not be NaN")
    if digits is not None and digits < 1:
        raise ValueError("digits must be at least 1")
    if lo > hi:
        lo, hi = hi, lo
    k = quote_key(key)
    if digits is not None:
        span = hi - lo
        if log or not math.isfinite(span):
            lo, hi = _relative(lo, digits, ROUND_FLOOR), _relative(hi, digits, ROUND_CEILING)
        elif span > 0:
            exponent = Decimal(span).adjusted() - digits + 1
            lo = _quantize(lo, exponent, ROUND_FLOOR)
            hi = _quantize(hi, exponent, ROUND_CEILING)
    return f"{_fmt_float(lo)} <= {k} <= {_fmt_float(hi)}"


def in_expr(key: str, values: Iterable[Any]) -> str:
    """``key in (v1, v2, ...)`` for a brushed categorical axis.

    Text values are quoted (quotes and backslashes escaped), so spaces, quotes and keywords are
    safe. Text compares ignoring case, and text that reads as a number compares as that number,
    as everywhere in the language.

    Args:
        key: The axis key, written with :func:`quote_key`.
        values: None, bools, numbers or strings; duplicates are written once; none at all gives
            a filter that matches no run.

    Returns:
        An expression :func:`parse` accepts.
    """
    items = dict.fromkeys(quote_value(v) for v in values)
    return f"{quote_key(key)} in ({', '.join(items)})"


# --------------------------------------------------------------------------------------------
# Fuzzy matching (name search, metric picker)

_SEPARATORS = frozenset(" /._-:|\\()[]{}@#,=+")
_CONSECUTIVE = 1.5
_GAP = 0.25  # per skipped character between two matched ones
_LEAD = 0.05  # per character before the first match, capped at _LEAD_CAP
_LEAD_CAP = 1.0
_LENGTH = 0.01  # per unmatched character: "val/acc" above "val/acc_top5" for "acc"
_DP_LIMIT = 40_000  # query x text cells; beyond it (pastes) a greedy alignment is scored


def _bonuses(text: str, folded: str) -> list[float]:
    # Word starts are where people aim: "va" should prefer "val/acc" over "eval/x_a".
    same = len(text) == len(folded)  # casefold can change length; then camelCase is unknown
    out = []
    for j, ch in enumerate(folded):
        if j == 0:
            out.append(2.5)
        elif folded[j - 1] in _SEPARATORS:
            out.append(2.0)
        elif same and text[j].isupper() and text[j - 1].islower():
            out.append(1.5)
        elif ch.isdigit() and not folded[j - 1].isdigit():
            out.append(0.5)
        else:
            out.append(0.0)
    return out


def fuzzy_score(query: str, text: str) -> float | None:
    """How well ``query`` matches ``text`` as a case-insensitive subsequence.

    Matches at word starts (after ``/ . _ -`` and the like, or a camelCase hump) and runs of
    consecutive characters score higher; gaps, a late start and unmatched length cost a little.
    Whitespace in the query is ignored.

    Args:
        query: What the user typed.
        text: A candidate (run name, metric key).

    Returns:
        The score (higher is better; 0.0 for a blank query), or ``None`` if ``text`` does not
        contain the query's characters in order.
    """
    q = "".join(query.split()).casefold()
    if not q:
        return 0.0
    t = text.casefold()
    pos = -1
    for ch in q:  # cheap rejection before any scoring
        pos = t.find(ch, pos + 1)
        if pos < 0:
            return None
    n, m = len(q), len(t)
    bonus = _bonuses(text, t)
    if n * m > _DP_LIMIT:
        return _greedy_score(q, t, bonus)
    neg = -math.inf
    # prev[j]: best score of q[:i] with q[i-1] matched at t[j].
    prev = [neg] * m
    for j in range(m):
        if t[j] == q[0]:
            prev[j] = 1.0 + bonus[j] - min(j * _LEAD, _LEAD_CAP)
    for i in range(1, n):
        cur = [neg] * m
        qc = q[i]
        gap = neg  # best prev[j'] - _GAP * (j - j' - 1) over j' <= j - 2
        for j in range(i, m):
            if j >= 2:
                g = prev[j - 2] - _GAP
                gap = max(gap - _GAP, g)
            if t[j] == qc:
                best = max(prev[j - 1] + _CONSECUTIVE, gap)
                if best > neg:
                    cur[j] = best + 1.0 + bonus[j]
        prev = cur
    return max(prev) - _LENGTH * (m - n)


def _greedy_score(q: str, t: str, bonus: list[float]) -> float:
    score, last = 0.0, -1
    for ch in q:
        j = t.find(ch, last + 1)
        if last < 0:
            score += 1.0 + bonus[j] - min(j * _LEAD, _LEAD_CAP)
        elif j == last + 1:
            score += 1.0 + bonus[j] + _CONSECUTIVE
        else:
            score += 1.0 + bonus[j] - _GAP * (j - last - 1)
        last = j
    return score - _LENGTH * (len(t) - len(q))


T = TypeVar("T")


def fuzzy_filter(query: str, items: Iterable[T], key: Callable[[T], str] | None = None) -> list[T]:
    """The items whose text fuzzy-matches ``query``, best first.

    Args:
        query: What the user typed; blank keeps every item in its order.
        items: Candidates.
        key: Gives an item's text (default ``str``).

    Returns:
        The matching items, best score first; equal scores keep their input order.
    """
    text_of = key or str
    scored = []
    for idx, item in enumerate(items):
        s = fuzzy_score(query, text_of(item))
        if s is not None:
            scored.append((-s, idx, item))
    scored.sort(key=lambda e: (e[0], e[1]))
    return [item for _, _, item in scored]
