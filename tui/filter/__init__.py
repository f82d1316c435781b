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
  archived:yes archived:no        archived runs (hidden unless asked for)
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

``write(node)`` turns a syntax tree back into text: the parallel-coordinates brushes are built
as trees (``writer.key``, ``writer.literal``) and written by it, so they quote keys and values
exactly as the parser reads them; ``fuzzy_score(query, text)`` / ``fuzzy_filter(query, items)``
rank names for fuzzy pickers. A run is any object with the :class:`RunView` attributes, or a
mapping with those keys.
"""

# The package: lexer (text to tokens), ast (the syntax tree), parser (tokens to a tree, with the
# errors), evaluator (a tree compiled into a Filter), writer (a tree back into text), fuzzy
# (ranking for pickers), values (how numbers and text are read), errors (FilterError). The help
# screen shows this docstring, so the map lives in this comment.

from __future__ import annotations

from tracker.tui.filter.ast import Node
from tracker.tui.filter.errors import FilterError
from tracker.tui.filter.evaluator import Filter, RunView, compile_filter
from tracker.tui.filter.fuzzy import fuzzy_filter, fuzzy_score
from tracker.tui.filter.parser import parse
from tracker.tui.filter.writer import write

__all__ = [
    "HELP", "Filter", "FilterError", "Node", "RunView", "compile_filter", "fuzzy_filter",
    "fuzzy_score", "parse", "write",
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
