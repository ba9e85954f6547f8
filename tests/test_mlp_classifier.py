"""MLPClassifierFromNotes against scikit-learn's MLPClassifier, and its own contract."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPClassifier
from sklearn.utils import check_random_state

from sknotes import MLPClassifierFromNotes

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(kind, n=300, seed=0):
    """Noisy linear logits: no class is separable, so the minimiser is unique."""
    rng = np.random.RandomState(seed)
    k = 2 if kind == "binary" else 3
    X = rng.standard_normal((n, 3))
    S = X @ rng.standard_normal((3, k)) + 1.5 * rng.standard_normal((n, k))
    if kind == "multilabel":
        return X, (S > 0).astype(int)
    return X, S.argmax(axis=1)


KINDS = ["binary", "multiclass", "multilabel"]


# Same start (the weights are drawn in scikit-learn's order from the same
# random_state), same loss, same alpha: L-BFGS follows the same path.  Measured
# differences are ≤ 1e-11 in probability (summation order only); 1e-8 keeps three
# orders of margin.  With alpha=1e-4 a tanh network's loss is non-convex and its
# flat directions amplify rounding into another local minimum after hundreds of
# iterations, so that case uses identity hidden units (a linear model in function
# space, one minimiser); alpha=1 makes the tanh problem well conditioned.
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("alpha, activation", [(1e-4, "identity"), (1.0, "tanh")])
def test_lbfgs_reaches_scikit_learns_minimiser(kind, alpha, activation):
    X, y = _data(kind)
    params = dict(
        solver="lbfgs",
        hidden_layer_sizes=(3,),
        activation=activation,
        alpha=alpha,
        random_state=0,
        tol=1e-10,
        max_iter=20000,
        max_fun=100000,
    )
    ours = MLPClassifierFromNotes(**params).fit(X, y)
    theirs = MLPClassifier(**params).fit(X, y)
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), atol=1e-8
    )
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-9)
    assert ours.out_activation_ == theirs.out_activation_
    assert ours.n_outputs_ == theirs.n_outputs_
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_stochastic_solvers_follow_scikit_learns_trajectory(kind, solver):
    X, y = _data(kind, n=120)
    params = dict(hidden_layer_sizes=(4,), solver=solver, max_iter=15, random_state=0)
    ours = MLPClassifierFromNotes(**params).fit(X, y)
    theirs = MLPClassifier(**params).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), atol=1e-12
    )


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_early_stopping_draws_scikit_learns_split_and_scores_accuracy(kind):
    X, y = _data(kind, n=200)
    params = dict(
        hidden_layer_sizes=(4,), early_stopping=True, max_iter=30, random_state=3
    )
    ours = MLPClassifierFromNotes(**params).fit(X, y)
    theirs = MLPClassifier(**params).fit(X, y)
    # Accuracies are multiples of 1/20: equal lists mean the same rows held out.
    assert ours.validation_scores_ == theirs.validation_scores_
    assert ours.best_validation_score_ == theirs.best_validation_score_
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), atol=1e-12
    )


def test_binary_early_stopping_split_is_stratified():
    y = (np.arange(200) < 20).astype(int)  # 10 % positives
    est = MLPClassifierFromNotes(
        hidden_layer_sizes=(2,), early_stopping=True, validation_fraction=0.2
    )
    rng = check_random_state(0)
    Y = np.asarray(y, dtype=float)[:, None]
    train, val = est._validation_splitter(Y, 0.2, rng)
    assert y[val].sum() == 4 and y[train].sum() == 16


def test_string_labels_and_probabilities():
    X, y = _data("multiclass")
    labels = np.array(["cat", "dog", "eel"])[y]
    est = MLPClassifierFromNotes(hidden_layer_sizes=(5,), max_iter=50, random_state=0)
    est.fit(X, labels)
    np.testing.assert_array_equal(est.classes_, ["cat", "dog", "eel"])
    assert set(est.predict(X)) <= set(est.classes_)
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(est.predict(X), est.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba))


def test_binary_probabilities_are_one_minus_p_and_p():
    X, y = _data("binary")
    est = MLPClassifierFromNotes(solver="lbfgs", random_state=0).fit(X, y == 1)
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(est.predict(X), proba[:, 1] > 0.5)
    assert est.n_outputs_ == 1 and est.out_activation_ == "logistic"


def test_multilabel_probabilities_are_per_label():
    X, Y = _data("multilabel")
    est = MLPClassifierFromNotes(solver="lbfgs", random_state=0).fit(X, Y)
    proba = est.predict_proba(X)
    assert proba.shape == Y.shape and est.out_activation_ == "logistic"
    np.testing.assert_array_equal(est.predict(X), (proba > 0.5).astype(int))
    assert np.abs(proba.sum(axis=1) - 1).max() > 0.1  # not a softmax


def test_partial_fit_needs_classes_first_and_then_keeps_them():
    X, y = _data("multiclass")
    est = MLPClassifierFromNotes(hidden_layer_sizes=(3,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X, y)
    assert not hasattr(est, "classes_")
    # The first chunk lacks class 2; classes= declares it.
    est.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    assert est.predict_proba(X).shape == (len(X), 3)
    est.partial_fit(X, y)
    with pytest.raises(ValueError, match="not the same as on last call"):
        est.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="classes not in"):
        est.partial_fit(X, y + 5)


def test_a_failed_first_partial_fit_sets_no_classes():
    X, y = _data("binary")
    est = MLPClassifierFromNotes()
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.partial_fit(X_bad, y, classes=[0, 1])
    assert not hasattr(est, "classes_")
    with pytest.raises(NotFittedError):
        est.predict(X)


def test_integer_sample_weight_equals_repeated_rows():
    X, y = _data("multiclass", n=60)
    weight = np.random.RandomState(1).randint(0, 3, len(y))
    params = dict(solver="lbfgs", hidden_layer_sizes=(3,), alpha=1.0, random_state=0)
    weighted = MLPClassifierFromNotes(**params, tol=1e-12).fit(
        X, y, sample_weight=weight
    )
    repeated = MLPClassifierFromNotes(**params, tol=1e-12).fit(
        np.repeat(X, weight, axis=0), np.repeat(y, weight)
    )
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-6
    )


def test_float32_end_to_end():
    X, y = _data("multiclass")
    est = MLPClassifierFromNotes(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    est.fit(X.astype(np.float32), y)
    assert all(W.dtype == np.float32 for W in est.coefs_ + est.intercepts_)
    assert est.predict_proba(X.astype(np.float32)).dtype == np.float32
    est.partial_fit(X, y)  # float64 chunks train the float32 model
    assert est.coefs_[0].dtype == np.float32


def test_sparse_input_equals_dense():
    X, y = _data("multiclass")
    X[X < 0.3] = 0
    params = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    dense = MLPClassifierFromNotes(**params).fit(X, y)
    sparse = MLPClassifierFromNotes(**params).fit(sp.csr_array(X), y)
    np.testing.assert_allclose(
        dense.predict_proba(X), sparse.predict_proba(sp.csr_array(X)), rtol=1e-10
    )


def test_warm_start_keeps_the_optimizer():
    X, y = _data("multiclass")
    params = dict(hidden_layer_sizes=(4,), random_state=0)
    once = MLPClassifierFromNotes(max_iter=6, **params).fit(X, y)
    warm = MLPClassifierFromNotes(max_iter=1, warm_start=True, **params)
    for _ in range(6):
        warm.fit(X, y)
    np.testing.assert_array_equal(warm.coefs_[0], once.coefs_[0])
    np.testing.assert_array_equal(warm.loss_curve_, once.loss_curve_)
    with pytest.raises(ValueError, match="warm_start can only be used"):
        warm.fit(X[y < 2], y[y < 2])


def test_extreme_logits_give_finite_probabilities_without_warnings():
    X, y = _data("binary")
    est = MLPClassifierFromNotes(solver="lbfgs", random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = est.predict_proba(X * 1e6)
        log_proba = est.predict_log_proba(X * 1e6)
    assert np.isfinite(proba).all() and np.isfinite(log_proba).all()
    assert ((proba > 0) & (proba < 1)).all()


def test_clone_and_unfitted_errors():
    est = MLPClassifierFromNotes(hidden_layer_sizes=(2,))
    assert clone(est).get_params() == est.get_params()
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(NotFittedError):
            getattr(est, method)(np.zeros((2, 3)))
    with pytest.raises(AttributeError, match="partial_fit"):
        MLPClassifierFromNotes(solver="lbfgs").partial_fit  # noqa: B018


def test_loss_curve_display_shows_the_training_and_validation_log_loss():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from sknotes import LossCurveDisplay

    X, y = _data("multiclass")
    est = MLPClassifierFromNotes(
        hidden_layer_sizes=(4,), early_stopping=True, max_iter=8, random_state=0
    ).fit(X, y)
    display = LossCurveDisplay.from_estimator(est)
    np.testing.assert_array_equal(display.loss_curve, est.loss_curve_)
    np.testing.assert_array_equal(
        display.validation_loss_curve, est.validation_loss_curve_
    )


@pytest.mark.parametrize(
    "y, fitted_on",
    [
        (np.array([1, 0, 0, 1, 1]), None),
        (np.array([2, 0, 1, 2, 4]), None),
        (np.array(["dog", "cat", "eel", "cat"]), None),
        (np.array([3.0, -1.0, 3.0, 7.0]), None),
        (np.array(["b", "a"] * 3, dtype=object), None),
        # Fewer labels than the fitted classes (partial_fit, warm start).
        (np.array([0, 0, 2]), [0, 1, 2]),
        (np.array([1, 1]), [0, 1]),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binarize_equals_the_label_binarizers_transform(y, fitted_on, dtype):
    from sklearn.preprocessing import LabelBinarizer

    from sknotes._base import _binarize

    binarizer = LabelBinarizer().fit(y if fitted_on is None else fitted_on)
    Y = _binarize(binarizer, y, dtype)
    expected = binarizer.transform(y).astype(dtype)
    assert Y.dtype == expected.dtype and Y.shape == expected.shape
    np.testing.assert_array_equal(Y, expected)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64])
@pytest.mark.parametrize(
    "labels", [[3], [0, 1], [7, 2], [0, 1, 2], [9, 2, 5, 2, 40, 7]]
)
def test_fit_label_binarizer_equals_label_binarizer_fit(labels, dtype):
    """The integer labels' shortcut sets what LabelBinarizer.fit sets: the same
    attributes, classes_ in the same dtype, the same y_type_ (one class and two
    are 'binary'), the same transform."""
    from sklearn.preprocessing import LabelBinarizer

    from sknotes._base import _fit_label_binarizer

    y = np.array(labels * 3, dtype=dtype)
    ours, theirs = _fit_label_binarizer(y), LabelBinarizer().fit(y)
    assert vars(ours).keys() == vars(theirs).keys()
    for name, value in vars(theirs).items():
        if isinstance(value, np.ndarray):
            assert vars(ours)[name].dtype == value.dtype
            np.testing.assert_array_equal(vars(ours)[name], value)
        else:
            assert vars(ours)[name] == value
    np.testing.assert_array_equal(ours.transform(y), theirs.transform(y))


@pytest.mark.parametrize(
    "y",
    [np.array(["b", "a", "c"]), np.array([1.0, 2.0, 1.0]), np.array([True, False])],
)
def test_other_labels_take_label_binarizer_fit(y, monkeypatch):
    from sklearn.preprocessing import LabelBinarizer

    from sknotes import _base

    fitted = []
    monkeypatch.setattr(
        _base.LabelBinarizer, "fit", lambda self, y: fitted.append(y) or self
    )
    assert isinstance(_base._fit_label_binarizer(y), LabelBinarizer)
    assert len(fitted) == 1 and fitted[0] is y


def test_same_parameters_and_defaults_as_scikit_learn():
    assert MLPClassifierFromNotes().get_params() == MLPClassifier().get_params()
