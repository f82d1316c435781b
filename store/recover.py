"""Checking a store and copying what is readable out of a damaged one (``tracker-tui doctor``).

Nothing here writes to the store checked: it is read through ``mode=ro`` connections, and the
``sqlite3`` command-line tool's ``.recover`` (which needs a writable database) runs on a private
copy of the files in a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from .damage import is_damage, lenient_text
from .fs import precreate_private_file
from .schema import migrate

__all__ = ["Check", "Recovery", "check", "recover"]


@dataclass
class Check:
    """What ``PRAGMA integrity_check`` (or ``quick_check``) said about a store."""

    path: Path
    ok: bool
    problems: list[str]
    version: int | None = None
    pages: int | None = None
    page_size: int | None = None


@dataclass
class Recovery:
    """What a recovery copied: the method, rows per table, and what could not be read."""

    out: Path
    method: str
    rows: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    integrity: str = ""


def _ro(path: Path) -> sqlite3.Connection:
    uri = "file:" + urllib.parse.quote(os.fspath(path)) + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    conn.text_factory = lenient_text
    return conn


def check(path: Path, quick: bool = False, limit: int = 100) -> Check:
    """Run ``integrity_check`` (``quick_check`` with ``quick``) through a read-only connection."""
    conn = None
    out = Check(path, ok=False, problems=[])
    try:
        conn = _ro(path)
        for name in ("user_version", "page_count", "page_size"):
            try:
                v = int(conn.execute(f"PRAGMA {name}").fetchone()[0])
            except sqlite3.DatabaseError:
                continue
            setattr(out, {"user_version": "version", "page_count": "pages"}.get(name, name), v)
        pragma = "quick_check" if quick else "integrity_check"
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}({int(limit)})")]
        out.ok = rows == ["ok"]
        out.problems = [] if out.ok else rows
    except sqlite3.DatabaseError as e:
        out.problems = [str(e)]
    finally:
        if conn is not None:
            conn.close()
    return out


def recover(path: Path, out: Path, method: str = "auto") -> Recovery:
    """Copy what is readable in the store at ``path`` into the new file ``out``.

    ``method``: ``sqlite3`` (the command-line tool's ``.recover``, which also reads pages no
    table reaches any more), ``python`` (a row-by-row copy of each table, skipping rows it cannot
    read), or ``auto``: ``sqlite3`` when the tool is on ``PATH`` and its ``.recover`` works
    (some builds lack the page reader it needs), else ``python``. ``out`` must not exist.
    """
    if out.exists() or out.is_symlink():
        raise FileExistsError(f"{out} already exists; give a new file to recover into")
    notes: list[str] = []
    auto = method == "auto"
    if auto:
        method = "sqlite3" if shutil.which("sqlite3") else "python"
        if method == "python":
            notes.append("the sqlite3 command-line tool is not installed")
    precreate_private_file(out)
    try:
        try:
            rec = _with_cli(path, out) if method == "sqlite3" else _row_by_row(path, out)
        except RuntimeError as e:
            if method != "sqlite3" or not auto:
                raise
            notes.append(f"sqlite3 .recover did not work here ({e})")
            _remove(out)
            precreate_private_file(out)
            rec = _row_by_row(path, out)
        rec.skipped[:0] = notes
        _describe(rec)
    except BaseException:
        _remove(out)
        raise
    return rec


def _remove(out: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)


def _describe(rec: Recovery) -> None:
    """Fill in the copy's integrity and its rows per table."""
    conn = sqlite3.connect(rec.out, isolation_level=None)
    try:
        conn.text_factory = lenient_text
        rec.integrity = "; ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check(10)"))
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        rec.rows = {t: int(conn.execute('SELECT count(*) FROM "{}"'.format(t.replace('"', '""'))).fetchone()[0])
                    for t in tables}
    finally:
        conn.close()


def _with_cli(path: Path, out: Path) -> Recovery:
    """``sqlite3 COPY .recover | sqlite3 OUT`` on a private copy of the files (``.recover`` does
    not run on a read-only connection, and the damaged file must not be opened for writing)."""
    tool = shutil.which("sqlite3")
    if tool is None:
        raise FileNotFoundError("the sqlite3 command-line tool is not on PATH (use --with python)")
    with tempfile.TemporaryDirectory(prefix="tracker-recover-") as tmp:
        copy = Path(tmp) / "copy.db"
        for suffix in ("", "-wal"):
            src = Path(f"{path}{suffix}")
            if src.exists():
                shutil.copyfile(src, f"{copy}{suffix}")
        dump = subprocess.run([tool, str(copy), ".recover"], capture_output=True, timeout=3600)
        if b"CREATE TABLE" not in dump.stdout.upper():  # e.g. a build without the page reader it needs
            err = dump.stderr.decode("utf-8", "replace").strip()
            raise RuntimeError(f"sqlite3 .recover recovered no table ({err or 'no message'})")
        load = subprocess.run([tool, str(out)], input=dump.stdout, capture_output=True, timeout=3600)
        if load.returncode != 0:
            err = load.stderr.decode("utf-8", "replace").strip()
            raise RuntimeError(f"loading the recovered SQL into {out} failed: {err}")
    rec = Recovery(out, "sqlite3 .recover")
    notes = dump.stderr.decode("utf-8", "replace").strip()
    if notes:
        rec.skipped.append(f"sqlite3 said: {notes}")
    return rec


def _row_by_row(path: Path, out: Path) -> Recovery:
    """Recreate the schema, then copy each table in rowid order; past a row that cannot be
    read, probe further and further ahead (1, 2, 4, … rows) for the next readable one."""
    rec = Recovery(out, "python row-by-row copy")
    src = _ro(path)
    dst = sqlite3.connect(out, isolation_level=None)
    try:
        version, tables = _copy_schema(src, dst, rec)
        dst.execute("BEGIN IMMEDIATE")
        for name, has_rowid in tables:
            _copy_table(src, dst, name, has_rowid, rec)
        dst.execute(f"PRAGMA user_version = {int(version)}")
        dst.execute("COMMIT")
    finally:
        src.close()
        dst.close()
    return rec


def _copy_schema(src: sqlite3.Connection, dst: sqlite3.Connection,
                 rec: Recovery) -> tuple[int, list[tuple[str, bool]]]:
    try:
        version = int(src.execute("PRAGMA user_version").fetchone()[0])
        schema = src.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    except sqlite3.DatabaseError as e:
        rec.skipped.append(f"the schema could not be read ({e}); the tracker's own schema was used")
        dst.execute("BEGIN IMMEDIATE")
        migrate(dst, 0)
        dst.execute("COMMIT")
        from .schema import SCHEMA_VERSION

        names = [r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%'")]
        return SCHEMA_VERSION, [(n, True) for n in names]
    order = {"table": 0, "index": 1, "view": 2}
    tables: list[tuple[str, bool]] = []
    for kind, name, sql in sorted(schema, key=lambda r: order.get(r[0], 3)):
        if name.startswith("sqlite_"):
            continue
        if kind not in order:  # the tracker makes no triggers: one would run on every copied row
            rec.skipped.append(f"{kind} {name}: not copied")
            continue
        dst.execute(sql)
        if kind == "table":
            tables.append((name, "WITHOUT ROWID" not in sql.upper()))
    if any(r[1] == "sqlite_sequence" for r in schema):
        tables.append(("sqlite_sequence", True))
    return version, tables


def _copy_table(src: sqlite3.Connection, dst: sqlite3.Connection, name: str, has_rowid: bool,
                rec: Recovery) -> None:
    q = name.replace('"', '""')
    try:
        cols = [r[1] for r in src.execute(f'PRAGMA table_info("{q}")')]
    except sqlite3.DatabaseError as e:
        rec.skipped.append(f"{name}: not readable ({e})")
        return
    collist = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
    marks = ", ".join("?" for _ in cols)
    if not has_rowid:  # no rowid to seek by: copy up to the first unreadable row
        cur = src.execute(f'SELECT {collist} FROM "{q}"')
        n = 0
        try:
            for row in cur:
                dst.execute(f'INSERT OR IGNORE INTO "{q}" ({collist}) VALUES ({marks})', row)
                n += 1
        except sqlite3.DatabaseError as e:
            rec.skipped.append(f"{name}: rows after the first {n:,} not readable ({e})")
        return
    ins = f'INSERT OR IGNORE INTO "{q}" (rowid, {collist}) VALUES (?, {marks})'
    sel = f'SELECT rowid, {collist} FROM "{q}" WHERE rowid >= ? ORDER BY rowid LIMIT 512'
    at, step, lost_from = -(2**63), 1, None
    while at < 2**63:
        try:
            rows = src.execute(sel, (at,)).fetchall()
        except sqlite3.DatabaseError as e:
            if not is_damage(e) and "decode" not in str(e).lower():
                raise
            lost_from = at if lost_from is None else lost_from
            at, step = (at + step if at > -(2**62) else 0), min(step * 2, 2**60)
            continue
        if lost_from is not None:
            _lost(rec, name, lost_from, rows[0][0] - 1 if rows else None)
            lost_from, step = None, 1
        if not rows:
            return
        dst.executemany(ins, rows)
        at = rows[-1][0] + 1
    if lost_from is not None:
        _lost(rec, name, lost_from, None)


def _lost(rec: Recovery, table: str, first: int, last: int | None) -> None:
    start = "the start" if first <= -(2**62) else f"rowid {first}"
    rec.skipped.append(f"{table}: rows from {start} to {'the end' if last is None else f'rowid {last}'} "
                       "not readable")
