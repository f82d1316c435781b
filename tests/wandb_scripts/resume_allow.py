# Resuming a run by id (a restarted job): the second process continues the steps.
import wandb

run = wandb.init(project="resume", id="job-7", resume="allow")
start = run.step
for i in range(3):
    wandb.log({"loss": float(start + i)})
wandb.finish()
