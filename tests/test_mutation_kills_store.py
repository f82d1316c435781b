"""Store helpers pinned to what a reader sees (mutation testing, tests/MUTATION.md): run ids and
default names, which keys count as system metrics (in Python and in the SQL views), dotted config
lookups and the missing-last sort key, and the read-only sqlite-utils handle."""

from __future__ import annotations

import json
import math
import random
import re
import threading
from pathlib import Path

import pytest

import tracker
from tracker.store import StoreMissing
from tracker.store.ids import _ADJ, _ID_ALPHABET, _NOUN, default_run_name, new_run_id
from tracker.store.keys import is_system_metric
from tracker.store.lookup import MISSING, config_getter, config_lookup, missing_last_key
from tracker.store.sql import database


def test_run_ids_are_eight_characters_drawn_from_the_whole_unambiguous_alphabet():
    ids = [new_run_id() for _ in range(2000)]
    assert all(len(i) == 8 and set(i) <= set(_ID_ALPHABET) for i in ids)
    assert set("".join(ids)) == set(_ID_ALPHABET)  # 16,000 draws: every one of the 32 characters
    assert not set("01lo") & set(_ID_ALPHABET)
    assert len(set(ids)) == len(ids)


def test_default_names_are_adjective_noun_number_from_the_given_generator():
    names = [default_run_name(7, random.Random(seed)) for seed in range(400)]
    for name in names:
        adj, noun, n = name.split("-")
        assert adj in _ADJ and noun in _NOUN and n == "7"
    assert {n.split("-")[0] for n in names} == set(_ADJ)
    assert {n.split("-")[1] for n in names} == set(_NOUN)
    assert default_run_name(3, random.Random(1)) == default_run_name(3, random.Random(1))
    assert re.fullmatch(r"[a-z]+-[a-z]+-12", default_run_name(12))  # the module's generator


def test_system_metric_names_exactly():
    assert is_system_metric("system/cpu_percent") and is_system_metric("system/ram_used_gb")
    assert is_system_metric("system/gpu0/util_percent") and is_system_metric("system/gpu12/mem_total_gb")
    for user_key in ("system/gpu_memory_mb", "system/gpu0/util", "system/gpu/util_percent",
                     "system/gpux/temp_c", "system/gpu0/temp_c/x", "system/gpu٣/temp_c",
                     "custom/gpu0/temp_c", "system/gpu0", "train/loss"):
        assert not is_system_metric(user_key), user_key


def test_the_sql_views_classify_system_metrics_as_python_does(tmp_path: Path):
    keys = ["system/cpu_percent", "system/net_sent_mb_s", "system/gpu3/power_w", "system/gpu0/mem_used_gb",
            "system/gpu_memory_mb", "system/gpu0/util", "system/gpux/temp_c", "system/gpu0/temp_c/x", "loss"]
    run = tracker.init(project="p", dir=tmp_path, capture_git=False)
    run.log({k: 1.0 for k in keys})
    run.finish()
    db = database(tmp_path)
    got = {r["key"]: r["is_system"] for r in db.query("SELECT key, is_system FROM history")}
    assert got == {k: int(is_system_metric(k)) for k in keys}
    summary = json.loads(next(db.query("SELECT summary FROM runs_flat"))["summary"])
    assert sorted(summary) == sorted(k for k in keys if not is_system_metric(k))


def test_dotted_config_lookups():
    cfg = {"optim": {"lr": 0.1, "betas": {"b1": 0.9}}, "optim.wd": 0.01, "a.b": {"c": 3},
           "a": {"b": {"x": 1}}, "flat": "v", "none": None}
    assert config_lookup(cfg, "flat") == "v"
    assert config_lookup(cfg, "optim.lr") == 0.1
    assert config_lookup(cfg, "optim.betas.b1") == 0.9
    assert config_lookup(cfg, "optim.wd") == 0.01  # a key holding the dot
    assert config_lookup(cfg, "a.b.c") == 3  # nested path first, then the dotted key "a.b"
    assert config_lookup(cfg, "a.b.x") == 1
    assert config_lookup(cfg, "optim.lr.x") is None and config_lookup(cfg, "nope") is None
    assert config_lookup(cfg, "none") is None
    assert config_getter("none")(cfg) is None and config_getter("nope")(cfg) is MISSING
    assert config_getter("optim.nope")(cfg) is MISSING
    assert config_getter("optim")(cfg) == cfg["optim"]
    # an empty key is a key like any other, never a step of someone else's path
    assert config_lookup({"": {"a": {"b": 1}}}, "a.b") is None
    assert config_lookup({"": {"a.b": 1}, "a": {"": {"b": 2}}}, "a.b") is None


def test_long_dotted_keys_read_the_nested_path_or_the_whole_key():
    parts = [f"k{i}" for i in range(9)]  # more than 8 parts: no search over every split
    name = ".".join(parts)
    nested: dict = {}
    cur = nested
    for p in parts[:-1]:
        cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = "deep"
    assert config_lookup(nested, name) == "deep"
    assert config_lookup({name: "flat"}, name) == "flat"
    assert config_lookup({"k0": {"k1": 5}}, name) is None
    assert config_getter(name)({"k0": "leaf"}) is MISSING
    mixed = {"k0.k1": {"k2": {"k3": {"k4": {"k5": {"k6": {"k7": {"k8": 1}}}}}}}}
    assert config_lookup(mixed, name) is None  # a dotted key inside a long path is not searched
    eight = ".".join(parts[:8])
    assert config_lookup({"k0.k1": {"k2": {"k3": {"k4": {"k5": {"k6": {"k7": 8}}}}}}}, eight) == 8


def test_missing_values_sort_last_numbers_first_then_text():
    values = [None, "b", 3, math.nan, True, "A", 1.5, None, False, -2]
    ordered = sorted(values, key=missing_last_key)
    assert ordered[:5] == [-2, False, True, 1.5, 3]
    assert ordered[5:7] == ["A", "b"] and math.isnan(ordered[7])
    assert [missing_last_key(v) for v in (None, True, False, 2, math.nan, "x", 2.5)] == [
        (2, ""), (0, 1), (0, 0), (0, 2), (1, "nan"), (1, "x"), (0, 2.5)]
    assert ordered[-2:] == [None, None]


def test_the_sqlite_utils_handle_reads_the_store_from_any_thread(tmp_path: Path):
    run = tracker.init(project="p", dir=tmp_path, capture_git=False, name="r1")
    run.log({"loss": 1.0})
    run.finish()
    db = database(tmp_path)
    seen = []
    t = threading.Thread(target=lambda: seen.extend(r["name"] for r in db.query("SELECT name FROM runs_flat")))
    t.start()
    t.join(30)
    assert seen == ["r1"]
    assert not (Path.cwd() / f"file:{tmp_path}").exists()


def test_the_sqlite_utils_handle_names_a_missing_store(tmp_path: Path):
    with pytest.raises(StoreMissing, match=re.escape(f"no store at {tmp_path / 'none' / 'tracker.db'}")):
        database(tmp_path / "none")
