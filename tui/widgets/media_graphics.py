"""The Media tab's images drawn with terminal graphics (``--images kitty|sixel``).

The same layout as the half-block view — one image fitted to the pane with its caption below, a
grid for an image list — built from textual-image's widget for the chosen protocol. Only
constructed when that protocol was chosen (and textual-image imported) when the app was built.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Static

from tracker.tui.media.graphics import image_widget_class
from tracker.tui.media.render import fit
from tracker.tui.text import sanitize

__all__ = ["GraphicsView"]

_PIL_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _pil(iw: int, ih: int, ch: int, px: bytes) -> Any:
    from PIL import Image as PILImage  # textual-image needs Pillow, so it is there

    return PILImage.frombytes(_PIL_MODES[ch], (iw, ih), bytes(px))


class GraphicsView(Vertical):
    """Images (one, or a list as a grid) with captions, drawn by textual-image's ``mode`` widget."""

    DEFAULT_CSS = """
    GraphicsView { height: auto; }
    GraphicsView .media-gfx-row { height: auto; }
    GraphicsView .media-gfx-cell { height: auto; margin-right: 1; }
    GraphicsView .media-gfx-caption { height: auto; }
    """

    def __init__(self, mode: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.mode = mode
        self._cls = image_widget_class(mode)

    def _image(self, iw: int, ih: int, ch: int, px: bytes, max_cols: int, max_rows: int) -> Widget:
        cols, pix_rows = fit(iw, ih, max_cols, max_rows)  # two pixel rows a cell, as half-blocks
        img: Widget = self._cls(_pil(iw, ih, ch, px), classes="media-gfx-image")
        img.styles.width = max(1, cols)
        img.styles.height = max(1, math.ceil(pix_rows / 2))
        return img

    def _cell(self, img: Widget, caption: str | None, width: int) -> Vertical:
        cap = Static(Text(sanitize(caption or "")[:width], style="italic", no_wrap=True),
                     classes="media-gfx-caption")
        cell = Vertical(img, cap, classes="media-gfx-cell")
        cell.styles.width = width
        return cell

    def clear(self) -> None:
        """Drop the shown images (and free their data in the terminal)."""
        for img in self.query(".media-gfx-image"):
            img.image = None  # type: ignore[attr-defined]  # textual-image frees the terminal's copy
        self.remove_children()

    def show(self, item: Any, w: int, h: int) -> None:
        """Show ``item`` (kind ``image`` or ``images``) fitted to ``w`` x ``h`` cells."""
        self.clear()
        if item.kind == "image":
            iw, ih, ch, px = item.image()
            self.mount(self._image(iw, ih, ch, px, w, h - 1))  # its caption is in the pane's head
            return
        n = len(item.data)
        cols = max(1, min(n, math.ceil(math.sqrt(n * max(1, w) / max(1, 2 * h)))))
        cell_w = max(4, (w - (cols - 1)) // cols)
        rows_n = math.ceil(n / cols)
        cell_h = max(2, h // rows_n - 1)
        rows = []
        for r in range(rows_n):
            cells = []
            for i in range(r * cols, min(n, (r + 1) * cols)):
                iw, ih, ch, px = item.image(i)
                cells.append(self._cell(self._image(iw, ih, ch, px, cell_w, cell_h), item.data[i].get("caption"),
                                        cell_w))
            rows.append(Horizontal(*cells, classes="media-gfx-row"))
        self.mount_all(rows)
