"""Artifact records and the rules for the names in them (shared by the logger, the CLI and the app).

Names are checked where they enter (``Artifact("name")``, ``add_file(name=...)``, an alias) and
again where a stored path leaves the store (``download()``): a manifest path never escapes the
download root, whatever the database holds.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import StoreError

__all__ = [
    "ArtifactError",
    "ArtifactNotFound",
    "ArtifactSummary",
    "FileEntry",
    "VersionRecord",
    "check_alias",
    "check_name",
    "check_path",
    "manifest_digest",
    "parse_ref",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_VERSION = re.compile(r"v(\d+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ArtifactError(StoreError, ValueError):
    """A bad artifact name, alias or path, or an operation the store refuses (with the reason)."""


class ArtifactNotFound(ArtifactError, LookupError):
    """No artifact, version or alias by that name."""


def check_name(name: Any, what: str = "artifact name") -> str:
    """An artifact, type or collection name: letters, digits, ``_ . -``; at most 128."""
    s = str(name) if isinstance(name, str) else ""
    if not _NAME.fullmatch(s):
        raise ArtifactError(
            f"tracker: {what} {name!r:.80} is not allowed: use letters, digits, '_', '.' and '-' "
            "(starting with a letter or digit, at most 128 characters)")
    return s


def check_alias(alias: Any) -> str:
    """A user alias: a name that is not ``vN`` (version numbers are reserved)."""
    s = check_name(alias, "alias")
    if _VERSION.fullmatch(s):
        raise ArtifactError(f"tracker: alias {s!r} is reserved: 'vN' names a version number")
    return s


def version_number(selector: str) -> int | None:
    m = _VERSION.fullmatch(selector)
    return int(m.group(1)) if m else None


def check_path(path: Any) -> str:
    """A file's path inside an artifact: relative, ``/``-separated, no ``..``, no control
    characters (a newline in a name would forge lines in listings). Returns it normalised."""
    if not isinstance(path, str) or not path:
        raise ArtifactError(f"tracker: an artifact file name must be a non-empty string, got {path!r:.80}")
    if _CONTROL.search(path):
        raise ArtifactError(f"tracker: artifact file name {path!r:.80} contains control characters")
    if path.startswith("/") or path.startswith("\\") or re.match(r"[A-Za-z]:[\\/]", path):
        raise ArtifactError(f"tracker: artifact file name {path!r:.80} is absolute; use a relative name")
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ArtifactError(f"tracker: artifact file name {path!r:.80} may not contain '..'")
    if len(path.encode("utf-8", "surrogateescape")) > 1024:
        raise ArtifactError(f"tracker: artifact file name {path!r:.60}… is longer than 1024 bytes")
    return "/".join(parts)


def parse_ref(ref: str) -> tuple[str | None, str, str]:
    """``[project/]name[:alias|vN]`` -> (project or None, name, selector; default ``latest``)."""
    if not isinstance(ref, str) or not ref.strip():
        raise ArtifactError(f"tracker: expected 'name:alias' or 'project/name:vN', got {ref!r:.80}")
    body, sep, sel = ref.strip().rpartition(":")
    if not sep:
        body, sel = sel, "latest"
    parts = body.split("/")
    project = parts[-2] if len(parts) >= 2 else None
    name = check_name(parts[-1])
    if not sel:
        raise ArtifactError(f"tracker: {ref!r:.80}: empty version or alias after ':'")
    return project, name, sel


@dataclass(frozen=True)
class FileEntry:
    """One manifest row: a stored object (``digest``) or a reference (``ref``, never fetched)."""

    path: str
    digest: str | None
    size: int | None
    ref: str | None = None
    etag: str | None = None

    def key(self) -> list[Any]:
        return [self.path, self.digest, self.size, self.ref, self.etag]


def manifest_digest(entries: list[FileEntry]) -> str:
    """The content digest of an artifact version: SHA-256 over its sorted manifest."""
    body = json.dumps(sorted(e.key() for e in entries), separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass
class VersionRecord:
    """One stored version of an artifact."""

    vid: int
    aid: int
    project: str
    name: str
    type: str
    version: int
    digest: str
    description: str | None
    metadata: dict[str, Any]
    size: int
    file_count: int
    created_at: float
    run_id: str | None
    source: str | None = None
    aliases: list[str] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{self.project}/{self.name}:v{self.version}"


@dataclass
class ArtifactSummary:
    """One artifact (all its versions) for listings."""

    aid: int
    project: str
    name: str
    type: str
    description: str | None
    versions: int
    latest: int | None
    size: int
    aliases: list[tuple[str, int]]
    producer: str | None
    updated_at: float
