"""Reading rich media back: ``api.run(id).media(key=None, kind=None)`` and the small ``_type``
dicts that ``history()`` rows show for media keys (as wandb's do)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["MediaItem", "RunMediaMixin", "history_value"]

#: ``history()``'s ``_type`` per stored kind (wandb's names).
_TYPES = {"image": "image-file", "images": "images/separated", "table": "table-file", "histogram": "histogram",
          "plot": "plot", "audio": "audio-file", "video": "video-file", "object3d": "object3D-file",
          "html": "html-file", "molecule": "molecule-file", "list": "media-list"}


class MediaItem:
    """One logged media value.

    Attributes:
        key, step, kind: where and what (``image``, ``images``, ``table``, ``histogram``,
            ``plot``, ``audio``, ``video``, ``object3d``, ``html``, ``molecule``).
        caption: the caption given (images, audio...), else None.
        meta: the stored metadata (sizes, shapes, a histogram's bins and counts...).
        path: the stored file (the first one for a list), None for a histogram.
        paths: every stored file, in order.
        data: table ``{"columns", "data"}``, histogram ``{"bins", "counts", "nan", "inf",
            "ninf"}``, plot ``{"type", "table", "fields", "title"}``, image ``{"width",
            "height", "format"}``, a list of those for an image list, else the metadata.
    """

    def __init__(self, row: Any, objects: Any) -> None:
        self.key: str = row.key
        self.step: int = row.step
        self.timestamp: float = row.ts
        self.kind: str = row.kind
        self.meta: dict[str, Any] = row.meta
        self.size: int = row.size
        self.digests: list[str] = list(row.digests)
        self._objects = objects
        self.paths: list[Path] = [objects.path_of(d) for d in self.digests]
        self.path: Path | None = self.paths[0] if self.paths else None
        cap = self.meta.get("caption")
        self.caption: str | None = cap if isinstance(cap, str) else None
        self._data: Any = None

    def read_bytes(self, index: int = 0) -> bytes:
        """The bytes of stored file ``index``."""
        with self._objects.open(self.digests[index]) as f:
            return f.read()

    def _table(self, index: int) -> dict[str, Any]:
        t = json.loads(self.read_bytes(index))
        return {"columns": list(t.get("columns", [])), "data": list(t.get("data", []))}

    @property
    def data(self) -> Any:
        if self._data is None:
            m = self.meta
            if self.kind == "table":
                self._data = self._table(int(m.get("table", 0)))
            elif self.kind == "histogram":
                self._data = {k: m.get(k) for k in ("bins", "counts", "nan", "inf", "ninf")}
            elif self.kind == "plot":
                self._data = {"type": m.get("type"), "table": self._table(int(m.get("table", 0))),
                              "fields": m.get("fields", {}), "title": m.get("title")}
            elif self.kind == "image":
                self._data = {k: m.get(k) for k in ("width", "height", "format")}
            elif self.kind in ("images", "list"):
                self._data = list(m.get("items", []))
            else:
                self._data = dict(m)
        return self._data

    def image(self, index: int = 0) -> tuple[int, int, int, bytes]:
        """``(width, height, channels, pixels)`` of a stored PNG (``index`` in an image list)."""
        from ._media_png import decode_png

        blob = 0
        if self.kind in ("images", "list"):
            blob = int(self.meta["items"][index].get("blob", index))
        return decode_png(self.read_bytes(blob))

    def __repr__(self) -> str:
        return f"<MediaItem {self.key!r} step={self.step} {self.kind}>"


def history_value(item: MediaItem) -> dict[str, Any]:
    """The small dict ``history()`` shows for a media value (``_type`` first)."""
    m = item.meta
    out: dict[str, Any] = {"_type": _TYPES.get(item.kind, item.kind)}
    if item.kind == "histogram":
        out.update(values=m.get("counts"), bins=m.get("bins"))
        return out
    if item.kind in ("images", "list"):
        items = m.get("items", [])
        out["count"] = len(items)
        caps = [i.get("caption") for i in items]
        if any(c is not None for c in caps):
            out["captions"] = caps
        return out
    if item.digests:
        out.update(path=str(item.path), sha256=item.digests[0], size=item.size)
    for k in ("width", "height", "format", "caption", "sample_rate", "duration", "type"):
        if k in m:
            out[k] = m[k]
    if item.kind in ("table", "plot"):
        out.update(ncols=m.get("columns"), nrows=m.get("rows"))
    return out


class RunMediaMixin:
    """``media()`` of :class:`tracker.api.ApiRun`."""

    _store: Any
    _rec: Any

    def _media_store(self) -> Any:
        from tracker.store.media import MediaStore

        return MediaStore(self._store)

    def media(self, key: str | None = None, kind: str | None = None, step: int | None = None) -> list[MediaItem]:
        """The run's media values by key then step, optionally of one ``key`` / ``kind`` / ``step``."""
        ms = self._media_store()
        return [MediaItem(r, ms.objects) for r in ms.rows(self._rec.rid, key, kind, step)]

    def media_keys(self) -> list[tuple[str, str, int, int]]:
        """``(key, kind, values logged, last step)`` per media key."""
        return list(self._media_store().keys(self._rec.rid))

    def _merge_media(self, rows: list[dict[str, Any]], keys: Iterable[str] | None) -> list[dict[str, Any]]:
        wanted = None if keys is None else set(keys)
        items = [m for m in self.media() if wanted is None or m.key in wanted]
        if not items:
            return rows
        by_step = {r["_step"]: r for r in rows}
        for m in items:
            row = by_step.get(m.step)
            if row is None:
                row = by_step[m.step] = {"_step": m.step, "_timestamp": m.timestamp}
            row[m.key] = history_value(m)
        return sorted(by_step.values(), key=lambda r: r["_step"])
