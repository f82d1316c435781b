"""The content-addressed object store on its own (shared by artifacts and, later, rich media)."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracker.store.objects import ObjectStore, ObjectStoreError


def test_put_open_exists_and_read_only(tmp_path: Path) -> None:
    o = ObjectStore(tmp_path / "objects")
    d = o.put_bytes(b"hello")
    assert d == hashlib.sha256(b"hello").hexdigest() and o.exists(d) and o.size(d) == 5
    with o.open(d) as f:
        assert f.read() == b"hello"
    assert o.path_of(d) == tmp_path / "objects" / d[:2] / d[2:]
    assert not o.path_of(d).stat().st_mode & 0o222
    src = tmp_path / "src"
    src.write_bytes(b"hello")
    assert o.put_file(src) == d and src.stat().st_nlink == 1  # dedup, and never a hardlink
    assert [x for x, _ in o.digests()] == [d]
    with pytest.raises(ValueError):
        o.path_of("../../etc/passwd")
    with pytest.raises(ObjectStoreError, match="not a regular file"):
        o.put_file(tmp_path)
    with pytest.raises(ObjectStoreError, match="cannot read"):
        o.put_file(tmp_path / "missing")


def test_small_files_in_memory_are_written_only_when_new(tmp_path: Path) -> None:
    o = ObjectStore(tmp_path / "objects")
    src = tmp_path / "s"
    src.write_bytes(b"x" * 100)
    st = o.stage_file(src, max_memory=1000)
    assert st.tmp is None and st.data == b"x" * 100
    src.write_bytes(b"changed")  # the snapshot is already taken
    assert o.place(st) and o.path_of(st.digest or "").read_bytes() == b"x" * 100
    again = o.stage_file(tmp_path / "s", max_memory=1000)
    big = o.stage_file(src, max_memory=3)
    assert big.tmp is not None and big.tmp.parent == o.tmp_dir
    o.discard(big)
    o.discard(again)
    assert list(o.tmp_dir.iterdir()) == []


def test_materialize_copies_or_hardlinks_on_request(tmp_path: Path) -> None:
    o = ObjectStore(tmp_path / "objects")
    d = o.put_bytes(os.urandom(10_000))
    o.materialize(d, tmp_path / "copy")
    o.materialize(d, tmp_path / "link", hardlink=True)
    assert (tmp_path / "copy").read_bytes() == o.path_of(d).read_bytes()
    assert (tmp_path / "copy").stat().st_ino != o.path_of(d).stat().st_ino
    assert (tmp_path / "link").stat().st_ino == o.path_of(d).stat().st_ino
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    assert o.verify(d)
    os.chmod(o.path_of(d), stat.S_IWUSR | stat.S_IRUSR)
    o.path_of(d).write_bytes(b"rot")
    assert not o.verify(d)


def test_sweep_keeps_referenced_and_young_objects_and_live_snapshots(tmp_path: Path) -> None:
    o = ObjectStore(tmp_path / "objects")
    keep, young, old = o.put_bytes(b"keep"), o.put_bytes(b"young"), o.put_bytes(b"old")
    past = time.time() - 7200
    for d in (keep, old):
        os.utime(o.path_of(d), (past, past))
    mine = o.stage_file(_file(tmp_path / "a", b"in flight"))  # this process is alive
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
    orphan = o.tmp_dir / f"{dead_pid}-0123456789abcdef.tmp"
    orphan.write_bytes(b"left by kill -9")
    assert o.sweep({keep}, grace=3600) == (1, 3)
    assert o.exists(keep) and o.exists(young) and not o.exists(old)
    assert mine.tmp is not None and mine.tmp.exists() and not orphan.exists()


def _file(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p


def _odd_big(path: Path) -> bytes:
    data = os.urandom(1 << 20) * 20 + b"tail" * 1001  # over the overlap threshold, not a chunk multiple
    path.write_bytes(data)
    return data


def test_big_file_is_copied_in_the_kernel_hashed_alongside_and_synced_once(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data = _odd_big(tmp_path / "big")
    o = ObjectStore(tmp_path / "objects")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    staged = o.stage_file(tmp_path / "big")
    assert staged.digest == hashlib.sha256(data).hexdigest() and staged.size == len(data)
    assert len(synced) == 1  # the copy was flushed while its hash finished
    o.make_durable([staged])
    assert len(synced) == 1  # ... so committing it costs no second fsync
    assert o.place(staged)
    with o.open(staged.digest) as f:
        assert f.read() == data
    assert os.listdir(o.tmp_dir) == []


def test_big_file_falls_back_to_read_write_where_the_kernel_cannot_copy(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    data = _odd_big(tmp_path / "big")

    def refuse(*a: object, **k: object) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    o = ObjectStore(tmp_path / "objects")
    d = o.put_file(tmp_path / "big")
    assert d == hashlib.sha256(data).hexdigest()
    assert o.verify(d) and o.size(d) == len(data)
