"""Untrusted text made safe to draw: every string from the store goes through ``sanitize``.

Rich ``Text`` and Textual ``Content`` stop markup but still pass raw ESC/OSC/C1 bytes to the
terminal (RELIABILITY.md §B7): OSC 52 clipboard writes, title changes and screen clears all came
through. Control characters, DEL, C1 and bidi overrides are replaced by visible ``\\xNN`` /
``\\u202e`` escapes, so a hostile run name shows up literally and does nothing.

Text must also take the width it is measured to take, or table columns slide: a TAB is measured
as 0 cells and drawn up to 8, so it becomes one space; zero-width and other invisible format
characters (Unicode category Cf: U+200B zero-width space, U+200D joiner, U+2060 word joiner,
U+FEFF, soft hyphen, …) are shown as visible ``\\u200b`` escapes, like the bidi overrides (a
name cannot hide a character in itself; emoji joined with U+200D show their parts).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
#: Unicode 14's format characters (category Cf), the bidi controls among them.
_FORMAT = ("\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
           "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
           "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
_UNSAFE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}{_FORMAT}]")


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    if c == "\t":
        return " "
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


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
    pos = col = 0
    for m in _SGR.finditer(line):
        text, col = _expand_tabs(line[pos : m.start()], col)
        parts.append(sanitize(text))
        parts.append(m.group())  # colour: kept for Text.from_ansi to turn into styles
        pos = m.end()
    parts.append(sanitize(_expand_tabs(line[pos:], col)[0]))
    return Text.from_ansi("".join(parts))


def expand_tabs(line: str) -> str:
    """A line of code or output with its TABs turned into spaces up to the next multiple of 8
    columns (what :func:`sanitize` would make one space), for text whose indentation matters."""
    return _expand_tabs(line, 0)[0]


def _expand_tabs(text: str, col: int) -> tuple[str, int]:
    """A console line's TABs as spaces to the next multiple of 8 columns, as a terminal shows
    them (``col``: where ``text`` starts; SGR sequences take no column)."""
    if "\t" not in text:
        return text, col + len(text)
    out = []
    for ch in text:
        if ch == "\t":
            n = 8 - col % 8
            out.append(" " * n)
            col += n
        else:
            out.append(ch)
            col += 1
    return "".join(out), col
