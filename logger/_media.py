"""Rich objects logged with wandb's names: ``tracker.Image`` here; ``Histogram``, ``Audio``,
``Video``, ``Object3D``, ``Html``, ``Molecule`` in :mod:`._media_kinds`; ``Table`` in
:mod:`._media_table`.

A media object is converted when it is constructed (the caller may change its array afterwards)
into a :class:`Record`: a kind, JSON metadata and the bytes / files to keep in the content-
addressed object store. Nothing here raises for bad input: the problem is kept in ``_error`` and
``run.log`` turns it into one warning naming the key (the rest of the call is logged).
NumPy, torch and Pillow are used only when the value given is one of theirs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ._media_png import PNGError, decode_png, encode_png

__all__ = ["Blob", "Image", "Media", "PNGLater", "Record"]


class PNGLater:
    """Pixels (already copied) to encode as PNG later, in the media thread: ``zlib`` releases
    the GIL, so a 256x256 image costs the training loop a copy, not its compression."""

    __slots__ = ("width", "height", "channels", "pixels")

    def __init__(self, width: int, height: int, channels: int, pixels: bytes) -> None:
        self.width, self.height, self.channels, self.pixels = width, height, channels, pixels

    def __call__(self) -> bytes:
        return encode_png(self.width, self.height, self.channels, self.pixels)


#: A stored file: bytes, a user's path to snapshot, or pixels to encode as PNG.
Blob = bytes | str | PNGLater


@dataclass
class Record:
    """What one logged media value stores: ``meta`` (JSON) and ``blobs`` (bytes, a path to
    snapshot, or pixels to encode), referenced from ``meta`` by index."""

    kind: str
    meta: dict[str, Any]
    blobs: list[Blob] = field(default_factory=list)


class Media:
    """Base of every rich object (``isinstance(v, tracker.Media)`` is how ``log()`` finds them)."""

    _kind = "media"
    _error: str | None = None
    _record: Record | None = None

    def _fail(self, why: str) -> None:
        self._error = why
        self._record = None

    def to_record(self) -> Record:
        if self._record is None:
            raise ValueError(self._error or "nothing to log")
        return self._record

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._error or self._kind}>"


def _module_of(v: Any) -> str:
    return type(v).__module__.split(".", 1)[0]


def to_numpy(data: Any) -> Any:
    """A NumPy array from an array, a torch tensor (detached, on the CPU) or a nested list."""
    import numpy as np

    if _module_of(data) == "torch":
        data = data.detach().cpu().numpy()
    return np.asarray(data)


def image_pixels(arr: Any, chw: bool = False) -> tuple[int, int, int, bytes]:
    """``(width, height, channels, 8-bit pixels)`` from an array of shape HxW, HxWx1/3/4 (or
    CxHxW when ``chw``), float in 0-1 or integer 0-255. Raises ValueError naming the problem."""
    import numpy as np

    a = arr
    if chw and a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)) or 0 in a.shape:
        raise ValueError(f"an image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {tuple(arr.shape)}")
    kind = a.dtype.kind
    if kind == "f":
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        a = np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)
    elif kind == "b":
        a = a.astype(np.uint8) * 255
    elif kind in "iu":
        if a.dtype != np.uint8:
            a = np.clip(a, 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"an image's values must be numbers (float 0-1 or uint8), got dtype {a.dtype}")
    a = np.ascontiguousarray(a)
    channels = 1 if a.ndim == 2 else a.shape[2]
    return a.shape[1], a.shape[0], channels, a.tobytes()


def _pil_pixels(img: Any) -> tuple[int, int, int, bytes]:
    mode = img.mode
    if mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in mode or "transparency" in img.info else "RGB")
    return img.width, img.height, {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[img.mode], img.tobytes()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (the file is checked to decode)."""
    w, h, _, _ = decode_png(data)
    return w, h


class Image(Media):
    """An image: ``Image(array_or_pil_or_path, caption="...")``, stored losslessly as PNG.

    Args:
        data_or_path: a NumPy array (HxW, HxWx1/3/4; float 0-1 or uint8), a torch tensor (CxHxW),
            a PIL image, or a path to an image file (PNG kept as it is; other formats need Pillow
            and are converted to PNG).
        mode: a PIL mode to convert to first (``"L"``, ``"RGB"``...; PIL inputs only).
        caption: shown under the image.
        grouping, classes, boxes: kept as metadata (boxes / classes as JSON).
        masks: ``{"name": {"mask_data": HxW array, "class_labels": {...}}}``; each mask is stored
            as a greyscale PNG beside the image.
    """

    _kind = "image"

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None,
                 grouping: int | None = None, classes: Any = None, boxes: Any = None, masks: Any = None) -> None:
        self.caption = None if caption is None else str(caption)
        meta: dict[str, Any] = {"caption": self.caption} if caption is not None else {}
        try:
            png, w, h, fmt = self._encode(data_or_path, mode)
        except (ValueError, TypeError, OSError, ImportError, PNGError) as e:
            self._fail(f"{type(e).__name__}: {e}" if not isinstance(e, ValueError) else str(e))
            return
        meta.update({"width": w, "height": h, "format": fmt})
        blobs: list[Blob] = [png]
        if grouping is not None:
            meta["grouping"] = int(grouping)
        from ._values import jsonable

        if classes is not None:
            meta["classes"] = jsonable(classes, "classes")
        if boxes is not None:
            meta["boxes"] = jsonable(boxes, "boxes")
        if masks:
            meta["masks"] = {}
            for name, m in dict(masks).items():
                try:
                    mw, mh, _, px = image_pixels(to_numpy(m["mask_data"]).astype("uint8"))
                except (ValueError, TypeError, KeyError) as e:
                    self._fail(f"mask {name!r}: {e}")
                    return
                blobs.append(PNGLater(mw, mh, 1, px))
                meta["masks"][str(name)] = {"blob": len(blobs) - 1,
                                            "class_labels": jsonable(m.get("class_labels"), "class_labels")}
        self.width, self.height = w, h
        self._record = Record("image", meta, blobs)

    @staticmethod
    def _encode(data: Any, mode: str | None) -> tuple[Blob, int, int, str]:
        if isinstance(data, Image):
            rec = data.to_record()
            return rec.blobs[0], rec.meta["width"], rec.meta["height"], rec.meta["format"]
        if isinstance(data, (str, os.PathLike)):
            return _read_image_file(os.fspath(data))
        mod = _module_of(data)
        if mod == "PIL":
            img = data.convert(mode) if mode else data
            w, h, ch, px = _pil_pixels(img)
            return PNGLater(w, h, ch, px), w, h, "png"
        if mod in ("numpy", "torch") or isinstance(data, (list, tuple)):
            w, h, ch, px = image_pixels(to_numpy(data), chw=mod == "torch")
            return PNGLater(w, h, ch, px), w, h, "png"
        raise TypeError(f"an image must be an array, a tensor, a PIL image or a path, got {type(data).__name__}")


def _read_image_file(path: str) -> tuple[bytes, int, int, str]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"cannot read image file {path!r}: {e.strerror or e}") from None
    if data.startswith(b"\x89PNG"):
        try:
            w, h = png_size(data)
            return data, w, h, "png"
        except PNGError:
            pass  # a PNG this decoder does not read (16-bit, interlaced): Pillow may
    try:
        from PIL import Image as PILImage
    except ImportError:
        raise ValueError(f"{path!r} is not a PNG this module reads; install Pillow to log other image formats") from None
    import io

    try:
        with PILImage.open(io.BytesIO(data)) as img:
            img.load()
            w, h, ch, px = _pil_pixels(img)
    except Exception as e:  # Pillow raises many types for a damaged file
        raise ValueError(f"{path!r} is not a readable image ({type(e).__name__}: {e})") from None
    return encode_png(w, h, ch, px), w, h, "png"
