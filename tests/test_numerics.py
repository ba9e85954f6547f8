"""Numerical safety of the estimators: huge inputs and targets, impossible sizes.

The nodes' own overflow tests are in test_nodes.py; a prediction that overflows is
refused in test_base.py."""

import numpy as np
import pytest

from sknotes import EmbeddingBagRegressor, MLPRegressorFromNotes
from sknotes._network import Network
from sknotes._network import predict as network_predict
from tests.reliability_cases import DOCS, X, Y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["logistic", "tanh"])
def test_network_with_huge_inputs_predicts_finite_values(name, dtype, strict):
    net = Network([3, 4, 1], name, "identity", dtype)
    net.initialize(np.random.default_rng(0))
    inputs = np.array([[1e6, -1e6, 1e6], [-1e6, 1e6, 0.0]], dtype=dtype)
    y = network_predict(inputs, net.coefs, net.intercepts, name, "identity")
    assert y.dtype == dtype and np.isfinite(y).all()


# float64 targets of 1e200: their square overflows, the loss cannot be represented and
# every solver refuses.  float32 targets of 1e30: the loss, summed in float64, is
# finite (about 1e60); plain SGD's first steps overflow the float32 weights.
NOT_FINITE_LOSS = "The training loss is not finite"


@pytest.mark.parametrize(
    "solver, dtype, scale, refused",
    [
        ("adam", np.float64, 1e200, NOT_FINITE_LOSS),
        ("sgd", np.float64, 1e200, NOT_FINITE_LOSS),
        ("lbfgs", np.float64, 1e200, NOT_FINITE_LOSS),
        ("adam", np.float32, 1e30, None),
        ("sgd", np.float32, 1e30, "Solver produced non-finite parameter weights"),
        ("lbfgs", np.float32, 1e30, None),
    ],
)
def test_huge_targets_fit_with_a_finite_loss_or_are_refused(
    solver, dtype, scale, refused, strict
):
    est = MLPRegressorFromNotes(
        hidden_layer_sizes=(3,), solver=solver, max_iter=5, random_state=0
    )
    X_huge, y_huge = X.astype(dtype), (Y * scale).astype(dtype)
    if refused:
        with pytest.raises(ValueError, match=refused):
            est.fit(X_huge, y_huge)
        assert not hasattr(est, "coefs_")
    else:
        est.fit(X_huge, y_huge)
        assert np.isfinite(est.loss_) and est.loss_ > 1e58
        assert np.isfinite(est.predict(X_huge)).all()


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
