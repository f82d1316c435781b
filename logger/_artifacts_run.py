"""The run's side of artifacts: ``log_artifact`` / ``use_artifact`` / ``link_artifact`` and the
background thread that commits logged versions (so ``log()`` never waits for a file)."""

from __future__ import annotations

import os
import queue
import sys
import threading
from pathlib import Path
from typing import Any

from tracker.store.artifacts_models import ArtifactError, check_alias, check_name, parse_ref

from ._artifacts import Artifact
from ._artifacts_read import who

__all__ = ["ArtifactRunMixin", "log_artifact", "use_artifact"]


class _Committer:
    """One daemon thread per run committing logged artifacts in order."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.q: queue.Queue[tuple[Artifact, list[str]] | None] = queue.Queue()
        self.pending: list[Artifact] = []
        self.astore: Any = None
        self.thread = threading.Thread(target=self._loop, name="tracker-artifacts", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            job = self.q.get()
            if job is None:
                if self.astore is not None:
                    self.astore.store.close()
                return
            art, aliases = job
            try:
                self.commit(art, aliases)
            except BaseException as e:  # reported at wait() / finish(), never in the training loop
                art._error = e
                art._state = "failed"
                art._discard_staged()
            finally:
                art._done.set()

    def commit(self, art: Artifact, aliases: list[str]) -> None:
        if self.astore is None:  # its own connection: the user's thread never reads a version mid-write
            from tracker.store import Store
            from tracker.store.artifacts import ArtifactStore

            self.astore = ArtifactStore(Store(self.run._writer.store.dir, create=True))
        astore = self.astore
        art._ingest_later(astore.objects)
        rec, _ = astore.log_version(
            project=self.run.project, name=art.name, type=art.type, description=art.description,
            metadata=art.metadata, entries=list(art._entries.values()), staged=list(art._staged.values()),
            aliases=aliases, rid=self.run._rid, incremental=art.incremental, who=who(self.run._rid))
        art._committed(self.run._artifact_store(), rec)


class ArtifactRunMixin:
    """Artifact methods of :class:`tracker.Run`."""

    project: str
    id: str
    _rid: int
    _writer: Any
    _artifact_db: Any = None
    _committer: _Committer | None = None

    def _artifact_store(self) -> Any:
        """An :class:`~tracker.store.artifacts.ArtifactStore` on its own connection (the
        metrics writer's transactions and an artifact's never wait on one Python lock)."""
        if getattr(self, "_writer", None) is None:
            raise ArtifactError("tracker: this rank does not log (rank_zero_only=True); read artifacts with tracker.Api()")
        if self._artifact_db is None:
            from tracker.store import Store
            from tracker.store.artifacts import ArtifactStore

            self._artifact_db = ArtifactStore(Store(self._writer.store.dir, create=True))
        return self._artifact_db

    def log_artifact(self, artifact_or_path: Artifact | str | os.PathLike[str], name: str | None = None,
                     type: str | None = None, aliases: list[str] | None = None) -> Artifact:
        """Log an artifact (or a file / directory path) as a new version and return at once.

        The version is committed in the background; ``artifact.wait()`` or ``finish()`` wait for
        it and report a failure (disk full…). Content identical to an existing version resolves
        to that version. ``latest`` moves to the newest version; ``aliases`` move here.
        """
        if getattr(self, "_writer", None) is None:  # a rank that does not log (rank_zero_only)
            return artifact_or_path if isinstance(artifact_or_path, Artifact) else Artifact("unlogged", "unspecified")
        if getattr(self, "_closed", False):
            raise ArtifactError(f"tracker: run {self.id} is finished; log_artifact() is not allowed")
        aliases = [check_alias(a) for a in (aliases or []) if a != "latest"]
        if isinstance(artifact_or_path, Artifact):
            art = artifact_or_path
        else:
            path = Path(artifact_or_path)
            art = Artifact(name or check_name(path.name.replace(" ", "_") or "artifact"), type or "unspecified")
            if path.is_dir():
                art.add_dir(path)
            else:
                art.add_file(path)
        art._check_open()
        art._state = "pending"
        if self._committer is None:
            self._committer = _Committer(self)
        self._committer.pending.append(art)
        self._committer.q.put((art, aliases))
        return art

    def use_artifact(self, artifact_or_name: Artifact | str, type: str | None = None,
                     aliases: list[str] | None = None) -> Artifact:
        """Record that this run uses a version (``"name:alias"``, ``"name:vN"``,
        ``"project/name:latest"`` or a logged Artifact) and return it (``download()`` it)."""
        astore = self._artifact_store()
        if isinstance(artifact_or_name, Artifact):
            if artifact_or_name._state == "new":
                raise ArtifactError("tracker: use_artifact() of an artifact that was never logged")
            rec = artifact_or_name._record()
        else:
            project, name, sel = parse_ref(artifact_or_name)
            rec = astore.resolve(project or self.project, name, sel)
        if type is not None and rec.type != type:
            raise ArtifactError(f"tracker: {rec.qualified} has type {rec.type!r}, not {type!r}")
        astore.record_use(self._rid, rec.vid)
        if aliases:
            astore.set_aliases(rec.vid, aliases, (), who(self._rid))
            rec = astore.version_by_vid(rec.vid)
        return Artifact._from_record(astore, rec)

    def link_artifact(self, artifact: Artifact, target_path: str, aliases: list[str] | None = None) -> Artifact:
        """Link a logged version into a registry collection ``"registry/collection"``: the
        collection gets a version with the same files (stored once) and ``aliases``."""
        rec = artifact._record()
        parts = str(target_path).strip("/").split("/")
        if len(parts) != 2:
            raise ArtifactError(f"tracker: link target must be 'registry/collection', got {target_path!r:.80}")
        project, collection = check_name(parts[0], "registry name"), check_name(parts[1], "collection name")
        astore = self._artifact_store()
        linked, _ = astore.log_version(
            project=project, name=collection, type=rec.type, description=rec.description, metadata=rec.metadata,
            entries=astore.files(rec.vid), staged=[], aliases=list(aliases or []), rid=None,
            who=who(self._rid), source_vid=rec.vid)
        return Artifact._from_record(astore, linked)

    def logged_artifacts(self) -> list[Artifact]:
        """Versions this run logged (waits for the ones still being committed)."""
        self._wait_artifacts(None, report=False)
        astore = self._artifact_store()
        return [Artifact._from_record(astore, r) for r in astore.run_versions(self.id, "logged")]

    def used_artifacts(self) -> list[Artifact]:
        astore = self._artifact_store()
        return [Artifact._from_record(astore, r) for r in astore.run_versions(self.id, "used")]

    def _wait_artifacts(self, timeout: float | None, report: bool = True) -> None:
        """Wait for logged artifacts (``finish()``); failures are printed, never raised."""
        c = self._committer
        if c is None:
            return
        for art in list(c.pending):
            if not art._done.wait(timeout):
                print(f"tracker: artifact {art.name!r} was not committed within {timeout} s", file=sys.stderr)
                continue
            c.pending.remove(art)
            if art._error is not None and report:
                print(f"tracker: run {self.id}: artifact {art.name!r} was not logged: {art._error}", file=sys.stderr)

    def _close_artifacts(self, timeout: float | None) -> None:
        self._wait_artifacts(timeout)
        c, self._committer = self._committer, None
        if c is not None:
            c.q.put(None)  # the connection stays open: returned artifacts still read through it


def _current() -> Any:
    from . import _state

    run = _state.current
    if run is None:
        raise RuntimeError("tracker: no active run; call tracker.init() first")
    return run


def log_artifact(artifact_or_path: Any, name: str | None = None, type: str | None = None,
                 aliases: list[str] | None = None) -> Artifact:
    """``log_artifact()`` on the current run."""
    return _current().log_artifact(artifact_or_path, name=name, type=type, aliases=aliases)


def use_artifact(artifact_or_name: Any, type: str | None = None, aliases: list[str] | None = None) -> Artifact:
    """``use_artifact()`` on the current run."""
    return _current().use_artifact(artifact_or_name, type=type, aliases=aliases)
