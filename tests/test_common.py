"""scikit-learn's estimator checks on every public estimator, no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknotes import (
    EmbeddingBagClassifier,
    EmbeddingBagRegressor,
    MLPClassifierFromNotes,
    MLPRegressorFromNotes,
)

ESTIMATORS = [
    MLPRegressorFromNotes(),
    MLPRegressorFromNotes(solver="sgd"),
    MLPRegressorFromNotes(solver="lbfgs"),
    MLPClassifierFromNotes(),
    MLPClassifierFromNotes(solver="sgd"),
    MLPClassifierFromNotes(solver="lbfgs"),
    # Numeric X is a bag matrix: 'concat' needs token positions, so it is tested
    # in tests/test_embedding_bag.py instead.
    EmbeddingBagRegressor(),
    # Unnormalised sums with the linear path amplify rounding differences between
    # weights and repetitions (1e-9 on predictions near 0) past the weight-
    # equivalence check's tolerance: the linear path is covered by the others.
    EmbeddingBagRegressor(pooling="sum", linear_path=False),
    EmbeddingBagRegressor(pooling="mean", hidden_layer_sizes=(8,)),
    # IDF on a bag matrix's values (issue 10), with the default sublinear weighting
    # and sqrtn pooling (once: they are the defaults).
    EmbeddingBagRegressor(idf=True),
    EmbeddingBagClassifier(),
    EmbeddingBagClassifier(pooling="sum", hidden_layer_sizes=(8,)),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
