"""Rich media logged and read back: images (pixels byte-identical through PNG), histograms
(counts exact), tables (cells exact, hostile text included), plots, files; bad input warns naming
the key and logs the rest of the call; gc keeps media objects. Real stores; no mocks."""

from __future__ import annotations

import json
import math
import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pytest

import tracker
from tracker._media_png import decode_png, encode_png
from tracker.store import Store
from tracker.store.artifacts import ArtifactStore
from tracker.store.schema import SCHEMA_VERSION

pytestmark = pytest.mark.usefixtures("clean_env")

HOSTILE = ["=cmd|' /C calc'!A0", "\x1b[31mred\x1b[0m", "[bold]markup[/]", "tab\there", "ünïcødé ✓", "", "\u202eevil"]


def _run(store_dir: Path):
    return tracker.init(project="p", dir=store_dir)


def _log(run, data, **kw) -> list[str]:
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        run.log(data, **kw)
    return [str(x.message) for x in w]


def _media(store_dir: Path, run_id: str, **kw):
    return tracker.Api(store_dir).run(run_id).media(**kw)


@pytest.mark.parametrize("shape,dtype", [((7, 5), np.uint8), ((7, 5, 1), np.uint8), ((7, 5, 3), np.uint8),
                                         ((7, 5, 4), np.uint8), ((7, 5, 3), np.float32), ((7, 5), np.float64)])
def test_image_pixels_round_trip_exactly(store_dir: Path, shape, dtype) -> None:
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 256, size=shape).astype(np.uint8)
    given = arr if dtype == np.uint8 else arr.astype(dtype) / 255.0
    run = _run(store_dir)
    assert _log(run, {"img": tracker.Image(given, caption="a cat")}) == []
    run.finish()
    (item,) = _media(store_dir, run.id, key="img")
    assert (item.kind, item.step, item.caption) == ("image", 0, "a cat")
    w, h, ch, px = item.image()
    assert (h, w) == shape[:2] and ch == (1 if len(shape) == 2 else shape[2] if shape[2] != 1 else 1)
    assert px == arr.tobytes()  # byte-identical, float 0-1 included
    assert item.path is not None and item.path.read_bytes().startswith(b"\x89PNG")


def test_png_encoder_matches_pillow_when_present(tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    arr = np.random.default_rng(2).integers(0, 256, size=(9, 11, 3)).astype(np.uint8)
    p = tmp_path / "x.png"
    p.write_bytes(encode_png(11, 9, 3, arr.tobytes()))
    assert np.array_equal(np.asarray(pil.open(p)), arr)
    pil.fromarray(arr).save(tmp_path / "pil.png")  # Pillow's filters are read back exactly too
    assert decode_png((tmp_path / "pil.png").read_bytes())[3] == arr.tobytes()


def test_same_image_is_stored_once_and_lists_keep_order(store_dir: Path) -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 200, np.uint8)
    run = _run(store_dir)
    for step in range(3):
        run.log({"same": tracker.Image(a)}, step=step)
    run.log({"grid": [tracker.Image(a, caption="zero"), tracker.Image(b, caption="two hundred")]}, step=3)
    run.finish()
    same = _media(store_dir, run.id, key="same")
    assert [m.step for m in same] == [0, 1, 2] and len({m.digests[0] for m in same}) == 1
    (grid,) = _media(store_dir, run.id, key="grid")
    assert grid.kind == "images" and [i["caption"] for i in grid.data] == ["zero", "two hundred"]
    assert grid.image(1)[3] == b.tobytes()
    objects = [p for p in (store_dir / "objects").rglob("*") if p.is_file() and p.parent.name != "tmp"]
    assert len(objects) == 2


def test_histogram_counts_exact_with_nan_and_inf(store_dir: Path) -> None:
    vals = np.random.default_rng(3).normal(size=10_000)
    vals[:7] = np.nan
    vals[7:9] = np.inf
    vals[9] = -np.inf
    run = _run(store_dir)
    run.log({"w": tracker.Histogram(vals, num_bins=32), "plain": tracker.Histogram([1, 2, 2, 3, float("nan")], num_bins=2)})
    run.log({"np": tracker.Histogram(np_histogram=([1, 2, 3], [0.0, 1.0, 2.0, 3.0]))})
    run.finish()
    (w,) = _media(store_dir, run.id, key="w")
    counts, edges = np.histogram(vals[np.isfinite(vals)], bins=32)
    assert w.data["counts"] == counts.tolist() and w.data["bins"] == edges.tolist()
    assert (w.data["nan"], w.data["inf"], w.data["ninf"]) == (7, 2, 1)
    assert len(json.dumps(w.meta)) < 2000  # a few hundred bytes of numbers, never the 10,000 samples
    (p,) = _media(store_dir, run.id, key="plain")
    assert p.data["counts"] == [1, 3] and p.data["bins"] == [1.0, 2.0, 3.0] and p.data["nan"] == 1
    assert _media(store_dir, run.id, key="np")[0].data["counts"] == [1, 2, 3]


def test_table_cells_exact_including_hostile_text(store_dir: Path) -> None:
    t = tracker.Table(columns=["id", "text", "score", "ok", "none"])
    for i, s in enumerate(HOSTILE):
        t.add_data(i, s, i / 3, i % 2 == 0, None)
    t.add_column("extra", list(range(len(HOSTILE))))
    assert t.get_column("text") == HOSTILE
    run = _run(store_dir)
    run.log({"preds": t})
    run.finish()
    (item,) = _media(store_dir, run.id, key="preds")
    assert item.data["columns"] == ["id", "text", "score", "ok", "none", "extra"]
    assert item.data["data"] == [[i, s, i / 3, i % 2 == 0, None, i] for i, s in enumerate(HOSTILE)]


def test_table_with_image_cells_and_dataframe_like_input(store_dir: Path) -> None:
    img = np.full((3, 3, 3), 9, np.uint8)
    t = tracker.Table(columns=["x", "img"], data=[[1, tracker.Image(img, caption="c")]])
    run = _run(store_dir)
    run.log({"t": t})
    run.finish()
    (item,) = _media(store_dir, run.id, key="t")
    cell = item.data["data"][0][1]
    assert cell["_type"] == "image-file" and cell["caption"] == "c"
    assert decode_png(item.read_bytes(cell["blob"]))[3] == img.tobytes()


def test_plots_are_their_table_and_chart_kind(store_dir: Path) -> None:
    y_true = [0, 0, 1, 1, 2, 2]
    preds = [0, 1, 1, 1, 2, 0]
    probas = [[0.8, 0.1, 0.1], [0.4, 0.5, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.5, 0.2, 0.3]]
    run = _run(store_dir)
    run.log({"cm": tracker.plot.confusion_matrix(y_true=y_true, preds=preds, class_names=["a", "b", "c"]),
             "cm_probs": tracker.plots.confusion_matrix(probs=probas, y_true=y_true, class_names=["a", "b", "c"]),
             "roc": tracker.plot.roc_curve(y_true, probas, labels=["a", "b", "c"]),
             "pr": tracker.plots.precision_recall(y_true, probas),
             "ls": tracker.plot.line_series([0, 1, 2], [[1, 2, 3], [3, 2, 1]], keys=["up", "down"])})
    run.finish()
    cm = {m.key: m for m in _media(store_dir, run.id, kind="plot")}
    rows = cm["cm"].data["table"]["data"]
    assert cm["cm"].data["type"] == "confusion_matrix"
    assert {(a, p): n for a, p, n in rows}[("a", "b")] == 1 and sum(n for *_, n in rows) == 6
    assert cm["cm_probs"].data["table"] == cm["cm"].data["table"]  # argmax of probs == preds
    roc = [r for r in cm["roc"].data["table"]["data"] if r[0] == "c"]
    assert roc[0][1:] == [0.0, 0.0] and roc[-1][1:] == [1.0, 1.0]
    # class c: scores .1,.1,.1,.1,.8,.3 -> the 0.8 (a positive) first: tpr 0.5 at fpr 0
    assert roc[1][1:] == [0.0, 0.5]
    pr = [r for r in cm["pr"].data["table"]["data"] if r[0] == "2"]
    assert pr[1][1:] == [0.5, 1.0]
    assert cm["ls"].data["table"]["data"][:2] == [["up", 1, 0], ["up", 2, 1]]


def test_files_audio_html_object3d(tmp_path: Path, store_dir: Path) -> None:
    mol = tmp_path / "x.pdb"
    mol.write_text("ATOM      1  N   ALA A   1\n")
    run = _run(store_dir)
    warns = _log(run, {"a": tracker.Audio(np.sin(np.linspace(0, 6, 8000)), sample_rate=8000, caption="tone"),
                       "h": tracker.Html("<b>hi</b>"), "o": tracker.Object3D(np.zeros((5, 3))),
                       "m": tracker.Molecule(mol), "v": tracker.Video(np.zeros((2, 3, 4, 4)))})
    mol.write_text("changed after log")  # the file was snapshotted at log()
    run.finish()
    assert warns == ["tracker: 'v' was not logged: Video from an array is not encoded by tracker; "
                     "write a video file and pass its path"]
    got = {m.key: m for m in _media(store_dir, run.id)}
    assert got["a"].meta["duration"] == 1.0 and got["a"].read_bytes()[:4] == b"RIFF"
    assert got["h"].read_bytes() == b"<b>hi</b>" and got["o"].meta["points"] == 5
    assert got["m"].read_bytes() == b"ATOM      1  N   ALA A   1\n"


def test_bad_input_warns_naming_the_key_and_logs_the_rest(tmp_path: Path, store_dir: Path) -> None:
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    run = _run(store_dir)
    warns = _log(run, {"loss": 0.5, "shape": tracker.Image(np.zeros((2, 3, 5))), "dtype": tracker.Image(np.array([["a"]])),
                       "missing": tracker.Image(tmp_path / "nope.png"), "corrupt": tracker.Image(corrupt),
                       "bins": tracker.Histogram([1, 2], num_bins=10_000), "ok": tracker.Histogram([float("nan")] * 3),
                       "cm": tracker.plot.confusion_matrix(y_true=[0, 1], preds=[0])})
    run.finish()
    by_key = {k: [w for w in warns if f"'{k}' was not logged" in w] for k in
              ("shape", "dtype", "missing", "corrupt", "bins", "cm")}
    assert all(len(v) == 1 for v in by_key.values()), warns
    assert "HxW" in by_key["shape"][0] and "does not exist" not in by_key["missing"][0]
    assert "No such file" in by_key["missing"][0] and "512" in by_key["bins"][0]
    api_run = tracker.Api(store_dir).run(run.id)
    assert [m.key for m in api_run.media()] == ["ok"] and api_run.history(pandas=False)[0]["loss"] == 0.5
    ok = api_run.media()[0].data
    assert ok["nan"] == 3 and sum(ok["counts"]) == 0


def test_a_100_mb_table_is_a_warning_not_a_crash(store_dir: Path) -> None:
    t = tracker.Table(columns=["text"], data=[["x" * 1_000_000] for _ in range(100)])
    run = _run(store_dir)
    warns = _log(run, {"big": t, "loss": 1.0})
    run.finish()
    assert any("'big' was not logged" in w and "MB" in w for w in warns), warns
    assert tracker.Api(store_dir).run(run.id).history(pandas=False)[0]["loss"] == 1.0


def test_history_shows_media_as_type_dicts(store_dir: Path) -> None:
    run = _run(store_dir)
    run.log({"loss": 1.0}, step=0)
    run.log({"img": tracker.Image(np.zeros((2, 2), np.uint8), caption="c"), "h": tracker.Histogram([1, 2])}, step=1)
    run.finish()
    rows = tracker.Api(store_dir).run(run.id).history(pandas=False)
    assert [r["_step"] for r in rows] == [0, 1] and rows[0]["loss"] == 1.0
    assert rows[1]["img"]["_type"] == "image-file" and rows[1]["img"]["caption"] == "c"
    assert set(rows[1]["h"]) == {"_type", "values", "bins"} and rows[1]["h"]["_type"] == "histogram"
    assert sum(rows[1]["h"]["values"]) == 2
    assert tracker.Api(store_dir).run(run.id).history(keys=["loss"], pandas=False) == [rows[0]]


def test_gc_keeps_objects_media_rows_reference(store_dir: Path) -> None:
    run = _run(store_dir)
    run.log({"img": tracker.Image(np.full((3, 3), 7, np.uint8))})
    run.finish()
    stray = Store(store_dir).dir / "objects"
    from tracker.store.objects import ObjectStore

    orphan = ObjectStore(stray).put_bytes(b"nobody references me")
    deleted, _ = ArtifactStore(Store(store_dir)).gc(grace=0)
    assert deleted == 1 and not ObjectStore(stray).exists(orphan)
    (item,) = _media(store_dir, run.id)
    assert item.image()[3] == bytes([7] * 9)


def test_media_rows_live_in_the_current_schema(store_dir: Path) -> None:
    run = _run(store_dir)
    run.log({"h": tracker.Histogram([1.0])})
    run.finish()
    conn = sqlite3.connect(store_dir / "tracker.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT key, kind FROM media").fetchall() == [("h", "histogram")]
    assert math.isclose(json.loads(conn.execute("SELECT meta FROM media").fetchone()[0])["bins"][0], 0.5)


def test_a_media_write_error_is_a_warning_and_scalars_are_kept(store_dir: Path) -> None:
    run = _run(store_dir)
    run.log({"loss": 0.1})
    (store_dir / "objects").mkdir()
    (store_dir / "objects" / "tmp").write_text("a file where the media directory should be")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        run.log({"loss": 0.2, "img": tracker.Image(np.zeros((2, 2), np.uint8))})
        run.finish()  # the media thread reports its failure before finish() returns
    msgs = [str(x.message) for x in w]
    assert any("'img' was not logged" in m for m in msgs), msgs
    api_run = tracker.Api(store_dir).run(run.id)
    assert [r["loss"] for r in api_run.history(pandas=False)] == [0.1, 0.2] and api_run.media() == []


def test_pil_images_and_torch_like_chw(store_dir: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    arr = np.random.default_rng(4).integers(0, 256, size=(5, 6, 3)).astype(np.uint8)
    run = _run(store_dir)
    run.log({"pil": tracker.Image(pil.fromarray(arr)), "pil_l": tracker.Image(pil.fromarray(arr), mode="L")})
    run.finish()
    got = {m.key: m.image() for m in _media(store_dir, run.id)}
    assert got["pil"][3] == arr.tobytes()
    assert got["pil_l"][2] == 1 and got["pil_l"][3] == pil.fromarray(arr).convert("L").tobytes()


def test_image_chw_transpose_is_for_tensors_only() -> None:
    from tracker._media import image_pixels

    chw = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    w, h, ch, px = image_pixels(chw, chw=True)
    assert (w, h, ch) == (5, 4, 3) and px == chw.transpose(1, 2, 0).tobytes()
    with pytest.raises(ValueError, match="HxW"):
        image_pixels(chw)  # a NumPy array of 3x4x5 is not an image: the shape is named


def test_import_tracker_loads_no_media_module_or_numpy() -> None:
    import subprocess
    import sys

    code = ("import sys, tracker; tracker.Image; tracker.plot; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'PIL', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_image_boxes_classes_and_masks_are_kept(store_dir: Path) -> None:
    mask = np.array([[0, 1], [2, 1]], np.uint8)
    boxes = {"predictions": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.2, "maxY": 0.9},
                                            "class_id": 1, "box_caption": "\x1b[31mcat"}]}}
    run = _run(store_dir)
    run.log({"seg": tracker.Image(np.zeros((2, 2, 3), np.uint8), boxes=boxes, classes=[{"id": 1, "name": "cat"}],
                                  masks={"truth": {"mask_data": mask, "class_labels": {1: "cat", 2: "dog"}}})})
    run.finish()
    (item,) = _media(store_dir, run.id)
    assert item.meta["boxes"] == boxes and item.meta["classes"] == [{"id": 1, "name": "cat"}]
    m = item.meta["masks"]["truth"]
    assert m["class_labels"] == {"1": "cat", "2": "dog"}
    assert decode_png(item.read_bytes(m["blob"]))[3] == mask.tobytes()
