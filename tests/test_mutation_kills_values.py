"""Logged values and config, pinned where mutation testing found them unpinned (tests/MUTATION.md):
the exact warnings (one per key, naming key and type), number-like types that are not int/float,
duplicate and reserved keys, truncation bounds, nesting depth, key collisions, secret keys by
vendor and masking."""

from __future__ import annotations

import os
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from tracker import _values
from tracker._values import (
    INT64_MAX,
    INT64_MIN,
    MAX_CONFIG_STR,
    MAX_KEY_LEN,
    TrackerWarning,
    is_secret_key,
    jsonable,
    mask,
    mask_secrets,
    normalize_metrics,
    normalize_step,
    to_number,
)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Every test sees its warnings (warn-once state is per process)."""
    monkeypatch.setattr(_values, "_warned", set())


def messages(fn, *args):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out = fn(*args)
    return out, [str(w.message) for w in seen if w.category is TrackerWarning]


class NoScalar:
    def item(self):
        raise ValueError("not one element")


class SelfItem:
    def item(self):
        return SelfItem()


class NoneItem:
    def item(self):
        return None


class Floaty:
    def __float__(self):
        return 1.0


class MyInt(int):
    pass


class MyFloat(float):
    item = 5  # an attribute named item that is not callable


def test_number_like_values_become_plain_numbers():
    cases = [(MyInt(7), 7, int), (MyFloat(2.5), 2.5, float), (Decimal("2.5"), 2.5, float),
             (Fraction(1, 4), 0.25, float), (np.float32(1.5), 1.5, float), (np.int64(5), 5, int),
             (np.bool_(True), True, bool), (np.array(3.0), 3.0, float), (True, True, bool), (1.5, 1.5, float)]
    for v, want, typ in cases:
        out, msgs = messages(to_number, "k", v)
        assert (out, type(out), msgs) == (want, typ, []), v


def test_values_that_are_not_numbers_warn_exactly_and_are_dropped():
    assert messages(to_number, "a", NoScalar()) == (None, [
        f"tracker: 'a' is a {__name__}.NoScalar, not a scalar; it was not logged (log a number, e.g. x.mean().item())"])
    assert messages(to_number, "b", np.zeros(3)) == (None, [
        "tracker: 'b' is a numpy.ndarray of shape (3,), not a scalar; it was not logged "
        "(log a number, e.g. x.mean().item())"])
    for key, v, tname in (("c", "1.0", "str"), ("d", Floaty(), "Floaty"), ("e", SelfItem(), "SelfItem"),
                          ("f", NoneItem(), "NoneType"), ("g", 1j, "complex")):
        assert messages(to_number, key, v) == (None, [
            f"tracker: {key!r} is a {tname}, not a number; it was not logged "
            "(metrics must be int, float, bool or a scalar with .item())"]), key


def test_each_key_warns_once_and_other_keys_still_warn():
    _, first = messages(lambda: [to_number("x", NoScalar()), to_number("x", NoScalar()), to_number("y", NoScalar())])
    assert [m.split(" is a ")[0] for m in first] == ["tracker: 'x'", "tracker: 'y'"]


def test_integers_beyond_64_bits_are_floats_and_the_warning_names_the_key():
    for v in (2**70, MyInt(2**70), np.array(2**70, dtype=object)):
        out, msgs = messages(to_number, "big", v)
        assert out == float(2**70) and type(out) is float
        assert msgs == [f"tracker: 'big': integer {2**70} does not fit in 64 bits; logged as float"]
        _values._warned.clear()
    assert to_number("edge", INT64_MAX) == INT64_MAX and to_number("edge", INT64_MIN) == INT64_MIN


def test_metric_keys_made_strings_reserved_truncated_and_deduplicated_with_exact_warnings():
    (keys, vals), msgs = messages(normalize_metrics, {1: 1.0, 2: 2.0, "_step": 3.0, "_timestamp": 4.0})
    assert keys == ("1", "2", "_step_", "_timestamp_") and vals == (1.0, 2.0, 3.0, 4.0)
    assert msgs == ["tracker: metric key 1 (int) stored as the string '1'",
                    "tracker: metric key 2 (int) stored as the string '2'",
                    "tracker: metric key '_step' is reserved for history rows; stored as '_step_'",
                    "tracker: metric key '_timestamp' is reserved for history rows; stored as '_timestamp_'"]


def test_long_keys_are_cut_to_exactly_the_limit():
    fits, long_a, long_b = "k" * MAX_KEY_LEN, "a" * (MAX_KEY_LEN + 5), "b" * (MAX_KEY_LEN + 1)
    (keys, _), msgs = messages(normalize_metrics, {fits: 1, long_a: 2, long_b: 3})
    assert keys[0] == fits
    assert keys[1] == "a" * (MAX_KEY_LEN - 1) + "…" and len(keys[1]) == MAX_KEY_LEN
    assert keys[2] == "b" * (MAX_KEY_LEN - 1) + "…"
    assert msgs == [f"tracker: metric key of {MAX_KEY_LEN + 5} characters truncated to {MAX_KEY_LEN}: {'a' * 40!r}…",
                    f"tracker: metric key of {MAX_KEY_LEN + 1} characters truncated to {MAX_KEY_LEN}: {'b' * 40!r}…"]


def test_two_keys_that_become_one_keep_the_later_value_and_say_so():
    (keys, vals), msgs = messages(normalize_metrics, {"x": 0.0, 1: 1.0, "1": 2.0, "y": 3.0, 2: 4.0, "2": 5.0})
    assert dict(zip(keys, vals)) == {"x": 0.0, "1": 2.0, "y": 3.0, "2": 5.0}
    assert keys == ("x", "1", "y", "2")  # the later value, in the earlier key's place
    assert [m for m in msgs if "became" in m] == [
        "tracker: two metric keys became '1'; the later value was kept",
        "tracker: two metric keys became '2'; the later value was kept"]


def test_steps():
    assert normalize_step(MyInt(7)) == 7 and type(normalize_step(MyInt(7))) is int
    assert normalize_step(INT64_MIN) == INT64_MIN and normalize_step(INT64_MAX) == INT64_MAX
    assert normalize_step(np.int32(4)) == 4 and normalize_step(3.0) == 3
    with pytest.raises(TypeError, match=r"^tracker: step must be an integer, got str 'x'$"):
        normalize_step("x")
    with pytest.raises(ValueError, match="does not fit in 64 bits"):
        normalize_step(INT64_MIN - 1)


def test_config_strings_are_cut_at_the_limit_with_a_marker_naming_the_rest():
    assert jsonable("s" * MAX_CONFIG_STR) == "s" * MAX_CONFIG_STR
    out, msgs = messages(jsonable, "s" * (MAX_CONFIG_STR + 1234), "notes")
    assert out == "s" * MAX_CONFIG_STR + "…[truncated 1,234 characters]"
    assert msgs == [f"tracker: config 'notes' is a string of {MAX_CONFIG_STR + 1234:,} characters; "
                    f"stored truncated to {MAX_CONFIG_STR:,} with a marker"]
    _, msgs = messages(lambda: [jsonable("t" * (MAX_CONFIG_STR + 1), p) for p in ("a", "b")])
    assert len(msgs) == 2


def _nest(levels: int, leaf, wrap):
    v = leaf
    for _ in range(levels):
        v = wrap(v)
    return v


def _depth_of_text(v) -> int:
    """How many containers deep the first string sits."""
    d = 0
    while not isinstance(v, str):
        v = next(iter(v.values())) if isinstance(v, dict) else v[0]
        d += 1
    return d


def test_config_nesting_past_64_levels_is_stored_as_text_at_the_same_depth_for_dicts_lists_and_sets():
    for wrap in (lambda v: {"a": v}, lambda v: [v]):
        ok = _nest(64, {"z": 1}, wrap)
        assert messages(jsonable, ok) == (ok, [])
    deep = _nest(65, {"z": 1}, lambda v: {"a": v})
    out, msgs = messages(jsonable, deep)
    assert _depth_of_text(out) == 65 and msgs == [
        "tracker: config 'a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a."
        "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a' nests deeper than 64 levels; stored as text"]
    out, msgs = messages(jsonable, {"l": _nest(64, {"z": 1}, lambda v: [v])})
    assert _depth_of_text(out) == 65 and msgs == ["tracker: config 'l' nests deeper than 64 levels; stored as text"]
    out, msgs = messages(jsonable, {"s": frozenset({_nest(64, ("t",), lambda v: (v,))})})
    assert _depth_of_text(out) == 65 and "'t'" in str(out)
    assert msgs == ["tracker: config 's' nests deeper than 64 levels; stored as text"]


def test_sets_sort_deterministically_and_tuple_keys_join_with_commas():
    assert jsonable({3, 1, 2}) == [1, 2, 3]
    assert jsonable({"b", "a", 1}) == ["a", "b", 1]  # by JSON text: '"a"' < '"b"' < '1'
    assert jsonable({(1, 2): "x", ("a",): "y"}) == {"1,2": "x", "a": "y"}


def test_colliding_config_keys_are_both_kept_and_named():
    out, msgs = messages(jsonable, {1: "a", "1": "b"})
    assert out == {"1": "a", "1 (str)": "b"}
    assert msgs == ["tracker: config keys 1 and '1' at top level both read as '1'; the second is stored as '1 (str)'"]
    out, msgs = messages(jsonable, {"opt": {"1": "a", 1: "b"}, "x": {"2": 1, 2: 2}})
    assert out == {"opt": {"1": "a", "1 (int)": "b"}, "x": {"2": 1, "2 (int)": 2}}
    assert msgs == ["tracker: config keys '1' and 1 at opt both read as '1'; the second is stored as '1 (int)'",
                    "tracker: config keys '2' and 2 at x both read as '2'; the second is stored as '2 (int)'"]


def test_warning_paths_name_the_nested_key():
    _, msgs = messages(jsonable, {"model": {"layers": [{"name": "n" * (MAX_CONFIG_STR + 1)}]}})
    assert msgs[0].startswith("tracker: config 'model.layers.name' is a string of")


def test_secret_keys_by_vendor_and_qualifier():
    for k in ("key", "api_key", "apiKey", "OPENAI_API_KEY", "openai_key", "anthropic_key", "wandb_key", "hf_key",
              "aws_key", "gcp_key", "azure_key", "x_openai_key", "ssh_key", "hf_token", "db_password"):
        assert is_secret_key(k), k
    for k in ("", "___", "sort_key", "key_dim", "monkey_patch", "max_tokens", "openai_model", "keys", "primary_key_x"):
        assert not is_secret_key(k), k


def test_masks_keep_the_last_four_characters_only_of_long_values():
    assert mask("abcdefghijklmnop") == "••••mnop"  # 16 characters and more: the last 4 shown
    assert mask("abcdefghijklmno") == "••••"
    assert mask("") == "••••"


def test_masking_secrets_in_config():
    cfg = {"api_key": ["sk-short", "abcdefghijklmnop"], "password": 123456789012345, "token": "••••wxyz",
           "hf_token": None, "lr": 0.1, "url": "https://u:pw@host/x", "note": "••••sk-abcdefghijklmnopqrstu"}
    assert mask_secrets(cfg) == {"api_key": ["••••", "••••mnop"], "password": "••••", "token": "••••wxyz",
                                 "hf_token": None, "lr": 0.1, "url": "https://u:••••@host/x",
                                 "note": "••••sk-abcdefghijklmnopqrstu"}
    assert mask_secrets({"password": 1234567890123456}) == {"password": "••••3456"}


def test_a_warning_from_a_stack_that_is_all_tracker_points_at_the_warning_itself():
    """A thread started by the tracker itself has no user frame: the warning names the line that
    warns (stacklevel 1), not a frame past the top of the stack."""
    if "MUTANT_UNDER_TEST" in os.environ:
        pytest.skip("under mutmut every call passes through its trampolines: no stack is all tracker's")
    import _thread
    import inspect

    from helpers import wait_for

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _thread.start_new_thread(_values.normalize_metrics, ({"k": object()},))  # no threading.py frames
        wait_for(lambda: seen, 30, "the thread's warning")
    warn_line = next(i for i, line in enumerate(inspect.getsourcelines(_values.warn_once)[0])
                     if "warnings.warn(" in line) + _values.warn_once.__code__.co_firstlineno
    assert [(w.filename, w.lineno) for w in seen] == [(_values.__file__, warn_line)]


def test_config_files_json_by_extension_and_clear_errors(tmp_path):
    from tracker._values import dumps, load_config_source

    j = tmp_path / "c.JSON"
    j.write_text('{"lr": 1e3, "name": "é"}', encoding="utf-8")
    assert load_config_source(j) == {"lr": 1000.0, "name": "é"}  # JSON's 1e3 is a number (YAML reads text)
    y = tmp_path / "c.yaml"
    y.write_text("lr: 1e3\n", encoding="utf-8")
    assert load_config_source(str(y)) == {"lr": "1e3"}
    missing = tmp_path / "none.yaml"
    with pytest.raises(ValueError) as e:
        load_config_source(missing)
    assert str(e.value) == f"tracker: cannot read config file {str(missing)!r}: No such file or directory"
    assert dumps({"a": "é", "b": [1, 2], "n": float("nan")}) == '{"a":"é","b":[1,2],"n":NaN}'


def test_config_values_of_other_types_become_plain_json():
    import argparse
    import dataclasses
    import datetime
    import enum
    import uuid
    from pathlib import Path

    class Color(enum.Enum):
        RED = "red"

    class Vector:  # array-like: .item() only for 0-d, .tolist() otherwise
        ndim = 1

        def item(self):
            raise AssertionError("item() of a 1-d array")

        def tolist(self):
            return [1, 2]

    @dataclasses.dataclass
    class Opt:
        lr: float = 0.1

    class Plain:
        def __init__(self):
            self.depth = 3

    class V1Model:  # pydantic v1 spells model_dump() as dict()
        def dict(self):
            return {"n": 1}

    u = uuid.UUID(int=5)
    cfg = {"c": Color.RED, "f32": np.float32(1.5), "i64": np.int64(3), "a": np.array([1, 2]), "a0": np.array(2.5),
           "v": Vector(), "when": datetime.date(2024, 1, 2), "p": Path("/x/y"), "d": Decimal("1.50"),
           "fr": Fraction(1, 3), "u": u, "z": complex(1, 2), "b": b"ab\xff", "opt": Opt(), "ns": argparse.Namespace(k=1),
           "plain": Plain(), "v1": V1Model()}
    assert messages(jsonable, cfg) == ({
        "c": "red", "f32": 1.5, "i64": 3, "a": [1, 2], "a0": 2.5, "v": [1, 2], "when": "2024-01-02", "p": "/x/y",
        "d": "1.50", "fr": "1/3", "u": str(u), "z": "(1+2j)", "b": "ab\\xff", "opt": {"lr": 0.1}, "ns": {"k": 1},
        "plain": {"depth": 3}, "v1": {"n": 1}}, [])


def test_values_without_a_json_form_are_stored_as_repr_with_one_warning_per_place():
    out, msgs = messages(jsonable, {"x": object(), "y": {"z": object()}})
    assert out["x"].startswith("<object object at") and out["y"]["z"].startswith("<object object at")
    assert msgs == ["tracker: config 'x' is a object; stored as its repr()",
                    "tracker: config 'y.z' is a object; stored as its repr()"]


def test_warnings_inside_converted_values_name_the_config_path():
    import dataclasses
    import enum

    big = "x" * (MAX_CONFIG_STR + 1)

    class Big(enum.Enum):
        X = big

    @dataclasses.dataclass
    class Holder:
        s: str = big

    _, msgs = messages(jsonable, {"e": Big.X, "arr": np.array([big]), "dc": Holder(), "s0": np.str_(big)})
    assert [m.split(" is a string")[0] for m in msgs] == [
        "tracker: config 'e'", "tracker: config 'arr'", "tracker: config 'dc.s'", "tracker: config 's0'"]


def test_sets_of_records_sort_by_their_json_with_sorted_keys():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class R:
        b: int
        a: int

    assert jsonable({R(b=1, a=2), R(b=2, a=1)}) == [{"b": 2, "a": 1}, {"b": 1, "a": 2}]  # '{"a":1,…' < '{"a":2,…'


def test_config_sources_and_their_errors(tmp_path):
    from tracker._values import load_config_source

    f = tmp_path / "list.yaml"
    f.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError) as e:
        load_config_source(f)
    assert str(e.value) == f"tracker: config file {str(f)!r} must hold a mapping at the top, got list"
    with pytest.raises(TypeError) as e:
        load_config_source(5)
    assert str(e.value) == ("tracker: config must be a dict, argparse.Namespace, dataclass or a YAML/JSON path, "
                            "got int")

    class Plain:
        def __init__(self):
            self.lr = 0.5

    assert load_config_source(Plain()) == {"lr": 0.5}


def test_a_dataclass_with_slots_is_a_config_source():
    import dataclasses

    from tracker._values import load_config_source

    @dataclasses.dataclass(slots=True)
    class Slotted:
        lr: float = 0.25
        name: str = "adam"

    assert load_config_source(Slotted()) == {"lr": 0.25, "name": "adam"}
    assert jsonable({"opt": Slotted()}) == {"opt": {"lr": 0.25, "name": "adam"}}


def test_item_only_for_zero_dimensional_values():
    class ItemOnly:  # a scalar wrapper with .item() and no .tolist()
        def item(self):
            return 7

    class ZeroD(ItemOnly):
        ndim = 0

    big = "x" * (MAX_CONFIG_STR + 1)
    out, msgs = messages(jsonable, {"one": np.array([5]), "i": ItemOnly(), "z": ZeroD(), "s0": np.array(big)})
    assert out["one"] == [5] and out["i"] == 7 and out["z"] == 7  # a 1-element array stays a list
    assert [m.split(" is a string")[0] for m in msgs] == ["tracker: config 's0'"]


def _first_text_depth(wrap, levels: int) -> int | None:
    """Nest ``wrap({"z": 1})`` ``levels`` dicts deep; how deep the stored text sits (None: no text)."""
    out, _ = messages(jsonable, _nest(levels, wrap({"z": 1}), lambda v: {"a": v}))
    try:
        return _depth_of_text(out)
    except (StopIteration, KeyError, IndexError, TypeError, AttributeError):
        return None


def test_the_depth_limit_counts_levels_through_enums_arrays_and_objects():
    import dataclasses

    @dataclasses.dataclass
    class Holder:
        p: object

    converters = {
        "enum": _enum_of,
        "item": _zero_d,
        "tolist": lambda p: np.array([p, p], dtype=object),
        "object": lambda p: Holder(p),
    }
    got = {name: [_first_text_depth(conv, n) for n in (62, 63, 64)] for name, conv in converters.items()}
    # each conversion is one level, like a container: the text appears where the limit is passed
    assert got == {"enum": [None, None, 64], "item": [None, None, 64],
                   "tolist": [None, 64, 64], "object": [None, 64, 64]}, got


def _enum_of(payload):
    import enum

    class E(enum.Enum):
        V = 0

    member = E.V
    member._value_ = payload  # an Enum member whose value is a mapping
    return member


def _zero_d(payload):
    a = np.empty((), dtype=object)
    a[()] = payload
    return a
