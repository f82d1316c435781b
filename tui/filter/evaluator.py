"""Evaluating a syntax tree: compiled once into closures, run on many runs."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Protocol

from tracker.store.lookup import MISSING, config_getter
from tracker.tui.filter.ast import (
    And,
    Compare,
    FieldMatch,
    Has,
    InList,
    Key,
    Node,
    Not,
    Or,
    Range,
    Search,
    Value,
)
from tracker.tui.filter.parser import Parser
from tracker.tui.filter.values import parse_number, to_number, to_text

#: Run attributes a bare key falls back to, after the summary and the config.
FIELDS = ("name", "id", "project", "group", "job_type", "state", "host", "notes", "tags")


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





class _Row:
    """One run during one evaluation: reads summary and config at most once."""

    __slots__ = ("run", "mapping", "_summary", "_config")

    def __init__(self, run: Any) -> None:
        self.run = run
        self.mapping = type(run) is dict or isinstance(run, Mapping)  # dict first: the ABC check is slower
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


@lru_cache(maxsize=1024)
def _getter(source: str, name: str) -> Getter:
    """Reads a key's value from a row, or ``MISSING``."""
    if source == "summary":
        return lambda row: row.summary().get(name, MISSING)
    from_config = config_getter(name)
    if source == "config":
        return lambda row: from_config(row.config())
    is_field = name in FIELDS

    def get(row: _Row) -> Any:
        s = row.summary()
        if name in s:
            return s[name]
        v = from_config(row.config())
        if v is MISSING and is_field:
            return row.field(name)
        return v

    return get


def _value_pred(get: Getter, test: Callable[[Any], bool], negate: bool) -> Pred:
    """A comparison: false when the key is missing; a list matches when any element does."""
    def pred(row: _Row) -> bool:
        v = get(row)
        if v is MISSING:
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
            n = parse_number(x)
            if n is None:
                return x.casefold() in words
        elif t is bool:
            return ("true" if x else "false") in words
        else:
            n = to_number(x)
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
            n = to_number(x)
            return n is not None and cmp(n, b)  # a NaN n fails every ordering by itself

        return test_num
    s = bound.text.casefold()
    return lambda x: type(x) is str and cmp(x.casefold(), s)


def _regex_test(rx: re.Pattern[str]) -> Callable[[Any], bool]:
    search = rx.search

    def test(x: Any) -> bool:
        s = to_text(x)
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


def _prefix_test(v: str) -> Callable[[str], bool]:
    return lambda s: s.startswith(v)


def _contains_test(v: str) -> Callable[[str], bool]:
    return lambda s: v in s


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
            tests.append(_prefix_test(v))
        else:
            tests.append(_contains_test(v))
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
        if isinstance(s, bool):  # archived:yes|no
            s = "yes" if s else "no"
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


def _all_of(preds: tuple[Pred, ...]) -> Pred:
    def all_of(row: _Row) -> bool:
        for p in preds:
            if not p(row):
                return False
        return True

    return all_of


def _any_of(preds: tuple[Pred, ...]) -> Pred:
    def any_of(row: _Row) -> bool:
        for p in preds:
            if p(row):
                return True
        return False

    return any_of


def _compare_pred(node: Compare) -> Pred:
    get = _getter(node.key.source, node.key.name)
    op = node.op
    if op in ("=", "!="):
        return _value_pred(get, _eq_test([node.value]), op == "!=")
    if op in ("~", "!~"):
        assert node.regex is not None
        return _value_pred(get, _regex_test(node.regex), op == "!~")
    return _value_pred(get, _order_test(op, node.value), False)


def _range_pred(node: Range) -> Pred:
    above = _order_test(">=" if node.lo_inclusive else ">", node.lo)
    below = _order_test("<=" if node.hi_inclusive else "<", node.hi)

    def inside(x: Any) -> bool:  # one element of a list value must satisfy both bounds
        return above(x) and below(x)

    return _value_pred(_getter(node.key.source, node.key.name), inside, node.negate)


def _has_key(key: Key) -> Pred:
    if key.source != "auto":
        get = _getter(key.source, key.name)
        return lambda row: get(row) is not MISSING
    # has: asks about logged data, not about run fields
    in_summary, in_config = _getter("summary", key.name), _getter("config", key.name)
    return lambda row: in_summary(row) is not MISSING or in_config(row) is not MISSING


def _compile(node: Node) -> Pred:
    if isinstance(node, And):
        return _all_of(tuple(_compile(n) for n in node.items))
    if isinstance(node, Or):
        return _any_of(tuple(_compile(n) for n in node.items))
    if isinstance(node, Not):
        inner = _compile(node.item)
        return lambda row: not inner(row)
    if isinstance(node, Compare):
        return _compare_pred(node)
    if isinstance(node, InList):
        get = _getter(node.key.source, node.key.name)
        return _value_pred(get, _eq_test(node.values), node.negate)
    if isinstance(node, Range):
        return _range_pred(node)
    if isinstance(node, FieldMatch):
        return _field_pred(node.field, _text_test(node.values, node.mode))
    if isinstance(node, Has):
        return _any_of(tuple(_has_key(k) for k in node.keys))
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
    p = Parser(text)
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
