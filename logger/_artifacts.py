"""``tracker.Artifact``: a versioned set of files, stored once by content in the store.

    art = tracker.Artifact("mnist", type="dataset", metadata={"rows": 60000})
    art.add_file("train.csv")           # snapshot taken now: the file may be rewritten at once
    art.add_dir("images/", name="img")
    run.log_artifact(art, aliases=["best"])   # returns at once; art.wait() / finish() wait
    path = run.use_artifact("mnist:latest").download()

Files are copied (reflinked where the filesystem can) into ``<store>/objects/tmp`` while being
hashed, then renamed to their SHA-256 inside the transaction that records the version
(:mod:`tracker.store.artifacts`). ``policy="immutable"`` promises the file will not change, so
even the copy is left to the background thread.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from tracker.store.artifacts_models import ArtifactError, FileEntry, check_name, check_path
from tracker.store.objects import ObjectStore, Staged, hash_fd

from ._artifacts_read import ArtifactReadMixin

__all__ = ["Artifact", "ArtifactError"]

_POLICIES = ("mutable", "immutable")
#: Files up to this size are snapshotted into memory (no temporary file: an unchanged small file
#: costs a read and a hash), up to _MEMORY_BUDGET bytes per artifact.
_SMALL = 256 << 10
_MEMORY_BUDGET = 64 << 20


def _objects_for() -> ObjectStore:
    """Where ``add_file`` snapshots go: the current run's store, else a private staging
    directory of this process (the store is only known at ``log_artifact``)."""
    from . import _state

    run = _state.current
    if run is not None and getattr(run, "_writer", None) is not None:
        return ObjectStore(Path(run._writer.store.dir) / "objects")
    global _staging
    if _staging is None:
        import atexit

        _staging = tempfile.mkdtemp(prefix="tracker-staging-")
        atexit.register(shutil.rmtree, _staging, True)
    return ObjectStore(_staging)


_staging: str | None = None


class Artifact(ArtifactReadMixin):
    """A set of files logged as one version (``v0``, ``v1`` …) of ``name``.

    Args:
        name: letters, digits, ``_ . -``.
        type: ``dataset``, ``model``… (an artifact keeps the type of its first version).
        description: free text.
        metadata: a JSON-able dict stored with the version.
        incremental: the new version holds the previous version's files plus (or replaced by)
            the ones added here.
    """

    def __init__(self, name: str, type: str, description: str | None = None,
                 metadata: dict[str, Any] | None = None, incremental: bool = False) -> None:
        self.name = check_name(name)
        self.type = check_name(type, "artifact type")
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.incremental = bool(incremental)
        self._entries: dict[str, FileEntry] = {}
        self._staged: dict[str, Staged] = {}
        self._later: dict[str, str] = {}  # name -> path, ingested in the background (immutable)
        self._objects: ObjectStore | None = None
        self._memory = 0
        self._state = "new"  # new -> pending (log_artifact) -> committed | failed
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._astore: Any = None  # a tracker.store.artifacts.ArtifactStore once committed
        self._rec: Any = None  # its VersionRecord
        self._aliases: list[str] = []
        self._saved_aliases: list[str] = []
        self._saved_meta: dict[str, Any] = {}
        self._saved_description: str | None = None

    def __repr__(self) -> str:
        v = f":v{self._rec.version}" if self._rec is not None else ""
        return f"<Artifact {self.name}{v} type={self.type!r} state={self._state}>"

    # ------------------------------------------------------------------ building
    def _check_open(self) -> None:
        if self._state != "new":
            raise ArtifactError(f"tracker: artifact {self.name!r} is already logged; its files cannot change "
                                "(create a new Artifact, or use incremental=True)")

    def _store_objects(self) -> ObjectStore:
        if self._objects is None:
            self._objects = _objects_for()
        return self._objects

    def _claim(self, name: str, overwrite: bool) -> str:
        name = check_path(name)
        if not overwrite and (name in self._entries or name in self._later):
            raise ArtifactError(f"tracker: artifact {self.name!r} already has a file named {name!r} "
                                "(pass overwrite=True to replace it)")
        old = self._staged.pop(name, None)
        if old is not None:
            self._store_objects().discard(old)
        self._entries.pop(name, None)
        self._later.pop(name, None)
        return name

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None, *,
                 policy: str = "mutable", overwrite: bool = False) -> FileEntry | None:
        """Add a file as ``name`` (default: its base name).

        ``policy="mutable"`` (default) takes a snapshot now (reflink, else a copy hashed on the
        way); ``"immutable"`` promises the file will not change and copies it in the background.
        Returns the manifest entry (None until ingested for ``immutable``).
        """
        self._check_open()
        if policy not in _POLICIES:
            raise ArtifactError(f"tracker: policy must be 'mutable' or 'immutable', got {policy!r}")
        path = os.fspath(local_path)
        if not os.path.isfile(path):
            raise ArtifactError(f"tracker: add_file: {path!r} is not a file")
        key = self._claim(name if name is not None else os.path.basename(path), overwrite)
        if policy == "immutable":
            self._later[key] = os.path.abspath(path)
            return None
        room = _MEMORY_BUDGET - self._memory
        staged = self._store_objects().stage_file(path, max_memory=min(_SMALL, room))
        self._memory += len(staged.data or b"")
        self._staged[key] = staged
        self._entries[key] = FileEntry(key, staged.digest, staged.size)
        return self._entries[key]

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None, *,
                policy: str = "mutable") -> None:
        """Add every file under a directory (symlinked directories are not followed), under the
        prefix ``name`` if given. A file whose name cannot be stored is refused before any is added."""
        self._check_open()
        root = os.fspath(local_path)
        if not os.path.isdir(root):
            raise ArtifactError(f"tracker: add_dir: {root!r} is not a directory")
        found: list[tuple[str, str]] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for f in sorted(filenames):
                full = os.path.join(dirpath, f)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                key = check_path(f"{name}/{rel}" if name else rel)
                if os.path.isfile(full):
                    found.append((full, key))
        for full, key in found:
            self.add_file(full, key, policy=policy, overwrite=True)

    def add(self, obj: Any, name: str, overwrite: bool = False) -> None:
        """Add a rich object (``tracker.Table``, ``Image``, ``Histogram``...) as ``name``: stored
        as ``NAME.KIND.json`` and its files; :meth:`get` returns it from the logged version."""
        from ._media import Media

        self._check_open()
        if not isinstance(obj, Media):
            raise ArtifactError(f"tracker: Artifact.add takes a tracker.Table/Image/Histogram/... "
                                f"(use add_file for files), got {type(obj).__name__}")
        from ._artifacts_media import add_media

        add_media(self, obj, name, overwrite)

    def get(self, name: str) -> Any:
        """The rich object added as ``name`` (see :meth:`add`), read back from the logged version;
        None if the version has no object by that name."""
        from ._artifacts_media import get_media

        return get_media(self, name)

    def add_reference(self, uri: str, name: str | None = None, checksum: bool = True) -> None:
        """Record a URI (``file://``, ``s3://``, ``gs://``, ``https://``…) without fetching it. A
        local ``file://`` file is recorded with its size and (``checksum=True``) its SHA-256; a
        local directory with one entry per file."""
        self._check_open()
        parsed = urllib.parse.urlparse(str(uri))
        if not parsed.scheme:
            raise ArtifactError(f"tracker: add_reference needs a URI with a scheme (file://, s3://…), got {uri!r:.80}")
        base = name if name is not None else (os.path.basename(parsed.path.rstrip("/")) or parsed.netloc or "ref")
        if parsed.scheme == "file":
            local = urllib.parse.unquote(parsed.path)
            if os.path.isdir(local):
                for dirpath, _, filenames in os.walk(local):
                    for f in sorted(filenames):
                        full = os.path.join(dirpath, f)
                        rel = os.path.relpath(full, local).replace(os.sep, "/")
                        self._add_ref(f"{base}/{rel}", Path(full).as_uri(), full, checksum)
                return
            self._add_ref(base, str(uri), local if os.path.isfile(local) else None, checksum)
            return
        self._add_ref(base, str(uri), None, checksum)

    def _add_ref(self, name: str, uri: str, local: str | None, checksum: bool) -> None:
        key = self._claim(name, overwrite=True)
        size = etag = None
        if local is not None:
            st = os.stat(local)
            size = st.st_size
            if checksum:
                with open(local, "rb") as f:
                    etag = hash_fd(f.fileno())[0]
            else:
                etag = f"{st.st_size}-{st.st_mtime_ns}"
        self._entries[key] = FileEntry(key, None, size, uri, etag)

    @contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Write a new file straight into the artifact: ``with art.new_file("a.txt") as f: ...``."""
        self._check_open()
        check_path(name)
        if not any(c in mode for c in "wx") or "+" in mode or "r" in mode or "a" in mode:
            raise ArtifactError(f"tracker: new_file mode must be 'w'/'x' (optionally 'b'), got {mode!r}")
        tmpdir = tempfile.mkdtemp(prefix="tracker-newfile-")
        path = os.path.join(tmpdir, "file")
        try:
            with open(path, mode.replace("x", "w"), encoding=None if "b" in mode else (encoding or "utf-8")) as f:
                yield f
            self.add_file(path, name, overwrite="w" in mode)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    # ------------------------------------------------------------------ logging (run side)
    def _ingest_later(self, objects: ObjectStore) -> None:
        """Worker thread: move every snapshot into ``objects`` and ingest immutable files."""
        for key, staged in list(self._staged.items()):
            if staged.tmp is not None and staged.tmp.parent != objects.tmp_dir:  # staged before init()
                moved = objects.stage_file(staged.tmp)
                self._store_objects().discard(staged)
                self._staged[key] = staged = moved
            objects.finish_hash(staged)
            self._entries[key] = FileEntry(key, staged.digest, staged.size)
        for key, path in list(self._later.items()):
            staged = objects.stage_file(path)
            self._staged[key] = staged
            self._entries[key] = FileEntry(key, staged.digest, staged.size)
        self._later.clear()
        self._objects = objects

    def _discard_staged(self) -> None:
        if self._objects is not None:
            for s in self._staged.values():
                self._objects.discard(s)
        self._staged.clear()
        self._memory = 0

    def _committed(self, astore: Any, rec: Any) -> None:
        self._astore, self._rec = astore, rec
        self._aliases = list(rec.aliases)
        self._saved_aliases = list(rec.aliases)
        self.metadata = dict(rec.metadata)
        self._saved_meta = dict(rec.metadata)
        self.description = self._saved_description = rec.description
        self.type = rec.type
        self._staged.clear()
        self._state = "committed"

    @classmethod
    def _from_record(cls, astore: Any, rec: Any) -> Artifact:
        art = cls(rec.name, rec.type, rec.description, rec.metadata)
        art._committed(astore, rec)
        art._done.set()
        return art

    def wait(self, timeout: float | None = None) -> Artifact:
        """Block until the logged version is committed; raises what went wrong if it was not."""
        if self._state == "new":
            raise ArtifactError(f"tracker: artifact {self.name!r} has not been logged (run.log_artifact(art))")
        if not self._done.wait(timeout):
            raise TimeoutError(f"tracker: artifact {self.name!r} was not committed within {timeout} s")
        if self._error is not None:
            raise ArtifactError(f"tracker: artifact {self.name!r} was not logged: {self._error}") from self._error
        return self

    def _record(self) -> Any:
        return self.wait()._rec
