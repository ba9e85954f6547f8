"""scikit-learn's estimator checks on every public estimator, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknotes import MLPRegressorFromNotes

ESTIMATORS = [
    MLPRegressorFromNotes(),
    MLPRegressorFromNotes(solver="sgd"),
    MLPRegressorFromNotes(solver="lbfgs"),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
