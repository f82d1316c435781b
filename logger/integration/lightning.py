"""Lightning: ``Trainer(logger=TrackerLogger(project="mnist"))``.

A real ``lightning.pytorch`` ``Logger`` (``pytorch_lightning``'s when only that is installed):
``log_hyperparams`` stores the config, ``log_metrics`` logs at the trainer's step, the run is
finished by ``finalize``.

``log_model`` (wandb's): checkpoints of the ``ModelCheckpoint`` callback are logged as versions of
the artifact ``model-<run id>`` (type ``model``, the file as ``model.ckpt``, metadata ``score``,
``original_filename`` and the callback's settings), aliases ``latest`` and, for the best one,
``best``. ``"all"`` logs each checkpoint when it is saved; ``True`` logs them when training ends
(each one still on disk: the last, the best and the top k), or as saved when ``save_top_k=-1``.
``False`` (default) logs none.
"""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
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
        if log_model not in (False, True, "all"):
            raise ValueError(f"tracker: TrackerLogger(log_model={log_model!r}): use False, True or 'all'")
        self._log_model = log_model
        self._checkpoint_callback: Any = None
        self._logged_model_time: dict[str, float] = {}
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

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self._log_model == "all" or (self._log_model is True and getattr(checkpoint_callback, "save_top_k", 1) == -1):
            self._log_checkpoints(checkpoint_callback)
        elif self._log_model is True:
            self._checkpoint_callback = checkpoint_callback

    @rank_zero_only  # type: ignore[misc]
    def _log_checkpoints(self, cb: Any) -> None:
        """Log every checkpoint of ``cb`` on disk not yet logged (or changed since) as a version
        of ``model-<run id>``; a failure warns once and never stops training."""
        from tracker._values import warn_once

        run = self.experiment
        for mtime, path, score in _checkpoints(cb):
            if self._logged_model_time.get(path, -1.0) >= mtime:
                continue
            meta = {"score": score, "original_filename": Path(path).name,
                    "ModelCheckpoint": {k: _plain(getattr(cb, k, None)) for k in
                                        ("monitor", "mode", "save_last", "save_top_k", "save_weights_only",
                                         "_every_n_train_steps")}}
            try:
                art = tracker.Artifact(f"model-{run.id}", type="model", metadata=meta)
                art.add_file(path, name="model.ckpt")
                run.log_artifact(art, aliases=["latest", "best"] if path == getattr(cb, "best_model_path", None)
                                 else ["latest"])
            except Exception as e:
                warn_once("lightning-log-model", f"tracker: TrackerLogger could not log checkpoint {path!r} "
                          f"({type(e).__name__}: {e})")
                continue
            self._logged_model_time[path] = mtime

    @rank_zero_only  # type: ignore[misc]
    def finalize(self, status: str) -> None:
        if self._checkpoint_callback is not None and self._experiment is not None and status == "success":
            self._log_checkpoints(self._checkpoint_callback)
            self._checkpoint_callback = None
        if self._started and self._experiment is not None:
            self._experiment.finish(exit_code=0 if status in ("success", "finished") else 1)
            self._started = False


def _plain(v: Any) -> Any:
    """A JSON-able metadata value: a tensor's number, else the value if simple, else its text."""
    if hasattr(v, "item") and getattr(v, "numel", lambda: 0)() == 1:
        return v.item()
    return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)


def _checkpoints(cb: Any) -> list[tuple[float, str, Any]]:
    """``(mtime, path, score)`` of the callback's checkpoints still on disk, oldest first: the
    last, the best and the top k (wandb's ``_scan_checkpoints``)."""
    found: dict[str, Any] = {}
    if getattr(cb, "last_model_path", None):
        found[cb.last_model_path] = _plain(getattr(cb, "current_score", None))
    if getattr(cb, "best_model_path", None):
        found[cb.best_model_path] = _plain(getattr(cb, "best_model_score", None))
    for path, score in (getattr(cb, "best_k_models", None) or {}).items():
        found[path] = _plain(score)
    out = []
    for path, score in found.items():
        try:
            out.append((Path(path).stat().st_mtime, path, score))
        except OSError:
            continue  # removed by the callback's top-k rotation
    return sorted(out)
