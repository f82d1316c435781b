"""Protocol-buffer wire format and CRC-32C, in the standard library only.

Enough of the protobuf encoding to read TensorBoard ``Event`` and wandb ``Record`` messages
without their generated classes: varints, the four wire types, packed repeated numbers. A
message is read as ``{field number: [values]}`` (:func:`message`), values as the wire carries
them: ``int`` for varints, ``bytes`` for length-delimited fields (strings, sub-messages, packed
arrays) and for fixed 32/64-bit fields, which :func:`f32`/:func:`f64`/:func:`sint` decode.

CRC-32C (Castagnoli, as TFRecord frames use it, "masked") is table-driven: four 64 Ki-entry
tables take eight bytes per step (slicing-by-8 over 16-bit indices), built on first use.
"""

from __future__ import annotations

import struct
from typing import Any

_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")


class WireError(ValueError):
    """Bytes that are not a valid protobuf message."""


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    pos += 1
    while True:
        if pos >= len(buf) or shift > 63:
            raise WireError("truncated or overlong varint")
        b = buf[pos]
        result |= (b & 0x7F) << shift
        pos += 1
        if b < 0x80:
            return result, pos
        shift += 7


def message(buf: bytes) -> dict[int, list[Any]]:
    """All fields of one message: ``{number: [value, ...]}`` in wire order."""
    out: dict[int, list[Any]] = {}
    pos = 0
    n = len(buf)
    try:
        while pos < n:
            key = buf[pos]
            if key < 0x80:
                pos += 1
            else:
                key, pos = varint(buf, pos)
            wt = key & 7
            v: Any
            if wt == 0:
                v = buf[pos]
                if v < 0x80:
                    pos += 1
                else:
                    v, pos = varint(buf, pos)
            elif wt == 2:
                ln = buf[pos]
                if ln < 0x80:
                    pos += 1
                else:
                    ln, pos = varint(buf, pos)
                v = buf[pos:pos + ln]
                pos += ln
                if pos > n:
                    raise WireError("length-delimited field runs past the message")
            elif wt == 1:
                v = buf[pos:pos + 8]
                pos += 8
            elif wt == 5:
                v = buf[pos:pos + 4]
                pos += 4
            else:
                raise WireError(f"unsupported wire type {wt}")
            if pos > n:
                raise WireError("field runs past the message")
            lst = out.get(key >> 3)
            if lst is None:
                out[key >> 3] = [v]
            else:
                lst.append(v)
    except IndexError as e:
        raise WireError("truncated message") from e
    return out


def f32(b: bytes) -> float:
    return float(_F32.unpack(b)[0])


def f64(b: bytes) -> float:
    return float(_F64.unpack(b)[0])


def sint(v: int, bits: int = 64) -> int:
    """A varint read as a two's-complement signed integer (``int32``/``int64`` fields)."""
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


def text(b: Any) -> str:
    return bytes(b).decode("utf-8", "replace")


def packed_varints(b: bytes) -> list[int]:
    out = []
    pos = 0
    while pos < len(b):
        v, pos = varint(b, pos)
        out.append(v)
    return out


def first(msg: dict[int, list[Any]], field: int, default: Any = None) -> Any:
    """The last value of a singular field (protobuf: the last one wins), or ``default``."""
    v = msg.get(field)
    return v[-1] if v else default


# ------------------------------------------------------------------------------------- CRC-32C
_POLY = 0x82F63B78  # Castagnoli, reflected
_T16: list[list[int]] = []


def _tables() -> list[list[int]]:
    if not _T16:
        t8 = _byte_table()
        # t[k][i]: the CRC contribution of byte value i followed by k zero bytes.
        tk = [t8]
        for _ in range(7):
            prev = tk[-1]
            tk.append([(prev[i] >> 8) ^ t8[prev[i] & 0xFF] for i in range(256)])
        # Two bytes per lookup: pairs of the byte tables above, for the 4 16-bit lanes of 8 bytes.
        for lane in range(4):
            lo, hi = tk[7 - 2 * lane], tk[6 - 2 * lane]
            _T16.append([lo[i & 0xFF] ^ hi[i >> 8] for i in range(65536)])
    return _T16


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C of ``data`` (continuing from ``crc``)."""
    a, b, c, d = _tables()
    t8 = _T8
    crc ^= 0xFFFFFFFF
    n8 = len(data) >> 3
    if n8:
        for w in struct.unpack_from(f"<{n8}Q", data):
            x = (w & 0xFFFFFFFF) ^ crc
            y = w >> 32
            crc = a[x & 0xFFFF] ^ b[x >> 16] ^ c[y & 0xFFFF] ^ d[y >> 16]
    for byte in data[n8 << 3:]:
        crc = t8[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


_T8: list[int] = []


def _byte_table() -> list[int]:
    if not _T8:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ _POLY if c & 1 else c >> 1
            _T8.append(c)
    return _T8


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC of ``data``."""
    return mask(crc32c(data))


_LANES: list[bytes] = []


def _lane_tables() -> list[bytes]:
    """The byte table split into four ``bytes.translate`` tables, one per CRC byte."""
    if not _LANES:
        t8 = _byte_table()
        _LANES.extend(bytes((v >> (8 * k)) & 0xFF for v in t8) for k in range(4))
    return _LANES


def _xor(a: bytes, b: bytes, n: int) -> bytes:
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(n, "little")


def crc32c_many(joined: bytes, size: int) -> list[int]:
    """CRC-32C of each of the ``len(joined) // size`` records of ``size`` bytes laid end to end.

    All records advance together, one byte position per step: the position's bytes of every
    record are one strided slice, the table lookups are ``bytes.translate`` and the XORs are
    big-integer XORs, so the work per step is a few C loops over all records. Thousands of
    records cost about as much Python work as one.
    """
    if size == 0:
        raise ValueError("records of size 0")
    n = len(joined) // size
    if n == 0:
        return []
    t0, t1, t2, t3 = _lane_tables()
    c0 = c1 = c2 = c3 = b"\xff" * n
    for j in range(size):
        idx = _xor(c0, joined[j::size], n)
        c0, c1, c2, c3 = _xor(idx.translate(t0), c1, n), _xor(idx.translate(t1), c2, n), \
            _xor(idx.translate(t2), c3, n), idx.translate(t3)
    out = bytearray(4 * n)
    out[0::4], out[1::4], out[2::4], out[3::4] = c0, c1, c2, c3
    return [v ^ 0xFFFFFFFF for v in struct.unpack(f"<{n}I", out)]


def mask(crc: int) -> int:
    """TFRecord's masking of a CRC: rotated right by 15 bits plus a constant."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
