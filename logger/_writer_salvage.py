"""What the writer does with a batch that the store refused because of what it holds.

A batch is one transaction: points, run-row updates (``finish()``'s state, config, summary,
tags, git facts) and events (alerts, console lines). When one of its values cannot be stored
(a string holding a lone surrogate, say), the transaction fails as a whole. Dropping the batch
would lose everything else in it, ``finish()``'s final state included (the run would read
``crashed`` while the process thought it ``finished``: issue 9). So the parts are written apart:
the points together (then one call at a time, skipping only a bad one), then each update and
event on its own; a text value that cannot be encoded is kept with its bad characters replaced
by ``?``. Every skip or repair is said on stderr.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from tracker.store.errors import StoreValueError

if TYPE_CHECKING:  # pragma: no cover
    from ._writer import Writer

#: Errors that mean "this value", not "this store": retrying the same batch cannot help.
VALUE_ERRORS = (StoreValueError, OverflowError, TypeError, ValueError)

_WHAT = {"alert": "an alert", "console": "console lines", "code": "the git diff"}


def scrub(v: Any) -> Any:
    """``v`` with every string's unencodable characters (lone surrogates) replaced by ``?``."""
    if isinstance(v, str):
        return v.encode("utf-8", "replace").decode("utf-8")
    if isinstance(v, dict):
        return {scrub(k): scrub(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(scrub(x) for x in v)
    return v


def _say(msg: str) -> None:
    print(f"tracker: {msg}", file=sys.stderr)


def salvage(w: Writer, entries: list[Any], updates: list[Any], events: list[Any], err: Exception) -> None:
    """Write a refused batch in parts so that one bad value costs only its own entry."""
    if entries:
        try:
            w._append(entries)
        except VALUE_ERRORS:
            for e in entries:
                try:
                    w._append([e])
                except VALUE_ERRORS as ex:
                    keys = ", ".join(repr(k) for k in e[3][:5])
                    _say(f"skipped one log() call at step {e[1]} (keys {keys}): {type(ex).__name__}: {ex}")
    for rid, fields in updates:
        _one(w, f"an update of {', '.join(sorted(fields))}",
             lambda f, r=rid: w._append([], [(r, f)], []), fields)
    for ev in events:
        kind, data = ev[2], ev[3]
        _one(w, _WHAT.get(kind, f"a {kind} event"), 
             lambda d, e=ev: w._append([], [], [(*e[:3], d)]), data)


def _one(w: Writer, what: str, write: Any, value: Any) -> None:
    try:
        write(value)
        return
    except VALUE_ERRORS as e:
        first = e
    fixed = scrub(value)
    if fixed != value:
        try:
            write(fixed)
            _say(f"{what} held text that is not valid Unicode (a lone surrogate); the bad characters "
                 "were replaced with '?' and it was stored")
            return
        except VALUE_ERRORS as e:
            first = e
    _say(f"{what} could not be stored and was skipped ({type(first).__name__}: {first})")
