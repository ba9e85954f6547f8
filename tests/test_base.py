"""The fit/predict plumbing every sknotes estimator shares (sknotes/_base.py)."""

import os

import numpy as np
import pytest

from sknotes import EmbeddingBagRegressor, MLPClassifierFromNotes, MLPRegressorFromNotes

pytestmark = pytest.mark.usefixtures("quiet_convergence")


def _regression(n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, 3))
    return X, X @ np.array([1.0, -2.0, 0.5])


def test_partial_fit_with_lbfgs_says_why_it_is_missing():
    # scikit-learn's available_if: the reason is the error's cause.
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
        MLPRegressorFromNotes(solver="lbfgs").partial_fit(*_regression())
    assert str(info.value.__cause__) == (
        "partial_fit is only available for stochastic optimizers. "
        "lbfgs is not stochastic."
    )


def test_warm_start_with_other_hidden_sizes_names_both():
    X, y = _regression()
    est = MLPRegressorFromNotes(
        hidden_layer_sizes=(4, 3), warm_start=True, max_iter=2, random_state=0
    ).fit(X, y)
    est.set_params(hidden_layer_sizes=(5,))
    with pytest.raises(
        ValueError, match=r"hidden_layer_sizes changed from \[4, 3\] to \[5\]"
    ):
        est.fit(X, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_refuses_an_input_that_overflows_the_network(dtype, strict):
    X, y = _regression()
    est = MLPRegressorFromNotes(
        hidden_layer_sizes=(3,), activation="identity", max_iter=5, random_state=0
    ).fit(X.astype(dtype), y)
    # Each input finite and pushing the (linear) output the same way: it overflows.
    direction = np.sign(est.coefs_[0] @ est.coefs_[1]).ravel()
    huge = (np.finfo(dtype).max * direction)[None, :].astype(dtype)
    with pytest.raises(
        ValueError,
        match="not finite for this input: its values are too large for the fitted "
        "model; scale the data as for training.",
    ):
        est.predict(huge)


def test_fit_after_partial_fit_takes_its_classes_from_y():
    # partial_fit's classes= declares classes for its own calls only.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((30, 2))
    y = np.arange(30) % 2
    est = MLPClassifierFromNotes(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
    est.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    est.fit(X, y)
    np.testing.assert_array_equal(est.classes_, [0, 1])
    assert est.predict_proba(X).shape == (30, 2)


def test_concat_pooling_predicts_through_its_positions():
    docs = [["a", "b"], ["b", "a"], ["a", "a"], ["b", "b"]]
    # The target depends on the order of the tokens: only positions tell it.
    y = np.array([1.0, -1.0, 0.0, 0.0])
    est = EmbeddingBagRegressor(
        pooling="concat",
        embedding_dim=2,
        hidden_layer_sizes=(8,),
        early_stopping=False,
        max_iter=200,
        learning_rate_init=0.05,
        random_state=0,
    ).fit(docs, y)
    assert est.max_length_ == 2
    assert est.score(docs, y) > 0.9


def test_memory_check_counts_the_dtypes_bytes():
    from sknotes._base import check_fits_in_memory

    available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    n_values = available // 6  # 4/6 of the memory in float32, 8/6 in float64
    check_fits_in_memory(n_values, np.float32, "A table", "lower it")
    with pytest.raises(ValueError, match=r"A table needs .* GiB .*; lower it\."):
        check_fits_in_memory(n_values, np.float64, "A table", "lower it")


def test_warm_start_continues_from_parameters_set_before_any_fit():
    # scikit-learn's own tests set coefs_ and intercepts_ on an unfitted model.
    X, y = _regression()
    rng = np.random.RandomState(1)
    coefs = [rng.standard_normal((3, 2)), rng.standard_normal((2, 1))]
    intercepts = [rng.standard_normal(2), rng.standard_normal(1)]
    est = MLPRegressorFromNotes(
        hidden_layer_sizes=(2,),
        solver="sgd",
        learning_rate_init=1e-12,
        warm_start=True,
        max_iter=1,
    )
    est.coefs_, est.intercepts_ = coefs, intercepts
    est.fit(X, y)
    fitted = est.coefs_ + est.intercepts_
    for ours, theirs in zip(fitted, coefs + intercepts, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-9)
    wrong = MLPRegressorFromNotes(hidden_layer_sizes=(4,), warm_start=True)
    wrong.coefs_, wrong.intercepts_ = coefs, intercepts
    with pytest.raises(ValueError, match="do not fit this data and hidden_layer"):
        wrong.fit(X, y)
