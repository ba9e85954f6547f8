"""What every estimator shares: optimisation parameters, fit orchestration, predict.

:class:`BaseNotesEstimator` is the fit/partial_fit plumbing; two thin layers say
what the targets are: :class:`BaseNotesRegressor` (numbers, a squared-error or
Poisson loss node) and :class:`BaseNotesClassifier` (labels binarised to an
indicator matrix, the fused sigmoid or softmax cross-entropy node on the logits).
Subclasses say only what ``X`` becomes (``_validate_fit_input``,
``_validate_predict_input``), how to build their network (``_new_network``), and
their extra parameters.  Training itself is :mod:`sknotes._training`.
"""

import copy
import os
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted

from sknotes._callbacks import FitCallbacks
from sknotes._compat import (
    CallbackSupportMixin,
    Interval,
    Options,
    StrOptions,
    _check_sample_weight,
)
from sknotes._network import n_parameters
from sknotes._network import predict as network_predict
from sknotes._optimizers import SGD, Adam, RowSparseAdam, RowSparseSGD, Schedule
from sknotes._training import (
    RowJournal,
    StochasticLoop,
    TrainingData,
    TrainingLossStopping,
    ValidationStopping,
    fit_lbfgs,
    random_split,
)
from sknotes.nodes import (
    LOSSES,
    L2Penalty,
    SigmoidBinaryCrossEntropy,
    SoftmaxCrossEntropy,
    _clip_probabilities,
)

__all__ = ["BaseNotesClassifier", "BaseNotesEstimator", "BaseNotesRegressor"]

STOCHASTIC_SOLVERS = ("sgd", "adam")

# Shared with scikit-learn's MLPRegressor: same names, same ranges.
OPTIMIZATION_CONSTRAINTS = {
    "loss": [StrOptions({"squared_error", "poisson"})],
    "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [
        Interval(Integral, 1, None, closed="left"),
        Options(Real, {np.inf}),
    ],
}


def hidden_layer_sizes_list(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a list of positive ints, or a clear ValueError."""
    sizes = hidden_layer_sizes
    if not hasattr(sizes, "__iter__"):
        sizes = [sizes]
    sizes = list(sizes)
    if not all(
        isinstance(s, Integral | np.integer) and not isinstance(s, bool) for s in sizes
    ):
        raise ValueError(f"hidden_layer_sizes must be integers, got {sizes}.")
    if any(s <= 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


# theta, its gradient and Adam's two moments.
_DENSE_COPIES = 4


def check_fits_in_memory(n_values, dtype, what, advice):
    """Refuse up front a request whose arrays could not fit in this machine's memory.

    Without it a huge size fails mid-fit with ``MemoryError``, or worse, the lazy
    allocation succeeds and the machine swaps once training touches the pages.
    """
    needed = int(n_values) * np.dtype(dtype).itemsize
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return
    if needed > available:
        raise ValueError(
            f"{what} needs {needed / 2**30:.1f} GiB with its optimizer state, more "
            f"than this machine's {available / 2**30:.1f} GiB; {advice}."
        )


def check_network_fits(layer_units, dtype):
    """:func:`check_fits_in_memory` for the dense parameters of ``layer_units``."""
    check_fits_in_memory(
        _DENSE_COPIES * n_parameters(layer_units),
        dtype,
        f"A network of layer sizes {list(layer_units)}",
        "lower hidden_layer_sizes",
    )


def has_partial_fit(est):
    """``available_if`` test: ``partial_fit`` needs a stochastic solver.

    (scikit-learn's ``MLPClassifier``; its ``MLPRegressor`` means the same but its
    test is never false, so its ``partial_fit`` with lbfgs runs a whole fit.)
    """
    if est.solver not in STOCHASTIC_SOLVERS:
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers. "
            f"{est.solver} is not stochastic."
        )
    return True


def _r2(y_true, y_pred, sample_weight):
    return r2_score(y_true, y_pred, sample_weight=sample_weight)


# What a fit changes in place, besides the table rows (journaled): small, copied.
_CHANGED_IN_PLACE = ("_network", "_optimizers", "_rng")


class BaseNotesEstimator(CallbackSupportMixin, BaseEstimator):
    """Fit/partial_fit plumbing shared by every sknotes estimator."""

    # What a copy of the model needs to predict, besides its public attributes.
    _PREDICT_STATE = ("_network",)
    # Parameters besides hidden_layer_sizes that shape the fitted model: a
    # continued fit (partial_fit, warm start) would ignore a change or meet a
    # table of another shape, so it refuses one.
    _STRUCTURE_PARAMS = ()

    # -- hooks for subclasses -------------------------------------------------
    def _validate_fit_input(self, X, y, reset):
        """Return ``(inputs, y, take)``: the network's input, 1-D/2-D ``y``, batcher."""
        raise NotImplementedError

    def _validate_predict_input(self, X):
        """Return the network's input for ``X`` (validated against the fit)."""
        raise NotImplementedError

    def _new_network(self, inputs, hidden, n_outputs, rng):
        """Return an initialised :class:`~sknotes._network.Network`.

        ``hidden`` is the list of hidden layer sizes; ``rng`` the model's stream.
        """
        raise NotImplementedError

    def _table(self):
        """The embedding table the network reads, or None."""
        return None

    def _encode_targets(self, y, incremental, dtype):
        """Return the targets the loss node trains on (checked, encoded)."""
        raise NotImplementedError

    def _out_activation(self):
        """``out_activation_``: the output activation of the model's prediction."""
        raise NotImplementedError

    def _network_out_activation(self):
        """The training network's last activation (the loss node takes its output)."""
        return self.out_activation_

    def _loss_node(self):
        """The training loss node."""
        raise NotImplementedError

    def _prepare_target(self, y, sample_weight, first_pass):
        """The target the network is trained on (a subclass may standardise it)."""
        return y

    def _stops_early(self, incremental, n_samples=None):
        """Whether this call holds out a validation set and stops on its score."""
        if incremental and self.early_stopping:
            # scikit-learn's error (one pass over a chunk has no held-out set).
            raise ValueError("partial_fit does not support early_stopping=True")
        return self.early_stopping

    def _loop_extras(self):
        """Extra :class:`~sknotes._training.StochasticLoop` arguments of a subclass."""
        return {}

    # Early stopping's validation score (higher is better) and split.
    _validation_scorer = staticmethod(_r2)
    _validation_splitter = staticmethod(random_split)

    # -- fitting --------------------------------------------------------------
    def _journaled_rows(self):
        """Arrays with one row per table row, journaled instead of copied."""
        return []

    @contextmanager
    def _atomic(self, fitted):
        """On any failure, put the estimator back exactly as it was.

        A fresh fit builds new objects and is atomic by construction (a shallow
        copy of ``__dict__`` suffices).  A warm start or ``partial_fit`` changes the
        network, the optimizers and the random stream in place: those are copied
        first, except the embedding table and its optimizer's per-row moments,
        whose rows are saved by a :class:`~sknotes._training.RowJournal` before their
        first write.  The cost is the dense parameters and the rows touched.
        Yields the journal (None for a fresh fit).
        """
        saved = dict(self.__dict__)
        journal = None
        if fitted:
            journaled = self._journaled_rows()
            memo = {id(array): array for array in journaled}
            for key in _CHANGED_IN_PLACE:
                if key in saved:
                    saved[key] = copy.deepcopy(saved[key], memo)
            journal = RowJournal(journaled)
            # Published parameters are views of the network: re-tie them after.
            live = self.__dict__.get("coefs_") is self._network.coefs
        try:
            yield journal
        except BaseException:
            if journal is not None:
                journal.restore()
            self.__dict__.clear()
            self.__dict__.update(saved)
            if fitted and live:
                self._publish()
            raise

    def _is_fitted(self):
        return hasattr(self, "_network")

    def _check_sample_weight(self, sample_weight, y):
        if sample_weight is None:
            return None
        sample_weight = _check_sample_weight(
            sample_weight,
            np.empty((y.shape[0], 0)),
            dtype=y.dtype,
            ensure_non_negative=True,
        )
        return sample_weight

    def _fit(self, X, y, sample_weight, incremental):
        self._stops_early(incremental)
        hidden = hidden_layer_sizes_list(self.hidden_layer_sizes)
        first_pass = not self._is_fitted() or (not self.warm_start and not incremental)
        # scikit-learn continues from coefs_/intercepts_ a user set on an unfitted
        # model (its tests do): the new network starts from them.
        adopt = (
            not self._is_fitted()
            and (self.warm_start or incremental)
            and "coefs_" in self.__dict__
            and "intercepts_" in self.__dict__
        )
        saved_coefs = self.__dict__.get("coefs_")
        saved_intercepts = self.__dict__.get("intercepts_")
        with self._atomic(fitted=not first_pass) as journal:
            inputs, y, take = self._validate_fit_input(X, y, reset=first_pass)
            y = self._encode_targets(y, incremental, inputs.dtype)
            if y.ndim == 1:
                y = y.reshape(-1, 1)
            sample_weight = self._check_sample_weight(sample_weight, y)
            if not first_pass:
                self._check_continuation(y, hidden)
                self._sync_from_public()
            target = self._prepare_target(y, sample_weight, first_pass)
            if first_pass:
                self._initialize(inputs, target, hidden)
                if adopt:
                    self._adopt_public_parameters(saved_coefs, saved_intercepts)
            data = TrainingData(inputs, target, sample_weight, take)
            callbacks = FitCallbacks(
                self, X, y, 1 if incremental else self.max_iter, self._fitted_copy
            )
            # Overflow is not an error inside the loop (whatever the caller's
            # np.errstate): divergence is detected and refused by _check_finite.
            with np.errstate(all="ignore"):
                state = self._train(data, incremental, callbacks, journal)
            self._fit_state = state
            self._publish_state(state)
            self._check_finite(journal)
            self._publish()
            callbacks.fit_end()
        return self

    def _train(self, data, incremental, callbacks, journal):
        """Run the solver on ``data``; return the loop's ``FitState``."""
        network = self._network
        loss_node = self._loss_node()
        penalty = L2Penalty(self.alpha, network.n_coef_params)
        if self.solver == "lbfgs":
            return fit_lbfgs(
                network,
                loss_node,
                penalty,
                data,
                max_iter=self.max_iter,
                max_fun=self.max_fun,
                tol=self.tol,
                verbose=self.verbose,
            )
        # A warm start keeps the optimizers' state, unless one of their
        # parameters changed since they were built.
        if (
            self._optimizers is None
            or self._optimizer_params != self._current_optimizer_params()
        ):
            self._optimizers = self._new_optimizers()
            self._optimizer_params = self._current_optimizer_params()
        if self._stops_early(incremental, data.n_samples):
            stopping = ValidationStopping(
                self.tol,
                self.n_iter_no_change,
                self.validation_fraction,
                self._rng,
                self._validation_scorer,
                self._loss_node(),
                self._validation_splitter,
            )
        else:
            stopping = TrainingLossStopping(self.tol, self.n_iter_no_change)

        def on_epoch_end(state):
            if not callbacks.active:
                return False
            # Callbacks see the model as it is after this epoch.
            self._publish_state(state)
            self._publish()
            return callbacks.epoch_end(state.n_iter - 1)

        loop = StochasticLoop(
            network,
            loss_node,
            penalty,
            self._optimizers,
            self._optimizers[0].schedule,
            stopping,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            max_iter=self.max_iter,
            random_state=self._rng,
            verbose=self.verbose,
            on_epoch_end=on_epoch_end,
            journal=journal,
            **self._loop_extras(),
        )
        return loop.fit(data, self._fit_state, incremental=incremental)

    def _publish_state(self, state):
        """Expose the loop's ``FitState`` as the fitted attributes."""
        self.n_iter_ = state.n_iter
        self.t_ = state.t
        self._no_improvement_count = state.no_improvement_count
        if state.loss is not None:
            self.loss_ = state.loss
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_ = list(state.loss_curve)
            self.best_loss_ = state.best_loss
            self.validation_scores_ = _copy_list(state.validation_scores)
            self.validation_loss_curve_ = _copy_list(state.validation_loss_curve)
            self.best_validation_score_ = state.best_validation_score

    def _fitted_copy(self):
        """The attributes that make a copy of the model predict as it does now."""
        return copy.deepcopy(
            {
                key: value
                for key, value in vars(self).items()
                if (key.endswith("_") and not key.startswith("_"))
                or key in self._PREDICT_STATE
            }
        )

    def _check_continuation(self, y, hidden):
        if y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y.shape[1]} output(s), but this model was fitted with "
                f"{self.n_outputs_}. Refit with warm_start=False."
            )
        fitted = self.__dict__.get("_fitted_structure", {})
        for name, before, now in [
            ("hidden_layer_sizes", self._network.layer_units[1:-1], hidden),
            *((name, fitted[name], getattr(self, name)) for name in fitted),
        ]:
            if now != before:
                raise ValueError(
                    f"{name} changed from {before!r} to {now!r} since the last "
                    "fit; refit with warm_start=False."
                )

    def _initialize(self, inputs, y, hidden):
        self._fitted_structure = {
            name: getattr(self, name) for name in self._STRUCTURE_PARAMS
        }
        self._rng = check_random_state(self.random_state)
        self.n_outputs_ = y.shape[1]
        self.out_activation_ = self._out_activation()
        self._network = self._new_network(inputs, hidden, self.n_outputs_, self._rng)
        self.n_layers_ = len(self._network.layer_units)
        self._fit_state = None
        self._optimizers = None

    def _current_optimizer_params(self):
        names = [
            "solver",
            "learning_rate_init",
            "learning_rate",
            "power_t",
            "momentum",
            "nesterovs_momentum",
            "beta_1",
            "beta_2",
            "epsilon",
        ]
        return {name: getattr(self, name) for name in names}

    def _new_optimizers(self):
        """``(dense, table or None)``, sharing one learning-rate schedule."""
        network = self._network
        if self.solver == "sgd":
            schedule = Schedule(
                self.learning_rate_init, self.learning_rate, self.power_t
            )
            args = (schedule, self.momentum, self.nesterovs_momentum)
            dense_class, table_class = SGD, RowSparseSGD
        else:
            # Adam's learning rate is constant, as in scikit-learn.
            schedule = Schedule(self.learning_rate_init)
            args = (schedule, self.beta_1, self.beta_2, self.epsilon)
            dense_class, table_class = Adam, RowSparseAdam
        dense = dense_class(network.theta, *args)
        table = None if network.table is None else table_class(network.table, *args)
        return dense, table

    def _check_finite(self, journal=None):
        network = self._network
        finite = np.isfinite(network.theta).all()
        if network.table is not None:
            # The table was finite before the call: only rows it wrote can fail.
            table = network.table
            if journal is not None and journal.covers(table):
                table = np.take(table, journal.rows(), axis=0)
            finite = finite and np.isfinite(table).all()
        if not finite:
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        # Early stopping restores the best finite parameters: its last loss may be inf.
        restored = self.early_stopping and self.solver != "lbfgs"
        if not restored and not np.isfinite(getattr(self, "loss_", 0.0)):
            raise ValueError(
                "The training loss is not finite: the solver diverged. Lower "
                "learning_rate_init, or scale the inputs (and a regressor's "
                "targets) first."
            )

    def _adopt_public_parameters(self, coefs, intercepts):
        """Load user-set ``coefs_``/``intercepts_`` into a new network."""
        expected = [W.shape for W in self._network.coefs]
        shapes = [np.shape(W) for W in coefs]
        if shapes != expected or len(intercepts) != len(expected):
            raise ValueError(
                f"coefs_ of shapes {shapes} do not fit this data and "
                f"hidden_layer_sizes (expected {expected})."
            )
        self._network.load(coefs, intercepts)

    @property
    def _optimizer(self):
        """The learning-rate schedule (scikit-learn's tests read ``_optimizer``'s)."""
        optimizers = self.__dict__.get("_optimizers")
        if not optimizers:
            # As scikit-learn: no optimizer before a stochastic fit, none with lbfgs.
            raise AttributeError("_optimizer")
        return optimizers[0].schedule

    def _sync_from_public(self):
        """Copy the public parameters into the network (a user may reassign them)."""
        self._network.load(self.coefs_, self.intercepts_)

    def _publish(self):
        """Expose the live parameters (views of the network's flat vector)."""
        self.coefs_ = self._network.coefs
        self.intercepts_ = self._network.intercepts

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_network" in self.__dict__:
            self._publish()

    # -- public API -----------------------------------------------------------
    def _predict_raw(self, X):
        check_is_fitted(self)
        inputs = self._validate_predict_input(X)
        with np.errstate(over="ignore", invalid="ignore"):
            y_pred = network_predict(
                inputs,
                self.coefs_,
                self.intercepts_,
                self.activation,
                self._network.out_activation,
                table=self._table(),
                positions=self._network.positions,
            )
        if not np.isfinite(y_pred).all():
            # Finite but huge inputs (or edited parameters) overflow the network:
            # refuse rather than return inf or NaN.
            raise ValueError(
                "The network's output is not finite for this input: its values are "
                "too large for the fitted model; scale the data as for training."
            )
        return y_pred

    @staticmethod
    def _as_1d_or_2d(y):
        if y.ndim == 2 and y.shape[1] == 1:
            return column_or_1d(y, warn=True)
        return y


class BaseNotesRegressor(RegressorMixin, BaseNotesEstimator):
    """The regressor layer: numeric targets, a squared-error or Poisson loss."""

    def _encode_targets(self, y, incremental, dtype):
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for "
                "loss='poisson'."
            )
        return y

    def _out_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _loss_node(self):
        return LOSSES[self.loss]()

    def predict(self, X):
        """Predict with the fitted network.

        Parameters
        ----------
        X : see the estimator's ``fit``

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        y_pred = self._predict_raw(X)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred


def _fit_label_binarizer(y):
    """``LabelBinarizer().fit(y)``.

    Integer labels in a 1-D array (validated ``y``, as a classifier's usually
    is) get the fitted attributes ``fit`` sets (``classes_``, ``y_type_``,
    ``sparse_input_``) from one ``np.unique``: ``fit`` reaches them through
    ``type_of_target`` and ``unique_labels``, which validate ``y`` again.
    """
    if isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "iu" and y.size:
        binarizer = LabelBinarizer()
        binarizer.classes_ = np.unique(y)
        # type_of_target's rule for one column of integers.
        binarizer.y_type_ = (
            "multiclass" if binarizer.classes_.shape[0] > 2 else "binary"
        )
        binarizer.sparse_input_ = False
        return binarizer
    return LabelBinarizer().fit(y)


def _binarize(label_binarizer, y, dtype):
    """``label_binarizer.transform(y)`` in ``dtype``.

    Labels of one column (binary or multiclass, two or more classes) are encoded
    directly: the transform's second validation of ``y`` costs more than the
    encoding.  Anything else goes through the transform.
    """
    classes = label_binarizer.classes_
    if (
        label_binarizer.y_type_ in ("binary", "multiclass")
        and isinstance(y, np.ndarray)
        and y.ndim == 1
        and classes.shape[0] >= 2
    ):
        codes = np.searchsorted(classes, y)
        # Labels outside classes_ (the transform's error) take the transform's path.
        if (codes < classes.shape[0]).all() and (classes[codes] == y).all():
            if classes.shape[0] == 2:
                return (codes == 1).astype(dtype).reshape(-1, 1)
            Y = np.zeros((y.shape[0], classes.shape[0]), dtype)
            Y[np.arange(y.shape[0]), codes] = 1
            return Y
    return label_binarizer.transform(y).astype(dtype)


class BaseNotesClassifier(ClassifierMixin, BaseNotesEstimator):
    """The classifier layer: labels, logits, and a fused cross-entropy loss node.

    The labels are binarised as scikit-learn's ``MLPClassifier`` does
    (``LabelBinarizer``: one column for two classes, one per class for several, the
    indicator matrix for multilabel ``y``).  The training network ends at the
    logits ``S`` (identity last activation); the loss node is
    :class:`~sknotes.nodes.SoftmaxCrossEntropy` for several classes, else
    :class:`~sknotes.nodes.SigmoidBinaryCrossEntropy`, and prediction applies that
    node's ``proba`` to the logits.
    """

    _PREDICT_STATE = ("_network", "_label_binarizer")

    def _encode_targets(self, y, incremental, dtype):
        first_classes = self.__dict__.get("_first_partial_fit_classes")
        if first_classes is not None:
            # scikit-learn's first partial_fit: classes_ from ``classes``.
            self.classes_ = unique_labels(first_classes)
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(self.classes_)
        if first_classes is None and (
            not hasattr(self, "classes_") or (not self.warm_start and not incremental)
        ):
            self._label_binarizer = _fit_label_binarizer(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            # scikit-learn's checks and messages.
            classes = unique_labels(y)
            if self.warm_start and first_classes is None:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        return _binarize(self._label_binarizer, y, dtype)

    def _out_activation(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax"
        return "logistic"

    def _network_out_activation(self):
        return "identity"

    def _output_node(self):
        if self.out_activation_ == "softmax":
            return SoftmaxCrossEntropy
        return SigmoidBinaryCrossEntropy

    def _loss_node(self):
        return self._output_node()()

    def _labels(self, S):
        """Labels from logits ``S``, thresholded as scikit-learn's ``predict``."""
        P = self._output_node().proba(S)
        if P.shape[1] == 1:
            P = P.ravel()
        return self._label_binarizer.inverse_transform(P)

    def _validation_scorer(self, Y, S, sample_weight):
        """Accuracy of the logits ``S`` against the indicator targets ``Y``."""
        if Y.shape[1] == 1:
            Y = Y.ravel()
        y_true = self._label_binarizer.inverse_transform(Y)
        return accuracy_score(y_true, self._labels(S), sample_weight=sample_weight)

    def _validation_splitter(self, Y, validation_fraction, random_state):
        """scikit-learn's draw: stratified for one output column (binary) only."""
        from sklearn.model_selection import train_test_split

        stratify = Y.astype(bool) if Y.shape[1] == 1 else None
        return train_test_split(
            np.arange(Y.shape[0]),
            random_state=random_state,
            test_size=validation_fraction,
            stratify=stratify,
        )

    def _partial_fit_classes(self, X, y, sample_weight, classes):
        """``partial_fit`` as scikit-learn's: the first call needs ``classes``."""
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if not first and classes is not None:
            if not np.array_equal(self.classes_, unique_labels(classes)):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call "
                    f"to partial_fit, was: {self.classes_!r}"
                )
        self._first_partial_fit_classes = classes if first else None
        try:
            return self._fit(X, y, sample_weight, incremental=True)
        finally:
            self.__dict__.pop("_first_partial_fit_classes", None)

    def predict(self, X):
        """Predict class labels (or the label indicator matrix, multilabel).

        Parameters
        ----------
        X : see the estimator's ``fit``

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        return self._labels(self._predict_raw(X))

    def predict_proba(self, X):
        """Probability of each class, in the order of ``classes_``.

        Parameters
        ----------
        X : see the estimator's ``fit``

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            ``softmax(S)`` for several classes, ``σ(S)`` per label (multilabel), and
            ``[σ(−s), σ(s)]`` (that is ``[1 − σ(s), σ(s)]``) for two classes.
        """
        S = self._predict_raw(X)
        P = self._output_node().proba(S)
        if self.out_activation_ == "logistic":
            # σ(s) rounds to 1 from s ≈ 37: keep each label uncertain, within the
            # [eps, 1 − eps] that scikit-learn's log-loss clips to.
            P = _clip_probabilities(P)
        if P.shape[1] == 1:
            # 1 − σ(s) is σ(−s), computed directly: the subtraction would keep
            # only eps of absolute precision where σ(s) is near 1.
            negative = _clip_probabilities(self._output_node().proba(-S))
            return np.hstack([negative, P])
        return P

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, as scikit-learn's (ties kept).

        Parameters
        ----------
        X : see the estimator's ``fit``

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        # log(P), not the node's log_proba from the logits: probabilities that
        # round to the same value keep equal logs, so argmax agrees with P's.
        P = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(P, out=P)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _copy_list(values):
    return None if values is None else list(values)
