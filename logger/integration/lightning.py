"""Lightning: ``Trainer(logger=TrackerLogger(project="mnist"))``.

A real ``lightning.pytorch`` ``Logger`` (``pytorch_lightning``'s when only that is installed):
``log_hyperparams`` stores the config, ``log_metrics`` logs at the trainer's step, the run is
finished by ``finalize``. ``log_model`` is accepted; checkpoints are not stored yet (that needs
the Artifacts issue): ``log_model=True``/``"all"`` warns once and logs nothing more.
"""

from __future__ import annotations

from argparse import Namespace
from typing import Any

import tracker

try:
    from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
    from lightning.pytorch.utilities import rank_zero_only
except ImportError:  # pragma: no cover - the older package name
    from pytorch_lightning.loggers.logger import Logger, rank_zero_experiment  # type: ignore[no-redef,assignment]
    from pytorch_lightning.utilities import rank_zero_only  # type: ignore[no-redef,assignment]


class TrackerLogger(Logger):  # type: ignore[misc]
    """Log a Lightning run to tracker (see the module docstring)."""

    def __init__(self, name: str | None = None, save_dir: str | None = None, version: str | None = None,
                 offline: bool = False, dir: str | None = None, id: str | None = None, anonymous: bool | None = None,
                 project: str | None = None, log_model: bool | str = False, experiment: Any = None,
                 prefix: str = "", checkpoint_name: str | None = None, **init_kwargs: Any) -> None:
        super().__init__()
        if log_model:
            from tracker._values import warn_once

            warn_once("lightning-log-model", "tracker: TrackerLogger(log_model=...) does not store checkpoints yet "
                      "(it needs artifacts); metrics and hyper-parameters are logged")
        self._name = name
        self._project = project
        self._save_dir = save_dir
        self._id = version or id
        self._prefix = prefix
        self._init_kwargs = dict(init_kwargs)
        if dir is not None:
            self._init_kwargs["dir"] = dir
        self._experiment = experiment
        self._started = False

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        """The tracker run (the active one, or one this logger started)."""
        if self._experiment is None:
            run = tracker.run
            if run is None:
                run = tracker.init(project=self._project, name=self._name, id=self._id,
                                   resume="allow" if self._id else None, **self._init_kwargs)
                self._started = True
            self._experiment = run
        return self._experiment

    @property
    def name(self) -> str | None:
        return self._project or (self._experiment.project if self._experiment is not None else None)

    @property
    def version(self) -> str | None:
        return self._experiment.id if self._experiment is not None else self._id

    @property
    def save_dir(self) -> str | None:
        return self._save_dir

    @rank_zero_only  # type: ignore[misc]
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(params, Namespace):
            params = vars(params)
        self.experiment.config.update(dict(params or {}))

    @rank_zero_only  # type: ignore[misc]
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        data = {(self._prefix + "-" + k if self._prefix else k): v for k, v in metrics.items()}
        if step is not None:
            data["trainer/global_step"] = step
        self.experiment.log(data, step=step)

    @rank_zero_only  # type: ignore[misc]
    def finalize(self, status: str) -> None:
        if self._started and self._experiment is not None:
            self._experiment.finish(exit_code=0 if status in ("success", "finished") else 1)
            self._started = False
