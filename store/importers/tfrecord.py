"""TFRecord framing, as TensorBoard event files use it.

Each record is ``uint64 length``, ``uint32 masked CRC-32C of the length bytes``, the data, and
``uint32 masked CRC-32C of the data`` (little-endian). :func:`frames` splits a buffer into
records and checks every CRC in bulk (:func:`~.wire.crc32c_many`, records grouped by size). A
record whose data CRC fails is reported and skipped; a length whose own CRC fails cannot be
trusted, so the reader looks for the next byte position where a valid header starts. An
incomplete record at the end (a file still being written) ends the read before it.
"""

from __future__ import annotations

import struct
from collections import defaultdict

from .wire import crc32c, crc32c_many, mask

_HEAD = struct.Struct("<QI")
_CRC = struct.Struct("<I")


def _split(buf: bytes, pos: int) -> tuple[list[tuple[int, int, int, int]], int]:
    """Frames ``(start, data length, header crc, data crc)`` trusting the lengths; the end."""
    out = []
    n = len(buf)
    unpack = _HEAD.unpack_from
    crc_at = _CRC.unpack_from
    while pos + 12 <= n:
        ln, hcrc = unpack(buf, pos)
        end = pos + 16 + ln
        if end > n:
            if mask(crc32c(buf[pos:pos + 8])) != hcrc:  # a damaged length, not a record still being written
                out.append((pos, ln, hcrc, 0))
            break
        out.append((pos, ln, hcrc, crc_at(buf, end - 4)[0]))
        pos = end
    return out, pos


def _resync(buf: bytes, pos: int) -> int | None:
    """The next position after ``pos`` where a header with a valid CRC starts."""
    for p in range(pos + 1, len(buf) - 11):
        ln, hcrc = _HEAD.unpack_from(buf, p)
        if mask(crc32c(buf[p:p + 8])) == hcrc:
            return p
    return None


def _masked(crcs: list[int]) -> list[int]:
    return [(((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF for c in crcs]


def frames(buf: bytes, pos: int = 0) -> tuple[list[tuple[int, int]], int, list[str]]:
    """Records of ``buf`` from ``pos``: ``[(data start, data end)]`` with valid CRCs, the
    position after the last complete record, and why records were skipped."""
    good: list[tuple[int, int]] = []
    skipped: list[str] = []
    while True:
        fr, end = _split(buf, pos)
        heads = _masked(crc32c_many(b"".join([buf[s:s + 8] for s, _, _, _ in fr]), 8)) if fr else []
        bad_head = None
        if heads != [f[2] for f in fr]:
            bad_head = next(i for i, (f, c) in enumerate(zip(fr, heads)) if c != f[2])
            fr = fr[:bad_head]
        by_len: dict[int, list[int]] = defaultdict(list)
        for i, f in enumerate(fr):
            by_len[f[1]].append(i)
        bad: set[int] = set()
        for ln, idx in by_len.items():
            if ln == 0:
                crcs = [mask(crc32c(b""))] * len(idx)
            else:
                crcs = _masked(crc32c_many(b"".join([buf[fr[i][0] + 12:fr[i][0] + 12 + ln] for i in idx]), ln))
            if crcs != [fr[i][3] for i in idx]:
                bad.update(i for i, c in zip(idx, crcs) if c != fr[i][3])
        good += [(s + 12, s + 12 + ln) for s, ln, _, _ in fr]
        if bad:
            good[len(good) - len(fr):] = [g for i, g in enumerate(good[len(good) - len(fr):]) if i not in bad]
            skipped += ["tensorboard: record with a bad CRC"] * len(bad)
        if bad_head is None:
            return good, end, skipped
        start = fr[-1][0] + 16 + fr[-1][1] if fr else pos
        nxt = _resync(buf, start)
        skipped.append("tensorboard: record with a bad length CRC (bytes skipped up to the next record)")
        if nxt is None:
            return good, len(buf), skipped
        pos = nxt


def encode(data: bytes) -> bytes:
    """One record (for writers: the bench and the tests)."""
    head = struct.pack("<Q", len(data))
    return head + _CRC.pack(mask(crc32c(head))) + data + _CRC.pack(mask(crc32c(data)))
