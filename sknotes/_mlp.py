"""scikit-learn's MLPRegressor and MLPClassifier, rebuilt from the notes' nodes."""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import validate_data

from sknotes._base import (
    OPTIMIZATION_CONSTRAINTS,
    BaseNotesClassifier,
    BaseNotesRegressor,
    check_network_fits,
    has_partial_fit,
)
from sknotes._compat import Interval, StrOptions, _fit_context, with_callbacks
from sknotes._dense_kernel import CompiledDenseStep, dense_step_support
from sknotes._network import Network

__all__ = ["MLPClassifierFromNotes", "MLPRegressorFromNotes"]

# The parameters of scikit-learn's MLPs, both estimators (the regressor adds loss).
MLP_CONSTRAINTS = {
    **{key: value for key, value in OPTIMIZATION_CONSTRAINTS.items() if key != "loss"},
    "hidden_layer_sizes": [
        "array-like",
        Interval(Integral, 1, None, closed="left"),
    ],
    "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
}


def _store_params(estimator, params):
    """Store ``__init__``'s arguments unchanged, under their own names."""
    for name, value in params.items():
        if name != "self":
            setattr(estimator, name, value)


class _MLPFromNotes:
    """What both MLPs share: dense or sparse ``X`` into a plain network, and fit."""

    def _validate_X_y(self, X, y, reset, y_numeric):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=y_numeric,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if sp.issparse(X):
            # Minibatches are row slices: CSR makes them cheap.
            X = X.tocsr()
        if not reset and X.dtype != self._network.dtype:
            X = X.astype(self._network.dtype)
        return X, self._as_1d_or_2d(y)

    def _validate_predict_input(self, X):
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            reset=False,
        )
        return X

    def _new_network(self, X, hidden, n_outputs, rng):
        check_network_fits([X.shape[1], *hidden, n_outputs], X.dtype)
        network = Network(
            [X.shape[1], *hidden, n_outputs],
            self.activation,
            self._network_out_activation(),
            X.dtype,
        )
        network.initialize(rng)
        return network

    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X`` and ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data; float32 trains in float32, sparse stays sparse.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets (class labels, or a label indicator matrix, for a classifier).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights; the loss is their weighted mean.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _loop_extras(self):
        # The compiled step where it covers the model; the reference otherwise.
        self._reference_reason = dense_step_support(
            self._network, self._loss_node(), self._optimizers
        )
        if self._reference_reason is None:
            return {"compiled_step": CompiledDenseStep}
        return {}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags


class MLPRegressorFromNotes(_MLPFromNotes, BaseNotesRegressor):
    """Multi-layer perceptron regressor whose every gradient is a line of the notes.

    A drop-in alternative to :class:`sklearn.neural_network.MLPRegressor`: the same
    parameters, methods and fitted attributes, built from the nodes of
    :mod:`sknotes.nodes` (``S = X·W + b``, ``Δ(X)``, MSE).

    Differences from scikit-learn, on purpose:

    - ``loss='squared_error'`` is the notes' MSE ``‖Ŷ − Y‖² / n`` (summed over
      outputs, weighted mean with ``sample_weight``), with ``grad_Ŷ = 2/n (Ŷ − Y)``;
      ``loss_`` and ``loss_curve_`` report it, i.e. twice scikit-learn's value for a
      single output.  It is twice the objective scikit-learn's gradient follows,
      so the L2 term is twice scikit-learn's too, ``alpha·Σ‖W‖² / n``: the same
      ``alpha`` gives scikit-learn's minimiser (:class:`~sknotes.nodes.L2Penalty`).
    - A warm start keeps the optimizer's state and random stream, so ``k`` fits with
      ``max_iter=1, warm_start=True`` equal one fit with ``max_iter=k`` (without
      early stopping); successive ``partial_fit`` calls continue one random stream.
    - ``solver='lbfgs'`` keeps float32 weights for float32 input.
    - ``validation_loss_curve_``: the loss on the validation rows per epoch with
      early stopping.
    - A failed ``fit``/``partial_fit`` leaves a fitted model exactly as it was.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        The loss; ``'poisson'`` uses an exponential output (log link).
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Neurons of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Hidden activation.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        Weight optimizer.
    alpha : float, default=0.0001
        L2 penalty strength, as scikit-learn's: ``alpha/(2n)·Σ‖W‖²`` against its
        loss (biases are not penalised).
    batch_size : int or 'auto', default='auto'
        Minibatch size; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Learning-rate schedule (``solver='sgd'``).
    learning_rate_init : float, default=0.001
        Initial learning rate (``'sgd'``, ``'adam'``).
    power_t : float, default=0.5
        Exponent of ``'invscaling'``.
    max_iter : int, default=200
        Epochs (stochastic solvers) or iterations (``'lbfgs'``).
    shuffle : bool, default=True
        Shuffle samples each epoch.
    random_state : int, RandomState instance or None, default=None
        Initialisation, shuffling and the early-stopping split.
    tol : float, default=1e-4
        Improvement threshold for stopping.
    verbose : bool, default=False
        Print the loss each epoch.
    warm_start : bool, default=False
        Continue from the previous solution (and optimizer state).
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` and stop when its R² stops improving; the
        best parameters are restored.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping.
    max_fun : int, default=15000
        Maximum loss evaluations (``'lbfgs'``).

    Attributes
    ----------
    loss_ : float
        Loss at the end of fitting (penalised).
    best_loss_ : float or None
        Lowest training loss (None with early stopping).
    loss_curve_ : list of float
        Training loss per epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Validation R² per epoch (early stopping).
    validation_loss_curve_ : list of float or None
        Validation loss per epoch (early stopping): the notes' MSE, or the half
        Poisson deviance.
    best_validation_score_ : float or None
        Best validation R² (early stopping).
    t_ : int
        Training samples seen.
    coefs_ : list of ndarray of shape (fan_in, fan_out)
        Weights, live views of the model's parameter vector.
    intercepts_ : list of ndarray of shape (fan_out,)
        Biases, live views.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.
    n_iter_ : int
        Iterations run by the last fit.
    n_layers_ : int
        Number of layers.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Output activation.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sknotes import MLPRegressorFromNotes
    >>> X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    >>> reg = MLPRegressorFromNotes(max_iter=500, random_state=0).fit(X, y / 100)
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **MLP_CONSTRAINTS,
        "loss": OPTIMIZATION_CONSTRAINTS["loss"],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        _store_params(self, locals())

    def _validate_fit_input(self, X, y, reset):
        X, y = self._validate_X_y(X, y, reset, y_numeric=True)
        return X, y.astype(X.dtype, copy=False), None

    @available_if(has_partial_fit)
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)


class MLPClassifierFromNotes(_MLPFromNotes, BaseNotesClassifier):
    """Multi-layer perceptron classifier whose every gradient is a line of the notes.

    A drop-in alternative to :class:`sklearn.neural_network.MLPClassifier`: the same
    parameters, methods and fitted attributes.  The network is the notes' chain
    ``S = X·W + b``, ``Δ(S)``, …, ending at the logits ``S``; the loss is the fused
    :class:`~sknotes.nodes.SigmoidBinaryCrossEntropy` (two classes, or one column
    per label for multilabel ``y``) or :class:`~sknotes.nodes.SoftmaxCrossEntropy`
    (several classes), whose backward is ``grad_S = (P − Y)·w/n``.  The loss is
    scikit-learn's log-loss and ``alpha`` its L2 penalty, so ``solver='lbfgs'``
    reaches scikit-learn's minimiser.

    Differences from scikit-learn, on purpose: the log-loss is computed from the
    logits (exact where scikit-learn clips probabilities); ``predict_log_proba``
    is ``log(predict_proba)`` as in scikit-learn, so both argmaxes agree; a warm
    start keeps the optimizer's state, the random stream and the
    early-stopping split; ``validation_loss_curve_`` records the validation
    log-loss; a failed ``fit``/``partial_fit`` leaves a fitted model as it was.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Neurons of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Hidden activation.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        Weight optimizer.
    alpha : float, default=0.0001
        L2 penalty strength, scikit-learn's ``alpha/(2n)·Σ‖W‖²``.
    batch_size : int or 'auto', default='auto'
        Minibatch size; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Learning-rate schedule (``solver='sgd'``).
    learning_rate_init : float, default=0.001
        Initial learning rate (``'sgd'``, ``'adam'``).
    power_t : float, default=0.5
        Exponent of ``'invscaling'``.
    max_iter : int, default=200
        Epochs (stochastic solvers) or iterations (``'lbfgs'``).
    shuffle : bool, default=True
        Shuffle samples each epoch.
    random_state : int, RandomState instance or None, default=None
        Initialisation, shuffling and the early-stopping split.
    tol : float, default=1e-4
        Improvement threshold for stopping.
    verbose : bool, default=False
        Print the loss each epoch.
    warm_start : bool, default=False
        Continue from the previous solution (and optimizer state).
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` (stratified for two classes, as
        scikit-learn) and stop when its accuracy stops improving; the best
        parameters are restored.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping.
    max_fun : int, default=15000
        Maximum loss evaluations (``'lbfgs'``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (label indices for multilabel ``y``).
    loss_ : float
        Penalised log-loss at the end of fitting.
    best_loss_ : float or None
        Lowest training loss (None with early stopping).
    loss_curve_ : list of float
        Training loss per epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Validation accuracy per epoch (early stopping).
    validation_loss_curve_ : list of float or None
        Validation log-loss per epoch (early stopping).
    best_validation_score_ : float or None
        Best validation accuracy (early stopping).
    t_ : int
        Training samples seen.
    coefs_ : list of ndarray of shape (fan_in, fan_out)
        Weights, live views of the model's parameter vector.
    intercepts_ : list of ndarray of shape (fan_out,)
        Biases, live views.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.
    n_iter_ : int
        Iterations run by the last fit.
    n_layers_ : int
        Number of layers.
    n_outputs_ : int
        Number of outputs (logits).
    out_activation_ : str
        ``'softmax'`` for several classes, else ``'logistic'``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sknotes import MLPClassifierFromNotes
    >>> X, y = make_classification(n_samples=100, random_state=1)
    >>> clf = MLPClassifierFromNotes(max_iter=300, random_state=1).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 2)
    """

    _parameter_constraints: dict = {**MLP_CONSTRAINTS}

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        _store_params(self, locals())

    def _validate_fit_input(self, X, y, reset):
        X, y = self._validate_X_y(X, y, reset, y_numeric=False)
        return X, y, None

    @available_if(has_partial_fit)
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a label indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array-like of shape (n_classes,), default=None
            Every class of all calls; required on the first call only.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._partial_fit_classes(X, y, sample_weight, classes)
