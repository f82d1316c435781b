# Nested dicts, strings, commit=False and explicit steps.
import wandb

run = wandb.init(project="nested", entity="my-team")
for step in range(3):
    wandb.log({"train": {"loss": 1.0 / (step + 1), "lr": 0.1}}, commit=False)
    wandb.log({"status": f"epoch {step} done", "epoch": step})
run.log({"eval": {"bleu": 31.5}}, step=10)
run.finish()
