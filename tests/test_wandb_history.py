"""``run.history()`` as in wandb (issue 10): a pandas DataFrame by default, the same rows as the
``pandas=False`` list of dicts; without pandas installed, a clear error naming ``pandas=False``."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys

import pytest

import tracker
from tests.helpers import child_env, script

needs_pandas = pytest.mark.skipif(importlib.util.find_spec("pandas") is None,
                                  reason="pandas is not installed (it is in the [test] extra)")


def same(a, b) -> bool:
    """Equal values, NaN equal to NaN (a missing key in a list row is NaN in its DataFrame row)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.fixture
def run_id(tmp_path):
    run = tracker.init(project="p", dir=tmp_path, capture_git=False)
    for i in range(10):
        run.log({"loss": [1.0, math.nan, math.inf, -math.inf][i % 4] if i < 4 else float(i), "epoch": i // 5,
                 **({"val": i / 10} if i % 2 else {}), **({"note": f"n{i}"} if i % 3 == 0 else {})})
    run.finish()
    return run.id


@needs_pandas
def test_default_is_a_dataframe_with_the_list_rows(tmp_path, run_id):
    import pandas as pd

    r = tracker.Api(tmp_path).run(run_id)
    df, rows = r.history(), r.history(pandas=False)
    assert isinstance(df, pd.DataFrame) and isinstance(rows, list)
    assert set(df.columns) == {"_step", "_timestamp", "loss", "epoch", "val", "note"}
    assert df["_step"].tolist() == [row["_step"] for row in rows] == list(range(10))
    assert df["_step"].dtype.kind == "i"  # steps stay integers
    for got, want in zip(df.to_dict("records"), rows, strict=True):
        assert all(same(got[k], want.get(k, math.nan)) for k in df.columns), (got, want)
    loss = df["loss"].tolist()
    assert loss[0] == 1.0 and math.isnan(loss[1]) and loss[2:4] == [math.inf, -math.inf]
    assert math.isnan(df["val"][0]) and df["val"][1] == 0.1  # a step without the key: NaN
    assert df["note"][3] == "n3"  # strings logged at a step are a text column


@needs_pandas
def test_samples_keys_and_x_axis_with_pandas(tmp_path, run_id):
    r = tracker.Api(tmp_path).run(run_id)
    assert r.history(samples=4)["_step"].tolist() == [0, 3, 6, 9]
    df = r.history(keys=["val"], x_axis="epoch")
    assert set(df.columns) == {"_step", "_timestamp", "val", "epoch"}
    assert df["epoch"].tolist() == [0] * 5 + [1] * 5  # the x axis is read with the keys
    assert df["val"].dropna().tolist() == [0.1, 0.3, 0.5, 0.7, 0.9]
    assert r.history(["loss"])["loss"].tolist()[4:] == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]  # positional keys
    assert len(r.history(keys=["missing"])) == 0
    assert [row["_step"] for row in r.scan_history(keys=["val"])] == [1, 3, 5, 7, 9]  # still dicts


@needs_pandas
def test_system_stream_as_a_dataframe(tmp_path):
    run = tracker.init(project="p", dir=tmp_path, capture_git=False)
    run.log({"loss": 1.0, "system/cpu": 12.5})  # a user's own system/ key is a metric like any other
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    assert r.history()["system/cpu"].tolist() == [12.5]
    assert len(r.history(stream="system")) == len(r.history(stream="system", pandas=False))


def test_without_pandas_the_default_names_pandas_false(tmp_path, run_id):
    """In a child where ``import pandas`` fails (a meta-path finder refuses it, as if not
    installed): the default call raises an ImportError that names the way out, and
    ``pandas=False`` / ``scan_history()`` still work."""
    child = script(tmp_path, "no_pandas.py", f"""
        import sys

        class NoPandas:
            def find_spec(self, name, path=None, target=None):
                if name == "pandas" or name.startswith("pandas."):
                    raise ModuleNotFoundError("No module named 'pandas'", name="pandas")
                return None

        sys.meta_path.insert(0, NoPandas())
        sys.modules.pop("pandas", None)
        import tracker

        r = tracker.Api({str(tmp_path)!r}).run({run_id!r})
        try:
            r.history()
        except ImportError as e:
            print("ERR", e)
        print("ROWS", len(r.history(pandas=False)), len(list(r.scan_history())))
        print("PANDAS", "pandas" in sys.modules)
    """)
    out = subprocess.run([sys.executable, str(child)], capture_output=True, text=True, timeout=60,
                         env=child_env(), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    err = next(line for line in lines if line.startswith("ERR "))
    assert "pandas is not installed" in err and "pip install pandas" in err and "pandas=False" in err
    assert "ROWS 10 10" in lines and "PANDAS False" in lines
