"""The compiled embedding-bag train step against the reference step it replaces."""

import copy

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sknotes import EmbeddingBagClassifier, EmbeddingBagRegressor
from sknotes import _bag_kernel as bag_kernel
from sknotes._network import predict
from sknotes.gradcheck import gradcheck

pytest.importorskip("numba")
if bag_kernel._compiled() is None:
    pytest.skip(
        "numba is turned off (SKNOTES_NUMBA=0 or NUMBA_DISABLE_JIT)",
        allow_module_level=True,
    )
pytestmark = pytest.mark.usefixtures("quiet_convergence")

# Documents whose Π is dyadic under each pooling: counts (sum), lengths 1, 2, 4
# (mean), distinct tokens and lengths 1, 4 (sqrtn: divided by 1 or 2).
DYADIC_DOCS = {
    "sum": [[0, 1, 1], [2], [3, 4, 0], [5, 5], [1, 2], [0], [4, 3, 3], [2, 5]],
    "mean": [[0, 1], [2], [3, 4, 0, 1], [5, 5], [1, 2], [0], [4, 3, 3, 2], [2, 5]],
    "sqrtn": [[0, 1, 2, 3], [2], [3, 4, 0, 1], [5], [1, 2, 4, 5], [0], [4], [2]],
}


def _reference(monkeypatch):
    """Run the block on the reference step, as without numba."""
    monkeypatch.setattr(bag_kernel, "_COMPILED", False)


def _optimizer_state(model):
    dense, table = model._optimizers
    table = getattr(table, "optimizer", table)
    return [
        np.asarray(value)
        for optimizer in (dense, table)
        if optimizer is not None
        for name in ("m", "v", "velocity")
        if (value := getattr(optimizer, name, None)) is not None
    ]


def _one_step_both_ways(model, monkeypatch, docs, y, seed, sample_weight=None):
    """Set ``model``'s table and head to dyadic values, then ``partial_fit`` a
    copy on the compiled step and a copy on the reference step."""
    network = model._network
    rng = np.random.default_rng(seed)
    network.table[...] = rng.integers(-8, 9, size=network.table.shape) / 8.0
    network.theta[...] = rng.integers(-8, 9, size=network.theta.shape) / 8.0
    compiled, reference = copy.deepcopy(model), copy.deepcopy(model)
    compiled.partial_fit(docs, y, sample_weight=sample_weight)
    with monkeypatch.context() as patch:
        _reference(patch)
        reference.partial_fit(docs, y, sample_weight=sample_weight)
    assert compiled._reference_reason is None
    assert reference._reference_reason is not None
    assert not np.array_equal(network.theta, compiled._network.theta)
    return compiled, reference


def _assert_same_parameters(compiled, reference):
    assert_array_equal(compiled._network.table, reference._network.table)
    assert_array_equal(compiled._network.theta, reference._network.theta)
    for ours, theirs in zip(
        _optimizer_state(compiled), _optimizer_state(reference), strict=True
    ):
        assert_array_equal(ours, theirs)


def _dyadic_model(pooling, n_outputs, **params):
    """A regressor fitted on the dyadic documents of ``pooling``, with dyadic
    targets, sample weights and penalties, and its target scaling undone."""
    docs = DYADIC_DOCS[pooling]
    rng = np.random.default_rng(0)
    y = rng.integers(-4, 5, size=(len(docs), n_outputs)) / 4.0
    if n_outputs == 1:
        y = y.ravel()
    # Σw = 8: the loss's 2/n is dyadic too.
    sample_weight = rng.permutation([0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0])
    model = EmbeddingBagRegressor(
        embedding_dim=4,
        pooling=pooling,
        weighting="count",
        alpha_linear=0.25,
        alpha_embedding=2.0**-4,
        alpha=2.0**-3,
        early_stopping=False,
        batch_size=len(docs),
        max_iter=2,
        random_state=0,
        **params,
    ).fit(docs, y, sample_weight=sample_weight)
    assert model._reference_reason is None
    model._y_mean, model._y_scale = np.zeros(n_outputs), np.ones(n_outputs)
    return model, docs, y, sample_weight


@pytest.mark.parametrize("pooling", ["sum", "mean", "sqrtn"])
@pytest.mark.parametrize(
    "solver, momentum, nesterov",
    [("adam", 0.9, True), ("sgd", 0.9, True), ("sgd", 0.9, False), ("sgd", 0.0, True)],
)
@pytest.mark.parametrize("linear_path", [True, False])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_one_step_equals_the_reference_bit_for_bit(
    monkeypatch, pooling, solver, momentum, nesterov, linear_path, n_outputs
):
    """Gather, pool, head, MSE gradient, dense step, scatter, row penalty and row
    step: one minibatch from dyadic parameters, where every sum of products is
    exact in any order, so BLAS's order in the reference cannot differ."""
    model, docs, y, sample_weight = _dyadic_model(
        pooling,
        n_outputs,
        hidden_layer_sizes=(),
        linear_path=linear_path,
        solver=solver,
        momentum=momentum,
        nesterovs_momentum=nesterov,
    )
    compiled, reference = _one_step_both_ways(
        model, monkeypatch, docs, y, 1, sample_weight
    )
    _assert_same_parameters(compiled, reference)
    # The row penalty's loss is a sum over rows in another order (first seen,
    # not sorted) of non-dyadic terms (1/df): equal to rounding only.
    assert_allclose(compiled.loss_, reference.loss_, rtol=1e-15)


def test_one_step_loss_is_the_reference_bit_for_bit(monkeypatch):
    """Without the row penalty the reported loss is summed as MSELoss sums it."""
    docs = DYADIC_DOCS["sum"]
    y = np.arange(len(docs)) / 4.0
    model = EmbeddingBagRegressor(
        embedding_dim=4,
        hidden_layer_sizes=(),
        weighting="count",
        pooling="sum",
        linear_path=False,
        alpha_embedding=0.0,
        early_stopping=False,
        batch_size=len(docs),
        max_iter=1,
        random_state=0,
    ).fit(docs, y)
    model._y_mean, model._y_scale = np.zeros(1), np.ones(1)
    compiled, reference = _one_step_both_ways(model, monkeypatch, docs, y, 1)
    assert compiled.loss_ == reference.loss_
    _assert_same_parameters(compiled, reference)


def _corpus(n_docs=1200, n_tokens=150, seed=0):
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal(n_tokens)
    docs = [
        rng.integers(0, n_tokens, size=rng.integers(1, 15)).tolist()
        for _ in range(n_docs)
    ]
    y = np.array([weights[doc].mean() for doc in docs])
    return docs, y + 0.1 * rng.standard_normal(n_docs)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"solver": "sgd", "learning_rate_init": 0.01},
        {"linear_path": False, "pooling": "mean"},
        {"pooling": "sum", "freeze_embeddings": True},
        {"n_buckets": 64, "alpha": 1e-2},
        {"hidden_layer_sizes": (64,)},
        {"hidden_layer_sizes": (16, 8), "activation": "tanh", "solver": "sgd"},
        {"hidden_layer_sizes": (16,), "activation": "logistic", "pooling": "sum"},
    ],
)
def test_fit_matches_the_reference(monkeypatch, params):
    """Whole fits (ridge start, early stopping, row penalty) on arbitrary values.

    The head's sums of products are OpenBLAS's in the reference (blocked, with
    fused multiply-adds chosen per CPU) and in index order here (a linear head)
    or scipy's OpenBLAS build (hidden heads): the two differ by rounding, and
    training carries that rounding along (measured for the linear head: at most
    2.3e-16 after 8 epochs; the tolerance leaves a factor 40 for other CPUs,
    and holds for the hidden heads too).
    """
    docs, y = _corpus()
    params = {
        "embedding_dim": 8,
        "hidden_layer_sizes": (),
        "max_iter": 8,
        "batch_size": 64,
        "random_state": 0,
        **params,
    }
    compiled = EmbeddingBagRegressor(**params).fit(docs, y)
    _reference(monkeypatch)
    reference = EmbeddingBagRegressor(**params).fit(docs, y)
    assert compiled._reference_reason is None
    assert compiled.n_iter_ == reference.n_iter_
    tight = {"rtol": 1e-14, "atol": 1e-14}
    assert_allclose(compiled._network.table, reference._network.table, **tight)
    assert_allclose(compiled._network.theta, reference._network.theta, **tight)
    assert_allclose(compiled.loss_curve_, reference.loss_curve_, **tight)
    assert_allclose(compiled.predict(docs), reference.predict(docs), **tight)


@pytest.mark.parametrize(
    "model, reason",
    [
        (EmbeddingBagRegressor(hidden_layer_sizes=()), None),
        (EmbeddingBagRegressor(hidden_layer_sizes=(), solver="sgd"), None),
        (EmbeddingBagRegressor(hidden_layer_sizes=(), pooling="mean"), None),
        (EmbeddingBagRegressor(), None),
        (EmbeddingBagRegressor(hidden_layer_sizes=(8, 4), activation="tanh"), None),
        (EmbeddingBagRegressor(hidden_layer_sizes=(), pooling="concat"), "concat"),
        (EmbeddingBagRegressor(hidden_layer_sizes=(), loss="poisson"), "loss"),
        (EmbeddingBagClassifier(hidden_layer_sizes=()), None),
        (EmbeddingBagClassifier(), None),
        (EmbeddingBagRegressor(pooling="concat", max_length=4), "concat"),
    ],
)
def test_which_path_ran(model, reason):
    docs, y = _corpus(n_docs=200)
    if isinstance(model, EmbeddingBagClassifier):
        y = y > 0
    if model.get_params().get("loss") == "poisson":
        y = np.exp(y)
    model.set_params(max_iter=2, random_state=0).fit(docs, y)
    if reason is None:
        assert model._reference_reason is None
    else:
        assert reason in model._reference_reason


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("sample_weight", [None, 2.0])
def test_binary_classifier_step_equals_the_reference_bit_for_bit(
    monkeypatch, solver, sample_weight
):
    """SigmoidBinaryCrossEntropy's grad_S = (P − Y)·w/n, P = σ(S): scipy's expit
    and the kernel's are the same C library exp.  One document per step: P is
    not dyadic, and a batch's Rᵀ·grad_S would be a sum in BLAS's order; one
    step: after it the parameters are not dyadic either."""
    docs = DYADIC_DOCS["sum"]
    labels = np.array(["no", "yes"] * 4)
    model = EmbeddingBagClassifier(
        embedding_dim=4,
        hidden_layer_sizes=(),
        alpha_embedding=2.0**-4,
        linear_path=True,
        alpha_linear=0.5,
        solver=solver,
        batch_size=1,
        max_iter=2,
        random_state=0,
    ).fit(docs, labels)
    weights = None if sample_weight is None else np.full(1, sample_weight)
    compiled, reference = _one_step_both_ways(
        model, monkeypatch, docs[2:3], labels[2:3], 2, weights
    )
    _assert_same_parameters(compiled, reference)
    # The loss's softplus uses numpy's own exp (SIMD), not the C library's.
    assert_allclose(compiled.loss_, reference.loss_, rtol=1e-15)


@pytest.mark.parametrize("hidden_layer_sizes", [(), (64,)])
@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel"])
def test_classifier_fit_matches_the_reference(monkeypatch, target, hidden_layer_sizes):
    """Softmax's exp is numpy's own (SIMD) in the reference and the C library's
    here, besides BLAS's order: equal to rounding (measured: at most 1.4e-15
    after 8 epochs)."""
    docs, y = _corpus()
    labels = {
        "binary": y > 0,
        "multiclass": np.digitize(y, [-0.3, 0.3]),
        "multilabel": np.column_stack([y > 0, y > 0.3]),
    }[target]
    params = {
        "embedding_dim": 8,
        "hidden_layer_sizes": hidden_layer_sizes,
        "max_iter": 8,
        "batch_size": 64,
        "alpha_embedding": 1e-3,
        "random_state": 0,
    }
    compiled = EmbeddingBagClassifier(**params).fit(docs, labels)
    _reference(monkeypatch)
    reference = EmbeddingBagClassifier(**params).fit(docs, labels)
    assert compiled._reference_reason is None
    tight = {"rtol": 1e-13, "atol": 1e-13}
    assert_allclose(compiled._network.table, reference._network.table, **tight)
    assert_allclose(compiled._network.theta, reference._network.theta, **tight)
    assert_allclose(compiled.loss_curve_, reference.loss_curve_, **tight)
    assert_array_equal(compiled.predict(docs), reference.predict(docs))


def test_without_numba_the_reference_runs(monkeypatch):
    _reference(monkeypatch)
    docs, y = _corpus(n_docs=200)
    model = EmbeddingBagRegressor(hidden_layer_sizes=(), max_iter=2).fit(docs, y)
    assert model._reference_reason == "numba is not installed (or SKNOTES_NUMBA=0)"


def test_one_thread_is_reproducible():
    docs, y = _corpus(n_docs=600)
    params = {"hidden_layer_sizes": (), "max_iter": 5, "random_state": 0}
    default = EmbeddingBagRegressor(**params).fit(docs, y)
    one = EmbeddingBagRegressor(n_jobs=1, **params).fit(docs, y)
    again = EmbeddingBagRegressor(n_jobs=1, **params).fit(docs, y)
    for other in (one, again):
        assert_array_equal(default._network.table, other._network.table)
        assert_array_equal(default._network.theta, other._network.theta)
        assert default.loss_curve_ == other.loss_curve_


@pytest.mark.parametrize("hidden_layer_sizes", [(), (32,)])
@pytest.mark.parametrize("estimator", [EmbeddingBagRegressor, EmbeddingBagClassifier])
def test_hogwild_reaches_the_same_held_out_quality(estimator, hidden_layer_sizes):
    """Two threads writing one table without locks, against one thread, over seeds.

    Each seed draws its own corpus and initialisation; the paired differences of
    the held-out score (R², or accuracy of y > 0) must centre on zero: within 3
    standard errors, plus a 0.01 margin for a difference nobody would see.
    """
    serial, hogwild = [], []
    for seed in range(6):
        docs, y = _corpus(n_docs=2500, n_tokens=300, seed=seed)
        if estimator is EmbeddingBagClassifier:
            y = y > 0
        params = {
            "embedding_dim": 16,
            "hidden_layer_sizes": hidden_layer_sizes,
            "pooling": "mean",
            "weighting": "count",
            "linear_path": False,
            "early_stopping": False,
            "learning_rate_init": 0.01,
            "batch_size": 32,
            "max_iter": 15,
            "random_state": seed,
        }
        for n_jobs, scores in ((1, serial), (2, hogwild)):
            model = estimator(n_jobs=n_jobs, **params)
            model.fit(docs[:2000], y[:2000])
            assert model._reference_reason is None
            scores.append(model.score(docs[2000:], y[2000:]))
    serial, hogwild = np.array(serial), np.array(hogwild)
    assert serial.mean() > 0.8  # the task is learnt at all
    difference = hogwild - serial
    standard_error = difference.std(ddof=1) / np.sqrt(difference.size)
    assert abs(difference.mean()) <= 3 * standard_error + 0.01, difference


def test_hogwild_runs_its_threads(monkeypatch):
    """n_jobs=2 deals an epoch's batches to two workers, each with its buffers."""
    docs, y = _corpus(n_docs=400)
    model = EmbeddingBagRegressor(
        hidden_layer_sizes=(), n_jobs=2, max_iter=2, batch_size=16, random_state=0
    )
    calls = []
    original = bag_kernel.CompiledBagStep.__call__

    def counting(step, train, indices):
        calls.append(id(step))
        return original(step, train, indices)

    monkeypatch.setattr(bag_kernel.CompiledBagStep, "__call__", counting)
    model.fit(docs, y)
    assert len(set(calls)) == 2
    assert np.isfinite(model._network.table).all()


# -- hidden heads ------------------------------------------------------------------


def _ulps(ours, theirs):
    """Largest distance of ``ours`` from ``theirs``, in units in the last place
    of ``theirs``' largest entry: a parameter near 0 after a step carries the
    rounding of the step's larger terms, so a ulp of its own would be too fine."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    ulps = float(np.max(np.abs(ours - theirs)) / np.spacing(np.max(np.abs(theirs))))
    return ulps


@pytest.mark.parametrize("blas", [False, True])
@pytest.mark.parametrize("linear_path", [True, False])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("pooling", ["sum", "mean", "sqrtn"])
@pytest.mark.parametrize("activation", ["relu", "identity", "tanh", "logistic"])
def test_hidden_head_step_equals_the_reference(
    monkeypatch, activation, pooling, solver, linear_path, blas
):
    """Two hidden layers, one minibatch from dyadic parameters: with ReLU or the
    identity every value stays dyadic and every sum of products exact, so the
    step is the reference's bit for bit, through BLAS or the kernel's loops.
    tanh and the sigmoid leave dyadic values: the kernel's tanh is the C
    library's, not numpy's SIMD one (up to 3 ulps apart), and the sums that
    follow are in another order than OpenBLAS's; the result stays within a few
    ulps of the largest entry (measured: at most 6.1)."""
    monkeypatch.setattr(bag_kernel.CompiledBagStep, "blas", blas)
    n_outputs = 2 if pooling == "mean" else 1
    model, docs, y, sample_weight = _dyadic_model(
        pooling,
        n_outputs,
        hidden_layer_sizes=(8, 4),
        activation=activation,
        linear_path=linear_path,
        solver=solver,
    )
    compiled, reference = _one_step_both_ways(
        model, monkeypatch, docs, y, 1, sample_weight
    )
    if activation in ("relu", "identity"):
        _assert_same_parameters(compiled, reference)
    else:
        assert _ulps(compiled._network.table, reference._network.table) <= 16
        assert _ulps(compiled._network.theta, reference._network.theta) <= 16
        for ours, theirs in zip(
            _optimizer_state(compiled), _optimizer_state(reference), strict=True
        ):
            assert _ulps(ours, theirs) <= 16
    assert_allclose(compiled.loss_, reference.loss_, rtol=1e-15)


@pytest.mark.parametrize(
    "estimator, activation",
    [(EmbeddingBagRegressor, "tanh"), (EmbeddingBagClassifier, "logistic")],
)
def test_hidden_head_step_gradients_pass_gradcheck(monkeypatch, estimator, activation):
    """The compiled step's grad_W, grad_b (all layers) and grad_table rows
    against central finite differences of the batch loss at the parameters the
    step started from: the linear node's, the activations', the Add node's and
    the embedding's backward composed in the kernel (no penalty, so the
    gradients are the loss's alone)."""
    docs, y = _corpus(n_docs=40, n_tokens=12)
    if estimator is EmbeddingBagClassifier:
        y = np.digitize(y, [-0.3, 0.3])
    model = estimator(
        embedding_dim=3,
        hidden_layer_sizes=(5, 4),
        activation=activation,
        alpha=0.0,
        alpha_embedding=0.0,
        alpha_linear=0.0,
        early_stopping=False,
        batch_size=len(docs),
        max_iter=1,
        random_state=0,
    ).fit(docs, y)
    network = model._network
    captured = {}
    original = bag_kernel.CompiledBagStep.__call__

    def capturing(step, train, indices):
        start = network.theta.copy(), network.table.copy()
        loss = original(step, train, indices)
        # The rows the batch touched, in the order the kernel met them.
        n_rows = np.unique(train.inputs[indices].indices).size
        grad_table = np.zeros_like(network.table)
        grad_table[step.rows[:n_rows]] = step.grad_rows[:n_rows]
        captured.update(
            start=start, loss=loss, grad=network.grad.copy(),
            grad_table=grad_table, batch=train.batch(indices),
        )  # fmt: skip
        return loss

    monkeypatch.setattr(bag_kernel.CompiledBagStep, "__call__", capturing)
    model.partial_fit(docs, y)
    assert model._reference_reason is None
    theta, table = captured["start"]
    network.theta[...], network.table[...] = theta, table
    Pi, Y, _ = captured["batch"]
    loss_node = model._loss_node()

    def loss():
        S = predict(
            Pi, network.coefs, network.intercepts, activation, "identity",
            table=network.table,
        )  # fmt: skip
        return loss_node.forward(S, Y)

    assert loss() == pytest.approx(captured["loss"], rel=1e-12)
    # A step of 1e-5: the cross-entropy's gradients are small here, and at
    # 1e-6 the loss's rounding over the step is 1e-6 of them.
    gradcheck(loss, network.theta, captured["grad"], eps=1e-5)
    gradcheck(loss, network.table, captured["grad_table"], eps=1e-5)


# -- pinned by mutation testing (benchmarks/mutation.py _bag_kernel) ---------------


def test_touched_rows_lists_each_row_once_and_resets_the_positions():
    touched = bag_kernel._compiled()[1]
    indptr = np.array([0, 3, 5], np.int64)
    indices = np.array([2, 0, 2, 0, 1], np.int32)
    position = np.full(3, -1, np.int64)
    rows = np.empty(3, np.int64)
    n_rows = touched(indptr, indices, np.array([0, 1, 0], np.int64), position, rows)
    assert n_rows == 3 and rows.tolist() == [2, 0, 1]
    assert (position == -1).all()


@pytest.mark.parametrize("hidden_layer_sizes, blas", [((4,), 1), ((), 0)])
def test_a_hidden_head_takes_blas_and_the_loop_gets_arrays_only(
    monkeypatch, hidden_layer_sizes, blas
):
    # numba compiles the loop for array arguments: None in place of the sample
    # weights would not type.
    steps = []
    original = bag_kernel.CompiledBagStep.__call__
    loop = bag_kernel._compiled()[0]

    def arrays_only(*args):
        assert all(isinstance(arg, np.ndarray) for arg in args)
        return loop(*args)

    def capturing(step, train, indices):
        steps.append(step)
        return original(step, train, indices)

    touched = bag_kernel._compiled()[1]
    monkeypatch.setattr(bag_kernel, "_COMPILED", (arrays_only, touched))
    monkeypatch.setattr(bag_kernel.CompiledBagStep, "__call__", capturing)
    docs, y = _corpus(n_docs=60)
    model = EmbeddingBagRegressor(
        hidden_layer_sizes=hidden_layer_sizes, max_iter=1, random_state=0
    ).fit(docs, y)
    assert model._reference_reason is None and steps
    assert steps[0].flags[bag_kernel._BLAS] == blas
