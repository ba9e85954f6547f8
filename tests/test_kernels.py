"""The compiled kernels and their numpy twins compute the same thing."""

import os
import subprocess
import sys
import types

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression

from sknotes import EmbeddingBagRegressor, MLPClassifierFromNotes, MLPRegressorFromNotes
from sknotes import _kernels as kernels
from sknotes.nodes import MSELoss, SigmoidBinaryCrossEntropy, SoftmaxCrossEntropy

numba = pytest.importorskip("numba")


@pytest.fixture
def numpy_kernels(monkeypatch):
    """Run the block with the numpy twins, as on a machine without numba."""
    monkeypatch.setattr(kernels, "_LOOPS", False)


def _both(fn, *arrays, **kwargs):
    """``fn`` on copies of ``arrays`` with numba, then with numpy: both results."""
    results = []
    for loops in (kernels._loops(), False):
        copies = [a.copy() for a in arrays]
        saved, kernels._LOOPS = kernels._LOOPS, loops
        try:
            out = fn(*copies, **kwargs)
        finally:
            kernels._LOOPS = saved
        results.append((out, copies))
    return results


def _assert_same(a, b, dtype):
    if np.dtype(dtype) == np.float64:
        assert_array_equal(a, b)  # same operations in the same order
    else:
        assert_allclose(a, b, rtol=2e-6, atol=1e-7)


def test_numba_is_used_when_installed_unless_turned_off():
    assert kernels.using_numba() == (os.environ.get("SKNOTES_NUMBA", "1") != "0")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_decayed", [0, 7])
def test_adam_update_matches_numpy(dtype, n_decayed):
    rng = np.random.default_rng(0)
    params, grad = rng.standard_normal((2, 23)).astype(dtype)
    m, v = rng.standard_normal(23).astype(dtype), rng.random(23).astype(dtype)
    scratch = np.empty_like(params)
    (_, a), (_, b) = _both(
        lambda p, g, m_, v_: kernels.adam_update(
            p, g, m_, v_, 0.9, 0.999, 1e-2, 1e-8, scratch, 0.3, n_decayed
        ),
        params, grad, m, v,
    )  # fmt: skip
    for x, y in zip(a, b, strict=True):
        _assert_same(x, y, dtype)
    # The decay is an L2 gradient added before the step: grad is left holding it.
    expected_grad = grad.copy()
    expected_grad[:n_decayed] += params[:n_decayed] * dtype(0.3)
    _assert_same(a[1], expected_grad, dtype)
    assert not np.array_equal(a[0], params)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_add_scaled_matches_numpy(dtype):
    rng = np.random.default_rng(1)
    y, x = rng.standard_normal((2, 31)).astype(dtype)
    (_, a), (_, b) = _both(
        lambda y_, x_: kernels.add_scaled(y_, x_, -0.7, np.empty_like(x_)), y, x
    )
    _assert_same(a[0], b[0], dtype)
    _assert_same(a[0], y + dtype(-0.7) * x, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("in_place", [True, False])
def test_relu_matches_np_maximum_bit_for_bit(dtype, in_place):
    # Signed zeros, NaN and infinities included: the compiled loop must give
    # np.maximum(X, 0)'s bits, or a fit would change with numba.
    rng = np.random.default_rng(5)
    X = rng.standard_normal((11, 7)).astype(dtype)
    X.flat[:6] = [-0.0, 0.0, np.nan, -np.inf, np.inf, -1e-45]
    (a, _), (b, _) = _both(lambda x: kernels.relu(x, out=x if in_place else None), X)
    expected = np.maximum(X, 0)
    for result in (a, b):
        assert result.dtype == dtype
        assert_array_equal(result.view(np.uint8), expected.view(np.uint8))


def test_relu_on_strided_arrays_falls_back_to_numpy():
    X = np.random.default_rng(6).standard_normal((6, 8))[:, ::2]
    assert_array_equal(kernels.relu(X), np.maximum(X, 0))


@pytest.mark.parametrize("in_place", [True, False])
def test_relu_backward_matches_numpy(in_place):
    rng = np.random.default_rng(2)
    Y = np.maximum(rng.standard_normal((9, 5)), 0.0)
    grad_Y = rng.standard_normal((9, 5))

    def run(g, y):
        return kernels.relu_backward(g, y, out=g if in_place else None)

    (a, _), (b, _) = _both(run, grad_Y, Y)
    assert_array_equal(a, b)
    assert_array_equal(a, grad_Y * (Y > 0))


def test_relu_backward_into_a_separate_output_leaves_the_gradient_alone():
    """``out`` starts as NaN: every entry is written, and ``grad_Y`` is not."""
    rng = np.random.default_rng(5)
    Y = np.maximum(rng.standard_normal((9, 5)), 0.0)
    grad_Y = rng.standard_normal((9, 5))
    before = grad_Y.copy()
    for loops in (kernels._loops(), False):
        out = np.full_like(grad_Y, np.nan)
        saved, kernels._LOOPS = kernels._LOOPS, loops
        try:
            result = kernels.relu_backward(grad_Y, Y, out=out)
        finally:
            kernels._LOOPS = saved
        assert result is out
        assert_array_equal(out, before * (Y > 0))
        assert_array_equal(grad_Y, before)


@pytest.mark.parametrize("strided", ["grad_Y", "Y", "out"])
def test_relu_backward_with_one_strided_array_is_right(strided):
    """A compiled loop sees flat copies of strided arrays: all three must be
    contiguous for it, else the numpy twin runs."""
    rng = np.random.default_rng(6)
    arrays = {
        name: rng.standard_normal((6, 8))[:, :4]  # no flat view
        if name == strided
        else rng.standard_normal((6, 4))
        for name in ("grad_Y", "Y", "out")
    }
    grad_Y, Y, out = arrays["grad_Y"], arrays["Y"], arrays["out"]
    np.maximum(Y, 0.0, out=Y)  # keeps Y's strides
    expected = grad_Y * (Y > 0)
    assert_array_equal(kernels.relu_backward(grad_Y, Y, out=out), expected)
    assert_array_equal(out, expected)
    # In place, on the strided gradient itself.
    if strided == "grad_Y":
        assert kernels.relu_backward(grad_Y, Y, out=grad_Y) is grad_Y
        assert_array_equal(grad_Y, expected)


def test_relu_backward_on_strided_arrays_falls_back_to_numpy():
    rng = np.random.default_rng(3)
    Y = np.maximum(rng.standard_normal((6, 8)), 0.0)[:, ::2]
    grad_Y = rng.standard_normal((6, 8))[:, ::2]
    assert_array_equal(kernels.relu_backward(grad_Y, Y), grad_Y * (Y > 0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_add_row_and_outer_match_numpy(dtype):
    rng = np.random.default_rng(4)
    S, b = rng.standard_normal((7, 3)).astype(dtype), rng.standard_normal(3)
    b = b.astype(dtype)
    (a, _), (c, _) = _both(kernels.add_row, S, b)
    _assert_same(a, c, dtype)
    _assert_same(a, S + b, dtype)
    g, w = rng.standard_normal(7).astype(dtype), rng.standard_normal(3).astype(dtype)
    (a, _), (c, _) = _both(kernels.outer, g, w)
    _assert_same(a, c, dtype)
    _assert_same(a, np.outer(g, w), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_add_row_relu_is_add_row_then_relu_bit_for_bit(dtype):
    rng = np.random.default_rng(8)
    S = rng.standard_normal((7, 4)).astype(dtype)
    S[0, 0], S[1, 1], S[2, 2] = np.nan, -0.0, -np.inf
    b = rng.standard_normal(4).astype(dtype)
    b[3] = 0.0
    expected = np.maximum(S + b, 0)
    for out, (S_after, _) in _both(kernels.add_row_relu, S, b):
        assert out is S_after
        assert_array_equal(out, expected)
        assert not np.signbit(out).any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(9, 5), (1, 3), (200, 2)])
def test_relu_backward_column_sum_matches_numpy_bit_for_bit(dtype, shape):
    """The compiled pass adds the rows in np.add.reduce's order along axis 0."""
    rng = np.random.default_rng(9)
    grad_Y = rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 6, shape)
    grad_Y = grad_Y.astype(dtype)
    Y = np.maximum(rng.standard_normal(shape), 0.0).astype(dtype)
    Y[:, 0] = 0.0  # a dead unit: its column sums zeros of either sign
    grad_b = np.full(shape[1], np.nan, dtype)
    (a, (g_a, _, b_a)), (c, (g_c, _, b_c)) = _both(
        kernels.relu_backward_column_sum, grad_Y, Y, grad_b
    )
    assert a is g_a and c is g_c
    assert_array_equal(g_a, grad_Y * (Y > 0))
    assert_array_equal(g_a, g_c)
    assert_array_equal(b_a, b_c)
    assert_array_equal(np.signbit(b_a), np.signbit(b_c))
    assert_allclose(b_a, (grad_Y * (Y > 0)).astype(np.float64).sum(axis=0),
                    rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_outer_relu_backward_column_sum_is_outer_then_the_fused_relu(dtype):
    rng = np.random.default_rng(11)
    g, w = rng.standard_normal(7).astype(dtype), rng.standard_normal(5).astype(dtype)
    Y = np.maximum(rng.standard_normal((7, 5)), 0.0).astype(dtype)
    expected = np.multiply(np.outer(g, w), Y > 0)
    results = _both(
        kernels.outer_relu_backward_column_sum, g, w, Y,
        np.full((7, 5), np.nan, dtype), np.full(5, np.nan, dtype),
    )  # fmt: skip
    for out, (_, _, _, out_after, grad_b) in results:
        assert out is out_after
        assert_array_equal(out, expected)
        assert_array_equal(grad_b, np.add.reduce(expected, axis=0))


def test_relu_backward_column_sum_on_strided_arrays_falls_back_to_numpy():
    rng = np.random.default_rng(10)
    grad_Y = rng.standard_normal((6, 8))[:, ::2]
    Y = np.maximum(rng.standard_normal((6, 4)), 0.0)
    expected = grad_Y * (Y > 0)
    grad_b = np.empty(4)
    kernels.relu_backward_column_sum(grad_Y, Y, grad_b)
    assert_array_equal(grad_Y, expected)
    assert_array_equal(grad_b, np.add.reduce(expected, axis=0))


@pytest.mark.parametrize("dtypes", [(np.float32, np.float64), (np.float64, np.float32)])
def test_outer_of_mixed_dtypes_is_in_the_wider_one(dtypes):
    g = np.arange(1.0, 4.0).astype(dtypes[0]) / 3
    w = np.arange(1.0, 3.0).astype(dtypes[1]) / 7
    out = kernels.outer(g, w)
    assert out.dtype == np.float64
    assert_array_equal(out, np.outer(g, w))


def test_add_row_with_another_dtype_falls_back_to_numpy():
    S = np.zeros((2, 3), np.float32)
    kernels.add_row(S, np.arange(3.0))
    assert_array_equal(S, [[0, 1, 2], [0, 1, 2]])


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_fit_is_identical_without_numba(solver, activation, monkeypatch):
    X, y = make_regression(n_samples=150, n_features=6, noise=1.0, random_state=0)
    y = y / y.std()
    params = dict(
        hidden_layer_sizes=(8, 5), activation=activation, solver=solver, alpha=0.01,
        batch_size=32, max_iter=4, random_state=0,
    )  # fmt: skip
    compiled, plain = _fit_both_ways(MLPRegressorFromNotes(**params), X, y, monkeypatch)
    for a, b in _parameter_pairs(compiled, plain):
        assert_array_equal(a, b)
    assert compiled.loss_curve_ == plain.loss_curve_


def _fit_both_ways(model, X, y, monkeypatch):
    """``model`` fitted with numba, then a clone of it fitted with numpy."""
    with pytest.warns(Warning):
        compiled = clone(model).fit(X, y)
    monkeypatch.setattr(kernels, "_LOOPS", False)
    with pytest.warns(Warning):
        plain = clone(model).fit(X, y)
    return compiled, plain


def _parameter_pairs(a, b):
    return zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)


def test_embedding_bag_fit_is_identical_without_numba(monkeypatch):
    rng = np.random.default_rng(5)
    docs = [[f"t{i}" for i in rng.integers(0, 30, 6)] for _ in range(120)]
    y = rng.standard_normal(120)
    params = dict(embedding_dim=4, hidden_layer_sizes=(6,), max_iter=3, random_state=0)
    with pytest.warns(Warning):
        compiled = EmbeddingBagRegressor(**params).fit(docs, y)
    monkeypatch.setattr(kernels, "_LOOPS", False)
    with pytest.warns(Warning):
        plain = EmbeddingBagRegressor(**params).fit(docs, y)
    assert_array_equal(compiled.embeddings_, plain.embeddings_)
    assert_array_equal(compiled.predict(docs), plain.predict(docs))


@pytest.mark.parametrize("variable", ["SKNOTES_NUMBA", "NUMBA_DISABLE_JIT"])
def test_environment_variable_turns_numba_off(variable):
    # NUMBA_DISABLE_JIT would run the loops as Python: numpy is used instead.
    code = "from sknotes import _kernels; print(_kernels.using_numba())"
    env = {**os.environ, variable: "0" if variable == "SKNOTES_NUMBA" else "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "False"


def test_numpy_kernels_fixture_reports_numpy(numpy_kernels):
    assert not kernels.using_numba()


def test_without_a_writable_cache_the_kernels_compile_uncached(monkeypatch):
    calls = []

    def njit(cache, **options):
        calls.append(cache)
        if cache:
            raise RuntimeError("cannot cache function: no locator available")
        return lambda function: function

    fake = types.SimpleNamespace(njit=njit, config=types.SimpleNamespace(DISABLE_JIT=0))
    monkeypatch.setitem(sys.modules, "numba", fake)
    monkeypatch.delenv("SKNOTES_NUMBA", raising=False)
    compiled = kernels._compile()
    # The first attempt caches; after its failure every loop compiles uncached.
    assert calls[0] is True
    assert len(calls) > 1 and not any(calls[1:])
    assert compiled.adam is kernels._adam_loop


def _loss_problem(node_class, dtype, weighted, seed=0, n=37, k=4):
    rng = np.random.default_rng(seed)
    if node_class is MSELoss:
        S, Y = rng.standard_normal((2, n, 1)) * 3
    elif node_class is SoftmaxCrossEntropy:
        S, Y = rng.standard_normal((n, k)) * 4, np.eye(k)[rng.integers(0, k, n)]
    else:
        S, Y = rng.standard_normal((n, k)) * 4, (rng.random((n, k)) < 0.4) * 1.0
    w = rng.uniform(0.2, 3.0, n).astype(dtype) if weighted else None
    return S.astype(dtype), Y.astype(dtype), w


def _node_both_ways(node_class, S, Y, w):
    """``(loss, grad, P or residual)`` of a fresh node, with numba then numpy."""
    results = []
    for loops in (kernels._loops(), False):
        saved, kernels._LOOPS = kernels._LOOPS, loops
        try:
            node = node_class()
            loss = node.forward(S, Y, w)
            cached = node.residual if node_class is MSELoss else node.P
            results.append((loss, node.backward(), cached.copy()))
        finally:
            kernels._LOOPS = saved
    return results


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_mse_pass_matches_numpy_bit_for_bit(dtype, weighted):
    S, Y, w = _loss_problem(MSELoss, dtype, weighted)
    (loss_a, grad_a, r_a), (loss_b, grad_b, r_b) = _node_both_ways(MSELoss, S, Y, w)
    assert loss_a == loss_b
    assert_array_equal(grad_a.view(np.uint8), grad_b.view(np.uint8))
    assert_array_equal(r_a, r_b)
    assert grad_a.dtype == np.dtype(dtype)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("node_class", [SigmoidBinaryCrossEntropy, SoftmaxCrossEntropy])
def test_fused_classifier_loss_pass_matches_numpy(node_class, dtype, weighted):
    """One compiled pass gives the numpy path's loss, P and grad_S = (P − Y)·w/n.

    σ uses the C library's exp on both sides (scipy's expit), so in float64 P and
    grad_S are the same bits; numpy's own (SIMD) exp in the softplus and the
    softmax differs from the C library's in the last bit at most.
    """
    S, Y, w = _loss_problem(node_class, dtype, weighted)
    (loss_a, grad_a, P_a), (loss_b, grad_b, P_b) = _node_both_ways(node_class, S, Y, w)
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    assert_allclose(loss_a, loss_b, rtol=rtol)
    assert_allclose(P_a, P_b, rtol=rtol, atol=0)
    assert_allclose(grad_a, grad_b, rtol=rtol, atol=1e-7 * rtol)
    if dtype == np.float64 and node_class is SigmoidBinaryCrossEntropy:
        assert_array_equal(P_a, P_b)
        assert_array_equal(grad_a, grad_b)
    assert grad_a.dtype == P_a.dtype == np.dtype(dtype)
    # The formula itself, not only agreement: (P − Y)·w/n, or (P·Σy − Y)·w/n.
    scale = (np.ones(len(S)) if w is None else w) / (len(S) if w is None else w.sum())
    y_sum = Y.sum(axis=1, keepdims=True) if node_class is SoftmaxCrossEntropy else 1
    expected = (P_a * y_sum - Y) * scale[:, None]
    assert_allclose(grad_a, expected, rtol=10 * rtol, atol=1e-6 * rtol)


@pytest.mark.parametrize("node_class", [MSELoss, SigmoidBinaryCrossEntropy,
                                        SoftmaxCrossEntropy])  # fmt: skip
def test_fused_pass_reuses_its_buffers_but_backward_returns_new_arrays(node_class):
    S, Y, _ = _loss_problem(node_class, np.float64, False)
    node = node_class()
    first_loss = node.forward(S, Y)
    first = node.backward()
    assert node.backward() is not first
    S2, Y2, _ = _loss_problem(node_class, np.float64, False, seed=1)
    node.forward(S2, Y2)
    again = node_class()
    assert again.forward(S, Y) == first_loss
    # The first batch's gradient is untouched by the second batch's pass.
    assert_array_equal(first, again.backward())
    # A batch of another size (the last of an epoch) gets buffers of its size.
    assert node.forward(S[:5], Y[:5]) == node_class().forward(S[:5], Y[:5])
    assert node.backward().shape == S[:5].shape


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_mlp_classifier_fit_agrees_without_numba(task, monkeypatch):
    """Same arithmetic but numpy's own exp in the numpy path: equal to rounding."""
    n_classes = 2 if task == "binary" else 4
    X, y = make_classification(
        n_samples=160, n_features=6, n_informative=4, n_classes=n_classes,
        random_state=0,
    )  # fmt: skip
    params = dict(hidden_layer_sizes=(7,), alpha=0.01, batch_size=32, max_iter=4,
                  random_state=0)  # fmt: skip
    model = MLPClassifierFromNotes(**params)
    compiled, plain = _fit_both_ways(model, X, y, monkeypatch)
    for a, b in _parameter_pairs(compiled, plain):
        assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert_allclose(compiled.loss_curve_, plain.loss_curve_, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_step_constants_are_the_optimizers_in_its_dtype(dtype):
    hyper = kernels.adam_constants(0.9, 0.999, 1e-8, dtype)
    assert hyper.dtype == np.dtype(dtype)
    params = np.linspace(-1, 1, 9).astype(dtype)
    grad = np.linspace(2, -2, 9).astype(dtype)
    a, b = [params.copy(), grad.copy()], [params.copy(), grad.copy()]
    m, v = np.zeros((2, 9), dtype)
    kernels.adam_step(a[0], a[1], m.copy(), v.copy(), hyper, 1e-2, 0.5, 4)
    kernels.adam_update(b[0], b[1], m.copy(), v.copy(), 0.9, 0.999, 1e-2, 1e-8,
                        decay=0.5, n_decayed=4)  # fmt: skip
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    # The step wrote its step size and decay into the vector it was given.
    assert hyper[4] == dtype(-1e-2) and hyper[6] == dtype(0.5)
