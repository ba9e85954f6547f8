"""The training loop, written once and shared by every sknotes estimator.

The loop owns what changes while it trains, a :class:`FitState` (counters, best
loss, no-improvement count, curves, the best parameters), and returns it; the
estimator publishes it.  Its steps can be overridden one at a time, as skorch's:
:meth:`StochasticLoop.fit` runs epochs (:meth:`~StochasticLoop.run_epoch`), an
epoch runs batch steps (:meth:`~StochasticLoop.train_step`).  When to stop is one
strategy object (:class:`TrainingLossStopping` or :class:`ValidationStopping`);
the loss node, the penalty, the validation scorer and splitter are chosen by the
estimator.  What the estimator's ``X`` became (rows of a matrix, or rows of
``Π``) is hidden behind ``take``.
"""

import contextlib
import copy
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import ThreadpoolController

from sknotes._compat import warn_at_caller
from sknotes._optimizers import minimize_lbfgs

__all__ = [
    "FitState",
    "RowJournal",
    "StochasticLoop",
    "TrainingData",
    "TrainingLossStopping",
    "ValidationStopping",
    "fit_lbfgs",
    "random_split",
    "run_each_batch",
]


class TrainingData:
    """What the loop trains on: network inputs, targets and sample weights.

    Parameters
    ----------
    inputs : ndarray or sparse matrix
        Anything ``take`` can index (dense ``X``, CSR ``X``, ``Π``).
    y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
    take : callable, default=None
        ``take(inputs, indices)`` returns the rows of samples ``indices`` (several
        rows of ``Π`` per sample with positions); ``inputs[indices]`` when None.
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
        """``(inputs, y, sample_weight)`` of the samples ``indices``."""
        # take gathers rows several times faster than fancy indexing.
        if self._take is not None:
            inputs = self._take(self.inputs, indices)
        elif isinstance(self.inputs, np.ndarray):
            inputs = self.inputs.take(indices, axis=0)
        else:
            inputs = self.inputs[indices]
        sample_weight = (
            None
            if self.sample_weight is None
            else self.sample_weight.take(indices, axis=0)
        )
        return inputs, self.y.take(indices, axis=0), sample_weight

    def subset(self, indices):
        inputs, y, sample_weight = self.batch(indices)
        return TrainingData(inputs, y, sample_weight, self._take)


def shuffle_indices(order, random_state):
    """scikit-learn's ``shuffle(order, random_state=random_state)``.

    The same permutation drawn from the same stream, without its validation.
    """
    return order.take(random_state.permutation(order.shape[0]))


def random_split(y, validation_fraction, random_state):
    """scikit-learn's ``train_test_split`` draw of ``(train, validation)`` indices.

    The default splitter of :class:`ValidationStopping`; a classifier passes a
    stratified one with the same signature.
    """
    # Imported here: sklearn.model_selection needs sklearn.callback, which
    # scikit-learn < 1.9 lacks (see sknotes._callbacks).
    from sklearn.model_selection import train_test_split

    return train_test_split(
        np.arange(y.shape[0]), random_state=random_state, test_size=validation_fraction
    )


@dataclass
class FitState:
    """What training changes besides the parameters, owned by the loop.

    The estimator keeps the state between warm starts and ``partial_fit`` calls
    and publishes it as its fitted attributes (``n_iter_``, ``t_``, ``loss_``,
    ``loss_curve_``, ``best_loss_``, ``validation_scores_``,
    ``validation_loss_curve_``, ``best_validation_score_``).
    """

    n_iter: int = 0
    t: int = 0
    loss: float | None = None
    loss_curve: list = field(default_factory=list)
    best_loss: float | None = np.inf
    no_improvement_count: int = 0
    validation_scores: list | None = None
    validation_loss_curve: list | None = None
    best_validation_score: float | None = None
    # The parameters to restore at the end (early stopping), during a fit only.
    best_params: tuple | None = None
    # Shuffled order carried over between calls, so that k calls equal one fit
    # of k epochs; the random state that drew the validation split.
    sample_order: np.ndarray | None = None
    validation_split_state: tuple | None = None

    def copy(self):
        """An independent copy: a failed call leaves the original untouched."""
        return copy.deepcopy(self)


class _NoImprovement:
    """Counts epochs whose monitored value fails to improve by ``tol``."""

    def __init__(self, tol, n_iter_no_change):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change

    def stalled(self, state):
        """Whether ``n_iter_no_change`` epochs in a row brought no improvement."""
        return state.no_improvement_count > self.n_iter_no_change

    def _count(self, state, improved):
        state.no_improvement_count = 0 if improved else state.no_improvement_count + 1


class TrainingLossStopping(_NoImprovement):
    """Stop when the training loss fails to fall by ``tol`` (no held-out data)."""

    def start(self, state, data, network):
        """Return the data to train on (all of it)."""
        if state.best_loss is None:
            state.best_loss = np.inf
        return data

    def epoch_end(self, state, network, verbose):
        loss = state.loss
        self._count(state, loss <= state.best_loss - self.tol and np.isfinite(loss))
        if loss < state.best_loss:
            state.best_loss = loss

    def initial_model(self, state, network):
        """Nothing to score before training (no held-out data)."""

    def message(self):
        return (
            f"Training loss did not improve more than tol={self.tol:f}"
            f" for {self.n_iter_no_change} consecutive epochs."
        )

    def finish(self, state, network):
        """Nothing to restore: the last parameters are the model."""


class ValidationStopping(_NoImprovement):
    """Hold out ``validation_fraction`` of the data; stop when its score stalls.

    The best parameters are restored at the end.

    Parameters
    ----------
    tol, n_iter_no_change : float, int
    validation_fraction : float
    random_state : RandomState
        The estimator's stream: the first fit draws the split from it, as
        scikit-learn does; every warm start replays that draw, so the same rows
        stay held out.  (scikit-learn draws a new split at each warm start: rows
        validated on before are trained on after, and ``best_validation_score_``
        compares scores on different rows.)
    scorer : callable
        ``scorer(y_true, y_pred, sample_weight) -> float``, higher is better
        (R² for a regressor).
    loss_node : node
        Scores the validation loss curve (a fresh instance of the training loss).
    splitter : callable, default=random_split
        ``splitter(y, validation_fraction, random_state) -> (train, validation)``.
    """

    def __init__(
        self,
        tol,
        n_iter_no_change,
        validation_fraction,
        random_state,
        scorer,
        loss_node,
        splitter=random_split,
    ):
        super().__init__(tol, n_iter_no_change)
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.scorer = scorer
        self.loss_node = loss_node
        self.splitter = splitter

    def start(self, state, data, network):
        """Split off the validation set; return the data to train on."""
        if state.validation_split_state is None:
            state.validation_split_state = self.random_state.get_state()
            random_state = self.random_state
        else:
            random_state = np.random.RandomState()
            random_state.set_state(state.validation_split_state)
        train, val = self.splitter(data.y, self.validation_fraction, random_state)
        if len(val) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        self.validation = data.subset(val)
        if state.validation_scores is None:
            state.validation_scores, state.validation_loss_curve = [], []
            state.best_validation_score, state.best_loss = -np.inf, None
        state.best_params = network.snapshot()
        return data.subset(train)

    def scores(self, network):
        """``(score, loss)`` on the validation set; NaN for non-finite output."""
        val = self.validation
        y_pred = network.predict(val.inputs)
        if not np.isfinite(y_pred).all():
            return np.nan, np.nan
        loss = self.loss_node.forward(y_pred, val.y, val.sample_weight)
        return float(self.scorer(val.y, y_pred, val.sample_weight)), loss

    def initial_model(self, state, network):
        """Score the model before its first epoch: the best to beat.

        An estimator that starts from a fitted model (a linear path solved in
        closed form) then never ends worse than it on the validation rows.  The
        score is not appended to ``validation_scores``.
        """
        score, _ = self.scores(network)
        if np.isfinite(score) and score > state.best_validation_score:
            state.best_validation_score = score
            state.best_params = network.snapshot()

    def epoch_end(self, state, network, verbose):
        score, loss = self.scores(network)
        state.validation_scores.append(score)
        state.validation_loss_curve.append(loss)
        if verbose:
            print(f"Validation score: {score:f}")
        self._count(state, score >= state.best_validation_score + self.tol)
        if score > state.best_validation_score:
            state.best_validation_score = score
            state.best_params = network.snapshot()

    def message(self):
        return (
            f"Validation score did not improve more than tol={self.tol:f} for "
            f"{self.n_iter_no_change} consecutive epochs."
        )

    def finish(self, state, network):
        """Restore the best parameters seen."""
        network.restore(state.best_params)
        state.best_params = None


class RowJournal:
    """Old values of the table rows a call writes, saved before the first write.

    A failed call restores them; a successful one drops them.  The cost is the
    rows touched, not the size of the table.

    Parameters
    ----------
    arrays : sequence of ndarray
        Arrays with one row per table row (the table, its optimizer's moments).
    """

    def __init__(self, arrays):
        self.arrays = list(arrays)
        self._saved = []
        self._seen = (
            np.zeros(self.arrays[0].shape[0], dtype=bool) if self.arrays else None
        )

    def save(self, rows):
        """Keep the current values of those ``rows`` not saved before."""
        if self._seen is None:
            return
        new = rows[~self._seen[rows]]
        if new.size:
            self._seen[new] = True
            self._saved.append((new, [np.take(a, new, axis=0) for a in self.arrays]))

    def covers(self, array):
        """Whether ``array``'s writes are journaled."""
        return any(a is array for a in self.arrays)

    def rows(self):
        """The rows saved so far: every row written since the journal began."""
        if not self._saved:
            return np.zeros(0, dtype=np.intp)
        return np.concatenate([rows for rows, _ in self._saved])

    def restore(self):
        """Write the saved rows back (the newest first, so the oldest value wins)."""
        for rows, values in reversed(self._saved):
            for array, old in zip(self.arrays, values, strict=True):
                array[rows] = old
        self._saved = []


_CONTROLLER = []


def one_blas_thread():
    """A context in which BLAS libraries run on one thread.

    For work made of many small products or of vector operations (the compiled
    bag step, L-BFGS and LSQR over a table's rows), where OpenBLAS's threads
    spend more time waking and waiting than computing.
    """
    if not _CONTROLLER:
        # Inspecting the loaded libraries costs milliseconds: once per process.
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


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
        # A process that ignores SIGINT (``nohup``, a background job) asked not to be
        # stopped by it: leave that choice alone.
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        ):
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


def _warn_interrupted():
    warn_at_caller("Training interrupted by user.")


def run_each_batch(step, train, batches, interrupt):
    """Σ loss × batch size over ``batches``, one ``step(train, batch)`` call per
    batch, or None when interrupted (the flag is read after every batch)."""
    accumulated_loss = 0.0
    for batch in batches:
        accumulated_loss += step(train, batch) * batch.shape[0]
        if interrupt.raised:
            return None
    return accumulated_loss


def loss_and_backward(network, loss_node, penalty, inputs, y, sample_weight):
    """One forward and backward pass: the penalised loss, data gradient in ``grad``.

    The penalty's gradient is left to the caller (fused into an optimizer's step,
    or added by ``penalty.backward``).
    """
    y_hat = network.forward(inputs)
    loss = loss_node.forward(y_hat, y, sample_weight)
    network.backward(loss_node.backward())
    return loss + penalty.forward(network.theta, loss_node)


class StochasticLoop:
    """Minibatch epochs with ``sgd``/``adam``: fit loop → epoch → batch step.

    Parameters
    ----------
    network : Network
    loss_node : node
        The training loss (``forward(Ŷ, Y, w)``, ``backward()``, ``n``).
    penalty : L2Penalty
    optimizers : tuple
        ``(dense_optimizer, table_optimizer or None)``.
    schedule : Schedule
        The optimizers' shared learning rate; makes the one stopping decision.
    stopping : TrainingLossStopping or ValidationStopping
    batch_size : int or 'auto'
    shuffle : bool
    max_iter : int
    random_state : RandomState
        Shuffles the samples.
    verbose : bool, default=False
    on_epoch_end : callable, default=None
        ``on_epoch_end(state) -> bool``; True stops training (callbacks).
    journal : RowJournal, default=None
        Saves the table rows before the table optimizer first writes them.
    table_penalty : RowL2Penalty, default=None
        L2 penalty on the table rows each batch touches.
    initialize : callable, default=None
        ``initialize(train)``: called with the training data (after the
        validation split: the held-out rows are the stopping strategy's) before
        the first epoch; the model it leaves is scored by the stopping strategy
        as epoch 0.
    compiled_step : callable, default=None
        ``compiled_step(loop)`` returns a step ``step(train, indices) -> loss``
        that replaces :meth:`train_step` (e.g.
        :class:`~sknotes._bag_kernel.CompiledBagStep`); one per worker.  A step
        with a ``run_batches(train, batches, interrupt)`` method runs a
        worker's batches itself (several per call: see
        :class:`~sknotes._dense_kernel.CompiledDenseStep`) and returns what
        :func:`run_each_batch` would.
    n_jobs : int, default=1
        Workers of a compiled step: each epoch's batches are dealt to them in
        turn and run at once on the shared parameters, without locks (Hogwild).
        The reference :meth:`train_step` always runs on one.
    """

    def __init__(
        self,
        network,
        loss_node,
        penalty,
        optimizers,
        schedule,
        stopping,
        *,
        batch_size,
        shuffle,
        max_iter,
        random_state,
        verbose=False,
        on_epoch_end=None,
        journal=None,
        table_penalty=None,
        initialize=None,
        compiled_step=None,
        n_jobs=1,
    ):
        self.network = network
        self.loss_node = loss_node
        self.penalty = penalty
        self.dense_optimizer, self.table_optimizer = optimizers
        self.schedule = schedule
        self.stopping = stopping
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.max_iter = max_iter
        self.random_state = random_state
        self.verbose = verbose
        self.on_epoch_end = on_epoch_end
        self.journal = journal
        self.table_penalty = table_penalty
        self.initialize = initialize
        self.compiled_step = compiled_step
        self.n_jobs = n_jobs if compiled_step is not None else 1
        self._steps = None

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warn_at_caller(
                "Got `batch_size` less than 1 or larger than "
                "sample size. It is going to be clipped"
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def fit(self, data, state=None, *, incremental=False):
        """Train on ``data``; return the new :class:`FitState` (``state`` is kept).

        ``incremental``: one epoch, no convergence warning (``partial_fit``).
        """
        state = FitState() if state is None else state.copy()
        state.n_iter = 0
        train = self.stopping.start(state, data, self.network)
        if self.initialize is not None:
            self.initialize(train)
            self.stopping.initial_model(state, self.network)
        with _InterruptFlag() as interrupt:
            for _ in range(1 if incremental else self.max_iter):
                loss = self.run_epoch(train, state, interrupt)
                if loss is None:
                    _warn_interrupted()
                    break
                if self.end_epoch(state, loss):
                    break
                if not incremental and state.n_iter == self.max_iter:
                    warn_at_caller(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                        "reached and the optimization hasn't converged yet.",
                        ConvergenceWarning,
                    )
        self.stopping.finish(state, self.network)
        return state

    def run_epoch(self, train, state, interrupt):
        """One pass over ``train``; the mean batch loss, or None when interrupted."""
        n_samples = train.n_samples
        batch_size = self._batch_size(n_samples)
        order = state.sample_order
        if order is None or order.shape[0] != n_samples:
            order = np.arange(n_samples)
        if self.shuffle:
            order = state.sample_order = shuffle_indices(
                order, random_state=self.random_state
            )
        batches = [
            order[start : start + batch_size]
            for start in range(0, n_samples, batch_size)
        ]
        if self.compiled_step is None:
            accumulated_loss = self._run_reference_batches(train, batches, interrupt)
            if accumulated_loss is None:
                return None
            state.t += n_samples
            return accumulated_loss / n_samples
        steps = self._worker_steps()
        # The compiled bag step's head products are a minibatch by a few dozen
        # columns: BLAS threads cost more there than they bring (and Hogwild
        # workers would each start their own), so that step runs on one.
        single = getattr(self.compiled_step, "single_blas_thread", True)
        with one_blas_thread() if single else contextlib.nullcontext():
            if len(steps) == 1:
                accumulated_loss = self._run_batches(
                    steps[0], train, batches, interrupt
                )
            else:
                # Worker j takes batches j, j + n_jobs, ...; the compiled step
                # releases the GIL, so they run at once (Hogwild).
                with ThreadPoolExecutor(len(steps)) as pool:
                    parts = list(
                        pool.map(
                            self._run_batches,
                            steps,
                            [train] * len(steps),
                            [batches[j :: len(steps)] for j in range(len(steps))],
                            [interrupt] * len(steps),
                        )
                    )
                accumulated_loss = None if None in parts else sum(parts)
        if accumulated_loss is None:
            return None
        state.t += n_samples
        return accumulated_loss / n_samples

    def _worker_steps(self):
        if self._steps is None:
            self._steps = [self.compiled_step(self) for _ in range(self.n_jobs)]
        return self._steps

    def _run_reference_batches(self, train, batches, interrupt):
        """:meth:`_run_batches` with :meth:`train_step`, one call per batch."""
        accumulated_loss = 0.0
        batch, train_step = train.batch, self.train_step
        for indices in batches:
            accumulated_loss += train_step(*batch(indices)) * indices.shape[0]
            if interrupt.raised:
                return None
        return accumulated_loss

    @staticmethod
    def _run_batches(step, train, batches, interrupt):
        """Σ loss × batch size over ``batches``, or None when interrupted."""
        run_batches = getattr(step, "run_batches", None)
        if run_batches is not None:
            return run_batches(train, batches, interrupt)
        return run_each_batch(step, train, batches, interrupt)

    def train_step(self, inputs, y, sample_weight):
        """Forward, backward and one optimizer step; returns the batch's loss."""
        network = self.network
        loss = loss_and_backward(
            network, self.loss_node, self.penalty, inputs, y, sample_weight
        )
        # The penalty's gradient is fused into the dense optimizer's pass.
        self.dense_optimizer.step(network.theta, network.grad, self.penalty)
        if self.table_optimizer is not None:
            rows, grad_rows = network.embedding.grad_table_rows
            if self.table_penalty is not None:
                table_rows = np.take(network.table, rows, axis=0)
                counts = self.table_penalty.occurrences(
                    network.embedding.Pi_rows, sample_weight
                )
                loss += self.table_penalty.forward(
                    table_rows, rows, counts, self.loss_node
                )
                self.table_penalty.backward(grad_rows, table_rows)
            if self.journal is not None:
                self.journal.save(rows)
            self.table_optimizer.step(network.table, rows, grad_rows)
        return loss

    def end_epoch(self, state, loss):
        """Record the epoch, update the schedule, decide; True stops training."""
        state.n_iter += 1
        state.loss = loss
        state.loss_curve.append(loss)
        if self.verbose:
            print(f"Iteration {state.n_iter}, loss = {loss:.8f}")
        self.stopping.epoch_end(state, self.network, self.verbose)
        self.schedule.iteration_ends(state.t)
        if self.on_epoch_end is not None and self.on_epoch_end(state):
            return True
        if not np.isfinite(loss):
            # Nothing useful can follow non-finite parameters.
            return True
        if self.stopping.stalled(state):
            if self.schedule.trigger_stopping(self.stopping.message(), self.verbose):
                return True
            state.no_improvement_count = 0
        return False


def fit_lbfgs(network, loss_node, penalty, data, *, max_iter, max_fun, tol, verbose):
    """Fit all parameters at once with L-BFGS on the penalised full-batch loss.

    Returns the :class:`FitState` (``n_iter``, ``loss``).
    """
    theta = network.theta

    def loss_and_grad(x):
        theta[...] = x
        loss = loss_and_backward(
            network, loss_node, penalty, data.inputs, data.y, data.sample_weight
        )
        penalty.backward(network.grad, theta)
        return loss, network.grad.astype(np.float64)

    with _InterruptFlag() as interrupt:
        x, loss, n_iter = minimize_lbfgs(
            loss_and_grad,
            theta.astype(np.float64),
            max_iter=max_iter,
            max_fun=max_fun,
            tol=tol,
            verbose=verbose,
            stop=lambda: interrupt.raised,
        )
    if interrupt.raised:
        _warn_interrupted()
    theta[...] = x
    return FitState(n_iter=n_iter, loss=loss, best_loss=None)
