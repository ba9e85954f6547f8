"""EmbeddingBagRegressor: regression on tokens through the notes' embedding node."""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from sknotes._compat import Interval, Options, StrOptions, _fit_context, with_callbacks
from sknotes.base import (
    OPTIMIZATION_CONSTRAINTS,
    BaseNotesRegressor,
    check_fits_in_memory,
    check_network_fits,
    has_partial_fit,
)
from sknotes.network import Network
from sknotes.nodes import Embedding
from sknotes.text import (
    TOKEN_PATTERN,
    HashingEncoder,
    Vocabulary,
    bag_matrix,
    detect_input_form,
    normalize_bag_rows,
    position_matrix,
    tokenize,
)

__all__ = ["EmbeddingBagRegressor"]

# Table + Adam's two moments.
_TABLE_COPIES = 3


class EmbeddingBagRegressor(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseNotesRegressor
):
    """Regression on tokenized text: ``Π·Table`` → pooling → optional MLP head.

    Tokens become rows of a trainable embedding table through the notes' one-hot
    matrix ``Π`` ("for Embedding case in NLP"): ``R = Π·Table``, trained with
    ``grad_table = Πᵀ·grad_R``, where only the rows a batch touches are computed and
    updated (Adam keeps its moments per row).  The head is the MLP's chain of linear
    and activation nodes, trained by the same loop as :class:`MLPRegressorFromNotes`.

    ``X`` may be

    - token sequences: ``[["good", "food"], ["slow", "service"]]`` (str or int tokens);
    - raw strings, tokenized as ``CountVectorizer`` does (or by ``tokenizer``);
    - a bag matrix (sparse or dense, n_documents × n_tokens, e.g. the output of
      ``CountVectorizer``): column j is token j and the values weight table row j.

    The form seen by ``fit`` must be used for ``predict``.

    Parameters
    ----------
    embedding_dim : int, default=32
        Dimension ``d`` of the token vectors.
    pooling : {'mean', 'sum', 'concat'}, default='mean'
        ``'sum'``: ``Π`` counts the tokens of each document. ``'mean'``: each row of
        ``Π`` is divided by the sum of its absolute weights (the token count).
        ``'concat'``: the notes' layout, one one-hot row per position (``n·c × w``),
        documents padded/truncated to ``max_length`` positions, reshaped to
        ``n × (c·d)``; padding contributes zero vectors. Token input only.
    max_length : int, default=None
        ``c`` for ``'concat'``; None means the longest training document.
    hidden_layer_sizes : array-like of int, default=()
        Hidden layers of the head; ``()`` is a linear head.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Hidden activation of the head.
    min_count : int, default=1
        Tokens seen fewer times in training share the out-of-vocabulary row.
    max_vocabulary : int, default=None
        Keep only the most frequent tokens; the rest share the out-of-vocabulary row.
    n_buckets : int, default=None
        Hash tokens (MurmurHash3, stable across processes) into this many rows
        instead of learning a vocabulary: nothing is stored per token and
        ``partial_fit`` can meet new tokens forever.
    tokenizer : callable, default=None
        ``str -> list of tokens`` for raw-string input.
    lowercase : bool, default=True
        Lowercase raw strings before tokenizing.
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"
        Regular expression of a token in raw strings, as in ``CountVectorizer``;
        ignored when ``tokenizer`` is given.
    dtype : {np.float32, np.float64}, default=None
        Precision of the table and head; None means float64, or the dtype of a
        float32 bag matrix.
    loss : {'squared_error', 'poisson'}, default='squared_error'
        The notes' MSE, or the Poisson loss with the output ``ŷ = exp(S)`` for
        counts and other non-negative targets.
    solver : {'adam', 'sgd'}, default='adam'
        The head uses it as :class:`MLPRegressorFromNotes` does; the table's rows
        use its row-sparse twin (Adam keeps moments per row). No 'lbfgs'.
    alpha : float, default=0.0001
        L2 penalty on the head's weights, not on the table.
    learning_rate_init : float, default=0.01
        Initial learning rate of the table and head; ten times
        :class:`MLPRegressorFromNotes`'s default (0.001).
    batch_size, learning_rate, power_t, max_iter, shuffle, random_state, tol, \
verbose, warm_start, momentum, nesterovs_momentum, early_stopping, \
validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change
        Same meaning and defaults as in :class:`MLPRegressorFromNotes`:
        ``batch_size='auto'``, ``learning_rate='constant'``, ``power_t=0.5``,
        ``max_iter=200``, ``shuffle=True``, ``random_state=None``, ``tol=1e-4``,
        ``verbose=False``, ``warm_start=False``, ``momentum=0.9``,
        ``nesterovs_momentum=True``, ``early_stopping=False`` (restoring the best
        table too), ``validation_fraction=0.1``, ``beta_1=0.9``, ``beta_2=0.999``,
        ``epsilon=1e-8``, ``n_iter_no_change=10``.

    Attributes
    ----------
    vocabulary_ : dict or None
        Token → row of the table (None with ``n_buckets`` or bag-matrix input).
    embeddings_ : ndarray of shape (n_rows, embedding_dim)
        The table, live: editing it in place changes the model. With a vocabulary
        the last row is the shared out-of-vocabulary row.
    coefs_, intercepts_ : list of ndarray
        The head's parameters, live.
    max_length_ : int or None
        Positions ``c`` of ``'concat'`` pooling.
    n_features_in_ : int
        Columns of a bag-matrix input (bag-matrix input only).
    loss_, loss_curve_, best_loss_, validation_scores_, validation_loss_curve_, \
best_validation_score_, n_iter_, t_, n_layers_, n_outputs_, out_activation_
        As in :class:`MLPRegressorFromNotes`.

    Examples
    --------
    >>> from sknotes import EmbeddingBagRegressor
    >>> docs = [["good", "food"], ["bad", "service"], ["good", "service"], ["bad"]]
    >>> reg = EmbeddingBagRegressor(embedding_dim=4, max_iter=50, random_state=0)
    >>> reg.fit(docs, [1.0, -1.0, 0.5, -1.0]).predict([["good"]]).shape
    (1,)
    """

    _PREDICT_STATE = ("_network", "_encoder", "_input_form")

    _parameter_constraints: dict = {
        **OPTIMIZATION_CONSTRAINTS,
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "pooling": [StrOptions({"sum", "mean", "concat"})],
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_layer_sizes": ["array-like"],
        "solver": [StrOptions({"sgd", "adam"})],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "max_vocabulary": [Interval(Integral, 1, None, closed="left"), None],
        "n_buckets": [Interval(Integral, 1, None, closed="left"), None],
        "tokenizer": [callable, None],
        "lowercase": ["boolean"],
        "token_pattern": [str],
        "dtype": [
            StrOptions({"float32", "float64"}),
            Options(type, {np.float32, np.float64}),
            None,
        ],
    }

    def __init__(
        self,
        embedding_dim=32,
        pooling="mean",
        *,
        max_length=None,
        hidden_layer_sizes=(),
        activation="relu",
        min_count=1,
        max_vocabulary=None,
        n_buckets=None,
        tokenizer=None,
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
        dtype=None,
        loss="squared_error",
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.01,
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
    ):
        self.embedding_dim = embedding_dim
        self.pooling = pooling
        self.max_length = max_length
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.min_count = min_count
        self.max_vocabulary = max_vocabulary
        self.n_buckets = n_buckets
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.dtype = dtype
        self.loss = loss
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change

    # -- what X becomes: Π -----------------------------------------------------
    def _float_dtype(self, X=None):
        if self.dtype is not None:
            return np.dtype(self.dtype)
        if X is not None and getattr(X, "dtype", None) == np.float32:
            return np.dtype(np.float32)
        return np.dtype(np.float64)

    def _docs(self, X, form):
        if form == "strings":
            return tokenize(
                X,
                tokenizer=self.tokenizer,
                lowercase=self.lowercase,
                token_pattern=self.token_pattern,
            )
        return [list(doc) for doc in X]

    def _check_form(self, X, reset):
        form = detect_input_form(X)
        if form == "bag" and self.pooling == "concat":
            raise ValueError(
                "pooling='concat' needs token sequences or strings (positions); a bag "
                "matrix has none. Use pooling='sum' or 'mean'."
            )
        if not reset and form != self._input_form:
            raise ValueError(
                f"X is given as {form} but this model was fitted on "
                f"{self._input_form}; use the same form of input for fit and predict."
            )
        return form

    def _pi_from_bag(self, X, dtype):
        P = sp.csr_array(X)
        if self.pooling == "mean":
            P = normalize_bag_rows(P)
        return P.astype(dtype, copy=False)

    def _pi_from_docs(self, docs, dtype):
        indices, indptr = self._encoder.encode(docs)
        n_rows = self._encoder.n_rows
        if self.pooling == "concat":
            return position_matrix(
                indices, indptr, n_rows, self.max_length_, dtype=dtype
            )
        return bag_matrix(indices, indptr, n_rows, dtype=dtype, pooling=self.pooling)

    def _take(self, Pi, indices):
        if self.pooling != "concat":
            return Pi[indices]
        c = self.max_length_
        rows = (np.asarray(indices)[:, None] * c + np.arange(c)).ravel()
        return Pi[rows]

    def _validate_fit_input(self, X, y, reset):
        form = self._check_form(X, reset)
        if reset:
            # A refit may change the form: nothing of an earlier vocabulary survives.
            self.vocabulary_, self.max_length_, self._encoder = None, None, None
        if form == "bag":
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse=["csr", "csc", "coo"],
                multi_output=True,
                y_numeric=True,
                dtype=(np.float64, np.float32),
                reset=reset,
            )
            dtype = self._float_dtype(X) if reset else self._network.dtype
            Pi = self._pi_from_bag(X, dtype)
        else:
            y = validate_data(self, y=y, multi_output=True, y_numeric=True, reset=reset)
            if sp.issparse(y):
                raise ValueError("A sparse y is not supported; pass a dense array.")
            check_consistent_length(X, y)
            docs = self._docs(X, form)
            if reset:
                for name in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(name, None)
                self._fit_encoder(docs)
            dtype = self._float_dtype() if reset else self._network.dtype
            Pi = self._pi_from_docs(docs, dtype)
        if reset:
            self._input_form = form
        y = self._as_1d_or_2d(np.asarray(y)).astype(dtype, copy=False)
        return Pi, y, self._take

    def _fit_encoder(self, docs):
        if self.n_buckets is not None:
            self._encoder = HashingEncoder(self.n_buckets)
            self.vocabulary_ = None
        else:
            self._encoder = Vocabulary(self.min_count, self.max_vocabulary).fit(docs)
            self.vocabulary_ = dict(self._encoder.token_to_row)
        if self.pooling == "concat":
            longest = max((len(doc) for doc in docs), default=1)
            self.max_length_ = self.max_length or max(longest, 1)
        else:
            self.max_length_ = None

    def _validate_predict_input(self, X):
        form = self._check_form(X, reset=False)
        if form == "bag":
            X = validate_data(
                self,
                X,
                accept_sparse=["csr", "csc", "coo"],
                dtype=(np.float64, np.float32),
                reset=False,
            )
            return self._pi_from_bag(X, self._network.dtype)
        return self._pi_from_docs(self._docs(X, form), self._network.dtype)

    def _new_network(self, Pi, hidden, n_outputs, rng):
        if self._input_form == "bag":
            n_rows, oov_row = Pi.shape[1], None
        else:
            n_rows = self._encoder.n_rows
            oov_row = getattr(self._encoder, "oov_row", None)
        d = self.embedding_dim
        self._check_table_fits(n_rows, d, Pi.dtype)
        # Variance 1/d: pooled vectors of unit scale whatever the dimension.
        bound = np.sqrt(3.0 / d)
        table = rng.uniform(-bound, bound, (n_rows, d)).astype(Pi.dtype, copy=False)
        if oov_row is not None:
            # Stays zero unless training tokens were cut to it.
            table[oov_row] = 0.0
        positions = self.max_length_ if self.pooling == "concat" else None
        n_inputs = d * (positions or 1)
        check_network_fits([n_inputs, *hidden, n_outputs], Pi.dtype)
        network = Network(
            [n_inputs, *hidden, n_outputs],
            self.activation,
            self.out_activation_,
            Pi.dtype,
            table=table,
            positions=positions,
        )
        network.initialize(rng)
        return network

    @staticmethod
    def _check_table_fits(n_rows, d, dtype):
        check_fits_in_memory(
            _TABLE_COPIES * n_rows * d,
            dtype,
            f"An embedding table of {n_rows} rows × {d} dimensions",
            "lower n_buckets, max_vocabulary or embedding_dim",
        )

    # -- live table ------------------------------------------------------------
    def _table(self):
        return self.embeddings_

    def _publish(self):
        super()._publish()
        self.embeddings_ = self._network.table

    def _journaled_rows(self):
        network = self._network
        if self.embeddings_ is not network.table:
            # A reassigned table is copied in whole by the next fit: no journal.
            return []
        optimizer = (self._optimizers or (None, None))[1]
        state = () if optimizer is None else optimizer.row_state()
        return [network.table, *state]

    def _sync_from_public(self):
        super()._sync_from_public()
        if self.embeddings_ is not self._network.table:
            self._network.table[...] = self.embeddings_

    # -- public API --------------------------------------------------------------
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the table and head to documents ``X`` and targets ``y``.

        Parameters
        ----------
        X : list of token sequences, list of str, or {array-like, sparse matrix} \
of shape (n_documents, n_tokens)
            Documents.
        y : array-like of shape (n_documents,) or (n_documents, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_documents,), default=None
            Sample weights.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(has_partial_fit)
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X``; the vocabulary is fixed by the first call.

        With ``n_buckets`` every token, new or not, has a row.

        Parameters
        ----------
        X : see :meth:`fit`
        y : array-like of shape (n_documents,) or (n_documents, n_outputs)
        sample_weight : array-like of shape (n_documents,), default=None

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def transform(self, X):
        """Pooled document vectors ``Π·Table`` (n × d, or n × c·d for 'concat').

        Parameters
        ----------
        X : see :meth:`fit`

        Returns
        -------
        ndarray of shape (n_documents, n_features_out)
        """
        check_is_fitted(self)
        Pi = self._validate_predict_input(X)
        positions = self.max_length_ if self.pooling == "concat" else None
        return Embedding(self.embeddings_, positions).forward(Pi)

    @property
    def _n_features_out(self):
        """Columns of :meth:`transform`, named ``embeddingbagregressor0``, …"""
        return self.embedding_dim * (self.max_length_ or 1)

    def token_attributions(self, X, output=0):
        """Each token's derivative of the prediction, document by document.

        The notes derive the gradient with respect to the one-hot input,
        ``grad_Π = grad_R·Tableᵀ``; at ``Π``'s non-zeros it is ``∂ŷ/∂Π[i, j]``, the
        change of document i's prediction per unit of token j's weight in its row
        of ``Π`` (its count for 'sum' pooling, count/length for 'mean', one
        position for 'concat').

        Parameters
        ----------
        X : see :meth:`fit`
        output : int, default=0
            Which output to explain for a multi-output model.

        Returns
        -------
        list of list of (token, float)
            For each document, ``(token, derivative)`` for each distinct table row
            it uses (each position for 'concat'). Tokens are the vocabulary's; an
            out-of-vocabulary row is reported as None, a hashed or bag-matrix row
            as its row index.
        """
        check_is_fitted(self)
        if not 0 <= output < self.n_outputs_:
            raise ValueError(f"output must be in [0, {self.n_outputs_}); got {output}.")
        Pi = self._validate_predict_input(X)
        # A network of its own: the fitted one's buffers are shared state, and
        # concurrent calls (threads) would overwrite each other's activations.
        fitted = self._network
        network = Network(
            fitted.layer_units,
            self.activation,
            self.out_activation_,
            fitted.dtype,
            table=self.embeddings_,
            positions=fitted.positions,
        )
        network.load(self.coefs_, self.intercepts_)
        network.embedding.input_is_data = False
        y_hat = network.forward(Pi)
        grad_y_hat = np.zeros_like(y_hat)
        grad_y_hat[:, output] = 1.0
        grad_Pi = network.backward(grad_y_hat)
        names = self._row_names()
        c = self.max_length_ or 1
        attributions = []
        for i in range(Pi.shape[0] // c):
            start, stop = grad_Pi.indptr[i * c], grad_Pi.indptr[(i + 1) * c]
            attributions.append(
                [
                    (names(int(row)), float(value))
                    for row, value in zip(
                        grad_Pi.indices[start:stop],
                        grad_Pi.data[start:stop],
                        strict=True,
                    )
                ]
            )
        return attributions

    def _row_names(self):
        tokens = getattr(self._encoder, "tokens", None)
        if tokens is None:
            return lambda row: row
        return lambda row: tokens[row] if row < len(tokens) else None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.string = True
        tags.target_tags.multi_output = True
        return tags
