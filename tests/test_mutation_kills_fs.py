"""The store's filesystem facts, pinned where mutation testing found them unpinned
(tests/MUTATION.md): mount-point escapes, network filesystem names, the store directory's
errors and privacy, and the private database file."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from tracker.store import fs
from tracker.store.fs import StoreDirError


def _with_mountinfo(monkeypatch, tmp_path: Path, text: str) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(text)
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, *a, **k: real_open(info if f == "/proc/self/mountinfo" else f, *a, **k))
    monkeypatch.setattr(os.path, "realpath", lambda p: str(p))


def test_every_mountinfo_escape_is_read_back(monkeypatch, tmp_path):
    _with_mountinfo(monkeypatch, tmp_path, (
        "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
        "30 22 0:40 / /m/a\\040b\\011c\\012d\\134e rw - nfs srv:/x rw\n"
        "31 22 0:41 / /short rw\n"  # no " - " separator: skipped
        "32 22 0:42 / rw - xfs /dev/sdb rw\n"  # too few fields before it: skipped
    ))
    assert fs.filesystem_type("/m/a b\tc\nd\\e/run") == "nfs"
    assert fs.filesystem_type("/m/a b\tc\nd\\e") == "nfs"
    assert fs.filesystem_type("/short/x") == "ext4"
    assert fs.filesystem_type("/m/a b") == "ext4"


def test_mounts_of_equal_length_the_later_wins_and_unreadable_mountinfo_is_unknown(monkeypatch, tmp_path):
    _with_mountinfo(monkeypatch, tmp_path, "22 1 8:1 / / rw - ext4 a rw\n23 1 8:1 / / rw - overlay b rw\n")
    assert fs.filesystem_type("/x") == "overlay"  # a mount over / hides the one below
    real_open = open

    def no_proc(f, *a, **k):
        if f == "/proc/self/mountinfo":
            raise PermissionError(f)
        return real_open(f, *a, **k)

    monkeypatch.setattr("builtins.open", no_proc)
    assert fs.filesystem_type("/x") is None


def test_network_filesystem_names():
    for t in ("nfs", "NFS4", "nfs3", "cifs", "cifsx", "fuse.sshfs", "fuse.sshfs2", "lustre", "9p", "fuse.rclone"):
        assert fs.is_network_fs(t), t
    for t in (None, "", "ext4", "xfs", "tmpfs", "overlay", "fuse", "btrfs", "zfs"):
        assert not fs.is_network_fs(t), t


def test_resolve_dir_order(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKER_DIR", str(tmp_path / "env"))
    assert fs.resolve_dir(tmp_path / "arg") == tmp_path / "arg"
    assert fs.resolve_dir("") == tmp_path / "env"
    assert fs.resolve_dir(None) == tmp_path / "env"
    monkeypatch.setenv("TRACKER_DIR", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fs.resolve_dir() == tmp_path / "home" / ".tracker"
    assert fs.resolve_dir("~/s") == tmp_path / "home" / "s"


def test_a_new_store_directory_is_private_and_parents_are_made(tmp_path):
    d = tmp_path / "a" / "b"
    fs.ensure_private_dir(d)
    assert d.is_dir() and stat.S_IMODE(d.stat().st_mode) == 0o700 & ~_umask()


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_store_directory_errors_name_the_path_and_the_way_out(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    # a file where the directory should be is named as such (mkdir's own "File exists" said less)
    with pytest.raises(StoreDirError, match=rf"the store path {re.escape(str(f))} exists but is not a directory\. "
                                            r"Choose another location with tracker\.init\(dir=\.\.\.\)"):
        fs.ensure_private_dir(f)
    with pytest.raises(StoreDirError, match=rf"cannot create the store directory {re.escape(str(f / 'sub'))}: .+\. Choose"):
        fs.ensure_private_dir(f / "sub")
    if os.geteuid() == 0:
        return  # root may write anywhere
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(StoreDirError, match=rf"the store directory {re.escape(str(ro))} is not writable by this user\."):
        fs.ensure_private_dir(ro)


def test_tighten_makes_only_a_directory_of_our_own_files_private(tmp_path):
    ours, mine, empty = tmp_path / "ours", tmp_path / "mine", tmp_path / "empty"
    for d in (ours, mine, empty):
        d.mkdir()
        d.chmod(0o755)
    for name in ("tracker.db", "tracker.db-wal", "tracker.db-shm", "tracker.db.v2.bak", "runs", "demo"):
        (ours / name).write_text("")
    (mine / "tracker.db").write_text("")
    (mine / "notes.txt").write_text("")
    fs.ensure_private_dir(ours, tighten=True)
    fs.ensure_private_dir(mine, tighten=True)
    fs.ensure_private_dir(empty)  # not asked to tighten
    assert stat.S_IMODE(ours.stat().st_mode) == 0o700
    assert stat.S_IMODE(mine.stat().st_mode) == 0o755
    assert stat.S_IMODE(empty.stat().st_mode) == 0o755
    (mine / "notes.txt").unlink()
    fs.make_private_if_ours(mine)
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700
    fs.make_private_if_ours(tmp_path / "missing")  # best effort: no error


def test_the_database_file_is_created_private_once(tmp_path):
    p = tmp_path / "tracker.db"
    fs.precreate_private_file(p)
    assert p.exists() and stat.S_IMODE(p.stat().st_mode) == 0o600 & ~_umask()
    p.write_text("data")
    fs.precreate_private_file(p)  # exists: left alone
    assert p.read_text() == "data"
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "elsewhere.db")
    with pytest.raises(fs.StoreDirError, match="is a symlink to .*which does not exist"):
        fs.precreate_private_file(link)  # never follows a planted link: refused, said
    assert not (tmp_path / "elsewhere.db").exists()


def test_mountinfo_with_bytes_that_are_not_utf8_is_still_read(monkeypatch, tmp_path):
    info = tmp_path / "mountinfo"
    info.write_bytes(b"22 1 8:1 / / rw - ext4 /dev/sda1 rw\n30 22 0:40 / /m/caf\xe9 rw - nfs srv:/x rw\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, *a, **k: real_open(info if f == "/proc/self/mountinfo" else f, *a, **k))
    monkeypatch.setattr(os.path, "realpath", lambda p: str(p))
    assert fs.filesystem_type("/m/caf\ufffd/x") == "nfs"
    assert fs.filesystem_type("/home") == "ext4"


def test_a_private_directory_keeps_its_special_bits(tmp_path):
    d = tmp_path / "sticky"
    d.mkdir()
    d.chmod(0o1700)
    (d / "tracker.db").write_text("")
    fs.make_private_if_ours(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o1700


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_someone_elses_directory_is_never_tightened(tmp_path):
    d = tmp_path / "theirs"
    d.mkdir()
    (d / "tracker.db").write_text("")
    d.chmod(0o755)
    os.chown(d, 65534, 65534)
    fs.make_private_if_ours(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o755


def test_a_malformed_line_does_not_end_the_mount_table_and_names_may_end_in_any_letter(monkeypatch, tmp_path):
    _with_mountinfo(monkeypatch, tmp_path, (
        "31 22 0:41 / /short rw\n"  # malformed lines first: the lines after them still count
        "32 22 0:42 / rw - xfs /dev/sdb rw\n"
        "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
        "33 22 0:43 / /data/BOX rw,relatime - nfs4 srv:/box rw\n"
    ))
    assert fs.filesystem_type("/data/BOX/run") == "nfs4"
    assert fs.filesystem_type("/data/BOXES") == "ext4"
