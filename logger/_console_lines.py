"""How the console capture cuts each stream's bytes into lines for the run.

Per stream, the open line is kept in a buffer. A ``\\r`` followed by text replaces the line so
far (a progress bar is kept as its last state: ``"a\\rb\\n"`` gives ``"b"``, ``"a\\r\\n"`` gives
``"a"``). Past :data:`MAX_LINE_BYTES` the rest of a line is counted, not kept, and the line ends
with ``" [line cut: N more bytes not kept]"``. Text is decoded as UTF-8 with ``errors="replace"``.
"""

from __future__ import annotations

import codecs

#: Longer lines are cut, with a marker saying how much was dropped.
MAX_LINE_BYTES = 64 * 1024


class Stream:
    """One captured stream: its descriptors and its open line."""

    __slots__ = ("name", "fd", "saved", "read", "buf", "cut", "cr", "tee_ok")

    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self.fd = fd  # 1 or 2
        self.saved = -1  # duplicate of the original fd 1/2 (the terminal)
        self.read = -1  # read end of the capture pipe
        self.buf = bytearray()  # the open line (already collapsed at \r)
        self.cut = 0  # bytes of the open line dropped over MAX_LINE_BYTES
        self.cr = False  # the open line ended with \r: the next text replaces it
        self.tee_ok = True  # the terminal still accepts what is written to it

    def add(self, seg: bytes) -> None:
        """Append ``seg`` (no line end, no ``\\r``) to the open line."""
        if self.cr:  # text after a \r replaces the line so far
            self.buf.clear()
            self.cut = 0
            self.cr = False
        room = MAX_LINE_BYTES - len(self.buf)
        if len(seg) <= room:
            self.buf += seg
        else:
            if room > 0:
                self.buf += seg[:room]
            self.cut += len(seg) - max(room, 0)

    def take(self) -> tuple[bytes, int]:
        """End the open line: its kept bytes and how many were cut off."""
        raw, cut = bytes(self.buf), self.cut
        self.buf.clear()
        self.cut = 0
        self.cr = False
        return raw, cut


def line_text(raw: bytes, cut: int) -> str:
    """A line's text, with the cut marker when bytes were cut off."""
    if not cut:
        return raw.decode("utf-8", "replace")
    # an incomplete UTF-8 character at the cut is left out, not shown as U+FFFD
    dec = codecs.getincrementaldecoder("utf-8")("replace")
    text = dec.decode(raw, final=False)
    return text + f" [line cut: {cut + len(dec.getstate()[0])} more bytes not kept]"


def size_text(n: int) -> str:
    """``n`` bytes for a message: ``8 MB``, ``1.5 KB``, ``12 bytes``."""
    if n >= 1 << 20:
        return f"{n / (1 << 20):g} MB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):g} KB"
    return f"{n} bytes"
