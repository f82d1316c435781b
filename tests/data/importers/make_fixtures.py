"""Make the importer fixtures with the REAL tools (run in a throw-away venv, never in ours).

    python3 -m venv /tmp/fixvenv
    /tmp/fixvenv/bin/pip install mlflow-skinny sqlalchemy alembic trackio tensorboard wandb
    /tmp/fixvenv/bin/python tests/data/importers/make_fixtures.py [mlflow|trackio|tensorboard|tensorboard_hist|wandb ...]

Each format's folder gets the tool's own files plus ``expected.json``: what this script logged
(names, config, steps, values with NaN/±Inf written as the strings "nan"/"inf"/"-inf"), which the
tests compare the imported runs against. Versions used are in README.md next to this script.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAN, INF = math.nan, math.inf


def enc(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if v != v else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: enc(x) for k, x in v.items()}
    if isinstance(v, list):
        return [enc(x) for x in v]
    return v


def write_expected(folder: Path, runs: list[dict]) -> None:
    (folder / "expected.json").write_text(json.dumps(enc(runs), indent=1, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------------------- mlflow
MLFLOW_RUNS = [
    {"experiment": "vision", "name": "resnet-a", "status": "FINISHED",
     "params": {"lr": "0.1", "model/depth": "18", "optimizer": "{'name': 'adam', 'betas': [0.9, 0.999]}"},
     "tags": {"team": "cv", "mlflow.note.content": "baseline run"},
     "metrics": [("train/loss", 0, 1.0), ("train/loss", 1, 0.5), ("train/loss", 2, 0.25), ("train/loss", 3, NAN),
                 ("train/loss", 4, 0.125), ("val/acc", 0, 0.5), ("val/acc", 4, INF), ("grad/norm", 2, -INF)]},
    {"experiment": "vision", "name": "resnet-b", "status": "FAILED",
     "params": {"lr": "0.01"}, "tags": {},
     "metrics": [("train/loss", 0, 2.0), ("train/loss", 1, 1.5)]},
    {"experiment": "nlp", "name": "bert", "status": "KILLED", "params": {}, "tags": {},
     "metrics": [("loss", 10, 3.0), ("loss", 20, 2.5), ("loss", 20, 2.4)]},
]


def make_mlflow(kind: str) -> None:
    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    folder = HERE / f"mlflow_{kind}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    uri = f"file://{folder / 'mlruns'}" if kind == "file" else f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    out = []
    for spec in MLFLOW_RUNS:
        exp = client.get_experiment_by_name(spec["experiment"])
        exp_id = exp.experiment_id if exp else client.create_experiment(spec["experiment"])
        run = client.create_run(exp_id, run_name=spec["name"])
        rid = run.info.run_id
        t0 = run.info.start_time
        client.log_batch(
            rid,
            metrics=[Metric(k, v, t0 + i, s) for i, (k, s, v) in enumerate(spec["metrics"])],
            params=[Param(k, v) for k, v in spec["params"].items()],
            tags=[RunTag(k, v) for k, v in spec["tags"].items()],
        )
        client.set_terminated(rid, spec["status"])
        out.append({**spec, "run_id": rid, "metrics": [list(m) for m in spec["metrics"]]})
    write_expected(folder, out)
    print("mlflow", kind, mlflow.__version__)


# --------------------------------------------------------------------------------------- trackio
TRACKIO_RUNS = [
    {"project": "vision", "name": "resnet-a",
     "config": {"lr": 0.1, "optim": {"name": "adam", "betas": [0.9, 0.999]}, "tags": ["a", "b"]},
     "logs": [({"train/loss": 1.0, "val/acc": 0.5}, None), ({"train/loss": NAN, "val/acc": INF}, None),
              ({"train/loss": 0.25, "grad/norm": -INF}, None), ({"train/loss": 0.125}, 10)],
     "system": [{"cpu": 12.5, "gpu/0/util": 80.0}],
     "alerts": [("loss spike", "loss went NaN at step 1", "warn")]},
    {"project": "vision", "name": "resnet-b", "config": {"lr": 0.01},
     "logs": [({"train/loss": 2.0}, None), ({"train/loss": 1.5}, None)], "system": [], "alerts": []},
    {"project": "nlp", "name": "resnet-a", "config": {},
     "logs": [({"loss": 3.0}, 5)], "system": [], "alerts": []},
]


def make_trackio() -> None:
    folder = HERE / "trackio"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    code = f"""
import os, json, sys
os.environ["TRACKIO_DIR"] = {str(folder)!r}
import trackio
spec = json.loads(sys.stdin.read(), parse_constant=float)
for r in spec:
    trackio.init(project=r["project"], name=r["name"], config=r["config"])
    for metrics, step in r["logs"]:
        trackio.log(metrics, step=step)
    for m in r["system"]:
        trackio.log_system(m)
    for title, text, level in r["alerts"]:
        trackio.alert(title=title, text=text, level=trackio.AlertLevel(level))
    trackio.finish()
print("trackio", trackio.__version__)
"""
    # One process (trackio keeps global state); the spec goes over stdin (NaN/Infinity as json writes them).
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(TRACKIO_RUNS), text=True,
                         capture_output=True, check=True)
    print(out.stdout.strip().splitlines()[-1])
    for p in folder.iterdir():
        if p.suffix != ".db":
            p.unlink() if p.is_file() else shutil.rmtree(p)
    write_expected(folder, TRACKIO_RUNS)


# ----------------------------------------------------------------------------------- tensorboard
TB_SCALARS = {  # run folder -> [(tag, step, value)]
    "resnet-a": [("train/loss", 0, 1.0), ("train/loss", 1, 0.5), ("train/loss", 2, NAN), ("train/loss", 3, 0.25),
                 ("val/acc", 0, 0.5), ("val/acc", 3, INF), ("grad/norm", 2, -INF)],
    "tf2/resnet-b": [("loss", 0, 2.0), ("loss", 1, 1.5), ("loss", 2, NAN), ("lr", 0, 0.1), ("lr", 1, INF)],
}
TB_HPARAMS = {"lr": 0.1, "optim/name": "adam", "layers": 18, "augment": True}


def make_tensorboard() -> None:
    """resnet-a: tensorboardX (PyTorch-style ``simple_value`` scalars, a histogram) plus the
    hparams plugin's summaries (tensorboardX's ``add_hparams`` protos); tf2/resnet-b: TF2-style tensor
    scalars from tensorboard's ``scalar_pb`` (float32 ``float_val``) and, for ``lr``, a double
    tensor in ``tensor_content``, written by tensorboard's EventFileWriter."""
    import numpy as np
    import tensorboard
    import tensorboardX
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
    from tensorboard.plugins.scalar import metadata as scalar_meta
    from tensorboard.plugins.scalar import summary_v2 as scalar
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboardX.summary import hparams as tbx_hparams

    folder = HERE / "tensorboard"
    shutil.rmtree(folder, ignore_errors=True)
    logdir = folder / "logs"
    w = tensorboardX.SummaryWriter(str(logdir / "resnet-a"))
    for tag, step, v in TB_SCALARS["resnet-a"]:
        w.add_scalar(tag, v, step)
    w.add_histogram("weights", np.arange(10.0), 3)
    for summ in tbx_hparams(TB_HPARAMS, {}):  # what add_hparams writes, here into the run's own file
        w.file_writer.add_summary(summ)
    w.close()
    ew = EventFileWriter(str(logdir / "tf2" / "resnet-b"))
    t0 = time.time()
    for i, (tag, step, v) in enumerate(TB_SCALARS["tf2/resnet-b"]):
        if tag == "lr":  # a float64 scalar tensor in tensor_content (what tf.summary.scalar(dtype=float64) writes)
            tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, tensor_content=np.float64(v).tobytes())
            summ = summary_pb2.Summary()
            summ.value.add(tag=tag, tensor=tensor, metadata=scalar_meta.create_summary_metadata(None, None))
        else:
            summ = scalar.scalar_pb(tag, v)
        ew.add_event(event_pb2.Event(wall_time=t0 + i, step=step, summary=summ))
    ew.close()
    write_expected(folder, [{"run": k, "scalars": [list(x) for x in v]} for k, v in TB_SCALARS.items()]
                   + [{"hparams": TB_HPARAMS}])
    print("tensorboard", tensorboard.__version__, "tensorboardX", tensorboardX.__version__)


TB_HISTOGRAMS = {"weights": [(0, [0.0, 1.0, 1.0, 2.0, 3.0, 5.0, 8.0]), (5, [-1.0, -0.5, 0.0, 0.5, 1.0])]}


def make_tensorboard_hist() -> None:
    """tensorboard_hist/logs/tf2-hist: TF2-style histograms from tensorboard's own
    ``histogram_pb`` (the histograms plugin's ``[k, 3]`` double tensor of left edge, right edge,
    count: what ``tf.summary.histogram`` writes), written by tensorboard's EventFileWriter."""
    import numpy as np
    import tensorboard
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.histogram import summary_v2 as histogram
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder = HERE / "tensorboard_hist"
    shutil.rmtree(folder, ignore_errors=True)
    ew = EventFileWriter(str(folder / "logs" / "tf2-hist"))
    t0 = time.time()
    for tag, steps in TB_HISTOGRAMS.items():
        for step, data in steps:
            summ = histogram.histogram_pb(tag, np.array(data), buckets=4)
            ew.add_event(event_pb2.Event(wall_time=t0 + step, step=step, summary=summ))
    ew.close()
    write_expected(folder, [{"run": "tf2-hist", "histograms": {
        tag: [{"step": step, "count": len(data), "min": min(data), "max": max(data)} for step, data in steps]
        for tag, steps in TB_HISTOGRAMS.items()}}])
    print("tensorboard", tensorboard.__version__)


# ----------------------------------------------------------------------------------------- wandb
WANDB_RUNS = [
    {"project": "vision", "name": "resnet-a", "config": {"lr": 0.1, "optim": {"name": "adam", "betas": [0.9, 0.999]}},
     "tags": ["baseline", "cv"], "notes": "first try", "group": "sweep-1", "job_type": "train",
     "logs": [{"train/loss": 1.0, "val/acc": 0.0, "nested": {"a": 0}}, {"train/loss": 0.5, "val/acc": 0.1},
              {"train/loss": NAN, "val/acc": 0.2}, {"train/loss": 0.25, "val/acc": INF},
              {"train/loss": 0.2, "grad/norm": -INF}],
     "summary": {"best": 0.9}, "alert": ["loss spike", "train/loss went NaN"], "exit_code": 3},
    {"project": "vision", "name": "resnet-b", "config": {"lr": 0.01}, "tags": [], "notes": None, "group": None,
     "job_type": None, "logs": [{"loss": 2.0}, {"loss": 1.5}], "summary": {}, "alert": None, "exit_code": 0},
]


def make_wandb() -> None:
    folder = HERE / "wandb"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    code = f"""
import json, os, sys, time
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
import wandb
spec = json.loads(sys.stdin.read(), parse_constant=float)
for r in spec:
    run = wandb.init(project=r["project"], name=r["name"], config=r["config"], tags=r["tags"], notes=r["notes"],
                     group=r["group"], job_type=r["job_type"], dir={str(folder)!r},
                     settings=wandb.Settings(x_stats_sampling_interval=0.25))
    for i, metrics in enumerate(r["logs"]):
        run.log(metrics)
        print(f"{{r['name']}}: step {{i}} done")
    if r["alert"]:
        try:
            run.alert(title=r["alert"][0], text=r["alert"][1])
        except Exception as e:  # offline wandb may refuse alerts; the fixture then has none
            print("alert not recorded:", e, file=sys.stderr)
    time.sleep(1.0)  # a few system-metric samples
    for k, v in r["summary"].items():
        run.summary[k] = v
    run.finish(exit_code=r["exit_code"])
print("wandb", wandb.__version__)
"""
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(WANDB_RUNS), text=True,
                         capture_output=True, check=True, cwd=folder)
    print(out.stdout.strip().splitlines()[-1], out.stderr.strip()[-300:])
    root = folder / "wandb"
    for p in list(root.iterdir()):
        if not p.name.startswith("offline-run-") or p.is_symlink():
            p.unlink() if (p.is_file() or p.is_symlink()) else shutil.rmtree(p)
    for run_dir in root.iterdir():  # keep the record stream (and wandb's own output.log)
        for p in list(run_dir.iterdir()):
            if not p.name.endswith(".wandb") and p.name != "files":
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        for p in list((run_dir / "files").iterdir()):
            if p.name != "output.log":
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    write_expected(folder, WANDB_RUNS)


MAKERS = {
    "mlflow": lambda: (make_mlflow("file"), make_mlflow("sqlite")),
    "trackio": make_trackio,
    "tensorboard": make_tensorboard,
    "tensorboard_hist": make_tensorboard_hist,
    "wandb": make_wandb,
}

if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    for name in sys.argv[1:] or list(MAKERS):
        MAKERS[name]()
