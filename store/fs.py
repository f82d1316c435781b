"""Filesystem facts the store depends on: where it lives, who may read it, what it sits on.

SQLite's WAL mode is unsafe on network filesystems (its authors: WAL "does not work over a
network filesystem"), so the store refuses them unless the user opts into a slower, single-host
rollback-journal mode. Files are created private to the user (0700 dir, 0600 files): SQLite
copies the main file's mode onto ``-wal`` and ``-shm``, so pre-creating the db as 0600 covers all
three (RELIABILITY.md §B4).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

DB_NAME = "tracker.db"

#: Filesystem types on which SQLite locking/WAL cannot be trusted.
NETWORK_FS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "lustre", "gpfs", "ceph",
        "fuse.sshfs", "sshfs", "fuse.glusterfs", "glusterfs", "fuse.s3fs", "fuse.gcsfuse",
        "beegfs", "afs", "9p", "fuse.rclone", "fuse.juicefs", "panfs", "wekafs", "fuse.cephfs",
    }
)


class StoreDirError(RuntimeError):
    """The store directory cannot be used (not creatable, not writable, unsafe filesystem)."""


#: Names the tracker itself creates in a store directory (the database, its WAL and shared-memory
#: files, pre-migration backups, per-run file folders, the demo store of ``tracker-tui demo``).
_OUR_NAMES = re.compile(re.escape(DB_NAME) + r"(-wal|-shm|-journal|-reserve|\.v\d+\.bak)?|runs|demo")


def default_dir() -> Path:
    """``~/.tracker``: the store directory when neither ``dir`` nor ``$TRACKER_DIR`` is given."""
    return Path.home() / ".tracker"


def resolve_dir(dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the store directory: ``dir`` argument > ``$TRACKER_DIR`` > ``~/.tracker``."""
    if dir is not None and str(dir) != "":
        return Path(dir).expanduser()
    env = os.environ.get("TRACKER_DIR")
    if env:
        return Path(env).expanduser()
    return default_dir()


def _unescape_mount(field: str) -> str:
    # /proc/self/mountinfo escapes space, tab, newline and backslash as octal.
    return (
        field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
    )


def filesystem_type(path: str | os.PathLike[str]) -> str | None:
    """Return the filesystem type of the mount holding ``path`` (Linux), or None if unknown."""
    try:
        target = os.path.realpath(path)
        best, best_type = "", None
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                parts = left.split()
                if len(parts) < 5 or not right:
                    continue
                mnt = _unescape_mount(parts[4])
                if target == mnt or target.startswith(mnt.rstrip("/") + "/") or mnt == "/":
                    if len(mnt) >= len(best):
                        best, best_type = mnt, right.split()[0]
        return best_type
    except OSError:
        return None


def is_network_fs(fstype: str | None) -> bool:
    """True when ``fstype`` is a filesystem where SQLite WAL is unsafe."""
    if not fstype:
        return False
    return fstype.lower() in NETWORK_FS or fstype.lower().startswith(("nfs", "fuse.sshfs", "cifs"))


def ensure_private_dir(path: Path, *, tighten: bool = False) -> None:
    """Create ``path`` (mode 0700) if missing; raise StoreDirError naming it when unusable.

    With ``tighten`` (``~/.tracker`` and stores inside it), an existing directory that is the user's and
    holds nothing but the tracker's own files — one we created, e.g. an older ``tracker-tui
    demo`` made it 0755 — is made private too. A directory the user chose or filled is left as
    it is.
    """
    hint = "Choose another location with tracker.init(dir=...) or the TRACKER_DIR environment variable."
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise StoreDirError(f"tracker: cannot create the store directory {path}: {e.strerror or e}. {hint}") from e
    if not path.is_dir():
        raise StoreDirError(f"tracker: the store path {path} exists but is not a directory. {hint}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise StoreDirError(f"tracker: the store directory {path} is not writable by this user. {hint}")
    if tighten:
        make_private_if_ours(path)


def make_private_if_ours(path: Path) -> None:
    """Make ``path`` 0700 if it is the user's and holds only the tracker's own files."""
    try:
        st = path.stat()
        mode = stat.S_IMODE(st.st_mode)
        if not mode & 0o077 or st.st_uid != os.getuid():
            return
        if all(_OUR_NAMES.fullmatch(name) for name in os.listdir(path)):
            os.chmod(path, mode & 0o700)
    except OSError:
        return  # best effort: the store works either way


def precreate_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (race-safe, no symlink follow)."""
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return
    os.close(fd)
