"""``tracker.Histogram`` (bin edges + counts, never the samples) and the media kept as files
with their metadata: ``Audio``, ``Video``, ``Object3D``, ``Html``, ``Molecule``."""

from __future__ import annotations

import io
import math
import os
from typing import Any

from ._media import Media, Record, _module_of, to_numpy

__all__ = ["Audio", "Histogram", "Html", "Molecule", "Object3D", "Video"]

MAX_BINS = 512


def _histogram_py(values: list[float], num_bins: int) -> tuple[list[float], list[int]]:
    """Equal-width bins over the finite values, like ``numpy.histogram`` (last bin closed)."""
    if not values:
        return [0.0, 1.0], [0]
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / num_bins
    edges = [lo + i * width for i in range(num_bins)] + [hi]
    counts = [0] * num_bins
    for v in values:
        i = int((v - lo) / width)
        counts[min(max(i, 0), num_bins - 1)] += 1
    return edges, counts


class Histogram(Media):
    """A distribution: ``Histogram(sequence)`` or ``Histogram(np_histogram=(counts, edges))``.

    Stored as bin edges and counts (``num_bins`` up to 512) plus how many values were NaN, +Inf
    and -Inf — a few hundred bytes whatever the number of samples.
    """

    _kind = "histogram"

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        try:
            self._record = Record("histogram", self._compute(sequence, np_histogram, num_bins))
        except (ValueError, TypeError, ImportError) as e:
            self._fail(str(e))
            return
        self.bins = self._record.meta["bins"]
        self.histogram = self._record.meta["counts"]

    @staticmethod
    def _compute(sequence: Any, np_histogram: Any, num_bins: int) -> dict[str, Any]:
        if np_histogram is not None:
            counts, edges = np_histogram
            counts = [int(c) for c in (counts.tolist() if hasattr(counts, "tolist") else counts)]
            edges = [float(e) for e in (edges.tolist() if hasattr(edges, "tolist") else edges)]
            if len(edges) != len(counts) + 1:
                raise ValueError(f"np_histogram needs len(bins) == len(counts) + 1, got {len(edges)} and {len(counts)}")
            if len(counts) > MAX_BINS:
                raise ValueError(f"a histogram has at most {MAX_BINS} bins, got {len(counts)}")
            return {"bins": edges, "counts": counts, "nan": 0, "inf": 0, "ninf": 0}
        if sequence is None:
            raise ValueError("Histogram needs sequence= or np_histogram=")
        num_bins = int(num_bins)
        if not 1 <= num_bins <= MAX_BINS:
            raise ValueError(f"num_bins must be 1-{MAX_BINS}, got {num_bins}")
        if _module_of(sequence) in ("numpy", "torch"):
            import numpy as np

            a = to_numpy(sequence).astype(np.float64, copy=False).ravel()
            nan, pinf, ninf = int(np.isnan(a).sum()), int(np.isposinf(a).sum()), int(np.isneginf(a).sum())
            fin = a[np.isfinite(a)]
            if fin.size:
                c, e = np.histogram(fin, bins=num_bins)
                counts, edges = [int(x) for x in c], [float(x) for x in e]
            else:
                edges, counts = [0.0, 1.0], [0]
        else:
            vals: list[float] = []
            nan = pinf = ninf = 0
            for v in sequence:
                f = float(v)
                if math.isnan(f):
                    nan += 1
                elif f == math.inf:
                    pinf += 1
                elif f == -math.inf:
                    ninf += 1
                else:
                    vals.append(f)
            edges, counts = _histogram_py(vals, num_bins)
        return {"bins": edges, "counts": counts, "nan": nan, "inf": pinf, "ninf": ninf}


class _FileMedia(Media):
    """A file kept as it is with its metadata (shown as a row, not rendered)."""

    _exts: tuple[str, ...] = ()

    def _from_path(self, path: Any, meta: dict[str, Any]) -> None:
        p = os.fspath(path)
        if not os.path.isfile(p):
            self._fail(f"{p!r} does not exist or is not a file")
            return
        meta.setdefault("name", os.path.basename(p))
        meta.setdefault("format", os.path.splitext(p)[1].lstrip(".").lower())
        self._record = Record(self._kind, meta, [p])

    def _from_bytes(self, data: bytes, fmt: str, meta: dict[str, Any]) -> None:
        meta["format"] = fmt
        self._record = Record(self._kind, meta, [data])


def _wav(arr: Any, rate: int) -> tuple[bytes, float, int]:
    import wave

    import numpy as np

    a = to_numpy(arr)
    if a.ndim == 2 and a.shape[0] < a.shape[1] and a.shape[0] <= 8:
        a = a.T  # (channels, samples) -> (samples, channels)
    if a.ndim not in (1, 2) or a.size == 0:
        raise ValueError(f"audio must be 1-D (samples) or 2-D (samples x channels), got shape {tuple(a.shape)}")
    if a.dtype.kind == "f":
        a = np.rint(np.clip(np.nan_to_num(a), -1.0, 1.0) * 32767).astype("<i2")
    elif a.dtype.kind in "iu":
        a = np.clip(a, -32768, 32767).astype("<i2")
    else:
        raise ValueError(f"audio samples must be numbers, got dtype {a.dtype}")
    channels = 1 if a.ndim == 1 else a.shape[1]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(a).tobytes())
    return buf.getvalue(), a.shape[0] / rate, channels


class Audio(_FileMedia):
    """Audio from an array (``sample_rate=`` needed; stored as 16-bit WAV) or a file path."""

    _kind = "audio"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        meta: dict[str, Any] = {"caption": str(caption)} if caption is not None else {}
        try:
            if isinstance(data_or_path, (str, os.PathLike)):
                self._from_path(data_or_path, meta)
                if self._record and meta.get("format") == "wav":
                    meta.update(_wav_info(os.fspath(data_or_path)))
                return
            if not sample_rate or int(sample_rate) <= 0:
                raise ValueError("Audio from an array needs sample_rate=")
            data, dur, ch = _wav(data_or_path, int(sample_rate))
            meta.update({"format": "wav", "sample_rate": int(sample_rate), "duration": dur, "channels": ch})
            self._record = Record("audio", meta, [data])
        except (ValueError, TypeError, ImportError) as e:
            self._fail(str(e))


def _wav_info(path: str) -> dict[str, Any]:
    import wave

    try:
        with wave.open(path, "rb") as w:
            rate = w.getframerate()
            return {"sample_rate": rate, "duration": w.getnframes() / rate, "channels": w.getnchannels()}
    except (wave.Error, OSError, EOFError, ZeroDivisionError):
        return {}


class Video(_FileMedia):
    """A video file (``.mp4``, ``.webm``, ``.gif``...) kept as it is. Arrays are not encoded here
    (that needs a video encoder): write the file and pass its path."""

    _kind = "video"

    def __init__(self, data_or_path: Any, caption: str | None = None, fps: int | None = None,
                 format: str | None = None) -> None:
        meta: dict[str, Any] = {"caption": str(caption)} if caption is not None else {}
        if fps is not None:
            meta["fps"] = fps
        if not isinstance(data_or_path, (str, os.PathLike)):
            self._fail("Video from an array is not encoded by tracker; write a video file and pass its path")
            return
        self._from_path(data_or_path, meta)


class Object3D(_FileMedia):
    """A 3-D object: a file (``.obj``, ``.gltf``, ``.glb``, ``.ply``, ``.pts.json``) or a point
    cloud array (N x 3, 4 or 6), stored as JSON points."""

    _kind = "object3d"

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        meta: dict[str, Any] = {"caption": str(caption)} if caption is not None else {}
        if isinstance(data_or_path, (str, os.PathLike)):
            self._from_path(data_or_path, meta)
            return
        try:
            a = to_numpy(data_or_path)
            if a.ndim != 2 or a.shape[1] not in (3, 4, 6):
                raise ValueError(f"a point cloud must be N x 3, 4 or 6, got shape {tuple(a.shape)}")
            import json

            meta["points"] = int(a.shape[0])
            self._from_bytes(json.dumps(a.astype(float).tolist()).encode(), "pts.json", meta)
        except (ValueError, TypeError, ImportError) as e:
            self._fail(str(e))


class Html(_FileMedia):
    """HTML text or a path to an ``.html`` file (stored; shown as a row with its size)."""

    _kind = "html"

    def __init__(self, data: Any, inject: bool = True) -> None:
        if isinstance(data, os.PathLike) or (isinstance(data, str) and data.endswith((".html", ".htm"))
                                              and os.path.isfile(data)):
            self._from_path(data, {})
        elif isinstance(data, str):
            self._from_bytes(data.encode("utf-8"), "html", {})
        elif hasattr(data, "read"):
            self._from_bytes(str(data.read()).encode("utf-8"), "html", {})
        else:
            self._fail(f"Html takes a string, a path or a file object, got {type(data).__name__}")


class Molecule(_FileMedia):
    """A molecule file (``.pdb``, ``.pqr``, ``.mmcif``, ``.sdf``, ``.mol2``...) kept as it is."""

    _kind = "molecule"

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        meta: dict[str, Any] = {"caption": str(caption)} if caption is not None else {}
        if isinstance(data_or_path, (str, os.PathLike)):
            self._from_path(data_or_path, meta)
        elif hasattr(data_or_path, "read"):
            self._from_bytes(str(data_or_path.read()).encode("utf-8"), kwargs.get("file_type") or "pdb", meta)
        else:
            self._fail(f"Molecule takes a path or a file object, got {type(data_or_path).__name__}")
