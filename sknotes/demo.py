"""The main demo: sknotes beside scikit-learn on data that ships with the install.

Run it with ``python -m sknotes``.  It cross-validates :class:`MLPRegressorFromNotes`
and scikit-learn's ``MLPRegressor`` with the same settings on scikit-learn's bundled
diabetes data and prints R² and fit time for both.
"""

import time
import warnings

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, cross_validate
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknotes import MLPRegressorFromNotes


def _cross_validate(model, X, y, cv):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = cross_validate(model, X, y, cv=cv, scoring="r2")
    return result, time.perf_counter() - start


def tabular_demo():
    """Diabetes (442 patients, 10 features): 5-fold R² of both MLPs."""
    X, y = load_diabetes(return_X_y=True)
    cv = KFold(5, shuffle=True, random_state=0)
    settings = dict(hidden_layer_sizes=(32,), alpha=1.0, max_iter=200, random_state=0)
    rows = []
    for name, model in [
        ("sknotes MLPRegressorFromNotes", MLPRegressorFromNotes(**settings)),
        ("scikit-learn MLPRegressor", MLPRegressor(**settings)),
    ]:
        # Scaled inputs and a standardised target: what a neural network needs.
        pipeline = TransformedTargetRegressor(
            make_pipeline(StandardScaler(), model), transformer=StandardScaler()
        )
        result, seconds = _cross_validate(pipeline, X, y, cv)
        rows.append((name, result["test_score"], seconds))
    print("Diabetes (scikit-learn's bundled data), 5-fold cross-validation")
    print(f"{'model':32s} {'R² mean':>8s} {'± std':>6s} {'seconds':>8s}")
    for name, scores, seconds in rows:
        print(f"{name:32s} {np.mean(scores):8.3f} {np.std(scores):6.3f} {seconds:8.2f}")
    return rows


def main():
    tabular_demo()


if __name__ == "__main__":
    main()
