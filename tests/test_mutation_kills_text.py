"""The text sanitiser, pinned to the exact output a user sees (mutation testing, tests/MUTATION.md):
which characters become which visible escape, that values of any type come out as text, and that
captured console lines keep their colours and nothing else."""

from __future__ import annotations

from tracker.tui.text import console_text, sanitize


def test_each_unsafe_character_becomes_its_own_visible_escape():
    assert sanitize("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert sanitize("\x00\x08\x0a\x1f") == "\\x00\\x08\\x0a\\x1f"
    assert sanitize("\x7f\x80\x9b\x9f") == "\\x7f\\x80\\x9b\\x9f"
    # bidi overrides are above U+00FF: four hex digits, \u form
    assert sanitize("evil\u202eexe.txt") == "evil\\u202eexe.txt"
    assert sanitize("\u061c\u2066\u2069") == "\\u061c\\u2066\\u2069"


def test_safe_text_is_unchanged_printable_unicode_included():
    for s in ("plain", "résumé ü ß 学习率", "\xa0nbsp", "\u0100\u00ff", "emoji 🚀"):
        assert sanitize(s) == s
    assert sanitize("a\tb") == "a b"  # a tab would misalign table columns


def test_values_of_any_type_come_out_as_their_text():
    assert sanitize(42) == "42"
    assert sanitize(0.5) == "0.5"
    assert sanitize(None) == "None"
    assert sanitize(["x\x1b"]) == "['x\\x1b']"


def test_console_lines_keep_colours_and_show_every_other_escape():
    t = console_text("\x1b[31mred\x1b[0m plain")
    assert t.plain == "red plain"
    assert [(s.start, s.end, s.style.color.number) for s in t.spans] == [(0, 3, 1)]  # ANSI colour 1: red

    t = console_text("a\x1b]52;c;aGk=\x07b\x1b[2J\x1b[1;32mok")
    assert t.plain == "a\\x1b]52;c;aGk=\\x07b\\x1b[2Jok"
    assert "\x1b" not in t.plain and "\x07" not in t.plain
    assert [(t.plain[s.start:s.end], s.style.color.number, s.style.bold) for s in t.spans] == [("ok", 2, True)]


def test_console_text_without_escapes_is_the_line():
    assert console_text("epoch 3 loss=0.25").plain == "epoch 3 loss=0.25"
    assert console_text("").plain == ""
    assert console_text("\u202e").plain == "\\u202e"
