"""The fit/predict plumbing every sknotes estimator shares (sknotes/_base.py)."""

import os
import re

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


# -- pinned by mutation testing (benchmarks/mutation.py _base) ---------------------


def test_fitted_copy_holds_the_public_fitted_attributes():
    X, y = _regression()
    est = MLPRegressorFromNotes(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    fitted = est.fit(X, y)._fitted_copy()
    for name in ("coefs_", "intercepts_", "n_features_in_", "loss_curve_", "n_iter_"):
        assert name in fitted, name
    np.testing.assert_array_equal(fitted["coefs_"][0], est.coefs_[0])
    assert fitted["coefs_"][0] is not est.coefs_[0]


def test_warm_start_with_other_parameters_says_to_refit_in_full():
    X, y = _regression()
    est = MLPRegressorFromNotes(
        hidden_layer_sizes=(4,), warm_start=True, max_iter=2, random_state=0
    ).fit(X, y)
    est.set_params(hidden_layer_sizes=(5,))
    message = (
        "hidden_layer_sizes changed from [4] to [5] since the last fit; refit "
        "with warm_start=False."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        est.fit(X, y)


def test_sgd_learning_rate_schedule_reaches_the_optimizer():
    X, y = _regression()
    params = dict(
        hidden_layer_sizes=(3,), solver="sgd", max_iter=5, random_state=0, tol=0
    )
    constant = MLPRegressorFromNotes(**params).fit(X, y)
    invscaling = MLPRegressorFromNotes(learning_rate="invscaling", **params).fit(X, y)
    assert not np.array_equal(constant.coefs_[0], invscaling.coefs_[0])


def test_lbfgs_ignores_early_stopping_when_its_loss_is_not_finite():
    # lbfgs restores no best epoch: a non-finite loss is refused even with
    # early_stopping=True.
    X, y = _regression()
    est = MLPRegressorFromNotes(
        hidden_layer_sizes=(3,), solver="lbfgs", early_stopping=True, max_iter=3
    ).fit(X, y)
    est.loss_ = np.inf
    with pytest.raises(ValueError, match="The training loss is not finite"):
        est._check_finite(None)


def test_poisson_refuses_negative_targets_in_scikit_learns_words():
    X, y = _regression()
    message = "Some value(s) of y are negative which is not allowed for loss='poisson'."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        MLPRegressorFromNotes(loss="poisson", max_iter=2).fit(X, y)


def test_memory_check_accepts_exactly_the_machines_memory(monkeypatch):
    from sknotes import _base

    sizes = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 2}
    monkeypatch.setattr(_base.os, "sysconf", sizes.__getitem__)
    _base.check_fits_in_memory(1024, np.float64, "it", "less")  # 8192 bytes
    with pytest.raises(ValueError, match="it needs 0.0 GiB"):
        _base.check_fits_in_memory(1025, np.float64, "it", "less")


def test_sample_weight_takes_the_models_dtype():
    X, y = _regression()
    weight = np.linspace(0.5, 2.0, len(y)) / 3
    params = dict(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
    X32 = X.astype(np.float32)
    as_64 = MLPRegressorFromNotes(**params).fit(X32, y, sample_weight=weight)
    as_32 = MLPRegressorFromNotes(**params).fit(
        X32, y, sample_weight=weight.astype(np.float32)
    )
    np.testing.assert_array_equal(as_64.coefs_[0], as_32.coefs_[0])
    assert as_64.loss_ == as_32.loss_
