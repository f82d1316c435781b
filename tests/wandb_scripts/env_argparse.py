# Project, entity, tags, notes from WANDB_* env vars; config from argparse; exclude keys.
import argparse

import wandb

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=3e-4)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--data-dir", default="/data")
args = p.parse_args(["--lr", "0.001"])
run = wandb.init(config=args, config_exclude_keys=["data_dir"], settings=wandb.Settings(start_method="thread"),
                 save_code=True)
run.log({"loss": 0.5})
wandb.finish()
