"""A failed fit, partial_fit or warm start leaves the model exactly as it was.

Failures: bad input, divergence, ``KeyboardInterrupt`` raised inside the training
loop.  A first Ctrl-C (SIGINT) is different by design: it becomes a flag read
between minibatches, so fit stops cleanly with a warning and a usable model.
"""

import signal

import numpy as np
import pytest
from reliability_cases import CASE_IDS, CASES, DOCS, X, Y, state
from sklearn.exceptions import NotFittedError

import sknotes.training
from sknotes.optimizers import SGD, Adam, RowSparseAdam

pytestmark = pytest.mark.usefixtures("quiet_convergence")


def _fitted(make, data, call, **kwargs):
    return make(warm_start=call == "warm_start", batch_size=16, **kwargs).fit(data, Y)


def _call(est, call):
    return est.partial_fit if call == "partial_fit" else est.fit


def _assert_unchanged(est, data, before, prediction):
    assert state(est) == before
    np.testing.assert_array_equal(est.predict(data), prediction)


def _nan_y(data):
    y = Y.copy()
    y[3] = np.nan
    return data, y, None, "NaN"


def _negative_weight(data):
    weight = np.ones(len(Y))
    weight[5] = -1.0
    return data, Y, weight, "(?i)negative"


def _wrong_outputs(data):
    return data, np.c_[Y, Y], None, "output"


def _wrong_length(data):
    return data, Y[:-1], None, "inconsistent numbers of samples"


BAD_INPUTS = [_nan_y, _negative_weight, _wrong_outputs, _wrong_length]


@pytest.mark.parametrize("make, data", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("call", ["fit", "partial_fit", "warm_start"])
@pytest.mark.parametrize("bad", BAD_INPUTS, ids=lambda f: f.__name__[1:])
def test_bad_input_leaves_the_fitted_model_unchanged(make, data, call, bad):
    est = _fitted(make, data, call)
    before, prediction = state(est), est.predict(data)
    X_bad, y_bad, weight, message = bad(data)
    if call == "fit" and bad is _wrong_outputs:
        # A fresh fit may change the number of outputs: it succeeds.
        assert est.fit(X_bad, y_bad).predict(data).shape == (len(Y), 2)
        return
    with pytest.raises(ValueError, match=message):
        _call(est, call)(X_bad, y_bad, sample_weight=weight)
    _assert_unchanged(est, data, before, prediction)


@pytest.mark.parametrize("call", ["partial_fit", "warm_start"])
def test_wrong_n_features_leaves_the_fitted_model_unchanged(call):
    est = _fitted(CASES[0][0], X, call)
    before, prediction = state(est), est.predict(X)
    with pytest.raises(ValueError, match="features"):
        _call(est, call)(X[:, :3], Y)
    _assert_unchanged(est, X, before, prediction)


@pytest.mark.parametrize("make, data", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("call", ["partial_fit", "warm_start"])
def test_divergence_leaves_the_fitted_model_unchanged(make, data, call):
    # Early stopping (EmbeddingBagRegressor's default) would restore the last
    # finite parameters instead of failing.
    est = _fitted(make, data, call, solver="sgd", early_stopping=False)
    before, prediction = state(est), est.predict(data)
    est.set_params(learning_rate_init=1e12)
    with pytest.raises(ValueError, match="non-finite|not finite"):
        _call(est, call)(data, Y * 1e150)
    est.set_params(learning_rate_init=0.001)  # the parameter, not fitted state
    _assert_unchanged(est, data, before, prediction)


@pytest.mark.parametrize("make, data", CASES, ids=CASE_IDS)
def test_divergent_first_fit_leaves_the_estimator_unfitted(make, data):
    est = make(solver="sgd", learning_rate_init=1e12, early_stopping=False)
    with pytest.raises(ValueError, match="non-finite|not finite"):
        est.fit(data, Y * 1e150)
    with pytest.raises(NotFittedError):
        est.predict(data)
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]


def _interrupt_on_call(monkeypatch, cls, n):
    """Make ``cls.step`` raise KeyboardInterrupt on its n-th call, after stepping."""
    original, calls = cls.step, []

    def step(self, *args):
        original(self, *args)
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt

    monkeypatch.setattr(cls, "step", step)
    return calls


@pytest.mark.parametrize(
    "make, data, optimizer",
    [
        (*CASES[0], Adam),
        (*CASES[1], Adam),
        (*CASES[1], RowSparseAdam),
        (*CASES[0], SGD),
    ],
    ids=["mlp-adam", "bag-adam", "bag-rowsparse", "mlp-sgd"],
)
@pytest.mark.parametrize("call", ["partial_fit", "warm_start"])
@pytest.mark.parametrize("nth", [1, 3])
def test_interrupt_inside_the_loop_restores_the_previous_model(
    make, data, optimizer, call, nth, monkeypatch
):
    solver = "sgd" if optimizer is SGD else "adam"
    est = _fitted(make, data, call, solver=solver)
    before, prediction = state(est), est.predict(data)
    calls = _interrupt_on_call(monkeypatch, optimizer, nth)
    with pytest.raises(KeyboardInterrupt):
        _call(est, call)(data, Y)
    assert len(calls) == nth  # the parameters had moved before the interrupt
    _assert_unchanged(est, data, before, prediction)
    monkeypatch.undo()
    # The restored model still trains: its parameters are tied to the network.
    _call(est, call)(data, Y)
    assert state(est) != before


def test_interrupt_inside_lbfgs_restores_the_previous_model(monkeypatch):
    make, data = CASES[0]  # only the MLP has L-BFGS
    est = make(solver="lbfgs", warm_start=True).fit(data, Y)
    before, prediction = state(est), est.predict(data)
    original, calls = sknotes.training.loss_and_backward, []

    def loss_then_interrupt(*args):
        result = original(*args)
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(sknotes.training, "loss_and_backward", loss_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.fit(data, Y)
    _assert_unchanged(est, data, before, prediction)


@pytest.mark.parametrize("make, data", CASES, ids=CASE_IDS)
def test_failed_first_fit_leaves_the_estimator_unfitted(make, data, monkeypatch):
    est = make(batch_size=16)
    _interrupt_on_call(monkeypatch, Adam, 2)
    with pytest.raises(KeyboardInterrupt):
        est.fit(data, Y)
    with pytest.raises(NotFittedError):
        est.predict(data)
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]


def _sigint_on_call(monkeypatch, n, times=1):
    original, calls = Adam.step, []

    def step(self, *args):
        original(self, *args)
        calls.append(1)
        if len(calls) == n:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(Adam, "step", step)
    return calls


@pytest.mark.parametrize("make, data", CASES, ids=CASE_IDS)
def test_first_ctrl_c_stops_cleanly_with_a_usable_model(make, data, monkeypatch):
    est = make(batch_size=16, max_iter=50, tol=0.0)
    calls = _sigint_on_call(monkeypatch, 7)
    with pytest.warns(UserWarning, match="interrupted"):
        est.fit(data, Y)
    assert len(calls) == 7  # stopped right after the batch that saw Ctrl-C
    assert est.n_iter_ == 1  # the interrupted epoch is not counted
    assert np.isfinite(est.predict(data)).all()
    # The handler was restored: SIGINT is an ordinary KeyboardInterrupt again.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("make, data", CASES, ids=CASE_IDS)
def test_second_ctrl_c_restores_the_previous_model(make, data, monkeypatch):
    est = _fitted(make, data, "warm_start")
    before, prediction = state(est), est.predict(data)
    _sigint_on_call(monkeypatch, 2, times=2)
    with pytest.raises(KeyboardInterrupt):
        est.fit(data, Y)
    _assert_unchanged(est, data, before, prediction)


def test_predict_on_an_unfitted_model_is_a_clear_error():
    for make, data in CASES:
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


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_interrupted_partial_fit_restores_the_journaled_rows(solver, monkeypatch):
    """Rows touched by several batches keep their value from before the call."""
    make, data = CASES[1]
    est = make(solver=solver, batch_size=8).partial_fit(data, Y)
    optimizer = type(est._optimizers[1])
    moments = [a.copy() for a in est._optimizers[1].row_state()]
    before, prediction = state(est), est.predict(data)
    _interrupt_on_call(monkeypatch, optimizer, 5)
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(data, Y)
    _assert_unchanged(est, data, before, prediction)
    for old, new in zip(moments, est._optimizers[1].row_state(), strict=True):
        np.testing.assert_array_equal(old, new)
