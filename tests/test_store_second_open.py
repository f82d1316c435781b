"""A second Store opened in a process must not drop the process's SQLite locks (found by the sweep
agent, whose monitor thread and the trial's init() each open one): before the fix, reading the
header with open()/close() released every POSIX lock the process held on the database, another
process then took the file as unused and reset the WAL, and a commit made afterwards in the first
process was lost when it exited without closing (5 of 8 sweep cancels lost the agent's records)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from helpers import child_env, script

A = """
import os, subprocess, sys
from tracker.store import Store
d = sys.argv[1]
s1 = Store(d)
s1._write(s1.conn, lambda c: c.execute("CREATE TABLE IF NOT EXISTS t (x)"))
s1._write(s1.conn, lambda c: c.execute("INSERT INTO t VALUES (1)"))
s2 = Store(d)  # a second open in this process: the header read must not release s1's locks
code = "from tracker.store import Store; s = Store(%r); s._write(s.conn, lambda c: c.execute('INSERT INTO t VALUES (2)')); s.close()" % d
subprocess.run([sys.executable, "-c", code], check=True)
s1._write(s1.conn, lambda c: c.execute("INSERT INTO t VALUES (3)"))
os._exit(0)  # committed means kept, even without a clean close
"""


def test_a_commit_after_another_process_closed_survives_a_second_open_in_this_process(tmp_path, store_dir):
    p = script(tmp_path, "a.py", A)
    subprocess.run([sys.executable, str(p), str(store_dir)], check=True, env=child_env(), timeout=60)
    conn = sqlite3.connect(store_dir / "tracker.db")
    assert [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x")] == [1, 2, 3]
