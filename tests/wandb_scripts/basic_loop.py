# The W&B quickstart loop: config in init, read back through wandb.config, log per epoch.
import random

import wandb

wandb.login()
run = wandb.init(project="quickstart", config={"learning_rate": 0.02, "architecture": "CNN", "epochs": 5})
offset = random.random() / 5
for epoch in range(2, wandb.config.epochs + 2):
    acc = 1 - 2**-epoch - offset
    loss = 2**-epoch + offset
    wandb.log({"acc": acc, "loss": loss})
wandb.finish()
