"""MLPRegressorFromNotes acts as scikit-learn's MLPRegressor, or better as promised."""

import copy
import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknotes import MLPRegressorFromNotes

pytestmark = pytest.mark.usefixtures("quiet_convergence")


@pytest.mark.requires_sklearn("1.7", reason="MLPRegressor's loss parameter")
def test_same_parameters_as_scikit_learn():
    assert MLPRegressorFromNotes().get_params() == MLPRegressor().get_params()


def test_feature_names_in(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    reg = MLPRegressorFromNotes(max_iter=2, random_state=0).fit(frame, y)
    np.testing.assert_array_equal(reg.feature_names_in_, frame.columns)


def test_adam_trajectory_matches_scikit_learn(data):
    """Same initialisation and shuffles; Adam is invariant to the notes' factor 2."""
    X, y = data
    settings = dict(hidden_layer_sizes=(8,), alpha=0.0, max_iter=5, random_state=0)
    ours = MLPRegressorFromNotes(**settings).fit(X, y)
    theirs = MLPRegressor(**settings).fit(X, y)
    # Only Adam's ε sees the scale of the gradient (with 2ε the paths are identical,
    # test_adam_is_scikit_learns_with_twice_epsilon): our step is m/(√v + ε/2), a
    # relative change ≤ ε/(2√v) of a step ≤ lr = 1e-3.  It is visible only where
    # |g| is near ε; measured 5e-7 after 5 steps, so 1e-5 has a 20x margin while
    # any real difference of method (a step of lr = 1e-3) fails it.
    assert _max_abs_diff(ours, theirs) < 1e-5
    # The notes' MSE is twice scikit-learn's half-MSE.
    np.testing.assert_allclose(
        ours.loss_curve_, 2 * np.array(theirs.loss_curve_), rtol=1e-6
    )


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_loss_is_the_notes_mse(data, solver):
    X, y = data
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(5,), solver=solver, alpha=0.0, max_iter=20, random_state=0
    ).fit(X, y)
    mse = np.mean((reg.predict(X) - y) ** 2)
    if solver == "lbfgs":
        assert reg.loss_ == pytest.approx(mse, rel=1e-6)
    else:
        # Stochastic: loss_ averages the batch losses during the last epoch.
        assert reg.loss_ == pytest.approx(mse, rel=0.2)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_warm_start_equals_one_longer_fit(data, solver):
    X, y = data
    settings = dict(
        hidden_layer_sizes=(6,),
        solver=solver,
        random_state=3,
        learning_rate_init=0.01,
        batch_size=32,
    )
    once = MLPRegressorFromNotes(max_iter=4, **settings).fit(X, y)
    stepwise = MLPRegressorFromNotes(max_iter=1, warm_start=True, **settings)
    for _ in range(4):
        stepwise.fit(X, y)
    for a, b in zip(
        once.coefs_ + once.intercepts_,
        stepwise.coefs_ + stepwise.intercepts_,
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert once.loss_curve_ == stepwise.loss_curve_
    assert stepwise.t_ == once.t_


def test_partial_fit_continues_one_random_stream(data):
    X, y = data
    settings = dict(hidden_layer_sizes=(6,), random_state=0, batch_size=16)
    a = MLPRegressorFromNotes(**settings)
    a.partial_fit(X, y)
    a.partial_fit(X, y)
    b = MLPRegressorFromNotes(**settings)
    b.partial_fit(X, y)
    b.partial_fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    # Two calls equal one fit of two epochs (one stream), not two re-seeded epochs.
    fit2 = MLPRegressorFromNotes(max_iter=2, shuffle=True, tol=0, **settings).fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], fit2.coefs_[0])


def test_partial_fit_availability():
    assert not hasattr(MLPRegressorFromNotes(solver="lbfgs"), "partial_fit")
    # scikit-learn's error for early stopping, before anything changes.
    X, y = np.ones((4, 2)), np.arange(4.0)
    with pytest.raises(ValueError, match="^partial_fit does not support early_stop"):
        MLPRegressorFromNotes(early_stopping=True).partial_fit(X, y)
    fitted = MLPRegressorFromNotes(max_iter=2, random_state=0).fit(X, y)
    before = [c.copy() for c in fitted.coefs_]
    with pytest.raises(ValueError, match="early_stopping=True"):
        fitted.set_params(early_stopping=True).partial_fit(X, y)
    for a, b in zip(before, fitted.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    assert hasattr(MLPRegressorFromNotes(solver="sgd"), "partial_fit")


def test_early_stopping_restores_the_best_weights():
    X, y = make_regression(n_samples=300, n_features=5, noise=20, random_state=1)
    X, y = StandardScaler().fit_transform(X), y / y.std()
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(64,),
        early_stopping=True,
        learning_rate_init=0.05,
        max_iter=40,
        n_iter_no_change=5,
        random_state=0,
    ).fit(X, y)
    n_epochs = len(reg.loss_curve_)
    assert len(reg.validation_scores_) == len(reg.validation_loss_curve_) == n_epochs
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    # Recompute the held-out split the fit used (scikit-learn's draw).
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state

    rng = check_random_state(0)
    network_rng_draws = sum(
        W.size + b.size for W, b in zip(reg.coefs_, reg.intercepts_, strict=True)
    )
    rng.uniform(size=network_rng_draws)
    _, val = train_test_split(np.arange(len(y)), random_state=rng, test_size=0.1)
    best = int(np.argmax(reg.validation_scores_))
    assert reg.score(X[val], y[val]) == pytest.approx(reg.validation_scores_[best])
    mse = np.mean((reg.predict(X[val]) - y[val]) ** 2)
    assert mse == pytest.approx(reg.validation_loss_curve_[best])


def test_sample_weight_equals_repeated_rows(data):
    X, y = data
    X, y = X[:40], y[:40]
    weights = np.random.default_rng(0).integers(0, 3, size=40)
    settings = dict(
        hidden_layer_sizes=(4,), solver="lbfgs", random_state=0, max_iter=50, tol=0
    )
    weighted = MLPRegressorFromNotes(**settings).fit(X, y, sample_weight=weights)
    repeated = MLPRegressorFromNotes(**settings).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-6)
    assert weighted.loss_ == pytest.approx(repeated.loss_, rel=1e-8)


def test_all_zero_sample_weights_are_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="at least one non-zero"):
        MLPRegressorFromNotes().fit(X, y, sample_weight=np.zeros(len(y)))


def test_multi_output(data):
    X, y = data
    Y = np.column_stack([y, -y, 2 * y])
    reg = MLPRegressorFromNotes(max_iter=5, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (len(y), 3)
    assert reg.n_outputs_ == 3
    with pytest.warns(DataConversionWarning):
        column = MLPRegressorFromNotes(max_iter=2).fit(X, y.reshape(-1, 1))
    assert column.predict(X).shape == (len(y),)


def test_coefs_are_live_parameters(data):
    X, y = data
    reg = MLPRegressorFromNotes(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    reg.fit(X, y)
    before = reg.predict(X)
    reg.coefs_[1][...] = 0.0
    np.testing.assert_allclose(reg.predict(X), reg.intercepts_[1][0])
    assert not np.allclose(reg.predict(X), before)
    # partial_fit continues from the edited weights.
    reg.partial_fit(X, y)
    assert np.abs(reg.coefs_[1]).max() < 0.1
    # Reassigned arrays are respected by predict and by a warm start.
    reg.coefs_ = [np.zeros_like(c) for c in reg.coefs_]
    np.testing.assert_allclose(reg.predict(X), reg.intercepts_[1][0])
    reg.set_params(warm_start=True, max_iter=1).fit(X, y)
    assert np.abs(reg.coefs_[0]).max() < 0.1


@pytest.mark.parametrize("copier", ["pickle", "deepcopy"])
def test_copies_keep_the_views_tied(data, copier):
    X, y = data
    reg = MLPRegressorFromNotes(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    reg.fit(X, y)
    other = (
        pickle.loads(pickle.dumps(reg)) if copier == "pickle" else copy.deepcopy(reg)
    )
    np.testing.assert_array_equal(other.predict(X), reg.predict(X))
    assert np.shares_memory(other.coefs_[0], other._network.theta)
    other.coefs_[1][...] = 0.0
    np.testing.assert_allclose(other.predict(X), other.intercepts_[1][0])
    assert not np.allclose(reg.predict(X), other.predict(X))
    assert clone(reg).get_params() == reg.get_params()


def test_poisson_loss(data):
    X, y = data
    counts = np.random.default_rng(0).poisson(np.exp(0.3 * X[:, 0]))
    reg = MLPRegressorFromNotes(loss="poisson", max_iter=20, random_state=0)
    reg.fit(X, counts)
    assert reg.out_activation_ == "exp"
    assert (reg.predict(X) > 0).all()
    with pytest.raises(ValueError, match="negative"):
        MLPRegressorFromNotes(loss="poisson").fit(X, -np.abs(y))


@pytest.mark.xdist_group("loky")  # one pool of worker processes (see conftest)
def test_grid_search_on_diabetes_matches_scikit_learn():
    """Issue 2: cross-validated R² within 0.02 of MLPRegressor, same settings."""
    X, y = load_diabetes(return_X_y=True)
    cv = KFold(3, shuffle=True, random_state=0)

    def search(regressor):
        model = TransformedTargetRegressor(
            make_pipeline(StandardScaler(), regressor), transformer=StandardScaler()
        )
        grid = {
            "regressor__" + regressor.__class__.__name__.lower() + "__alpha": [0.1, 1.0]
        }
        return GridSearchCV(model, grid, cv=cv, n_jobs=2).fit(X, y)

    settings = dict(hidden_layer_sizes=(16,), max_iter=200, random_state=0)
    ours = search(MLPRegressorFromNotes(**settings))
    theirs = search(MLPRegressor(**settings))
    assert ours.best_score_ > 0.4
    assert abs(ours.best_score_ - theirs.best_score_) < 0.02


# -- scikit-learn's own trajectory, exactly -------------------------------------
def _max_abs_diff(ours, theirs):
    pairs = zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    )
    return max(float(np.abs(a - b).max()) for a, b in pairs)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_initialisation_is_scikit_learns_glorot(data, solver):
    """A vanishing learning rate leaves the weights where initialisation put them."""
    X, y = data
    settings = dict(
        hidden_layer_sizes=(5, 3),
        solver=solver,
        activation="logistic",
        learning_rate_init=1e-300,
        max_iter=1,
        random_state=3,
    )
    ours = MLPRegressorFromNotes(**settings).fit(X, y)
    theirs = MLPRegressor(**settings).fit(X, y)
    assert _max_abs_diff(ours, theirs) == 0.0


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("batch_size", ["auto", 16])
def test_sgd_is_scikit_learns_with_the_notes_factor_two(
    data, batch_size, early_stopping
):
    """Our objective (MSE + penalty) is twice scikit-learn's for one output, with the
    same α: our (lr, α) is its (2·lr, α).

    Same initialisation, shuffles, batches, momentum and split: equal up to rounding.
    """
    X, y = data
    settings = dict(
        hidden_layer_sizes=(6, 4),
        solver="sgd",
        max_iter=6,
        random_state=0,
        batch_size=batch_size,
        early_stopping=early_stopping,
        n_iter_no_change=100,
    )
    ours = MLPRegressorFromNotes(learning_rate_init=0.01, alpha=0.1, **settings).fit(
        X, y
    )
    theirs = MLPRegressor(learning_rate_init=0.02, alpha=0.1, **settings).fit(X, y)
    assert _max_abs_diff(ours, theirs) < 1e-12
    np.testing.assert_allclose(
        ours.loss_curve_, 2 * np.array(theirs.loss_curve_), rtol=1e-12
    )
    if early_stopping:
        np.testing.assert_allclose(
            ours.validation_scores_, theirs.validation_scores_, rtol=1e-12
        )


@pytest.mark.parametrize("batch_size", ["auto", 16])
def test_adam_is_scikit_learns_with_twice_epsilon(data, batch_size):
    """Adam's step m/(√v + ε) is invariant to the gradient's scale except through ε:
    with twice the gradient and twice ε it is the same step, so the trajectories agree
    up to rounding."""
    X, y = data
    settings = dict(
        hidden_layer_sizes=(8, 4),
        activation="tanh",
        alpha=0.0,
        max_iter=5,
        random_state=0,
        batch_size=batch_size,
    )
    ours = MLPRegressorFromNotes(epsilon=2e-8, **settings).fit(X, y)
    theirs = MLPRegressor(epsilon=1e-8, **settings).fit(X, y)
    assert _max_abs_diff(ours, theirs) < 1e-12
    np.testing.assert_allclose(
        ours.loss_curve_, 2 * np.array(theirs.loss_curve_), rtol=1e-12
    )


@pytest.mark.parametrize(
    "solver, early_stopping",
    [("lbfgs", False), ("sgd", False), ("adam", False), ("adam", True)],
)
def test_fitted_attributes_are_scikit_learns(data, solver, early_stopping):
    X, y = data
    settings = dict(
        hidden_layer_sizes=(7, 5),
        solver=solver,
        max_iter=3,
        early_stopping=early_stopping,
        random_state=0,
    )
    ours = MLPRegressorFromNotes(**settings).fit(X, y)
    theirs = MLPRegressor(**settings).fit(X, y)

    def public(est):
        return {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}

    extra = {"validation_loss_curve_"} if solver != "lbfgs" else set()
    assert public(ours) == public(theirs) | extra
    for name in [
        "n_layers_",
        "n_outputs_",
        "out_activation_",
        "n_iter_",
        "n_features_in_",
    ]:
        assert getattr(ours, name) == getattr(theirs, name), name
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    if solver != "lbfgs":
        assert ours.t_ == theirs.t_
        assert len(ours.loss_curve_) == len(theirs.loss_curve_) == ours.n_iter_
        if early_stopping:
            assert ours.best_loss_ is None
            assert ours.best_validation_score_ == max(ours.validation_scores_)
            assert len(ours.validation_scores_) == len(ours.validation_loss_curve_) == 3
        else:
            assert (
                ours.validation_scores_ is None and ours.validation_loss_curve_ is None
            )
            assert ours.best_loss_ == min(ours.loss_curve_)


def test_error_messages_are_scikit_learns(data):
    X, y = data

    def message(est, method, *args):
        with pytest.raises(Exception) as info:
            getattr(est, method)(*args)
        text = str(info.value).replace(type(est).__name__, "EST")
        # Options print as a set, in hash order: compare them sorted.
        text = re.sub(r"\{[^}]*\}", lambda m: str(sorted(m[0][1:-1].split(", "))), text)
        return type(info.value), text

    for kwargs in [
        dict(hidden_layer_sizes=(3, 0)),
        dict(hidden_layer_sizes=-1),
        dict(solver="newton"),
        dict(alpha=-1.0),
        dict(max_iter=0),
        dict(batch_size=0),
        dict(momentum=1.5),
        dict(activation="gelu"),
    ]:
        assert message(MLPRegressorFromNotes(**kwargs), "fit", X, y) == message(
            MLPRegressor(**kwargs), "fit", X, y
        ), kwargs
    ours = MLPRegressorFromNotes(max_iter=2).fit(X, y)
    theirs = MLPRegressor(max_iter=2).fit(X, y)
    assert message(ours, "predict", X[:, :3]) == message(theirs, "predict", X[:, :3])
    assert message(MLPRegressorFromNotes(), "predict", X) == message(
        MLPRegressor(), "predict", X
    )
    kind, _ = message(MLPRegressorFromNotes(), "predict", X)
    assert kind is NotFittedError


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_first_layer_in_fit_and_predict(data, solver, fmt, monkeypatch):
    """Every product with X, in fit and in predict, is a sparse one."""
    from sknotes import nodes

    X, y = data
    X = X.copy()
    X[np.abs(X) < 0.7] = 0.0
    settings = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=4, random_state=0)
    dense = MLPRegressorFromNotes(**settings).fit(X, y)
    first_layer_inputs = []
    original = nodes.Linear.forward

    def spy(self, inputs, out=None):
        if inputs.shape[1] == X.shape[1]:
            first_layer_inputs.append(sp.issparse(inputs))
        return original(self, inputs, out=out)

    monkeypatch.setattr(nodes.Linear, "forward", spy)
    X_sparse = sp.csr_matrix(X).asformat(fmt)
    sparse = MLPRegressorFromNotes(**settings).fit(X_sparse, y)
    prediction = sparse.predict(X_sparse)
    assert first_layer_inputs and all(first_layer_inputs)
    for a, b in zip(
        sparse.coefs_ + sparse.intercepts_,
        dense.coefs_ + dense.intercepts_,
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(prediction, dense.predict(X), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_float32_everywhere(data, solver):
    X, y = data
    X32 = X.astype(np.float32)
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(5,), solver=solver, max_iter=3, random_state=0
    ).fit(X32, y)  # float64 y follows X
    assert reg._network.theta.dtype == np.float32
    assert all(a.dtype == np.float32 for a in reg.coefs_ + reg.intercepts_)
    assert reg.predict(X32).dtype == np.float32
    assert reg.predict(sp.csr_matrix(X32)).dtype == np.float32
    as64 = MLPRegressorFromNotes(
        hidden_layer_sizes=(5,), solver=solver, max_iter=3, random_state=0
    ).fit(X, y)
    assert as64._network.theta.dtype == np.float64
    # Integer X is read as float64, as scikit-learn does.
    as_int = MLPRegressorFromNotes(max_iter=2, solver=solver).fit(X.astype(int), y)
    assert as_int.coefs_[0].dtype == np.float64
    # float32 training follows the float64 one closely: same math, less precision.
    np.testing.assert_allclose(reg.predict(X32), as64.predict(X), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_reassigned_and_edited_coefs_are_the_same_model(data, solver):
    """Assigning new arrays to coefs_/intercepts_ equals editing them in place, for
    predict, a warm start and partial_fit."""
    X, y = data
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(5,),
        solver=solver,
        max_iter=2,
        warm_start=True,
        random_state=0,
    ).fit(X, y)
    untouched = copy.deepcopy(reg)
    edited = copy.deepcopy(reg)
    rng = np.random.default_rng(0)
    new_coefs = [rng.standard_normal(c.shape) * 0.1 for c in reg.coefs_]
    new_intercepts = [rng.standard_normal(b.shape) * 0.1 for b in reg.intercepts_]
    reg.coefs_, reg.intercepts_ = new_coefs, new_intercepts
    for W, b, new_W, new_b in zip(
        edited.coefs_, edited.intercepts_, new_coefs, new_intercepts, strict=True
    ):
        W[...] = new_W
        b[...] = new_b
    hidden = np.maximum(X @ new_coefs[0] + new_intercepts[0], 0)  # relu
    expected = hidden @ new_coefs[1] + new_intercepts[1]
    np.testing.assert_allclose(reg.predict(X), expected.ravel())
    np.testing.assert_array_equal(edited.predict(X), reg.predict(X))
    assert not np.allclose(untouched.predict(X), reg.predict(X))
    for step in ("fit", "partial_fit"):
        getattr(reg, step)(X, y)
        getattr(edited, step)(X, y)
        getattr(untouched, step)(X, y)
        for a, b in zip(
            reg.coefs_ + reg.intercepts_,
            edited.coefs_ + edited.intercepts_,
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
        assert not np.allclose(untouched.coefs_[0], reg.coefs_[0])
        assert np.shares_memory(reg.coefs_[0], reg._network.theta)


def test_clone_refits_to_the_same_model(data):
    X, y = data
    reg = MLPRegressorFromNotes(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    reg.fit(X, y)
    twin = clone(reg)
    with pytest.raises(NotFittedError):
        twin.predict(X)
    twin.fit(X, y)
    np.testing.assert_array_equal(twin.predict(X), reg.predict(X))
    assert np.shares_memory(twin.coefs_[0], twin._network.theta)


@pytest.mark.requires_sklearn("1.7", reason="MLPRegressor's loss parameter")
@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_poisson_is_scikit_learns(data, solver):
    """Half Poisson deviance and an exp output: scikit-learn's own loss, same path."""
    X, _ = data
    counts = np.random.default_rng(0).poisson(np.exp(0.3 * X[:, 0])).astype(float)
    settings = dict(
        loss="poisson",
        hidden_layer_sizes=(5,),
        solver=solver,
        max_iter=5,
        batch_size=16,
        learning_rate_init=0.01,
        random_state=0,
    )
    ours = MLPRegressorFromNotes(**settings).fit(X, counts)
    theirs = MLPRegressor(**settings).fit(X, counts)
    assert _max_abs_diff(ours, theirs) < 1e-12
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-12)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-12)


def test_first_partial_fit_is_scikit_learns(data):
    X, y = data
    settings = dict(
        hidden_layer_sizes=(5,), solver="sgd", batch_size=16, random_state=0
    )
    ours = MLPRegressorFromNotes(learning_rate_init=0.01, alpha=1e-4, **settings)
    theirs = MLPRegressor(learning_rate_init=0.02, alpha=1e-4, **settings)
    ours.partial_fit(X, y)
    theirs.partial_fit(X, y)
    assert _max_abs_diff(ours, theirs) < 1e-12


@pytest.mark.parametrize(
    "solver, match",
    [
        ("lbfgs", "lbfgs failed to converge"),
        ("sgd", "Maximum iter"),
        ("adam", "Maximum iter"),
    ],
)
def test_convergence_warning_at_max_iter_for_every_solver(data, solver, match):
    X, y = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = MLPRegressorFromNotes(solver=solver, max_iter=2, tol=0.0).fit(X, y)
        if hasattr(reg, "partial_fit"):
            reg.partial_fit(X, y)  # one epoch by design: never a warning
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(convergence) == 1
    assert match in str(convergence[0].message)


# -- alpha means scikit-learn's alpha ---------------------------------------------
def _alpha_problem(n_outputs, weighted):
    rng = np.random.default_rng(n_outputs)
    X = rng.standard_normal((100, 3))
    Y = np.tanh(X @ rng.standard_normal((3, n_outputs)))
    Y += 0.1 * rng.standard_normal(Y.shape)
    sw = rng.random(100) * 2 if weighted else None
    return X, Y.ravel() if n_outputs == 1 else Y, sw


@pytest.fixture
def sklearn_consistent_squared_loss(monkeypatch):
    """scikit-learn's squared_error *reports* ``Σᵢ wᵢ‖ŷᵢ − yᵢ‖² / (2k·Σw)`` (the mean
    over k outputs) but its gradient is that of ``Σᵢ wᵢ‖ŷᵢ − yᵢ‖² / (2Σw)`` (deltas
    ``Ŷ − Y``, no 1/k).  Its L-BFGS, fed both, stops after a failed line search for
    k > 1; the loss its gradient (and so SGD and Adam) minimises is the sum over
    outputs, restored here so that its L-BFGS reaches that minimiser."""
    from sklearn.neural_network import _base

    squared_loss = _base.LOSS_FUNCTIONS["squared_error"]

    def summed_over_outputs(y_true, y_pred, sample_weight=None):
        return y_pred.shape[1] * squared_loss(y_true, y_pred, sample_weight)

    monkeypatch.setitem(_base.LOSS_FUNCTIONS, "squared_error", summed_over_outputs)


@pytest.mark.requires_sklearn("1.7", reason="sample_weight in its MLP _backprop")
@pytest.mark.parametrize("alpha", [0.0, 1.0, 10.0])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_penalised_gradient_is_twice_scikit_learns(alpha, n_outputs, weighted):
    """The same α gives the same objective up to the factor 2 (the notes' MSE is
    twice the half squared error): the same gradient field, the same minimiser."""
    X, Y, sw = _alpha_problem(n_outputs, weighted)
    settings = dict(hidden_layer_sizes=(5,), activation="tanh", alpha=alpha)
    theirs = MLPRegressor(solver="lbfgs", max_iter=1, random_state=0, **settings)
    theirs.fit(X, Y)
    ours = MLPRegressorFromNotes(solver="lbfgs", max_iter=1, **settings).fit(X, Y)
    rng = np.random.default_rng(0)
    for W in theirs.coefs_ + theirs.intercepts_:
        W[...] = rng.standard_normal(W.shape)
    ours.coefs_ = [W.copy() for W in theirs.coefs_]
    ours.intercepts_ = [b.copy() for b in theirs.intercepts_]
    ours._sync_from_public()
    Y2 = Y.reshape(len(Y), -1)
    units = ours._network.layer_units
    coef_grads = [np.empty((a, b)) for a, b in zip(units[:-1], units[1:], strict=True)]
    intercept_grads = [np.empty(b) for b in units[1:]]
    activations = [X] + [None] * (len(units) - 1)
    theirs._backprop(X, Y2, sw, activations, [None] * (len(units) - 1),
                     coef_grads, intercept_grads)  # fmt: skip

    from sknotes._training import loss_and_backward
    from sknotes.nodes import L2Penalty, MSELoss

    network = ours._network
    penalty = L2Penalty(alpha, network.n_coef_params)
    loss_and_backward(network, MSELoss(), penalty, X, Y2, sw)
    penalty.backward(network.grad, network.theta)
    expected = np.concatenate([g.ravel() for g in coef_grads] + intercept_grads)
    np.testing.assert_allclose(network.grad, 2 * expected, rtol=1e-10, atol=1e-13)


@pytest.mark.requires_sklearn("1.7", reason="sample_weight in its MLP _backprop")
@pytest.mark.usefixtures("sklearn_consistent_squared_loss")
@pytest.mark.parametrize("alpha", [1.0, 10.0])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_lbfgs_reaches_scikit_learns_minimiser_for_the_same_alpha(
    alpha, n_outputs, weighted
):
    """Converged L-BFGS on both, then ours continued from scikit-learn's solution.

    Both stop on a relative decrease of the loss, in a flat valley of this
    non-convex loss: their predictions differ by up to 1e-3 (measured 4e-5 to
    9e-4).  α/2, the old meaning, lands 0.02 to 0.2 away.
    """
    X, Y, sw = _alpha_problem(n_outputs, weighted)
    settings = dict(
        hidden_layer_sizes=(5,),
        activation="tanh",
        solver="lbfgs",
        alpha=alpha,
        tol=1e-12,
        max_iter=5000,
        max_fun=50000,
        random_state=0,
    )
    theirs = MLPRegressor(**settings).fit(X, Y, sample_weight=sw)
    ours = MLPRegressorFromNotes(warm_start=True, **settings)
    ours.fit(X, Y, sample_weight=sw)
    from_scratch = np.abs(ours.predict(X) - theirs.predict(X)).max()
    ours.coefs_ = [W.copy() for W in theirs.coefs_]
    ours.intercepts_ = [b.copy() for b in theirs.intercepts_]
    ours.fit(X, Y, sample_weight=sw)
    from_theirs = np.abs(ours.predict(X) - theirs.predict(X)).max()
    assert max(from_scratch, from_theirs) < 2e-3
    old_meaning = MLPRegressorFromNotes(**{**settings, "alpha": alpha / 2})
    old_meaning.fit(X, Y, sample_weight=sw)
    assert np.abs(old_meaning.predict(X) - theirs.predict(X)).max() > 1e-2


@pytest.mark.parametrize("name", ["MLPRegressorFromNotes", "MLPClassifierFromNotes"])
def test_init_stores_exactly_the_parameters(name):
    import sknotes

    est = getattr(sknotes, name)()
    assert vars(est) == est.get_params()


@pytest.mark.parametrize("dtype, gib", [(np.float32, "256.0"), (np.float64, "512.0")])
def test_an_impossible_network_is_refused_with_its_size(dtype, gib):
    # 2**34 weights (and their gradient and Adam's moments) in the data's dtype.
    est = MLPRegressorFromNotes(hidden_layer_sizes=(2**17, 2**17))
    with pytest.raises(ValueError, match=rf"needs {gib} GiB with its optimizer state"):
        est.fit(np.zeros((2, 3), dtype), [0.0, 1.0])


# Pinned by mutation testing (benchmarks/mutation.py _mlp).


def test_tags_say_multi_output(data):
    # scikit-learn's common checks run their multi-output check on this tag
    # (MLPRegressor fits a 2-D y without saying so).
    X, y = data
    reg = MLPRegressorFromNotes(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    assert reg.fit(X, np.c_[y, -y]).predict(X).shape == (len(y), 2)
    assert reg.__sklearn_tags__().target_tags.multi_output is True


def test_partial_fit_checks_the_feature_names_of_the_first_fit(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    reg = MLPRegressorFromNotes(hidden_layer_sizes=(3,), random_state=0)
    reg.partial_fit(frame, y)
    with pytest.raises(ValueError, match="feature names should match"):
        reg.partial_fit(frame[frame.columns[::-1]], y)
    assert list(reg.feature_names_in_) == list(frame.columns)


def _same_parameters(a, b):
    return all(
        np.array_equal(p, q)
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)
    )


def test_csc_input_trains_the_csr_inputs_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    X[X < 0.3] = 0.0
    y = X @ rng.normal(size=5)
    params = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    csc = MLPRegressorFromNotes(**params).fit(sp.csc_matrix(X), y)
    csr = MLPRegressorFromNotes(**params).fit(sp.csr_matrix(X), y)
    assert _same_parameters(csc, csr)


def test_partial_fit_casts_the_input_to_the_models_dtype():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 20)) / 3
    y = np.sin(X @ rng.normal(size=20))
    reg = MLPRegressorFromNotes(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    reg.fit(X.astype(np.float32), y)
    as_float32 = copy.deepcopy(reg).partial_fit(X.astype(np.float32), y)
    reg.partial_fit(X, y)
    assert reg.coefs_[0].dtype == np.float32
    assert _same_parameters(reg, as_float32) and reg.loss_ == as_float32.loss_


@pytest.mark.parametrize("dtype", [np.float16, bool])
def test_predict_converts_other_dtypes_as_float64(data, dtype):
    X, y = data
    reg = MLPRegressorFromNotes(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    reg.fit(X.astype(np.float32), y)
    other = (X > 0) if dtype is bool else X.astype(dtype)
    np.testing.assert_array_equal(
        reg.predict(other), reg.predict(other.astype(np.float64))
    )
