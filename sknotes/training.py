"""The training loop, written once and shared by every sknotes estimator.

Batching, shuffling, the L2 penalty, early stopping with restoration of the best
parameters, stopping on no improvement, divergence and Ctrl-C handling, and the
L-BFGS objective.  The loop sees a :class:`~sknotes.network.Network`, optimizers and
arrays; what the estimator's ``X`` became (rows of a matrix, or rows of ``Π``) is
hidden behind ``take``.
"""

import signal
import threading
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.utils import shuffle as shuffle_indices

from sknotes.kernels import add_decay
from sknotes.nodes import LOSSES
from sknotes.optimizers import minimize_lbfgs

__all__ = ["TrainingData", "fit_lbfgs", "fit_stochastic", "penalized_loss"]


class TrainingData:
    """What the loop trains on: network inputs, targets and sample weights.

    Parameters
    ----------
    inputs : ndarray or sparse matrix
        Anything ``take`` can index (dense ``X``, CSR ``X``, ``Π``).
    y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
    take : callable, default=None
        ``take(inputs, indices)`` returns the batch of rows; ``inputs[indices]``
        when None.
    n_samples : int, default=None
        Number of samples when ``inputs`` has more rows than samples (``Π`` with
        one row per token position); ``len(y)`` when None.
    """

    def __init__(self, inputs, y, sample_weight=None, take=None):
        self.inputs = inputs
        self.y = y
        self.sample_weight = sample_weight
        self._take = take

    @property
    def n_samples(self):
        return self.y.shape[0]

    def batch(self, indices):
        # np.take gathers rows several times faster than fancy indexing.
        if self._take is not None:
            inputs = self._take(self.inputs, indices)
        elif isinstance(self.inputs, np.ndarray):
            inputs = np.take(self.inputs, indices, axis=0)
        else:
            inputs = self.inputs[indices]
        sample_weight = (
            None
            if self.sample_weight is None
            else np.take(self.sample_weight, indices, axis=0)
        )
        return inputs, np.take(self.y, indices, axis=0), sample_weight

    def split(self, validation_fraction, random_state):
        """Random train/validation split (scikit-learn's ``train_test_split`` draw)."""
        from sklearn.model_selection import train_test_split

        indices = np.arange(self.n_samples)
        train, val = train_test_split(
            indices, random_state=random_state, test_size=validation_fraction
        )
        return self.subset(train), self.subset(val)

    def subset(self, indices):
        inputs, y, sample_weight = self.batch(indices)
        return TrainingData(inputs, y, sample_weight, self._take)


def l2_decay(alpha, n):
    """``alpha / n``, the L2 term's gradient coefficient; 0 without a penalty."""
    return 0.0 if alpha == 0.0 or n == 0 else alpha / n


def penalized_loss(data_loss, network, alpha, n, gradient=True):
    """Add scikit-learn's L2 term ``0.5·alpha·Σ‖W‖² / n`` and its gradient in place.

    ``n`` is the (weighted) number of samples of the batch; biases and the
    embedding table are not penalised.  With ``gradient=False`` only the loss term
    is added: the stochastic loop leaves ``grad[:n_coef] += (alpha/n)·W`` to the
    optimizer's step, which fuses it into its own pass (``decay=alpha/n``).
    """
    decay = l2_decay(alpha, n)
    if not decay:
        return data_loss
    weights = network.theta[: network.n_coef_params]
    if gradient:
        add_decay(network.grad, network.theta, decay, network.n_coef_params)
    return data_loss + 0.5 * alpha * float(np.dot(weights, weights)) / n


def _loss_and_backward(
    network, loss_node, alpha, inputs, y, sample_weight, penalty_gradient=True
):
    """One forward and backward pass; returns the penalised loss and table rows."""
    y_hat = network.forward(inputs)
    loss = loss_node.forward(y_hat, y, sample_weight)
    table_rows = network.backward(loss_node.backward())
    loss = penalized_loss(loss, network, alpha, loss_node.n, penalty_gradient)
    return loss, table_rows


def validation_scores(network, data):
    """``(R², MSE)`` of the network on held-out data (NaN R² for non-finite output)."""
    y_pred = network.predict(data.inputs)
    if not np.isfinite(y_pred).all():
        return np.nan, np.nan
    residual = y_pred - data.y
    row_sq = np.einsum("ij,ij->i", residual, residual)
    mse = float(np.average(row_sq, weights=data.sample_weight))
    return float(r2_score(data.y, y_pred, sample_weight=data.sample_weight)), mse


class _InterruptFlag:
    """Turns the first Ctrl-C into a flag read between batches.

    Stopping between two batches never leaves parameters half-updated; a second
    Ctrl-C raises ``KeyboardInterrupt`` as usual.  Only the main thread can own
    signal handlers; elsewhere Ctrl-C keeps its default behaviour.
    """

    def __init__(self):
        self.raised = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handle)
            except ValueError:  # pragma: no cover - embedded interpreters
                self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.raised:
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _split_random_state(est):
    """The random state that draws the early-stopping split.

    The first fit draws it from the model's stream, as scikit-learn does; every
    warm start replays that draw, so the same rows stay held out.  (scikit-learn
    draws a new split at each warm start: rows validated on before are trained on
    after, and ``best_validation_score_`` compares scores on different rows.)
    """
    state = getattr(est, "_validation_split_state", None)
    if state is None:
        est._validation_split_state = est._rng.get_state()
        return est._rng
    replay = np.random.RandomState()
    replay.set_state(state)
    return replay


def fit_stochastic(
    est, network, optimizers, data, *, incremental, early_stopping, callback=None
):
    """Run ``sgd``/``adam`` epochs, updating the estimator's training attributes.

    Parameters
    ----------
    est : estimator
        Supplies the hyper-parameters (``batch_size``, ``max_iter``, ``shuffle``,
        ``tol``, ``n_iter_no_change``, ``alpha``, ``verbose``, ``loss``,
        ``validation_fraction``) and the random stream ``est._rng``; receives
        ``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``, ``best_loss_``,
        ``validation_scores_``, ``validation_loss_curve_``,
        ``best_validation_score_``.
    network : Network
    optimizers : tuple
        ``(dense_optimizer, table_optimizer or None)``.
    data : TrainingData
    incremental : bool
        One epoch, no convergence warning (``partial_fit``).
    early_stopping : bool
    callback : callable, default=None
        Called as ``callback(epoch_index)`` after each epoch; returning True stops.
    """
    dense_optimizer, table_optimizer = optimizers
    loss_node = LOSSES[est.loss]()
    rng = est._rng
    if early_stopping:
        train, val = data.split(est.validation_fraction, _split_random_state(est))
        if val.n_samples < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
    else:
        train, val = data, None

    n_samples = train.n_samples
    if est.batch_size == "auto":
        batch_size = min(200, n_samples)
    else:
        if est.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than "
                "sample size. It is going to be clipped",
                stacklevel=2,
            )
        batch_size = int(np.clip(est.batch_size, 1, n_samples))

    # The shuffled order carries over between warm starts and partial_fit calls
    # (as between epochs), so that k calls equal one fit of k epochs.
    sample_idx = getattr(est, "_sample_order", None)
    if sample_idx is None or sample_idx.shape[0] != n_samples:
        sample_idx = np.arange(n_samples)
    theta, grad = network.theta, network.grad
    best_params = None
    if early_stopping:
        best_params = _snapshot(network)
    est.n_iter_ = 0
    with _InterruptFlag() as interrupt:
        for _ in range(1 if incremental else est.max_iter):
            if est.shuffle:
                sample_idx = shuffle_indices(sample_idx, random_state=rng)
                est._sample_order = sample_idx
            accumulated_loss = 0.0
            for start in range(0, n_samples, batch_size):
                batch_idx = sample_idx[start : start + batch_size]
                inputs, y, sample_weight = train.batch(batch_idx)
                batch_loss, table_rows = _loss_and_backward(
                    network, loss_node, est.alpha, inputs, y, sample_weight, False
                )
                # The L2 term's gradient, fused into the optimizer's pass.
                decay = l2_decay(est.alpha, loss_node.n)
                dense_optimizer.step(
                    theta, grad, decay, network.n_coef_params if decay else 0
                )
                if table_optimizer is not None:
                    table_optimizer.step(network.table, *table_rows)
                accumulated_loss += batch_loss * batch_idx.shape[0]
                if interrupt.raised:
                    break
            if interrupt.raised:
                warnings.warn("Training interrupted by user.", stacklevel=2)
                break

            est.n_iter_ += 1
            est.t_ += n_samples
            est.loss_ = accumulated_loss / n_samples
            est.loss_curve_.append(est.loss_)
            if est.verbose:
                print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")

            diverged = not np.isfinite(est.loss_)
            if early_stopping:
                score, val_mse = validation_scores(network, val)
                est.validation_scores_.append(score)
                est.validation_loss_curve_.append(val_mse)
                if est.verbose:
                    print(f"Validation score: {score:f}")
                if score < est.best_validation_score_ + est.tol or np.isnan(score):
                    est._no_improvement_count += 1
                else:
                    est._no_improvement_count = 0
                if score > est.best_validation_score_:
                    est.best_validation_score_ = score
                    best_params = _snapshot(network)
            else:
                if est.loss_curve_[-1] > est.best_loss_ - est.tol or diverged:
                    est._no_improvement_count += 1
                else:
                    est._no_improvement_count = 0
                if est.loss_curve_[-1] < est.best_loss_:
                    est.best_loss_ = est.loss_curve_[-1]

            for optimizer in optimizers:
                if optimizer is not None:
                    optimizer.iteration_ends(est.t_)

            if callback is not None and callback(est.n_iter_ - 1):
                break
            if diverged:
                # Nothing useful can follow non-finite parameters.
                break
            if est._no_improvement_count > est.n_iter_no_change:
                if early_stopping:
                    msg = (
                        "Validation score did not improve more than "
                        f"tol={est.tol:f} for {est.n_iter_no_change} consecutive "
                        "epochs."
                    )
                else:
                    msg = (
                        f"Training loss did not improve more than tol={est.tol:f}"
                        f" for {est.n_iter_no_change} consecutive epochs."
                    )
                stops = [
                    opt.trigger_stopping(msg, est.verbose)
                    for opt in optimizers
                    if opt is not None
                ]
                if stops[0]:
                    break
                est._no_improvement_count = 0
            if not incremental and est.n_iter_ == est.max_iter:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) "
                    "reached and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=2,
                )
    if early_stopping:
        _restore(network, best_params)


def _snapshot(network):
    table = None if network.table is None else network.table.copy()
    return network.theta.copy(), table


def _restore(network, snapshot):
    theta, table = snapshot
    network.theta[...] = theta
    if table is not None:
        network.table[...] = table


def fit_lbfgs(est, network, data):
    """Fit all parameters at once with L-BFGS on the penalised full-batch loss."""
    loss_node = LOSSES[est.loss]()
    theta = network.theta

    def loss_and_grad(x):
        theta[...] = x
        loss, _ = _loss_and_backward(
            network, loss_node, est.alpha, data.inputs, data.y, data.sample_weight
        )
        return loss, network.grad.astype(np.float64)

    with _InterruptFlag() as interrupt:
        x, loss, n_iter = minimize_lbfgs(
            loss_and_grad,
            theta.astype(np.float64),
            max_iter=est.max_iter,
            max_fun=est.max_fun,
            tol=est.tol,
            verbose=est.verbose,
            stop=lambda: interrupt.raised,
        )
    if interrupt.raised:
        warnings.warn("Training interrupted by user.", stacklevel=2)
    theta[...] = x
    est.n_iter_ = n_iter
    est.loss_ = loss
