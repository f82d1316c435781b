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
