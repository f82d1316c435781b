"""Draw a running Textual app's screen as a PNG, cell by cell (used by screenshots/make.py).

Why not convert Textual's SVG: an SVG converter lays text out with whatever fonts it finds, so
glyph runs drift off the cell grid ("^pComm ands"), block elements become blobs and box-drawing
lines break. Here every cell is placed on an exact grid; block elements (sparklines, bars) and
box-drawing lines are drawn as shapes, everything else with a monospace font (DejaVu Sans Mono).
Needs Pillow (`pip install pillow`), a developer tool only: the package never imports it.
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.cells import cell_len
from rich.color import Color
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
    "/Library/Fonts/DejaVuSansMono.ttf",
)
BOLD_CANDIDATES = tuple(p.replace("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf") for p in FONT_CANDIDATES)
FONT_SIZE = 15
CELL_W = 9
CELL_H = 19
PAD = 10
DEFAULT_FG = (224, 224, 224)
DEFAULT_BG = (18, 18, 18)

# lower eighths (sparklines), full block, and left eighths (bars)
LOWER = {"▁": 1, "▂": 2, "▃": 3, "▄": 4, "▅": 5, "▆": 6, "▇": 7, "█": 8}
LEFT = {"▏": 1, "▎": 2, "▍": 3, "▌": 4, "▋": 5, "▊": 6, "▉": 7}
# quadrants (plotext's high-definition marker): which of (top-left, top-right, bottom-left, bottom-right)
QUAD = {
    "▘": "a", "▝": "b", "▖": "c", "▗": "d", "▀": "ab", "▄": "cd", "▌": "ac", "▐": "bd", "▚": "ad",
    "▞": "bc", "▛": "abc", "▜": "abd", "▙": "acd", "▟": "bcd",
}
# box drawing: which of (up, down, left, right) each glyph connects, and whether it is heavy
_LIGHT = {
    "─": "lr", "│": "ud", "┌": "dr", "┐": "dl", "└": "ur", "┘": "ul", "├": "udr", "┤": "udl",
    "┬": "dlr", "┴": "ulr", "┼": "udlr", "╭": "dr", "╮": "dl", "╰": "ur", "╯": "ul", "╴": "l",
    "╶": "r", "╵": "u", "╷": "d",
}
_HEAVY = {
    "━": "lr", "┃": "ud", "┏": "dr", "┓": "dl", "┗": "ur", "┛": "ul", "┣": "udr", "┫": "udl",
    "┳": "dlr", "┻": "ulr", "╋": "udlr", "╸": "l", "╺": "r", "╹": "u", "╻": "d",
}


def _font(candidates: tuple[str, ...]):
    from PIL import ImageFont

    for path in candidates:
        if Path(path).exists():
            return ImageFont.truetype(path, FONT_SIZE)
    return ImageFont.load_default()


def _rgb(color: Color | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    if color is None or color.is_default:
        return default
    t = color.get_truecolor()
    return (t.red, t.green, t.blue)


def screen_lines(app) -> list[list[Segment]]:
    """The app's current screen as lines of styled segments (what export_screenshot renders)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    render = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(render)
    segments = [s for s in console._record_buffer if not s.control]  # cursor moves are not cells
    return list(Segment.split_lines(segments))[:height]


def _cell_colors(style: Style) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    fg = _rgb(style.color, DEFAULT_FG)
    bg = _rgb(style.bgcolor, DEFAULT_BG)
    if style.reverse:
        fg, bg = bg, fg
    if style.dim:
        fg = tuple((f + b) // 2 for f, b in zip(fg, bg))  # type: ignore[assignment]
    return fg, bg


def _draw_box(draw, ch: str, x: int, y: int, fg) -> bool:
    ways = _LIGHT.get(ch)
    heavy = False
    if ways is None:
        ways = _HEAVY.get(ch)
        heavy = True
    if ways is None:
        return False
    w = 2 if heavy else 1
    cx, cy = x + CELL_W // 2, y + CELL_H // 2
    if "u" in ways:
        draw.rectangle([cx, y, cx + w - 1, cy], fill=fg)
    if "d" in ways:
        draw.rectangle([cx, cy, cx + w - 1, y + CELL_H - 1], fill=fg)
    if "l" in ways:
        draw.rectangle([x, cy, cx, cy + w - 1], fill=fg)
    if "r" in ways:
        draw.rectangle([cx, cy, x + CELL_W - 1, cy + w - 1], fill=fg)
    return True


# braille (parallel coordinates): bit -> (column, row) of its dot in a 2x4 grid
BRAILLE = ((0x01, 0, 0), (0x02, 0, 1), (0x04, 0, 2), (0x40, 0, 3), (0x08, 1, 0), (0x10, 1, 1), (0x20, 1, 2),
           (0x80, 1, 3))


def _draw_braille(draw, bits: int, x: int, y: int, fg) -> None:
    for bit, col, row in BRAILLE:
        if bits & bit:
            cx = x + 2 + col * (CELL_W - 5)
            cy = y + 2 + row * (CELL_H - 4) // 4
            draw.rectangle([cx, cy, cx + 2, cy + 2], fill=fg)


def _draw_cell(draw, fonts, ch: str, x: int, y: int, style: Style, cells: int) -> None:
    fg, _ = _cell_colors(style)
    if 0x2800 <= ord(ch) <= 0x28FF:
        _draw_braille(draw, ord(ch) - 0x2800, x, y, fg)
    elif ch in LOWER:
        h = round(CELL_H * LOWER[ch] / 8)
        draw.rectangle([x, y + CELL_H - h, x + CELL_W - 1, y + CELL_H - 1], fill=fg)
    elif ch in LEFT and ch != "▌":
        w = max(1, round(CELL_W * LEFT[ch] / 8))
        draw.rectangle([x, y, x + w - 1, y + CELL_H - 1], fill=fg)
    elif ch in QUAD:
        hw, hh = CELL_W // 2, CELL_H // 2
        for q in QUAD[ch]:
            qx = x + (hw if q in "bd" else 0)
            qy = y + (hh if q in "cd" else 0)
            draw.rectangle([qx, qy, qx + (CELL_W - hw if q in "bd" else hw) - 1,
                            qy + (CELL_H - hh if q in "cd" else hh) - 1], fill=fg)
    elif ch.strip() and not _draw_box(draw, ch, x, y, fg):
        font = fonts[1] if style.bold else fonts[0]
        draw.text((x, y + 2), ch, font=font, fill=fg)
    if style.underline:
        draw.line([x, y + CELL_H - 2, x + CELL_W * cells - 1, y + CELL_H - 2], fill=fg)


def save_png(app, path: Path) -> None:
    """Write the app's current screen to ``path`` as a PNG on an exact cell grid."""
    from PIL import Image, ImageDraw

    width, height = app.size
    img = Image.new("RGB", (width * CELL_W + 2 * PAD, height * CELL_H + 2 * PAD), DEFAULT_BG)
    draw = ImageDraw.Draw(img)
    fonts = (_font(FONT_CANDIDATES), _font(BOLD_CANDIDATES))
    cells_at: list[tuple[str, int, int, Style, int]] = []
    for row, line in enumerate(screen_lines(app)):
        col = 0
        y = PAD + row * CELL_H
        for seg in line:
            style = seg.style or Style()
            for ch in seg.text:
                cells = cell_len(ch)
                if cells == 0:
                    continue
                cells_at.append((ch, PAD + col * CELL_W, y, style, cells))
                col += cells
    # every background first: a glyph that reaches below its cell (_ , g) is not painted over
    for _, x, y, style, cells in cells_at:
        draw.rectangle([x, y, x + CELL_W * cells - 1, y + CELL_H - 1], fill=_cell_colors(style)[1])
    for ch, x, y, style, cells in cells_at:
        _draw_cell(draw, fonts, ch, x, y, style, cells)
    img.save(path)
