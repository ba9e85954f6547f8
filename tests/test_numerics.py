"""Numerical safety: saturating activations, huge targets, impossible sizes."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sknotes import EmbeddingBagRegressor, MLPRegressorFromNotes
from sknotes._network import Network
from sknotes._network import predict as network_predict
from sknotes.nodes import ACTIVATIONS, MSELoss
from tests.reliability_cases import DOCS, X, Y


@pytest.fixture
def strict():
    """Any floating-point overflow/invalid operation or warning is an error."""
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["logistic", "tanh", "exp"])
def test_saturating_activations_never_overflow(name, dtype, strict):
    x = np.array([[-1e6, -1e3, -50.0, 0.0, 50.0, 1e3, 1e6]], dtype=dtype)
    node = ACTIVATIONS[name]()
    # Underflow to 0 is the right value of e^-1e6; overflow and NaN are not. The
    # sigmoid and tanh raise nothing at all.
    with np.errstate(under="ignore" if name == "exp" else "raise"):
        y = node.forward(x.copy())
        grad_x = node.backward(np.ones_like(x))
    assert y.dtype == grad_x.dtype == dtype
    assert np.isfinite(y).all() and np.isfinite(grad_x).all()
    if name == "exp":
        # Clipped where e^x would overflow: the largest inputs give one finite value.
        assert y[0, 0] == 0.0 and y[0, -1] == y[0, -2] > 0
        np.testing.assert_array_equal(grad_x, y)
        return
    low, high = (0.0, 1.0) if name == "logistic" else (-1.0, 1.0)
    np.testing.assert_array_equal(y[0, [0, -1]], [low, high])
    np.testing.assert_array_equal(grad_x[0, [0, -1]], [0.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["logistic", "tanh"])
def test_network_with_huge_inputs_predicts_finite_values(name, dtype, strict):
    net = Network([3, 4, 1], name, "identity", dtype)
    net.initialize(np.random.default_rng(0))
    inputs = np.array([[1e6, -1e6, 1e6], [-1e6, 1e6, 0.0]], dtype=dtype)
    y = network_predict(inputs, net.coefs, net.intercepts, name, "identity")
    assert y.dtype == dtype and np.isfinite(y).all()


@pytest.mark.parametrize("dtype, scale", [(np.float32, 1e30), (np.float64, 1e150)])
def test_loss_of_huge_targets_is_computed_without_overflow(dtype, scale, strict):
    # ‖ŷ − y‖² is beyond float32 for 1e30 but not beyond float64: computed exactly.
    y = np.full((4, 2), scale, dtype=dtype)
    loss = MSELoss().forward(np.zeros_like(y), y)
    expected = 2 * float(dtype(scale)) ** 2
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, expected, rtol=1e-12)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("dtype, scale", [(np.float32, 1e30), (np.float64, 1e200)])
def test_huge_targets_fit_or_refuse_never_nan(solver, dtype, scale, strict):
    est = MLPRegressorFromNotes(
        hidden_layer_sizes=(3,), solver=solver, max_iter=5, random_state=0
    )
    try:
        est.fit(X.astype(dtype), (Y * scale).astype(dtype))
    except ValueError as exc:
        assert "non-finite" in str(exc) or "not finite" in str(exc)
        assert not hasattr(est, "coefs_")
    else:
        assert np.isfinite(est.loss_)
        assert np.isfinite(est.predict(X.astype(dtype))).all()


def test_float64_targets_beyond_the_square_root_of_max_are_refused():
    # 1e200² overflows float64: the loss cannot be represented, the fit refuses.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for solver in ("adam", "lbfgs"):
            est = MLPRegressorFromNotes(
                hidden_layer_sizes=(3,), solver=solver, max_iter=5, random_state=0
            )
            with pytest.raises(ValueError, match="not finite"):
                est.fit(X, Y * 1e200)


def test_float32_targets_of_1e30_fit_with_a_finite_loss():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPRegressorFromNotes(
            hidden_layer_sizes=(3,), solver="lbfgs", max_iter=5, random_state=0
        )
        est.fit(X.astype(np.float32), (Y * 1e30).astype(np.float32))
    assert np.isfinite(est.loss_) and est.loss_ > 1e58


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_buckets": 10**12}, "embedding table"),
        ({"embedding_dim": 10**10}, "embedding table"),
        ({"hidden_layer_sizes": (10**9,)}, "network of layer sizes"),
        ({"embedding_dim": 10**5, "hidden_layer_sizes": (10**5,)}, "network"),
    ],
)
def test_impossible_embedding_bag_sizes_are_refused_up_front(params, message):
    est = EmbeddingBagRegressor(max_iter=1, random_state=0, **params)
    with pytest.raises(ValueError, match=f"(?i){message}.*GiB"):
        est.fit(DOCS, Y)
    assert not hasattr(est, "embeddings_")


@pytest.mark.parametrize("hidden", [(10**9,), (10**5, 10**5)])
def test_impossible_mlp_sizes_are_refused_up_front(hidden):
    est = MLPRegressorFromNotes(hidden_layer_sizes=hidden, max_iter=1)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        est.fit(X, Y)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_on_overflowing_inputs_is_a_clear_error(dtype, strict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPRegressorFromNotes(
            hidden_layer_sizes=(3,), activation="identity", max_iter=5, random_state=0
        ).fit(X.astype(dtype), Y)
    # Every input pushes the (linear) output the same way: it overflows.
    direction = np.sign(est.coefs_[0] @ est.coefs_[1]).ravel()
    huge = (np.finfo(dtype).max * direction)[None, :].astype(dtype)
    with pytest.raises(ValueError, match="not finite"):
        est.predict(huge)
