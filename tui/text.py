"""Untrusted text made safe to draw: every string from the store goes through ``sanitize``.

Rich ``Text`` and Textual ``Content`` stop markup but still pass raw ESC/OSC/C1 bytes to the
terminal (RELIABILITY.md §B7): OSC 52 clipboard writes, title changes and screen clears all came
through. Control characters, DEL, C1 and bidi overrides are replaced by visible ``\\xNN`` /
``\\u202e`` escapes, so a hostile run name shows up literally and does nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile(f"[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f{_BIDI}]")


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def sanitize(s: object) -> str:
    """``s`` as a string with control, escape and bidi-override characters made visible."""
    text = s if isinstance(s, str) else str(s)
    return _UNSAFE.sub(_escape, text)


_SGR = re.compile(r"\x1b\[[0-9;:]*m")


def console_text(line: str) -> Text:
    """A captured output line for display: SGR colours kept, every other escape or control
    sequence (cursor moves, OSC titles and clipboard writes, C1, bidi) made visible and inert
    (RELIABILITY.md R3)."""
    from rich.text import Text

    parts = []
    pos = 0
    for m in _SGR.finditer(line):
        parts.append(sanitize(line[pos : m.start()]))
        parts.append(m.group())  # colour: kept for Text.from_ansi to turn into styles
        pos = m.end()
    parts.append(sanitize(line[pos:]))
    return Text.from_ansi("".join(parts))
