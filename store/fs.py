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
_OUR_NAMES = re.compile(re.escape(DB_NAME) + r"(-wal|-shm|-journal|-reserve|\.v\d+\.bak)?|runs|objects|demo")


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
    demo`` made it 0755 — is made private too. A directory the user chose or filled keeps its
    mode, unless anyone may write to it: see :func:`refuse_or_fix_world_writable`.
    """
    hint = "Choose another location with tracker.init(dir=...) or the TRACKER_DIR environment variable."
    if path.exists() and not path.is_dir():  # before mkdir, whose "File exists" would say less
        raise StoreDirError(f"tracker: the store path {path} exists but is not a directory. {hint}")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise StoreDirError(f"tracker: cannot create the store directory {path}: {e.strerror or e}. {hint}") from e
    if not os.access(path, os.W_OK | os.X_OK):
        raise StoreDirError(f"tracker: the store directory {path} is not writable by this user. {hint}")
    refuse_or_fix_world_writable(path)
    if tighten:
        make_private_if_ours(path)


def refuse_or_fix_world_writable(path: Path) -> None:
    """A store directory anyone may write to lets another user swap the database (or plant a
    symlink where it will be created). The user's own such directory is fixed — 0700 when it
    holds only the tracker's files, else group and world write removed — with a warning that
    says so; someone else's is refused. A sticky directory (``/tmp``) is left as it is: others
    cannot remove or rename what this user creates there."""
    try:
        st = path.stat()
    except OSError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o002 or mode & stat.S_ISVTX:
        return  # sticky, like /tmp: shared by design, and others cannot remove or rename our files
    if st.st_uid != os.getuid():
        raise StoreDirError(
            f"tracker: the store directory {path} is writable by every user ({mode:04o}) and not yours, so "
            "another user could replace the database. Choose another location with tracker.init(dir=...) or "
            "TRACKER_DIR."
        )
    try:
        ours = all(_OUR_NAMES.fullmatch(name) for name in os.listdir(path))
        new = mode & 0o700 if ours else mode & ~0o022
        os.chmod(path, new)
    except OSError as e:
        raise StoreDirError(
            f"tracker: the store directory {path} is writable by every user ({mode:04o}) and its mode could not "
            f"be changed ({e.strerror or e}). Run chmod go-w {path}, or choose another location."
        ) from e
    import warnings

    warnings.warn(f"tracker: the store directory {path} was writable by every user ({mode:04o}); changed it to "
                  f"{new:04o} so no other user can replace the database", stacklevel=4)


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


def private_subdir(path: Path) -> Path:
    """Create ``path`` and any missing parents 0700 whatever the umask (``runs/<id>`` under a
    store: ``mkdir(parents=True)`` makes the parents 0777 under umask 000); an existing
    ``runs/`` of the user's that others may write to is made 0700."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(d, 0o700)  # mkdir's mode is masked by the umask only to take bits away
    runs = path.parent
    try:
        st = runs.stat()
        if runs.name == "runs" and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o022:
            os.chmod(runs, 0o700)
    except OSError:
        pass
    return path


def read_only_message(dir: Path, path: Path) -> str:
    """Why a run cannot be logged to a store whose database file this user may not write."""
    try:
        mode = f" (mode {stat.S_IMODE(path.stat().st_mode):04o})"
    except OSError:
        mode = ""
    fix = f"chmod u+w {path}" if os.access(dir, os.W_OK) else f"make {dir} and {path} writable"
    return (f"tracker: the store database {path} is read-only for this user{mode}, so a run cannot be logged "
            f"to it. {fix[0].upper()}{fix[1:]}, or choose another location with tracker.init(dir=...) or "
            "TRACKER_DIR.")


def precreate_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (race-safe, no symlink follow).

    A symlink whose target does not exist is refused: SQLite would follow it and create the
    target with the umask's mode, wherever it points."""
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        if path.is_symlink() and not path.exists():
            raise StoreDirError(
                f"tracker: {path} is a symlink to {os.readlink(path)}, which does not exist; refusing to create "
                f"a database through it. Remove the link (rm {path}) or point it at an existing store."
            ) from None
        return
    os.close(fd)
