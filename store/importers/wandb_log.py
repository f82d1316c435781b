"""The framing of wandb's ``run-<id>.wandb`` files: a LevelDB-log-style record stream.

The file starts with a 7-byte header (``:W&B``, magic ``0xBEE1`` little-endian, a version
byte). Then come 32 KiB blocks of chunks: ``uint32 CRC-32`` (zlib's, over the type byte and the
data), ``uint16 length``, ``uint8 type`` (FULL 1, FIRST 2, MIDDLE 3, LAST 4), data. A chunk
header never straddles a block: fewer than 7 bytes left in a block are zero padding. Blocks are
counted from the start of the file, header included, so a record boundary is a plain file
offset (the import cursor).

A chunk whose CRC fails is skipped alone when its length leads to a valid chunk, else with the
rest of its block (as LevelDB's reader does: its length cannot be trusted); a record missing a
chunk is dropped. Both are reported.
A chunk or record cut by the end of the data (a run still writing) ends the read before it.
"""

from __future__ import annotations

import struct
import zlib

HEADER = b":W&B" + struct.pack("<H", 0xBEE1)
HEADER_LEN = 7
BLOCK = 32768
CHUNK_HEAD = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_HEAD = struct.Struct("<IHB")


class FramingError(ValueError):
    """Not a wandb record file."""


def check_header(head: bytes) -> None:
    if len(head) < HEADER_LEN or head[:6] != HEADER:
        raise FramingError("not a wandb .wandb file (no :W&B header)")


def records(buf: bytes, base: int) -> tuple[list[tuple[bytes, int]], int, list[str], bool]:
    """Whole records in ``buf``, which starts at file offset ``base`` (a record boundary).

    Returns ``[(record, file offset after it)]``, the offset after the last whole record, why
    chunks were skipped, and whether the data ended inside a chunk or record (a torn tail).
    """
    out: list[tuple[bytes, int]] = []
    skipped: list[str] = []
    pos = 0
    n = len(buf)
    done = base
    parts: list[bytes] | None = None
    unpack = _HEAD.unpack_from
    crc32 = zlib.crc32
    while True:
        left = BLOCK - (base + pos) % BLOCK
        if left < CHUNK_HEAD:
            if pos + left > n:
                return out, done, skipped, parts is not None or pos < n
            pos += left
            if parts is None:
                done = base + pos
            continue
        if pos + CHUNK_HEAD > n:
            return out, done, skipped, parts is not None or pos < n
        crc, ln, typ = unpack(buf, pos)
        start = pos + CHUNK_HEAD
        end = start + ln
        if end > n:
            return out, done, skipped, True
        if ln > left - CHUNK_HEAD or crc32(buf[start - 1:end]) != crc:
            if ln == 0 and typ == 0 and crc == 0:  # zero padding at a block's end
                pos += left
            else:
                # Only this chunk if its length still leads to a valid chunk; else, as LevelDB
                # does, the rest of the block.
                nxt = end if ln <= left - CHUNK_HEAD and _valid_at(buf, base, end) else pos + left
                skipped.append("wandb: chunk with a bad CRC" if nxt == end else
                               "wandb: chunk with a bad CRC (the rest of its 32 KiB block skipped)")
                pos = nxt
                if parts is not None:
                    skipped.append("wandb: record cut by a damaged chunk")
                parts = None
            if parts is None:
                done = base + pos
            continue
        data = buf[start:end]
        pos = end
        if typ == FULL:
            if parts is not None:
                skipped.append("wandb: record cut by a damaged chunk")
            parts = None
            out.append((data, base + pos))
            done = base + pos
        elif typ == FIRST:
            if parts is not None:
                skipped.append("wandb: record cut by a damaged chunk")
            parts = [data]
        elif typ == MIDDLE and parts is not None:
            parts.append(data)
        elif typ == LAST and parts is not None:
            parts.append(data)
            out.append((b"".join(parts), base + pos))
            parts = None
            done = base + pos
        else:
            skipped.append("wandb: chunk without the start of its record")
            parts = None
            done = base + pos


def _valid_at(buf: bytes, base: int, pos: int) -> bool:
    """Does a chunk with a valid CRC start at ``pos`` (or the data end there)?"""
    left = BLOCK - (base + pos) % BLOCK
    if left < CHUNK_HEAD:
        pos += left
    if pos >= len(buf):
        return True
    if pos + CHUNK_HEAD > len(buf):
        return False
    crc, ln, _ = _HEAD.unpack_from(buf, pos)
    end = pos + CHUNK_HEAD + ln
    return end <= len(buf) and zlib.crc32(buf[pos + CHUNK_HEAD - 1:end]) == crc


def encode(records_: list[bytes], start: int = HEADER_LEN) -> bytes:
    """Chunks for ``records_`` written from file offset ``start`` (writers: bench and tests)."""
    out = bytearray()
    pos = start
    for data in records_:
        first = True
        while True:
            left = BLOCK - pos % BLOCK
            if left < CHUNK_HEAD:
                out += b"\x00" * left
                pos += left
                continue
            room = left - CHUNK_HEAD
            piece, data = data[:room], data[room:]
            typ = (FULL if not data else FIRST) if first else (LAST if not data else MIDDLE)
            out += _HEAD.pack(zlib.crc32(bytes([typ]) + piece), len(piece), typ) + piece
            pos += CHUNK_HEAD + len(piece)
            first = False
            if not data:
                break
    return bytes(out)
