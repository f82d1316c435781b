"""The filter language's syntax tree: what :func:`~tracker.tui.filter.parser.parse` returns,
:mod:`~tracker.tui.filter.evaluator` compiles and :mod:`~tracker.tui.filter.writer` writes back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


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
    pos: int = field(compare=False)  # where it was typed: the same literal anywhere is equal


class Node:
    """Base of the syntax-tree nodes."""


@dataclass(frozen=True)
class MatchAll(Node):
    """The blank filter."""


@dataclass(frozen=True)
class And(Node):
    """All of ``items`` (``and``, ``&&`` or terms side by side)."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    """Any of ``items`` (``or``, ``||``)."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    """The negation of ``item`` (``not``, ``!``)."""

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
    """``key in (values)``; ``negate`` for ``not in``."""

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
    """``has:KEY,...``: the summary or config holds any of ``keys``."""

    keys: tuple[Key, ...]


@dataclass(frozen=True)
class Search(Node):
    """A bare word: the name, id, group or a tag contains it."""

    text: str
