"""A second Store opened in a process must not drop the process's SQLite locks (found by the sweep
agent, whose monitor thread and the trial's init() each open one): before the fix, reading the
header with open()/close() released every POSIX lock the process held on the database, another
process then took the file as unused and reset the WAL, and a commit made afterwards in the first
process was lost when it exited without closing (5 of 8 sweep cancels lost the agent's records)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from helpers import child_env, script
from tracker.store import Store

A = """
import os, subprocess, sys
from tracker.store import Store
d = sys.argv[1]
s1 = Store(d)
s1._write(s1.conn, lambda c: c.execute("CREATE TABLE IF NOT EXISTS t (x)"))
s1._write(s1.conn, lambda c: c.execute("INSERT INTO t VALUES (1)"))
s2 = Store(d)  # a second open in this process: the header read must not release s1's locks
if len(sys.argv) > 2:
    s2.close()  # nor closing it while s1 is open
code = "from tracker.store import Store; s = Store(%r); s._write(s.conn, lambda c: c.execute('INSERT INTO t VALUES (2)')); s.close()" % d
subprocess.run([sys.executable, "-c", code], check=True)
s1._write(s1.conn, lambda c: c.execute("INSERT INTO t VALUES (3)"))
os._exit(0)  # committed means kept, even without a clean close
"""


@pytest.mark.parametrize("close_second", [False, True])
def test_a_commit_after_another_process_closed_survives_a_second_open_in_this_process(tmp_path, store_dir,
                                                                                     close_second):
    p = script(tmp_path, "a.py", A)
    subprocess.run([sys.executable, str(p), str(store_dir)] + (["close"] if close_second else []), check=True,
                   env=child_env(), timeout=60)
    conn = sqlite3.connect(store_dir / "tracker.db")
    assert [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x")] == [1, 2, 3]


def test_opening_and_closing_many_stores_does_not_leak_descriptors(tmp_path):
    """The header descriptor lives as long as a Store of the file: a process that opens many
    stores one after another (a test run, a script over many stores) keeps a bounded number open."""
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    Store(tmp_path / "warm").close()
    before = open_fds()
    for i in range(300):
        s = Store(tmp_path / f"s{i}")
        s.close()
    assert open_fds() - before < 5


def test_stores_dropped_without_close_release_their_descriptor(tmp_path):
    """A Store left to the garbage collector (a script that never calls close()) gives its header
    descriptor back like one closed explicitly."""
    import gc

    Store(tmp_path / "warm").close()
    before = len(os.listdir("/proc/self/fd"))
    for i in range(200):
        Store(tmp_path / f"s{i}").schema_version()
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) - before < 5
