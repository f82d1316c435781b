"""Regenerate screenshots/ from the demo data: `python screenshots/make.py`.

Each screen of the real app is driven by its Pilot on a seeded demo store (fixed clock, UTC) and
saved as SVG by Textual and as a PNG drawn cell by cell (screenshots/png.py, needs Pillow).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOW = 1_790_000_000.0


async def shoot(store: Path) -> list[Path]:
    from png import save_png

    from tracker.tui.app import make_app
    from tracker.tui.widgets.run_table import RunTable

    out: list[Path] = []

    async def settle(pilot, app) -> None:
        from textual.worker import WorkerCancelled

        for _ in range(3):
            for w in [w for w in app.workers if not w.is_finished]:
                try:
                    await w.wait()
                except WorkerCancelled:  # superseded by a newer fetch of the same group
                    pass
            await pilot.pause()

    for size, suffix in (((120, 36), ""), ((80, 24), "-80x24")):
        app = make_app(store, keymap={}, poll_interval=0, clock=lambda: NOW, ascii_only=False)
        async with app.run_test(size=size) as pilot:
            await settle(pilot, app)

            def save(name: str, app=app, suffix=suffix) -> None:
                path = HERE / f"{name}{suffix}.svg"
                app.save_screenshot(str(path))
                save_png(app, path.with_suffix(".png"))
                out.append(path)

            await pilot.press("p")
            await settle(pilot, app)  # the picker must be up before typing into it
            await pilot.press(*"cifar", "enter")
            await settle(pilot, app)
            await pilot.press("s")
            await settle(pilot, app)
            await pilot.press(*"val/acc", "enter")
            await settle(pilot, app)
            save("runs")
            await pilot.press("slash", *"lr < 5e-4 and optimizer = adamw")
            await settle(pilot, app)
            save("filter")
            await pilot.press("escape")
            await settle(pilot, app)
            await pilot.press("space", "space", "space", "c")
            await settle(pilot, app)
            save("compare")
            await pilot.press("v")
            await settle(pilot, app)
            await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
            await pilot.pause()
            save("charts")
            await pilot.press("escape", "escape")
            await settle(pilot, app)
            app.screen.query_one(RunTable).action_first()
            await pilot.press("enter")
            await settle(pilot, app)
            save("detail")
            await pilot.press("2")
            await pilot.pause()
            save("detail-config")
            await pilot.press("4")
            await settle(pilot, app)
            save("detail-system")
            await pilot.press("5")
            await settle(pilot, app)
            save("detail-console")
            await pilot.press("escape", "z")
            await settle(pilot, app)
            await pilot.press("P")
            await settle(pilot, app)
            for key in ("right", "b"):
                await pilot.press(key)
            await settle(pilot, app)
            save("parcoords")
            await pilot.press("escape", "question_mark")
            await pilot.pause()
            save("help")
    return out


def seed_media(store: Path) -> None:
    """A run with rich media for the Media tab's screenshots (needs NumPy)."""
    import numpy as np

    import tracker

    rng = np.random.default_rng(0)
    run = tracker.init(project="vision", name="resnet-media", id="mediarun01", dir=store, capture_git=False,
                       system_interval=None, console=False)
    yy, xx = np.mgrid[0:96, 0:128]
    r = np.hypot(xx - 64, yy - 48)
    img = np.stack([128 + 127 * np.sin(xx / 9), 128 + 127 * np.cos(yy / 7), 255 - r * 3], -1).clip(0, 255)
    for step in range(0, 200, 10):
        run.log({"weights": tracker.Histogram(rng.normal(step / 100, 1 + step / 150, size=5000))}, step=step)
    t = tracker.Table(columns=["id", "label", "pred", "score"])
    for i in range(40):
        t.add_data(i, ["cat", "dog", "bird"][i % 3], ["cat", "dog", "bird"][(i * 7) % 3], round(0.5 + i / 90, 3))
    run.log({"samples": tracker.Image(img.astype(np.uint8), caption="val sample 0: cat (p=0.93)"), "preds": t,
             "confusion": tracker.plot.confusion_matrix(y_true=rng.integers(0, 4, 300), preds=rng.integers(0, 4, 300),
                                                        class_names=["cat", "dog", "bird", "frog"])}, step=190)
    run.finish()


async def shoot_media(store: Path) -> list[Path]:
    """The Media tab: an image, then a histogram over steps."""
    from png import save_png

    from tracker.tui.app import make_app
    from tracker.tui.widgets.media import MediaPane

    out: list[Path] = []
    for size, suffix in (((120, 36), ""), ((80, 24), "-80x24")):
        app = make_app(store, keymap={}, poll_interval=0, clock=lambda: NOW, ascii_only=False)
        async with app.run_test(size=size) as pilot:
            for keys in ([], ["enter"], ["6"]):
                await pilot.press(*keys)
                for _ in range(3):
                    for w in [w for w in app.workers if not w.is_finished]:
                        await w.wait()
                    await pilot.pause()
            pane = app.screen.query_one(MediaPane)
            for name, key in (("media", "samples"), ("media-histogram", "weights")):
                pane.query_one("#media-keys").move_cursor(row=list(pane.by_key).index(key))
                await pilot.pause()
                path = HERE / f"{name}{suffix}.svg"
                app.save_screenshot(str(path))
                save_png(app, path.with_suffix(".png"))
                out.append(path)
    return out


def main() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    from tracker.tui.demo import seed

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "demo"
        seed(store, now=NOW)
        paths = asyncio.run(shoot(store))
        os.environ["COLORTERM"] = "truecolor"  # images in true colour (the app never probes the terminal)
        seed_media(Path(tmp) / "media")
        paths += asyncio.run(shoot_media(Path(tmp) / "media"))
    for p in paths:
        print("wrote", p.name, "+", p.with_suffix(".png").name)


if __name__ == "__main__":
    main()
