"""A store that is not what SQLite expects: damaged pages, or text another tool wrote as bytes.

SQLite reports a damaged file as ``SQLITE_CORRUPT`` ("database disk image is malformed") or
``SQLITE_NOTADB`` ("file is not a database"), often only when a read reaches the bad page. Every
store method goes through :func:`checked`, which turns those into :class:`StoreDamaged`: a
message that names the file and the way out (``tracker-tui doctor``), and a store that writes
nothing more to it (the connection is swapped for a read-only one, so not even the checkpoint
of a closing connection touches the file).

Text columns are decoded as UTF-8 by Python's ``sqlite3``; a store holding invalid UTF-8 (written
by another tool) made every read of that row fail. On the first such failure the connection
switches to a lenient decoder (invalid bytes become U+FFFD) and the call is retried: the common
case pays nothing.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .errors import StoreError, translate

__all__ = ["StoreDamaged", "checked", "damaged", "is_damage", "lenient_text", "recovery_hint"]

T = TypeVar("T")

#: ``SQLITE_CORRUPT`` and ``SQLITE_NOTADB`` (primary codes).
_DAMAGE_CODES = frozenset({11, 26})
_DAMAGE_WORDS = ("database disk image is malformed", "file is not a database")


class StoreDamaged(StoreError):
    """The store file is damaged (corrupt pages, or not an SQLite database at all). Nothing more
    is written to it; ``tracker-tui doctor --recover`` copies what is readable into a new file."""

    kind = "damaged"

    def __init__(self, message: str, *, path: Path, detail: str) -> None:
        super().__init__(message)
        self.path = path
        self.detail = detail


def recovery_hint(path: Path) -> str:
    """How to check a damaged store and copy what is readable out of it (never into it)."""
    d = str(path.parent)
    return (f"Check it with `tracker-tui doctor --store {d}`; copy what is readable into a new file with "
            f"`tracker-tui doctor --store {d} --recover NEW.db` (or `sqlite3 {path} .recover`). "
            "The damaged file is not written to.")


def damaged(path: Path, detail: str) -> StoreDamaged:
    return StoreDamaged(f"tracker: the store at {path} is damaged ({detail}). {recovery_hint(path)}",
                        path=path, detail=detail)


def is_damage(exc: BaseException | None) -> bool:
    """Is this (or what caused it) SQLite saying the file is corrupt or not a database?"""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, StoreDamaged):
            return True
        if isinstance(exc, sqlite3.DatabaseError):
            code = getattr(exc, "sqlite_errorcode", None)
            if code is not None:  # the code decides ("malformed JSON" is not a damaged file)
                return code & 0xFF in _DAMAGE_CODES
            msg = str(exc).lower()
            if any(w in msg for w in _DAMAGE_WORDS):
                return True
        exc, seen = exc.__cause__, seen + 1
    return False


def _is_decode_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and str(exc).startswith("Could not decode to UTF-8")


def lenient_text(b: bytes) -> str:
    """Decode a TEXT value that is not valid UTF-8: invalid bytes become U+FFFD."""
    return b.decode("utf-8", "replace")


def checked(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorate a :class:`~tracker.store.Store` method: SQLite errors become the store's own,
    damage becomes :class:`StoreDamaged` (and the store stops writing), undecodable text is
    read with replacement characters."""

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        for attempt in (0, 1):
            try:
                return fn(self, *args, **kwargs)
            except StoreDamaged:
                raise
            except sqlite3.Error as e:
                if attempt == 0 and _is_decode_error(e) and self.conn.text_factory is not lenient_text:
                    self.conn.text_factory = lenient_text
                    continue
                if is_damage(e):
                    raise self.found_damage(str(e)) from e
                raise translate(e) from e
            except StoreError as e:
                if is_damage(e):
                    raise self.found_damage(str(e)) from e
                raise
        raise AssertionError("unreachable")

    return wrapper
