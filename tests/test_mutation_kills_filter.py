"""The filter evaluator, pinned where mutation testing found it unpinned (tests/MUTATION.md):
wildcards with pieces between the stars (checked against a brute-force matcher), forced
``summary.``/``config.`` sources in lists and ranges, values that are neither text nor numbers,
non-list tags, fuzzy search never applied to wildcard searches, ``Filter.select`` and reading a
run's config once per evaluation."""

from __future__ import annotations

import random
import re

import pytest

from tracker.tui.filter import compile_filter


def run(**kw) -> dict:
    base = {"id": "q1", "name": "n", "project": "p", "group": None, "job_type": None, "state": "finished",
            "tags": [], "notes": None, "host": None, "config": {}, "summary": {}}
    return {**base, **kw}


def _brute_glob(pattern: str, text: str) -> bool:
    """Whole-text wildcard match the slow, obvious way: ``*`` any run, ``?`` any one character."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.S) is not None


def test_wildcards_with_pieces_between_the_stars_match_like_a_brute_force_matcher():
    rng = random.Random(7)
    letters = "ab\n"
    names = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(0, 7))) for _ in range(300)})
    checked = 0
    for _ in range(400):
        pattern = "".join(rng.choice("ab??**") for _ in range(rng.randint(1, 7)))
        if "*" not in pattern and "?" not in pattern:
            continue
        f = compile_filter(f"name:'{pattern}'")
        got = [n for n in names if f(run(name=n))]
        want = [n for n in names if _brute_glob(pattern, n)]
        assert got == want, pattern
        checked += 1
    assert checked > 300


@pytest.mark.parametrize("pattern, hits, misses", [
    ("a*b*c", ["abc", "a-b-c", "axxbyyc", "abbc"], ["acb", "ab", "bc", "xabc", "abcx"]),
    ("a*bc*d", ["abcd", "a_bc_d", "abcbcd"], ["abd", "acbd", "abdc"]),
    ("*x*y*", ["xy", "1x2y3"], ["yx", "x", "y"]),
    ("a*?*b", ["a1b", "a12b"], ["ab"]),
    ("a?b", ["a\nb", "a-b"], ["ab", "a--b"]),  # ? is any character, a newline too
    ("ab*", ["ab"], ["a"]),  # exactly as long as its fixed pieces
])
def test_glob_examples(pattern, hits, misses):
    f = compile_filter(f"name:'{pattern}'")
    assert [h for h in hits if f(run(name=h))] == hits
    assert [m for m in misses if f(run(name=m))] == []


def test_forced_sources_hold_in_lists_and_ranges():
    both = run(config={"lr": 5, "opt": "adam"}, summary={"lr": 1})
    config_only = run(config={"opt": "adam", "lr": 1.5})
    assert not compile_filter("summary.opt in (adam)")(config_only)
    assert compile_filter("config.opt in (adam)")(config_only)
    assert not compile_filter("1 <= summary.lr <= 2")(config_only)
    assert compile_filter("1 <= config.lr <= 2")(config_only)
    assert compile_filter("config.lr in (5)")(both) and not compile_filter("summary.lr in (5)")(both)
    assert compile_filter("config.lr between 4 and 6")(both)
    assert not compile_filter("summary.lr between 4 and 6")(both)


def test_a_value_that_is_neither_text_nor_number_equals_nothing():
    r = run(config={"opt": {"name": 1}, "xs": [{"a": 1}, 2]})
    assert not compile_filter("opt = 1")(r)
    assert compile_filter("opt != 1")(r)
    assert not compile_filter("opt in (1, 2)")(r)
    assert compile_filter("xs = 2")(r) and not compile_filter("xs = 1")(r)


def test_tags_that_are_not_a_list_match_no_tag():
    for tags in (None, "x", 5, {"x": 1}):
        assert not compile_filter("tag:x")(run(tags=tags)), tags
    assert compile_filter("tag:x")(run(tags=["y", "x"]))
    assert compile_filter("tag:x")(run(tags=("x",)))


def test_wildcard_searches_are_never_fuzzy():
    """A bare word with * or ? is a wildcard match of the whole name (or id, group, tag), never a
    letters-in-order search that would read the * or ? literally."""
    assert compile_filter("r*t")(run(name="rxt"))
    assert not compile_filter("r*t")(run(name="ar*tb"))
    assert not compile_filter("r?t")(run(name="ar?tb"))
    assert not compile_filter("r*")(run(name="a-r*"))
    assert compile_filter("rsnt")(run(name="resnet"))  # a plain word is also searched fuzzily


def test_select_keeps_the_matching_runs_in_order():
    runs = [run(id=f"r{i}", name=f"n{i}", summary={"a": i}) for i in range(6)]
    assert [r["id"] for r in compile_filter("a >= 3 or a = 1").select(runs)] == ["r1", "r3", "r4", "r5"]
    assert compile_filter("a > 9").select(runs) == []
    assert compile_filter("").select(runs) == runs


def test_non_text_filter_is_a_type_error_naming_the_type():
    with pytest.raises(TypeError, match="filter text must be str, not int"):
        compile_filter(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not NoneType"):
        compile_filter(None)  # type: ignore[arg-type]


class CountingRun:
    """A run whose summary and config are built on every access, like RunRecord's properties."""

    def __init__(self) -> None:
        self.reads = {"summary": 0, "config": 0}
        self.id, self.name, self.project, self.state, self.tags = "r1", "n", "p", "finished", []
        self.group = self.job_type = self.notes = self.host = None

    @property
    def summary(self) -> dict:
        self.reads["summary"] += 1
        return {"acc": 0.9}

    @property
    def config(self) -> dict:
        self.reads["config"] += 1
        return {"a": {"b": 1, "c": 2, "d": 3}}


def test_one_evaluation_reads_a_runs_config_and_summary_once():
    r = CountingRun()
    assert compile_filter("config.a.b = 1 and config.a.c = 2 and a.d = 3 and acc > 0.5")(r)
    assert r.reads == {"summary": 1, "config": 1}
