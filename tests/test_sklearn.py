"""fastprop.sklearn's estimators against scikit-learn's MLPs (the reference for their
semantics): the same steps, the same labels, the same fitted attributes."""
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn import neural_network as sknn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


def params_of(est):
    return est.coefs_ + est.intercepts_


def max_diff(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(params_of(a), params_of(b)))


SGD = dict(hidden_layer_sizes=(5, 4), solver="sgd", momentum=0.0, shuffle=False, max_iter=6,
           random_state=3, batch_size=32, learning_rate_init=0.1, tol=0.0, activation="tanh")


@pytest.mark.parametrize("alpha", [0.0, 0.01])
@pytest.mark.parametrize("target", ["multiclass", "binary", "multilabel"])
def test_classifier_sgd_follows_sklearn_trajectory(iris, alpha, target):
    X, y = iris
    y = {"multiclass": y, "binary": y == 1,
         "multilabel": np.c_[y == 1, X[:, 0] > 0, y == 2].astype(int)}[target]
    kw = dict(SGD, alpha=alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref, ours = sknn.MLPClassifier(**kw).fit(X, y), MLPClassifier(**kw).fit(X, y)
    assert max_diff(ref, ours) < 1e-10
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    assert ours.out_activation_ == ref.out_activation_
    assert ours.n_iter_ == ref.n_iter_ and ours.t_ == ref.t_


@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "adaptive"])
def test_regressor_sgd_follows_sklearn_trajectory(learning_rate):
    X, y = make_regression(n_samples=120, n_features=5, noise=1.0, random_state=0)
    y = y / y.std()
    kw = dict(SGD, alpha=0.001, learning_rate=learning_rate, learning_rate_init=0.05,
              max_iter=20, tol=1e-3, n_iter_no_change=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref, ours = sknn.MLPRegressor(**kw).fit(X, y), MLPRegressor(**kw).fit(X, y)
    assert max_diff(ref, ours) < 1e-10
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    assert ours.n_iter_ == ref.n_iter_


def test_sgd_momentum_nesterov_follows_sklearn(iris):
    X, y = iris
    kw = dict(SGD, momentum=0.9, nesterovs_momentum=True, alpha=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref, ours = sknn.MLPClassifier(**kw).fit(X, y), MLPClassifier(**kw).fit(X, y)
    assert max_diff(ref, ours) < 1e-10


def test_partial_fit_follows_sklearn(iris):
    X, y = iris
    ref, ours = sknn.MLPClassifier(**SGD), MLPClassifier(**SGD)
    for _ in range(3):
        ref.partial_fit(X, y, classes=[0, 1, 2])
        ours.partial_fit(X, y, classes=[0, 1, 2])
    assert max_diff(ref, ours) < 1e-10
    assert ours.t_ == ref.t_ == 3 * len(X)


def test_partial_fit_continues_like_fit(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(6,), random_state=0, max_iter=4, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole = MLPClassifier(**kw).fit(X, y)
    parts = MLPClassifier(**kw)
    for _ in range(4):
        parts.partial_fit(X, y, classes=np.unique(y))
    assert max_diff(whole, parts) == 0
    assert parts.loss_curve_ == whole.loss_curve_


def test_partial_fit_needs_classes_first(iris):
    X, y = iris
    with pytest.raises(ValueError, match="classes"):
        MLPClassifier().partial_fit(X, y)


def test_warm_start_continues_and_new_fit_restarts(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(6,), random_state=0, max_iter=3, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(warm_start=True, **kw).fit(X, y)
        first = [p.copy() for p in params_of(est)]
        est.fit(X, y)
        assert len(est.loss_curve_) == 6
        assert any(np.abs(a - b).max() > 0 for a, b in zip(first, params_of(est)))
        cold = MLPClassifier(**kw).fit(X, y).fit(X, y)
        assert len(cold.loss_curve_) == 3
        assert max_diff(cold, MLPClassifier(**kw).fit(X, y)) == 0
        with pytest.raises(ValueError, match="same classes"):
            est.fit(X[y < 2], y[y < 2])


@pytest.mark.parametrize("labels", [["setosa", "versicolor", "virginica"], [-1, 5, 7],
                                    [1.0, 2.0, 3.0]])
def test_labels_of_any_type(iris, labels):
    X, y = iris
    y = np.asarray(labels)[y]
    est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=300, learning_rate_init=0.01,
                        random_state=0).fit(X, y)
    pred = est.predict(X)
    assert pred.dtype == y.dtype
    assert list(est.classes_) == sorted(labels)
    assert est.score(X, y) > 0.9
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(est.classes_[proba.argmax(1)], pred)
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba))


def test_bool_labels_binary(iris):
    X, y = iris
    y = y == 0
    est = MLPClassifier(hidden_layer_sizes=(4,), random_state=0, max_iter=200,
                        learning_rate_init=0.01).fit(X, y)
    assert est.predict(X).dtype == bool
    assert est.out_activation_ == "logistic" and est.n_outputs_ == 1
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_array_equal(est.predict(X), proba[:, 1] > 0.5)


def test_fitted_attributes_match_sklearn_shapes(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(7, 5), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref, ours = sknn.MLPClassifier(**kw).fit(X, y), MLPClassifier(**kw).fit(X, y)
    for name in ("n_features_in_", "n_outputs_", "n_layers_", "out_activation_", "n_iter_",
                 "t_"):
        assert getattr(ours, name) == getattr(ref, name), name
    assert [c.shape for c in ours.coefs_] == [c.shape for c in ref.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in ref.intercepts_]
    assert ours.validation_scores_ is None and ours.best_loss_ == min(ours.loss_curve_)
    # coefs_ are views of the network: what predict uses
    ours.coefs_[-1][...] = 0
    ours.intercepts_[-1][...] = [0, 1, 0]
    assert np.all(ours.predict(X) == 1)


def test_early_stopping_attributes(iris):
    X, y = iris
    est = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, random_state=0,
                        learning_rate_init=0.01, max_iter=500).fit(X, y)
    assert est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_ < 500
    assert est.best_validation_score_ == max(est.validation_scores_)
    with pytest.raises(ValueError, match="early_stopping"):
        est.partial_fit(X, y)


def test_convergence_warning_and_tol_stop(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1000, tol=0.5, n_iter_no_change=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    # epoch 1 improves on infinity; epochs 2-5 do not by 0.5: a count of 4 > 3 stops
    assert est.n_iter_ == 5


def test_refused_fit_leaves_fitted_estimator(iris):
    X, y = iris
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    before = [p.copy() for p in params_of(est)]
    state = dict(est.__dict__)
    with pytest.raises(ValueError):
        est.fit(X[:, :3], y)                 # wrong number of features
    est.set_params(alpha=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        est.fit(X, y)
    est.set_params(alpha=0.0, solver="lbfgs")
    with pytest.raises(ValueError, match="lbfgs"):
        est.fit(X, y)
    assert est.__dict__.keys() == state.keys()
    assert all(np.array_equal(a, b) for a, b in zip(before, params_of(est)))
    assert est.n_features_in_ == 4


def test_pickle_clone_and_params(iris):
    X, y = iris
    est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0, dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    assert again.network_.dtype == np.float32
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "coefs_")
    assert c.set_params(**est.get_params()).get_params() == est.get_params()
    sk_names = set(sknn.MLPClassifier().get_params())
    assert sk_names <= set(est.get_params())
    assert {k: v for k, v in est.get_params().items() if k in sk_names and k not in
            ("hidden_layer_sizes", "max_iter", "random_state")} == \
        {k: v for k, v in sknn.MLPClassifier().get_params().items() if k not in
         ("hidden_layer_sizes", "max_iter", "random_state", "solver")} | {"solver": "adam"}


def test_regressor_single_and_multi_output():
    X, y = make_regression(n_samples=200, n_features=4, n_targets=2, noise=0.1, random_state=1)
    y = y / y.std(0)
    est = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=400,
                       random_state=0).fit(X, y)
    assert est.predict(X).shape == (200, 2) and est.score(X, y) > 0.9
    single = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=400,
                          random_state=0).fit(X, y[:, 0])
    assert single.predict(X).shape == (200,) and single.out_activation_ == "identity"


def test_pipeline_grid_search_cross_val(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=200, random_state=0,
                                                         learning_rate_init=0.01))
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (8,)]}, cv=3,
                        n_jobs=2).fit(X, y)
    assert grid.best_score_ > 0.85
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.85


def _names_behaviour(cls, df, X, y, **kw):
    """What an estimator does with feature names: its feature_names_in_, and the error or
    warnings of predict / partial_fit on renamed or reordered columns and on a bare array."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = cls(**kw).fit(df, y)
    seen = {"names": est.feature_names_in_, "dtype": est.feature_names_in_.dtype}
    renamed = df.rename(columns={"a": "z"})
    for what, data in (("renamed", renamed), ("reordered", df[["b", "a", "c", "d"]])):
        with pytest.raises(ValueError) as info:
            est.predict(data)
        seen[what] = str(info.value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.predict(X)
    seen["array"] = [(w.category, str(w.message)) for w in caught]
    # fitted on an array: a DataFrame at predict warns instead
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bare = cls(**kw).fit(X, y)
    assert not hasattr(bare, "feature_names_in_")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bare.predict(df)
    seen["dataframe"] = [(w.category, str(w.message)) for w in caught]
    part = cls(**kw)
    extra = {"classes": np.unique(y)} if hasattr(part, "predict_proba") else {}
    part.partial_fit(df, y, **extra)
    with pytest.raises(ValueError) as info:
        part.partial_fit(renamed, y)
    seen["partial_fit"] = str(info.value)
    return seen


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_feature_names_from_dataframe_as_sklearn(iris, kind):
    pd = pytest.importorskip("pandas")
    X, y = iris
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    ours, ref = ((MLPClassifier, sknn.MLPClassifier) if kind == "classifier"
                 else (MLPRegressor, sknn.MLPRegressor))
    kw = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    got = _names_behaviour(ours, df, X, y.astype(float), **kw)
    want = _names_behaviour(ref, df, X, y.astype(float), **kw)
    np.testing.assert_array_equal(got.pop("names"), ["a", "b", "c", "d"])
    np.testing.assert_array_equal(want.pop("names"), ["a", "b", "c", "d"])
    assert got == want
    assert "Feature names unseen at fit time:\n- z" in got["renamed"]
    assert "same order" in got["reordered"]
    assert got["array"] and "does not have valid feature names" in got["array"][0][1]
    assert got["dataframe"] and "fitted without feature names" in got["dataframe"][0][1]
