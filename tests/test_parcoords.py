"""Parallel coordinates: axis inference, keyboard brushing, filter expressions, rendering, widget."""

from __future__ import annotations

import math
import random
import time

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from tracker.tui.filter import compile_filter, parse
from tracker.tui.filter.ast import And
from tracker.tui.filter.writer import number_text
from tracker.tui.parcoords import Axis, Brush, ParCoords, brushes, build_axes, format_key, render, renderer
from tracker.tui.text import sanitize
from tracker.tui.widgets.parcoords_view import ParCoordsView

HOSTILE = "[/]\x1b]52;c;aGk=\x07[bold red]x"

# Axes: opt (categorical: adam < lion < my opt < sgd), lr (log, 1e-5..1e-1: a bucket is a
# quarter decade), warmup (linear 0.5..16.5: a bucket is 1.0), batch (integers 16..128: a
# bucket is 7), loss (metric, 0.6..2.0; r5 lacks it, r6 has NaN).
RUNS = [
    ("r0", {"opt": "adam", "lr": 1e-5, "warmup": 0.5, "batch": 16, "loss": 2.0}),
    ("r1", {"opt": "sgd", "lr": 1e-4, "warmup": 4.0, "batch": 32, "loss": 1.5}),
    ("r2", {"opt": "adam", "lr": 1e-3, "warmup": 8.5, "batch": 64, "loss": 1.0}),
    ("r3", {"opt": "lion", "lr": 1.5e-3, "warmup": 9.0, "batch": 64, "loss": 0.8}),
    ("r4", {"opt": "sgd", "lr": 3e-3, "warmup": 9.5, "batch": 128, "loss": 0.6}),
    ("r5", {"opt": "adam", "lr": 1e-2, "warmup": 12.0, "batch": 128}),
    ("r6", {"opt": "my opt", "lr": 1e-1, "warmup": 16.5, "batch": None, "loss": math.nan}),
]
KEYS = ["opt", "lr", "warmup", "batch"]
ALL = {rid for rid, _ in RUNS}


def make(**kw) -> ParCoords:
    return ParCoords.from_runs(RUNS, KEYS, "loss", **kw)


def check_shape(t: Text, width: int, height: int) -> list[str]:
    lines = t.plain.split("\n")
    assert len(lines) == height
    for line in t.split("\n", allow_blank=True):
        assert line.cell_len <= width, (line.plain, line.cell_len, width)
    assert "\x1b" not in t.plain
    return lines


# -- axes ---------------------------------------------------------------------------------


def test_axis_kinds_inferred_and_metric_last():
    axes = build_axes([v for _, v in RUNS], KEYS, "loss")
    assert [(a.key, a.kind) for a in axes] == [
        ("opt", "categorical"), ("lr", "log"), ("warmup", "linear"), ("batch", "linear"),
        ("loss", "linear"),
    ]
    assert [a.is_metric for a in axes] == [False] * 4 + [True]
    assert axes[0].categories == ("adam", "lion", "my opt", "sgd")
    assert (axes[1].lo, axes[1].hi) == (1e-5, 1e-1)
    assert axes[3].integer and not axes[2].integer
    # missing: None (batch), absent and NaN (loss)
    assert [a.has_missing for a in axes] == [False, False, False, True, True]
    assert axes[-1].ref == "summary.loss" and axes[0].ref == "config.opt"


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([1, 100], "log"),                       # exactly two decades
        ([1, 99.9], "linear"),
        ([0, 1000], "linear"),                   # zero: no log
        ([-5, 1e6], "linear"),
        ([1e-6, 1e-3, None, math.nan], "log"),
        (["b", "a"], "categorical"),
        ([True, False], "categorical"),
        ([1, "a"], "categorical"),               # mixed
        ([None, math.nan], "linear"),            # nothing to show: empty numeric axis
    ],
)
def test_axis_kind_inference(values, kind):
    (axis,) = build_axes([{"k": v} for v in values], ["k"], "")
    assert axis.kind == kind


def test_categories_sorted_by_type_then_value_and_bools_not_ones():
    (axis,) = build_axes([{"k": v} for v in ["b", 2, True, "a", 1, False, 1.0]], ["k"], "")
    assert axis.categories == (False, True, 1, 2, "a", "b")
    assert axis.labels == ("false", "true", "1", "2", "a", "b")
    assert axis.category_index(True) == 1 and axis.category_index(1) == 2


def test_missing_keys_and_duplicates():
    axes = build_axes([{"a": 1.0}, {"b": "x"}, {}], ["a", "b", "a", "m"], "m")
    assert [a.key for a in axes] == ["a", "b", "m"]  # dup and metric-named config key dropped
    assert all(a.has_missing for a in axes)
    assert axes[-1].empty and axes[-1].steps == 0
    assert axes[0].steps == 1  # constant axis: one bucket


# -- brushing -----------------------------------------------------------------------------


def test_categorical_brush_set_widen_clear():
    pc = make()
    assert pc.current_axis.key == "opt" and pc.cursor_label() == "adam"
    assert pc.brush_set()
    assert pc.selected_ids() == {"r0", "r2", "r5"}
    assert pc.to_filter_expr() == 'config.opt in ("adam")'
    assert pc.widen(1)
    assert pc.selected_ids() == {"r0", "r2", "r3", "r5"}
    assert pc.to_filter_expr() == 'config.opt in ("adam", "lion")'
    assert pc.widen(-1)  # back to the cursor's category
    assert pc.to_filter_expr() == 'config.opt in ("adam")'
    assert not pc.widen(-1)  # never below one bucket
    pc.move_cursor(3)
    assert pc.cursor_label() == "sgd"
    assert pc.brush_set() and pc.selected_ids() == {"r1", "r4"}
    assert pc.clear() and pc.selected_ids() == ALL and pc.to_filter_expr() == ""
    assert not pc.clear()


def test_log_brush_is_log_aware():
    pc = make()
    assert pc.move_axis(1) and pc.current_axis.key == "lr"
    assert pc.cursor_label() == "0.001–0.00178"
    pc.brush_set()  # bucket 8 of 16: 10^-3 .. 10^-2.75
    assert pc.to_filter_expr() == "0.001 <= config.lr <= 0.00177828"
    assert pc.selected_ids() == {"r2", "r3"}
    pc.widen(1)  # a quarter decade each way
    assert pc.to_filter_expr() == "0.000562341 <= config.lr <= 0.00316228"
    assert pc.selected_ids() == {"r2", "r3", "r4"}
    pc.widen(-1)
    assert pc.to_filter_expr() == "0.001 <= config.lr <= 0.00177828"
    pc.move_cursor(-99)
    pc.brush_set()
    assert pc.to_filter_expr() == "1e-05 <= config.lr <= 1.77828e-05"
    assert pc.selected_ids() == {"r0"}
    pc.move_cursor(99)
    pc.brush_set()
    assert pc.to_filter_expr() == "0.0562341 <= config.lr <= 0.1"
    assert pc.selected_ids() == {"r6"}


def test_linear_brush_bounds_are_inclusive():
    pc = make()
    pc.move_axis(2)
    pc.brush_set()
    assert pc.to_filter_expr() == "8.5 <= config.warmup <= 9.5"
    assert pc.selected_ids() == {"r2", "r3", "r4"}
    pc.widen(1)
    assert pc.to_filter_expr() == "7.5 <= config.warmup <= 10.5"
    pc.widen(1)
    pc.widen(-1)
    assert pc.to_filter_expr() == "7.5 <= config.warmup <= 10.5"


def test_integer_axis_rounds_inwards_and_missing_never_selected():
    pc = make()
    pc.move_axis(3)
    pc.brush_set()  # 72..79: no run
    assert pc.to_filter_expr() == "72 <= config.batch <= 79"
    assert pc.selected_ids() == set()
    pc.move_cursor(-2)
    pc.brush_set()
    assert pc.to_filter_expr() == "58 <= config.batch <= 65"
    assert pc.selected_ids() == {"r2", "r3"}
    pc.widen(99)  # the whole axis still leaves out r6 (batch None)
    assert pc.to_filter_expr() == "16 <= config.batch <= 128"
    assert pc.selected_ids() == ALL - {"r6"}


def test_metric_axis_extend_and_clear_all():
    pc = make()
    pc.move_axis(99)
    assert pc.current_axis.key == "loss"
    pc.move_cursor(-99)
    pc.brush_set()
    assert pc.to_filter_expr() == "0.6 <= summary.loss <= 0.6875"
    assert pc.selected_ids() == {"r4"}
    assert pc.extend(2)  # cursor up two buckets, brush stretched to it
    assert pc.to_filter_expr() == "0.6 <= summary.loss <= 0.8625"
    assert pc.selected_ids() == {"r3", "r4"}  # r5 (absent) and r6 (NaN) never
    pc.move_axis(-4)
    pc.brush_set()
    pc.move_axis(2)
    pc.brush_set()
    assert pc.to_filter_expr() == (
        'config.opt in ("adam") and 8.5 <= config.warmup <= 9.5 '
        "and 0.6 <= summary.loss <= 0.8625"
    )
    assert pc.selected_ids() == set()
    assert pc.clear_all() and not pc.brushes and pc.selected_ids() == ALL
    assert pc.to_filter_expr() == "" and not pc.clear_all()


def test_external_brush_then_keyboard_widen():
    pc = make()
    pc.set_brush(Brush("warmup", 8.7, 9.2))
    pc.move_axis(2)
    assert pc.selected_ids() == {"r3"}
    pc.widen(1)  # from the buckets the brush touches (8.5..9.5) one each way
    assert pc.to_filter_expr() == "7.5 <= config.warmup <= 10.5"
    with pytest.raises(KeyError):
        pc.set_brush(Brush("nope", 0, 1))


def test_empty_and_constant_axes_brush_safely():
    pc = ParCoords.from_runs([("a", {"c": 3.0}), ("b", {"c": 3.0})], ["c", "e"], "")
    assert pc.brush_set() and pc.to_filter_expr() == "3 <= config.c <= 3"
    assert not pc.widen(1) and pc.selected_ids() == {"a", "b"}
    pc.move_axis(1)
    assert not pc.brush_set() and not pc.widen(1) and not pc.extend(1)
    empty = ParCoords([], [])
    assert not (empty.move_axis(1) or empty.brush_set() or empty.clear() or empty.widen(1))
    assert empty.selected_ids() == set() and empty.to_filter_expr() == ""


def test_filter_expr_quoting():
    runs = [
        ("a", {'my "key"': "it's \"x\"", "w s": 1.5, "flag": True, "n/x.y-z_0": "a\\b", "val loss": 1}),
        ("b", {'my "key"': "plain", "w s": 2.5, "flag": False, "n/x.y-z_0": "b", "val loss": 2}),
    ]
    pc = ParCoords.from_runs(runs, ['my "key"', "w s", "flag", "n/x.y-z_0"], "val loss")
    pc.move_cursor(99)
    pc.widen(1)  # no brush yet: brush the cursor's category, then widen
    pc.move_axis(1)
    pc.move_cursor(-99)
    pc.brush_set()
    pc.move_axis(1)
    pc.move_cursor(99)
    pc.brush_set()
    pc.move_axis(1)
    pc.brush_set()
    pc.widen(1)
    pc.move_axis(1)
    pc.move_cursor(-99)
    pc.brush_set()
    assert pc.to_filter_expr() == (
        'config."my \\"key\\"" in ("it\'s \\"x\\"", "plain")'
        ' and 1.5 <= config."w s" <= 1.5625'
        " and config.flag in (true)"
        ' and config.n/x.y-z_0 in ("a\\\\b", "b")'
        ' and 1 <= summary."val loss" <= 1'
    )
    assert pc.selected_ids() == {"a"}
    assert format_key("", "config") == 'config.""'
    assert format_key("a.b/c", "summary") == "summary.a.b/c"


def test_bounds_round_outwards_to_short_decimals():
    axis = Axis("k", "linear", 0.0, 0.1)
    lo = brushes._bound(axis, 0.1 / 3, True)
    hi = brushes._bound(axis, 0.1 / 3, False)
    assert lo <= 0.1 / 3 <= hi
    assert (number_text(lo), number_text(hi)) == ("0.0333333", "0.0333334")
    # an axis spanning little relative to its magnitude gets the digits it needs
    tight = Axis("k", "linear", 1000.0, 1000.001)
    v = brushes._bound(tight, 1000.0003125, True)
    assert v <= 1000.0003125 and number_text(v) == "1000.0003125"


# -- rendering ----------------------------------------------------------------------------


def _cases():
    yield "full", make()
    yield "no runs", ParCoords.from_runs([], KEYS, "loss")
    yield "one run", ParCoords.from_runs(RUNS[:1], KEYS, "loss")
    yield "one axis", ParCoords.from_runs(RUNS, [], "loss")
    yield "no axes", ParCoords.from_runs(RUNS, [], "")
    yield "constant", ParCoords.from_runs([(str(i), {"a": 1, "b": "x", "m": 0.5}) for i in range(5)],
                                          ["a", "b"], "m")
    yield "nan", ParCoords.from_runs([(str(i), {"a": math.nan, "b": math.inf, "m": math.nan})
                                      for i in range(5)], ["a", "b"], "m")
    many = make()
    many.move_axis(2)
    many.brush_set()
    yield "brushed", many


@pytest.mark.parametrize(("width", "height"), [(80, 16), (120, 40), (20, 5), (78, 16), (7, 3),
                                               (1, 1), (3, 2), (40, 4)])
@pytest.mark.parametrize("color", [True, False])
def test_render_dimensions(width, height, color):
    for label, pc in _cases():
        t = render(pc, width, height, color=color)
        assert isinstance(t, Text), label
        check_shape(t, width, height)


def test_render_layout_at_80x16():
    pc = make()
    lines = check_shape(render(pc, 78, 16), 78, 16)
    assert lines[0].split() == ["opt", "lr", "warmup", "batch", "loss"]
    assert "0.1" in lines[1] and "1e-5 log" in lines[-2]  # log axis ticks
    assert any("adam" in line for line in lines) and any("my opt" in line for line in lines)
    assert "n/a" in lines[-3]  # the missing row
    assert "◆" in "".join(lines[2:-2])  # the cursor
    assert lines[-1].startswith("loss 0.6 ") and "7 runs" in lines[-1] and "◆ opt: adam" in lines[-1]
    assert any(ch in "".join(lines[2:-2]) for ch in "⣀⠉⠒⠤")  # braille lines


def test_hostile_labels_are_sanitised():
    runs = [("a", {HOSTILE: HOSTILE, "m": 1.0}), ("b", {HOSTILE: "ok", "m": 2.0})]
    pc = ParCoords.from_runs(runs, [HOSTILE], "m")
    for color in (True, False):
        t = render(pc, 200, 12, color=color)
        lines = check_shape(t, 200, 12)
        assert "\x07" not in t.plain
        safe = sanitize(HOSTILE)
        assert safe.startswith("[/]\\x1b]52;c;aGk=\\x07")
        assert safe in lines[0]  # axis name
        assert any(safe in line for line in lines[2:-2])  # category label
        assert pc.cursor_label() in lines[-1]
    pc.brush_set()
    assert pc.to_filter_expr().startswith('config."[/]\x1b]52')  # the raw key for the parser
    # tiny and wide (CJK) labels never overflow
    wide = ParCoords.from_runs([("a", {"名前名前名前": "値値値値", "m": 1})], ["名前名前名前"], "m")
    for w in (5, 9, 13, 31):
        check_shape(render(wide, w, 6), w, 6)


def _colours(t: Text) -> set[int]:
    out = set()
    for span in t.spans:
        seg = t.plain[span.start:span.end]
        if span.style.color is not None and any(0x2800 < ord(c) <= 0x28FF for c in seg):
            out.add(span.style.color.number)
    return out


def test_colour_by_metric_direction_and_no_color_selection():
    runs = [("good", {"x": 1.0, "m": 10.0}), ("bad", {"x": 2.0, "m": 0.0})]
    pc = ParCoords.from_runs(runs, ["x"], "m")
    assert _colours(render(pc, 40, 10)) == {46, 196}  # green best, red worst
    pc.move_cursor(99)
    pc.brush_set()  # x top bucket: only "bad"
    assert pc.selected_ids() == {"bad"}
    assert _colours(render(pc, 40, 10)) == {196, renderer._GREY}  # the other run greyed out
    pc.show_unselected = False
    assert _colours(render(pc, 40, 10)) == {196}
    pc.show_unselected = True
    pc.higher_is_better = False
    assert _colours(render(pc, 40, 10)) == {46, renderer._GREY}
    # no colour: not a single coloured span, and the runs outside the brush are hidden
    plain = render(pc, 40, 10, color=False)
    assert all(s.style.color is None for s in plain.spans)
    def dots(t):
        return sum(bin(ord(c) - 0x2800).count("1") for c in t.plain if 0x2800 < ord(c) <= 0x28FF)
    pc.clear_all()
    assert dots(render(pc, 40, 10, color=False)) > dots(plain) > 0


def test_render_speed_1000_runs_6_axes():
    rng = random.Random(7)
    runs = [
        (f"r{i}", {"lr": 10 ** rng.uniform(-5, -1), "wd": rng.random(), "bs": rng.choice([16, 32, 64, 128]),
                   "opt": rng.choice(["adam", "sgd", "lion"]), "drop": rng.random(), "loss": rng.random()})
        for i in range(1000)
    ]
    pc = ParCoords.from_runs(runs, ["lr", "wd", "bs", "opt", "drop"], "loss")
    renderer._shape.cache_clear()
    t0 = time.perf_counter()
    t = render(pc, 120, 40)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(5):
        render(pc, 120, 40)
    warm = (time.perf_counter() - t0) / 5
    print(f"\nparcoords render 1000 runs x 6 axes at 120x40: cold {cold * 1000:.1f} ms, "
          f"warm {warm * 1000:.1f} ms")
    check_shape(t, 120, 40)
    assert cold < 1.0 and warm < 0.5  # generous: ~50 ms cold, ~10 ms warm on a laptop


# -- widget -------------------------------------------------------------------------------


class PlotApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.changes: list[ParCoordsView.BrushesChanged] = []

    def compose(self) -> ComposeResult:
        yield ParCoordsView(id="pc")

    def on_mount(self) -> None:
        view = self.query_one(ParCoordsView)
        view.set_data(RUNS, KEYS, "loss")
        view.focus()

    def on_par_coords_view_brushes_changed(self, message: ParCoordsView.BrushesChanged) -> None:
        self.changes.append(message)


async def test_widget_keys_post_brushes_changed():
    app = PlotApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(ParCoordsView)
        await pilot.pause()
        assert app.changes == []  # set_data without brushes: nothing changed
        await pilot.press("right", "b")
        await pilot.pause()
        assert [(m.expr, m.selected) for m in app.changes] == [
            ("0.001 <= config.lr <= 0.00177828", {"r2", "r3"}),
        ]
        assert app.changes[0].control is view
        await pilot.press("plus")
        await pilot.pause()
        assert app.changes[-1].expr == "0.000562341 <= config.lr <= 0.00316228"
        assert app.changes[-1].selected == {"r2", "r3", "r4"}
        await pilot.press("up", "down", "left")  # cursor moves: no message
        await pilot.pause()
        assert len(app.changes) == 2
        await pilot.press("b", "right", "x")
        await pilot.pause()
        assert [m.expr for m in app.changes[2:]] == [
            'config.opt in ("adam") and 0.000562341 <= config.lr <= 0.00316228',
            'config.opt in ("adam")',
        ]
        assert app.changes[-1].selected == {"r0", "r2", "r5"}
        await pilot.press("x")  # nothing left to clear on lr
        await pilot.pause()
        assert len(app.changes) == 4
        await pilot.press("right", "b", "minus", "X")  # a one-bucket brush does not shrink
        await pilot.pause()
        assert [m.expr for m in app.changes[4:]] == [
            'config.opt in ("adam") and 8.5 <= config.warmup <= 9.5', "",
        ]
        assert app.changes[-1].selected == ALL
        # the widget draws at its content size
        lines = view.render().plain.split("\n")
        assert len(lines) == view.content_size.height and view.content_size.width == 80
        assert lines[0].split()[2] == "warmup"


async def test_widget_set_data_keeps_brushes_and_reports_new_selection():
    app = PlotApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(ParCoordsView)
        await pilot.press("right", "right", "b")
        await pilot.pause()
        assert app.changes[-1].selected == {"r2", "r3", "r4"}
        view.set_data(RUNS + [("r7", {"opt": "sgd", "lr": 1e-3, "warmup": 9.25, "batch": 8, "loss": 1})],
                      KEYS, "loss")
        await pilot.pause()
        assert app.changes[-1].expr == "8.5 <= config.warmup <= 9.5"
        assert app.changes[-1].selected == {"r2", "r3", "r4", "r7"}
        assert view.pc.current_axis.key == "warmup"
        n = len(app.changes)
        view.set_data(RUNS, ["opt", "lr"], "loss")  # the brushed axis is gone
        await pilot.pause()
        assert len(app.changes) == n + 1 and app.changes[-1].expr == ""
        await pilot.resize_terminal(30, 8)
        await pilot.pause()
        assert len(view.render().plain.split("\n")) == view.content_size.height


# -- contract with the filter language ----------------------------------------------------


def _as_run(rid, values, keys, metric):
    return {"id": rid, "name": rid, "project": "p", "group": None, "job_type": None,
            "state": "finished", "tags": [], "notes": None, "host": None,
            "config": {k: values[k] for k in keys if k in values},
            "summary": {metric: values[metric]} if metric in values else {}}


def test_filter_parser_selects_the_brushed_runs():
    """Random keyboard sessions: the filter language selects exactly ``selected_ids()``.

    The data avoids where the two knowingly differ: the filter compares text ignoring case and
    text that reads as a number as that number, so ``"Adam"``/``"adam"`` or ``1``/``"1"`` on
    one axis are one value there and two categories here.
    """
    rng = random.Random(5)
    keys = ["lr", "x", "n", "opt", "flag", "mix", "tiny", "w s", HOSTILE]
    datasets = [(RUNS, KEYS, "loss")]
    for _ in range(10):
        runs = [(f"r{i}", {
            "lr": 10 ** rng.uniform(-6, 0), "x": rng.uniform(-3, 7) if rng.random() > 0.1 else None,
            "n": rng.choice([1, 2, 3, 5, 8, 13, 100]), "opt": rng.choice(["adam", "my opt", 'q"t', "a\\b"]),
            "flag": rng.choice([True, False]), "mix": rng.choice([1, "z", 2.5]),
            "tiny": 1000 + rng.random() * 1e-4, "w s": rng.random(), HOSTILE: rng.choice([HOSTILE, "ok"]),
            "val/acc": rng.random() if rng.random() > 0.1 else math.nan,
        }) for i in range(30)]
        datasets.append((runs, keys, "val/acc"))
    ops = [lambda pc: pc.move_axis(rng.choice([-1, 1])), lambda pc: pc.move_cursor(rng.randint(-5, 5)),
           lambda pc: pc.brush_set(), lambda pc: pc.widen(1), lambda pc: pc.widen(-1),
           lambda pc: pc.extend(rng.randint(-3, 3)), lambda pc: pc.clear()]
    checked = 0
    for runs, ks, metric in datasets:
        pc = ParCoords.from_runs(runs, ks, metric)
        for _ in range(40):
            rng.choice(ops)(pc)
            expr = pc.to_filter_expr()
            f = compile_filter(expr)
            got = {rid for rid, v in runs if f(_as_run(rid, v, ks, metric))}
            assert got == pc.selected_ids(), expr
            checked += 1
    assert checked == 440


@pytest.mark.parametrize("axis", KEYS + ["loss"])
def test_holding_plus_then_minus_keeps_one_brush_that_grows_and_shrinks_in_place(axis):
    """Bug 5 (issue 8), model side: every + or - rewrites the axis' one brush, and the filter
    written from it selects exactly the runs the plot counts."""
    pc = make()
    while pc.current_axis.key != axis:
        assert pc.move_axis(1)
    assert pc.brush_set()
    first = pc.to_filter_expr()
    seen = [first]
    for step in [1] * 20 + [-1] * 20:
        pc.widen(step)
        expr = pc.to_filter_expr()
        assert list(pc.brushes) == [axis]
        assert not isinstance(parse(expr), And), expr  # one term: this axis' brush
        f = compile_filter(expr)
        runs = [_as_run(rid, v, KEYS, "loss") for rid, v in RUNS]
        assert {r["id"] for r in runs if f(r)} == pc.selected_ids(), expr
        seen.append(expr)
    assert not pc.widen(-1)  # shrunk back to one bucket, which stays
    assert len(set(seen)) > 1
