"""A content-addressed object store: files kept once by SHA-256 under ``<store>/objects``.

    objects/ab/cdef…   the object whose SHA-256 is ``abcdef…``, mode 0444
    objects/tmp/       files being ingested: ``<pid>-<random>.tmp``, never visible as objects

Ingest copies (reflinks where the filesystem can) a file into ``tmp/`` while hashing it, then
renames it to its digest: a process killed mid-ingest leaves only a temporary file, never a
partial object. A user's file is never hardlinked in (a later ``torch.save`` to the same path
would rewrite the stored bytes). Objects are shared by everything that stores files (artifacts
now, rich media later); callers record which digests they reference, and :func:`sweep` deletes
the rest under the caller's lock (see :mod:`.artifacts`).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["CHUNK", "ObjectStore", "ObjectStoreError", "Staged", "is_digest"]

#: Read/write size of a copy: large enough that hashing, not syscalls, sets the pace.
CHUNK = 4 << 20
#: Files at least this big are copied in the kernel with the hash computed alongside.
_OVERLAP_MIN = 16 << 20
_BIG_CHUNK = 16 << 20  # fewer GIL hand-offs: each can stall a thread calling log()
_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_DIGEST = re.compile(r"[0-9a-f]{64}")


#: Up to this many snapshots are fsynced one by one; more, by one syncfs of the filesystem.
_FSYNC_EACH = 32


def _syncfs(fd: int) -> int:
    try:
        import ctypes

        return int(ctypes.CDLL(None, use_errno=True).syncfs(fd))
    except (OSError, AttributeError):
        return -1


_SFR_WRITE, _SFR_WAIT = 2, 1 | 2 | 4  # SYNC_FILE_RANGE_WRITE; WAIT_BEFORE | WRITE | WAIT_AFTER
_sfr: object = None


def _sync_range(fd: int, off: int, n: int, flags: int) -> None:
    """``sync_file_range`` where libc has it (Linux), else nothing: writes a range back without
    the journal commit an fsync forces (that is left to the one fsync at the end)."""
    global _sfr
    if _sfr is None:
        try:
            import ctypes

            f = ctypes.CDLL(None, use_errno=True).sync_file_range
            f.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
            _sfr = f
        except (OSError, AttributeError):
            _sfr = False
    if _sfr:
        _sfr(fd, off, n, flags)  # type: ignore[operator]


def is_digest(s: str) -> bool:
    """Is ``s`` a lowercase hex SHA-256 (the only names the store accepts)?"""
    return bool(_DIGEST.fullmatch(s))


class ObjectStoreError(OSError):
    """A file could not be stored or read; the message names the file and the reason."""


@dataclass
class Staged:
    """A snapshot of a file (not yet an object): in ``tmp/``, or for a small file its bytes in
    memory (``data``; written out only if no object has them yet). ``digest`` is None until
    hashed."""

    tmp: Path | None
    size: int
    digest: str | None = None
    data: bytes | None = None
    durable: bool = False  # already fsynced (a big copy is, while its hash finishes)


def _reflink(src_fd: int, dst_fd: int) -> bool:
    try:
        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
        return True
    except OSError:
        return False


def _read_all(fd: int, size: int) -> bytes:
    parts: list[bytes] = []
    while True:
        b = os.read(fd, max(size, 1 << 16))
        if not b:
            return b"".join(parts)
        parts.append(b)


def _copy_hashing(src_fd: int, dst_fd: int) -> tuple[str, int]:
    """Copy ``src_fd`` to ``dst_fd`` hashing on the way; returns (sha256 hex, size)."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    while True:
        n = os.readv(src_fd, [buf])
        if n == 0:
            break
        chunk = view[:n]
        h.update(chunk)
        off = 0
        while off < n:
            off += os.write(dst_fd, chunk[off:])
        size += n
    return h.hexdigest(), size


class _Trail:
    """Hashes the copy ``dst_fd`` a chunk behind the thread copying into it (on its own thread:
    SHA-256 and the copy each take one core, and both release the GIL for whole chunks). It
    hashes the bytes written, not the source, so a source changed mid-copy can never give an
    object whose name is not the hash of its bytes."""

    def __init__(self, dst_fd: int) -> None:
        self.fd = dst_fd
        self.h = hashlib.sha256()
        self.copied = 0
        self.hashed = 0
        self.done = False
        self.error: BaseException | None = None
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="tracker-hash", daemon=True)
        self.thread.start()

    def advance(self, copied: int, done: bool = False) -> None:
        with self.cond:
            self.copied, self.done = copied, done or self.done
            self.cond.notify()

    def _run(self) -> None:
        buf = bytearray(_BIG_CHUNK)
        view = memoryview(buf)
        try:
            while True:
                with self.cond:
                    while self.copied <= self.hashed and not self.done:
                        self.cond.wait()
                    limit, done = self.copied, self.done
                while self.hashed < limit:
                    n = os.preadv(self.fd, [view[:min(_BIG_CHUNK, limit - self.hashed)]], self.hashed)
                    if n == 0:
                        raise OSError(errno.EIO, "the copy is shorter than what was written to it")
                    self.h.update(view[:n])
                    self.hashed += n
                if done:
                    return
        except BaseException as e:  # reported by finish() on the copying thread
            self.error = e

    def finish(self, size: int) -> str:
        self.advance(size, done=True)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.h.hexdigest()


def _copy_overlapped(src_fd: int, dst_fd: int) -> tuple[str, int]:
    """Copy a big file in the kernel (``copy_file_range``: no bytes through Python) while
    :class:`_Trail` hashes what is already copied; falls back to read/write where the kernel
    or filesystem cannot. Returns (sha256 hex, size)."""
    trail = _Trail(dst_fd)
    size = prev = 0
    try:
        kernel = hasattr(os, "copy_file_range")
        buf = view = None
        while True:
            if kernel:
                try:
                    n = os.copy_file_range(src_fd, dst_fd, _BIG_CHUNK)
                except OSError as e:
                    if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP) or size:
                        raise
                    kernel = False
                    continue
            else:
                if buf is None:
                    buf = bytearray(CHUNK)
                    view = memoryview(buf)
                n = os.readv(src_fd, [buf])
                off = 0
                while off < n:
                    off += os.write(dst_fd, view[off:n])  # type: ignore[index]
            if n == 0:
                break
            # Keep at most two chunks of this file unwritten: a big copy must not fill the page
            # cache with dirty pages that every other fsync on the disk (the metrics writer's
            # commits: log() waits for those when they fall behind) then queues behind.
            _sync_range(dst_fd, size, n, _SFR_WRITE)
            if size:
                _sync_range(dst_fd, size - prev, prev, _SFR_WAIT)
            size += n
            prev = n
            trail.advance(size)
        trail.advance(size, done=True)
        os.fsync(dst_fd)  # on disk while the hash catches up (make_durable then skips it)
    except BaseException:
        trail.finish(size)
        raise
    return trail.finish(size), size


def hash_fd(fd: int) -> tuple[str, int]:
    """SHA-256 and size of an open file from its current offset."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    while True:
        n = os.readv(fd, [buf])
        if n == 0:
            return h.hexdigest(), size
        h.update(view[:n])
        size += n


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class ObjectStore:
    """Objects under ``root`` (``<store dir>/objects``); created on first write."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self._ready = False
        self._can_reflink = True

    # ------------------------------------------------------------------ paths
    def path_of(self, digest: str) -> Path:
        """Where the object ``digest`` lives (whether or not it exists)."""
        if not is_digest(digest):
            raise ValueError(f"tracker: not a SHA-256 digest: {digest!r:.80}")
        return self.root / digest[:2] / digest[2:]

    def exists(self, digest: str) -> bool:
        return self.path_of(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path_of(digest).stat().st_size

    def open(self, digest: str) -> BinaryIO:
        """Open an object for reading (binary)."""
        return open(self.path_of(digest), "rb")

    def _ensure(self) -> None:
        if self._ready and self.tmp_dir.is_dir():
            return
        for d in (self.root, self.tmp_dir):
            try:
                os.mkdir(d, 0o700)
            except FileExistsError:
                pass
        self._ready = True

    def make_durable(self, staged: list[Staged]) -> None:
        """Flush snapshots to disk before a database row names them (a power cut must not leave
        a committed version pointing at empty objects). A few files are fsynced one by one; many
        small files at once by one ``syncfs`` of the store's filesystem (10,000 fsyncs took 20 s)."""
        staged = [s for s in staged if s.tmp is not None and not s.durable]
        if not staged:
            return
        if len(staged) <= _FSYNC_EACH:
            for s in staged:
                assert s.tmp is not None
                fd = os.open(s.tmp, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            return
        fd = os.open(self.tmp_dir, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)

    def _tmp(self) -> tuple[Path, int]:
        self._ensure()
        p = self.tmp_dir / f"{os.getpid()}-{secrets.token_hex(8)}.tmp"
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        return p, fd

    # ------------------------------------------------------------------ ingest
    def stage_file(self, src: str | os.PathLike[str], *, hash_now: bool = True, max_memory: int = 0) -> Staged:
        """Snapshot ``src`` now: a file of at most ``max_memory`` bytes is read into memory;
        a larger one is reflinked, else copied while hashing, into ``tmp/``.

        After this returns the caller may overwrite ``src``. With a reflink the hash is left for
        :meth:`finish_hash` (``hash_now=False``) so a large file costs almost nothing here.
        """
        tmp: Path | None = None
        try:
            src_fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise ObjectStoreError(e.errno, f"tracker: cannot read {os.fspath(src)!r}: {e.strerror}") from e
        try:
            st = os.fstat(src_fd)
            if not stat.S_ISREG(st.st_mode):
                raise ObjectStoreError(errno.EINVAL, f"tracker: {os.fspath(src)!r} is not a regular file")
            if st.st_size <= max_memory:
                data = _read_all(src_fd, st.st_size)
                return Staged(None, len(data), hashlib.sha256(data).hexdigest(), data)
            tmp, fd = self._tmp()
            try:
                if st.st_size and self._can_reflink and _reflink(src_fd, fd):
                    staged = Staged(tmp, st.st_size)
                    if hash_now:
                        self.finish_hash(staged)
                    return staged
                if st.st_size:
                    self._can_reflink = False  # this filesystem cannot: do not ask for every file
                if st.st_size >= _OVERLAP_MIN:
                    digest, size = _copy_overlapped(src_fd, fd)
                    return Staged(tmp, size, digest, durable=True)
                digest, size = _copy_hashing(src_fd, fd)
                return Staged(tmp, size, digest)
            finally:
                os.close(fd)
        except ObjectStoreError:
            self._discard(tmp)
            raise
        except OSError as e:
            self._discard(tmp)
            raise ObjectStoreError(
                e.errno, f"tracker: cannot store {os.fspath(src)!r} in {self.root}: {e.strerror or e}") from e
        finally:
            os.close(src_fd)

    def spill(self, staged: Staged) -> None:
        """Write an in-memory snapshot to ``tmp/`` (its object does not exist yet)."""
        if staged.tmp is None and staged.data is not None:
            staged.tmp = self.stage_bytes(staged.data).tmp
            staged.data = None

    def stage_bytes(self, data: bytes) -> Staged:
        tmp, fd = self._tmp()
        try:
            view = memoryview(data)
            off = 0
            while off < len(view):
                off += os.write(fd, view[off:])
        except OSError as e:
            os.close(fd)
            self._discard(tmp)
            raise ObjectStoreError(e.errno, f"tracker: cannot write to {self.root}: {e.strerror or e}") from e
        os.close(fd)
        return Staged(tmp, len(data), hashlib.sha256(data).hexdigest())

    def finish_hash(self, staged: Staged) -> str:
        """Hash a reflinked snapshot (a no-op when it was hashed while copying)."""
        if staged.digest is None and staged.tmp is not None:
            fd = os.open(staged.tmp, os.O_RDONLY | os.O_CLOEXEC)
            try:
                staged.digest, staged.size = hash_fd(fd)
            finally:
                os.close(fd)
        return staged.digest or ""

    def place(self, staged: Staged) -> bool:
        """Make a staged snapshot the object of its digest (atomic rename, read-only).

        Returns True if it became the object; False if the object was already there (the
        snapshot is left for :meth:`discard`). Run under the caller's lock when a concurrent
        :func:`sweep` could otherwise delete the object between a check and a reference.
        """
        digest = self.finish_hash(staged)
        dest = self.path_of(digest)
        if dest.is_file():
            return False
        if staged.tmp is None:  # in memory, and its object went away since it was checked
            self.spill(staged)
            self.make_durable([staged])
        assert staged.tmp is not None
        try:
            os.mkdir(dest.parent, 0o700)
        except FileExistsError:
            pass
        os.chmod(staged.tmp, 0o444)
        os.rename(staged.tmp, dest)
        return True

    def discard(self, staged: Staged) -> None:
        self._discard(staged.tmp)
        staged.data = None

    @staticmethod
    def _discard(tmp: Path | None) -> None:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def put_file(self, src: str | os.PathLike[str]) -> str:
        """Store a copy of ``src``; returns its digest. For callers with no reference to race."""
        staged = self.stage_file(src)
        self.make_durable([staged])
        if not self.place(staged):
            self.discard(staged)
        return staged.digest or ""

    def put_bytes(self, data: bytes) -> str:
        staged = self.stage_bytes(data)
        self.make_durable([staged])
        if not self.place(staged):
            self.discard(staged)
        return staged.digest or ""

    # ------------------------------------------------------------------ read back
    def materialize(self, digest: str, dest: str | os.PathLike[str], *, hardlink: bool = False) -> None:
        """Write object ``digest`` to ``dest`` (reflink or copy; a hardlink only on request),
        through a temporary name beside it so ``dest`` is never seen half-written."""
        src = self.path_of(digest)
        dest = Path(dest)
        part = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
        try:
            if hardlink:
                os.link(src, part)
            else:
                with open(src, "rb") as fin, open(part, "wb") as fout:
                    if not _reflink(fin.fileno(), fout.fileno()):
                        shutil.copyfileobj(fin, fout, CHUNK)
            os.replace(part, dest)
        except BaseException:
            self._discard(part)
            raise

    def verify(self, digest: str) -> bool:
        """Re-hash an object: is it present and still the bytes of its name?"""
        try:
            with self.open(digest) as f:
                return hash_fd(f.fileno())[0] == digest
        except OSError:
            return False

    # ------------------------------------------------------------------ garbage collection
    def digests(self) -> Iterator[tuple[str, Path]]:
        """Every object file: ``(digest, path)``."""
        try:
            prefixes = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return
        for pre in prefixes:
            if len(pre) != 2 or pre == "tm":
                continue
            try:
                names = os.listdir(self.root / pre)
            except NotADirectoryError:
                continue
            for rest in names:
                if is_digest(pre + rest):
                    yield pre + rest, self.root / pre / rest

    def sweep(self, referenced: set[str], grace: float, now: float | None = None) -> tuple[int, int]:
        """Delete objects not in ``referenced`` and older than ``grace`` seconds, and snapshots
        of processes that are gone. Returns ``(objects deleted, bytes freed)``."""
        now = time.time() if now is None else now
        n = freed = 0
        for digest, path in list(self.digests()):
            if digest in referenced:
                continue
            try:
                st = path.stat()
                if now - st.st_mtime < grace:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            n += 1
            freed += st.st_size
        self.sweep_tmp()
        return n, freed

    def sweep_tmp(self) -> int:
        """Remove snapshots left by processes that no longer run (a kill -9 mid-ingest)."""
        removed = 0
        try:
            names = os.listdir(self.tmp_dir)
        except FileNotFoundError:
            return 0
        for name in names:
            pid_s = name.split("-", 1)[0]
            if pid_s.isdigit() and int(pid_s) != os.getpid() and not _pid_alive(int(pid_s)):
                self._discard(self.tmp_dir / name)
                removed += 1
        return removed

    def touch(self, digest: str) -> None:
        """Refresh an object's mtime (it was just referenced again: the grace period restarts)."""
        try:
            os.utime(self.path_of(digest))
        except OSError:
            pass
