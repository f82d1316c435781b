"""Artifact reads on ``tracker.Api`` and ``ApiRun`` (wandb's names)::

    api = tracker.Api()
    art = api.artifact("cifar/model:production")      # [project/]name[:alias|vN], default latest
    for v in api.artifacts("model", "cifar/model"):   # every version, newest first
        print(v.version, v.aliases, v.logged_by().id)
"""

from __future__ import annotations

from typing import Any

from tracker.store.artifacts_models import ArtifactError, ArtifactNotFound, parse_ref

from ._artifacts import Artifact


def _split(name: str) -> tuple[str | None, str]:
    parts = str(name).split("/")
    return (parts[-2] if len(parts) >= 2 else None), parts[-1]


class ArtifactApiMixin:
    """Artifact methods of :class:`tracker.Api`."""

    _store: Any
    _artifact_db: Any = None

    def _artifacts(self) -> Any:
        from tracker.store import StoreMissing

        if self._store is None:
            raise StoreMissing("tracker: no store to read artifacts from (set TRACKER_DIR or Api(dir=...))")
        if self._artifact_db is None:
            from tracker.store.artifacts import ArtifactStore

            self._artifact_db = ArtifactStore(self._store)
        return self._artifact_db

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """The version ``[project/]name[:alias|vN]`` (``latest`` when no alias is given)."""
        project, art_name, sel = parse_ref(name)
        rec = self._artifacts().resolve(project, art_name, sel)
        if type is not None and rec.type != type:
            raise ArtifactError(f"tracker: {rec.qualified} has type {rec.type!r}, not {type!r}")
        return Artifact._from_record(self._artifacts(), rec)

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        try:
            self.artifact(name, type)
        except ArtifactNotFound:
            return False
        return True

    def artifacts(self, type_name: str, name: str, per_page: int = 50) -> list[Artifact]:
        """Every version of the artifact ``[project/]name`` of type ``type_name``, newest first."""
        project, art_name = _split(name)
        a = self._artifacts()
        if project is None:
            project = a.resolve(None, art_name, "latest").project
        out = [Artifact._from_record(a, r) for r in a.versions(project, art_name)]
        return [v for v in out if v.type == type_name]

    def artifact_types(self, project: str | None = None) -> list[str]:
        return [] if self._store is None else list(self._artifacts().types(project))

    def artifact_collections(self, project_name: str | None = None, type_name: str | None = None) -> list[Any]:
        """Artifacts (all versions of one name) as summaries: ``name``, ``type``, ``versions``,
        ``aliases``, ``size``, ``project``."""
        return [] if self._store is None else list(self._artifacts().artifacts(project_name, type_name))

    def list_artifacts(self, path: str | None = None, type: str | None = None) -> list[Artifact]:
        """The latest version of every artifact under ``path`` (a project, or ``project/name``)."""
        if self._store is None:
            return []
        project, name = (None, None) if not path else ((path, None) if "/" not in path else _split(path))
        a = self._artifacts()
        out = []
        for s in a.artifacts(project, type, name):
            if s.latest is not None:
                out.append(Artifact._from_record(a, a.resolve(s.project, s.name, f"v{s.latest}")))
        return out


class ApiRunArtifactsMixin:
    """``logged_artifacts()`` / ``used_artifacts()`` of :class:`tracker.api.ApiRun`."""

    _store: Any
    id: str

    def _versions(self, kind: str) -> list[Artifact]:
        from tracker.store.artifacts import ArtifactStore

        a = ArtifactStore(self._store)
        return [Artifact._from_record(a, r) for r in a.run_versions(self.id, kind)]

    def logged_artifacts(self) -> list[Artifact]:
        return self._versions("logged")

    def used_artifacts(self) -> list[Artifact]:
        return self._versions("used")
