"""Optimizers: each updates parameters in place from the gradient a network left.

Each optimizer has one job: update its parameters from a gradient.  The learning
rate is a :class:`Schedule` shared by the optimizers of a fit, which also makes the
one stopping decision.  Dense optimizers work on one flat parameter vector and its
flat gradient, in place through :mod:`sknotes._kernels` and one reused scratch
buffer, so a step allocates nothing; the L2 penalty's gradient is fused into that
pass.  Row-sparse optimizers update only the rows of an embedding table that a
batch touched (the rows where the notes' ``grad_table = Πᵀ·grad_R`` is non-zero),
keeping their moments per row, as PyTorch's ``SparseAdam``.

The update rules, schedules and stopping logic are scikit-learn's
(``sklearn/neural_network/_stochastic_optimizers.py``).
"""

import math
import warnings

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from sknotes._compat import warn_at_caller
from sknotes._kernels import (
    adam_constants,
    adam_step,
    adam_update,
    add_decay,
    add_scaled,
)

__all__ = [
    "Adam",
    "Schedule",
    "RowSparseAdam",
    "RowSparseSGD",
    "SGD",
    "minimize_lbfgs",
]


class Schedule:
    """The learning rate of a fit, shared by every optimizer (dense and table).

    ``'constant'``; ``'invscaling'``: ``lr = lr_init / (t + 1)^power_t`` at the end
    of each epoch; ``'adaptive'``: divided by 5 each time the loop reports no
    improvement (scikit-learn's SGD schedules; Adam's is ``'constant'``).  The
    training loop asks this one object whether to stop.
    """

    def __init__(self, learning_rate_init, kind="constant", power_t=0.5):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.kind = kind
        self.power_t = power_t

    def iteration_ends(self, time_step):
        """End of an epoch, ``time_step`` samples seen: apply ``'invscaling'``."""
        if self.kind == "invscaling":
            self.learning_rate = (
                float(self.learning_rate_init) / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, msg, verbose):
        """No improvement for ``n_iter_no_change`` epochs: stop, or divide lr by 5."""
        if self.kind != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


def _as_schedule(schedule):
    return schedule if isinstance(schedule, Schedule) else Schedule(schedule)


class _Scratch:
    """A buffer shaped like the parameters, reused so that a step allocates nothing.

    Derived state: never pickled or copied, rebuilt on first use.
    """

    def like(self, params):
        buffer = self.__dict__.get("buffer")
        if (
            buffer is None
            or buffer.shape != params.shape
            or buffer.dtype != params.dtype
        ):
            buffer = self.buffer = np.empty_like(params)
        return buffer

    def constants(self, steps, dtype):
        """Adam's constants as :func:`~sknotes._kernels.adam_step` takes them."""
        hyper = self.__dict__.get("hyper")
        if hyper is None or hyper.dtype != dtype:
            hyper = self.hyper = adam_constants(
                steps.beta_1, steps.beta_2, steps.epsilon, dtype
            )
        return hyper

    def __getstate__(self):
        return {}


def _decay(penalty):
    """``(decay, n_decayed)`` of an L2 penalty for the fused kernels."""
    return (0.0, 0) if penalty is None else (penalty.decay, penalty.n_decayed)


class _AdamSteps:
    """Adam's constants and step count: the bias-corrected step size of each step.

    Shared in kind (not in instance) by :class:`Adam` and :class:`RowSparseAdam`.
    """

    def __init__(self, schedule, beta_1, beta_2, epsilon):
        self.schedule = _as_schedule(schedule)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0

    def next_step_size(self):
        """Count a step; return ``lr·√(1−β₂ᵗ)/(1−β₁ᵗ)``."""
        self.t += 1
        # math.sqrt: the same correctly rounded root as np.sqrt, without a ufunc call.
        return (
            self.schedule.learning_rate
            * math.sqrt(1.0 - self.beta_2**self.t)
            / (1.0 - self.beta_1**self.t)
        )


class SGD:
    """SGD with momentum or Nesterov's momentum on a flat parameter vector.

    ``velocity = momentum·velocity − lr·grad``; the step is ``velocity``, or
    ``momentum·velocity − lr·grad`` with Nesterov.

    Parameters
    ----------
    params : ndarray
    schedule : Schedule or float
        The learning rate (a float is a constant rate).
    momentum : float, default=0.9
    nesterov : bool, default=True
    """

    def __init__(self, params, schedule=0.1, momentum=0.9, nesterov=True):
        self.schedule = _as_schedule(schedule)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = np.zeros_like(params)
        self._scratch = _Scratch()

    def step(self, params, grad, penalty=None):
        """Update ``params`` in place from ``grad`` (plus ``penalty``'s gradient)."""
        lr, scratch = self.schedule.learning_rate, self._scratch.like(params)
        add_decay(grad, params, *_decay(penalty), scratch)
        self.velocity *= self.momentum
        add_scaled(self.velocity, grad, -lr, scratch)
        if self.nesterov:
            add_scaled(params, self.velocity, self.momentum, scratch)
            add_scaled(params, grad, -lr, scratch)
        else:
            params += self.velocity


class Adam:
    """Adam (Kingma & Ba) on a flat parameter vector, fused and in place.

    ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
    ``params −= lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)``.
    """

    def __init__(self, params, schedule=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.steps = _AdamSteps(schedule, beta_1, beta_2, epsilon)
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)
        self._scratch = _Scratch()

    @property
    def schedule(self):
        return self.steps.schedule

    def step(self, params, grad, penalty=None):
        """Update ``params`` in place from ``grad``.

        ``penalty``'s gradient (``grad[:n] += decay·params[:n]``) is added in the
        same pass over memory as the update (PyTorch's ``weight_decay``); ``grad``
        is left holding the penalised gradient.
        """
        steps = self.steps
        hyper = self._scratch.constants(steps, params.dtype)
        adam_step(
            params, grad, self.m, self.v, hyper, steps.next_step_size(),
            *_decay(penalty), self._scratch.like(params),
        )  # fmt: skip


class FrozenColumns:
    """A row-sparse optimizer that leaves the first ``n_frozen`` columns as they are.

    Their gradient is zeroed before the step, so their moments stay zero and
    their update is zero: a frozen embedding beside a trained linear path.
    """

    def __init__(self, optimizer, n_frozen):
        self.optimizer = optimizer
        self.n_frozen = n_frozen

    @property
    def schedule(self):
        return self.optimizer.schedule

    def row_state(self):
        return self.optimizer.row_state()

    def step(self, table, rows, grad_rows):
        grad_rows[:, : self.n_frozen] = 0.0
        self.optimizer.step(table, rows, grad_rows)


class RowSparseSGD:
    """SGD on the touched rows of a table: ``table[rows] −= lr·grad_table[rows]``.

    With momentum, each row's velocity decays only when the row is touched (lazy
    momentum), so untouched rows stay exactly as they are.
    """

    def __init__(self, table, schedule=0.1, momentum=0.9, nesterov=True):
        self.schedule = _as_schedule(schedule)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = np.zeros_like(table) if momentum else None

    def row_state(self):
        """Arrays with one row per table row that ``step`` writes."""
        return () if self.velocity is None else (self.velocity,)

    def step(self, table, rows, grad_rows):
        """Update ``table[rows]`` from ``grad_rows`` (= ``grad_table[rows]``)."""
        lr = self.schedule.learning_rate
        if self.velocity is None:
            table[rows] -= lr * grad_rows
            return
        velocity = self.momentum * self.velocity[rows] - lr * grad_rows
        self.velocity[rows] = velocity
        if self.nesterov:
            velocity = self.momentum * velocity - lr * grad_rows
        table[rows] += velocity


class RowSparseAdam:
    """Adam on the touched rows of a table (PyTorch's ``SparseAdam`` semantics).

    Moments of a row are updated only when a batch touches it; the bias correction
    uses the global step count.
    """

    def __init__(self, table, schedule=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.steps = _AdamSteps(schedule, beta_1, beta_2, epsilon)
        self.m = np.zeros_like(table)
        self.v = np.zeros_like(table)

    @property
    def schedule(self):
        return self.steps.schedule

    def row_state(self):
        """Arrays with one row per table row that ``step`` writes."""
        return self.m, self.v

    def step(self, table, rows, grad_rows):
        """Update ``table[rows]`` from ``grad_rows`` (= ``grad_table[rows]``)."""
        steps = self.steps
        # Gather the touched rows, update them as one flat block, scatter them
        # back: np.take and plain assignment are 3-5x faster than fancy-index
        # reads and `table[rows] -= ...`.
        m = np.take(self.m, rows, axis=0)
        v = np.take(self.v, rows, axis=0)
        updated = np.take(table, rows, axis=0)
        grad_rows = np.ascontiguousarray(grad_rows, dtype=table.dtype)
        adam_update(
            updated.reshape(-1), grad_rows.reshape(-1), m.reshape(-1), v.reshape(-1),
            steps.beta_1, steps.beta_2, steps.next_step_size(), steps.epsilon,
        )  # fmt: skip
        self.m[rows] = m
        self.v[rows] = v
        table[rows] = updated


def minimize_lbfgs(loss_and_grad, x0, *, max_iter, max_fun, tol, verbose, stop=None):
    """Minimise with scipy's L-BFGS-B, as scikit-learn's ``solver='lbfgs'``.

    Returns ``(x, loss, n_iter)`` and warns ``ConvergenceWarning`` when stopped by
    ``max_iter`` or ``max_fun``.  ``stop()``, checked after each iteration, ends
    the minimisation early at the current iterate (e.g. on Ctrl-C), without warning.
    """

    def callback(intermediate_result):
        if stop():
            raise StopIteration

    options = {"maxfun": max_fun, "maxiter": max_iter, "gtol": tol}
    if verbose:
        options["disp"] = True
    with warnings.catch_warnings():
        # Older scipy releases deprecate 'disp'; the loop prints nothing otherwise.
        warnings.simplefilter("ignore", DeprecationWarning)
        result = scipy.optimize.minimize(
            loss_and_grad,
            x0,
            method="L-BFGS-B",
            jac=True,
            options=options,
            callback=None if stop is None else callback,
        )
    if result.status != 0 and not (stop is not None and stop()):
        warn_at_caller(
            f"lbfgs failed to converge after {result.nit} iteration(s) "
            f"(status={result.status}): {result.message}. Increase the number of "
            "iterations (max_iter) or scale the data.",
            ConvergenceWarning,
        )
    return result.x, float(result.fun), min(int(result.nit), max_iter)
