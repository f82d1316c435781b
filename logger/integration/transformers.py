"""Hugging Face ``transformers``: ``Trainer(..., callbacks=[TrackerCallback()], report_to="none")``.

The callback uses the active run, or starts one (named ``args.run_name`` unless ``name=`` is
given) with the training arguments and the model's config as its config; logs go in as
``train/<key>`` and ``eval/<key>`` (``test/<key>``) at ``state.global_step``, from the world-zero
process only; a run the callback started is finished when training ends.

``report_to="tracker"`` cannot exist without a change in transformers: it resolves that name
against a registry inside ``transformers.integrations`` that only transformers can extend;
pass the callback instead (and ``report_to="none"`` so wandb's own callback is not loaded).
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

import tracker


def rewrite_logs(logs: dict[str, Any]) -> dict[str, Any]:
    """``eval_loss`` -> ``eval/loss``, ``test_x`` -> ``test/x``, everything else -> ``train/<key>``
    (as wandb's integration names them); values that are not numbers or strings are left out."""
    out: dict[str, Any] = {}
    for k, v in logs.items():
        if not isinstance(v, (int, float, str)):
            continue
        for pre in ("eval_", "test_"):
            if k.startswith(pre):
                out[pre[:-1] + "/" + k[len(pre):]] = v
                break
        else:
            out["train/" + k] = v
    return out


class TrackerCallback(TrainerCallback):  # type: ignore[misc]
    """Log a ``transformers.Trainer`` run to tracker (see the module docstring)."""

    def __init__(self, project: str | None = None, name: str | None = None, **init_kwargs: Any) -> None:
        self.project = project
        self.name = name
        self.init_kwargs = init_kwargs
        self._run: Any = None
        self._started = False

    def setup(self, args: Any, state: Any, model: Any) -> None:
        if not state.is_world_process_zero or self._run is not None:
            return
        run = tracker.run
        if run is None:
            config = dict(args.to_dict()) if hasattr(args, "to_dict") else {}
            model_cfg = getattr(model, "config", None)
            if model_cfg is not None and hasattr(model_cfg, "to_dict"):
                config = {**model_cfg.to_dict(), **config}
            name = self.name or getattr(args, "run_name", None)
            if name == getattr(args, "output_dir", None):
                name = None  # transformers' default run_name is the output directory
            run = tracker.init(project=self.project, name=name, config=config, **self.init_kwargs)
            self._started = True
        self._run = run

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.setup(args, state, model)

    def on_log(self, args: Any, state: Any, control: Any, model: Any = None, logs: Any = None,
               **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        self.setup(args, state, model)
        data = rewrite_logs(dict(logs))
        data["train/global_step"] = state.global_step
        self._run.log(data, step=state.global_step)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._started and self._run is not None:
            self._run.finish()
        self._run, self._started = None, False
