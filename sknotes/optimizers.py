"""Optimizers: each updates parameters in place from the gradient a network left.

Dense optimizers work on one flat parameter vector and its flat gradient, in place
through :mod:`sknotes.kernels` and one reused scratch buffer, so a step allocates
nothing.  Row-sparse optimizers update only the rows of an embedding table that a
batch touched (the rows where the notes' ``grad_table = Πᵀ·grad_R`` is non-zero),
keeping their moments per row, as PyTorch's ``SparseAdam``.

The update rules, schedules and stopping logic are scikit-learn's
(``sklearn/neural_network/_stochastic_optimizers.py``).
"""

import warnings

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from sknotes.kernels import adam_update, add_decay, add_scaled

__all__ = [
    "Adam",
    "RowSparseAdam",
    "RowSparseSGD",
    "SGD",
    "minimize_lbfgs",
]


class _Schedule:
    """Learning-rate bookkeeping shared by every stochastic optimizer."""

    def __init__(self, learning_rate_init, lr_schedule="constant", power_t=0.5):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.power_t = power_t

    def _scratch_like(self, params):
        """A buffer shaped like ``params``, reused so that a step allocates nothing.

        Derived state: never pickled (see ``__getstate__``), rebuilt on first use.
        """
        buffer = self.__dict__.get("_scratch")
        if (
            buffer is None
            or buffer.shape != params.shape
            or buffer.dtype != params.dtype
        ):
            buffer = self._scratch = np.empty_like(params)
        return buffer

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_scratch", None)
        return state

    def iteration_ends(self, time_step):
        """End of an epoch: ``invscaling`` sets ``lr = lr_init / (t + 1)^power_t``."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = (
                float(self.learning_rate_init) / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, msg, verbose):
        """No improvement for ``n_iter_no_change`` epochs: stop, or divide lr by 5."""
        if self.lr_schedule != "adaptive":
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


class SGD(_Schedule):
    """SGD with momentum or Nesterov's momentum on a flat parameter vector.

    ``velocity = momentum·velocity − lr·grad``; the step is ``velocity``, or
    ``momentum·velocity − lr·grad`` with Nesterov.
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
    ):
        super().__init__(learning_rate_init, lr_schedule, power_t)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = np.zeros_like(params)

    def step(self, params, grad, decay=0.0, n_decayed=0):
        """Update ``params`` in place from ``grad``.

        ``decay``/``n_decayed``: first add an L2 term's gradient,
        ``grad[:n_decayed] += decay·params[:n_decayed]`` (see :class:`Adam`).
        """
        lr, scratch = self.learning_rate, self._scratch_like(params)
        add_decay(grad, params, decay, n_decayed, scratch)
        self.velocity *= self.momentum
        add_scaled(self.velocity, grad, -lr, scratch)
        if self.nesterov:
            add_scaled(params, self.velocity, self.momentum, scratch)
            add_scaled(params, grad, -lr, scratch)
        else:
            params += self.velocity


class Adam(_Schedule):
    """Adam (Kingma & Ba) on a flat parameter vector, fused and in place.

    ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
    ``params −= lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)``.
    """

    def __init__(
        self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        super().__init__(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)

    def _step_size(self):
        self.t += 1
        return (
            self.learning_rate
            * np.sqrt(1.0 - self.beta_2**self.t)
            / (1.0 - self.beta_1**self.t)
        )

    def step(self, params, grad, decay=0.0, n_decayed=0):
        """Update ``params`` in place from ``grad``.

        ``decay``/``n_decayed``: first add an L2 term's gradient,
        ``grad[:n_decayed] += decay·params[:n_decayed]``, in the same pass over
        memory as the update (PyTorch's ``weight_decay``); ``grad`` is left holding
        the penalised gradient.
        """
        adam_update(
            params, grad, self.m, self.v, self.beta_1, self.beta_2,
            self._step_size(), self.epsilon, self._scratch_like(params),
            decay, n_decayed,
        )  # fmt: skip


class RowSparseSGD(_Schedule):
    """SGD on the touched rows of a table: ``table[rows] −= lr·grad_table[rows]``.

    With momentum, each row's velocity decays only when the row is touched (lazy
    momentum), so untouched rows stay exactly as they are.
    """

    def __init__(
        self,
        table,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
    ):
        super().__init__(learning_rate_init, lr_schedule, power_t)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = np.zeros_like(table) if momentum else None

    def step(self, table, rows, grad_rows):
        """Update ``table[rows]`` from ``grad_rows`` (= ``grad_table[rows]``)."""
        lr = self.learning_rate
        if self.velocity is None:
            table[rows] -= lr * grad_rows
            return
        velocity = self.momentum * self.velocity[rows] - lr * grad_rows
        self.velocity[rows] = velocity
        if self.nesterov:
            velocity = self.momentum * velocity - lr * grad_rows
        table[rows] += velocity


class RowSparseAdam(Adam):
    """Adam on the touched rows of a table (PyTorch's ``SparseAdam`` semantics).

    Moments of a row are updated only when a batch touches it; the bias correction
    uses the global step count.
    """

    def __init__(
        self, table, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        super().__init__(table[:0], learning_rate_init, beta_1, beta_2, epsilon)
        self.m = np.zeros_like(table)
        self.v = np.zeros_like(table)

    def step(self, table, rows, grad_rows):
        """Update ``table[rows]`` from ``grad_rows`` (= ``grad_table[rows]``)."""
        # Gather the touched rows, update them as one flat block, scatter them
        # back: np.take and plain assignment are 3-5x faster than fancy-index
        # reads and `table[rows] -= ...`.
        m = np.take(self.m, rows, axis=0)
        v = np.take(self.v, rows, axis=0)
        updated = np.take(table, rows, axis=0)
        grad_rows = np.ascontiguousarray(grad_rows, dtype=table.dtype)
        adam_update(
            updated.reshape(-1), grad_rows.reshape(-1), m.reshape(-1), v.reshape(-1),
            self.beta_1, self.beta_2, self._step_size(), self.epsilon,
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
        warnings.warn(
            f"lbfgs failed to converge after {result.nit} iteration(s) "
            f"(status={result.status}): {result.message}. Increase the number of "
            "iterations (max_iter) or scale the data.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return result.x, float(result.fun), min(int(result.nit), max_iter)
