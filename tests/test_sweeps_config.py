"""Sweep configs, the samplers and hyperband: pure logic, checked against W&B's schema and rule."""

from __future__ import annotations

import math
import random
import statistics

import pytest
import yaml

from tracker.store.sweeps import SweepConfigError, parse
from tracker.store.sweeps.hyperband import to_stop
from tracker.store.sweeps.sample import Trial, propose, sample_param


def one(spec: dict, method: str = "random"):
    return parse({"method": method, "parameters": {"x": spec}}).params[0]


def draws(spec: dict, n: int = 4000, seed: int = 7) -> list:
    p, rng = one(spec), random.Random(seed)
    return [sample_param(p, rng) for _ in range(n)]


def test_yaml_1e_minus_5_read_as_a_string_works_as_a_number():
    cfg = yaml.safe_load("method: random\nparameters:\n  lr: {min: 1e-5, max: 1e-1, distribution: log_uniform_values}\n"
                         "  wd: {values: [1e-5, 1e-4]}\n")
    assert cfg["parameters"]["lr"]["min"] == "1e-5"  # PyYAML's reading, the quirk itself
    p = parse(cfg)
    assert p.params[0].args["min"] == 1e-5 and p.params[1].args["values"] == [1e-5, 1e-4]
    assert all(1e-5 <= v <= 1e-1 for v in draws({"min": "1e-5", "max": "1e-1", "distribution": "log_uniform_values"}))


def test_nested_parameters_come_back_nested():
    cfg = parse({"method": "grid", "parameters": {"optim": {"parameters": {"lr": {"values": [1, 2]},
                                                                        "beta": {"value": 0.9}}}}})
    assert [p.path for p in cfg.params] == ["optim.lr", "optim.beta"]
    got = propose(cfg, [], random.Random(0))
    assert got == ({"optim": {"lr": 1, "beta": 0.9}}, 0)


@pytest.mark.parametrize("spec,lo,hi,kind", [
    ({"min": 2, "max": 5}, 2, 5, int),
    ({"distribution": "int_uniform", "min": -3, "max": 3}, -3, 3, int),
    ({"min": 0.0, "max": 2.0}, 0.0, 2.0, float),
    ({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2}, 0, 10, int),
    ({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}, 1e-4, 1e-1, float),
    ({"distribution": "log_uniform", "min": -2, "max": 1}, math.exp(-2), math.exp(1), float),
    ({"distribution": "q_log_uniform_values", "min": 1, "max": 1000, "q": 1}, 1, 1000, int),
    ({"distribution": "inv_log_uniform_values", "min": 0.01, "max": 1}, 0.01, 1, float),
    ({"distribution": "beta", "a": 2, "b": 5}, 0, 1, float),
    ({"distribution": "q_beta", "a": 2, "b": 2, "q": 0.1}, 0, 1, float),
])
def test_every_bounded_distribution_stays_in_range_with_its_type(spec, lo, hi, kind):
    xs = draws(spec)
    assert all(lo - 1e-9 <= x <= hi + 1e-9 for x in xs), (min(xs), max(xs))
    assert all(type(x) is kind for x in xs)
    assert len(set(xs)) > 1


def test_log_uniform_values_is_uniform_in_the_log_and_log_uniform_takes_exponents():
    xs = [math.log10(x) for x in draws({"distribution": "log_uniform_values", "min": 1e-4, "max": 1})]
    assert abs(statistics.median(xs) + 2) < 0.15  # halfway in decades, not in value
    ys = draws({"distribution": "log_uniform", "min": 0, "max": 2})
    assert abs(statistics.median(math.log(y) for y in ys) - 1) < 0.1


def test_normal_family_means_and_spread():
    xs = draws({"distribution": "normal", "mu": 5, "sigma": 2})
    assert abs(statistics.mean(xs) - 5) < 0.15 and abs(statistics.stdev(xs) - 2) < 0.15
    ls = draws({"distribution": "log_normal", "mu": 0, "sigma": 0.5})
    assert min(ls) > 0 and abs(statistics.mean(math.log(x) for x in ls)) < 0.05
    qs = draws({"distribution": "q_normal", "mu": 0, "sigma": 10, "q": 5})
    assert all(x % 5 == 0 for x in qs)
    qls = draws({"distribution": "q_log_normal", "mu": 3, "sigma": 1, "q": 1})
    assert all(type(x) is int and x >= 0 for x in qls)


def test_beta_mean_and_categorical_probabilities():
    xs = draws({"distribution": "beta", "a": 2, "b": 6})
    assert abs(statistics.mean(xs) - 0.25) < 0.02
    cs = draws({"values": ["a", "b", "c"], "probabilities": [0.7, 0.2, 0.1]})
    assert abs(cs.count("a") / len(cs) - 0.7) < 0.03 and abs(cs.count("c") / len(cs) - 0.1) < 0.02
    assert draws({"value": 3}, n=5) == [3] * 5


def test_same_seed_same_draws():
    assert draws({"min": 0.0, "max": 1.0}, seed=3) == draws({"min": 0.0, "max": 1.0}, seed=3)


@pytest.mark.parametrize("cfg,words", [
    ({"method": "anneal", "parameters": {"x": {"value": 1}}}, ["method", "grid, random, bayes"]),
    ({"method": "grid", "parameters": {"x": {"min": 0.0, "max": 1.0}}}, ["parameters.x", "finite set"]),
    ({"method": "random", "parameters": {"x": {"distribution": "gaussian"}}}, ["parameters.x.distribution",
                                                                                "log_uniform_values"]),
    ({"method": "random", "parameters": {"x": {"min": 3, "max": 1}}}, ["parameters.x", "min (3)"]),
    ({"method": "random", "parameters": {"x": {"distribution": "log_uniform_values", "min": 0, "max": 1}}},
     ["parameters.x.min", "min > 0"]),
    ({"method": "random", "parameters": {"x": {"min": "abc", "max": 1}}}, ["parameters.x.min", "number"]),
    ({"method": "random", "parameters": {"x": {"values": [1, 2], "probabilities": [0.5, 0.6]}}},
     ["parameters.x.probabilities", "sum to 1"]),
    ({"method": "random", "parameters": {"x": {"valuse": [1]}}}, ["parameters.x", "unknown key 'valuse'"]),
    ({"method": "bayes", "parameters": {"x": {"values": [1]}}}, ["metric"]),
    ({"method": "random", "metric": {"name": "l", "goal": "lower"}, "parameters": {"x": {"value": 1}}},
     ["metric.goal"]),
    ({"method": "random", "parameters": {}}, ["parameters"]),
    ({"method": "random", "run_cap": 0, "parameters": {"x": {"value": 1}}}, ["run_cap"]),
    ({"method": "random", "metric": {"name": "l"}, "early_terminate": {"type": "asha"},
      "parameters": {"x": {"value": 1}}}, ["early_terminate.type", "hyperband"]),
    ({"method": "random", "command": ["${program}", "${argz}"], "parameters": {"x": {"value": 1}}},
     ["command", "${argz}"]),
    ({"methd": "grid"}, ["methd", "unknown key"]),
])
def test_bad_configs_name_the_field_and_what_is_allowed(cfg, words):
    with pytest.raises(SweepConfigError) as e:
        parse(cfg)
    for w in words:
        assert w in str(e.value)


def test_hyperband_bands_from_min_iter_and_from_max_iter_without_s():
    base = {"method": "random", "metric": {"name": "l"}, "parameters": {"x": {"value": 1}}}
    et = parse({**base, "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 3}}).early_terminate
    assert et is not None and et.bands[:4] == (3, 9, 27, 81)
    et = parse({**base, "early_terminate": {"type": "hyperband", "max_iter": 27, "eta": 3}}).early_terminate
    assert et is not None and et.bands == (1, 3, 9)
    et = parse({**base, "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3}}).early_terminate
    assert et is not None and et.bands == (3, 9)


def test_hyperband_stops_what_wandbs_rule_stops_on_recorded_curves():
    # W&B's own test case: min_iter 3, eta 3; a flat run and an improving one
    flat, improving = [10.0] * 4, [10.0 - i for i in range(10)]
    stops = to_stop({"a": flat, "b": improving}, ["a", "b"], (3, 9, 27), 3, "minimize")
    assert set(stops) == {"a"} and stops["a"].band == 3 and stops["a"].best == 10.0
    # nine recorded curves at band 3: only runs in the best third (by the value at index 3) go on
    curves = {f"r{i}": [1.0 + i] * 5 for i in range(9)}
    stops = to_stop(curves, list(curves), (3,), 3, "minimize")
    assert sorted(stops) == [f"r{i}" for i in range(4, 9)]  # threshold = sorted[int(9/3)] = 4.0
    # maximize mirrors it; a run that has not reached a band is never stopped
    up = {k: [-v for v in h] for k, h in curves.items()} | {"new": [-100.0, -100.0]}
    assert sorted(to_stop(up, list(up), (3,), 3, "maximize")) == [f"r{i}" for i in range(4, 9)]


def test_bayes_moves_towards_the_good_region_and_away_from_pending_points():
    cfg = parse({"method": "bayes", "metric": {"name": "loss", "goal": "minimize"},
                 "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    rng = random.Random(1)
    hist = [Trial({"x": x}, (x - 0.8) ** 2, False) for x in (rng.random() for _ in range(40))]
    xs = [propose(cfg, hist, random.Random(s))[0]["x"] for s in range(40)]
    assert statistics.median(xs) > 0.6  # a random sampler's median is 0.5
    # with fewer than 10 finished trials it samples the prior
    assert 0 <= propose(cfg, hist[:5], random.Random(0))[0]["x"] <= 1
