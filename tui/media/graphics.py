"""Opt-in terminal graphics for the Media tab's images (``--images kitty|sixel``, ``TRACKER_IMAGES``).

Half-block cells (``halfblock``) are the default and need nothing from the terminal. ``kitty``
(the Terminal Graphics Protocol) and ``sixel`` draw real pixels through the optional
``textual-image`` package (``pip install 'tracker-tui[images]'``), imported here only when one of
them is asked for — the default never imports it, so it never queries the terminal.

textual-image detects what the terminal supports when it is imported (a 0.1 s query when stdout is
a terminal) and cannot do so once Textual owns the terminal, so :func:`resolve` is called when the
app is built, before it starts; the protocol itself is then the one asked for, never the detected
one.
"""

from __future__ import annotations

import os
from typing import Any

from tracker.tui.media.render import MODES as COLOR_MODES

__all__ = ["MODES", "resolve", "image_widget_class", "missing_message"]

#: The ``--images`` choices; the first is the default.
MODES = ("halfblock", "kitty", "sixel")


def missing_message(mode: str) -> str:
    """What the status line says when ``mode`` needs textual-image and it is not installed."""
    return f"--images {mode} needs: pip install 'tracker-tui[images]' (drawing images with half-blocks)"


def resolve(mode: str | None, env: dict[str, str] | None = None) -> tuple[str, str | None]:
    """The image mode to use and a message for the user (``None`` when all is well).

    ``mode`` ``None`` reads ``TRACKER_IMAGES`` (default ``halfblock``), which also takes the
    half-block colour modes ``truecolor``, ``256`` and ``none`` (:func:`render.color_mode` reads
    those). An unknown value or a missing textual-image gives ``halfblock`` with a message saying why.
    """
    if mode is None:
        mode = (os.environ if env is None else env).get("TRACKER_IMAGES", "").strip().lower() or "halfblock"
    if mode in COLOR_MODES:
        return "halfblock", None
    if mode not in MODES:
        return "halfblock", f"unknown image mode {mode[:20]!r} (choose {', '.join(MODES + COLOR_MODES)}); drawing half-blocks"
    if mode == "halfblock":
        return mode, None
    try:
        image_widget_class(mode)
    except ImportError:
        return "halfblock", missing_message(mode)
    except Exception as e:  # its start-up query of the terminal failed (e.g. a terminal reporting 0 columns)
        return "halfblock", f"--images {mode}: textual-image could not start ({type(e).__name__}: {e}); drawing half-blocks"
    return mode, None


def image_widget_class(mode: str) -> Any:
    """textual-image's widget class for ``mode`` (``kitty``: TGPImage, ``sixel``: SixelImage).

    Raises ImportError when textual-image (or Pillow, which it needs) is not installed.
    """
    import logging

    # Its import logs a warning with a traceback when the terminal does not answer its cell-size
    # query; without a handler Python would print that on stderr as the app starts. The app
    # assumes textual-image's default cell size then, as textual-image does.
    logging.getLogger("textual_image").addHandler(logging.NullHandler())
    import textual_image.widget as tiw

    return tiw.TGPImage if mode == "kitty" else tiw.SixelImage
