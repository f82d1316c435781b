"""``tracker-tui export RUN --media KEY -o DIR``: a run's media files for other tools.

Tables (and plots' tables) are written as CSV through the same cell rules as the metric export
(text sanitised, never a spreadsheet formula), histograms as CSV of bin edges and counts, images
as PNG files, other media as their stored files. Names are built from the run id, a filesystem-
safe form of the key and the step: a hostile key can never name a path outside ``DIR``.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from typing import Any

from tracker.tui.text import sanitize

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(key: str) -> str:
    """``key`` as one path component: only letters, digits, ``. _ -``; never ``.`` or ``..``."""
    name = _UNSAFE.sub("_", key).strip(".") or "_"
    return name[:120]


def export_media(runs: list[Any], key: str, out_dir: str) -> int:
    """Write every value of media ``key`` of ``runs`` under ``out_dir``; returns the exit code."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    written = 0
    for r in runs:
        items = r.media(key=key)
        if not items:
            print(f"tracker-tui: run {r.id} has no media named {sanitize(key)!r}", file=sys.stderr)
            continue
        folder = root / safe_name(r.id) / safe_name(key)
        folder.mkdir(parents=True, exist_ok=True)
        for item in items:
            written += _write_item(item, folder, f"step-{item.step}")
    print(f"{written} files written under {sanitize(str(root))}")
    return 0 if written else 1


def _write_item(item: Any, folder: Path, stem: str) -> int:
    if item.kind in ("table", "plot"):
        table = item.data if item.kind == "table" else item.data["table"]
        _write_table(item, table, folder, stem)
        return 1
    if item.kind == "histogram":
        d = item.data
        with open(folder / f"{stem}.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["bin_start", "bin_end", "count"])
            for i, c in enumerate(d["counts"]):
                w.writerow([repr(float(d["bins"][i])), repr(float(d["bins"][i + 1])), c])
        return 1
    if item.kind == "image":
        item._objects.materialize(item.digests[0], folder / f"{stem}.png")
        return 1
    if item.kind in ("images", "list"):
        for i, meta in enumerate(item.data):
            ext = "png" if meta.get("kind", "image") == "image" else safe_name(str(meta.get("format", "bin")))
            item._objects.materialize(item.digests[int(meta.get("blob", i))], folder / f"{stem}-{i}.{ext}")
        return len(item.data)
    ext = safe_name(str(item.meta.get("format") or "bin"))
    for i, d in enumerate(item.digests):
        item._objects.materialize(d, folder / (f"{stem}.{ext}" if i == 0 else f"{stem}-{i}.{ext}"))
    return len(item.digests)


def _write_table(item: Any, table: dict[str, Any], folder: Path, stem: str) -> None:
    from tracker.tui.cli.export import csv_text, csv_value

    with open(folder / f"{stem}.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow([csv_text(c) for c in table["columns"]])
        for r, row in enumerate(table["data"]):
            cells = []
            for j, v in enumerate(row):
                if isinstance(v, dict) and v.get("_type") == "image-file" and "blob" in v:
                    name = f"{stem}-r{r}-c{j}.png"
                    item._objects.materialize(item.digests[int(v["blob"])], folder / name)
                    cells.append(name)
                elif isinstance(v, (dict, list)):
                    import json

                    cells.append(csv_text(json.dumps(v, ensure_ascii=False)))
                else:
                    cells.append(csv_value(v))
            w.writerow(cells)
