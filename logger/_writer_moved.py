"""A store file deleted or replaced under a running writer (issue 9, item 10).

SQLite keeps writing into a deleted ``tracker.db`` through its open file descriptor: every later
point would be lost without a word. The writer compares the file at the store's path with the
one it opened (device and inode) before each write and about once a second. When they differ, it says so loudly and
moves on to whatever is at the path now: it opens (or creates) the store there and copies this
process's unfinished runs into it, with every point they had committed (still readable through
the old connection), then carries on writing there; a file that already holds these runs under
the same ids (a copy of the store put in its place) is written to as it is. Runs of other processes and finished runs
that were in the old file are not copied (whoever deleted the file meant to delete them); a
writer with no unfinished run just retires, so the next ``init()`` opens the new file. If the
new file cannot be used (not a store, a newer version, the same run ids already in it), the
writer says so and stops writing: ``log()`` goes on returning at once and its points are dropped
and counted, never kept in memory.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ._writer import Writer

#: Seconds between two checks of the store file's identity.
CHECK_EVERY = 1.0


def file_id(path: Any) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``; None if there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _say(msg: str) -> None:
    print(f"tracker: {msg}", file=sys.stderr, flush=True)


def check_store_file(w: Writer) -> None:
    """In the writer thread: act if the store file was deleted or replaced since it was opened."""
    now = file_id(w.store.path)
    if now == w.file_id or w.discarding:
        return
    if not w.active and not w.q:  # nothing of this process is unfinished: nothing to rescue
        w.dead = True  # the next init() for this directory opens the store that is there then
        w._stop = True
        return
    path = w.store.path
    what = "deleted" if now is None else "replaced by another file"
    names = ", ".join(sorted(info.get("run_id", "?") for r, info in w.run_info.items() if r in w.active))
    runs = f"run(s) {names}" if names else "no unfinished run"
    _say(f"the store file {path} was {what} while this process was writing to it ({runs}). Without "
         "action every later point would go into the old file and be lost.")
    try:
        from tracker.store import Store
        from tracker.store.rescue import copy_runs, holds_runs

        new = Store(w.store.dir, create=True)
        current = {r: w.rid_map.get(r, r) for r in w.active}
        copy = holds_runs(w.store, new, current.values())  # a copy of this store put in its place
        mapping = {r: r for r in current.values()} if copy else copy_runs(w.store, new, current.values())
    except Exception as e:  # not a store, a newer one, our run ids already there: stop, loudly
        w.discarding = f"the store file {path} was {what} and could not be used ({e})"
        _say(f"{w.discarding}. This process STOPS WRITING: later log() calls of {runs} are dropped "
             "(counted at finish()). Resume the run in a new process to log again.")
        return
    old, w.store = w.store, new
    w.rid_map = {r: mapping[current[r]] for r in current}
    w.file_id = file_id(new.path)
    old.close()  # safe: SQLite never removes the new file's -wal/-shm when closing the deleted one
    if copy:
        _say(f"the file now at {path} already holds {runs} (a copy of the store?); writing continues "
             "there. Points this process committed to the old file after that copy was made are not in it.")
    else:
        _say(f"the store at {path} was recreated{' from what is there now' if now else ''}; {runs} continue "
             "there, with every point they had stored. Other runs of the old file are not in it.")
