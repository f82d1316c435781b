"""``tracker.sklearn``: wandb's scikit-learn charts, built on :mod:`tracker.plot` and logged to
the current run under wandb's keys (``confusion_matrix``, ``roc``, ``precision_recall``,
``feature_importances``, ``learning_curve``, ``summary_metrics``, ``class_proportions``).

    tracker.sklearn.plot_classifier(model, X_train, X_test, y_train, y_test, y_pred, y_probas, labels)

scikit-learn is optional: the confusion matrix, ROC, precision-recall, feature importances and
class proportions are computed in plain Python; ``plot_learning_curve`` (and the summary
metrics of ``plot_classifier``) need it and are skipped with one warning without it. Each
function also returns the chart it logged (without a run it only returns it, with a warning).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import _state, plot
from ._media_table import Table
from ._values import warn_once

__all__ = ["plot_classifier", "plot_confusion_matrix", "plot_feature_importances", "plot_learning_curve",
           "plot_precision_recall", "plot_roc", "plot_summary_metrics", "plot_class_proportions"]


def _list(v: Any) -> list[Any]:
    return plot._list(v)


def _log(charts: dict[str, Any]) -> None:
    run = _state.current
    if run is None:
        warn_once("sklearn-no-run", "tracker.sklearn: no active run (call tracker.init() first); the chart is "
                  "returned, not logged")
        return
    try:
        run.log(charts)
    except Exception as e:  # never an exception after a long fit for a chart
        warn_once("sklearn-log", f"tracker.sklearn: could not log {', '.join(charts)} ({type(e).__name__}: {e})")


def _has_sklearn() -> bool:
    import importlib.util

    return importlib.util.find_spec("sklearn") is not None


def _class_index(y_true: list[Any], y_pred: list[Any], labels: Sequence[Any] | None) -> tuple[list[str], dict[Any, int]]:
    """Class names and value -> index: integer classes index ``labels`` (wandb's meaning),
    other values (strings) are classes by their sorted distinct values."""
    values = y_true + y_pred
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        n = max([*values, len(labels or []) - 1]) + 1 if values else len(labels or [])
        names = [str(labels[i]) if labels is not None and i < len(labels) else str(i) for i in range(n)]
        return names, {i: i for i in range(n)}
    classes = sorted({str(v) for v in values})
    return classes, {c: i for i, c in enumerate(classes)}


@plot._never_raises
def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None, normalize: bool = False,
                     title: str | None = None) -> plot.Plot:
    """The chart of :func:`plot_confusion_matrix`, not logged."""
    truth, preds = _list(y_true), _list(y_pred)
    if len(truth) != len(preds):
        raise ValueError(f"{len(truth)} labels for {len(preds)} predictions")
    names, index = _class_index(truth, preds, labels)
    n = len(names)
    counts = [[0] * n for _ in range(n)]
    for t, p in zip(truth, preds):
        counts[index[t if t in index else str(t)]][index[p if p in index else str(p)]] += 1
    cells: list[list[float]] = [list(map(float, r)) for r in counts]
    if normalize:
        cells = [[c / sum(r) if sum(r) else 0.0 for c in r] for r in counts]
    rows = [[names[i], names[j], cells[i][j] if normalize else counts[i][j]] for i in range(n) for j in range(n)]
    return plot.Plot("confusion_matrix", Table(columns=["Actual", "Predicted", "nPredictions"], data=rows),
                     {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
                     title or ("Normalized confusion matrix" if normalize else "Confusion Matrix"))


def plot_confusion_matrix(y_true: Any = None, y_pred: Any = None, labels: Sequence[Any] | None = None,
                          true_labels: Any = None, pred_labels: Any = None, normalize: bool = False) -> plot.Plot:
    """Log ``confusion_matrix``: counts (rows normalized with ``normalize=True``) of actual vs
    predicted class. ``true_labels``/``pred_labels`` are accepted and ignored (all classes shown)."""
    chart = confusion_matrix(y_true, y_pred, labels, normalize)
    _log({"confusion_matrix": chart})
    return chart


def plot_roc(y_true: Any = None, y_probas: Any = None, labels: Sequence[Any] | None = None, plot_micro: bool = True,
             plot_macro: bool = True, classes_to_plot: Any = None) -> plot.Plot:
    """Log ``roc``: one ROC curve per class (``y_probas``: N x classes). ``plot_micro`` and
    ``plot_macro`` are accepted; the averaged curves are not drawn."""
    chart = plot.roc_curve(y_true, y_probas, labels=_names(labels), classes_to_plot=classes_to_plot)
    _log({"roc": chart})
    return chart


def plot_precision_recall(y_true: Any = None, y_probas: Any = None, labels: Sequence[Any] | None = None,
                          plot_micro: bool = True, classes_to_plot: Any = None) -> plot.Plot:
    """Log ``precision_recall``: one precision-recall curve per class."""
    chart = plot.pr_curve(y_true, y_probas, labels=_names(labels), classes_to_plot=classes_to_plot)
    _log({"precision_recall": chart})
    return chart


def _names(labels: Sequence[Any] | None) -> list[str] | None:
    return None if labels is None else [str(x) for x in _list(labels)]


@plot._never_raises
def feature_importances(model: Any = None, feature_names: Sequence[Any] | None = None,
                        title: str = "Feature Importance", max_num_features: int = 50) -> plot.Plot:
    """The chart of :func:`plot_feature_importances`, not logged."""
    if hasattr(model, "feature_importances_"):
        imp = [float(v) for v in _list(model.feature_importances_)]
    elif hasattr(model, "coef_"):
        coef = _list(model.coef_)
        rows = [_list(r) for r in coef] if coef and hasattr(coef[0], "__len__") else [coef]
        imp = [sum(abs(float(r[i])) for r in rows) / len(rows) for i in range(len(rows[0]))]
    else:
        raise ValueError(f"{type(model).__name__} has neither feature_importances_ nor coef_")
    names = [str(n) for n in _list(feature_names)] if feature_names is not None else [str(i) for i in range(len(imp))]
    if len(names) != len(imp):
        raise ValueError(f"{len(names)} feature names for {len(imp)} features")
    order = sorted(range(len(imp)), key=lambda i: -imp[i])[:max(1, int(max_num_features))]
    table = Table(columns=["feature_names", "importance"], data=[[names[i], imp[i]] for i in order])
    return plot.bar(table, "feature_names", "importance", title=title)


def plot_feature_importances(model: Any = None, feature_names: Sequence[Any] | None = None,
                             title: str = "Feature Importance", max_num_features: int = 50) -> plot.Plot:
    """Log ``feature_importances``: a bar per feature, most important first, from the model's
    ``feature_importances_`` (trees) or the mean absolute ``coef_`` (linear models)."""
    chart = feature_importances(model, feature_names, title, max_num_features)
    _log({"feature_importances": chart})
    return chart


@plot._never_raises
def learning_curve(model: Any, X: Any, y: Any, cv: Any = None, shuffle: bool = False, random_state: Any = None,
                   train_sizes: Any = None, n_jobs: int = 1, scoring: Any = None) -> plot.Plot:
    """The chart of :func:`plot_learning_curve`, not logged."""
    from sklearn.model_selection import learning_curve as sk_learning_curve

    kw: dict[str, Any] = {"cv": cv, "shuffle": shuffle, "random_state": random_state, "n_jobs": n_jobs,
                          "scoring": scoring}
    if train_sizes is not None:
        kw["train_sizes"] = train_sizes
    sizes, train, test = sk_learning_curve(model, X, y, **kw)
    means = [[sum(_list(r)) / len(_list(r)) for r in scores] for scores in (train, test)]
    return plot.line_series(_list(sizes), means, keys=["train", "test"], title="Learning Curve",
                            xname="dataset size")


def plot_learning_curve(model: Any = None, X: Any = None, y: Any = None, cv: Any = None, shuffle: bool = False,
                        random_state: Any = None, train_sizes: Any = None, n_jobs: int = 1,
                        scoring: Any = None) -> plot.Plot | None:
    """Log ``learning_curve``: mean train and cross-validation score against the training set
    size (``sklearn.model_selection.learning_curve``; needs scikit-learn)."""
    if not _has_sklearn():
        warn_once("sklearn-missing", "tracker.sklearn.plot_learning_curve needs scikit-learn (pip install "
                  "scikit-learn); nothing logged")
        return None
    chart = learning_curve(model, X, y, cv, shuffle, random_state, train_sizes, n_jobs, scoring)
    _log({"learning_curve": chart})
    return chart


@plot._never_raises
def class_proportions(y_train: Any, y_test: Any, labels: Sequence[Any] | None = None) -> plot.Plot:
    """How many samples of each class in the training and the test set."""
    train, test = _list(y_train), _list(y_test)
    names, index = _class_index(train, test, labels)
    rows = []
    for split, ys in (("train", train), ("test", test)):
        counts = [0] * len(names)
        for v in ys:
            counts[index[v if v in index else str(v)]] += 1
        rows += [[names[i], split, counts[i]] for i in range(len(names))]
    return plot.bar(Table(columns=["class", "dataset", "count"], data=rows), "class", "count",
                    title="Class Proportions")


def plot_class_proportions(y_train: Any = None, y_test: Any = None, labels: Sequence[Any] | None = None) -> plot.Plot:
    """Log ``class_proportions``."""
    chart = class_proportions(y_train, y_test, labels)
    _log({"class_proportions": chart})
    return chart


@plot._never_raises
def summary_metrics(model: Any = None, X: Any = None, y: Any = None, X_test: Any = None, y_test: Any = None) -> plot.Plot:
    """Accuracy, precision, recall and F1 (weighted) of ``model`` on the test set."""
    from sklearn import metrics

    pred = model.predict(X_test)
    rows = [["accuracy", float(metrics.accuracy_score(y_test, pred))]]
    for name, fn in (("precision", metrics.precision_score), ("recall", metrics.recall_score),
                     ("f1", metrics.f1_score)):
        rows.append([name, float(fn(y_test, pred, average="weighted", zero_division=0))])
    return plot.bar(Table(columns=["metric_name", "metric_value"], data=rows), "metric_name", "metric_value",
                    title="Summary Metrics")


def plot_summary_metrics(model: Any = None, X: Any = None, y: Any = None, X_test: Any = None,
                         y_test: Any = None) -> plot.Plot | None:
    """Log ``summary_metrics`` (needs scikit-learn)."""
    if not _has_sklearn():
        warn_once("sklearn-missing", "tracker.sklearn.plot_summary_metrics needs scikit-learn; nothing logged")
        return None
    chart = summary_metrics(model, X, y, X_test, y_test)
    _log({"summary_metrics": chart})
    return chart


def plot_classifier(model: Any, X_train: Any, X_test: Any, y_train: Any, y_test: Any, y_pred: Any, y_probas: Any,
                    labels: Sequence[Any] | None = None, is_binary: bool = False, model_name: str = "Classifier",
                    feature_names: Sequence[Any] | None = None, log_learning_curve: bool = False) -> None:
    """Log every chart of a fitted classifier in one step: ``confusion_matrix``, ``roc``,
    ``precision_recall``, ``class_proportions``, ``feature_importances`` (when the model has
    them), ``summary_metrics`` (with scikit-learn) and ``learning_curve`` (when asked, with
    scikit-learn). ``is_binary`` and ``model_name`` are accepted (the charts do not need them)."""
    names = _names(labels)
    charts: dict[str, Any] = {
        "confusion_matrix": confusion_matrix(y_test, y_pred, labels),
        "roc": plot.roc_curve(y_test, y_probas, labels=names),
        "precision_recall": plot.pr_curve(y_test, y_probas, labels=names),
        "class_proportions": class_proportions(y_train, y_test, labels),
    }
    if hasattr(model, "feature_importances_") or hasattr(model, "coef_"):
        charts["feature_importances"] = feature_importances(model, feature_names)
    if _has_sklearn():
        charts["summary_metrics"] = summary_metrics(model, X_train, y_train, X_test, y_test)
        if log_learning_curve:
            charts["learning_curve"] = learning_curve(model, X_train, y_train)
    elif log_learning_curve:
        warn_once("sklearn-missing", "tracker.sklearn: the learning curve needs scikit-learn; not logged")
    _log(charts)
