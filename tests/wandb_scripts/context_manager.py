# A run as a context manager; summary set by hand; run attributes printed as wandb code does.
import wandb

with wandb.init(project="ctx", name="ctx-run", tags=["baseline"], notes="first try", group="exp1",
                job_type="train", config={"batch_size": 64}) as run:
    best = 0.0
    for step in range(10):
        acc = step / 10
        run.log({"val/acc": acc}, step=step)
        best = max(best, acc)
    run.summary["best_val_acc"] = best
    run.config.update({"finished_epochs": 10}, allow_val_change=True)
    print("view run at", run.url, run.path, run.id, run.name, run.project)
