"""scikit-learn's own estimator checks (parametrize_with_checks) on fastprop.sklearn's
estimators, with the expected failures that fastprop.sklearn.expected_failed_checks names; and
the DataFrame column-name check, which scikit-learn runs on its own estimators beside them
(its test_common), not inside check_estimator."""
import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import (  # noqa: E402
    check_dataframe_column_names_consistency, parametrize_with_checks)

from fastprop.sklearn import MLPClassifier, MLPRegressor, expected_failed_checks  # noqa: E402

# small and quick, yet good enough for the checks' score thresholds
ESTIMATORS = [
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, learning_rate_init=0.01),
    MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, learning_rate_init=0.01),
    # mini-batches: the one expected failure (sample weights against repeated samples)
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, batch_size=8, solver="sgd",
                  learning_rate_init=0.05),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_expected_failures_are_few_and_explained():
    for est in ESTIMATORS:
        failing = expected_failed_checks(est)
        assert len(failing) <= 3
        assert all(isinstance(reason, str) and len(reason) > 40 for reason in failing.values())


@pytest.mark.parametrize("estimator", ESTIMATORS + [
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, early_stopping=True),
    MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, early_stopping=True)], ids=repr)
def test_dataframe_column_names_consistency(estimator):
    pytest.importorskip("pandas")
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)
