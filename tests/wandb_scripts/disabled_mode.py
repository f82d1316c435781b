# mode="disabled": every call works and nothing is written.
import wandb

run = wandb.init(project="off", mode="disabled", config={"lr": 0.1})
assert wandb.config.lr == 0.1
for i in range(3):
    wandb.log({"loss": 1.0 / (i + 1), "text": "x"})
wandb.define_metric("loss", summary="min")
run.summary["final"] = 1
wandb.alert(title="t", text="x")
wandb.save("*.txt")
print("disabled", run.disabled)
wandb.finish()
