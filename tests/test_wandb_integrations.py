"""Framework integrations (issue 10), each with the real framework on a tiny model, in its own
process; each test skips with a reason when its framework is not installed
(``pip install -e '.[integrations]'``)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

import tracker
from helpers import child_env, script


def needs(*mods: str):
    missing = [m for m in mods if importlib.util.find_spec(m) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} (pip install -e '.[integrations]')")


def run_child(tmp_path, body: str, **env: str) -> str:
    p = script(tmp_path, "train.py", body)
    out = subprocess.run([sys.executable, str(p)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env=child_env(TRACKER_DIR=str(tmp_path / "store"), HF_HUB_OFFLINE="1",
                                       TRANSFORMERS_OFFLINE="1", **env))
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@needs("transformers", "torch", "accelerate")
def test_transformers_trainer_callback(tmp_path):
    run_child(tmp_path, """
        import torch
        from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
        from tracker.integration.transformers import TrackerCallback

        torch.manual_seed(0)
        cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=16, num_labels=2)
        model = BertForSequenceClassification(cfg)
        data = [{"input_ids": torch.randint(0, 50, (8,)), "labels": torch.tensor(i % 2)} for i in range(16)]
        args = TrainingArguments(output_dir="out", run_name="tiny-bert", max_steps=4, logging_steps=1,
                                 eval_strategy="steps", eval_steps=2, per_device_train_batch_size=4,
                                 report_to="none", save_strategy="no", use_cpu=True)
        trainer = Trainer(model=model, args=args, train_dataset=data, eval_dataset=data[:4],
                          callbacks=[TrackerCallback(project="hf")])
        trainer.train()
        import tracker
        assert tracker.run is None  # the run the callback started is finished
    """)
    (r,) = tracker.Api(tmp_path / "store").runs("hf")
    assert r.name == "tiny-bert" and r.state == "finished"
    assert r.config["hidden_size"] == 16 and r.config["max_steps"] == 4
    keys = set(r.keys())
    assert {"train/loss", "eval/loss", "train/global_step"} <= keys
    steps = [h["_step"] for h in r.history(keys=["train/loss"], pandas=False) if "train/loss" in h]
    assert steps == [1, 2, 3, 4]


@needs("lightning", "torch")
def test_lightning_logger(tmp_path):
    run_child(tmp_path, """
        import torch
        import lightning.pytorch as L
        from tracker.integration.lightning import TrackerLogger

        class Tiny(L.LightningModule):
            def __init__(self, lr=0.1):
                super().__init__()
                self.save_hyperparameters()
                self.layer = torch.nn.Linear(4, 1)
            def training_step(self, batch, i):
                x, y = batch
                loss = torch.nn.functional.mse_loss(self.layer(x), y)
                self.log("train_loss", loss)
                return loss
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

        ds = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
        trainer = L.Trainer(max_epochs=2, logger=TrackerLogger(project="pl", name="tiny"), log_every_n_steps=1,
                            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(Tiny(), torch.utils.data.DataLoader(ds, batch_size=8))
    """)
    (r,) = tracker.Api(tmp_path / "store").runs("pl")
    assert (r.name, r.state, r.config["lr"]) == ("tiny", "finished", 0.1)
    rows = [h for h in r.history(pandas=False) if "train_loss" in h]
    assert len(rows) == 8 and [h["_step"] for h in rows] == [h["trainer/global_step"] for h in rows]


@needs("lightning", "torch")
def test_lightning_log_model_stores_checkpoints_as_artifacts(tmp_path):
    run_child(tmp_path, """
        import torch
        import lightning.pytorch as L
        from lightning.pytorch.callbacks import ModelCheckpoint
        from tracker.integration.lightning import TrackerLogger

        class Tiny(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.layer = torch.nn.Linear(4, 1)
            def training_step(self, batch, i):
                x, y = batch
                loss = torch.nn.functional.mse_loss(self.layer(x), y)
                self.log("loss", loss, on_step=False, on_epoch=True)
                return loss
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.05)

        torch.manual_seed(0)
        ds = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
        for name, log_model, ckpt in [
                ("all", "all", ModelCheckpoint(dirpath="ck-all", monitor="loss", mode="max", save_top_k=-1)),
                ("end", True, ModelCheckpoint(dirpath="ck-end", monitor="loss", mode="min", save_top_k=1))]:
            trainer = L.Trainer(max_epochs=3, logger=TrackerLogger(project="pl", name=name, log_model=log_model),
                                callbacks=[ckpt], enable_progress_bar=False, enable_model_summary=False)
            trainer.fit(Tiny(), torch.utils.data.DataLoader(ds, batch_size=32))
    """)
    api = tracker.Api(tmp_path / "store")
    runs = {r.name: r for r in api.runs("pl")}
    # "all": each checkpoint when saved; the highest loss (epoch 0, mode="max") is best
    vs = api.artifacts("model", f"pl/model-{runs['all'].id}")
    assert [v.version for v in vs] == ["v2", "v1", "v0"]
    assert [v.metadata["original_filename"].split("-")[0] for v in vs] == ["epoch=2", "epoch=1", "epoch=0"]
    assert "latest" in vs[0].aliases and "best" in vs[2].aliases and "best" not in vs[0].aliases
    assert vs[2].metadata["score"] == max(v.metadata["score"] for v in vs)
    assert vs[2].metadata["ModelCheckpoint"]["mode"] == "max"
    best = api.artifact(f"pl/model-{runs['all'].id}:best")
    assert best.version == "v0"
    out = best.download(tmp_path / "dl")
    import torch
    state = torch.load(f"{out}/model.ckpt", weights_only=False)
    assert state["epoch"] == 0 and "state_dict" in state
    # True: at the end of training, the checkpoints still on disk (top 1: the last epoch's)
    (v,) = api.artifacts("model", f"pl/model-{runs['end'].id}")
    assert v.metadata["original_filename"].startswith("epoch=2") and {"latest", "best"} <= set(v.aliases)
    assert runs["end"].state == "finished"


@needs("keras", "torch")
def test_keras_metrics_logger(tmp_path):
    run_child(tmp_path, """
        import numpy as np
        import keras
        import tracker as wandb
        from tracker.keras import WandbMetricsLogger

        run = wandb.init(project="keras")
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
        x, y = np.random.rand(32, 4).astype("float32"), np.random.rand(32, 1).astype("float32")
        model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[WandbMetricsLogger(log_freq=2)])
        run.finish()
    """, KERAS_BACKEND="torch")
    (r,) = tracker.Api(tmp_path / "store").runs("keras")
    rows = r.history(pandas=False)
    epochs = [h for h in rows if "epoch/loss" in h]
    assert [h["epoch/epoch"] for h in epochs] == [0, 1, 2]
    assert epochs[0]["epoch/learning_rate"] == pytest.approx(0.05)
    assert len([h for h in rows if "batch/loss" in h]) == 6  # 4 batches per epoch, every 2nd


def test_import_tracker_imports_no_framework(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import sys, tracker; tracker.init; tracker.Api; "
                          "print(sorted(m for m in ('torch', 'transformers', 'lightning', 'keras', 'tensorboardX', "
                          "'pandas') if m in sys.modules))"], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


@needs("pytorch_lightning", "lightning", "torch")
def test_lightning_logger_with_the_pytorch_lightning_package(tmp_path):
    run_child(tmp_path, """
        import torch
        import pytorch_lightning as pl
        from tracker.integration.lightning import TrackerLogger

        class Tiny(pl.LightningModule):
            def __init__(self):
                super().__init__()
                self.layer = torch.nn.Linear(2, 1)
            def training_step(self, batch, i):
                loss = self.layer(batch[0]).sum()
                self.log("loss", loss)
                return loss
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)

        ds = torch.utils.data.TensorDataset(torch.randn(8, 2))
        trainer = pl.Trainer(max_epochs=1, logger=TrackerLogger(project="plx"), log_every_n_steps=1,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(Tiny(), torch.utils.data.DataLoader(ds, batch_size=2))
    """)
    (r,) = tracker.Api(tmp_path / "store").runs("plx")
    assert r.state == "finished" and len([h for h in r.history(pandas=False) if "loss" in h]) == 4
