"""`tracker-tui export RUN --media KEY -o DIR` as a real subprocess: tables as CSV (cells exact,
formulas guarded, terminal escapes made visible), images as byte-identical PNG, histograms as
CSV; a hostile key cannot write outside DIR."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tracker
from tracker._media_png import decode_png

pytestmark = pytest.mark.usefixtures("clean_env")


def cli(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", str(store), *args],
                          capture_output=True, text=True, timeout=60)


def test_export_media_tables_images_histograms(store_dir: Path, tmp_path: Path) -> None:
    img = np.random.default_rng(0).integers(0, 256, size=(6, 4, 3)).astype(np.uint8)
    run = tracker.init(project="p", dir=store_dir)
    t = tracker.Table(columns=["text", "n", "img"], data=[["=1+1", 1, tracker.Image(img)], ["\x1b[2Jplain", 2.5, None]])
    run.log({"preds": t, "sample": tracker.Image(img), "w": tracker.Histogram([1, 2, 3], num_bins=2),
             "../../escape": tracker.Image(img)}, step=5)
    run.finish()
    out = tmp_path / "out"
    for key in ("preds", "sample", "w", "../../escape"):
        p = cli("export", run.id, "--media", key, "-o", str(out), store=store_dir)
        assert p.returncode == 0, p.stderr
    folder = out / run.id
    rows = list(csv.reader(open(folder / "preds" / "step-5.csv", encoding="utf-8")))
    assert rows[0] == ["text", "n", "img"]
    assert rows[1] == ["'=1+1", "1", "step-5-r0-c2.png"] and rows[2] == ["\\x1b[2Jplain", "2.5", ""]
    assert decode_png((folder / "preds" / "step-5-r0-c2.png").read_bytes())[3] == img.tobytes()
    assert decode_png((folder / "sample" / "step-5.png").read_bytes())[3] == img.tobytes()
    hist = list(csv.reader(open(folder / "w" / "step-5.csv", encoding="utf-8")))
    assert hist == [["bin_start", "bin_end", "count"], ["1.0", "2.0", "1"], ["2.0", "3.0", "2"]]
    assert (folder / "_.._escape" / "step-5.png").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "store"]


def test_export_media_unknown_key_fails_clearly(store_dir: Path, tmp_path: Path) -> None:
    run = tracker.init(project="p", dir=store_dir)
    run.log({"loss": 1.0})
    run.finish()
    p = cli("export", run.id, "--media", "nope", "-o", str(tmp_path / "o"), store=store_dir)
    assert p.returncode == 1 and "no media named 'nope'" in p.stderr
