"""The Artifacts screen and the run detail's artifact list, driven through the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import app_for, settle

import tracker
from tracker.tui.screens.artifacts import ArtifactsScreen
from tracker.tui.screens.detail import DetailScreen
from tracker.tui.widgets.artifact_list import RunArtifacts

pytestmark = pytest.mark.usefixtures("utc", "clean_env")

HOSTILE = "[bold]x\x1b[2J\x07"


@pytest.fixture
def lineage_store(tmp_path: Path) -> Path:
    """prep logs data:v0; train uses it and logs model v0, v1 (best); eval uses model:best and
    logs report; loop uses report and logs data again (a cycle through data)."""
    store = tmp_path / "store"

    def log(run, name, type, body, **kw):
        a = tracker.Artifact(name, type=type, metadata={"note": HOSTILE})
        with a.new_file("f.txt") as f:
            f.write(body)
        return run.log_artifact(a, **kw).wait()

    prep = tracker.init(project="p", name="prep", dir=store, capture_git=False)
    log(prep, "data", "dataset", "d0")
    prep.finish()
    train = tracker.init(project="p", name="train", dir=store, capture_git=False)
    train.use_artifact("data:v0")
    log(train, "model", "model", "m0")
    log(train, "model", "model", "m1", aliases=["best"])
    train.finish()
    ev = tracker.init(project="p", name="eval", dir=store, capture_git=False)
    ev.use_artifact("model:best")
    log(ev, "report", "report", "r0")
    ev.finish()
    loop = tracker.init(project="p", name="loop", dir=store, capture_git=False)
    loop.use_artifact("report:v0")
    loop.use_artifact("data:v0")
    log(loop, "data", "dataset", "d1")
    loop.finish()
    return store


def _labels(node, depth: int = 0, out=None) -> list[str]:
    out = [] if out is None else out
    for child in node.children:
        out.append("  " * depth + child.label.plain)
        _labels(child, depth + 1, out)
    return out


async def test_artifacts_screen_lists_and_walks_lineage_with_cycles_cut(lineage_store: Path) -> None:
    app = app_for(lineage_store)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ArtifactsScreen)
        assert set(screen.rows) == {"p/data", "p/model", "p/report"}
        assert screen.rows["p/model"].versions == 2 and ("best", 1) in screen.rows["p/model"].aliases
        table = screen.query_one("#art-table")
        table.move_cursor(row=table.get_row_index("p/model"))
        await settle(pilot)
        lines = _labels(screen.query_one("#art-tree").root)
        text = "\n".join(lines)
        assert lines[0].startswith("v1  [latest, best]")
        assert "logged by run" in text and " train" in text
        assert "used p/data:v0" in text and "used by run" in text and "logged p/report:v0" in text
        # the walk downstream reaches data:v1 through loop, and loop's use of data stops there
        assert "logged p/data:v1" in text
        assert "\x1b" not in text and "\x07" not in text
        assert all(len(line) < 400 for line in lines)
        # Enter on a run line opens that run
        tree = screen.query_one("#art-tree")
        tree.focus()
        run_line = next(i for i in range(200) if (n := tree.get_node_at_line(i)) is not None and n.data)
        tree.move_cursor_to_line(run_line)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.run_id == tree.get_node_at_line(run_line).data


async def test_cycles_are_cut(lineage_store: Path) -> None:
    from tracker.store import Store
    from tracker.store.artifacts import ArtifactStore
    from tracker.tui.widgets.artifact_tree import artifact_nodes

    a = ArtifactStore(Store(lineage_store))
    nodes = artifact_nodes(a, "p", "data")
    v0 = nodes[1]
    down = next(c for c in v0.children if c.label == "downstream")

    def walk(n, depth=0):
        yield n.label, depth
        for c in n.children:
            yield from walk(c, depth + 1)

    labels = [lab for lab, _ in walk(down)]
    assert any("(shown above)" in lab for lab in labels)  # loop is reached twice (via report, and directly)
    assert max(d for _, d in walk(down)) < 20


async def test_run_detail_lists_logged_and_used(lineage_store: Path) -> None:
    app = app_for(lineage_store)
    train = next(r for r in tracker.Api(lineage_store).runs() if r.name == "train")
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        app.open_detail(train.id)
        await settle(pilot)
        text = str(app.screen.query_one(RunArtifacts).render())
        assert "artifacts logged" in text and "p/model:v0" in text and "p/model:v1" in text
        assert "artifacts used" in text and "p/data:v0" in text


async def test_empty_store_says_how_to_log_one(tmp_path: Path) -> None:
    run = tracker.init(project="p", dir=tmp_path / "s", capture_git=False)
    run.finish()
    app = app_for(tmp_path / "s")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        assert "no artifacts yet" in app.screen.query_one("#art-tree").root.label.plain
        await pilot.press("escape")
        assert not isinstance(app.screen, ArtifactsScreen)
