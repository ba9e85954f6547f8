"""Whole networks: gradients by finite differences, views tied to the flat vector."""

import copy
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from sknotes._network import Network
from sknotes._training import loss_and_backward
from sknotes.gradcheck import gradcheck
from sknotes.nodes import L2Penalty, MSELoss


def _network(hidden, activation, n_features=4, n_outputs=2, seed=0, **kwargs):
    network = Network(
        [n_features, *hidden, n_outputs], activation, "identity", np.float64, **kwargs
    )
    network.initialize(np.random.RandomState(seed))
    return network


@pytest.mark.parametrize("hidden", [(5,), (5, 4), (3, 4, 5)])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("sparse_input", [False, True])
def test_network_gradient_matches_finite_differences(hidden, activation, sparse_input):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 4))
    if sparse_input:
        X[rng.random(X.shape) < 0.4] = 0.0
        X = sp.csr_array(X)
    y = rng.standard_normal((8, 2))
    network = _network(hidden, activation)
    alpha = 0.3
    loss_node = MSELoss()

    penalty = L2Penalty(alpha, network.n_coef_params)

    def loss():
        # The notes' MSE is twice scikit-learn's objective, and so the penalty:
        # 2 · alpha/(2n) · Σ‖W‖².
        data_loss = loss_node.forward(network.predict(X), y)
        weights = network.theta[: network.n_coef_params]
        return data_loss + alpha * float(weights @ weights) / y.shape[0]

    total = loss_and_backward(network, loss_node, penalty, X, y, None)
    penalty.backward(network.grad, network.theta)
    assert total == pytest.approx(loss(), rel=1e-12)
    gradcheck(loss, network.theta, network.grad.copy(), rtol=1e-6)


@pytest.mark.parametrize("positions", [None, 3])
@pytest.mark.parametrize("hidden", [(), (4,)])
def test_embedding_network_gradient(positions, hidden):
    rng = np.random.default_rng(1)
    w, d, n = 7, 2, 5
    table = rng.standard_normal((w, d))
    n_rows = n * positions if positions else n
    Pi = sp.csr_array(rng.integers(0, 2, size=(n_rows, w)).astype(float))
    n_inputs = d * (positions or 1)
    network = _network(
        hidden,
        "tanh",
        n_features=n_inputs,
        n_outputs=1,
        table=table,
        positions=positions,
    )
    y = rng.standard_normal((n, 1))
    loss_node = MSELoss()

    def loss():
        return loss_node.forward(network.predict(Pi), y)

    loss_node.forward(network.forward(Pi), y)
    assert network.backward(loss_node.backward()) is None  # Π is data
    grad_table = network.embedding.grad_table
    gradcheck(loss, network.theta, network.grad.copy(), rtol=1e-6)
    gradcheck(loss, table, grad_table, rtol=1e-6)


def test_parameters_are_views_of_theta_and_survive_copies():
    network = _network((3,), "relu")
    assert all(np.shares_memory(W, network.theta) for W in network.coefs)
    assert all(np.shares_memory(b, network.theta) for b in network.intercepts)
    X = np.random.default_rng(2).standard_normal((4, 4))
    for clone in (pickle.loads(pickle.dumps(network)), copy.deepcopy(network)):
        np.testing.assert_array_equal(clone.predict(X), network.predict(X))
        clone.coefs[0][...] = 0.0
        assert np.all(clone.theta[: clone.coefs[0].size] == 0.0)
        assert not np.all(network.coefs[0] == 0.0)


def test_forward_equals_stateless_predict():
    network = _network((5, 3), "logistic")
    X = np.random.default_rng(3).standard_normal((6, 4))
    np.testing.assert_allclose(network.forward(X).copy(), network.predict(X))


def test_initialisation_is_scikit_learns_glorot():
    from sklearn.neural_network import MLPRegressor

    reference = MLPRegressor(activation="tanh")
    reference._random_state = np.random.RandomState(7)
    expected = [
        reference._init_coef(4, 5, np.float64),
        reference._init_coef(5, 1, np.float64),
    ]
    network = Network([4, 5, 1], "tanh", "identity", np.float64)
    network.initialize(np.random.RandomState(7))
    for (W, b), ours_W, ours_b in zip(
        expected, network.coefs, network.intercepts, strict=True
    ):
        np.testing.assert_array_equal(ours_W, W)
        np.testing.assert_array_equal(ours_b, b)


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_initialisation_equals_scikit_learns_for_every_activation(activation):
    from sklearn.neural_network import MLPRegressor

    units = [4, 6, 3, 2]
    reference = MLPRegressor(activation=activation)
    reference._random_state = np.random.RandomState(11)
    expected = [
        reference._init_coef(a, b, np.float64)
        for a, b in zip(units[:-1], units[1:], strict=True)
    ]
    network = Network(units, activation, "identity", np.float64)
    network.initialize(np.random.RandomState(11))
    for (W, b), ours_W, ours_b in zip(
        expected, network.coefs, network.intercepts, strict=True
    ):
        assert ours_W.shape == W.shape
        np.testing.assert_array_equal(ours_W, W)
        np.testing.assert_array_equal(ours_b, b)


def test_flat_layout_is_weights_then_biases_and_grad_mirrors_it():
    network = _network((3, 2), "tanh", n_features=4, n_outputs=1)
    expected = np.concatenate([W.ravel() for W in network.coefs] + network.intercepts)
    np.testing.assert_array_equal(network.theta, expected)
    assert network.n_coef_params == 4 * 3 + 3 * 2 + 2 * 1
    for W, gW in zip(network.coefs, network.grad_coefs, strict=True):
        assert np.shares_memory(gW, network.grad) and gW.shape == W.shape
    network.theta[:] = 0.0  # the views see writes to theta ...
    assert all(np.all(W == 0) for W in network.coefs)
    network.intercepts[0][...] = 7.0  # ... and theta sees writes to the views
    assert np.count_nonzero(network.theta == 7.0) == 3


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_float32_network_computes_in_float32(n_outputs):
    network = Network([4, 5, n_outputs], "relu", "identity", np.float32)
    network.initialize(np.random.RandomState(0))
    X = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    y_hat = network.forward(X)
    assert y_hat.dtype == np.float32 and y_hat.shape == (6, n_outputs)
    network.backward(np.ones_like(y_hat))
    assert network.grad.dtype == np.float32
    assert network.predict(X).dtype == np.float32
    np.testing.assert_allclose(network.predict(X), y_hat)


@pytest.mark.parametrize("hidden", [(4,), (3, 3)])
def test_single_output_network_gradient(hidden):
    """The single-output backward takes the outer-product path."""
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((7, 4)), rng.standard_normal((7, 1))
    network = _network(hidden, "tanh", n_outputs=1)
    loss_node = MSELoss()

    def loss():
        return loss_node.forward(network.predict(X), y)

    loss_node.forward(network.forward(X), y)
    network.backward(loss_node.backward())
    gradcheck(loss, network.theta, network.grad.copy(), rtol=1e-6)


@pytest.mark.parametrize("hidden", [(), (4,), (3, 2)])
def test_linear_path_network_is_head_plus_pi_w_and_its_gradient(hidden):
    """A table of ``d + k`` columns: ``S_out = head(Π·T[:, :d]) + Π·T[:, d:]``."""
    rng = np.random.default_rng(4)
    w, d, n = 6, 3, 5
    table = rng.standard_normal((w, d + 1))
    Pi = sp.csr_array(rng.integers(0, 2, size=(n, w)).astype(float))
    network = _network(hidden, "tanh", n_features=d, n_outputs=1, table=table)
    assert network.n_linear == 1 and network.add is not None
    head = _network(hidden, "tanh", n_features=d, n_outputs=1)
    head.theta[...] = network.theta
    expected = head.predict(Pi @ table[:, :d]) + Pi @ table[:, d:]
    np.testing.assert_allclose(network.predict(Pi), expected, rtol=1e-12)
    np.testing.assert_allclose(network.forward(Pi), expected, rtol=1e-12)
    y = rng.standard_normal((n, 1))
    loss_node = MSELoss()

    def loss():
        return loss_node.forward(network.predict(Pi), y)

    loss_node.forward(network.forward(Pi), y)
    assert network.backward(loss_node.backward()) is None
    gradcheck(loss, network.theta, network.grad.copy(), rtol=1e-6)
    gradcheck(loss, table, network.embedding.grad_table, rtol=1e-6)


def test_batches_of_changing_size_reuse_buffers_correctly():
    network = _network((5, 3), "relu")
    rng = np.random.default_rng(5)
    for n in (3, 8, 2, 8):
        X = rng.standard_normal((n, 4))
        np.testing.assert_array_equal(network.forward(X), network.predict(X))
        grad_in = network.backward(np.ones((n, 2)))
        assert grad_in is None  # X is data
        grad = network.grad.copy()
        fresh = _network((5, 3), "relu")
        fresh.forward(X)
        fresh.backward(np.ones((n, 2)))
        np.testing.assert_allclose(grad, fresh.grad, rtol=1e-12)


def test_load_copies_parameters_into_theta():
    network, other = _network((3,), "tanh"), _network((3,), "tanh", seed=1)
    network.load(other.coefs, other.intercepts)
    np.testing.assert_array_equal(network.theta, other.theta)
    assert network.coefs[0] is not other.coefs[0]


@pytest.mark.parametrize("hidden", [(5,), (5, 4), (1, 4), (4, 1)])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("sparse_input", [False, True])
def test_fused_relu_passes_equal_the_chain_of_nodes(hidden, n_outputs, sparse_input):
    """The network's one-pass bias+ReLU, ReLU+grad_b and outer+ReLU helpers give
    the nodes' own forward and backward: the same output and grad_W bits, grad_b
    summed in another order."""
    from sknotes.nodes import Linear, ReLU

    rng = np.random.default_rng(3)
    X = rng.standard_normal((9, 4))
    if sparse_input:
        X[rng.random(X.shape) < 0.4] = 0.0
        X = sp.csr_array(X)
    network = _network(hidden, "relu", n_outputs=n_outputs, seed=2)
    grad_Y_hat = rng.standard_normal((9, n_outputs))
    Y_hat = network.forward(X).copy()
    network.backward(grad_Y_hat.copy())

    linears = [
        Linear(W, b, input_is_data=i == 0)
        for i, (W, b) in enumerate(zip(network.coefs, network.intercepts, strict=True))
    ]
    relus = [ReLU() for _ in hidden]
    A = X
    for linear, relu in zip(linears[:-1], relus, strict=True):
        A = relu.forward(linear.forward(A))
    assert_equal = np.testing.assert_array_equal
    assert_equal(Y_hat, linears[-1].forward(A))
    grad = linears[-1].backward(grad_Y_hat)
    for linear, relu in zip(linears[-2::-1], relus[::-1], strict=True):
        grad = linear.backward(relu.backward(grad))
    for linear, grad_W, grad_b in zip(
        linears, network.grad_coefs, network.grad_intercepts, strict=True
    ):
        assert_equal(grad_W, linear.grad_W)
        np.testing.assert_allclose(grad_b, linear.grad_b, rtol=1e-13, atol=1e-15)
