"""A grid search with fastprop's scikit-learn estimator on digits: fastprop.sklearn's
MLPClassifier in a Pipeline (StandardScaler first), tuned by GridSearchCV(n_jobs=2) over
hidden sizes, alpha and the initial learning rate, scored on a held-out test set. Replace the
import by `from sklearn.neural_network import MLPClassifier` and nothing else changes.

    python examples/grid_search.py [--n-jobs 2]
"""
import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastprop.sklearn import MLPClassifier


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-jobs", type=int, default=2, help="GridSearchCV's processes")
    args = p.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    pipe = make_pipeline(StandardScaler(),
                         MLPClassifier(max_iter=100, early_stopping=True, random_state=0,
                                       n_threads=1))
    grid = {"mlpclassifier__hidden_layer_sizes": [(64,), (128,)],
            "mlpclassifier__alpha": [1e-4, 1e-2],
            "mlpclassifier__learning_rate_init": [1e-3, 3e-3, 1e-2]}
    search = GridSearchCV(pipe, grid, cv=5, n_jobs=args.n_jobs)
    t0 = time.perf_counter()
    search.fit(X_train, y_train)
    seconds = time.perf_counter() - t0
    print(f"{len(search.cv_results_['params'])} settings x 5 folds in {seconds:.1f} s")
    print(f"best: {search.best_params_}  cv accuracy {search.best_score_:.4f}")
    print(f"test accuracy of the refitted best pipeline: {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
