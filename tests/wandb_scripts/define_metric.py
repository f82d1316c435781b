# define_metric: a custom x axis and summaries per metric (globs included).
import wandb

wandb.init(project="defmetric")
wandb.define_metric("epoch")
wandb.define_metric("val/*", step_metric="epoch", summary="max")
wandb.define_metric("train/loss", summary="min")
wandb.define_metric("train/grad_norm", summary="mean")
for epoch in range(4):
    wandb.log({"train/loss": [0.9, 0.5, 0.7, 0.6][epoch], "train/grad_norm": float(epoch),
               "val/acc": [0.5, 0.8, 0.7, 0.75][epoch], "epoch": epoch})
# no wandb.finish(): the summaries are still stored when the script ends
