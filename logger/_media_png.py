"""A small lossless PNG encoder and decoder on the standard library (zlib), so logging and
showing images never needs Pillow.

Pixels are ``bytes`` of 8-bit samples, row-major, ``channels`` per pixel: 1 (grey), 2 (grey +
alpha), 3 (RGB) or 4 (RGBA). The decoder reads what the encoder writes and the common PNGs of
other tools (8-bit, non-interlaced, any filter, palette images expanded to RGB/RGBA).
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["PNGError", "decode_png", "encode_png"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
_CHANNELS = {0: 1, 4: 2, 2: 3, 6: 4, 3: 1}
#: Images larger than this many pixels are refused by the decoder (a hostile file cannot make the
#: app allocate gigabytes).
MAX_PIXELS = 64_000_000


class PNGError(ValueError):
    """Not a PNG this module can read (the message says why)."""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(width: int, height: int, channels: int, pixels: bytes | bytearray | memoryview, level: int = 6) -> bytes:
    """A PNG of ``width`` x ``height`` 8-bit pixels (filter 0 on every row: simple and exact)."""
    if channels not in _COLOR_TYPE:
        raise ValueError(f"PNG: channels must be 1, 2, 3 or 4, got {channels}")
    stride = width * channels
    data = memoryview(pixels).cast("B")
    if len(data) != stride * height:
        raise ValueError(f"PNG: {len(data)} bytes for {width}x{height}x{channels}")
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        raw += data[y * stride:(y + 1) * stride]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPE[channels], 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(raw), level)) + _chunk(b"IEND", b"")


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> bytearray:
    stride = width * bpp
    out = bytearray(stride * height)
    prev = bytearray(stride)
    pos = 0
    for y in range(height):
        if pos + 1 + stride > len(raw):
            raise PNGError("PNG: image data is truncated")
        ftype = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                ul = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, prev[i], ul)) & 0xFF
        elif ftype != 0:
            raise PNGError(f"PNG: unknown filter type {ftype}")
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return out


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """``(width, height, channels, pixels)`` of an 8-bit non-interlaced PNG (palette expanded)."""
    if not data.startswith(SIGNATURE):
        raise PNGError("not a PNG file (bad signature)")
    pos = len(SIGNATURE)
    header: tuple[int, ...] | None = None
    idat = bytearray()
    palette = b""
    trns = b""
    while pos + 8 <= len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if len(body) != n:
            raise PNGError("PNG: truncated chunk")
        pos += 12 + n
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"PLTE":
            palette = body
        elif kind == b"tRNS":
            trns = body
        elif kind == b"IEND":
            break
    if header is None:
        raise PNGError("PNG: no IHDR chunk")
    width, height, depth, ctype, _, _, interlace = header
    if depth != 8 or interlace or ctype not in _CHANNELS:
        raise PNGError(f"PNG: only 8-bit non-interlaced images are read (depth {depth}, interlace {interlace})")
    if width * height > MAX_PIXELS or width == 0 or height == 0:
        raise PNGError(f"PNG: {width}x{height} is out of range")
    try:
        raw = zlib.decompress(bytes(idat))
    except zlib.error as e:
        raise PNGError(f"PNG: corrupt image data ({e})") from None
    ch = _CHANNELS[ctype]
    px = _unfilter(raw, width, height, ch)
    if ctype != 3:
        return width, height, ch, bytes(px)
    alpha = bool(trns)
    out = bytearray()
    for i in px:
        rgb = palette[3 * i:3 * i + 3] or b"\0\0\0"
        out += rgb
        if alpha:
            out.append(trns[i] if i < len(trns) else 255)
    return width, height, 4 if alpha else 3, bytes(out)
