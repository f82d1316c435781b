"""``tracker.sklearn`` (issue 10): wandb's scikit-learn charts logged as ``tracker.plot`` charts.
The charts computed in plain Python are tested without scikit-learn; a real classifier and the
learning curve need it (skipped with a reason otherwise)."""

from __future__ import annotations

import pytest

import tracker


def _media(store, rid):
    return {m.key: m for m in tracker.Api(store).run(rid).media()}


def test_confusion_roc_pr_and_importances_without_a_model_library(tmp_path):
    run = tracker.init(project="sk", dir=tmp_path, capture_git=False)
    y_true = ["cat", "dog", "dog", "cat", "bird"]
    y_pred = ["cat", "dog", "cat", "cat", "dog"]
    tracker.sklearn.plot_confusion_matrix(y_true, y_pred)
    tracker.sklearn.plot_confusion_matrix([0, 1, 1, 0], [0, 1, 0, 0], labels=["neg", "pos"], normalize=True)
    probas = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]]
    tracker.sklearn.plot_roc([0, 1, 1, 0], probas, labels=["neg", "pos"])
    tracker.sklearn.plot_precision_recall([0, 1, 1, 0], probas, labels=["neg", "pos"])

    class Forest:  # anything with feature_importances_, like a fitted tree ensemble
        feature_importances_ = [0.1, 0.6, 0.3]

    tracker.sklearn.plot_feature_importances(Forest(), ["a", "b", "c"], max_num_features=2)
    run.finish()
    api_run = tracker.Api(tmp_path).run(run.id)
    cms = api_run.media(key="confusion_matrix")
    assert [m.step for m in cms] == [0, 1]
    counts = {(a, p): n for a, p, n in cms[0].data["table"]["data"]}
    assert counts[("cat", "cat")] == 2 and counts[("dog", "cat")] == 1 and counts[("bird", "dog")] == 1
    assert sum(counts.values()) == 5
    norm = {(a, p): n for a, p, n in cms[1].data["table"]["data"]}
    assert norm[("pos", "pos")] == 0.5 and norm[("neg", "neg")] == 1.0
    m = _media(tmp_path, run.id)
    assert m["roc"].data["type"] == "roc_curve" and {r[0] for r in m["roc"].data["table"]["data"]} == {"neg", "pos"}
    assert m["precision_recall"].data["type"] == "pr_curve"
    assert m["feature_importances"].data["table"]["data"] == [["b", 0.6], ["c", 0.3]]


def test_bad_input_is_a_warning_naming_the_key_not_an_exception(tmp_path):
    run = tracker.init(project="sk", dir=tmp_path, capture_git=False)
    with pytest.warns(Warning, match="feature_importances"):
        tracker.sklearn.plot_feature_importances(object())
    with pytest.warns(Warning, match="confusion_matrix"):
        tracker.sklearn.plot_confusion_matrix([0, 1], [0])
    run.finish()
    assert tracker.Api(tmp_path).run(run.id).media() == []


def test_without_a_run_the_chart_is_returned_with_a_warning():
    assert tracker.run is None
    with pytest.warns(Warning, match="no active run"):
        chart = tracker.sklearn.plot_confusion_matrix([0, 1], [1, 1])
    assert chart.type == "confusion_matrix"


def test_plot_classifier_with_a_real_model(tmp_path):
    pytest.importorskip("sklearn", reason="needs scikit-learn (pip install scikit-learn)")
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score
    from sklearn.metrics import confusion_matrix as sk_cm

    X, y = make_classification(n_samples=120, n_features=5, n_informative=3, n_classes=3, random_state=0)
    Xtr, Xte, ytr, yte = X[:80], X[80:], y[:80], y[80:]
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(Xtr, ytr)
    pred, probas = model.predict(Xte), model.predict_proba(Xte)
    names = ["a", "b", "c"]
    run = tracker.init(project="sk", dir=tmp_path, capture_git=False)
    tracker.sklearn.plot_classifier(model, Xtr, Xte, ytr, yte, pred, probas, names,
                                    feature_names=[f"f{i}" for i in range(5)], log_learning_curve=True)
    run.finish()
    m = _media(tmp_path, run.id)
    assert set(m) == {"confusion_matrix", "roc", "precision_recall", "class_proportions", "feature_importances",
                      "summary_metrics", "learning_curve"}
    assert {x.step for x in m.values()} == {0}  # one step, like wandb's single log call
    cm = {(a, p): n for a, p, n in m["confusion_matrix"].data["table"]["data"]}
    expected = sk_cm(yte, pred, labels=[0, 1, 2])
    assert all(cm[(names[i], names[j])] == expected[i][j] for i in range(3) for j in range(3))
    summary = dict(m["summary_metrics"].data["table"]["data"])
    assert summary["accuracy"] == pytest.approx(accuracy_score(yte, model.predict(Xte)))
    imp = m["feature_importances"].data["table"]["data"]
    assert [v for _, v in imp] == sorted(model.feature_importances_.tolist(), reverse=True)
    lc = m["learning_curve"].data
    assert lc["type"] == "line_series" and {r[0] for r in lc["table"]["data"]} == {"train", "test"}
    props = {(c, s): n for c, s, n in m["class_proportions"].data["table"]["data"]}
    assert sum(n for (c, s), n in props.items() if s == "train") == 80


def test_learning_curve_and_coef_importances_of_a_linear_model(tmp_path):
    pytest.importorskip("sklearn", reason="needs scikit-learn (pip install scikit-learn)")
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=60, n_features=4, random_state=1)
    model = LogisticRegression().fit(X, y)
    run = tracker.init(project="sk", dir=tmp_path, capture_git=False)
    tracker.sklearn.plot_learning_curve(LogisticRegression(), X, y, cv=3, train_sizes=[0.5, 1.0])
    tracker.sklearn.plot_feature_importances(model)
    run.finish()
    m = _media(tmp_path, run.id)
    rows = m["learning_curve"].data["table"]["data"]
    assert len(rows) == 4 and sorted({r[2] for r in rows}) == [20, 40]  # 2 sizes of the 40-sample folds
    coef = [abs(v) for v in model.coef_[0].tolist()]
    assert [v for _, v in m["feature_importances"].data["table"]["data"]] == pytest.approx(sorted(coef, reverse=True))
