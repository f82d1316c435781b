# Alerts with a level and throttle, files saved with the run, renaming after init.
import os

import wandb
from wandb import AlertLevel

run = wandb.init(project="misc")
run.name = f"renamed-{run.id}"
run.tags = run.tags + ("late-tag",)
with open("model.yaml", "w") as f:
    f.write("layers: 4\n")
wandb.save("model.yaml")
for step in range(5):
    loss = 10.0 if step == 3 else 1.0
    wandb.log({"loss": loss})
    if loss > 5:
        wandb.alert(title="Loss spike", text=f"loss {loss} at step {step}", level=AlertLevel.WARN,
                    wait_duration=300)
wandb.mark_preempting()
wandb.finish()
os.remove("model.yaml")
