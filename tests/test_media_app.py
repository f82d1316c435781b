"""The Media tab of run detail, driven through the real app (Pilot) on a real store with media;
snapshots at 80x24 and 120x40; the Textual-free renderers checked on their own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import app_for, settle
from rich.text import Text

import tracker
from tracker.tui.media.hist import BAND_FILL, BANDS, bands_text, distribution, percentile, quantiles
from tracker.tui.media.render import color_mode, confusion_text, image_text
from tracker.tui.widgets.media import MAX_TABLE_ROWS, MediaPane

pytestmark = pytest.mark.usefixtures("utc", "clean_env")

HOSTILE = "[bold red]x[/]\x1b[2J\x1b]52;c;aGk=\x07"


def make_store(d: Path, table_rows: int = 5) -> Path:
    """One run (fixed id) with an image, an image list, a histogram over 20 steps, a table with
    hostile text, a confusion matrix, a ROC curve and an HTML file."""
    rng = np.random.default_rng(0)
    run = tracker.init(project="vision", name="media-run", id="mediarun01", dir=d, capture_git=False)
    yy, xx = np.mgrid[0:32, 0:48]
    img = np.stack([xx * 5, yy * 8, np.full_like(xx, 128)], axis=-1).astype(np.uint8)
    for step in range(0, 20):
        run.log({"weights": tracker.Histogram(rng.normal(step / 5, 1 + step / 20, size=2000))}, step=step)
    t = tracker.Table(columns=["id", "label", "score"])
    for i in range(table_rows):
        t.add_data(i, HOSTILE if i == 1 else f"cat {i}", i / 10)
    run.log({"sample": tracker.Image(img, caption="gradient"), "grid": [tracker.Image(img), tracker.Image(255 - img)],
             "preds": t, "notes": tracker.Html("<p>hi</p>"),
             "cm": tracker.plot.confusion_matrix(y_true=[0, 0, 1, 1, 2, 2, 2], preds=[0, 1, 1, 1, 2, 2, 0],
                                                 class_names=["cat", "dog", "bird"]),
             "roc": tracker.plot.roc_curve([0, 1, 1, 0, 1], [[.9, .1], [.3, .7], [.2, .8], [.6, .4], [.5, .5]],
                                           labels=["no", "yes"])}, step=19)
    run.finish()
    return d


@pytest.fixture(scope="module")
def media_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("media") / "store")


async def open_media(pilot) -> MediaPane:
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("6")
    await settle(pilot)
    return pilot.app.screen.query_one(MediaPane)


async def pick(pilot, pane: MediaPane, key: str) -> None:
    keys = pane.query_one("#media-keys")
    keys.move_cursor(row=list(pane.by_key).index(key))
    await settle(pilot)


async def test_media_tab_lists_keys_with_kinds_and_last_step(media_store: Path) -> None:
    app = app_for(media_store)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_media(pilot)
        assert list(pane.by_key) == ["cm", "grid", "notes", "preds", "roc", "sample", "weights"]
        table = pane.query_one("#media-keys")
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert ["weights", "histogram", "20", "19"] in rows and ["sample", "image", "1", "19"] in rows


async def test_step_slider_moves_histograms_through_steps(media_store: Path) -> None:
    app = app_for(media_store)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_media(pilot)
        await pick(pilot, pane, "weights")
        assert pane.current().step == 19
        await pilot.press("left_square_bracket", "left_square_bracket")
        await settle(pilot)
        assert pane.current().step == 17
        assert "step 17" in str(pane.query_one("#media-head").render())
        await pilot.press("left_curly_bracket")
        await settle(pilot)
        assert pane.current().step == 0
        view = str(pane.query_one("#media-view").render())
        assert "░" in view or "▓" in view or "█" in view  # heat map drawn
        assert "░ min-max  ▒ ±2σ  ▓ ±1σ  █ median" in view  # the distributions drawn as filled bands
        chart = pane.query_one("#media-chart")
        assert chart.display and [s.label for s in chart.panels[""]] == ["median"]


async def test_table_view_sanitises_hostile_cells_and_caps_rows(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", table_rows=MAX_TABLE_ROWS + 5)
    app = app_for(store)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_media(pilot)
        await pick(pilot, pane, "preds")
        dt = pane.query_one("#media-table")
        assert dt.display and dt.row_count == MAX_TABLE_ROWS
        cell = dt.get_row_at(1)[1]
        assert isinstance(cell, Text) and "\x1b" not in cell.plain and cell.plain.startswith("[bold red]")
        assert "first 10,000 of 10,005 rows" in str(pane.query_one("#media-head").render())
        dt.focus()
        dt.move_cursor(column=2)
        await pilot.press("s", "s")  # score, descending
        await settle(pilot)
        top = [dt.get_row_at(i)[2].plain for i in range(2)]
        assert top == [f"{(MAX_TABLE_ROWS - 1) / 10:.6g}", f"{(MAX_TABLE_ROWS - 2) / 10:.6g}"]


async def test_image_confusion_roc_and_file_views(media_store: Path) -> None:
    app = app_for(media_store)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_media(pilot)
        await pick(pilot, pane, "sample")
        assert "▀" in str(pane.query_one("#media-view").render()) and "gradient" in str(pane.query_one("#media-head").render())
        await pick(pilot, pane, "grid")
        assert str(pane.query_one("#media-view").render()).count("▀") > 100
        await pick(pilot, pane, "cm")
        cm = str(pane.query_one("#media-view").render())
        assert "cat" in cm and "bird" in cm
        await pick(pilot, pane, "roc")
        assert [s.label for s in pane.query_one("#media-chart").panels[""]] == ["no", "yes"]
        await pick(pilot, pane, "notes")
        assert "html" in str(pane.query_one("#media-view").render())


async def test_a_run_without_media_has_no_media_tab(demo_store: Path) -> None:
    app = app_for(demo_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        assert not pilot.app.screen.query("#media")


def test_image_text_fits_and_falls_back() -> None:
    px = bytes([255, 0, 0] * 4 + [0, 0, 255] * 4)  # 4x2: red row over blue row
    t = image_text(4, 2, 3, px, 80, 10, "truecolor")
    assert t.plain.split("\n") == ["▀" * 40] * 10  # scaled up to fit 80x10, square pixels kept
    small = image_text(4, 2, 3, px, 8, 1, "truecolor")
    assert small.plain == "▀" * 4  # aspect kept: 4 wide, 2 pixels = 1 row
    assert small.spans[0].style.color.triplet == (255, 0, 0) and small.spans[0].style.bgcolor.triplet == (0, 0, 255)
    eight = image_text(4, 2, 3, px, 8, 1, "256")
    assert eight.spans[0].style.color.type.name == "EIGHT_BIT"
    plain = image_text(4, 2, 3, px, 8, 1, "none")
    assert not plain.spans and "▀" not in plain.plain
    assert color_mode({"NO_COLOR": "1", "COLORTERM": "truecolor"}) == "none"
    assert color_mode({"COLORTERM": "truecolor"}) == "truecolor" and color_mode({}) == "256"


def test_percentiles_and_confusion_grid() -> None:
    bins, counts = [0.0, 1.0, 2.0, 3.0, 4.0], [0, 10, 10, 0]
    assert percentile(bins, counts, 0.5) == 2.0 and percentile(bins, counts, 0) == 1.0
    assert percentile(bins, counts, 1) == 3.0 and percentile(bins, counts, 0.25) == 1.5
    rng = np.random.default_rng(5)
    c, e = np.histogram(rng.normal(size=999), bins=37)
    qs = [q for _, q in BANDS]
    assert quantiles(e.tolist(), c.tolist(), qs) == [percentile(e.tolist(), c.tolist(), q) for q in qs]
    d = distribution([(0, {"bins": bins, "counts": counts}), (1, {"bins": bins, "counts": [0, 0, 0, 0]})])
    assert d["median"] == ([0.0], [2.0])
    t = confusion_text({"data": [["a", "a", 5], ["a", "b", 1], ["b", "b", 3], [HOSTILE, "a", 2]]}, "truecolor")
    assert "\x1b" not in t.plain and "5" in t.plain


SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("key", ["sample", "weights", "cm"])
def test_media_snapshots(snap_compare, media_store, key, size, monkeypatch) -> None:
    monkeypatch.setenv("COLORTERM", "truecolor")

    async def run_before(pilot) -> None:
        pane = await open_media(pilot)
        await pick(pilot, pane, key)

    assert snap_compare(app_for(media_store), terminal_size=size, run_before=run_before)


async def test_hostile_media_keys_and_captions_are_shown_inert(tmp_path: Path) -> None:
    run = tracker.init(project="p", name="hostile", dir=tmp_path / "store", capture_git=False)
    run.log({HOSTILE: tracker.Image(np.zeros((4, 4), np.uint8), caption=HOSTILE)})
    run.finish()
    app = app_for(tmp_path / "store")
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_media(pilot)
        cell = pane.query_one("#media-keys").get_row_at(0)[0]
        head = pane.query_one("#media-head").render()
        for text in (cell.plain, str(head)):
            assert "\x1b" not in text and "\x07" not in text and "[bold red]x[/]" in text


async def test_table_filter_and_copy_cell(media_store: Path) -> None:
    app = app_for(media_store)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_media(pilot)
        await pick(pilot, pane, "preds")
        dt = pane.query_one("#media-table")
        dt.focus()
        await pilot.press("slash", *"cat 3")
        await settle(pilot)
        assert dt.row_count == 1 and dt.get_row_at(0)[1].plain == "cat 3"
        await pilot.press("enter")  # back to the table
        await settle(pilot)
        dt.move_cursor(row=0, column=1)
        await pilot.press("y")
        await settle(pilot)
        assert pilot.app.clipboard == "cat 3"


async def test_escape_leaves_the_table_filter_not_the_screen(media_store: Path) -> None:
    app = app_for(media_store)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_media(pilot)
        await pick(pilot, pane, "preds")
        pane.query_one("#media-table").focus()
        await pilot.press("slash", "c", "escape")
        await settle(pilot)
        assert pilot.app.screen.query(MediaPane) and pane.query_one("#media-table").has_focus


def test_distribution_bands_are_filled_cells_nested_around_the_median() -> None:
    """One step whose bands are known: from the bottom, min-max, ±2σ, ±1σ, the median, then back out."""
    vals = {"min": 0.0, "-2σ": 2.0, "-1σ": 4.0, "median": 5.0, "+1σ": 6.0, "+2σ": 8.0, "max": 10.0}
    dist = {label: ([0.0, 1.0], [vals[label], vals[label] + 0.0]) for label, _ in BANDS}
    t = bands_text(dist, 30, 10)
    rows = t.plain.split("\n")[:10]
    column = "".join(r[9] for r in reversed(rows))  # bottom to top, the first step's column
    blank, mm, two, one, med = BAND_FILL
    assert column == mm * 2 + two * 2 + one + med + one + two * 2 + mm, column
    assert "".join(r[10] for r in reversed(rows)) == column  # the second step: the same values
    assert bands_text({label: ([], []) for label, _ in BANDS}, 30, 10).plain == ""
