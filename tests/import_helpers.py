"""Helpers shared by the importer tests (tests/test_import_*.py)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "importers"


def fixture(tmp_path: Path, name: str) -> Path:
    """A private copy of a fixture folder (tests may grow or damage it)."""
    dest = tmp_path / name
    shutil.copytree(DATA / name, dest)
    return dest


def expected(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / name / "expected.json").read_text())


def dec(v: Any) -> Any:
    """The fixture's ``"nan"``/``"inf"``/``"-inf"`` strings back as floats."""
    if v in ("nan", "inf", "-inf"):
        return float(v)
    return v


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and -0.0 told apart from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def cli(*args: str, store: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", str(store), "import", *args],
                          capture_output=True, text=True, timeout=timeout)


def runs_by_source(store: Path) -> dict[str, Any]:
    """The store's imported runs keyed by the source's run id (read through ``tracker.Api``)."""
    import tracker

    api = tracker.Api(store)
    return {r.meta["origin"]["source_id"]: r for r in api.runs()}


def point_count(store: Path) -> int:
    import tracker

    return tracker.Api(store).store.count_points()


# ------------------------------------------------------------ minimal writers (tests and bench)
def pb_varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def pb_len(field: int, payload: bytes) -> bytes:
    return pb_varint(field << 3 | 2) + pb_varint(len(payload)) + payload


def tb_scalar_event(tag: str, step: int, value: float, wall_time: float) -> bytes:
    """An ``Event`` with one ``simple_value`` (what PyTorch's SummaryWriter writes per scalar)."""
    import struct

    val = pb_len(1, tag.encode()) + b"\x15" + struct.pack("<f", value)
    return b"\x09" + struct.pack("<d", wall_time) + b"\x10" + pb_varint(step) + pb_len(5, pb_len(1, val))


def tfrecords(events: list[bytes]) -> bytes:
    from tracker.store.importers.tfrecord import encode

    return b"".join(encode(e) for e in events)
