"""Opt-in terminal graphics for the Media tab (``--images kitty|sixel`` through textual-image).

The kitty path runs with textual-image installed (it is in the ``test`` extra); the missing-package
and default-never-imports tests run the app in a child process, where a ``sys.meta_path`` blocker
makes ``import textual_image`` fail as it does when the package is not installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from app_helpers import app_for
from test_media_app import make_store, open_media, pick
from textual.geometry import Region

from helpers import child_env, script
from tracker.tui.cli import build_parser
from tracker.tui.media.graphics import missing_message, resolve

pytestmark = pytest.mark.usefixtures("utc", "clean_env")

#: The kitty graphics protocol's unicode placeholder (the cells an image occupies).
PLACEHOLDER = "\U0010eeee"
APC_KITTY = "\x1b_G"


@pytest.fixture(scope="module")
def media_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("media-gfx") / "store")


def _text(widget) -> str:
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return "".join(seg.text for strip in lines for seg in strip)


async def test_kitty_draws_images_with_the_graphics_protocol(media_store: Path, capfd) -> None:
    pytest.importorskip("textual_image")
    from textual_image.widget import TGPImage

    app = app_for(media_store, images="kitty")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_media(pilot)
        await pick(pilot, pane, "sample")
        imgs = list(pane.query(TGPImage))
        assert len(imgs) == 1 and not pane.query_one("#media-view").display
        img = imgs[0]
        # fitted to the pane: a 48x32 image, two pixel rows a cell, as wide as the pane allows
        w, h = pane._pane_size()
        assert 0 < img.size.width <= w and 0 < img.size.height <= h
        assert abs(img.size.width / (2 * img.size.height) - 48 / 32) < 0.1
        assert PLACEHOLDER in _text(img)
        await pick(pilot, pane, "grid")  # an image list: a grid of two, side by side
        imgs = list(pane.query(TGPImage))
        assert len(imgs) == 2 and imgs[0].region.y == imgs[1].region.y and imgs[0].region.x < imgs[1].region.x
        assert all(PLACEHOLDER in _text(i) for i in imgs)
        await pick(pilot, pane, "cm")  # other kinds: the text view again, the images gone
        assert pane.query_one("#media-view").display and not pane.query(TGPImage)
        assert "bird" in str(pane.query_one("#media-view").render())
    out = capfd.readouterr().out
    # the PNG data went to the terminal (APC), placed on the placeholder cells, freed when they went
    assert f"{APC_KITTY}i=" in out and "f=100" in out and ",U=1" in out
    assert out.count(f"{APC_KITTY}a=p,") >= 3 and out.count(f"{APC_KITTY}a=d,") >= 3


async def test_halfblock_default_sends_no_graphics(media_store: Path, capfd) -> None:
    app = app_for(media_store)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.images == "halfblock"
        pane = await open_media(pilot)
        await pick(pilot, pane, "sample")
        view = pane.query_one("#media-view")
        assert view.display and "▀" in str(view.render()) and not pane.query("#media-graphics")
        assert PLACEHOLDER not in _text(view)
    assert APC_KITTY not in capfd.readouterr().out


def test_option_and_environment_choose_the_mode() -> None:
    assert build_parser().parse_args(["--images", "kitty"]).images == "kitty"
    assert build_parser().parse_args(["demo", "--images", "sixel"]).images == "sixel"
    assert build_parser().parse_args([]).images is None
    assert resolve(None, {}) == ("halfblock", None)
    for colours in ("truecolor", "256", "none"):  # TRACKER_IMAGES's half-block colour modes, no message
        assert resolve(None, {"TRACKER_IMAGES": colours}) == ("halfblock", None)
    assert resolve(None, {"TRACKER_IMAGES": "nope"})[0] == "halfblock"
    assert "unknown image mode" in (resolve(None, {"TRACKER_IMAGES": "nope"})[1] or "")
    if __import__("importlib").util.find_spec("textual_image"):
        assert resolve(None, {"TRACKER_IMAGES": "KITTY"}) == ("kitty", None)


CHILD = """
    import asyncio, json, sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name == "textual_image" or name.startswith("textual_image."):
                raise ImportError(f"No module named {name!r} (blocked)")
            return None

    if sys.argv[2] == "block":
        sys.meta_path.insert(0, Blocker())
    sys.path.insert(0, sys.argv[3])
    from app_helpers import app_for, settle
    from test_media_app import open_media, pick

    async def main():
        mode = None if sys.argv[4] == "-" else sys.argv[4]
        app = app_for(sys.argv[1], images=mode)
        async with app.run_test(size=(120, 40)) as pilot:
            pane = await open_media(pilot)
            await pick(pilot, pane, "sample")
            view = pane.query_one("#media-view")
            return {"images": app.images, "notes": [n.message for n in app._notifications],
                    "halfblock": view.display and "\\u2580" in str(view.render()),
                    "imported": sorted(m for m in sys.modules if m.startswith("textual_image"))}

    print(json.dumps(asyncio.run(main())))
"""


def _child(tmp_path: Path, store: Path, block: bool, mode: str | None, **env: str) -> dict:
    p = script(tmp_path, "child.py", CHILD)
    tests = str(Path(__file__).parent)
    r = subprocess.run([sys.executable, str(p), str(store), "block" if block else "-", tests, mode or "-"],
                       capture_output=True, text=True, timeout=120, env=child_env(**env), cwd=tests)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_kitty_without_the_package_says_what_to_install_and_draws_halfblocks(
        media_store: Path, tmp_path: Path) -> None:
    got = _child(tmp_path, media_store, block=True, mode="kitty")
    assert got["images"] == "halfblock" and got["halfblock"]
    assert got["notes"] == [missing_message("kitty")]
    assert "pip install 'tracker-tui[images]'" in got["notes"][0]
    got = _child(tmp_path, media_store, block=True, mode=None, TRACKER_IMAGES="sixel")
    assert got["images"] == "halfblock" and got["notes"] == [missing_message("sixel")]


def test_the_default_never_imports_textual_image(media_store: Path, tmp_path: Path) -> None:
    got = _child(tmp_path, media_store, block=False, mode=None)
    assert got == {"images": "halfblock", "notes": [], "halfblock": True, "imported": []}


async def test_sixel_draws_images_as_sixel_data_in_the_cells(media_store: Path, capfd) -> None:
    pytest.importorskip("textual_image")
    from textual_image.widget import SixelImage

    app = app_for(media_store, images="sixel")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_media(pilot)
        await pick(pilot, pane, "sample")
        imgs = list(pane.query(SixelImage))
        assert len(imgs) == 1 and not pane.query_one("#media-view").display
        drawn = "".join(_text(w) for w in imgs[0].walk_children())
        assert "\x1bP" in drawn and "#" in drawn and "\x1b\\" in drawn  # DCS ... sixel colours ... ST
    assert APC_KITTY not in capfd.readouterr().out


def _resolve_on_a_terminal(mode: str, rows: int, cols: int) -> tuple[list, str]:
    """``resolve(mode)`` in a child whose stdin/stdout are a pseudo-terminal that never answers
    textual-image's queries (a terminal without graphics, or a link that drops the replies)."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    code = ("import json, sys; from tracker.tui.media.graphics import resolve; "
            f"sys.stderr.write('RESULT' + json.dumps(resolve({mode!r})))")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    try:
        p = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                             env=child_env())
        os.close(slave)
        err = p.communicate(timeout=60)[1].decode()
    finally:
        os.close(master)
    before, _, result = err.partition("RESULT")
    return json.loads(result), before


def test_kitty_on_a_terminal_that_never_answers_starts_quietly() -> None:
    pytest.importorskip("textual_image")
    got, stderr = _resolve_on_a_terminal("kitty", 24, 80)
    assert got == ["kitty", None]
    assert stderr == ""  # textual-image's timed-out cell-size query logs a traceback; it must not show


def test_textual_image_failing_to_start_falls_back_to_halfblocks_with_a_message() -> None:
    pytest.importorskip("textual_image")
    got, stderr = _resolve_on_a_terminal("sixel", 0, 0)  # a terminal reporting 0 columns breaks its import
    assert got[0] == "halfblock" and got[1].startswith("--images sixel: textual-image could not start")
    assert "Traceback" not in stderr


def _app_on_a_terminal(store: Path, *args: str) -> bytes:
    """``tracker-tui --store STORE ARGS`` on a pseudo-terminal that never answers queries: what it
    wrote, up to the app's first screen (then ``q`` quits it)."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import termios
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in child_env().items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "TRACKER_IMAGES")}
    proc = subprocess.Popen([sys.executable, "-m", "tracker.tui.cli", "--store", str(store), *args],
                            stdin=slave, stdout=slave, stderr=slave, env={**env, "TERM": "xterm-256color"})
    os.close(slave)  # Textual draws on stderr, textual-image writes to stdout: both on the terminal
    data = bytearray()
    deadline = time.monotonic() + 60
    try:
        while b"media-run" not in data and time.monotonic() < deadline:  # the runs table is drawn
            r, _, _ = select.select([master], [], [], 1)
            if r:
                try:
                    data.extend(os.read(master, 65536))
                except OSError:  # EIO: the child closed the terminal
                    break
        assert b"media-run" in data, bytes(data[-2000:])
        os.write(master, b"q")
        while proc.poll() is None and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        assert proc.wait(10) == 0
        assert b"Traceback" not in data
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return bytes(data)


def test_the_terminal_is_queried_only_with_images_kitty(media_store: Path) -> None:
    pytest.importorskip("textual_image")
    alt_screen = b"\x1b[?1049h"
    plain = _app_on_a_terminal(media_store)
    assert alt_screen in plain and APC_KITTY.encode() not in plain and b"\x1b[16t" not in plain
    kitty = _app_on_a_terminal(media_store, "--images", "kitty")
    # textual-image's support query (kitty's a=q) and cell-size query, before the app took the screen
    before = kitty.split(alt_screen)[0]
    assert b"\x1b_Gi=" in before and b"a=q" in before and b"\x1b[16t" in before
