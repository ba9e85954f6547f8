"""The classifier output and loss nodes: finite differences, scikit-learn's losses,
the fused pair against the separate chain, and extreme logits."""

import warnings

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import log_loss
from sklearn.neural_network._base import binary_log_loss
from sklearn.neural_network._base import log_loss as mlp_log_loss

from sknotes.gradcheck import gradcheck
from sknotes.nodes import (
    BinaryCrossEntropy,
    CrossEntropy,
    Sigmoid,
    SigmoidBinaryCrossEntropy,
    Softmax,
    SoftmaxCrossEntropy,
    log_sigmoid,
    log_softmax,
)

RTOL = 1e-6
FUSED = [SigmoidBinaryCrossEntropy, SoftmaxCrossEntropy]
# Each fused node and the separate activation and loss it collapses.
CHAINS = [
    (SigmoidBinaryCrossEntropy, Sigmoid, BinaryCrossEntropy),
    (SoftmaxCrossEntropy, Softmax, CrossEntropy),
]


def _targets(rng, kind, n, k):
    """0/1 labels: one column (binary), independent columns (multilabel), one-hot."""
    if kind == "onehot":
        return np.eye(k)[rng.integers(0, k, n)]
    return (rng.random((n, k)) < 0.4).astype(np.float64)


def _problem(rng, node_class, n=9, k=4):
    """Logits, targets and weights for a fused node (or its separate chain)."""
    if node_class in (SoftmaxCrossEntropy, CrossEntropy, Softmax):
        return rng.standard_normal((n, k)) * 2, _targets(rng, "onehot", n, k)
    return rng.standard_normal((n, k)) * 2, _targets(rng, "multilabel", n, k)


def _weights(rng, weighted, n):
    return rng.uniform(0.2, 3.0, n) if weighted else None


def _extreme_problem(seed, node_class, scale, dtype):
    """Logits of ±scale only (a row with both, tied at the max), targets, weights."""
    rng = np.random.default_rng(seed)
    S, Y = _problem(rng, node_class, n=12, k=3)
    S = (np.sign(S) * scale).astype(dtype)
    S[0] = [scale, -scale, scale]
    return S, Y, rng.uniform(0.5, 2.0, 12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("node_class", FUSED)
def test_fused_gradient_matches_finite_differences(node_class, weighted):
    rng = np.random.default_rng(0)
    S, Y = _problem(rng, node_class)
    w = _weights(rng, weighted, S.shape[0])
    node = node_class()

    def loss():
        return node_class().forward(S, Y, w)

    node.forward(S, Y, w)
    gradcheck(loss, S, node.backward(), rtol=RTOL)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss_class", [BinaryCrossEntropy, CrossEntropy])
def test_probability_loss_gradient_matches_finite_differences(loss_class, weighted):
    rng = np.random.default_rng(1)
    n, k = 8, 3
    if loss_class is CrossEntropy:
        P = rng.dirichlet(np.ones(k), n)
        Y = _targets(rng, "onehot", n, k)
    else:
        P = rng.uniform(0.05, 0.95, (n, k))
        Y = _targets(rng, "multilabel", n, k)
    w = _weights(rng, weighted, n)
    node = loss_class()

    def loss():
        return loss_class().forward(P, Y, w)

    node.forward(P, Y, w)
    gradcheck(loss, P, node.backward(), rtol=RTOL)


def test_softmax_backward_is_the_jacobian_product():
    rng = np.random.default_rng(2)
    S = rng.standard_normal((6, 5))
    projection = rng.standard_normal((6, 5))
    node = Softmax()

    def loss():
        return float(np.sum(projection * Softmax().forward(S)))

    P = node.forward(S)
    grad_S = node.backward(projection)
    gradcheck(loss, S, grad_S, rtol=RTOL)
    # Row by row, the full Jacobian diag(p) − pᵀp applied to the row gradient.
    for i in range(S.shape[0]):
        jacobian = np.diag(P[i]) - np.outer(P[i], P[i])
        np.testing.assert_allclose(grad_S[i], projection[i] @ jacobian, atol=1e-14)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fused_class, activation_class, loss_class", CHAINS)
def test_fused_equals_the_separate_chain(
    fused_class, activation_class, loss_class, weighted
):
    rng = np.random.default_rng(3)
    S, Y = _problem(rng, fused_class)
    w = _weights(rng, weighted, S.shape[0])
    fused, activation, loss_node = fused_class(), activation_class(), loss_class()
    fused_loss = fused.forward(S, Y, w)
    P = activation.forward(S.copy())
    chain_loss = loss_node.forward(P, Y, w)
    assert fused_loss == pytest.approx(chain_loss, rel=1e-12)
    assert fused.n == loss_node.n
    np.testing.assert_allclose(fused.P, P, rtol=1e-14)
    np.testing.assert_allclose(
        fused.backward(), activation.backward(loss_node.backward()), rtol=0, atol=1e-10
    )


def test_fused_softmax_gradient_is_p_minus_y_over_n():
    rng = np.random.default_rng(5)
    S, Y = _problem(rng, SoftmaxCrossEntropy)
    w = rng.uniform(0.5, 2.0, S.shape[0])
    node = SoftmaxCrossEntropy()
    node.forward(S, Y)
    P = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(node.backward(), (P - Y) / S.shape[0], atol=1e-15)
    node.forward(S, Y, w)
    assert node.n == pytest.approx(w.sum())
    expected = (P - Y) * w[:, None] / w.sum()
    np.testing.assert_allclose(node.backward(), expected, atol=1e-15)


def test_soft_targets_use_the_general_form():
    """For rows of Y not summing to 1 the collapse is P·Σy − Y, not P − Y."""
    rng = np.random.default_rng(6)
    S = rng.standard_normal((5, 3))
    Y = rng.uniform(0, 1, (5, 3))
    node = SoftmaxCrossEntropy()

    def loss():
        return SoftmaxCrossEntropy().forward(S, Y)

    node.forward(S, Y)
    grad_S = node.backward()
    gradcheck(loss, S, grad_S, rtol=RTOL)
    assert not np.allclose(grad_S, (node.P - Y) / 5)


@pytest.mark.parametrize(
    "node_class", [*FUSED, BinaryCrossEntropy, CrossEntropy, Softmax]
)
def test_backward_is_idempotent(node_class):
    rng = np.random.default_rng(7)
    S, Y = _problem(rng, node_class)
    w = rng.uniform(0.5, 2.0, S.shape[0])
    node = node_class()
    if node_class is Softmax:
        node.forward(S)
        grad_P = rng.standard_normal(S.shape)
        first = node.backward(grad_P).copy()
        np.testing.assert_array_equal(node.backward(grad_P), first)
        return
    inputs = S if node_class in FUSED else Softmax().forward(S)
    if node_class is BinaryCrossEntropy:
        inputs = expit(S)
    node.forward(inputs, Y, w)
    first = node.backward()
    second = node.backward()
    assert first is not second
    np.testing.assert_array_equal(first, second)


@pytest.mark.requires_sklearn("1.7", reason="sample_weight in its MLP and MLP losses")
@pytest.mark.parametrize("weighted", [False, True])
def test_losses_equal_sklearn_log_loss_multiclass(weighted):
    rng = np.random.default_rng(8)
    n, c = 40, 4
    S = rng.standard_normal((n, c)) * 3
    labels = rng.integers(0, c, n)
    labels[:c] = np.arange(c)  # every class present, so log_loss sees c columns
    Y = np.eye(c)[labels]
    w = _weights(rng, weighted, n)
    P = Softmax().forward(S)
    expected = log_loss(labels, P, sample_weight=w)
    assert SoftmaxCrossEntropy().forward(S, Y, w) == pytest.approx(expected, rel=1e-12)
    assert CrossEntropy().forward(P, Y, w) == pytest.approx(expected, rel=1e-12)
    assert mlp_log_loss(Y, P, w) == pytest.approx(expected, rel=1e-12)
    assert SoftmaxCrossEntropy.sklearn_loss_ratio == 1.0
    assert CrossEntropy.sklearn_loss_ratio == 1.0


@pytest.mark.requires_sklearn("1.7", reason="sample_weight in its MLP and MLP losses")
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_labels", [1, 3])
def test_binary_and_multilabel_losses_equal_sklearn(n_labels, weighted):
    """Mean over samples, summed over labels: the sum of per-label log_loss, and
    scikit-learn's MLPClassifier's binary_log_loss (ratio 1)."""
    rng = np.random.default_rng(9)
    n = 40
    S = rng.standard_normal((n, n_labels)) * 3
    Y = _targets(rng, "multilabel", n, n_labels)
    w = _weights(rng, weighted, n)
    p = expit(S)
    expected = sum(log_loss(Y[:, j], p[:, j], sample_weight=w) for j in range(n_labels))
    fused = SigmoidBinaryCrossEntropy().forward(S, Y, w)
    assert fused == pytest.approx(expected, rel=1e-12)
    assert BinaryCrossEntropy().forward(p, Y, w) == pytest.approx(expected, rel=1e-12)
    assert binary_log_loss(Y, p, w) == pytest.approx(expected, rel=1e-12)
    assert SigmoidBinaryCrossEntropy.sklearn_loss_ratio == 1.0
    assert BinaryCrossEntropy.sklearn_loss_ratio == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, 1e30])
@pytest.mark.parametrize("node_class", FUSED)
def test_extreme_logits_fused_are_finite_and_silent(node_class, scale, dtype):
    S, Y, w = _extreme_problem(11, node_class, scale, dtype)
    node = node_class()
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss = node.forward(S, Y, w)
        grad_S = node.backward()
        log_P = node.log_proba(S)
        P = node.proba(S)
    assert np.isfinite(loss)
    assert grad_S.dtype == dtype
    assert np.all(np.isfinite(grad_S))
    assert np.all(np.isfinite(log_P))
    assert np.all((P >= 0) & (P <= 1))
    # The loss is exact: each wrong extreme logit costs about its size.
    assert loss > 0.1 * scale


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, 1e30])
@pytest.mark.parametrize("fused_class, activation_class, loss_class", CHAINS)
def test_extreme_logits_separate_chain_is_finite_and_silent(
    fused_class, activation_class, loss_class, scale, dtype
):
    S, Y, w = _extreme_problem(12, fused_class, scale, dtype)
    activation, loss_node = activation_class(), loss_class()
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        P = activation.forward(S)
        loss = loss_node.forward(P, Y, w)
        grad_P = loss_node.backward()
        grad_S = activation.backward(grad_P)
    assert np.isfinite(loss)
    assert grad_P.dtype == dtype and grad_S.dtype == dtype
    assert np.all(np.isfinite(grad_P)) and np.all(np.isfinite(grad_S))


def test_fused_stays_exact_where_the_separate_chain_saturates():
    """At s = −40 with y = 1, p ≈ 4e−18 is clipped to eps in the separate chain,
    which loses the gradient; the fused node still returns (p − y)/n ≈ −1/n."""
    S, Y = np.array([[-40.0]]), np.array([[1.0]])
    fused = SigmoidBinaryCrossEntropy()
    fused.forward(S, Y)
    sigmoid, bce = Sigmoid(), BinaryCrossEntropy()
    bce.forward(sigmoid.forward(S.copy()), Y)
    np.testing.assert_allclose(fused.backward(), expit(S) - 1.0, rtol=1e-15)
    assert abs(sigmoid.backward(bce.backward())[0, 0]) < 0.05


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_probabilities_sum_to_one_and_logs_agree(dtype):
    rng = np.random.default_rng(13)
    S = (rng.standard_normal((20, 5)) * 10).astype(dtype)
    Y = _targets(rng, "onehot", 20, 5)
    tol = 10 * np.finfo(dtype).eps
    node = SoftmaxCrossEntropy()
    node.forward(S, Y)
    assert node.P.dtype == dtype
    np.testing.assert_allclose(node.P.sum(axis=1), 1.0, rtol=0, atol=tol)
    np.testing.assert_allclose(Softmax().forward(S).sum(axis=1), 1.0, atol=tol)
    np.testing.assert_allclose(np.exp(log_softmax(S)), node.P, rtol=1e3 * tol)
    np.testing.assert_allclose(np.exp(log_sigmoid(S)), expit(S), rtol=1e3 * tol)
    # log(1 − σ(s)) through log_sigmoid(−s) pairs with σ(s) to sum to 1.
    two_class = np.exp(log_sigmoid(-S)) + np.exp(log_sigmoid(S))
    np.testing.assert_allclose(two_class, 1.0, atol=1e3 * tol)


def test_log_proba_is_finite_where_the_probability_underflows():
    S = np.array([[0.0, -1e4, 1e4]])
    np.testing.assert_allclose(log_sigmoid(S), [[-np.log(2), -1e4, 0.0]])
    np.testing.assert_allclose(log_softmax(S), [[-1e4, -2e4, 0.0]])


@pytest.mark.parametrize(
    "node_class", [*FUSED, BinaryCrossEntropy, CrossEntropy, Softmax]
)
def test_float32_in_gives_float32_gradients(node_class):
    rng = np.random.default_rng(14)
    S, Y = _problem(rng, node_class)
    S = S.astype(np.float32)
    w = rng.uniform(0.5, 2.0, S.shape[0])  # float64 weights must not upcast
    node = node_class()
    if node_class is Softmax:
        node.forward(S)
        assert node.backward(np.ones_like(S)).dtype == np.float32
        return
    inputs = S
    if node_class is CrossEntropy:
        inputs = Softmax().forward(S)
    elif node_class is BinaryCrossEntropy:
        inputs = expit(S)
    assert isinstance(node.forward(inputs, Y.astype(int), w), float)
    assert node.backward().dtype == np.float32


@pytest.mark.parametrize("node_class", [*FUSED, BinaryCrossEntropy, CrossEntropy])
def test_all_zero_weights_carry_no_signal(node_class):
    rng = np.random.default_rng(15)
    S, Y = _problem(rng, node_class)
    inputs = S if node_class in FUSED else np.full(S.shape, 0.5)
    node = node_class()
    assert node.forward(inputs, Y, np.zeros(S.shape[0])) == 0.0
    assert node.n == 0.0
    np.testing.assert_array_equal(node.backward(), 0.0)


def test_n_is_rows_or_weight_sum_as_mse():
    rng = np.random.default_rng(16)
    S, Y = _problem(rng, SoftmaxCrossEntropy, n=7)
    node = SoftmaxCrossEntropy()
    node.forward(S, Y)
    assert node.n == 7
    w = rng.uniform(0.5, 2.0, 7)
    node.forward(S, Y, w)
    assert node.n == pytest.approx(w.sum())
    # Integer weights equal repeating rows.
    counts = rng.integers(1, 4, 7)
    repeated = SoftmaxCrossEntropy().forward(
        np.repeat(S, counts, axis=0), np.repeat(Y, counts, axis=0)
    )
    weighted = SoftmaxCrossEntropy().forward(S, Y, counts.astype(float))
    assert weighted == pytest.approx(repeated, rel=1e-12)


def _sklearn_mlp_logits(mlp, X):
    """The last linear node's output ``S`` of a fitted scikit-learn MLP (ReLU)."""
    Z = X
    for W, b in zip(mlp.coefs_[:-1], mlp.intercepts_[:-1], strict=True):
        Z = np.maximum(Z @ W + b, 0)
    return Z @ mlp.coefs_[-1] + mlp.intercepts_[-1]


@pytest.mark.requires_sklearn("1.7", reason="sample_weight in its MLP and MLP losses")
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_ratio_one_reproduces_mlpclassifier_objective(task, weighted):
    """With ratio 1, node loss + 0.5·alpha·Σ‖W‖²/n is MLPClassifier's ``loss_``."""
    from sklearn.datasets import make_classification, make_multilabel_classification
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import LabelBinarizer

    if task == "multilabel":
        X, Y = make_multilabel_classification(60, 5, n_classes=3, random_state=0)
    else:
        n_classes = 2 if task == "binary" else 4
        X, y = make_classification(
            60, 5, n_informative=4, n_redundant=0, n_classes=n_classes, random_state=0
        )
        Y = LabelBinarizer().fit_transform(y)
    w = _weights(np.random.default_rng(17), weighted, X.shape[0])
    alpha = 0.3
    mlp = MLPClassifier(
        hidden_layer_sizes=(6,),
        solver="lbfgs",
        alpha=alpha,
        max_iter=15,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs stops at max_iter on purpose
        mlp.fit(X, Y if task == "multilabel" else y, sample_weight=w)
    S = _sklearn_mlp_logits(mlp, X)
    node = (
        SoftmaxCrossEntropy() if task == "multiclass" else SigmoidBinaryCrossEntropy()
    )
    assert node.out_activation == mlp.out_activation_
    data_loss = node.forward(S, Y.astype(float), w)
    penalty = 0.5 * alpha * sum(np.sum(W**2) for W in mlp.coefs_) / node.n
    objective = data_loss / node.sklearn_loss_ratio + penalty
    assert objective == pytest.approx(mlp.loss_, rel=1e-9)
