"""A failed fit, partial_fit or warm start leaves the model exactly as it was.

Failures: bad input, divergence, ``KeyboardInterrupt`` raised inside the training
loop, a second Ctrl-C.  A first Ctrl-C (SIGINT) is different by design: it becomes a
flag read between minibatches (between the MLP's compiled calls of several), so fit
stops cleanly with a warning and a usable model.  Every test of divergence and of
Ctrl-C is here, for all four estimators.
"""

import signal
import warnings

import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import sknotes._dense_kernel
import sknotes._training
from sknotes import nodes
from sknotes._bag_kernel import CompiledBagStep
from sknotes._dense_kernel import CompiledDenseStep
from sknotes._optimizers import SGD, Adam, RowSparseAdam, RowSparseSGD
from tests.reliability_cases import (
    ALL_CASE_IDS,
    ALL_CASES,
    CASES,
    CLASSIFIER_CASE_IDS,
    CLASSIFIER_CASES,
    DOCS,
    X,
    Y,
    make_bag_classifier,
    make_mlp_classifier,
    parameters,
    state,
    target,
)

pytestmark = pytest.mark.usefixtures("quiet_convergence")


def _fitted(make, data, call, **kwargs):
    return make(warm_start=call == "warm_start", batch_size=16, **kwargs).fit(
        data, target(make)
    )


def _call(est, call):
    return est.partial_fit if call == "partial_fit" else est.fit


def _assert_unchanged(est, data, before, prediction):
    assert state(est) == before
    np.testing.assert_array_equal(est.predict(data), prediction)


def _nan_y(data, y):
    y = y.astype(float)
    y[3] = np.nan
    return data, y, None, "NaN"


def _negative_weight(data, y):
    weight = np.ones(len(y))
    weight[5] = -1.0
    return data, y, weight, "(?i)negative"


def _wrong_outputs(data, y):
    # Two columns of classes: scikit-learn's MLPClassifier words it the same way.
    return data, np.c_[y, y], None, "output|Unknown label type"


def _wrong_length(data, y):
    return data, y[:-1], None, "inconsistent numbers of samples"


BAD_INPUTS = [_nan_y, _negative_weight, _wrong_outputs, _wrong_length]


@pytest.mark.parametrize("make, data", ALL_CASES, ids=ALL_CASE_IDS)
@pytest.mark.parametrize("call", ["fit", "partial_fit", "warm_start"])
@pytest.mark.parametrize("bad", BAD_INPUTS, ids=lambda f: f.__name__[1:])
def test_bad_input_leaves_the_fitted_model_unchanged(make, data, call, bad):
    est = _fitted(make, data, call)
    before, prediction = state(est), est.predict(data)
    X_bad, y_bad, weight, message = bad(data, target(make))
    if call == "fit" and bad is _wrong_outputs and not is_classifier(est):
        # A fresh fit may change the number of outputs: it succeeds.  Two columns of
        # classes (multiclass-multioutput) is refused, as by MLPClassifier.
        assert est.fit(X_bad, y_bad).predict(data).shape == (len(Y), 2)
        return
    with pytest.raises(ValueError, match=message):
        _call(est, call)(X_bad, y_bad, sample_weight=weight)
    _assert_unchanged(est, data, before, prediction)


@pytest.mark.parametrize("make, data", CLASSIFIER_CASES, ids=CLASSIFIER_CASE_IDS)
@pytest.mark.parametrize("call", ["partial_fit", "warm_start"])
def test_unseen_classes_leave_the_fitted_model_unchanged(make, data, call):
    est = _fitted(make, data, call)
    before, prediction = state(est), est.predict(data)
    with pytest.raises(ValueError, match="(?i)class"):
        _call(est, call)(data, target(make) + 7)
    _assert_unchanged(est, data, before, prediction)


@pytest.mark.parametrize("make", [CASES[0][0], make_mlp_classifier])
@pytest.mark.parametrize("call", ["partial_fit", "warm_start"])
def test_wrong_n_features_leaves_the_fitted_model_unchanged(make, call):
    est = _fitted(make, X, call)
    before, prediction = state(est), est.predict(X)
    with pytest.raises(ValueError, match="features"):
        _call(est, call)(X[:, :3], target(make))
    _assert_unchanged(est, X, before, prediction)


# -- divergence -----------------------------------------------------------------
# scikit-learn's wording for a step that made the parameters non-finite; ours for
# finite parameters whose loss overflows (huge logits of a classifier).
DIVERGED = (
    "Solver produced non-finite parameter weights"
    "|The training loss is not finite: the solver diverged"
)


def _assert_still_tied(est):
    """The public arrays are still views of the network's own parameters."""
    assert np.shares_memory(est.coefs_[0], est._network.theta)
    if hasattr(est, "embeddings_"):
        assert np.shares_memory(est.embeddings_, est._network.table)


def _exploding_target(make):
    """Targets on which a learning rate of 1e100 overflows the parameters: huge
    regression targets; the classes as they are (the hidden ReLUs explode)."""
    return target(make) if is_classifier(make()) else Y * 1e150


@pytest.mark.parametrize("make, data", ALL_CASES, ids=ALL_CASE_IDS)
@pytest.mark.parametrize("call", ["partial_fit", "warm_start"])
def test_divergence_leaves_the_fitted_model_unchanged(make, data, call):
    # Early stopping (EmbeddingBagRegressor's default) would restore the last
    # finite parameters instead of failing.
    est = _fitted(make, data, call, solver="sgd", early_stopping=False)
    before, prediction = state(est), est.predict(data)
    est.set_params(learning_rate_init=1e100)
    with pytest.raises(ValueError, match=DIVERGED):
        _call(est, call)(data, _exploding_target(make))
    est.set_params(learning_rate_init=0.001)  # the parameter, not fitted state
    _assert_unchanged(est, data, before, prediction)
    _assert_still_tied(est)


def test_an_overflowing_loss_with_finite_weights_is_refused():
    # Weights near 1e150 are finite; the logits they give, and the loss, are not.
    # (A configuration found to end there: mean pooling, no linear path.)
    est = _fitted(
        make_bag_classifier,
        DOCS,
        "partial_fit",
        solver="sgd",
        pooling="mean",
        linear_path=False,
        alpha_embedding=0.0,
        early_stopping=False,
        learning_rate_init=0.01,
    )
    before, prediction = state(est), est.predict(DOCS)
    est.set_params(learning_rate_init=1e12)
    with pytest.raises(ValueError, match="The training loss is not finite"):
        est.partial_fit(DOCS, target(make_bag_classifier))
    _assert_unchanged(est, DOCS, before, prediction)


@pytest.mark.parametrize("make, data", ALL_CASES, ids=ALL_CASE_IDS)
def test_divergence_with_early_stopping_keeps_the_best_finite_weights(make, data):
    est = make(
        solver="sgd",
        learning_rate_init=1e6,
        momentum=0.0,
        batch_size=8,
        early_stopping=True,
        # At least 10 held-out documents: EmbeddingBagRegressor stops early only then.
        validation_fraction=0.25,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        est.fit(data, _exploding_target(make) if is_classifier(est) else Y * 1e3)
    assert np.isnan(est.validation_scores_[-1])
    assert all(np.isfinite(p).all() for p in parameters(est))
    assert np.isfinite(est.predict(data)).all()


# -- a first fit that fails ---------------------------------------------------------
def _diverge(est, make, data, monkeypatch):
    est.set_params(solver="sgd", learning_rate_init=1e100, early_stopping=False)
    with pytest.raises(ValueError, match=DIVERGED):
        est.fit(data, _exploding_target(make))


def _raise_keyboard_interrupt(est, make, data, monkeypatch):
    _interrupt_on_call(monkeypatch, Adam, 2)
    with pytest.raises(KeyboardInterrupt):
        est.fit(data, target(make))


def _press_ctrl_c_twice(est, make, data, monkeypatch):
    _sigint_on_call(monkeypatch, 2, times=2)
    with pytest.raises(KeyboardInterrupt):
        est.fit(data, target(make))


@pytest.mark.parametrize("make, data", ALL_CASES, ids=ALL_CASE_IDS)
@pytest.mark.parametrize(
    "fail",
    [_diverge, _raise_keyboard_interrupt, _press_ctrl_c_twice],
    ids=lambda f: f.__name__[1:],
)
def test_failed_first_fit_leaves_the_estimator_unfitted(make, data, fail, monkeypatch):
    est = make(batch_size=16)
    fail(est, make, data, monkeypatch)
    with pytest.raises(NotFittedError):
        est.predict(data)
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]


# -- KeyboardInterrupt inside the loop -------------------------------------------------
def _after_each_step(monkeypatch, cls, action):
    """Run ``action()`` after each ``cls.step`` and after each compiled step
    (the embedding bag's and the MLP's one-loop steps, which run every
    optimizer's step); the MLP's compiled step runs one batch per call."""
    monkeypatch.setattr(CompiledDenseStep, "run_batches", None)
    for owner, name in (
        (cls, "step"),
        (CompiledBagStep, "__call__"),
        (CompiledDenseStep, "__call__"),
    ):
        original = getattr(owner, name)

        def step(self, *args, original=original):
            result = original(self, *args)
            action()
            return result

        monkeypatch.setattr(owner, name, step)


def _interrupt_on_call(monkeypatch, cls, n):
    """Make ``cls.step`` raise KeyboardInterrupt on its n-th call, after stepping."""
    calls = []

    def count_then_interrupt():
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt

    _after_each_step(monkeypatch, cls, count_then_interrupt)
    return calls


@pytest.mark.parametrize(
    "make, data, optimizer",
    [
        (*CASES[0], Adam),
        (*CASES[1], Adam),
        (*CASES[1], RowSparseAdam),
        (*CASES[1], RowSparseSGD),
        (*CASES[0], SGD),
        (make_mlp_classifier, X, Adam),
        (make_bag_classifier, DOCS, RowSparseAdam),
    ],
    ids=[
        "mlp-adam",
        "bag-adam",
        "bag-rowsparse-adam",
        "bag-rowsparse-sgd",
        "mlp-sgd",
        "mlp-classifier-adam",
        "bag-classifier-rowsparse-adam",
    ],
)
@pytest.mark.parametrize("call", ["partial_fit", "warm_start"])
@pytest.mark.parametrize("nth", [1, 3, 5])
def test_interrupt_inside_the_loop_restores_the_previous_model(
    make, data, optimizer, call, nth, monkeypatch
):
    solver = "sgd" if optimizer in (SGD, RowSparseSGD) else "adam"
    est = _fitted(make, data, call, solver=solver)
    before, prediction = state(est), est.predict(data)
    # A table's optimizer state is journaled by rows: rows touched by several
    # batches keep their value from before the call.
    table_optimizer = est._optimizers[1] if len(est._optimizers) > 1 else None
    moments = [] if table_optimizer is None else table_optimizer.row_state()
    moments = [a.copy() for a in moments]
    calls = _interrupt_on_call(monkeypatch, optimizer, nth)
    with pytest.raises(KeyboardInterrupt):
        _call(est, call)(data, target(make))
    assert len(calls) == nth  # the parameters had moved before the interrupt
    _assert_unchanged(est, data, before, prediction)
    if table_optimizer is not None:
        restored = est._optimizers[1].row_state()
        assert len(restored) == len(moments)
        for old, new in zip(moments, restored, strict=True):
            np.testing.assert_array_equal(old, new)
    monkeypatch.undo()
    # The restored model still trains: its parameters are tied to the network.
    _call(est, call)(data, target(make))
    assert state(est) != before


@pytest.mark.parametrize("make", [CASES[0][0], make_mlp_classifier])
def test_interrupt_inside_lbfgs_restores_the_previous_model(make, monkeypatch):
    data = X  # only the MLPs have L-BFGS
    est = make(solver="lbfgs", warm_start=True).fit(data, target(make))
    before, prediction = state(est), est.predict(data)
    original, calls = sknotes._training.loss_and_backward, []

    def loss_then_interrupt(*args):
        result = original(*args)
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(sknotes._training, "loss_and_backward", loss_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.fit(data, target(make))
    _assert_unchanged(est, data, before, prediction)


# -- Ctrl-C (SIGINT) ---------------------------------------------------------------
def _sigint_on_call(monkeypatch, n, times=1, cls=Adam):
    """Press Ctrl-C ``times`` times right after the n-th step of ``cls``."""
    calls = []

    def count_then_press():
        calls.append(1)
        if len(calls) == n:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)

    _after_each_step(monkeypatch, cls, count_then_press)
    return calls


def _sigint_after_epoch(monkeypatch, epoch):
    """Press Ctrl-C once, after the stochastic loop's epoch ``epoch`` (from 0)."""
    original = sknotes._training.StochasticLoop.end_epoch

    def end_epoch(self, fit_state, loss):
        stop = original(self, fit_state, loss)
        if fit_state.n_iter - 1 == epoch:
            signal.raise_signal(signal.SIGINT)
        return stop

    monkeypatch.setattr(sknotes._training.StochasticLoop, "end_epoch", end_epoch)


@pytest.mark.parametrize("make, data", ALL_CASES, ids=ALL_CASE_IDS)
@pytest.mark.parametrize(
    "solver, early_stopping", [("sgd", False), ("adam", False), ("adam", True)]
)
@pytest.mark.parametrize("when", ["first-step", "mid-epoch", "epoch-end"])
def test_first_ctrl_c_stops_cleanly_with_a_usable_model(
    make, data, solver, early_stopping, when, monkeypatch
):
    handler = signal.getsignal(signal.SIGINT)
    est = make(
        solver=solver,
        early_stopping=early_stopping,
        batch_size=16,
        max_iter=50,
        tol=0.0,
    )
    # Ctrl-C after the nth step, in epoch n_iter (at most 5 batches of 16 an epoch):
    # the interrupted epoch is not counted; in the first, no loss is reported.
    nth, n_iter = {"first-step": (1, 0), "mid-epoch": (7, 1)}.get(when, (None, None))
    if nth is not None:
        calls = _sigint_on_call(monkeypatch, nth, cls=SGD if solver == "sgd" else Adam)
    else:
        _sigint_after_epoch(monkeypatch, 1)
    with pytest.warns(UserWarning, match=r"^Training interrupted by user\.$"):
        est.fit(data, target(make))
    if nth is not None:
        assert len(calls) == nth  # stopped right after the batch that saw Ctrl-C
        assert est.n_iter_ == n_iter
    else:
        assert est.n_iter_ == 2  # the epoch that saw Ctrl-C ended normally
    assert len(est.loss_curve_) == est.n_iter_
    # The handler was restored: SIGINT is an ordinary KeyboardInterrupt again.
    assert signal.getsignal(signal.SIGINT) is handler is signal.default_int_handler
    assert all(np.isfinite(p).all() for p in parameters(est))
    assert np.isfinite(est.predict(data)).all()
    # The interrupted model is a normal one: training can go on.
    monkeypatch.undo()
    est.set_params(warm_start=True, max_iter=2).fit(data, target(make))
    assert est.n_iter_ == 2


@pytest.mark.parametrize("make, data", ALL_CASES, ids=ALL_CASE_IDS)
@pytest.mark.parametrize("call", ["partial_fit", "warm_start"])
def test_second_ctrl_c_restores_the_previous_model(make, data, call, monkeypatch):
    est = _fitted(make, data, call)
    before, prediction = state(est), est.predict(data)
    _sigint_on_call(monkeypatch, 2, times=2)
    with pytest.raises(KeyboardInterrupt):
        _call(est, call)(data, target(make))
    _assert_unchanged(est, data, before, prediction)


@pytest.mark.parametrize("times", [1, 2])
def test_ctrl_c_between_the_mlps_calls_of_several_batches(times, monkeypatch):
    """Without sample weights the MLP's compiled step runs several batches per
    call (here 2, of an epoch's 5), and the flag is read after each call.  Once:
    the fit stops after the call that saw it, with its steps taken and the
    epoch not counted; twice: the previous model is restored."""
    monkeypatch.setattr(sknotes._dense_kernel, "_BATCHES_PER_CALL", 2)
    if times == 1:
        est = make_mlp_classifier(batch_size=16, max_iter=50, tol=0.0)
    else:
        est = _fitted(make_mlp_classifier, X, "warm_start")
        before, prediction = state(est), est.predict(X)
    calls, original = [], CompiledDenseStep._run_chunk

    def run_chunk_then_press(self, *args):
        losses = original(self, *args)
        calls.append(len(losses))
        if len(calls) == 2:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)
        return losses

    monkeypatch.setattr(CompiledDenseStep, "_run_chunk", run_chunk_then_press)
    if times == 2:
        with pytest.raises(KeyboardInterrupt):
            est.fit(X, target(make_mlp_classifier))
        _assert_unchanged(est, X, before, prediction)
        return
    with pytest.warns(UserWarning, match=r"^Training interrupted by user\.$"):
        est.fit(X, target(make_mlp_classifier))
    assert calls == [2, 2]
    assert est._reference_reason is None
    assert est._optimizers[0].steps.t == 4  # Adam's steps: the two calls' batches
    assert est.n_iter_ == 0 and est.loss_curve_ == []
    assert np.isfinite(est.predict_proba(X)).all()


def test_ctrl_c_during_lbfgs_stops_at_the_current_iterate(monkeypatch):
    make, data = CASES[0]  # only the MLP has L-BFGS
    settings = dict(solver="lbfgs", alpha=0.0, max_iter=300, tol=0.0)
    full = make(**settings).fit(data, Y)
    calls = []
    original = nodes.MSELoss.forward

    def press_ctrl_c_at_the_tenth_evaluation(self, *args):
        calls.append(original(self, *args))
        if len(calls) == 10:
            signal.raise_signal(signal.SIGINT)
        return calls[-1]

    monkeypatch.setattr(nodes.MSELoss, "forward", press_ctrl_c_at_the_tenth_evaluation)
    handler = signal.getsignal(signal.SIGINT)
    est = make(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a stop, not a failure
        with pytest.warns(UserWarning, match="Training interrupted by user."):
            est.fit(data, Y)
    assert signal.getsignal(signal.SIGINT) is handler
    assert est.n_iter_ < full.n_iter_  # stopped after the current iteration
    # loss_ is the notes' MSE (alpha=0) at the parameters kept: the iterate reached,
    # not the start.
    mse = np.mean((est.predict(data) - Y) ** 2)
    assert est.loss_ == pytest.approx(mse, rel=1e-10)
    assert est.loss_ < calls[0]


def test_predict_on_an_unfitted_model_is_a_clear_error():
    for make, data in ALL_CASES:
        with pytest.raises(NotFittedError, match="not fitted"):
            make().predict(data)
    with pytest.raises(NotFittedError):
        CASES[1][0]().transform(DOCS)


def test_partial_fit_journals_rows_instead_of_copying_the_table():
    """A successful call allocates in proportion to the rows it touches."""
    import tracemalloc

    from sknotes import EmbeddingBagRegressor

    docs = [[f"w{i}", f"w{i + 1}"] for i in range(20)]
    y = np.arange(20.0)
    est = EmbeddingBagRegressor(embedding_dim=16, n_buckets=2**16, random_state=0)
    est.partial_fit(docs, y)
    est.partial_fit(docs, y)  # buffers of the first calls
    table_bytes = est.embeddings_.nbytes
    tracemalloc.start()
    est.partial_fit(docs, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # The table and Adam's two moments would be 3 × table_bytes.
    assert peak < table_bytes / 4
