"""The read side of ``tracker.Artifact`` once a version is committed: its version and aliases,
manifest, ``download()`` / ``checkout()`` / ``verify()``, lineage, ``save()`` and ``delete()``."""

from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path
from typing import Any

from tracker.store.artifacts_models import ArtifactError, FileEntry, check_path


def who(rid: int | None = None) -> tuple[str | None, str | None, int | None]:
    """``(user, host, rid)`` recorded with an alias move."""
    try:
        user: str | None = getpass.getuser()
    except Exception:  # no passwd entry in a container: not worth failing a log for
        user = None
    return user, socket.gethostname(), rid


def _inside(root: Path, rel: str) -> Path:
    """``root / rel`` for a manifest path, checked again here: a path stored by anything (a
    damaged or hostile database) must not write outside ``root``, nor through a symlink."""
    dest = root.joinpath(*check_path(rel).split("/"))
    parent = dest.parent
    parent.mkdir(parents=True, exist_ok=True)
    real_root = os.path.realpath(root)
    if os.path.commonpath([os.path.realpath(parent), real_root]) != real_root:
        raise ArtifactError(f"tracker: {rel!r} would be written outside {root} (a symlink in the way)")
    if dest.is_symlink() or dest.is_dir():
        raise ArtifactError(f"tracker: {dest} exists and is not a regular file; not overwritten")
    return dest


class ArtifactReadMixin:
    """Methods of :class:`tracker.Artifact` that read a committed version."""

    name: str
    type: str
    description: str | None
    metadata: dict[str, Any]
    _state: str
    _astore: Any
    _rec: Any
    _aliases: list[str]
    _saved_aliases: list[str]
    _saved_meta: dict[str, Any]
    _saved_description: str | None

    def _record(self) -> Any:  # pragma: no cover - defined by Artifact
        raise NotImplementedError

    # ------------------------------------------------------------------ identity
    @property
    def version(self) -> str:
        """``"v3"``: the version number this artifact was committed as."""
        return f"v{self._record().version}"

    @property
    def id(self) -> int:
        return int(self._record().vid)

    @property
    def project(self) -> str:
        return str(self._record().project)

    @property
    def qualified_name(self) -> str:
        """``project/name:vN``."""
        return str(self._record().qualified)

    @property
    def source_name(self) -> str | None:
        """For a version linked into a registry collection: the version it came from."""
        return self._record().source

    @property
    def digest(self) -> str:
        """SHA-256 of the manifest: equal digests mean identical contents."""
        return str(self._record().digest)

    @property
    def size(self) -> int:
        return int(self._record().size)

    @property
    def file_count(self) -> int:
        return int(self._record().file_count)

    @property
    def created_at(self) -> float:
        return float(self._record().created_at)

    @property
    def aliases(self) -> list[str]:
        """The aliases naming this version; append or remove, then ``save()`` to move them."""
        self._record()
        return self._aliases

    @aliases.setter
    def aliases(self, value: list[str]) -> None:
        self._record()
        self._aliases = list(value)

    # ------------------------------------------------------------------ files
    def files(self) -> list[FileEntry]:
        """The manifest entries (``path``, ``digest``, ``size``, ``ref`` for references)."""
        return list(self._astore.files(self._record().vid))

    @property
    def manifest(self) -> dict[str, dict[str, Any]]:
        """``{path: {"digest", "size", "ref", "etag"}}``."""
        return {e.path: {"digest": e.digest, "size": e.size, "ref": e.ref, "etag": e.etag} for e in self.files()}

    def download(self, root: str | os.PathLike[str] | None = None, *, hardlink: bool = False) -> str:
        """Write the version's files under ``root`` (default ``./artifacts/NAME:vN``), byte for
        byte (reflink or copy; ``hardlink=True`` links the read-only objects instead).
        References are not fetched. Returns the directory."""
        rec = self._record()
        out = Path(root) if root is not None else Path("artifacts") / f"{rec.name}:v{rec.version}"
        out.mkdir(parents=True, exist_ok=True)
        objects = self._astore.objects
        for e in self.files():
            if e.digest is None:
                continue
            dest = _inside(out, e.path)
            try:
                objects.materialize(e.digest, dest, hardlink=hardlink)
            except FileNotFoundError as err:
                if not objects.exists(e.digest):
                    raise ArtifactError(f"tracker: the stored object of {e.path!r} is missing from "
                                        f"{objects.root}; this version cannot be downloaded") from err
                raise
        return str(out)

    def checkout(self, root: str | os.PathLike[str] | None = None) -> str:
        """``download()``, then delete files under ``root`` that are not in this version."""
        out = Path(self.download(root))
        keep = {out.joinpath(*e.path.split("/")) for e in self.files() if e.digest is not None}
        for dirpath, _, filenames in os.walk(out):
            for f in filenames:
                p = Path(dirpath) / f
                if p not in keep:
                    p.unlink()
        return str(out)

    def verify(self, root: str | os.PathLike[str] | None = None) -> None:
        """Re-hash the stored objects (or, with ``root``, the files downloaded there) and raise
        :class:`ArtifactError` naming the files that differ from the manifest."""
        from tracker.store.objects import hash_fd

        bad = []
        for e in self.files():
            if e.digest is None:
                continue
            if root is None:
                ok = self._astore.objects.verify(e.digest)
            else:
                try:
                    with open(Path(root).joinpath(*e.path.split("/")), "rb") as f:
                        ok = hash_fd(f.fileno())[0] == e.digest
                except OSError:
                    ok = False
            if not ok:
                bad.append(e.path)
        if bad:
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            raise ArtifactError(f"tracker: {self.qualified_name}: {len(bad)} file(s) differ from the manifest: "
                                f"{', '.join(repr(b) for b in bad[:5])}{more}")

    # ------------------------------------------------------------------ lineage
    def _run(self, run_id: str) -> Any:
        from .api import ApiRun

        return ApiRun(self._astore.store, self._astore.store.run(run_id))

    def logged_by(self) -> Any:
        """The run that first logged this version (an ``ApiRun``), or None."""
        ids = self._astore.version_runs(self._record().vid, "logged")
        return self._run(ids[0]) if ids else None

    def used_by(self) -> list[Any]:
        """The runs that used this version (``ApiRun``), oldest first."""
        return [self._run(i) for i in self._astore.version_runs(self._record().vid, "used")]

    # ------------------------------------------------------------------ changes
    def save(self) -> None:
        """Log a new artifact to the current run, or store changed aliases, metadata and
        description of a committed one (an alias already on another version moves here)."""
        if self._state == "new":
            from . import _state

            run = _state.current
            if run is None:
                raise ArtifactError("tracker: save() of a new artifact needs an active run (tracker.init())")
            run.log_artifact(self)  # type: ignore[arg-type]  # self is an Artifact
            return
        rec = self._record()
        add = [a for a in self._aliases if a not in self._saved_aliases]
        remove = [a for a in self._saved_aliases if a not in self._aliases]
        if add or remove:
            self._astore.set_aliases(rec.vid, add, remove, who())
        meta = self.metadata if self.metadata != self._saved_meta else None
        desc = self.description if self.description != self._saved_description else None
        if meta is not None or desc is not None:
            self._astore.update_version(rec.vid, metadata=meta, description=desc)
        self._committed(self._astore, self._astore.version_by_vid(rec.vid))  # type: ignore[attr-defined]

    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this version's record; refused while it holds an alias other than ``latest``
        unless ``delete_aliases``. Its files are freed by ``tracker-tui artifact gc``."""
        self._astore.delete_version(self._record().vid, delete_aliases=delete_aliases, who=who())
        self._state = "deleted"
