# The public API as analysis notebooks use it.
import wandb

api = wandb.Api()
runs = api.runs("my-team/sweepish", filters={"$and": [{"config.lr": {"$lt": 0.5}}, {"state": "finished"}]},
                order="-summary_metrics.val/acc")
best = runs[0]
print("best", best.name, best.config["lr"], best.summary["val/acc"])
rows = list(best.scan_history(keys=["val/acc"]))
print("rows", len(rows))
best.tags.append("best")
best.update()
run = api.run(f"my-team/sweepish/{best.id}")
print("tags", run.tags)
