"""What users log and configure, and what ends up in the store (RELIABILITY.md B1-B4, B7, B8, X2).

Every test writes a real SQLite store under tmp_path and reads it back through ``tracker.Api`` or
plain ``sqlite3``. Warnings are de-duplicated per process by (key, type), so each test uses metric
keys of its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import decimal
import enum
import fractions
import json
import math
import warnings
from pathlib import Path

import pytest

import tracker
from tracker import TrackerWarning

np = pytest.importorskip("numpy")

pytestmark = pytest.mark.usefixtures("clean_env")


def start(store_dir: Path, **kw):
    kw.setdefault("project", "values")
    kw.setdefault("capture_git", False)
    return tracker.init(dir=store_dir, **kw)


def history(store_dir: Path, run_id: str, keys=None) -> list[dict]:
    return tracker.Api(store_dir).run(run_id).history(keys=keys, pandas=False)


def tracker_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, TrackerWarning)]


def same_float(a: float, b: float) -> bool:
    """Equal including NaN and the sign of zero."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


# ------------------------------------------------------------------------------------ B2: numbers
class HasItem:
    """Any object with ``.item()`` (a stand-in for a 0-d torch tensor, JAX scalar...)."""

    def item(self):
        return 2.5


NUMPY_VALUES = {
    "np_float16": (np.float16(0.1), float(np.float16(0.1))),
    "np_float32": (np.float32(0.1), float(np.float32(0.1))),
    "np_float64": (np.float64(0.1), 0.1),
    "np_int8": (np.int8(-8), -8),
    "np_int16": (np.int16(-16), -16),
    "np_int32": (np.int32(-32), -32),
    "np_int64": (np.int64(2**62), 2**62),
    "np_uint8": (np.uint8(200), 200),
    "np_uint64": (np.uint64(2**40), 2**40),
    "np_bool_true": (np.bool_(True), True),
    "np_bool_false": (np.bool_(False), False),
    "np_0d_float": (np.array(1.25), 1.25),
    "np_0d_int": (np.array(7), 7),
    "np_0d_float32": (np.array(0.5, dtype=np.float32), 0.5),
    "np_0d_bool": (np.array(True), True),
    "has_item": (HasItem(), 2.5),
    "py_bool": (True, True),
    "py_int": (3, 3),
    "py_float": (0.25, 0.25),
    "fraction": (fractions.Fraction(1, 4), 0.25),
}


def test_numpy_scalars_and_item_objects_are_stored_as_numbers_never_blobs(store_dir, stored_points):
    run = start(store_dir)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        run.log({k: v for k, (v, _) in NUMPY_VALUES.items()})
    run.finish()
    assert tracker_warnings(rec) == []

    rows = stored_points(store_dir, run.id)
    assert {r[0] for r in rows} == set(NUMPY_VALUES)
    for key, sqltype, value, _flag, step in rows:
        assert sqltype in ("integer", "real"), f"{key} stored as {sqltype}: {value!r}"
        assert step == 0
    (h,) = history(store_dir, run.id)
    for key, (_, expected) in NUMPY_VALUES.items():
        assert h[key] == expected, key
        assert type(h[key]) is bool if type(expected) is bool else type(h[key]) in (int, float), key


def test_0d_torch_tensors_are_numbers(store_dir, stored_points):
    torch = pytest.importorskip("torch")
    run = start(store_dir)
    run.log({"t_loss": torch.tensor(0.5), "t_grad": torch.tensor(1.5, requires_grad=True) * 2,
             "t_int": torch.tensor(3)})
    run.finish()
    assert {r[0]: r[1] for r in stored_points(store_dir, run.id)} == {
        "t_loss": "real", "t_grad": "real", "t_int": "integer"}
    (h,) = history(store_dir, run.id)
    assert (h["t_loss"], h["t_grad"], h["t_int"]) == (0.5, 3.0, 3)


# --------------------------------------------------------------------------- B1: NaN, Inf, -0.0
SPECIAL = [math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, -1e-308]


@pytest.mark.parametrize("with_numpy", [False, True], ids=["python-floats", "numpy-floats"])
def test_nan_inf_and_negative_zero_round_trip_exactly(store_dir, stored_points, with_numpy):
    run = start(store_dir)
    conv = np.float64 if with_numpy else float
    # one value per call, then all of them in one call, then mixed with ordinary numbers
    for v in SPECIAL:
        run.log({"special": conv(v)})
    run.log({f"s{i}": conv(v) for i, v in enumerate(SPECIAL)})
    run.log({"ordinary": 1.0, "neg_zero_with_others": conv(-0.0), "nan_with_others": conv(math.nan)})
    run.finish()

    rows = stored_points(store_dir, run.id)
    assert all(r[1] != "blob" for r in rows)
    assert len(rows) == len(SPECIAL) * 2 + 3  # NaN is not dropped (NULL) anywhere

    hist = history(store_dir, run.id)
    got = [h["special"] for h in hist if "special" in h]
    assert len(got) == len(SPECIAL)
    for g, e in zip(got, SPECIAL):
        assert same_float(g, e), (g, e)
    together = hist[len(SPECIAL)]
    for i, e in enumerate(SPECIAL):
        assert same_float(together[f"s{i}"], e), (i, together[f"s{i}"], e)
    last = hist[-1]
    assert last["ordinary"] == 1.0
    assert same_float(last["neg_zero_with_others"], -0.0)
    assert math.isnan(last["nan_with_others"])


def test_metric_stats_leave_nan_out_of_min_max_but_count_it(store_dir):
    run = start(store_dir)
    for v in [2.0, math.nan, -math.inf, 5.0, math.nan]:
        run.log({"stat": v})
    run.log({"neg_zero_last": 1.0})
    run.log({"neg_zero_last": -0.0})
    run.finish()
    stats = tracker.Api(store_dir).run(run.id).metric_stats()
    s = stats["stat"]
    assert math.isnan(s["last"]) and s["last_step"] == 4
    assert s["min"] == -math.inf and s["max"] == 5.0 and s["count"] == 5
    assert same_float(stats["neg_zero_last"]["last"], -0.0)
    assert stats["neg_zero_last"]["count"] == 2


# ---------------------------------------------------------------------- B2/B8: things that are not numbers
def test_non_scalar_values_warn_naming_key_and_type_and_the_rest_is_logged(store_dir, stored_points):
    run = start(store_dir)
    with pytest.warns(TrackerWarning) as rec:
        run.log({
            "ns_ok": 1.5,
            "ns_array": np.array([1, 2, 3]),
            "ns_string": "0.1",
            "ns_none": None,
            "ns_list": [1, 2],
            "ns_ok_np": np.float32(2.0),
        })
    run.log({"ns_next": 1.0})
    run.finish()

    msgs = tracker_warnings(rec)
    # a string is kept as text like wandb does (issue 10; tests/test_wandb_run.py), not warned about
    assert not [m for m in msgs if "'ns_string'" in m], msgs
    for key, tname in [("ns_array", "ndarray"), ("ns_none", "NoneType"), ("ns_list", "list")]:
        hits = [m for m in msgs if repr(key) in m]
        assert len(hits) == 1, (key, msgs)
        assert tname in hits[0], hits[0]
    assert "(3,)" in next(m for m in msgs if "ns_array" in m)  # the array's shape is reported

    rows = stored_points(store_dir, run.id)
    assert sorted((r[0], r[4]) for r in rows) == [("ns_next", 1), ("ns_ok", 0), ("ns_ok_np", 0)]


def test_ints_beyond_64_bits_are_kept_as_floats_with_a_warning(store_dir, stored_points):
    run = start(store_dir)
    with pytest.warns(TrackerWarning) as rec:
        run.log({"i64_max": 2**63 - 1, "i64_min": -(2**63), "huge": 2**70, "huge_neg": -(2**80)})
    run.finish()
    msgs = tracker_warnings(rec)
    assert any("'huge'" in m and "64 bits" in m for m in msgs)
    assert any("'huge_neg'" in m for m in msgs)
    types = {r[0]: r[1] for r in stored_points(store_dir, run.id)}
    assert types == {"i64_max": "integer", "i64_min": "integer", "huge": "real", "huge_neg": "real"}
    (h,) = history(store_dir, run.id)
    assert h["i64_max"] == 2**63 - 1 and h["i64_min"] == -(2**63)  # exact, not via float
    assert h["huge"] == float(2**70) and h["huge_neg"] == -float(2**80)


def test_keys_that_are_not_strings_are_stored_as_strings_with_a_warning(store_dir):
    run = start(store_dir)
    with pytest.warns(TrackerWarning, match="stored as the string"):
        run.log({7: 1.0, ("tk", 1): 2.0, "plain_key": 3.0})
    run.finish()
    (h,) = history(store_dir, run.id)
    assert h["7"] == 1.0 and h["plain_key"] == 3.0
    assert h[str(("tk", 1))] == 2.0


def test_keys_longer_than_250_characters_are_truncated_with_a_warning(store_dir):
    long_key = "long/" + "k" * 295
    run = start(store_dir)
    with pytest.warns(TrackerWarning, match="truncated"):
        run.log({long_key: 1.0, "short_next_to_long": 2.0})
    run.finish()
    (h,) = history(store_dir, run.id)
    stored = [k for k in h if k.startswith("long/")]
    assert len(stored) == 1 and len(stored[0]) <= 250
    assert h[stored[0]] == 1.0 and h["short_next_to_long"] == 2.0


def test_empty_and_none_are_no_ops_and_a_string_is_a_type_error(store_dir, stored_points):
    run = start(store_dir)
    run.log({})
    run.log(None)
    with pytest.raises(TypeError, match="dict"):
        run.log("loss")
    with pytest.raises(TypeError):
        run.log(["loss", 1.0])
    assert run.step == 0  # nothing consumed a step
    run.log({"after_noops": 1.0})
    run.finish()
    assert [(r[0], r[4]) for r in stored_points(store_dir, run.id)] == [("after_noops", 0)]


# ------------------------------------------------------------------------------------ B7: steps
def test_repeated_and_backward_steps_are_all_stored_with_exactly_one_warning(store_dir, stored_points):
    steps = [0, 1, 2, 2, 1, 0, 5, -3, 4]
    run = start(store_dir)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for i, s in enumerate(steps):
            run.log({"bs_val": float(i)}, step=s)
    run.finish()
    msgs = tracker_warnings(rec)
    assert len(msgs) == 1, msgs
    assert "lower than" in msgs[0]

    assert sorted(r[4] for r in stored_points(store_dir, run.id)) == sorted(steps)
    api_run = tracker.Api(store_dir).run(run.id)
    assert len(api_run.points()) == len(steps)
    hist = api_run.history(pandas=False)
    assert [h["_step"] for h in hist] == sorted(set(steps))
    by_step = {h["_step"]: h["bs_val"] for h in hist}
    # for a step logged twice, the value logged last wins
    assert by_step == {0: 5.0, 1: 4.0, 2: 3.0, 5: 6.0, -3: 7.0, 4: 8.0}


def test_implicit_steps_continue_after_the_highest_explicit_step(store_dir):
    run = start(store_dir)
    run.log({"imp": 1.0})            # 0
    run.log({"imp": 2.0}, step=10)   # 10
    run.log({"imp": 3.0})            # 11
    with pytest.warns(TrackerWarning):
        run.log({"imp": 4.0}, step=3)  # backwards: kept
    run.log({"imp": 5.0})            # still after the highest: 12
    run.finish()
    assert [h["_step"] for h in history(store_dir, run.id)] == [0, 3, 10, 11, 12]


@pytest.mark.parametrize(
    "bad, exc",
    [(1.5, ValueError), ("a", TypeError), (True, TypeError), (math.nan, ValueError),
     (math.inf, ValueError), (2**63, ValueError), (-(2**63) - 1, ValueError), ([1], TypeError)],
    ids=["1.5", "str", "bool", "nan", "inf", "2**63", "-2**63-1", "list"],
)
def test_invalid_step_is_a_clear_error_and_nothing_is_stored(store_dir, stored_points, bad, exc):
    run = start(store_dir)
    with pytest.raises(exc, match="step"):
        run.log({"bad_step": 1.0}, step=bad)
    run.finish()
    assert stored_points(store_dir, run.id) == []


def test_whole_number_steps_of_other_types_are_accepted(store_dir):
    run = start(store_dir)
    run.log({"ws": 1.0}, step=2.0)
    run.log({"ws": 2.0}, step=np.int64(7))
    run.log({"ws": 3.0}, step=2**63 - 1)
    run.finish()
    assert [h["_step"] for h in history(store_dir, run.id)] == [2, 7, 2**63 - 1]


def test_commit_false_keeps_the_step_open(store_dir):
    run = start(store_dir)
    run.log({"cf_a": 1.0}, commit=False)
    run.log({"cf_b": 2.0}, commit=False)
    run.log({"cf_c": 3.0})
    run.log({"cf_a": 4.0})
    run.log({"cf_a": 5.0}, step=9, commit=False)
    run.log({"cf_b": 6.0})
    run.log({"cf_c": 7.0})
    run.finish()
    hist = history(store_dir, run.id)
    assert all(isinstance(h.pop("_timestamp"), float) for h in hist)
    assert hist == [
        {"_step": 0, "cf_a": 1.0, "cf_b": 2.0, "cf_c": 3.0},
        {"_step": 1, "cf_a": 4.0},
        {"_step": 9, "cf_a": 5.0, "cf_b": 6.0},
        {"_step": 10, "cf_c": 7.0},
    ]


# --------------------------------------------------------------------------- config sources
@dataclasses.dataclass
class Optim:
    name: str = "adam"
    betas: tuple = (0.9, 0.999)


@dataclasses.dataclass
class TrainCfg:
    lr: float = 3e-4
    epochs: int = 10
    optim: Optim = dataclasses.field(default_factory=Optim)


class PydanticLike:
    """A duck-typed pydantic model (``model_dump()``)."""

    def model_dump(self):
        return {"lr": 0.5, "layers": [64, 64]}


def stored_config(store_dir: Path, run_id: str) -> dict:
    return tracker.Api(store_dir).run(run_id).config


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["dict", "namespace", "dataclass", "pydantic-like", "yaml", "yml-path",
                                  "json"])
def test_config_sources(store_dir, tmp_path, kind):
    nested = {"lr": 3e-4, "epochs": 10, "optim": {"name": "adam", "betas": [0.9, 0.999]}}
    if kind == "dict":
        cfg, expected = nested, nested
    elif kind == "namespace":
        cfg = argparse.Namespace(lr=3e-4, epochs=10, optim={"name": "adam", "betas": (0.9, 0.999)})
        expected = nested
    elif kind == "dataclass":
        cfg, expected = TrainCfg(), nested
    elif kind == "pydantic-like":
        cfg, expected = PydanticLike(), {"lr": 0.5, "layers": [64, 64]}
    elif kind == "yaml":
        cfg = str(write(tmp_path / "c.yaml", "lr: 0.0003\nepochs: 10\noptim:\n  name: adam\n  betas: [0.9, 0.999]\n"))
        expected = nested
    elif kind == "yml-path":
        cfg = write(tmp_path / "c.yml", "lr: 0.0003\nepochs: 10\noptim: {name: adam, betas: [0.9, 0.999]}\n")
        expected = nested
    else:
        cfg = str(write(tmp_path / "c.json", json.dumps(nested)))
        expected = nested
    run = start(store_dir, config=cfg)
    assert run.config.lr == expected["lr"] and run.config["lr"] == expected["lr"]
    run.finish()
    assert stored_config(store_dir, run.id) == expected


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("missing.yaml", None, "cannot read"),
        ("broken.yaml", "lr: [1, 2\nepochs: : 3\n", "cannot parse"),
        ("broken.json", '{"lr": 0.1,,}', "cannot parse"),
        ("list.yaml", "- 1\n- 2\n", "mapping"),
        ("scalar.json", "3", "mapping"),
        ("config.txt", "lr: 1\n", r"\.yaml"),
    ],
)
def test_bad_config_file_is_a_clear_value_error_naming_the_file(store_dir, tmp_path, name, content, match):
    path = tmp_path / name
    if content is not None:
        write(path, content)
    with pytest.raises(ValueError, match=match) as ei:
        tracker.init(project="values", config=str(path), dir=store_dir, capture_git=False)
    assert name in str(ei.value)
    assert tracker.run is None
    assert tracker.Api(store_dir).runs() == []  # no half-made run


def test_empty_yaml_file_is_an_empty_config(store_dir, tmp_path):
    run = start(store_dir, config=str(write(tmp_path / "empty.yaml", "")))
    run.finish()
    assert stored_config(store_dir, run.id) == {}


def test_config_update_and_attribute_set_are_persisted(store_dir):
    run = start(store_dir, config={"lr": 0.1, "model": {"depth": 18}})
    run.config.update({"warmup": 500, "model": {"depth": 50}})
    run.config.update(bs=64)
    run.config.dropout = 0.2
    run.config["seed"] = 3
    assert run.config.warmup == 500 and run.config["bs"] == 64 and run.config.dropout == 0.2
    with pytest.raises(AttributeError):
        _ = run.config.missing_key
    run.finish()
    assert stored_config(store_dir, run.id) == {
        "lr": 0.1, "model": {"depth": 50}, "warmup": 500, "bs": 64, "dropout": 0.2, "seed": 3}


# ---------------------------------------------------------------------- B3: config conversion
class Color(enum.Enum):
    RED = "red"
    BLUE = 2


def deep_dict(levels: int) -> dict:
    d: dict = {"leaf": 1}
    for i in range(levels):
        d = {f"l{levels - i}": d}
    return d


def test_config_values_are_converted_deterministically(store_dir):
    cfg = {
        "decimal": decimal.Decimal("0.1"),
        "datetime": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "date": datetime.date(2024, 1, 2),
        "path": Path("/data/imagenet"),
        "enum_str": Color.RED,
        "enum_int": Color.BLUE,
        "dataclass": TrainCfg(),
        "namespace": argparse.Namespace(a=1, b="x"),
        "set": {"b", "c", "a"},
        "frozenset": frozenset({3, 1, 2}),
        "tuple": (1, "a", (2, 3)),
        "np_float32": np.float32(0.5),
        "np_array": np.array([1, 2]),
        "nan": math.nan,
        "deep": deep_dict(20),
    }
    run = start(store_dir, config=cfg)
    run.finish()
    got = stored_config(store_dir, run.id)
    assert {k: v for k, v in got.items() if k != "nan"} == {
        "decimal": "0.1",
        "datetime": "2024-01-02T03:04:05",
        "date": "2024-01-02",
        "path": "/data/imagenet",
        "enum_str": "red",
        "enum_int": 2,
        "dataclass": {"lr": 3e-4, "epochs": 10, "optim": {"name": "adam", "betas": [0.9, 0.999]}},
        "namespace": {"a": 1, "b": "x"},
        "set": ["a", "b", "c"],
        "frozenset": [1, 2, 3],
        "tuple": [1, "a", [2, 3]],
        "np_float32": 0.5,
        "np_array": [1, 2],
        "deep": deep_dict(20),
    }
    assert math.isnan(got["nan"])

    # the same config built in another order is stored identically
    run2 = start(store_dir, config={**dict(reversed(list(cfg.items()))), "set": {"c", "a", "b"}})
    run2.finish()
    got2 = stored_config(store_dir, run2.id)
    assert json.dumps(got2, sort_keys=True) == json.dumps(got, sort_keys=True)


def test_unknown_config_object_is_stored_as_repr_with_a_warning(store_dir):
    class Opaque:
        __slots__ = ()

        def __repr__(self):
            return "<Opaque thing>"

    with pytest.warns(TrackerWarning, match="repr"):
        run = start(store_dir, config={"opaque_obj": Opaque()})
    run.finish()
    assert stored_config(store_dir, run.id) == {"opaque_obj": "<Opaque thing>"}


# ---------------------------------------------------------------------- B4: key collisions
def test_colliding_config_keys_are_both_kept_under_distinct_names_with_a_warning(store_dir):
    with pytest.warns(TrackerWarning, match="both") as rec:
        run = start(store_dir, config={1: "a", "1": "b", "inner": {None: 1, "None": 2}})
    run.finish()
    got = stored_config(store_dir, run.id)
    assert len(got) == 3 and sorted(v for k, v in got.items() if k != "inner") == ["a", "b"]
    assert got["1"] == "a"  # the first keeps the plain name
    assert sorted(got["inner"].values()) == [1, 2] and len(got["inner"]) == 2
    assert len(tracker_warnings(rec)) == 2
    # the warning tells which name the second key got
    assert any(repr(k) in " ".join(tracker_warnings(rec)) for k in got if k not in ("1", "inner"))


def test_tuple_and_dotted_keys_are_not_silently_merged(store_dir):
    run = start(store_dir, config={(1, 2): "t", "a": {"b": 1}, "a.b": 2})
    run.finish()
    got = stored_config(store_dir, run.id)
    assert "t" in got.values()
    assert got["a"] == {"b": 1} and got["a.b"] == 2


# ---------------------------------------------------------------------- X2: secret masking
SECRET_KEYS = ["api_key", "OPENAI_API_KEY", "hf_token", "db_password", "aws_secret_access_key",
               "client_secret", "private_key"]
SECRET_VALUES = {
    "openai_style": "sk-proj-Abcdefghijklmnop1234567890",
    "github_pat": "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "slack": "xoxb-123456789012-abcdefghijklmnop",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
}
NOT_SECRET = {"max_tokens": 512, "num_tokens": 1000, "tokenizer": "bert-base-uncased",
              "use_cls_token": True, "key_dim": 64, "monkey_patch": "gevent"}


def db_bytes(store_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(store_dir.iterdir()) if p.name.startswith("tracker.db"))


def test_secret_config_values_are_masked_at_write_time(store_dir):
    secret = "s3cr3t-Value-0123456789"
    cfg = {k: secret.replace("0", str(i)) for i, k in enumerate(SECRET_KEYS)}
    cfg.update({f"v_{k}": v for k, v in SECRET_VALUES.items()})
    cfg["db_url"] = "postgresql://trainer:hunter2pass@db.internal:5432/runs"
    cfg["nested"] = {"password": "hunter3pass", "urls": ["https://bob:pw-in-list@host.example/x"]}
    cfg.update(NOT_SECRET)
    run = start(store_dir, config=cfg)
    assert run.config.api_key == cfg["api_key"]  # the process keeps the real value
    run.config.update({"hf_token": "hf_updated_secret_value_xyz"})
    run.log({"x": 1.0})
    run.finish()

    got = stored_config(store_dir, run.id)
    for k in SECRET_KEYS:
        assert got[k].startswith("••••") and got[k] != cfg[k], k
    for k in SECRET_VALUES:
        assert got[f"v_{k}"].startswith("••••"), k
    assert got["db_url"] == "postgresql://trainer:••••@db.internal:5432/runs"
    assert got["nested"]["password"].startswith("••••")
    assert got["nested"]["urls"] == ["https://bob:••••@host.example/x"]
    for k, v in NOT_SECRET.items():
        assert got[k] == v, k

    raw = db_bytes(store_dir)
    leaked = [v for v in [*cfg.values(), "hunter2pass", "hunter3pass", "pw-in-list", "hf_updated_secret_value_xyz"]
              if isinstance(v, str) and v not in NOT_SECRET.values() and v.encode() in raw]
    assert leaked == []


def test_numeric_secret_under_secret_key_is_masked(store_dir):
    run = start(store_dir, config={"db_password": 97531864209, "pin": {"api_key": 24681357}})
    run.finish()
    got = stored_config(store_dir, run.id)
    assert got["db_password"] != 97531864209
    assert got["pin"]["api_key"] != 24681357


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_masking_can_be_turned_off(store_dir, monkeypatch, how):
    cfg = {"api_key": "plain-api-key-1234567890", "token_val": SECRET_VALUES["openai_style"]}
    if how == "argument":
        run = start(store_dir, config=cfg, mask_secrets=False)
    else:
        monkeypatch.setenv("TRACKER_MASK_SECRETS", "0")
        run = start(store_dir, config=cfg)
    run.finish()
    assert stored_config(store_dir, run.id) == cfg


def test_warnings_point_at_the_users_log_call(store_dir):
    run = start(store_dir)
    with pytest.warns(TrackerWarning) as rec:
        run.log({"loc_not_a_number": [1, 2]})
        run.log({"loc_step": 1.0}, step=5)
        run.log({"loc_step": 2.0}, step=1)
    run.finish()
    assert len(rec) == 2
    assert [Path(w.filename).name for w in rec] == [Path(__file__).name] * 2


# ---------------------------------------------------------------------- B5: unusual metric names
B5_KEYS = ["train/loss", "a.b", "with space", "caf\u00e9", "cafe\u0301", "", "/lead", "..", "../../x", "x\ty"]


def test_unusual_metric_names_are_stored_verbatim_and_selectable(store_dir):
    run = start(store_dir)
    run.log({k: float(i) for i, k in enumerate(B5_KEYS)})
    run.finish()
    r = tracker.Api(store_dir).run(run.id)
    (h,) = r.history(pandas=False)
    assert {k: v for k, v in h.items() if not k.startswith("_")} == {k: float(i) for i, k in enumerate(B5_KEYS)}
    assert sorted(r.keys()) == sorted(B5_KEYS)  # NFC and NFD spellings are two metrics
    for i, k in enumerate(B5_KEYS):
        (row,) = r.history(keys=[k], pandas=False)
        assert row[k] == float(i), k
    # (tracker.db-reserve: free space kept so a finish() on a full disk can still mark its run)
    assert sorted(p.name for p in store_dir.iterdir()) == ["tracker.db", "tracker.db-reserve", "tracker.db-shm",
                                                           "tracker.db-wal"]


def test_a_metric_named_like_a_history_field_does_not_corrupt_history(store_dir):
    run = start(store_dir)
    run.log({"_step": 100.0, "loss": 1.0})
    run.log({"loss": 2.0})
    run.finish()
    hist = tracker.Api(store_dir).run(run.id).history(pandas=False)
    assert [h["_step"] for h in hist] == [0, 1]


# ---------------------------------------------------------------------- B6: sizes
def test_a_20_mb_config_with_50k_keys_does_not_stall_init(store_dir):
    import time

    cfg = {f"param_{i}": "v" * 400 for i in range(50_000)}
    t0 = time.perf_counter()
    run = start(store_dir, config=cfg)
    took = time.perf_counter() - t0
    run.finish()
    assert took < 2.0, took  # RELIABILITY B6 asks < 1 s; 2x margin for a loaded CI box
    assert len(stored_config(store_dir, run.id)) == 50_000


def test_a_10_mb_config_value_is_capped_with_a_warning(store_dir):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        run = start(store_dir, config={"huge_blob": "x" * 10_000_000})
    run.finish()
    assert len(stored_config(store_dir, run.id)["huge_blob"]) < 1_000_000
    assert any("huge_blob" in m for m in tracker_warnings(rec))


def test_100k_distinct_metric_keys_warn_about_cardinality(store_dir):
    run = start(store_dir)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for i in range(100):
            run.log({f"card_{i}_{j}": 1.0 for j in range(1000)})
    run.finish()
    assert tracker_warnings(rec), "expected a warning about the number of distinct metric keys"
