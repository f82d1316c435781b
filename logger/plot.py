"""``tracker.plot``: wandb's preset charts, stored as their table plus the kind of chart.

    run.log({"cm": tracker.plot.confusion_matrix(y_true=y, preds=p, class_names=names)})
    run.log({"roc": tracker.plot.roc_curve(y_true, probas, labels=names)})

Confusion matrices, ROC and precision-recall curves are computed here in plain Python (NumPy
arrays and torch tensors are accepted; scikit-learn is not needed). The app draws them: the
confusion matrix as a shaded grid with counts, curves through its chart renderer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._media import Media, Record
from ._media_table import Table

__all__ = ["Plot", "bar", "confusion_matrix", "histogram", "line", "line_series", "plot_table", "pr_curve",
           "roc_curve", "scatter"]

F = TypeVar("F", bound=Callable[..., Any])

#: Curves are thinned to at most this many points per class (wandb keeps a similar number).
MAX_CURVE_POINTS = 1000


class Plot(Media):
    """A chart: ``type`` (``line``, ``scatter``, ``bar``, ``histogram``, ``line_series``,
    ``confusion_matrix``, ``roc_curve``, ``pr_curve`` or a custom name) over a :class:`Table`."""

    _kind = "plot"

    def __init__(self, type: str, table: Table, fields: dict[str, Any], title: str | None = None) -> None:
        self.type = str(type)
        self.table = table
        self.fields = {str(k): v for k, v in fields.items()}
        self.title = title

    def to_record(self) -> Record:
        if self._error:
            raise ValueError(self._error)
        rec = self.table.to_record()
        meta = dict(rec.meta, type=self.type, fields=self.fields)
        if self.title is not None:
            meta["title"] = str(self.title)
        return Record("plot", meta, rec.blobs)


def _never_raises(fn: F) -> F:
    """Bad input gives a Plot that ``log()`` reports as a warning naming the key (never an
    exception in the training loop)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Plot:
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
            p = Plot(fn.__name__, Table(), {})
            p._error = f"tracker.plot.{fn.__name__}: {e}"
            return p

    return wrapper  # type: ignore[return-value]


def _list(v: Any) -> list[Any]:
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    if hasattr(v, "tolist"):
        return list(v.tolist())
    return list(v)


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str | None = None, split_table: bool = False) -> Plot:
    return Plot("line", table, {"x": x, "y": y, **({"stroke": stroke} if stroke else {})}, title)


def scatter(table: Table, x: str, y: str, title: str | None = None, split_table: bool = False) -> Plot:
    return Plot("scatter", table, {"x": x, "y": y}, title)


def bar(table: Table, label: str, value: str, title: str | None = None, split_table: bool = False) -> Plot:
    return Plot("bar", table, {"label": label, "value": value}, title)


def histogram(table: Table, value: str, title: str | None = None, split_table: bool = False) -> Plot:
    return Plot("histogram", table, {"value": value}, title)


def plot_table(vega_spec_name: str, data_table: Table, fields: dict[str, Any],
               string_fields: dict[str, Any] | None = None, split_table: bool = False) -> Plot:
    """A custom chart: kept as its table, fields and spec name (drawn as a table in the app)."""
    p = Plot(vega_spec_name, data_table, fields)
    if string_fields:
        p.fields["string_fields"] = dict(string_fields)
    return p


@_never_raises
def line_series(xs: Any, ys: Sequence[Any], keys: Sequence[str] | None = None, title: str | None = None,
                xname: str | None = None, split_table: bool = False) -> Plot:
    """Several lines: ``xs`` shared (one sequence) or one per line; ``ys`` one sequence per line."""
    ys_l = [_list(y) for y in ys]
    xs_l = _list(xs)
    per_line = bool(xs_l) and isinstance(xs_l[0], (list, tuple))
    names = list(keys) if keys is not None else [f"key_{i}" for i in range(len(ys_l))]
    rows = []
    for i, y in enumerate(ys_l):
        xline = xs_l[i] if per_line else xs_l
        rows += [[names[i] if i < len(names) else f"key_{i}", yv, xv] for xv, yv in zip(xline, y)]
    return Plot("line_series", Table(columns=["lineKey", "lineVal", "step"], data=rows),
                {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal", "xname": xname or "x"}, title)


@_never_raises
def confusion_matrix(probs: Any = None, y_true: Any = None, preds: Any = None, class_names: Sequence[str] | None = None,
                     title: str | None = None, split_table: bool = False) -> Plot:
    """Counts of (actual, predicted) pairs; ``preds`` or ``probs`` (argmax is taken) with ``y_true``."""
    if y_true is None:
        raise ValueError("tracker.plot.confusion_matrix needs y_true=")
    if (probs is None) == (preds is None):
        raise ValueError("tracker.plot.confusion_matrix needs exactly one of probs= or preds=")
    truth = [int(v) for v in _list(y_true)]
    if preds is None:
        preds_l = [max(range(len(p)), key=p.__getitem__) for p in (_list(r) for r in _list(probs))]
    else:
        preds_l = [int(v) for v in _list(preds)]
    if len(truth) != len(preds_l):
        raise ValueError(f"tracker.plot.confusion_matrix: {len(truth)} labels for {len(preds_l)} predictions")
    n = max([*truth, *preds_l, len(class_names or []) - 1]) + 1
    names = [str(c) for c in class_names] if class_names else [f"Class_{i + 1}" for i in range(n)]
    if len(names) < n:
        raise ValueError(f"tracker.plot.confusion_matrix: {len(names)} class names for class index {n - 1}")
    counts = [[0] * n for _ in range(n)]
    for t, p in zip(truth, preds_l):
        counts[t][p] += 1
    rows = [[names[i], names[j], counts[i][j]] for i in range(n) for j in range(n)]
    return Plot("confusion_matrix", Table(columns=["Actual", "Predicted", "nPredictions"], data=rows),
                {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
                title or "Confusion Matrix")


def _class_scores(y_true: Any, y_probas: Any) -> tuple[list[Any], list[list[float]]]:
    truth = _list(y_true)
    probas = [_list(r) if hasattr(r, "__len__") or hasattr(r, "tolist") else [1.0 - float(r), float(r)]
              for r in _list(y_probas)]
    if len(truth) != len(probas):
        raise ValueError(f"{len(truth)} labels for {len(probas)} rows of probabilities")
    return truth, probas


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_CURVE_POINTS:
        return points
    stride = (len(points) - 1) / (MAX_CURVE_POINTS - 1)
    return [points[round(i * stride)] for i in range(MAX_CURVE_POINTS)]


def _sweep(scores: list[float], positive: list[bool]) -> list[tuple[int, int]]:
    """``(true positives, false positives)`` after each distinct threshold, highest first."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    out = []
    tp = fp = 0
    for n, i in enumerate(order):
        if positive[i]:
            tp += 1
        else:
            fp += 1
        if n + 1 == len(order) or scores[order[n + 1]] != scores[i]:
            out.append((tp, fp))
    return out


def _curve(kind: str, y_true: Any, y_probas: Any, labels: Sequence[str] | None, classes_to_plot: Any,
           title: str | None) -> Plot:
    truth, probas = _class_scores(y_true, y_probas)
    n_classes = len(probas[0]) if probas else 0
    classes = list(range(n_classes)) if classes_to_plot is None else [int(c) for c in _list(classes_to_plot)]
    rows: list[list[Any]] = []
    for c in classes:
        name = str(labels[c]) if labels is not None and c < len(labels) else str(c)
        positive = [t == c or t == name for t in truth]
        pos = sum(positive)
        neg = len(positive) - pos
        steps = _sweep([float(p[c]) for p in probas], positive)
        if kind == "roc":
            pts = [(0.0, 0.0)] + [(fp / neg if neg else 0.0, tp / pos if pos else 0.0) for tp, fp in steps]
        else:
            pts = [(0.0, 1.0)] + [(tp / pos if pos else 0.0, tp / (tp + fp)) for tp, fp in steps]
        rows += [[name, round(a, 6), round(b, 6)] for a, b in _thin(pts)]
    cols = ["class", "fpr", "tpr"] if kind == "roc" else ["class", "recall", "precision"]
    return Plot("roc_curve" if kind == "roc" else "pr_curve", Table(columns=cols, data=rows),
                {"x": cols[1], "y": cols[2], "class": "class"},
                title or ("ROC" if kind == "roc" else "Precision v. Recall"))


@_never_raises
def roc_curve(y_true: Any, y_probas: Any, labels: Sequence[str] | None = None, classes_to_plot: Any = None,
              title: str | None = None, split_table: bool = False) -> Plot:
    """One ROC curve per class (``y_probas``: N x classes), false vs true positive rate."""
    return _curve("roc", y_true, y_probas, labels, classes_to_plot, title)


@_never_raises
def pr_curve(y_true: Any, y_probas: Any, labels: Sequence[str] | None = None, classes_to_plot: Any = None,
             interp_size: int = 21, title: str | None = None, split_table: bool = False) -> Plot:
    """One precision-recall curve per class (``y_probas``: N x classes)."""
    return _curve("pr", y_true, y_probas, labels, classes_to_plot, title)
