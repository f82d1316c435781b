"""Rich objects in artifacts, as wandb does: ``art.add(tracker.Table(...), "preds")`` and, on a
logged version, ``art.get("preds")`` returns the Table.

An object ``NAME`` of kind ``K`` is stored as the manifest entry ``NAME.K.json`` (``{"_type":
K, "meta": ..., "files": [...]}``, the same metadata ``run.log`` keeps) plus its files under
``media/NAME.K/`` (a table's JSON, an image's PNG and mask PNGs, an audio file...). ``get``
rebuilds the object from them; an Image cell of a Table comes back as a ``tracker.Image``.
"""

from __future__ import annotations

import json
from typing import Any

from tracker.store.artifacts_models import ArtifactError, check_path

from ._media import Image, Media, PNGLater, Record

__all__ = ["add_media", "get_media"]


def _classes() -> dict[str, type[Media]]:
    from ._media_kinds import Audio, Histogram, Html, Molecule, Object3D, Video
    from ._media_table import Table

    return {c._kind: c for c in (Image, Table, Histogram, Audio, Video, Object3D, Html, Molecule)}


def _ext(kind: str, meta: dict[str, Any], i: int, blob: Any) -> str:
    if isinstance(blob, PNGLater) or kind == "image":
        return "png"
    if kind == "table" and i == int(meta.get("table", 0)):
        return "json"
    if kind == "table":
        return "png"  # an Image cell
    fmt = str(meta.get("format") or "bin")
    return fmt if fmt.isalnum() else "bin"


def add_media(art: Any, obj: Media, name: str, overwrite: bool = False) -> None:
    """Store ``obj`` in ``art`` as ``NAME.KIND.json`` and its files (see the module doc)."""
    if obj._error:
        raise ArtifactError(f"tracker: {obj._kind} {name!r} cannot be added: {obj._error}")
    try:
        rec = obj.to_record()
    except ValueError as e:
        raise ArtifactError(f"tracker: {obj._kind} {name!r} cannot be added: {e}") from e
    base = check_path(f"{name}.{rec.kind}")
    files = []
    for i, blob in enumerate(rec.blobs):
        path = f"media/{base}/{i}.{_ext(rec.kind, rec.meta, i, blob)}"
        if isinstance(blob, str):
            art.add_file(blob, path, overwrite=overwrite)
        else:
            with art.new_file(path, "wb" if overwrite else "xb") as f:
                f.write(blob() if isinstance(blob, PNGLater) else blob)
        files.append(path)
    doc = {"_type": rec.kind, "meta": rec.meta, "files": files}
    with art.new_file(f"{base}.json", "w" if overwrite else "x") as f:
        json.dump(doc, f, ensure_ascii=False, sort_keys=True)


def _image(meta: dict[str, Any], png: bytes) -> Image:
    img = Image.__new__(Image)
    img._record = Record("image", dict(meta), [png])
    img.width, img.height = int(meta.get("width", 0)), int(meta.get("height", 0))
    cap = meta.get("caption")
    img.caption = cap if isinstance(cap, str) else None
    return img


def _rebuild(kind: str, meta: dict[str, Any], blobs: list[bytes]) -> Media:
    classes = _classes()
    if kind == "table":
        from ._media_table import Table

        t = json.loads(blobs[int(meta.get("table", 0))])

        def cell(v: Any) -> Any:
            if isinstance(v, dict) and v.get("_type") == "image-file" and isinstance(v.get("blob"), int) \
                    and 0 <= v["blob"] < len(blobs):
                return _image({k: v[k] for k in ("width", "height", "caption") if k in v} | {"format": "png"},
                              blobs[v["blob"]])
            return v

        return Table(columns=t.get("columns", []), data=[[cell(v) for v in r] for r in t.get("data", [])])
    if kind == "image":
        return _image(meta, blobs[0])
    cls = classes.get(kind)
    if cls is None:
        raise ArtifactError(f"tracker: stored object of unknown kind {kind!r}")
    obj = cls.__new__(cls)
    obj._record = Record(kind, dict(meta), list(blobs))
    if kind == "histogram":
        obj.bins, obj.histogram = meta.get("bins"), meta.get("counts")  # type: ignore[attr-defined]
    return obj


def get_media(art: Any, name: str) -> Media | None:
    """The object added as ``name`` to a logged version, or None if it has none by that name."""
    entries = {e.path: e for e in art.files()}
    kinds = [k for k in _classes() if f"{name}.{k}.json" in entries]
    if not kinds:
        return None
    objects = art._astore.objects

    def read(path: str) -> bytes:
        e = entries.get(path)
        if e is None or e.digest is None:
            raise ArtifactError(f"tracker: {path!r} is missing from {art.name}:{art.version}")
        with objects.open(e.digest) as f:
            return bytes(f.read())

    try:
        doc = json.loads(read(f"{name}.{kinds[0]}.json"))
        files = [read(p) for p in doc.get("files", [])]
        return _rebuild(str(doc.get("_type", kinds[0])), dict(doc.get("meta") or {}), files)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ArtifactError(f"tracker: {name!r} in {art.name}:{art.version} cannot be read back: {e}") from e
