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


def main() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    from tracker.tui.demo import seed

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "demo"
        seed(store, now=NOW)
        paths = asyncio.run(shoot(store))
    for p in paths:
        print("wrote", p.name, "+", p.with_suffix(".png").name)


if __name__ == "__main__":
    main()
