"""Rich objects in artifacts (``Artifact.add`` / ``Artifact.get``), as wandb does: a Table, an
Image and a Histogram logged in a version by one run and read back by another. Real stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tracker
from tracker.store.artifacts_models import ArtifactError

pytestmark = pytest.mark.usefixtures("clean_env")


def _pixels() -> np.ndarray:
    px = np.zeros((6, 8, 3), dtype=np.uint8)
    px[:, :, 0] = np.arange(8, dtype=np.uint8) * 30
    px[2, 3] = (1, 2, 3)
    return px


def test_table_image_and_histogram_round_trip_through_log_and_use_artifact(store_dir: Path) -> None:
    px = _pixels()
    cell = tracker.Image(px[:2, :2], caption="crop")
    table = tracker.Table(columns=["id", "pred", "score", "img"],
                          data=[[1, "cat", 0.5, cell], [2, "dog", None, None]])
    run = tracker.init(project="p", dir=store_dir, name="eval")
    art = tracker.Artifact("preds", type="predictions")
    art.add(table, "val_table")
    art.add(tracker.Image(px, caption="a sample"), "sample")
    art.add(tracker.Histogram([1.0, 2.0, 2.0, float("nan")], num_bins=2), "scores")
    run.log_artifact(art).wait()
    run.finish()

    reader = tracker.init(project="p", dir=store_dir, name="report")
    used = reader.use_artifact("preds:latest")
    assert "val_table.table.json" in used.manifest and "sample.image.json" in used.manifest
    t = used.get("val_table")
    assert isinstance(t, tracker.Table) and t.columns == ["id", "pred", "score", "img"]
    assert [r[:3] for r in t.data] == [[1, "cat", 0.5], [2, "dog", None]] and t.data[1][3] is None
    img_cell = t.data[0][3]
    assert isinstance(img_cell, tracker.Image) and img_cell.caption == "crop"
    from tracker._media_png import decode_png

    assert decode_png(img_cell.to_record().blobs[0]) == (2, 2, 3, px[:2, :2].tobytes())
    img = used.get("sample")
    assert isinstance(img, tracker.Image) and (img.width, img.height, img.caption) == (8, 6, "a sample")
    assert decode_png(img.to_record().blobs[0]) == (8, 6, 3, px.tobytes())
    h = used.get("scores")
    assert isinstance(h, tracker.Histogram) and sum(h.histogram) == 3 and h.to_record().meta["nan"] == 1
    assert used.get("nothing") is None
    # what came back can be logged again like the original
    reader.log({"table_again": t, "image_again": img})
    reader.finish()
    items = {m.key: m for m in tracker.Api(store_dir).run(reader.id).media()}
    assert items["table_again"].data["data"][0][:3] == [1, "cat", 0.5]
    assert items["image_again"].image() == (8, 6, 3, px.tobytes())


def test_add_refuses_what_is_not_a_rich_object_or_a_failed_one(store_dir: Path) -> None:
    art = tracker.Artifact("x", type="t")
    with pytest.raises(ArtifactError, match="add_file"):
        art.add("weights.bin", "w")
    with pytest.raises(ArtifactError, match="cannot be added"):
        art.add(tracker.Image("/no/such/file.png"), "bad")
    art.add(tracker.Table(columns=["a"], data=[[1]]), "t")
    with pytest.raises(ArtifactError, match="already has a file"):
        art.add(tracker.Table(columns=["a"], data=[[2]]), "t")
    art.add(tracker.Table(columns=["a"], data=[[2]]), "t", overwrite=True)
    run = tracker.init(project="p", dir=store_dir)
    run.log_artifact(art).wait()
    assert art.get("t").data == [[2]]
    run.finish()
