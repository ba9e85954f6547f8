"""The shared training loop: what loss_ is, warm starts, early stopping, weights.

Its faults (divergence, Ctrl-C, exceptions) are tested in test_atomicity.py.
"""

import copy
import pickle
import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler

import sknotes._training as training
from sknotes import MLPRegressorFromNotes

pytestmark = pytest.mark.usefixtures("quiet_convergence")


def _params(est):
    return [a.copy() for a in est.coefs_ + est.intercepts_]


def _assert_same_params(a, b, **tolerance):
    for left, right in zip(_params(a), _params(b), strict=True):
        if tolerance:
            np.testing.assert_allclose(left, right, **tolerance)
        else:
            np.testing.assert_array_equal(left, right)


def _penalised_mse(est, X, y, alpha):
    """The notes' MSE + L2, both twice the objective scikit-learn minimises."""
    residual = est.predict(X).reshape(len(y), -1) - y.reshape(len(y), -1)
    mse = np.mean(np.sum(residual**2, axis=1))
    l2 = sum(float(np.sum(W**2)) for W in est.coefs_)
    return mse + 2 * 0.5 * alpha * l2 / len(y)


# -- loss_ is the notes' MSE ----------------------------------------------------
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_lbfgs_loss_is_the_notes_mse_at_the_final_parameters(data, alpha):
    X, y = data
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(5,),
        solver="lbfgs",
        alpha=alpha,
        max_iter=30,
        random_state=0,
    ).fit(X, y)
    assert reg.loss_ == pytest.approx(_penalised_mse(reg, X, y, alpha), rel=1e-10)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("alpha", [0.0, 0.5])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_stochastic_loss_is_the_notes_mse_before_the_step(
    data, solver, alpha, n_outputs
):
    """With one batch per epoch, an epoch's loss is the MSE (+ L2) at its start."""
    X, y = data
    y = y if n_outputs == 1 else np.column_stack([y, 1 - y])
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(5,),
        solver=solver,
        alpha=alpha,
        max_iter=1,
        warm_start=True,
        learning_rate_init=0.01,
        random_state=0,
    ).fit(X, y)
    for _ in range(3):
        expected = _penalised_mse(reg, X, y, alpha)
        reg.fit(X, y)
        assert reg.loss_ == pytest.approx(expected, rel=1e-12)
    # Twice scikit-learn's half-MSE, not its value.
    assert reg.loss_ != pytest.approx(expected / 2)


# -- warm start and partial_fit -------------------------------------------------
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_calls_equal_one_fit_of_as_many_epochs(data, solver):
    X, y = data
    settings = dict(
        hidden_layer_sizes=(6,),
        solver=solver,
        random_state=1,
        batch_size=32,
        learning_rate_init=0.01,
    )
    stepwise = MLPRegressorFromNotes(**settings)
    for _ in range(3):
        stepwise.partial_fit(X, y)
    once = MLPRegressorFromNotes(max_iter=3, tol=0.0, **settings).fit(X, y)
    _assert_same_params(stepwise, once)
    assert stepwise.t_ == once.t_ == 3 * len(y)
    # Re-seeding the stream before each epoch (scikit-learn's partial_fit) differs:
    reseeded = MLPRegressorFromNotes(**settings)
    for _ in range(3):
        reseeded.partial_fit(X, y)
        reseeded._rng = np.random.RandomState(1)
    reseeded_params = _params(reseeded)
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(_params(once), reseeded_params, strict=True)
    )


def test_pickled_model_continues_the_same_stream_and_optimizer(data):
    X, y = data
    a = MLPRegressorFromNotes(hidden_layer_sizes=(5,), batch_size=16, random_state=0)
    a.partial_fit(X, y)
    b = pickle.loads(pickle.dumps(a))
    c = copy.deepcopy(a)
    for est in (a, b, c):
        est.partial_fit(X, y)
    _assert_same_params(a, b)
    _assert_same_params(a, c)


def test_changed_optimizer_parameters_rebuild_the_optimizer(data):
    X, y = data
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(4,),
        solver="sgd",
        max_iter=1,
        warm_start=True,
        random_state=0,
    ).fit(X, y)
    first = reg._optimizers[0]
    reg.fit(X, y)
    assert reg._optimizers[0] is first
    reg.set_params(learning_rate_init=0.05).fit(X, y)
    assert reg._optimizers[0] is not first
    assert reg._optimizers[0].schedule.learning_rate == 0.05


# -- early stopping ---------------------------------------------------------------
def _held_out_rows(monkeypatch):
    """Record, for each fit, the rows the early-stopping split holds out."""
    held_out = []

    def recording_split(y, validation_fraction, random_state):
        train, val = training.random_split(y, validation_fraction, random_state)
        held_out.append(val)
        return train, val

    monkeypatch.setattr(
        MLPRegressorFromNotes, "_validation_splitter", staticmethod(recording_split)
    )
    return held_out


def test_warm_starts_keep_the_first_fits_validation_rows(data, monkeypatch):
    X, y = data
    held_out = _held_out_rows(monkeypatch)
    params = dict(
        early_stopping=True, max_iter=2, random_state=0, hidden_layer_sizes=(5,)
    )
    reg = MLPRegressorFromNotes(warm_start=True, **params)
    for _ in range(3):
        reg.fit(X, y)
    MLPRegressorFromNotes(**params).fit(X, y)
    first, *rest = held_out
    assert len(rest) == 3
    assert len(first) == 12  # validation_fraction=0.1 of 120 rows
    for rows in rest:
        np.testing.assert_array_equal(rows, first)
    # The scores of the warm starts accumulate, all measured on the same rows.
    assert reg.n_iter_ == 2 and len(reg.validation_scores_) == 6


def test_a_fresh_fit_draws_its_split_from_its_own_random_state(data, monkeypatch):
    X, y = data
    held_out = _held_out_rows(monkeypatch)
    for seed in (0, 1):
        MLPRegressorFromNotes(early_stopping=True, max_iter=1, random_state=seed).fit(
            X, y
        )
    assert not np.array_equal(np.sort(held_out[0]), np.sort(held_out[1]))


def test_validation_curves_are_each_epochs_r2_and_mse_and_best_is_restored(monkeypatch):
    X, y = make_regression(n_samples=300, n_features=5, noise=20, random_state=1)
    X, y = StandardScaler().fit_transform(X), y / y.std()
    held_out, per_epoch = [], []
    original = training.ValidationStopping.epoch_end

    def record(self, state, network, verbose):
        val = held_out[-1] if held_out else self.validation
        held_out.append(val)
        y_pred = network.predict(val.inputs)
        per_epoch.append(
            (r2_score(val.y, y_pred), np.mean(np.sum((y_pred - val.y) ** 2, 1)))
        )
        return original(self, state, network, verbose)

    monkeypatch.setattr(training.ValidationStopping, "epoch_end", record)

    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(64,),
        early_stopping=True,
        learning_rate_init=0.05,
        max_iter=60,
        n_iter_no_change=4,
        random_state=0,
    )
    reg.fit(X, y)
    n_epochs = len(reg.loss_curve_)
    assert n_epochs < 60  # stopped early ...
    best = int(np.argmax(reg.validation_scores_))
    assert best < n_epochs - 1  # ... after the best epoch: restoring matters
    assert len(per_epoch) == len(reg.validation_scores_) == n_epochs
    assert len(reg.validation_loss_curve_) == n_epochs
    np.testing.assert_allclose(
        reg.validation_scores_, [r2 for r2, _ in per_epoch], rtol=1e-12
    )
    np.testing.assert_allclose(
        reg.validation_loss_curve_, [m for _, m in per_epoch], rtol=1e-12
    )
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    val = held_out[-1]
    assert reg.score(val.inputs, val.y.ravel()) == pytest.approx(
        max(reg.validation_scores_), rel=1e-12
    )


# -- sample_weight ------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_integer_weights_equal_repeated_rows_in_one_batch(data, solver):
    X, y = data
    X, y = X[:50], y[:50]
    weights = np.random.default_rng(0).integers(0, 4, size=50)
    settings = dict(
        hidden_layer_sizes=(4,),
        solver=solver,
        shuffle=False,
        max_iter=8,
        alpha=0.1,
        learning_rate_init=0.01,
        random_state=0,
    )
    assert weights.sum() <= 200  # 'auto' batches hold every row in both fits
    weighted = MLPRegressorFromNotes(**settings).fit(X, y, sample_weight=weights)
    repeated = MLPRegressorFromNotes(**settings).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    _assert_same_params(weighted, repeated, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)


def test_zero_weights_ignore_rows(data):
    X, y = data
    X, y = X[:40], y[:40]
    weights = np.ones(40)
    weights[::3] = 0.0
    keep = weights > 0
    settings = dict(
        hidden_layer_sizes=(4,), solver="lbfgs", alpha=0.0, max_iter=40, random_state=0
    )
    weighted = MLPRegressorFromNotes(**settings).fit(X, y, sample_weight=weights)
    subset = MLPRegressorFromNotes(**settings).fit(X[keep], y[keep])
    np.testing.assert_allclose(weighted.predict(X), subset.predict(X), rtol=1e-7)
    # Scaling all weights changes nothing: the loss is a weighted mean.
    scaled = MLPRegressorFromNotes(**settings).fit(X, y, sample_weight=3.0 * weights)
    np.testing.assert_allclose(scaled.predict(X), weighted.predict(X), rtol=1e-7)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros(40), "non-zero"),
        (-np.ones(40), "(?i)negative"),
        (np.ones(39), "shape|length|inconsistent"),
    ],
)
def test_bad_sample_weights_are_refused(data, bad, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        MLPRegressorFromNotes(max_iter=1).fit(X[:40], y[:40], sample_weight=bad)


# -- one schedule, one stopping decision ------------------------------------------
def test_the_table_and_head_share_one_schedule_and_stop_once(capsys):
    from sknotes import EmbeddingBagRegressor

    docs = [[f"w{i % 7}", f"v{i % 3}"] for i in range(40)]
    est = EmbeddingBagRegressor(
        embedding_dim=3,
        solver="sgd",
        learning_rate="adaptive",
        n_iter_no_change=1,
        tol=1e3,  # no epoch after the first improves: every second divides the rate
        max_iter=6,
        verbose=True,
        random_state=0,
        early_stopping=False,  # the training loss's decision, epoch by epoch
        learning_rate_init=0.01,
    ).fit(docs, np.arange(40.0) % 5)
    dense, table = est._optimizers
    assert dense.schedule is table.schedule
    assert table.schedule.learning_rate == pytest.approx(0.01 / 5**2)
    out = capsys.readouterr().out
    assert out.count("Setting learning rate to") == 2  # one message per decision


# -- the loop's counters, pinned one by one ------------------------------------------
def test_invscaling_updates_the_learning_rate_at_each_epochs_end(data):
    X, y = data
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(3,),
        solver="sgd",
        learning_rate="invscaling",
        learning_rate_init=0.1,
        power_t=0.5,
        max_iter=3,
        batch_size=40,
        random_state=0,
    ).fit(X, y)
    assert reg.t_ == 3 * len(y)
    expected = 0.1 / (reg.t_ + 1) ** 0.5
    assert reg._optimizers[0].schedule.learning_rate == pytest.approx(expected)


def test_batch_size_one_takes_one_step_per_sample(data):
    X, y = data
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(3,), batch_size=1, max_iter=1, random_state=0
    ).fit(X[:30], y[:30])
    assert reg._optimizers[0].steps.t == 30  # Adam counts its steps


def test_a_batch_larger_than_the_data_is_clipped_with_a_warning(data):
    X, y = data
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(3,), batch_size=50, max_iter=2, random_state=0
    )
    message = (
        "Got `batch_size` less than 1 or larger than sample size. "
        "It is going to be clipped"
    )
    with pytest.warns(UserWarning, match=f"^{re.escape(message)}$"):
        reg.fit(X[:20], y[:20])
    assert reg._optimizers[0].steps.t == 2  # one batch of 20 per epoch
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # a subclass
        reg.set_params(batch_size=20).fit(X[:20], y[:20])  # exactly the data: fine


def test_auto_batches_hold_200_samples(data):
    X, y = data
    X, y = np.vstack([X, X]), np.concatenate([y, y])
    reg = MLPRegressorFromNotes(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
    reg.fit(X[:201], y[:201])
    assert reg._optimizers[0].steps.t == 2  # 200 + 1


def test_the_max_iter_warning_only_when_max_iter_stops_the_fit(data):
    X, y = data
    reg = MLPRegressorFromNotes(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    message = (
        "Stochastic Optimizer: Maximum iterations (2) reached and the "
        "optimization hasn't converged yet."
    )
    with pytest.warns(ConvergenceWarning, match=f"^{re.escape(message)}$"):
        reg.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.partial_fit(X, y)  # one epoch, by request
        reg.set_params(max_iter=50, tol=1e3).fit(X, y)  # stopped by tol


def test_each_epoch_shuffles_the_previous_epochs_order(data, monkeypatch):
    """As scikit-learn, which shuffles its already shuffled ``X`` each epoch."""
    X, y = data
    calls, shuffle = [], training.shuffle_indices

    def recording_shuffle(order, random_state):
        shuffled = shuffle(order, random_state=random_state)
        calls.append((order.copy(), shuffled.copy()))
        return shuffled

    monkeypatch.setattr(training, "shuffle_indices", recording_shuffle)
    reg = MLPRegressorFromNotes(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    reg.fit(X, y)
    reg.partial_fit(X, y)
    assert len(calls) == 4
    np.testing.assert_array_equal(calls[0][0], np.arange(len(y)))
    for (_, before), (after_input, _) in zip(calls, calls[1:], strict=False):
        np.testing.assert_array_equal(after_input, before)


def _stepped(stopping, state, values):
    """Feed ``values`` (losses or scores) to ``stopping``; the count after each."""
    counts = []
    for value in values:
        state.loss = value
        stopping.epoch_end(state, _FakeNetwork(), verbose=False)
        counts.append(state.no_improvement_count)
    return counts


class _FakeNetwork:
    def snapshot(self):
        return "snapshot"


def test_training_loss_stopping_counts_epochs_that_miss_tol():
    # Powers of two: `loss <= best - tol` is exact at the boundary.
    stopping = training.TrainingLossStopping(tol=0.25, n_iter_no_change=1)
    state = training.FitState()
    stopping.start(state, None, None)
    counts = _stepped(stopping, state, [1.0, 0.875, 0.625, 0.5, 0.5, np.nan])
    # 0.875 misses 1 - tol; 0.625 = 0.875 - tol improves (the boundary counts).
    assert counts == [0, 1, 0, 1, 2, 3]
    assert state.best_loss == 0.5
    state.no_improvement_count = 1
    assert not stopping.stalled(state)  # stall means count > n_iter_no_change
    state.no_improvement_count = 2
    assert stopping.stalled(state)
    fresh = training.FitState(best_loss=None)
    assert stopping.start(fresh, "data", None) == "data"
    assert fresh.best_loss == np.inf


def test_validation_stopping_counts_epochs_that_miss_tol():
    stopping = training.ValidationStopping(
        tol=0.25, n_iter_no_change=1, validation_fraction=0.5,
        random_state=np.random.RandomState(0), scorer=None, loss_node=None,
    )  # fmt: skip
    scores = iter([0.5, 0.625, 0.75, 0.75, 1.0, np.nan])
    stopping.scores = lambda network: (next(scores), 0.0)
    state = training.FitState(
        validation_scores=[], validation_loss_curve=[], best_validation_score=-np.inf
    )
    counts = _stepped(stopping, state, [0.0] * 6)
    # Each score misses best + tol (the best moves up anyway) until 1.0, which is
    # exactly 0.75 + tol: the boundary counts as an improvement.
    assert counts == [0, 1, 2, 3, 0, 1]
    assert state.best_validation_score == 1.0
    assert state.validation_scores[:5] == [0.5, 0.625, 0.75, 0.75, 1.0]


def test_adaptive_rate_resets_the_count_after_each_division(data, capsys):
    X, y = data
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(3,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.01,
        n_iter_no_change=1,
        tol=1e3,  # only the first epoch improves (on an infinite best loss)
        max_iter=7,
        verbose=True,
        random_state=0,
    ).fit(X, y)
    # Epochs 3, 5 and 7 end the second epoch in a row without improvement.
    assert reg._optimizers[0].schedule.learning_rate == pytest.approx(0.01 / 5**3)
    out = capsys.readouterr().out
    assert out.count("Setting learning rate to") == 3
    assert "Iteration 7, loss = " in out
    assert (
        "Training loss did not improve more than tol=1000.000000 for 1 "
        "consecutive epochs." in out
    )


def test_verbose_prints_the_stopping_decision_and_validation_scores(data, capsys):
    X, y = data
    MLPRegressorFromNotes(
        hidden_layer_sizes=(3,),
        early_stopping=True,
        n_iter_no_change=1,
        tol=1e3,
        max_iter=5,
        verbose=True,
        random_state=0,
    ).fit(X, y)
    out = capsys.readouterr().out
    # Epochs 2 and 3 miss tol: the third stops.
    assert out.count("\nValidation score: ") == 3
    assert (
        "Validation score did not improve more than tol=1000.000000 for 1 "
        "consecutive epochs. Stopping." in out
    )


@pytest.mark.parametrize("fraction, n_validation", [(0.05, 1), (0.1, 2)])
def test_a_validation_split_needs_two_samples(data, fraction, n_validation):
    X, y = data
    X, y = X[:20], y[:20]
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(3,),
        early_stopping=True,
        validation_fraction=fraction,
        max_iter=1,
        random_state=0,
    )
    if n_validation < 2:
        message = (
            "The validation set is too small. Increase 'validation_fraction' "
            "or the size of your dataset."
        )
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            reg.fit(X, y)
    else:
        assert len(reg.fit(X, y).validation_scores_) == 1


class _LinearNetwork:
    """``predict(X) = X·coef``, with the snapshot/restore of a network."""

    def __init__(self, coef):
        self.coef = np.array(coef, dtype=float)

    def predict(self, X):
        return X @ self.coef

    def snapshot(self):
        return self.coef.copy()

    def restore(self, params):
        self.coef[...] = params


def test_validation_scores_are_weighted_and_the_initial_model_can_win():
    from sknotes.nodes import MSELoss

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 2)), rng.standard_normal((40, 1))
    weights = rng.random(40) + 0.1
    stopping = training.ValidationStopping(
        tol=0.0, n_iter_no_change=1, validation_fraction=0.25,
        random_state=np.random.RandomState(0),
        scorer=lambda y, p, w: r2_score(y, p, sample_weight=w), loss_node=MSELoss(),
    )  # fmt: skip
    network = _LinearNetwork([[1.0], [-1.0]])
    state = training.FitState()
    train = stopping.start(state, training.TrainingData(X, y, weights), network)
    val = stopping.validation
    assert train.n_samples == 30 and val.n_samples == 10
    assert np.isin(val.sample_weight, weights).all()
    score, loss = stopping.scores(network)
    residual = (val.inputs @ network.coef - val.y)[:, 0]
    assert loss == pytest.approx(np.average(residual**2, weights=val.sample_weight))
    assert score == pytest.approx(
        r2_score(val.y, val.inputs @ network.coef, sample_weight=val.sample_weight)
    )
    # The model before the first epoch is the best to beat, and is restored.
    stopping.initial_model(state, network)
    assert state.best_validation_score == score and state.validation_scores == []
    initial = network.coef.copy()
    network.coef += 10.0  # a worse epoch
    stopping.epoch_end(state, network, verbose=False)
    assert state.validation_scores[0] < score
    # A model that predicts NaN is never the best.
    stopping.initial_model(state, _LinearNetwork([[np.nan], [0.0]]))
    assert state.best_validation_score == score
    stopping.finish(state, network)
    np.testing.assert_array_equal(network.coef, initial)
    assert state.best_params is None  # not kept after the fit


def test_training_data_batches_through_take_and_keeps_it_in_subsets():
    import scipy.sparse as sp

    X = np.arange(12.0).reshape(6, 2)
    y, weights = np.arange(6.0)[:, None], np.arange(1.0, 7.0)

    def take(inputs, indices):  # two rows of inputs per sample (positions)
        return np.take(inputs, np.repeat(indices, 2) % 6, axis=0)

    data = training.TrainingData(X, y, weights, take=take)
    inputs, y_batch, w_batch = data.batch(np.array([4, 1]))
    np.testing.assert_array_equal(inputs, X[[4, 4, 1, 1]])
    np.testing.assert_array_equal(y_batch, [[4.0], [1.0]])
    np.testing.assert_array_equal(w_batch, [5.0, 2.0])
    subset = data.subset(np.array([4, 1]))
    assert subset.n_samples == 2
    np.testing.assert_array_equal(subset.sample_weight, [5.0, 2.0])
    np.testing.assert_array_equal(subset.batch(np.array([1]))[0], take(inputs, [1]))
    sparse = training.TrainingData(sp.csr_array(X), y)
    inputs, _, w_batch = sparse.batch(np.array([3, 0]))
    np.testing.assert_array_equal(inputs.toarray(), X[[3, 0]])
    assert w_batch is None


def test_fit_state_copy_is_independent():
    state = training.FitState(loss_curve=[1.0], validation_scores=[0.5])
    clone = state.copy()
    clone.loss_curve.append(2.0)
    clone.validation_scores.append(0.6)
    assert state.loss_curve == [1.0] and state.validation_scores == [0.5]


@pytest.mark.parametrize("seed", [0, 7])
def test_shuffle_indices_is_scikit_learns_shuffle(seed):
    """The same permutation from the same stream, and the stream left alike."""
    from sklearn.utils import shuffle

    order = np.arange(50)[::-1].copy()
    ours, theirs = np.random.RandomState(seed), np.random.RandomState(seed)
    np.testing.assert_array_equal(
        training.shuffle_indices(order, ours), shuffle(order, random_state=theirs)
    )
    assert ours.randint(10**9) == theirs.randint(10**9)


# -- the L2 penalty in a stochastic step; the epoch's loss over several batches ------
def test_the_penalty_shrinks_each_sgd_step_by_its_gradient(data):
    """One full-batch SGD step with α differs from one without by -η·2αW/n."""
    X, y = data
    settings = dict(
        hidden_layer_sizes=(4,), solver="sgd", momentum=0.0, batch_size=len(y),
        learning_rate_init=0.05, alpha=0.0, max_iter=1, warm_start=True,
        random_state=0,
    )  # fmt: skip
    start = MLPRegressorFromNotes(**settings).fit(X, y)
    plain, penalised = copy.deepcopy(start), copy.deepcopy(start)
    penalised.set_params(alpha=3.0)
    plain.fit(X, y), penalised.fit(X, y)
    for W0, W_plain, W_pen in zip(
        start.coefs_, plain.coefs_, penalised.coefs_, strict=True
    ):
        expected = -0.05 * 2 * 3.0 * W0 / len(y)
        np.testing.assert_allclose(W_pen - W_plain, expected, rtol=1e-7, atol=1e-12)
    for b_plain, b_pen in zip(plain.intercepts_, penalised.intercepts_, strict=True):
        np.testing.assert_allclose(b_pen, b_plain, rtol=1e-12)  # no penalty on b


def test_an_epochs_loss_is_the_size_weighted_mean_of_its_batches(data):
    """Batches of 50, 50 and 20 rows with a negligible step: the epoch's MSE, and
    the penalty three times (each batch's is α‖W‖²/its size, as scikit-learn's)."""
    X, y = data
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(4,), solver="sgd", momentum=0.0, batch_size=50,
        learning_rate_init=1e-9, alpha=0.5, max_iter=1, warm_start=True,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    mse = _penalised_mse(reg, X, y, 0.0)
    penalty = _penalised_mse(reg, X, y, 0.5) - mse
    reg.fit(X, y)
    assert reg.loss_ == pytest.approx(mse + 3 * penalty, rel=1e-6)


# -- ties keep the earliest best, as scikit-learn's strict comparison does -------------
class _NumberedNetwork:
    """Each snapshot is a new number: which one is kept shows when it was taken."""

    def __init__(self):
        self.taken = 0

    def snapshot(self):
        self.taken += 1
        return self.taken


def test_equal_validation_scores_keep_the_earliest_best_parameters():
    stopping = training.ValidationStopping(
        tol=0.0, n_iter_no_change=5, validation_fraction=0.5,
        random_state=np.random.RandomState(0), scorer=None, loss_node=None,
    )  # fmt: skip
    scores = iter([0.5, 0.5, 0.75, 0.75, 0.25])
    stopping.scores = lambda network: (next(scores), 0.0)
    state = training.FitState(
        validation_scores=[], validation_loss_curve=[], best_validation_score=-np.inf
    )
    network = _NumberedNetwork()
    best = []
    for _ in range(3):
        stopping.epoch_end(state, network, verbose=False)
        best.append(state.best_params)
    assert best == [1, 1, 2]  # the tie at epoch 2 keeps epoch 1's parameters
    # The model a warm start begins from, as good as the best: the best stays.
    stopping.initial_model(state, network)
    assert state.best_params == 2 and state.best_validation_score == 0.75
    # Worse than the best of an earlier fit: neither score nor parameters change.
    stopping.initial_model(state, network)
    assert state.best_params == 2 and state.best_validation_score == 0.75


# -- the row journal -----------------------------------------------------------------
def test_row_journal_saves_each_row_once_and_restores_the_oldest_values():
    table = np.arange(10.0).reshape(5, 2)
    moment = np.zeros(5)
    original = table.copy()
    journal = training.RowJournal([table, moment])
    assert journal.covers(table) and journal.covers(moment)
    assert not journal.covers(table.copy())
    assert journal.rows().shape == (0,)
    assert np.take(table, journal.rows(), axis=0).shape == (0, 2)
    journal.save(np.array([1, 3]))
    table[[1, 3]], moment[[1, 3]] = -1.0, 5.0
    journal.save(np.array([3, 4]))  # row 3 again: its first value is the one kept
    table[[3, 4]], moment[4] = -2.0, 7.0
    np.testing.assert_array_equal(np.sort(journal.rows()), [1, 3, 4])
    journal.restore()
    np.testing.assert_array_equal(table, original)
    np.testing.assert_array_equal(moment, 0.0)
    assert journal.rows().size == 0
    table[0] = 9.0  # written after the restore: a second restore leaves it
    journal.restore()
    assert table[0, 0] == 9.0
    # One array is a journal too; no array, a journal of nothing.
    single = training.RowJournal([moment])
    single.save(np.array([2]))
    moment[2] = 1.0
    single.restore()
    assert moment[2] == 0.0
    empty = training.RowJournal([])
    empty.save(np.array([0]))
    assert empty.rows().size == 0 and not empty.covers(table)


def test_the_interrupt_flag_leaves_signal_handlers_alone_off_the_main_thread():
    import signal
    import threading

    handler = signal.getsignal(signal.SIGINT)
    errors = []

    def run():
        try:
            with training._InterruptFlag() as flag:
                assert not flag.raised
        except Exception as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert errors == []
    assert signal.getsignal(signal.SIGINT) is handler


def test_the_interrupt_flag_keeps_an_ignored_sigint_ignored():
    """``nohup`` and background jobs ignore SIGINT: training must not turn it on."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with training._InterruptFlag() as flag:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
        assert not flag.raised
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


# -- the loop's epoch, driven directly --------------------------------------------
class _Schedule:
    def __init__(self):
        self.seen = []

    def iteration_ends(self, t):
        self.seen.append(t)

    def trigger_stopping(self, message, verbose):
        return True


def _bare_loop(**options):
    """A StochasticLoop with only what run_epoch and end_epoch read."""
    stopping = training.TrainingLossStopping(tol=0.0, n_iter_no_change=10)
    return training.StochasticLoop(
        network=None, loss_node=None, penalty=None, optimizers=(None, None),
        schedule=_Schedule(), stopping=stopping, shuffle=False, max_iter=1,
        random_state=np.random.RandomState(0), **options,
    )  # fmt: skip


def test_end_epoch_stops_on_a_callbacks_request_or_a_non_finite_loss(capsys):
    calls = []
    for request in (False, True):
        loop = _bare_loop(
            batch_size=1, on_epoch_end=lambda s, r=request: calls.append(s) or r
        )
        state = training.FitState(t=7)
        assert loop.end_epoch(state, 0.5) is request
        assert calls[-1] is state and state.n_iter == 1 and state.loss_curve == [0.5]
        assert loop.schedule.seen == [7]
    loop = _bare_loop(batch_size=1, on_epoch_end=lambda state: False)
    assert loop.end_epoch(training.FitState(), np.nan) is True
    assert loop.end_epoch(training.FitState(), np.inf) is True
    assert _bare_loop(batch_size=1).end_epoch(training.FitState(), 0.5) is False
    assert capsys.readouterr().out == ""  # quiet unless verbose


class _Interrupt:
    raised = False


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_parallel_workers_share_an_epochs_batches(n_jobs):
    """Worker j runs batches j, j + n_jobs, ...: each batch once; the epoch's loss
    is the size-weighted mean of the batch losses, whoever ran them."""
    ran, handed = [], []

    def compiled_step(loop):
        handed.append(loop)

        def step(train, indices):
            ran.append(indices.tolist())
            return float(train.y[indices].mean())  # a "loss" per batch

        return step

    y = np.arange(10.0)[:, None] ** 2
    loop = _bare_loop(batch_size=3, compiled_step=compiled_step, n_jobs=n_jobs)
    state = training.FitState()
    loss = loop.run_epoch(training.TrainingData(y, y), state, _Interrupt())
    assert sorted(ran) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert loss == pytest.approx(y.mean())
    assert state.t == 10
    assert len(loop._worker_steps()) == n_jobs  # one step per worker, kept
    assert handed == [loop] * n_jobs  # each built from the loop it serves
    assert (
        len(_bare_loop(batch_size=3, compiled_step=compiled_step)._worker_steps()) == 1
    )


def _blas_threads():
    from threadpoolctl import threadpool_info

    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_compiled_steps_run_on_one_blas_thread_and_restore_it(n_jobs):
    """BLAS threads inside the compiled step (small products; Hogwild workers
    would each start their own) are one; the caller's setting comes back."""
    from threadpoolctl import threadpool_limits

    seen = []

    def compiled_step(loop):
        return lambda train, indices: seen.append(_blas_threads()) or 0.0

    y = np.arange(6.0)[:, None]
    loop = _bare_loop(batch_size=2, compiled_step=compiled_step, n_jobs=n_jobs)
    with threadpool_limits(limits=2, user_api="blas"):
        loop.run_epoch(training.TrainingData(y, y), training.FitState(), _Interrupt())
        assert _blas_threads() == {2}
    assert seen == [{1}] * 3


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_an_interrupt_in_any_worker_ends_the_epoch_without_a_loss(n_jobs):
    interrupt = _Interrupt()

    def compiled_step(loop):
        def step(train, indices):
            interrupt.raised = True
            return 1.0

        return step

    y = np.ones((8, 1))
    loop = _bare_loop(batch_size=2, compiled_step=compiled_step, n_jobs=n_jobs)
    state = training.FitState()
    assert loop.run_epoch(training.TrainingData(y, y), state, interrupt) is None
    assert state.t == 0


@pytest.mark.parametrize("weighted", [False, True])
def test_the_tables_penalty_joins_the_epochs_loss_weighted_as_the_data(weighted):
    """One batch (hidden layers: the reference step; no other penalty on the
    table): α_embedding adds
    α/N·Σ‖T[r]‖² over the rows the batch touches, N the total weight."""
    from sknotes import EmbeddingBagRegressor

    docs = [[f"w{i % 7}", f"v{i % 3}"] for i in range(30)]
    y = np.arange(30.0) % 5
    weights = (np.arange(30) % 3 + 1.0) if weighted else None
    start = EmbeddingBagRegressor(
        embedding_dim=3, hidden_layer_sizes=(3,), solver="sgd", momentum=0.0,
        batch_size=30, learning_rate_init=1e-10, alpha_embedding=0.0,
        alpha_linear=0.0, max_iter=1, warm_start=True, early_stopping=False,
        random_state=0,
    ).fit(docs, y, sample_weight=weights)  # fmt: skip
    plain, penalised = copy.deepcopy(start), copy.deepcopy(start)
    penalised.set_params(alpha_embedding=2.0)
    plain.fit(docs, y, sample_weight=weights)
    penalised.fit(docs, y, sample_weight=weights)
    total_weight = 30 if weights is None else weights.sum()
    # Every row occurs in the batch but the out-of-vocabulary row, which is zero.
    expected = 2.0 / total_weight * np.sum(start.embeddings_**2)
    assert penalised.loss_ - plain.loss_ == pytest.approx(expected, rel=1e-6)


def test_fit_hands_initialize_the_training_rows_then_runs_max_iter_epochs():
    from sknotes.nodes import MSELoss

    X = np.arange(20.0)[:, None]
    seen = []
    stoppings = {
        "validation": training.ValidationStopping(
            tol=0.0,
            n_iter_no_change=5,
            validation_fraction=0.25,
            random_state=np.random.RandomState(0),
            scorer=lambda y, p, w: r2_score(y, p),
            loss_node=MSELoss(),
        ),  # fmt: skip
        "training loss": training.TrainingLossStopping(tol=0.0, n_iter_no_change=5),
    }
    for name, stopping in stoppings.items():
        loop = training.StochasticLoop(
            network=_LinearNetwork([[1.0]]), loss_node=None, penalty=None,
            optimizers=(None, None), schedule=_Schedule(), stopping=stopping,
            batch_size=5, shuffle=False, max_iter=3,
            random_state=np.random.RandomState(0),
            initialize=seen.append,
            compiled_step=lambda loop: lambda train, indices: 1.0,
        )  # fmt: skip
        with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
            state = loop.fit(training.TrainingData(X, X))
        assert state.n_iter == 3 and state.loss_curve == [1.0] * 3
        # initialize sees the training rows only: the held-out rows are the
        # stopping strategy's.
        (train,) = seen[-1:]
        if name == "validation":
            validation = stopping.validation
            assert train.n_samples == 15 and validation.n_samples == 5
            every_row = np.concatenate([train.y[:, 0], validation.y[:, 0]])
            np.testing.assert_array_equal(np.sort(every_row), X[:, 0])
        else:
            assert train.n_samples == 20
