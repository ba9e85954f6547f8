"""Every node's backward is the notes' formula, proven by finite differences."""

import numpy as np
import pytest
import scipy.sparse as sp

from sknotes.gradcheck import gradcheck
from sknotes.nodes import (
    Add,
    Embedding,
    Exp,
    Identity,
    Linear,
    MSELoss,
    PoissonLoss,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)

RTOL = 1e-6


def _projection(rng, shape):
    """A fixed random direction: ``loss = Σ P ⊙ out`` makes ``grad_out = P``."""
    return rng.standard_normal(shape)


@pytest.mark.parametrize("sparse_input", [False, True])
def test_linear_gradients(sparse_input):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, 3))
    if sparse_input:
        X[rng.random(X.shape) < 0.5] = 0.0
    W = rng.standard_normal((3, 4))
    b = rng.standard_normal(4)
    P = _projection(rng, (7, 4))
    X_in = sp.csr_array(X) if sparse_input else X
    node = Linear(W, b)

    def loss():
        return float(np.sum(P * node.forward(X_in)))

    loss()
    grad_X = node.backward(P.copy())
    gradcheck(loss, W, node.grad_W, rtol=RTOL)
    gradcheck(loss, b, node.grad_b, rtol=RTOL)
    dense_X = X.copy()

    def loss_of_X():
        return float(np.sum(P * Linear(W, b).forward(dense_X)))

    gradcheck(loss_of_X, dense_X, grad_X, rtol=RTOL)


def test_linear_backward_is_the_brief_summary():
    rng = np.random.default_rng(1)
    X, W, b = rng.random((5, 3)), rng.random((3, 4)), rng.random(4)
    grad_S = rng.random((5, 4))
    node = Linear(W, b)
    np.testing.assert_allclose(node.forward(X), X @ W + b)
    grad_X = node.backward(grad_S)
    np.testing.assert_allclose(grad_X, grad_S @ W.T)
    np.testing.assert_allclose(node.grad_W, X.T @ grad_S)
    np.testing.assert_allclose(node.grad_b, grad_S.sum(axis=0))
    first_layer = Linear(W, b, input_is_data=True)
    first_layer.forward(X)
    assert first_layer.backward(grad_S) is None  # no gradient for data
    np.testing.assert_allclose(first_layer.grad_W, X.T @ grad_S)


def test_notes_3_4_1_network_closed_forms():
    """Blocks ①–③ on the notes' own shapes: X n×3, W1 3×4, W2 4×1."""
    rng = np.random.default_rng(2)
    n = 6
    X, y = rng.standard_normal((n, 3)), rng.standard_normal((n, 1))
    W1, b1 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    W2, b2 = rng.standard_normal((4, 1)), rng.standard_normal(1)
    first, second = Linear(W1, b1, input_is_data=True), Linear(W2, b2)
    mse = MSELoss()
    Z = first.forward(X)
    y_hat = second.forward(Z)
    loss = mse.forward(y_hat, y)
    # ① loss = ‖Ŷ − Y‖²/n, gradient Ŷ = 2/n (Ŷ − Y)
    assert loss == pytest.approx(float(np.sum((y_hat - y) ** 2)) / n)
    expected_grad_y_hat = 2.0 / n * (y_hat - y)
    grad_y_hat = mse.backward()
    np.testing.assert_allclose(grad_y_hat, expected_grad_y_hat)
    grad_Z = second.backward(grad_y_hat)
    # ② gradient s = gradient ŷ · w2ᵀ ; gradient w2 = sᵀ · −2/n (y − ŷ) ;
    #   gradient b2 = −2/n Σ(y − ŷ)
    np.testing.assert_allclose(grad_Z, expected_grad_y_hat @ W2.T)
    np.testing.assert_allclose(second.grad_W, Z.T @ (-2.0 / n * (y - y_hat)))
    np.testing.assert_allclose(second.grad_b, -2.0 / n * np.sum(y - y_hat))
    assert first.backward(grad_Z) is None
    # ③ gradient W1 = −2/n Xᵀ (Y − Ŷ) w2ᵀ ; gradient b1 = −2/n Σ (y − ŷ) w2ᵀ
    np.testing.assert_allclose(first.grad_W, -2.0 / n * X.T @ (y - y_hat) @ W2.T)
    np.testing.assert_allclose(
        first.grad_b, (-2.0 / n * np.sum(y - y_hat) * W2.T).ravel()
    )


@pytest.mark.parametrize("node_class", [Sigmoid, Tanh, ReLU, Identity, Exp])
def test_activation_gradients(node_class):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5, 4))
    if node_class is ReLU:
        X[np.abs(X) < 0.1] += 0.5  # away from the kink
    P = _projection(rng, X.shape)
    node = node_class()

    def loss():
        return float(np.sum(P * node_class().forward(X.copy())))

    node.forward(X.copy())
    grad_X = node.backward(P.copy())
    gradcheck(loss, X, grad_X, rtol=RTOL)


def test_activation_backward_uses_the_notes_formulas():
    rng = np.random.default_rng(4)
    X, grad_Y = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    sigmoid = Sigmoid()
    delta = sigmoid.forward(X.copy())
    np.testing.assert_allclose(delta, 1.0 / (1.0 + np.exp(-X)))
    np.testing.assert_allclose(sigmoid.backward(grad_Y), grad_Y * delta * (1 - delta))
    tanh = Tanh()
    t = tanh.forward(X.copy())
    np.testing.assert_allclose(t, (np.exp(X) - np.exp(-X)) / (np.exp(X) + np.exp(-X)))
    np.testing.assert_allclose(tanh.backward(grad_Y), grad_Y * (1 - np.tanh(X) ** 2))


@pytest.mark.parametrize("with_bias", [False, True])
def test_add_gradients(with_bias):
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    b = rng.standard_normal(3) if with_bias else None
    P = _projection(rng, (4, 3))
    node = Add(b)

    def loss():
        return float(np.sum(P * node.forward(X, Y)))

    loss()
    grad_X, grad_Y = node.backward(P)
    gradcheck(loss, X, grad_X, rtol=RTOL)
    gradcheck(loss, Y, grad_Y, rtol=RTOL)
    if with_bias:
        gradcheck(loss, b, node.grad_b, rtol=RTOL)


def _one_hot(ids, n_rows):
    data = np.ones(len(ids))
    return sp.csr_array((data, (np.arange(len(ids)), ids)), shape=(len(ids), n_rows))


@pytest.mark.parametrize("kind", ["one_hot", "bag", "positions"])
def test_embedding_gradients(kind):
    rng = np.random.default_rng(6)
    w, d, n, c = 9, 3, 4, 3
    table = rng.standard_normal((w, d))
    ids = rng.integers(0, w - 2, size=n * c)  # the last two rows are never used
    positions = None
    if kind == "one_hot":
        Pi = _one_hot(ids, w)
    elif kind == "positions":
        Pi, positions = _one_hot(ids, w), c
    else:
        counts = np.zeros((n, w))
        np.add.at(counts, (np.repeat(np.arange(n), c), ids), 1.0)
        Pi = sp.csr_array(counts / counts.sum(axis=1, keepdims=True))
    node = Embedding(table, positions)
    out_shape = node.forward(Pi).shape
    P = _projection(rng, out_shape)

    def loss():
        return float(np.sum(P * node.forward(Pi)))

    assert node.backward(P) is None  # Π is data
    grad_table = node.grad_table
    assert isinstance(grad_table, np.ndarray) and not isinstance(grad_table, np.matrix)
    gradcheck(loss, table, grad_table, rtol=RTOL)
    # grad_table = Πᵀ·grad_R, only on the rows Π touches.
    rows, grad_rows = node.grad_table_rows
    np.testing.assert_array_equal(rows, np.unique(ids))
    np.testing.assert_allclose(grad_rows, grad_table[rows])
    untouched = np.setdiff1d(np.arange(w), rows)
    assert np.all(grad_table[untouched] == 0)


def test_embedding_grad_pi_matches_finite_differences():
    rng = np.random.default_rng(7)
    w, d, n = 6, 2, 3
    table = rng.standard_normal((w, d))
    Pi = sp.csr_array(rng.integers(0, 3, size=(n, w)).astype(float))
    node = Embedding(table, input_is_data=False)
    P = _projection(rng, (n, d))
    node.forward(Pi)
    grad_Pi = node.backward(P)
    values = Pi.data  # perturb the counts in place: Π's non-zeros

    def loss():
        return float(np.sum(P * Embedding(table).forward(Pi)))

    gradcheck(loss, values, grad_Pi.data, rtol=RTOL)
    # The notes' dense formula grad_Π = grad_R · Tableᵀ at Π's non-zeros.
    dense = P @ table.T
    np.testing.assert_allclose(
        grad_Pi.toarray()[Pi.toarray() != 0], dense[Pi.toarray() != 0]
    )


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_mse_loss_is_block_one(weighted, n_outputs):
    rng = np.random.default_rng(8)
    n = 6
    y_hat, y = rng.standard_normal((n, n_outputs)), rng.standard_normal((n, n_outputs))
    sw = rng.random(n) if weighted else None
    node = MSELoss()

    def loss():
        return node.forward(y_hat, y, sw)

    value = loss()
    weights = np.ones(n) if sw is None else sw
    expected = float(np.sum(weights[:, None] * (y_hat - y) ** 2) / weights.sum())
    assert value == pytest.approx(expected, rel=1e-12)
    grad = node.backward().copy()
    np.testing.assert_allclose(
        grad, 2.0 / weights.sum() * weights[:, None] * (y_hat - y)
    )
    gradcheck(loss, y_hat, grad, rtol=RTOL)


def test_mse_loss_all_zero_weights_has_no_signal():
    node = MSELoss()
    assert node.forward(np.ones((2, 1)), np.zeros((2, 1)), np.zeros(2)) == 0.0
    assert np.all(node.backward() == 0)


@pytest.mark.parametrize("weighted", [False, True])
def test_poisson_loss_gradient(weighted):
    rng = np.random.default_rng(9)
    y_hat = rng.random((5, 2)) + 0.5
    y = rng.poisson(1.0, size=(5, 2)).astype(float)
    sw = rng.random(5) if weighted else None
    node = PoissonLoss()

    def loss():
        return node.forward(y_hat, y, sw)

    loss()
    gradcheck(loss, y_hat, node.backward(), rtol=RTOL)


@pytest.mark.parametrize("to_sparse", [sp.csr_array, sp.csr_matrix, sp.csc_matrix])
def test_linear_with_scipy_sparse_x_gives_dense_arrays(to_sparse):
    rng = np.random.default_rng(10)
    X = rng.standard_normal((6, 5))
    X[rng.random(X.shape) < 0.6] = 0.0
    W, b, P = (
        rng.standard_normal((5, 3)),
        rng.standard_normal(3),
        rng.standard_normal((6, 3)),
    )
    node = Linear(W, b)
    S = node.forward(to_sparse(X))
    assert type(S) is np.ndarray
    np.testing.assert_allclose(S, X @ W + b)
    grad_X = node.backward(P.copy())
    assert type(node.grad_W) is np.ndarray
    np.testing.assert_allclose(node.grad_W, X.T @ P)
    np.testing.assert_allclose(grad_X, P @ W.T)

    def loss():
        return float(np.sum(P * Linear(W, b).forward(to_sparse(X))))

    gradcheck(loss, W, node.grad_W, rtol=RTOL)
    gradcheck(loss, b, node.grad_b, rtol=RTOL)


def test_notes_3_4_1_gradient_of_x_is_block_three():
    """③: gradient X = −2/n (Y − Ŷ)·w2ᵀ·W1ᵀ = gradient Z · W1ᵀ."""
    rng = np.random.default_rng(11)
    n = 5
    X, y = rng.standard_normal((n, 3)), rng.standard_normal((n, 1))
    W1, b1 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    W2, b2 = rng.standard_normal((4, 1)), rng.standard_normal(1)

    def loss():
        return MSELoss().forward(Linear(W2, b2).forward(Linear(W1, b1).forward(X)), y)

    first, second, mse = Linear(W1, b1), Linear(W2, b2), MSELoss()
    y_hat = second.forward(first.forward(X))
    mse.forward(y_hat, y)
    grad_X = first.backward(second.backward(mse.backward()))
    np.testing.assert_allclose(grad_X, -2.0 / n * (y - y_hat) @ W2.T @ W1.T)
    gradcheck(loss, X, grad_X, rtol=RTOL)
    gradcheck(loss, W1, first.grad_W, rtol=RTOL)
    gradcheck(loss, b1, first.grad_b, rtol=RTOL)
    gradcheck(loss, W2, second.grad_W, rtol=RTOL)
    gradcheck(loss, b2, second.grad_b, rtol=RTOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("node_class", [Sigmoid, Tanh, Exp])
def test_saturating_activations_never_overflow(node_class, dtype, strict):
    x = np.array([[-1e6, -1e3, -50.0, 0.0, 50.0, 1e3, 1e6]], dtype=dtype)
    node = node_class()
    # Underflow to 0 is the right value of e^-1e6; overflow and NaN are not. The
    # sigmoid and tanh raise nothing at all.
    with np.errstate(under="ignore" if node_class is Exp else "raise"):
        y = node.forward(x.copy())
        grad_x = node.backward(np.ones_like(x))
    assert y.dtype == grad_x.dtype == dtype
    assert np.isfinite(y).all() and np.isfinite(grad_x).all()
    if node_class is Exp:
        # Clipped where e^x would overflow: the largest inputs give one finite value.
        assert y[0, 0] == 0.0 and y[0, -1] == y[0, -2] > 0
        np.testing.assert_array_equal(grad_x, y)
        return
    low = 0.0 if node_class is Sigmoid else -1.0
    np.testing.assert_array_equal(y[0, [0, -1]], [low, 1.0])
    np.testing.assert_array_equal(grad_x[0, [0, -1]], [0.0, 0.0])


def test_embedding_with_a_scipy_matrix_and_positions_grad_pi():
    """Π from scipy's matrix API, the n × (c·d) reshape, grad_Π by differences."""
    rng = np.random.default_rng(12)
    w, d, n, c = 8, 3, 3, 2
    table = rng.standard_normal((w, d))
    ids = rng.integers(0, w, size=n * c)
    Pi = sp.csr_matrix((np.ones(n * c), (np.arange(n * c), ids)), shape=(n * c, w))
    node = Embedding(table, positions=c, input_is_data=False)
    X_new = node.forward(Pi)
    assert type(X_new) is np.ndarray and X_new.shape == (n, c * d)
    np.testing.assert_allclose(X_new, table[ids].reshape(n, c * d))
    P = rng.standard_normal((n, c * d))
    grad_Pi = node.backward(P)
    grad_table = node.grad_table
    assert type(grad_table) is np.ndarray
    np.testing.assert_allclose(grad_table, Pi.T @ P.reshape(n * c, d))

    def loss():
        return float(np.sum(P * Embedding(table, positions=c).forward(Pi)))

    gradcheck(loss, Pi.data, grad_Pi.data, rtol=RTOL)
    gradcheck(loss, table, grad_table, rtol=RTOL)


def test_poisson_loss_is_half_the_poisson_deviance():
    from sklearn.metrics import mean_poisson_deviance

    rng = np.random.default_rng(13)
    y_hat = rng.random((6, 1)) + 0.5
    y = rng.poisson(1.0, size=(6, 1)).astype(float)
    sw = rng.random(6)
    node = PoissonLoss()
    value = node.forward(y_hat, y, sw)
    assert value == pytest.approx(
        mean_poisson_deviance(y.ravel(), y_hat.ravel(), sample_weight=sw) / 2, rel=1e-12
    )
    np.testing.assert_allclose(
        node.backward(), sw[:, None] * (1 - y / y_hat) / sw.sum()
    )


# -- one contract: backward twice gives the same answer -------------------------
def _idempotence_cases():
    rng = np.random.default_rng(20)
    X = rng.standard_normal((6, 3))
    Pi = sp.csr_array(rng.integers(0, 2, size=(6, 5)).astype(float))
    yield "linear", Linear(rng.standard_normal((3, 4)), rng.standard_normal(4)), (X,)
    yield (
        "linear-data",
        Linear(rng.standard_normal((3, 1)), rng.standard_normal(1), input_is_data=True),
        (X,),
    )
    for node in (Identity(), Sigmoid(), Tanh(), ReLU(), Exp()):
        yield type(node).__name__, node, (X.copy(),)
    yield "add", Add(rng.standard_normal(3)), (X, X[::-1].copy())
    yield "embedding", Embedding(rng.standard_normal((5, 2))), (Pi,)
    yield (
        "embedding-grad-pi",
        Embedding(rng.standard_normal((5, 2)), input_is_data=False),
        (Pi,),
    )


def _parameter_gradients(node):
    names = ("grad_W", "grad_b", "grad_table")
    return {
        name: np.array(getattr(node, name))
        for name in names
        if getattr(node, name, None) is not None
    }


def _as_list(grad):
    if grad is None:
        return [None]
    if isinstance(grad, tuple):
        return [np.array(g) for g in grad]
    return [grad.toarray() if sp.issparse(grad) else np.array(grad)]


@pytest.mark.parametrize(
    "name, node, inputs", list(_idempotence_cases()), ids=lambda v: str(v)[:20]
)
def test_backward_twice_gives_the_same_answer(name, node, inputs):
    out = node.forward(*inputs)
    grad_out = np.random.default_rng(21).standard_normal(out.shape)
    first = _as_list(node.backward(grad_out.copy()))
    first_params = _parameter_gradients(node)
    second = _as_list(node.backward(grad_out.copy()))
    for a, b in zip(first, second, strict=True):
        if a is None:
            assert b is None
        else:
            np.testing.assert_array_equal(a, b)
    for key, value in _parameter_gradients(node).items():
        np.testing.assert_array_equal(value, first_params[key])


@pytest.mark.parametrize("loss_class", [MSELoss, PoissonLoss])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_backward_twice_gives_the_same_answer(loss_class, weighted):
    rng = np.random.default_rng(22)
    y_hat, y = rng.random((5, 2)) + 0.5, rng.random((5, 2))
    node = loss_class()
    node.forward(y_hat, y, rng.random(5) if weighted else None)
    first = node.backward()
    first_copy = first.copy()
    first *= 7.0  # a caller may overwrite the gradient it got (the network does)
    np.testing.assert_array_equal(node.backward(), first_copy)


@pytest.mark.parametrize("loss_class", [MSELoss, PoissonLoss])
@pytest.mark.parametrize("weighted", [False, True])
def test_l2_penalty_gradient(loss_class, weighted):
    """penalty = c·Σ‖W‖² with c = sklearn_loss_ratio·α/(2n); grad_W += 2c·W."""
    from sknotes.nodes import L2Penalty

    rng = np.random.default_rng(23)
    theta = rng.standard_normal(10)
    n_penalized, alpha = 7, 0.8
    loss_node = loss_class()
    sw = rng.random(4) if weighted else None
    loss_node.forward(rng.random((4, 1)) + 0.5, rng.random((4, 1)), sw)
    penalty = L2Penalty(alpha, n_penalized)

    def loss():
        return penalty.forward(theta, loss_node)

    n = 4 if sw is None else sw.sum()
    c = loss_node.sklearn_loss_ratio * alpha / (2 * n)
    assert loss() == pytest.approx(c * np.sum(theta[:n_penalized] ** 2), rel=1e-12)
    grad = np.zeros_like(theta)
    penalty.backward(grad, theta)
    assert np.all(grad[n_penalized:] == 0)  # biases are not penalised
    gradcheck(loss, theta, grad, rtol=RTOL)
    assert L2Penalty(0.0, n_penalized).forward(theta, loss_node) == 0.0


@pytest.mark.parametrize("k", range(1, 11))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_reductions_give_numpys_bits(k, dtype):
    # The column loops of the classifiers' losses must change no bit of a fit:
    # magnitudes far apart make any change in the order of additions visible.
    from numpy.testing import assert_array_equal

    from sknotes.nodes import _row_max, _row_sum

    rng = np.random.default_rng(k)
    S = rng.standard_normal((301, k)) * rng.choice([1e-8, 1.0, 1e8], (301, k))
    S = S.astype(dtype)
    S.flat[:5] = [-0.0, 0.0, np.nan, np.inf, -np.inf]
    S[-1] = -0.0
    assert_array_equal(
        _row_max(S).view(np.uint8), S.max(axis=1, keepdims=True).view(np.uint8)
    )
    for sum_dtype in (None, np.float64, np.float32):
        with np.errstate(invalid="ignore"):  # inf - inf, on both sides
            expected = S.sum(axis=1, keepdims=True, dtype=sum_dtype)
            got = _row_sum(S, sum_dtype)
        assert got.dtype == expected.dtype
        assert_array_equal(got.view(np.uint8), expected.view(np.uint8))


# -- the speed tricks behind the named helpers ---------------------------------------
def test_embedding_rows_of_a_batch_are_only_its_own():
    """The touched-row map is cleared after each batch: no row of an earlier batch."""
    rng = np.random.default_rng(30)
    table = rng.standard_normal((10, 2))
    node = Embedding(table)
    for ids in ([1, 4, 4, 7], [0, 2], [9, 2, 5]):
        Pi = _one_hot(ids, 10)
        node.forward(Pi)
        node.backward(np.ones((len(ids), 2)))
        rows, grad_rows = node.grad_table_rows
        np.testing.assert_array_equal(rows, np.unique(ids))
        np.testing.assert_array_equal(grad_rows[:, 0], np.bincount(ids)[rows])
        np.testing.assert_array_equal(node.Pi_rows.toarray(), Pi.toarray()[:, rows])
    # A table that grew (new hashed or vocabulary rows) gets a map of its size.
    node.table = rng.standard_normal((14, 2))
    node.forward(_one_hot([13, 2], 14))
    node.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(node.grad_table_rows[0], [2, 13])


@pytest.mark.parametrize("to_format", [sp.csc_array, sp.coo_array, sp.csc_matrix])
def test_embedding_of_csc_or_coo_pi_equals_csr(to_format):
    rng = np.random.default_rng(31)
    table = rng.standard_normal((7, 3))
    Pi = _one_hot([3, 0, 3, 6, 1], 7)
    grad_R = rng.standard_normal((5, 3))
    expected = Embedding(table, input_is_data=False)
    expected.forward(Pi)
    expected_grad_Pi = expected.backward(grad_R)
    node = Embedding(table, input_is_data=False)
    np.testing.assert_array_equal(node.forward(to_format(Pi)), table[[3, 0, 3, 6, 1]])
    grad_Pi = node.backward(grad_R)
    np.testing.assert_array_equal(node.grad_table_rows[0], [0, 1, 3, 6])
    np.testing.assert_allclose(node.grad_table, expected.grad_table)
    np.testing.assert_allclose(grad_Pi.toarray(), expected_grad_Pi.toarray())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_backward_on_more_rows_than_the_shared_ones(monkeypatch, dtype):
    """``grad_b``'s column sum is a product with a cached vector of ones that
    grows with the batch: more than its first 256 rows, and then fewer."""
    from sknotes import nodes

    monkeypatch.setattr(nodes, "_ONES", {})
    rng = np.random.default_rng(32)
    node = Linear(rng.standard_normal((3, 2)).astype(dtype), np.zeros(2, dtype))
    for n in (300, 40, 700):
        node.forward(rng.standard_normal((n, 3)).astype(dtype))
        grad_S = rng.standard_normal((n, 2)).astype(dtype)
        node.backward(grad_S)
        np.testing.assert_allclose(node.grad_b, grad_S.sum(axis=0), rtol=1e-5)
        assert node.grad_b.dtype == dtype
    assert nodes._ONES[np.dtype(dtype)].shape == (700,)
    assert not nodes._ONES[np.dtype(dtype)].flags.writeable


def test_poisson_loss_all_zero_weights_has_no_signal():
    node = PoissonLoss()
    y_hat, y = np.full((3, 2), 2.0), np.ones((3, 2))
    assert node.forward(y_hat, y, np.zeros(3)) == 0.0
    grad = node.backward()
    assert np.all(grad == 0) and grad.shape == (3, 2)


def _out_cases():
    rng = np.random.default_rng(33)
    X = rng.standard_normal((5, 3))
    for c in (1, 2, 4):  # one column: grad_X is an outer product, not a GEMM
        W, b = rng.standard_normal((3, c)), rng.standard_normal(c)
        yield f"linear-{c}", Linear(W, b), X, (5, c), X @ W + b
    for node, f in (
        (Identity(), lambda x: x),
        (Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
        (Tanh(), np.tanh),
        (ReLU(), lambda x: np.maximum(x, 0)),
        (Exp(), np.exp),
        (Softmax(), lambda x: np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)),
    ):
        yield type(node).__name__, node, X, X.shape, f(X)


@pytest.mark.parametrize(
    "name, node, X, out_shape, expected", list(_out_cases()), ids=lambda v: str(v)[:9]
)
def test_out_buffers_receive_the_result(name, node, X, out_shape, expected):
    """Every ``out=`` is written and returned: the network reuses its buffers."""
    rng = np.random.default_rng(34)
    out = np.full(out_shape, np.nan)
    assert node.forward(X.copy(), out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    grad_out = rng.standard_normal(out_shape)
    expected_grad = np.array(node.backward(grad_out.copy()))
    grad_in = np.full(X.shape, np.nan)
    result = node.backward(grad_out.copy(), out=grad_in)
    if name == "Identity":  # grad_X is grad_Y itself: nothing to write
        np.testing.assert_array_equal(result, grad_out)
        return
    assert result is grad_in
    np.testing.assert_allclose(grad_in, expected_grad, rtol=1e-12)
    if name.startswith("linear"):
        np.testing.assert_allclose(grad_in, grad_out @ node.W.T, rtol=1e-12)


def test_linear_writes_gradients_into_the_arrays_it_was_given():
    rng = np.random.default_rng(35)
    W, b = rng.standard_normal((3, 2)), rng.standard_normal(2)
    grad_W, grad_b = np.empty_like(W), np.empty_like(b)
    node = Linear(W, b, grad_W=grad_W, grad_b=grad_b)
    X, grad_S = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    node.forward(X)
    node.backward(grad_S)
    assert node.grad_W is grad_W and node.grad_b is grad_b
    np.testing.assert_allclose(grad_W, X.T @ grad_S)
    np.testing.assert_allclose(grad_b, grad_S.sum(axis=0))


def test_add_forward_adds_the_bias_and_has_no_bias_gradient_without_one():
    X, Y, b = np.ones((2, 3)), np.full((2, 3), 2.0), np.arange(3.0)
    np.testing.assert_array_equal(Add(b).forward(X, Y), X + Y + b)
    assert Add().grad_b is None
    np.testing.assert_array_equal(Add().forward(X, Y), X + Y)


@pytest.mark.parametrize("dtype, scale", [(np.float32, 1e30), (np.float64, 1e150)])
def test_loss_of_huge_targets_is_computed_without_overflow(dtype, scale, strict):
    """Squares are summed in float64: (1e30)² overflows float32, not the loss."""
    y = np.full((4, 2), scale, dtype=dtype)
    loss = MSELoss().forward(np.zeros_like(y), y)
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, 2 * float(dtype(scale)) ** 2, rtol=1e-12)


def test_l2_penalty_of_a_batch_without_weight_is_zero():
    from sknotes.nodes import L2Penalty

    theta = np.arange(1.0, 6.0)
    loss_node = MSELoss()
    loss_node.forward(np.ones((3, 1)), np.zeros((3, 1)), np.zeros(3))
    penalty = L2Penalty(0.5, 4)
    assert penalty.forward(theta, loss_node) == 0.0
    assert penalty.decay == 0.0 and penalty.n_decayed == 0
    grad = np.ones(5)
    penalty.backward(grad, theta)
    np.testing.assert_array_equal(grad, 1.0)


@pytest.mark.parametrize("weighted", [False, True])
def test_row_l2_penalty_is_its_formula_and_its_gradient(weighted):
    """``penalty = ½Σ_r Σⱼ 2c_j(N/n)(n_r/df_r)T[r, j]²`` on the touched rows."""
    from sknotes.nodes import RowL2Penalty

    rng = np.random.default_rng(36)
    alphas = np.array([0.5, 0.5, 2.0])
    df = np.array([3.0, 0.0, 1.0, 2.0, 5.0])  # row 1 absent: seen once
    penalty = RowL2Penalty(alphas, df)
    np.testing.assert_array_equal(penalty.inverse_df, 1 / np.array([3, 1, 1, 2, 5]))
    # Two documents of two positions each: Π has 4 rows ('concat').
    Pi = _one_hot([1, 3, 3, 4], 5)
    rows = np.array([1, 3, 4])
    Pi_rows = Pi[:, rows]
    sw = np.array([2.0, 0.5]) if weighted else None
    counts = RowL2Penalty.occurrences(Pi_rows, sw)
    expected_counts = [2.0, 2.5, 0.5] if weighted else [1, 2, 1]
    np.testing.assert_allclose(counts, expected_counts)
    loss_node = MSELoss()
    loss_node.forward(np.ones((2, 1)), np.zeros((2, 1)), sw)
    n = 2 if sw is None else 2.5
    table_rows = rng.standard_normal((3, 3))

    def loss():
        return penalty.forward(table_rows, rows, counts, loss_node)

    coefficient = np.outer(
        np.asarray(expected_counts) * penalty.inverse_df[rows], 2 * alphas / n
    )
    assert loss() == pytest.approx(0.5 * np.sum(coefficient * table_rows**2))
    grad_rows = np.ones((3, 3))
    assert penalty.backward(grad_rows, table_rows) is grad_rows
    gradcheck(loss, table_rows, grad_rows - 1.0, rtol=RTOL)
    # No weight in the batch: no penalty.
    loss_node.forward(np.ones((2, 1)), np.zeros((2, 1)), np.zeros(2))
    assert loss() == 0.0
