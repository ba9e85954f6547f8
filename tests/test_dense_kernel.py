"""The compiled MLP train step against the reference step it replaces."""

import copy
import functools

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_regression
from threadpoolctl import ThreadpoolController, threadpool_limits

from sknotes import MLPClassifierFromNotes, MLPRegressorFromNotes
from sknotes import _dense_kernel as dense_kernel
from sknotes._network import predict
from sknotes.gradcheck import gradcheck

numba = pytest.importorskip("numba")
if dense_kernel._compiled() is None:
    pytest.skip(
        "numba is turned off (SKNOTES_NUMBA=0 or NUMBA_DISABLE_JIT)",
        allow_module_level=True,
    )
pytestmark = pytest.mark.usefixtures("quiet_convergence")

# 530 rows in batches of 64: the last batch (18 rows) is smaller.
N_SAMPLES, BATCH = 530, 64


def _task(task, dtype=np.float64):
    """``(estimator class, X, y)``: a regression (one or two outputs), binary or
    multiclass problem in ``dtype``."""
    if task.startswith("regression"):
        X, y = make_regression(
            n_samples=N_SAMPLES, n_features=7, noise=1.0, random_state=0
        )
        y = y / y.std()
        if task == "regression2":
            y = np.c_[y, -(y**2) / 4]
        return MLPRegressorFromNotes, X.astype(dtype), y.astype(dtype)
    X, y = make_classification(
        n_samples=N_SAMPLES,
        n_features=7,
        n_informative=5,
        n_classes=3 if task == "multiclass" else 2,
        random_state=0,
    )
    return MLPClassifierFromNotes, X.astype(dtype), y


def _weights(dtype):
    return np.random.default_rng(0).uniform(0.2, 2.0, N_SAMPLES).astype(dtype)


def _reference(monkeypatch):
    """Run the block on the reference step, as without numba."""
    monkeypatch.setattr(dense_kernel, "_COMPILED", False)


def _optimizer_state(model):
    dense = model._optimizers[0]
    return [
        getattr(dense, name)
        for name in ("m", "v", "velocity")
        if getattr(dense, name, None) is not None
    ]


def _fit_both_ways(monkeypatch, model, X, y, sample_weight=None):
    """``model`` fitted on the compiled step, and a copy on the reference step."""
    compiled = copy.deepcopy(model).fit(X, y, sample_weight=sample_weight)
    with monkeypatch.context() as patch:
        _reference(patch)
        reference = copy.deepcopy(model).fit(X, y, sample_weight=sample_weight)
    assert compiled._reference_reason is None
    assert reference._reference_reason is not None
    return compiled, reference


# Cached on disk like the kernels: a closure would compile anew in every process.
@numba.njit(cache=True)
def _products(A, W, G, ones, S, grad_W, grad_X, grad_b):
    np.dot(A, W, S)
    np.dot(A.T, G, grad_W)
    np.dot(G, W.T, grad_X)
    np.dot(ones, G, grad_b)


@functools.cache
def _same_products():
    """Whether the kernel's products (numba's np.dot: scipy's OpenBLAS) give
    numpy's matmul bits (numpy's OpenBLAS) for the tests' shapes.

    Both are OpenBLAS builds that pick their kernels by CPU; on this project's
    machines they pick the same ones.  Where they do not, the fits agree to
    rounding only, and the tests say so by comparing with a tolerance.
    """
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        for n, a, u in [(BATCH, 7, 9), (18, 9, 8), (BATCH, 8, 5), (BATCH, 6, 3)]:
            A, W, G = (
                rng.standard_normal(shape).astype(dtype)
                for shape in [(n, a), (a, u), (n, u)]
            )
            ones = np.ones(n, dtype)
            ours = [np.empty((n, u), dtype), np.empty((a, u), dtype)]
            ours += [np.empty((n, a), dtype), np.empty(u, dtype)]
            _products(A, W, G, ones, *ours)
            theirs = [A @ W, A.T @ G, G @ W.T, ones @ G]
            if not all(map(np.array_equal, ours, theirs)):
                return False
    return True


def _assert_same_fit(compiled, reference):
    """Parameters, optimizer moments and loss curve, bit for bit (to rounding
    where the two OpenBLAS builds differ: see _same_products)."""
    pairs = [(compiled._network.theta, reference._network.theta)]
    pairs += zip(_optimizer_state(compiled), _optimizer_state(reference), strict=True)
    pairs += [(compiled.loss_curve_, reference.loss_curve_)]
    for ours, theirs in pairs:
        if _same_products():
            assert_array_equal(ours, theirs)
        else:
            assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    assert compiled.t_ == reference.t_


def test_the_blas_builds_agree_here():
    """On this project's machines the bit-for-bit comparisons below are made."""
    assert _same_products()


@pytest.mark.parametrize("task", ["regression", "regression2", "binary", "multiclass"])
@pytest.mark.parametrize("hidden_layer_sizes", [(), (1,), (9,), (6, 1, 4), (8, 5)])
@pytest.mark.parametrize("activation", ["relu", "identity", "logistic"])
def test_fit_equals_the_reference_bit_for_bit(
    monkeypatch, activation, hidden_layer_sizes, task
):
    """Gather, forward, loss, backward, L2 term and Adam: three epochs whose last
    batch is smaller, in float64 with sample weights and in float32 without.
    Every operation is the reference's in its order (the products are the same
    OpenBLAS kernels), so the fits agree bit for bit.  The hidden sizes take
    every path of Network.backward: no hidden layer, a one-unit output after a
    fused ReLU, a one-unit hidden layer, fused ReLUs throughout."""
    for dtype, weighted in [(np.float64, True), (np.float32, False)]:
        estimator, X, y = _task(task, dtype)
        model = estimator(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            alpha=0.01,
            batch_size=BATCH,
            max_iter=3,
            random_state=0,
        )
        compiled, reference = _fit_both_ways(
            monkeypatch, model, X, y, _weights(dtype) if weighted else None
        )
        assert compiled._network.dtype == dtype
        _assert_same_fit(compiled, reference)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "solver, momentum, nesterov, learning_rate, alpha",
    [
        ("sgd", 0.9, True, "constant", 0.01),
        ("sgd", 0.9, False, "invscaling", 0.01),
        ("sgd", 0.0, True, "constant", 0.0),
        ("adam", 0.9, True, "constant", 0.0),
    ],
)
@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_optimizers_equal_the_reference_bit_for_bit(
    monkeypatch, task, solver, momentum, nesterov, learning_rate, alpha, dtype
):
    """SGD with Nesterov's momentum, plain momentum (and a learning rate that
    decays between epochs), no momentum, and no L2 term."""
    estimator, X, y = _task(task, dtype)
    model = estimator(
        hidden_layer_sizes=(8, 5),
        solver=solver,
        momentum=momentum,
        nesterovs_momentum=nesterov,
        learning_rate=learning_rate,
        learning_rate_init=0.01,
        alpha=alpha,
        batch_size=BATCH,
        max_iter=3,
        random_state=0,
    )
    # Weighted: one batch per compiled call; unweighted: several.
    for weights in (_weights(dtype), None):
        _assert_same_fit(*_fit_both_ways(monkeypatch, model, X, y, weights))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("task", ["regression2", "multiclass"])
def test_batches_split_into_calls_equal_the_reference(monkeypatch, task, solver):
    """Three batches per compiled call: each epoch's 9 batches (8 of 64, then
    18 rows) take 4 calls (3, 3, 2, then the smaller one), and the fit is the
    reference's, bit for bit, L2 term included."""
    monkeypatch.setattr(dense_kernel, "_BATCHES_PER_CALL", 3)
    calls = []
    original = dense_kernel._COMPILED_BATCHES

    def counting(*args):
        calls.append(args[-1].shape[0])  # the batches of the call
        return original(*args)

    monkeypatch.setattr(dense_kernel, "_COMPILED_BATCHES", counting)
    estimator, X, y = _task(task, np.float32)
    model = estimator(
        hidden_layer_sizes=(6,),
        solver=solver,
        alpha=0.01,
        batch_size=BATCH,
        max_iter=3,
        random_state=0,
    )
    _assert_same_fit(*_fit_both_ways(monkeypatch, model, X, y))
    assert calls == [3, 3, 2, 1] * 3


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_continued_fits_equal_the_reference(monkeypatch, task):
    """partial_fit and warm starts continue the optimizer's state (Adam's step
    count, the moments) as the reference does; early stopping trains on the
    rows it did not hold out."""
    estimator, X, y = _task(task)
    params = dict(hidden_layer_sizes=(6,), batch_size=BATCH, random_state=0)
    fits = []
    for path in ("compiled", "reference"):
        with monkeypatch.context() as patch:
            if path == "reference":
                _reference(patch)
            model = estimator(max_iter=2, warm_start=True, **params).fit(X, y)
            model.fit(X, y)
            if task == "regression":
                model.partial_fit(X, y)
            else:
                model.partial_fit(X, y, classes=np.unique(y))
            stopped = estimator(early_stopping=True, n_iter_no_change=2, **params).fit(
                X, y
            )
        fits.append((model, stopped))
    for compiled, reference in zip(*fits, strict=True):
        _assert_same_fit(compiled, reference)
        assert compiled.validation_scores_ == reference.validation_scores_


def test_data_the_kernel_does_not_take_trains_on_the_reference(monkeypatch):
    """Sparse and Fortran-ordered X, and a batch whose weights are all zero, go
    to the reference step; the fits equal the reference's."""
    _, X, y = _task("regression")
    sample_weight = _weights(np.float64)
    sample_weight[:BATCH] = 0.0  # the first batch of an unshuffled epoch
    model = MLPRegressorFromNotes(
        hidden_layer_sizes=(6,),
        shuffle=False,
        batch_size=BATCH,
        max_iter=2,
        random_state=0,
    )
    calls = []
    original = dense_kernel.CompiledDenseStep.__call__

    def counting(step, train, indices):
        loss = original(step, train, indices)
        calls.append(step._takes_data)
        return loss

    monkeypatch.setattr(dense_kernel.CompiledDenseStep, "__call__", counting)
    for inputs, weights in [
        (sp.csr_matrix(X), None),
        (np.asfortranarray(X), None),
        (X, sample_weight),
    ]:
        calls.clear()
        compiled, reference = _fit_both_ways(monkeypatch, model, inputs, y, weights)
        _assert_same_fit(compiled, reference)
        assert calls and all(calls) == (weights is not None)


@pytest.mark.parametrize(
    "estimator, activation",
    [(MLPRegressorFromNotes, "logistic"), (MLPClassifierFromNotes, "relu")],
)
def test_step_gradients_pass_gradcheck(monkeypatch, estimator, activation):
    """The compiled step's grad_W and grad_b of every layer against central
    finite differences of the batch loss at the parameters it started from (no
    penalty, so the gradient is the loss's alone)."""
    regressor = estimator is MLPRegressorFromNotes
    _, X, y = _task("regression" if regressor else "multiclass")
    model = estimator(
        hidden_layer_sizes=(5, 4),
        activation=activation,
        alpha=0.0,
        batch_size=50,
        max_iter=1,
        random_state=0,
    ).fit(X, y)
    network = model._network
    captured = {}
    original = dense_kernel.CompiledDenseStep.__call__

    def capturing(step, train, indices):
        start = network.theta.copy()
        loss = original(step, train, indices)
        if "grad" not in captured:
            captured.update(
                start=start, loss=loss, grad=network.grad.copy(),
                batch=train.batch(indices),
            )  # fmt: skip
        return loss

    monkeypatch.setattr(dense_kernel.CompiledDenseStep, "__call__", capturing)
    # One batch per compiled call, through __call__.
    monkeypatch.setattr(dense_kernel.CompiledDenseStep, "run_batches", None)
    model.partial_fit(X, y)
    assert model._reference_reason is None
    network.theta[...] = captured["start"]
    X_batch, Y_batch, _ = captured["batch"]
    loss_node = model._loss_node()

    def loss():
        S = predict(X_batch, network.coefs, network.intercepts, activation, "identity")
        return loss_node.forward(S, Y_batch)

    assert loss() == pytest.approx(captured["loss"], rel=1e-12)
    gradcheck(loss, network.theta, captured["grad"], eps=1e-5)


@pytest.mark.parametrize(
    "params, reason",
    [
        ({}, None),
        ({"activation": "tanh"}, "tanh"),
        ({"loss": "poisson"}, "loss"),
    ],
)
def test_which_path_ran(params, reason):
    _, X, y = _task("regression")
    model = MLPRegressorFromNotes(hidden_layer_sizes=(4,), max_iter=1, **params)
    model.fit(X, np.abs(y))
    if reason is None:
        assert model._reference_reason is None
    else:
        assert reason in model._reference_reason


def test_without_numba_the_reference_runs(monkeypatch):
    _reference(monkeypatch)
    _, X, y = _task("regression")
    model = MLPRegressorFromNotes(hidden_layer_sizes=(4,), max_iter=1).fit(X, y)
    assert model._reference_reason == "numba is not installed (or SKNOTES_NUMBA=0)"


def test_same_seed_same_bits():
    _, X, y = _task("multiclass", np.float32)
    params = dict(hidden_layer_sizes=(8,), batch_size=BATCH, max_iter=3)
    first = MLPClassifierFromNotes(random_state=3, **params).fit(X, y)
    again = MLPClassifierFromNotes(random_state=3, **params).fit(X, y)
    other = MLPClassifierFromNotes(random_state=4, **params).fit(X, y)
    assert first._reference_reason is None
    _assert_same_fit(first, again)
    assert not np.array_equal(first._network.theta, other._network.theta)


def test_threadpoolctl_limits_the_blas_the_kernel_calls():
    """numba's products call scipy's OpenBLAS (through scipy.linalg.cython_blas),
    not numpy's: threadpoolctl must see that library and limit it, as the
    benchmark's ``--threads 1`` and the suite's conftest expect."""
    scipy_blas = [
        lib
        for lib in ThreadpoolController().select(user_api="blas").lib_controllers
        if "scipy" in lib.filepath
    ]
    assert scipy_blas
    with threadpool_limits(1, user_api="blas"):
        assert all(lib.get_num_threads() == 1 for lib in scipy_blas)


# -- pinned by mutation testing (_dense_kernel, 2026-11-30) ----------------------------


def test_a_loss_it_does_not_cover_goes_to_the_reference():
    model = MLPRegressorFromNotes(hidden_layer_sizes=(3,), max_iter=1)
    _, X, y = _task("regression")
    network = model.fit(X, y)._network
    assert network.out_activation == "identity"
    reason = dense_kernel.dense_step_support(network, object(), [None])
    assert reason == "a loss other than the squared error or cross-entropy"
