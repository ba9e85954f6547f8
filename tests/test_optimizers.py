"""Optimizers: scikit-learn's update rules, applied in place; row-sparse variants."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from sknotes import _kernels as kernels
from sknotes._optimizers import (
    SGD,
    Adam,
    FrozenColumns,
    RowSparseAdam,
    RowSparseSGD,
    Schedule,
    minimize_lbfgs,
)


@pytest.fixture(params=["compiled", "numpy"])
def kernel_path(request, monkeypatch):
    """Each optimizer test on both kernel paths (numba's loops, numpy's twins)."""
    if request.param == "numpy":
        monkeypatch.setattr(kernels, "_LOOPS", False)
    return request.param


def _grads(rng, n_steps, size):
    return [rng.standard_normal(size) for _ in range(n_steps)]


@pytest.mark.parametrize(
    "momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)]
)
def test_sgd_equals_scikit_learn(momentum, nesterov, kernel_path):
    rng = np.random.default_rng(0)
    params = rng.standard_normal(10)
    reference = [params[:6].copy(), params[6:].copy()]
    ours = SGD(params, Schedule(0.05, "constant"), momentum, nesterov)
    theirs = SGDOptimizer(reference, 0.05, "constant", momentum, nesterov)
    for grad in _grads(rng, 5, 10):
        ours.step(params, grad)
        theirs.update_params(reference, [grad[:6], grad[6:]])
    np.testing.assert_allclose(params, np.concatenate(reference), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_equals_scikit_learn(dtype, kernel_path):
    rng = np.random.default_rng(1)
    params = rng.standard_normal(10).astype(dtype)
    reference = [params.astype(np.float64)]
    ours = Adam(params, 0.01, 0.9, 0.999, 1e-8)
    theirs = AdamOptimizer(reference, 0.01, 0.9, 0.999, 1e-8)
    for grad in _grads(rng, 6, 10):
        ours.step(params, grad.astype(dtype))
        theirs.update_params(reference, [grad])
    assert params.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(params, reference[0], rtol=rtol)


def test_schedules():
    invscaling = Schedule(0.1, "invscaling", power_t=0.5)
    invscaling.iteration_ends(99)
    assert invscaling.learning_rate == pytest.approx(0.01)
    adaptive = Schedule(0.1, "adaptive")
    assert adaptive.trigger_stopping("msg", verbose=False) is False
    assert adaptive.learning_rate == pytest.approx(0.02)
    adaptive.learning_rate = 1e-7
    assert adaptive.trigger_stopping("msg", verbose=False) is True
    assert Schedule(0.1, "constant").trigger_stopping("m", False) is True


def test_one_schedule_drives_the_dense_and_table_learning_rates():
    """The table's rate is the schedule's: adaptive divides both, and only once."""
    schedule = Schedule(0.5, "adaptive")
    dense, table = np.ones(3), np.ones((4, 2))
    dense_opt = SGD(dense, schedule, momentum=0.0)
    table_opt = RowSparseSGD(table, schedule, momentum=0.0)
    assert schedule.trigger_stopping("m", False) is False
    dense_opt.step(dense, np.ones(3))
    table_opt.step(table, np.array([1]), np.ones((1, 2)))
    np.testing.assert_allclose(dense, 1 - 0.1)
    np.testing.assert_allclose(table[1], 1 - 0.1)
    np.testing.assert_array_equal(table[[0, 2, 3]], 1.0)


def test_lbfgs_warns_when_max_iter_is_hit():
    def rosenbrock(x):
        a, b = x
        loss = (1 - a) ** 2 + 100 * (b - a**2) ** 2
        grad = np.array([-2 * (1 - a) - 400 * a * (b - a**2), 200 * (b - a**2)])
        return loss, grad

    with pytest.warns(ConvergenceWarning, match="max_iter"):
        _, _, n_iter = minimize_lbfgs(
            rosenbrock,
            np.array([-1.0, 2.0]),
            max_iter=3,
            max_fun=100,
            tol=1e-12,
            verbose=False,
        )
    assert n_iter == 3
    x, loss, _ = minimize_lbfgs(
        rosenbrock,
        np.array([-1.0, 2.0]),
        max_iter=1000,
        max_fun=10000,
        tol=1e-10,
        verbose=False,
    )
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-4)


@pytest.mark.parametrize("nesterov", [False, True])
def test_invscaling_sgd_equals_scikit_learn_over_epochs(nesterov):
    rng = np.random.default_rng(5)
    params = rng.standard_normal(8)
    reference = [params.copy()]
    ours = SGD(params, Schedule(0.1, "invscaling", power_t=0.3), 0.9, nesterov)
    theirs = SGDOptimizer(reference, 0.1, "invscaling", 0.9, nesterov, power_t=0.3)
    for epoch in range(4):
        for grad in _grads(rng, 3, 8):
            ours.step(params, grad)
            theirs.update_params(reference, [grad])
        ours.schedule.iteration_ends((epoch + 1) * 50)
        theirs.iteration_ends((epoch + 1) * 50)
        assert ours.schedule.learning_rate == pytest.approx(
            theirs.learning_rate, rel=1e-15
        )
    np.testing.assert_allclose(params, reference[0], rtol=1e-12)


def test_adaptive_trigger_stopping_equals_scikit_learn():
    ours = Schedule(0.01, "adaptive")
    theirs = SGDOptimizer([np.zeros(2)], 0.01, "adaptive")
    for _ in range(8):
        assert ours.trigger_stopping("m", False) == theirs.trigger_stopping("m", False)
        assert ours.learning_rate == pytest.approx(theirs.learning_rate, rel=1e-15)
    assert ours.trigger_stopping("m", False) is True  # lr fell below 1e-6
    # Adam never adapts: any stall stops it, as in scikit-learn.
    assert Adam(np.zeros(2)).schedule.trigger_stopping("m", False) is True
    assert AdamOptimizer([np.zeros(2)]).trigger_stopping("m", False) is True


def test_row_sparse_adam_over_steps_equals_dense_adam_on_the_rows():
    """Touching the same rows every step, row-sparse Adam is Adam on those rows,
    from the first step on, and leaves the other rows and their moments alone."""
    rng = np.random.default_rng(6)
    table = rng.standard_normal((7, 3))
    before = table.copy()
    rows, untouched = np.array([0, 2, 5]), [1, 3, 4, 6]
    dense = before[rows].copy()
    sparse_opt, dense_opt = RowSparseAdam(table, 0.05), Adam(dense, 0.05)
    for _ in range(5):
        grad_rows = rng.standard_normal((3, 3))
        sparse_opt.step(table, rows, grad_rows)
        dense_opt.step(dense, grad_rows)
        np.testing.assert_allclose(table[rows], dense, rtol=1e-12)
        np.testing.assert_array_equal(table[untouched], before[untouched])
    assert np.all(sparse_opt.m[untouched] == 0) and np.all(sparse_opt.v[untouched] == 0)


@pytest.mark.parametrize(
    "momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)]
)
def test_row_sparse_sgd_over_steps_equals_dense_sgd_on_the_rows(momentum, nesterov):
    rng = np.random.default_rng(7)
    table = rng.standard_normal((6, 2))
    before = table.copy()
    rows, untouched = np.array([1, 4]), [0, 2, 3, 5]
    dense = before[rows].copy()
    sparse_opt = RowSparseSGD(table, 0.2, momentum=momentum, nesterov=nesterov)
    dense_opt = SGD(dense, 0.2, momentum=momentum, nesterov=nesterov)
    for step in range(4):
        grad_rows = rng.standard_normal((2, 2))
        sparse_opt.step(table, rows, grad_rows)
        dense_opt.step(dense, grad_rows)
        if step == 0 and not nesterov:
            # First step of (momentum) SGD: velocity = −lr·grad, the notes' update.
            np.testing.assert_allclose(table[rows], before[rows] - 0.2 * grad_rows)
        np.testing.assert_allclose(table[rows], dense, rtol=1e-12)
        np.testing.assert_array_equal(table[untouched], before[untouched])


def test_lbfgs_stop_ends_early_without_a_convergence_warning():
    def quartic(x):
        return float(np.sum((x - 1) ** 4)), 4 * (x - 1) ** 3

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x, loss, n_iter = minimize_lbfgs(
            quartic,
            np.zeros(3),
            max_iter=100,
            max_fun=1000,
            tol=0.0,
            verbose=False,
            stop=lambda: True,
        )
    assert n_iter == 1
    assert loss == pytest.approx(quartic(x)[0]) and loss < quartic(np.zeros(3))[0]


def test_trigger_stopping_says_what_it_decided(capsys):
    assert Schedule(0.1, "constant").trigger_stopping("Stalled.", verbose=True)
    adaptive = Schedule(0.1, "adaptive")
    assert not adaptive.trigger_stopping("Stalled.", verbose=True)
    adaptive.learning_rate = 1e-6  # the boundary: too small
    assert adaptive.trigger_stopping("Stalled.", verbose=True)
    assert capsys.readouterr().out.splitlines() == [
        "Stalled. Stopping.",
        "Stalled. Setting learning rate to 0.020000",
        "Stalled. Learning rate too small. Stopping.",
    ]
    assert Schedule(0.1, "constant").trigger_stopping("Stalled.", verbose=False)
    assert capsys.readouterr().out == ""


class _Penalty:
    """What an optimizer reads of an L2 penalty: ``grad[:n] += decay·params[:n]``."""

    decay, n_decayed = 0.3, 4


@pytest.mark.parametrize("make", [lambda p: SGD(p, 0.05), lambda p: Adam(p, 0.05)])
def test_a_penalty_is_fused_into_the_step(make, kernel_path):
    rng = np.random.default_rng(8)
    fused, separate = rng.standard_normal((2, 7))
    separate[...] = fused
    fused_opt, separate_opt = make(fused), make(separate)
    for grad in _grads(rng, 3, 7):
        penalised = grad.copy()
        penalised[:4] += 0.3 * separate[:4]
        grad = grad.copy()
        fused_opt.step(fused, grad, _Penalty())
        separate_opt.step(separate, penalised)
        np.testing.assert_allclose(grad, penalised, rtol=1e-12)  # left penalised
        np.testing.assert_allclose(fused, separate, rtol=1e-12)


def test_row_sparse_adam_keeps_the_tables_dtype(kernel_path):
    table = np.ones((4, 2), np.float32)
    optimizer = RowSparseAdam(table, 0.1)
    optimizer.step(table, np.array([2]), np.full((1, 2), 0.5))  # float64 gradient
    assert table.dtype == optimizer.m.dtype == np.float32
    np.testing.assert_allclose(table[2], 1 - 0.1, rtol=1e-6)  # Adam's first step
    np.testing.assert_array_equal(table[[0, 1, 3]], 1.0)


def test_frozen_columns_stay_and_their_moments_stay_zero():
    table = np.ones((3, 4))
    optimizer = FrozenColumns(RowSparseAdam(table, 0.1), n_frozen=2)
    assert optimizer.schedule is optimizer.optimizer.schedule
    optimizer.step(table, np.array([0, 2]), np.ones((2, 4)))
    np.testing.assert_array_equal(table[:, :2], 1.0)
    np.testing.assert_allclose(table[[0, 2], 2:], 1 - 0.1)
    np.testing.assert_array_equal(table[1], 1.0)
    m, v = optimizer.row_state()
    assert np.all(m[:, :2] == 0) and np.all(v[:, :2] == 0) and np.all(m[0, 2:] != 0)


def test_row_state_is_what_step_writes():
    table = np.zeros((3, 2))
    assert RowSparseSGD(table, momentum=0.0).row_state() == ()
    with_momentum = RowSparseSGD(table, momentum=0.9)
    (velocity,) = with_momentum.row_state()
    assert velocity is with_momentum.velocity


def test_lbfgs_warning_says_how_it_stopped_and_what_to_do():
    def quadratic(x):
        return float(x @ x), 2 * x

    with pytest.warns(ConvergenceWarning) as record:
        minimize_lbfgs(
            quadratic, np.ones(3) * 5, max_iter=1, max_fun=1, tol=0.0, verbose=False
        )
    (message,) = [str(w.message) for w in record]
    assert message.startswith("lbfgs failed to converge after ")
    assert message.endswith(
        ". Increase the number of iterations (max_iter) or scale the data."
    )


def test_defaults_are_scikit_learns():
    params = np.zeros(3)
    theirs_adam, theirs_sgd = AdamOptimizer([params]), SGDOptimizer([params])
    for ours in (Adam(params), RowSparseAdam(params[:, None])):
        assert ours.schedule.learning_rate == theirs_adam.learning_rate_init
        steps = ours.steps
        assert (steps.beta_1, steps.beta_2, steps.epsilon) == (
            theirs_adam.beta_1, theirs_adam.beta_2, theirs_adam.epsilon,
        )  # fmt: skip
    for ours in (SGD(params), RowSparseSGD(params[:, None])):
        assert ours.schedule.learning_rate == theirs_sgd.learning_rate_init
        assert (ours.momentum, ours.nesterov) == (
            theirs_sgd.momentum, theirs_sgd.nesterov,
        )  # fmt: skip
    schedule = Schedule(0.1)
    assert (schedule.kind, schedule.power_t) == (
        theirs_sgd.lr_schedule, theirs_sgd.power_t,
    )  # fmt: skip
