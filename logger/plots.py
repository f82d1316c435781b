"""``tracker.plots``: the legacy spellings tutorials still use (``wandb.plots.*``), the same
charts as :mod:`tracker.plot`."""

from __future__ import annotations

from .plot import bar, confusion_matrix, histogram, line, line_series, plot_table, pr_curve, roc_curve, scatter

#: ``wandb.plots.ROC`` / ``wandb.plots.precision_recall``
ROC = roc_curve
precision_recall = pr_curve

__all__ = ["ROC", "bar", "confusion_matrix", "histogram", "line", "line_series", "plot_table", "precision_recall",
           "pr_curve", "roc_curve", "scatter"]
