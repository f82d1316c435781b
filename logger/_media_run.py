"""The run's side of rich media: ``run.log({"img": tracker.Image(...)})``.

``Run.log`` hands the values that are media (or lists of media) to :func:`split_media` only on
its slow path, so a call with numbers alone costs what it did. The media are converted when
constructed; here each becomes a record queued for one daemon thread per run, which writes the
files into ``objects/tmp`` and commits the rows (placing the files) in one transaction on its own
connection. Anything that goes wrong — bad input, a full disk, a read-only store — is a warning
naming the key; ``log()`` never raises for media, and the rest of the call is logged.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from ._media import Blob, Media, PNGLater, Record
from ._values import warn_once

__all__ = ["MediaRunMixin", "split_media"]


def _is_media(v: Any) -> bool:
    if isinstance(v, Media):
        return True
    return type(v) in (list, tuple) and bool(v) and all(isinstance(x, Media) for x in v)


def split_media(data: dict[Any, Any]) -> tuple[dict[Any, Any], list[tuple[str, Any]] | None]:
    """``(data without media, [(key, media), ...])``; the second is None when there is none."""
    media = None
    for k, v in data.items():
        if _is_media(v):
            if media is None:
                media = []
            media.append((str(k), v))
    if media is None:
        return data, None
    return {k: v for k, v in data.items() if not _is_media(v)}, media


def _warn(key: str, why: str) -> None:
    warn_once(f"media:{key}:{why}", f"tracker: {key!r} was not logged: {why}")


def _merge(items: list[Record]) -> Record:
    """One record for a list of images (or other media) under one key."""
    metas: list[dict[str, Any]] = []
    blobs: list[Blob] = []
    for rec in items:
        off = len(blobs)
        meta = dict(rec.meta, kind=rec.kind, blob=off)
        if "masks" in meta:
            meta["masks"] = {n: dict(m, blob=m["blob"] + off) for n, m in meta["masks"].items()}
        if "table" in meta:
            meta["table"] += off
        metas.append(meta)
        blobs.extend(rec.blobs)
    kinds = {r.kind for r in items}
    return Record("images" if kinds == {"image"} else "list", {"items": metas}, blobs)


def to_record(key: str, value: Any) -> Record | None:
    """The record of a media value (or a list of them); None after a warning naming the key."""
    values = value if isinstance(value, (list, tuple)) else [value]
    recs = []
    for v in values:
        try:
            recs.append(v.to_record())
        except (ValueError, TypeError, OSError, ImportError) as e:
            _warn(key, str(e) or v._error or type(e).__name__)
            return None
    if isinstance(value, (list, tuple)):
        return _merge(recs)
    return recs[0]


class _MediaCommitter:
    """One daemon thread per run writing queued media in order."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.q: queue.Queue[tuple[str, int, float, Record, list[Any]] | None] = queue.Queue()
        self.db: Any = None
        from pathlib import Path

        from tracker.store.objects import ObjectStore

        self.objects = ObjectStore(Path(run._writer.store.dir) / "objects")
        self.thread = threading.Thread(target=self._loop, name="tracker-media", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            job = self.q.get()
            if job is None:
                return
            try:
                self._commit(*job)
            except Exception as e:  # reported, never raised into training
                for s in job[4]:
                    if s is not None:
                        self.objects.discard(s)
                _warn(job[0], f"{type(e).__name__}: {e}")

    def _commit(self, key: str, step: int, ts: float, rec: Record, staged: list[Any]) -> None:
        from tracker.store.media import PendingMedia

        db = self._db()
        for i, blob in enumerate(rec.blobs):
            if staged[i] is None:  # paths were staged at log()
                staged[i] = self.objects.stage_bytes(blob() if isinstance(blob, PNGLater) else blob)  # type: ignore[arg-type]
        db.write([PendingMedia(self.run._rid, key, step, ts, rec.kind, rec.meta, staged)])

    def _db(self) -> Any:
        if self.db is None:
            from tracker.store import Store
            from tracker.store.media import MediaStore

            self.db = MediaStore(Store(self.run._writer.store.dir, create=True))
        return self.db


class MediaRunMixin:
    """Media methods of :class:`tracker.Run`."""

    _writer: Any
    _media_committer: _MediaCommitter | None = None

    def _log_media(self, step: int, media: list[tuple[str, Any]]) -> None:
        """Queue media values for ``step`` (called by ``log()``)."""
        ts = time.time()
        for key, value in media:
            rec = to_record(key, value)
            if rec is None:
                continue
            if self._media_committer is None:
                self._media_committer = _MediaCommitter(self)
            staged: list[Any] = [None] * len(rec.blobs)
            objects = self._media_committer.objects
            try:
                for i, blob in enumerate(rec.blobs):
                    if isinstance(blob, str):  # a user's file: snapshot it now, it may change later
                        staged[i] = objects.stage_file(blob)
            except Exception as e:  # a file that vanished, a full disk: a warning, never raised
                for s in staged:
                    if s is not None:
                        objects.discard(s)
                _warn(key, f"{type(e).__name__}: {e}")
                continue
            self._media_committer.q.put((key, step, ts, rec, staged))

    def _close_media(self, timeout: float) -> None:
        """Wait (up to ``timeout`` s) for queued media to be written; called by ``finish()``."""
        c = self._media_committer
        if c is None:
            return
        c.q.put(None)
        c.thread.join(timeout)
        if c.thread.is_alive():
            warn_once(f"media-timeout:{id(c)}", f"tracker: media still being written after {timeout:.0f} s; "
                      f"{c.q.qsize()} values may be lost")
        elif c.db is not None:
            c.db.store.close()
        self._media_committer = None
