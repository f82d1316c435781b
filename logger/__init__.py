"""tracker: log ML runs to a local SQLite store with one import.

    import tracker
    run = tracker.init(project="cifar", config={"lr": 3e-4})
    for step in range(1000):
        run.log({"train/loss": loss})
    run.finish()

Everything is loaded lazily so ``import tracker`` costs a few milliseconds and never imports
Textual, Rich, plotext, watchdog, NumPy or torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from ._artifacts import Artifact
    from ._artifacts_run import log_artifact, use_artifact
    from ._compat import init
    from ._compat_files import (
        Error,
        alert,
        define_metric,
        login,
        mark_preempting,
        require,
        restore,
        save,
        setup,
        teardown,
        termerror,
        termlog,
        termwarn,
    )
    from ._init import finish, log
    from ._media import Image, Media
    from ._media_kinds import Audio, Histogram, Html, Molecule, Object3D, Video
    from ._media_table import Table
    from ._run import Config, Run, RunFinishedError, Summary
    from ._settings import AlertLevel, Settings
    from ._sweep import SweepStopped, agent, sweep
    from ._watch import unwatch, watch
    from .api import Api

__all__ = ["Api", "Artifact", "Config", "Run", "RunFinishedError", "Summary", "TrackerWarning", "finish", "init", "log",
           "run", "config", "summary", "__version__", "AlertLevel", "Settings", "alert", "define_metric", "login",
           "mark_preempting", "restore", "save", "unwatch", "watch", "Error", "require", "setup", "teardown",
           "termlog", "termwarn", "termerror", "log_artifact", "use_artifact", "sweep", "agent", "SweepStopped",
           "Image", "Media", "Table", "Histogram", "Audio", "Video", "Object3D", "Html", "Molecule", "plot", "plots"]

#: Public name -> the module (relative to this package) that defines it, imported on first use.
_LAZY = {"init": "._compat", "log": "._init", "finish": "._init", "Run": "._run", "Config": "._run",
         "Summary": "._run", "RunFinishedError": "._run", "Api": ".api", "TrackerWarning": "._values",
         "Artifact": "._artifacts", "log_artifact": "._artifacts_run", "use_artifact": "._artifacts_run",
         "sweep": "._sweep", "agent": "._sweep", "SweepStopped": "._sweep",
         "Image": "._media", "Media": "._media", "Table": "._media_table", "Histogram": "._media_kinds",
         "Audio": "._media_kinds", "Video": "._media_kinds", "Object3D": "._media_kinds", "Html": "._media_kinds",
         "Molecule": "._media_kinds"}
# wandb's module-level names (issue 10): see README "Coming from wandb".
_LAZY.update({"Settings": "._settings", "AlertLevel": "._settings", "alert": "._compat_files",
              "login": "._compat_files", "save": "._compat_files", "restore": "._compat_files",
              "define_metric": "._compat_files", "mark_preempting": "._compat_files", "watch": "._watch",
              "unwatch": "._watch", "Error": "._compat_files", "require": "._compat_files",
              "setup": "._compat_files", "teardown": "._compat_files", "termlog": "._compat_files",
              "termwarn": "._compat_files", "termerror": "._compat_files"})
#: Subpackages reached as attributes (``tracker.integration.transformers``), imported on first use.
_SUBMODULES = ("integration", "tensorboard", "keras", "util", "plot", "plots", "sklearn")


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is not None:
        import importlib

        return getattr(importlib.import_module(where, __name__), name)
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module("." + name, __name__)
    if name in ("run", "config", "summary"):
        from . import _state  # holds no heavy import: reading tracker.run never loads the logger

        current = _state.current
        if name == "run":
            return current
        if current is None:
            return None
        return getattr(current, name)
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")
