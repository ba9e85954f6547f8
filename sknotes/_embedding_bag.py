"""EmbeddingBagRegressor: regression on tokens through the notes' embedding node."""

import os
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from scipy.sparse.linalg import LinearOperator, lsqr
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    check_non_negative,
    validate_data,
)

from sknotes import _encode
from sknotes._bag_kernel import CompiledBagStep, compiled_step_support
from sknotes._base import (
    OPTIMIZATION_CONSTRAINTS,
    BaseNotesRegressor,
    check_fits_in_memory,
    check_network_fits,
    has_partial_fit,
)
from sknotes._compat import Interval, Options, StrOptions, _fit_context, with_callbacks
from sknotes._network import Network
from sknotes._optimizers import FrozenColumns
from sknotes._text import (
    TOKEN_PATTERN,
    DocumentEncoder,
    _indptr,
    as_documents,
    load_embeddings,
    normalize_bag_rows,
    read_input,
    smooth_idf,
    stable_hash,
    token_lists,
    tokenize,
    weigh_bag,
)
from sknotes._training import one_blas_thread
from sknotes.nodes import Embedding, RowL2Penalty

__all__ = ["EmbeddingBagRegressor"]

# Table + Adam's two moments.
_TABLE_COPIES = 3

ALPHA_EMBEDDING = 1e-4
# Fewest held-out documents early stopping (and the ridge's cross-validation
# of its alpha, per fold) is trusted with.
MIN_VALIDATION = 10
# Ridge alphas for the linear path's closed-form start, tried from the largest.
LINEAR_ALPHAS = 10.0 ** np.arange(3.0, -2.5, -0.5)
# LSQR's relative tolerances for the linear path's start, and for the solves
# that only rank alphas in its cross-validation.  Against 1e-10 (food reviews,
# char n-grams): 1e-6 moves the coefficients by 1e-5 relative and 1e-4 by 1e-3,
# held-out R² equal to the fourth decimal, in far fewer iterations; those
# solves were most of a default fit from raw strings (benchmarks/README.md).
RIDGE_TOL = 1e-6
RIDGE_SEARCH_TOL = 1e-4
# The character n-gram block of Π, after its own normalisation, is scaled by
# this: its squared norm is half the word block's.  A text's character n-grams
# restate its words, and at equal weight the ridge leaned on them over the
# words (5-fold R² of a tuned ridge on Π alone, block weights 1, 0.7 and 0.5:
# food reviews 0.356, 0.365, 0.366; tweets, 4 folds, 0.716, 0.715, 0.709).
CHAR_BLOCK_WEIGHT = np.sqrt(0.5)


def _check_range(value, name):
    """``(low, high)`` of two ints with ``1 ≤ low ≤ high``, or a clear ValueError."""
    try:
        low, high = value
    except (TypeError, ValueError):
        low = high = None
    if (
        not all(
            isinstance(v, Integral | np.integer) and not isinstance(v, bool)
            for v in (low, high)
        )
        or not 1 <= low <= high
    ):
        raise ValueError(
            f"{name} must be a tuple (min_n, max_n) of integers with "
            f"1 <= min_n <= max_n; got {value!r}."
        )
    return int(low), int(high)


def _entries(A, rows, cols):
    """``A[rows[k], cols[k]]`` of a sparse ``A`` at entries that are in its pattern."""
    A = sp.csr_array(A)
    A.sum_duplicates()  # canonical: sorted column indices in each row
    n_cols = np.int64(A.shape[1])
    keys = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr))
    keys = keys * n_cols + A.indices
    wanted = np.asarray(rows, dtype=np.int64) * n_cols + np.asarray(cols)
    return A.data[np.searchsorted(keys, wanted)]


def _ridge(X, y, sample_weight, alpha, tol=RIDGE_TOL):
    """``(coef, intercept)`` minimising ``Σᵢ sᵢ‖Xᵢ·coef + intercept − yᵢ‖² + α‖coef‖²``.

    LSQR on the weighted, centred sparse ``X`` (as a linear operator, never
    densified), one output at a time, to LSQR's relative tolerance ``tol``; None
    when the weights sum to 0.
    """
    s = sample_weight
    total = s.sum()
    if total <= 0:
        return None
    mu = np.asarray(X.T @ s).ravel() / total
    y_mean = s @ y / total
    root = np.sqrt(s)
    operator = LinearOperator(
        X.shape,
        matvec=lambda v: root * (X @ v.ravel() - mu @ v.ravel()),
        rmatvec=lambda z: X.T @ (root * z.ravel()) - mu * (root @ z.ravel()),
        dtype=np.float64,
    )
    coef = np.column_stack(
        [
            lsqr(
                operator,
                root * (y[:, j] - y_mean[j]),
                damp=np.sqrt(alpha),
                atol=tol,
                btol=tol,
            )[0]
            for j in range(y.shape[1])
        ]
    )
    return coef, y_mean - mu @ coef


class EmbeddingBagRegressor(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseNotesRegressor
):
    """Regression on tokenized text: ``Π·Table`` → pooling → optional MLP head.

    Tokens become rows of a trainable embedding table through the notes' one-hot
    matrix ``Π`` (:ref:`notes-embedding`): ``R = Π·Table``, trained with
    ``grad_table = Πᵀ·grad_R``, where only the rows a batch touches are computed and
    updated (Adam keeps its moments per row).  The head is the MLP's chain of linear
    and activation nodes, trained by the same loop as :class:`MLPRegressorFromNotes`.

    ``X`` may be

    - token sequences: ``[["good", "food"], ["slow", "service"]]`` (str or int tokens);
    - raw strings, tokenized as ``CountVectorizer`` does (or by ``tokenizer``),
      also as one column of a data frame or a ``(n, 1)`` array; a missing text
      (None, NaN) is an error naming its row;
    - a bag matrix (sparse or dense, n_documents × n_tokens, e.g. the output of
      ``CountVectorizer``): column j is token j and the values weight table row j.

    The form seen by ``fit`` must be used for ``predict``.

    The model is ``ŷ = head(pool(Π·Table)) + Π·w + b``: a linear path ``Π·w``
    (``linear_path``) beside the embedding path, joined by the notes' Add node,
    so that it contains the linear model on the same ``Π``.  ``(w, b)`` start at
    the ridge solution on the training rows (solved in closed form) and the
    head's last layer at zero: the model starts as the tuned linear model, and
    early stopping, on by default and scoring that start as epoch 0, keeps the
    embedding path's epochs only while they improve on it.  The target is
    standardised inside ``fit`` (predictions are in its units).

    Defaults were chosen on six real text sets (``benchmarks/bench_text_accuracy.py``,
    results in ``benchmarks/README.md``): without early stopping 200 epochs
    memorise the training documents (worse than the mean on four of the six);
    without a centred target the output cannot reach targets far from 0 (years);
    the linear path gained R² on all six; 'sqrtn' pooling, sublinear weights
    without IDF, a (64,) head and a learning rate of 3e-3 were the best
    compromise of a small grid; for raw strings, word bigrams and character
    n-grams (``ngram_range`` and ``char_wb_ngram_range`` 'auto'), the features
    the tuned ridges win with, closed most of the remaining gap (figures in
    ``benchmarks/README.md``).

    Parameters
    ----------
    embedding_dim : int, default=32
        Dimension ``d`` of the token vectors.
    pooling : {'mean', 'sum', 'sqrtn', 'concat'}, default='sqrtn'
        How a document's weighted terms are combined. ``'sum'``: ``Π`` holds the
        weights as they are (counts by default). ``'mean'``: each row of ``Π`` is
        divided by the sum of its absolute weights (the token count: L1).
        ``'sqrtn'``: divided by the L2 norm of its weights (``√count`` for counts;
        TensorFlow's combiner of that name), which keeps more of what a linear
        model needs than 'mean' (long documents are not shrunk to their average).
        ``'concat'``: the notes' layout, one one-hot row per position (``n·c × w``),
        documents padded/truncated to ``max_length`` positions, reshaped to
        ``n × (c·d)``; padding contributes zero vectors. Token input only,
        without n-grams or subwords; ``weighting`` and ``idf`` are ignored.
    max_length : int, default=None
        ``c`` for ``'concat'``; None means the longest training document.
    weighting : {'count', 'binary', 'sublinear'}, default='sublinear'
        The weight of a term (token or n-gram) in a document's row of ``Π``,
        before pooling's normalisation: its count, 1 if present, or
        ``1 + ln(count)`` (``TfidfVectorizer``'s ``sublinear_tf``), so that a
        repeated word does not drown the others. For a bag matrix it applies to
        the matrix's values (which must then be non-negative). 'mean' and 'sum'
        with 'count' and no idf give the same ``Π`` as before, bit for bit.
    idf : bool, default=False
        Multiply each weight by its row's smooth inverse document frequency
        ``ln((1 + n) / (1 + df)) + 1``, learned from the training documents in
        ``fit`` (``TfidfVectorizer(smooth_idf=True)``): rare terms weigh more.
        With ``n_buckets`` document frequencies are counted per bucket; for a bag
        matrix per column. ``partial_fit`` and warm starts keep the IDF of the
        first fit, as they keep its vocabulary; ``weighting='sublinear'`` with
        ``idf=True`` and ``pooling='sqrtn'`` is sublinear TF-IDF.
    ngram_range : tuple (min_n, max_n) or 'auto', default='auto'
        Terms are the word n-grams with ``min_n ≤ n ≤ max_n`` (fastText's
        ``wordNgrams``, ``CountVectorizer``'s semantics), joined with a space
        (a tuple when a token is an int). They enter the vocabulary like tokens
        (subject to ``min_count`` and ``max_vocabulary``); an n-gram (n ≥ 2) not
        in it is dropped, as ``CountVectorizer`` drops unknown n-grams. With
        ``n_buckets`` they are hashed from their tokens' hashes (fastText's
        combination) into the same buckets. Token or string input. 'auto':
        ``(1, 2)`` for raw strings, ``(1, 1)`` for token sequences, bag
        matrices and 'concat' pooling. Measured (5-fold R² / the tuned ridge's):
        bigrams raised raw-text sets (artwork titles 0.94 → 1.00, restaurant
        names 0.97 → 0.99, movie titles 0.66 → 0.78) and lowered MovieLens, whose
        tokens (user, movie, genres) have no word order.
    char_ngram_range : tuple (min_n, max_n), default=None
        Subwords (fastText's ``minn``/``maxn``, e.g. ``(3, 6)``): the character
        n-grams of ``"<" + token + ">"`` of each str token are hashed into
        ``n_subword_buckets`` extra rows, and the token's vector is the average of
        its own row and its subword rows (fastText's word vector), so unseen and
        misspelled words get vectors and attributions. Pooling counts tokens, not
        rows: each token weighs as without subwords (fastText's supervised mode
        averages all rows instead, which lets long words weigh more). Int tokens
        and word n-grams have no subwords. ``Π`` has more non-zeros per document;
        the gradient is the notes' ``grad_table = Πᵀ·grad_R`` unchanged.
    char_wb_ngram_range : tuple (min_n, max_n), 'auto' or None, default='auto'
        Character n-grams of raw text (``CountVectorizer(analyzer='char_wb')``:
        the n-grams of each whitespace-separated word padded with spaces, so
        punctuation, digits and one-letter words count too), hashed
        (MurmurHash3) into ``n_char_buckets`` rows after all others. They are
        terms of their own, not parts of a word's vector as with
        ``char_ngram_range``: their block of ``Π`` is weighted
        (``weighting``, no IDF) and normalised for pooling on its own, so a
        document's word block is the same with or without it, then scaled by
        ``√½``: half the word block's squared norm, as a text's character
        n-grams mostly restate its words (at equal weight the ridge start
        leaned on them: food reviews rose from 0.967 to 0.98 of the tuned
        ridge's 5-fold R², the other sets moved within their folds' spread;
        ``benchmarks/results/text_accuracy_defaults.json``). Both the
        embedding path and the linear path read it (the ridge start then holds
        what a tuned word + character n-gram ridge holds). 'auto': ``(2, 5)``
        for raw strings, None (off) for other input and 'concat' pooling.
        Measured (``benchmarks/README.md``): movie titles 0.66 → 1.01 of the
        tuned ridge's R², whose best features there are character n-grams
        (subwords, ``char_ngram_range=(2, 5)``, averaged into word vectors,
        reached 0.63 with bigrams). Fits take longer: a short text has several
        times more character n-grams than words. Not listed by
        ``token_attributions``.
    n_char_buckets : int, default=2**16
        Rows for ``char_wb_ngram_range`` (three copies with Adam's moments: 52 MB
        at the defaults, float64).
    n_subword_buckets : int, default=2**18
        Rows for subwords (used only with ``char_ngram_range``). The table takes
        ``n_subword_buckets × embedding_dim`` values more, three times with Adam's
        moments: 192 MiB at the defaults (d=32, float64); fewer buckets for a
        small corpus, more to make hash collisions rarer.
    initial_embeddings : mapping, (tokens, matrix) pair, str or PathLike, default=None
        Pretrained vectors: ``{token: vector}``, ``(tokens, matrix)`` with one row
        per token, or the path of a word2vec/fastText ``.vec`` text file (first
        line ``"n d"``, then ``token v1 … vd``). They initialise the rows of their
        tokens (hashed with ``n_buckets``; column indices for a bag matrix; a
        word's own row with subwords); other rows are initialised as without
        them. Their dimension must equal ``embedding_dim``.
    freeze_embeddings : bool, default=False
        Do not train the table's vectors (only the head and the linear path):
        pretrained vectors stay as they are.
    linear_path : bool, default=True
        Add ``Π·w`` (one weight per table row and output, a table column beside
        the vectors, trained row-sparse with them) to the head's output layer,
        starting from the ridge solution. Ignored with 'concat' pooling.
    alpha_embedding : float, default=1e-4
        L2 penalty on the table's vectors, with scikit-learn's meaning of
        ``alpha`` (``α/(2n)·‖Table‖²`` added to the squared error's
        ``loss/2``).  Exact under row-sparse updates by per-occurrence decay: a
        batch decays only the rows it touches, each by its occurrences in the
        batch over its training document frequency, so that over an epoch every
        row receives the dense penalty's decay (see
        :class:`~sknotes.nodes.RowL2Penalty`).  Lazily applied dense decay was
        not chosen: with Adam an untouched row's catch-up has no closed form
        (its moments keep moving it, and each skipped step's move depends on
        the decayed row through ``√v̂``), so it is only exact for plain SGD.
        Measured at 0, 1e-4 and 1e-2: no difference beyond the third decimal on
        the six sets, as early stopping ends within a few epochs of the ridge
        start.
    alpha_linear : float or 'auto', default='auto'
        Ridge penalty of the linear path's ``w`` (scikit-learn's ``Ridge``
        ``alpha`` on the standardised target), in its closed-form start and,
        per occurrence as ``alpha_embedding``, in training. 'auto': the best of
        ``10**[3, 2.5, …, -2]`` by 3-fold cross-validated R² on the training
        rows (tried from the largest until two in a row do not improve; 1.0
        below 100 training documents), stored in ``alpha_linear_``; those
        solves only rank alphas and stop at LSQR's relative tolerance 1e-4
        (the start itself at 1e-6). Its own
        parameter: the vectors and ``w`` have different scales.
    hidden_layer_sizes : array-like of int, default=(64,)
        Hidden layers of the head; ``()`` is a linear head (with a linear head
        the embedding path is itself linear in ``Π``, of rank
        ``embedding_dim``: the hidden layer is what adds interactions between
        terms, e.g. of a user and a movie).
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
        ``str -> list of tokens`` for raw-string input (a str returned is an
        error, not split into characters).
    lowercase : bool, default=True
        Lowercase raw strings before tokenizing.
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"
        Regular expression of a token in raw strings, as in ``CountVectorizer``;
        ignored when ``tokenizer`` is given. ``tokenizer`` and ``token_pattern``
        set for token-list or bag-matrix input raise a ValueError rather than
        being silently ignored.
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
        L2 penalty on the head's weights (the table has ``alpha_embedding``).
    learning_rate_init : float, default=0.003
        Initial learning rate of the table and head (0.01 and 0.03 overfit
        within the first epochs on the real sets; 0.001 was no better).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the documents, score R² on them
        after every epoch and at the start (the ridge start of the linear
        path), stop after ``n_iter_no_change`` epochs without improvement and
        restore the best parameters, table included.  On by default, unlike
        :class:`MLPRegressorFromNotes`: a table has a row per term and memorises
        its documents within a few epochs.  Off when fewer than 10 documents
        would be held out, and in ``partial_fit`` (one epoch over a chunk),
        which ignores it instead of refusing.
    batch_size, learning_rate, power_t, max_iter, shuffle, random_state, tol, \
verbose, warm_start, momentum, nesterovs_momentum, validation_fraction, beta_1, \
beta_2, epsilon, n_iter_no_change
        Same meaning and defaults as in :class:`MLPRegressorFromNotes`:
        ``batch_size='auto'``, ``learning_rate='constant'``, ``power_t=0.5``,
        ``max_iter=200``, ``shuffle=True``, ``random_state=None``, ``tol=1e-4``,
        ``verbose=False``, ``warm_start=False``, ``momentum=0.9``,
        ``nesterovs_momentum=True``, ``validation_fraction=0.1``,
        ``beta_1=0.9``, ``beta_2=0.999``, ``epsilon=1e-8``,
        ``n_iter_no_change=10``.
    n_jobs : int, default=None
        Threads training at once: each epoch's minibatches are dealt to them in
        turn and update the shared table, head and optimizer moments without
        locks (Hogwild, as fastText's threads).  None means 1, -1 all
        processors.  Only the compiled training step (numba, the ``fast``
        extra) runs threads; it covers a linear head or hidden layers (any
        ``activation``, the defaults included), 'sum', 'mean' or 'sqrtn'
        pooling, the squared error (and :class:`EmbeddingBagClassifier`'s
        cross-entropies), SGD and Adam.  Any other model trains on one thread
        through the reference step.  With one thread a fit is reproducible bit
        for bit (same ``random_state``, same results).  With several, the
        shuffling, the validation split and the initialisation stay
        reproducible, but the order in which threads write shared rows does
        not: parameters differ from run to run by that interleaving, and
        held-out scores agree statistically (tests/test_bag_kernel.py).

    Attributes
    ----------
    vocabulary_ : dict or None
        Term (token or word n-gram) → row of the table (None with ``n_buckets`` or
        bag-matrix input).
    idf_ : ndarray of shape (n_term_rows,) or None
        The smooth IDF of each term row (``idf=True``), learned in ``fit``.
    n_pretrained_rows_ : int
        Rows initialised from ``initial_embeddings``.
    embeddings_ : ndarray of shape (n_rows, embedding_dim)
        The table, live: editing it in place changes the model. With a vocabulary
        the last term row is the shared out-of-vocabulary row; subword rows
        follow the term rows.
    linear_coef_ : ndarray of shape (n_rows,) or (n_rows, n_outputs) or None
        The linear path's ``w``, live (a view of the table's last columns), in
        units of the standardised target; None without a linear path.
    alpha_linear_ : float
        The linear path's ridge alpha ('auto' chooses it in ``fit``).
    coefs_, intercepts_ : list of ndarray
        The head's parameters, live, in units of the standardised target
        ``(y − mean) / std`` (weighted by the sample weights; fixed by the first
        fit or ``partial_fit`` call, kept by warm starts).
    max_length_ : int or None
        Positions ``c`` of ``'concat'`` pooling.
    n_features_in_ : int
        Columns of a bag-matrix input (bag-matrix input only).
    loss_, loss_curve_, best_loss_, validation_scores_, validation_loss_curve_, \
best_validation_score_, n_iter_, t_, n_layers_, n_outputs_, out_activation_
        As in :class:`MLPRegressorFromNotes`; the losses are those of the
        standardised target (a squared error divided by its variance; Poisson's
        deviance is not standardised).  ``best_validation_score_`` may be the
        start's score, which is not in ``validation_scores_``.

    Examples
    --------
    >>> from sknotes import EmbeddingBagRegressor
    >>> docs = [["good", "food"], ["bad", "service"], ["good", "service"], ["bad"]]
    >>> reg = EmbeddingBagRegressor(embedding_dim=4, max_iter=50, random_state=0)
    >>> reg.fit(docs, [1.0, -1.0, 0.5, -1.0]).predict([["good"]]).shape
    (1,)
    """

    _PREDICT_STATE = ("_network", "_encoder", "_input_form", "_y_mean", "_y_scale")
    # The encoder's and the table's: freeze_embeddings and the optimizer's may change.
    _STRUCTURE_PARAMS = (
        "embedding_dim",
        "pooling",
        "max_length",
        "weighting",
        "idf",
        "ngram_range",
        "char_ngram_range",
        "n_subword_buckets",
        "char_wb_ngram_range",
        "n_char_buckets",
        "linear_path",
        "min_count",
        "max_vocabulary",
        "n_buckets",
        "tokenizer",
        "lowercase",
        "token_pattern",
        "dtype",
    )
    # A classifier's labels stay labels until it binarises them.
    _y_numeric = True

    _parameter_constraints: dict = {
        **OPTIMIZATION_CONSTRAINTS,
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "pooling": [StrOptions({"sum", "mean", "sqrtn", "concat"})],
        "weighting": [StrOptions({"count", "binary", "sublinear"})],
        "idf": ["boolean"],
        "ngram_range": [tuple, StrOptions({"auto"})],
        "char_ngram_range": [tuple, None],
        "n_subword_buckets": [Interval(Integral, 1, None, closed="left")],
        "char_wb_ngram_range": [tuple, StrOptions({"auto"}), None],
        "n_char_buckets": [Interval(Integral, 1, None, closed="left")],
        "initial_embeddings": [Mapping, tuple, str, os.PathLike, None],
        "freeze_embeddings": ["boolean"],
        "linear_path": ["boolean"],
        "alpha_embedding": [Interval(Real, 0, None, closed="left")],
        "alpha_linear": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
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
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        embedding_dim=32,
        pooling="sqrtn",
        *,
        max_length=None,
        weighting="sublinear",
        idf=False,
        ngram_range="auto",
        char_ngram_range=None,
        n_subword_buckets=2**18,
        char_wb_ngram_range="auto",
        n_char_buckets=2**16,
        initial_embeddings=None,
        freeze_embeddings=False,
        linear_path=True,
        alpha_embedding=ALPHA_EMBEDDING,
        alpha_linear="auto",
        hidden_layer_sizes=(64,),
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
        learning_rate_init=0.003,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=True,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        n_jobs=None,
    ):
        self.embedding_dim = embedding_dim
        self.pooling = pooling
        self.max_length = max_length
        self.weighting = weighting
        self.idf = idf
        self.ngram_range = ngram_range
        self.char_ngram_range = char_ngram_range
        self.n_subword_buckets = n_subword_buckets
        self.char_wb_ngram_range = char_wb_ngram_range
        self.n_char_buckets = n_char_buckets
        self.initial_embeddings = initial_embeddings
        self.freeze_embeddings = freeze_embeddings
        self.linear_path = linear_path
        self.alpha_embedding = alpha_embedding
        self.alpha_linear = alpha_linear
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
        self.n_jobs = n_jobs

    # -- what X becomes: Π -----------------------------------------------------
    def _float_dtype(self, X=None):
        if self.dtype is not None:
            return np.dtype(self.dtype)
        if X is not None and getattr(X, "dtype", None) == np.float32:
            return np.dtype(np.float32)
        return np.dtype(np.float64)

    def _docs(self, X, form):
        X = as_documents(X)
        if form == "strings":
            return tokenize(
                X,
                tokenizer=self.tokenizer,
                lowercase=self.lowercase,
                token_pattern=self.token_pattern,
                flat=True,
            )
        return token_lists(X)

    def _check_form(self, X, reset):
        """The form of ``X``, and ``X`` itself (token sequences: as lists that
        hold the arrays their type check made, for the encoder)."""
        form, docs = read_input(X)
        if form != "strings" and (
            self.tokenizer is not None or self.token_pattern != TOKEN_PATTERN
        ):
            # Ignoring them would hide a mistake: the user meant to tokenize.
            raise ValueError(
                "tokenizer and token_pattern apply to raw strings, but X is given as "
                f"{form}; pass raw strings or leave them at their defaults."
            )
        if form != "strings" and self.char_wb_ngram_range not in ("auto", None):
            raise ValueError(
                "char_wb_ngram_range needs raw strings (the characters of the text); "
                f"X is given as {form}. Use char_ngram_range for token sequences."
            )
        if form == "bag" and (
            self._ngram_range(form) != (1, 1) or self.char_ngram_range is not None
        ):
            raise ValueError(
                "ngram_range and char_ngram_range need token sequences or strings; "
                "a bag matrix has no word order or characters. Build the n-grams "
                "into the bag matrix instead (e.g. CountVectorizer(ngram_range=...))."
            )
        if self.pooling == "concat":
            if form == "bag":
                raise ValueError(
                    "pooling='concat' needs token sequences or strings (positions); "
                    "a bag matrix has none. Use pooling='sum', 'mean' or 'sqrtn'."
                )
            if not self._text_encoder(form).plain or self._char_wb_range(form):
                raise ValueError(
                    "pooling='concat' gives one vector per position: it takes no "
                    "ngram_range, char_ngram_range or char_wb_ngram_range. Use "
                    "'mean', 'sum' or 'sqrtn' "
                    "pooling for those."
                )
        if not reset and form != self._input_form:
            raise ValueError(
                f"X is given as {form} but this model was fitted on "
                f"{self._input_form}; use the same form of input for fit and predict."
            )
        return form, X if docs is None else docs

    def _ngram_range(self, form):
        """``ngram_range`` with 'auto' resolved for input of ``form``."""
        if self.ngram_range != "auto":
            return _check_range(self.ngram_range, "ngram_range")
        # Word order is language only in raw strings: token sequences may be
        # ids in any order (MovieLens' user, movie, genres), where bigrams
        # only add rows to memorise.
        if form == "strings" and self.pooling != "concat":
            return (1, 2)
        return (1, 1)

    def _char_wb_range(self, form):
        """``char_wb_ngram_range`` with 'auto' resolved for input of ``form``."""
        if self.char_wb_ngram_range == "auto":
            return (2, 5) if form == "strings" and self.pooling != "concat" else None
        if self.char_wb_ngram_range is None:
            return None
        return _check_range(self.char_wb_ngram_range, "char_wb_ngram_range")

    def _char_rows(self, form):
        return self.n_char_buckets if self._char_wb_range(form) else 0

    def _pi_of_chars(self, texts, dtype):
        """The character n-gram block of ``Π``: hashed counts, weighted and
        normalised for pooling on their own (so the word block's rows are
        unchanged by it)."""
        ngram_range = self._char_wb_range("strings")
        arrays = _encode.char_wb_arrays(
            texts, ngram_range, self.n_char_buckets, self.lowercase, dtype
        )
        if arrays is not None:
            counts = sp.csr_array(arrays, shape=(len(texts), self.n_char_buckets))
            counts.has_canonical_format = True  # sorted, duplicates summed
        else:
            counts = HashingVectorizer(
                analyzer="char_wb",
                ngram_range=ngram_range,
                n_features=self.n_char_buckets,
                lowercase=self.lowercase,
                alternate_sign=False,
                norm=None,
                dtype=dtype,
            ).transform(texts)
        block = weigh_bag(
            sp.csr_array(counts), weighting=self.weighting, pooling=self.pooling
        )
        block.data *= block.dtype.type(CHAR_BLOCK_WEIGHT)
        return block

    def _text_encoder(self, form):
        return DocumentEncoder(
            min_count=self.min_count,
            max_vocabulary=self.max_vocabulary,
            n_buckets=self.n_buckets,
            ngram_range=self._ngram_range(form),
            char_ngram_range=None
            if self.char_ngram_range is None
            else _check_range(self.char_ngram_range, "char_ngram_range"),
            n_subword_buckets=self.n_subword_buckets,
            # 'concat' has one row per position: no term weights to apply.
            weighting="count" if self.pooling == "concat" else self.weighting,
            idf=self.idf and self.pooling != "concat",
            pooling=self.pooling,
        )

    def _pi_from_bag(self, X, dtype):
        P = sp.csr_array(X)
        if self.weighting == "count" and self.idf_ is None:
            if self.pooling in ("mean", "sqrtn"):
                P = normalize_bag_rows(P, "l1" if self.pooling == "mean" else "l2")
            return P.astype(dtype, copy=False)
        P = P.astype(dtype)  # a copy: sum_duplicates works in place
        P.sum_duplicates()
        if self.weighting != "count":
            # Binary and sublinear weights are functions of counts.
            check_non_negative(
                P, f"EmbeddingBagRegressor (weighting={self.weighting!r})"
            )
        return weigh_bag(
            P, weighting=self.weighting, idf=self.idf_, pooling=self.pooling
        )

    def _take(self, Pi, indices):
        if self.pooling != "concat":
            return Pi[indices]
        c = self.max_length_
        rows = (np.asarray(indices)[:, None] * c + np.arange(c)).ravel()
        return Pi[rows]

    def _validate_fit_input(self, X, y, reset):
        form, X = self._check_form(X, reset)
        if reset:
            # A refit may change the form: nothing of an earlier vocabulary survives.
            self.vocabulary_, self.max_length_, self._encoder = None, None, None
            self.idf_ = None
        if form == "bag":
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse=["csr", "csc", "coo"],
                multi_output=True,
                y_numeric=self._y_numeric,
                dtype=(np.float64, np.float32),
                reset=reset,
            )
            dtype = self._float_dtype(X) if reset else self._network.dtype
            if reset and self.idf:
                present = sp.csr_array(X, copy=True)
                present.sum_duplicates()
                present.eliminate_zeros()
                df = np.bincount(present.indices, minlength=present.shape[1])
                self.idf_ = smooth_idf(df, present.shape[0])
            Pi = self._pi_from_bag(X, dtype)
        else:
            y = validate_data(
                self, y=y, multi_output=True, y_numeric=self._y_numeric, reset=reset
            )
            if sp.issparse(y):
                raise ValueError("A sparse y is not supported; pass a dense array.")
            check_consistent_length(X, y)
            docs = self._docs(X, form)
            if reset:
                for name in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(name, None)
                self._fit_encoder(docs, form)
            dtype = self._float_dtype() if reset else self._network.dtype
            if reset:
                # Before Π: weighting an n_rows-column Π allocates per column.
                self._check_table_fits(
                    self._encoder.n_rows + self._char_rows(form),
                    self.embedding_dim,
                    dtype,
                )
            Pi = self._pi_from_docs(docs, dtype, X, form)
            # Terms only: character n-grams of "!! ?" are no vocabulary.
            if reset and Pi[:, : self._encoder.n_rows].nnz == 0:
                raise ValueError(
                    "empty vocabulary; perhaps the documents only contain stop words: "
                    "no document of X has a single token"
                    + (" or n-gram." if self._ngram_range(form) != (1, 1) else ".")
                )
        if reset:
            self._input_form = form
        y = self._as_1d_or_2d(np.asarray(y))
        if self._y_numeric:
            y = y.astype(dtype, copy=False)
        return Pi, y, self._take

    def _fit_encoder(self, docs, form):
        self._encoder = self._text_encoder(form).fit(docs)
        vocabulary = self._encoder.token_to_row
        self.vocabulary_ = None if vocabulary is None else dict(vocabulary)
        self.idf_ = self._encoder.idf_
        if self.pooling == "concat":
            longest = int(np.diff(_indptr(docs)).max(initial=1))
            self.max_length_ = self.max_length or max(longest, 1)
        else:
            self.max_length_ = None

    def _pi_from_docs(self, docs, dtype, X, form):
        Pi = self._encoder.pi(docs, dtype, self.max_length_)
        if not self._char_rows(form):
            return Pi
        # Character n-grams follow the encoder's rows (words, n-grams, subwords).
        chars = self._pi_of_chars(as_documents(X), dtype)
        return sp.hstack([Pi, chars], format="csr")

    def _validate_predict_input(self, X):
        form, X = self._check_form(X, reset=False)
        if form == "bag":
            X = validate_data(
                self,
                X,
                accept_sparse=["csr", "csc", "coo"],
                dtype=(np.float64, np.float32),
                reset=False,
            )
            return self._pi_from_bag(X, self._network.dtype)
        return self._pi_from_docs(self._docs(X, form), self._network.dtype, X, form)

    def _new_network(self, Pi, hidden, n_outputs, rng):
        if self._input_form == "bag":
            n_rows, oov_row = Pi.shape[1], None
        else:
            n_rows = self._encoder.n_rows + self._char_rows(self._input_form)
            oov_row = self._encoder.oov_row
        d = self.embedding_dim
        pretrained = (
            None
            if self.initial_embeddings is None
            else load_embeddings(self.initial_embeddings, d, self.vocabulary_)
        )
        self._check_table_fits(n_rows, d, Pi.dtype)
        # Variance 1/d: pooled vectors of unit scale whatever the dimension.
        bound = np.sqrt(3.0 / d)
        table = rng.uniform(-bound, bound, (n_rows, d)).astype(Pi.dtype, copy=False)
        if oov_row is not None:
            # Stays zero unless training tokens were cut to it.
            table[oov_row] = 0.0
        self.n_pretrained_rows_ = 0
        if pretrained is not None:
            rows, vectors = self._pretrained_rows(*pretrained, n_rows)
            table[rows] = vectors
            self.n_pretrained_rows_ = int(np.unique(rows).size)
        positions = self.max_length_ if self.pooling == "concat" else None
        n_inputs = d * (positions or 1)
        check_network_fits([n_inputs, *hidden, n_outputs], Pi.dtype)
        if self._has_linear_path():
            # w: one column per output beside the vectors, fitted in closed form
            # at the start of training (zero until then).
            table = np.hstack([table, np.zeros((n_rows, n_outputs), table.dtype)])
        network = Network(
            [n_inputs, *hidden, n_outputs],
            self.activation,
            self._network_out_activation(),
            Pi.dtype,
            table=table,
            positions=positions,
        )
        network.initialize(rng)
        if self._has_linear_path():
            # The head adds nothing at first: the starting model is the linear one.
            network.coefs[-1][...] = 0.0
        # The output bias starts at the target's mean (0 once standardised;
        # log of the mean through Poisson's exp link).
        network.intercepts[-1][...] = self._y_log_mean
        return network

    def _has_linear_path(self):
        return self.linear_path and self.pooling != "concat"

    def _pretrained_rows(self, tokens, vectors, n_rows):
        """Table rows of the pretrained ``tokens`` this model has, and their vectors."""
        if self._input_form == "bag":
            # A bag matrix's column j is token j.
            found = [
                (i, int(t))
                for i, t in enumerate(tokens)
                if isinstance(t, Integral | np.integer) and 0 <= t < n_rows
            ]
        elif self.n_buckets is not None:
            found = [
                (i, int(row))
                for i, row in enumerate(stable_hash(list(tokens), self.n_buckets))
            ]
        else:
            get = self.vocabulary_.get
            found = [(i, get(t)) for i, t in enumerate(tokens) if get(t) is not None]
        if not found:
            return np.zeros(0, np.int64), vectors[:0]
        which, rows = map(np.asarray, zip(*found, strict=True))
        return rows, vectors[which]

    @staticmethod
    def _check_table_fits(n_rows, d, dtype):
        check_fits_in_memory(
            _TABLE_COPIES * n_rows * d,
            dtype,
            f"An embedding table of {n_rows} rows × {d} dimensions",
            "lower n_buckets, n_subword_buckets, max_vocabulary or embedding_dim",
        )

    def _new_optimizers(self):
        dense, table = super()._new_optimizers()
        if not self.freeze_embeddings:
            return dense, table
        if self._network.n_linear:
            # The linear path's columns train; the vectors stay as they are.
            return dense, FrozenColumns(table, self.embedding_dim)
        # A frozen table has no optimizer: the loop then never updates it.
        return dense, None

    def _current_optimizer_params(self):
        return {
            **super()._current_optimizer_params(),
            "freeze_embeddings": self.freeze_embeddings,
        }

    def _stops_early(self, incremental, n_samples=None):
        # Early stopping is on by default: partial_fit (one epoch over a chunk,
        # nothing held out) ignores it rather than refusing every call, and so
        # does a fit on too few documents to hold out MIN_VALIDATION: the R² of
        # a handful of rows is noise, not a signal to stop on.
        if not self.early_stopping or incremental:
            return False
        if n_samples is None:
            return True
        n_validation = int(np.ceil(self.validation_fraction * n_samples))
        return n_validation >= MIN_VALIDATION and n_samples - n_validation >= 1

    # -- the target ------------------------------------------------------------
    def _prepare_target(self, y, sample_weight, first_pass):
        """Standardise ``y`` with the (weighted) statistics of the first fit.

        The output bias starts near 0 and the table's rows move by about the
        learning rate per step: a target far from 0 or of a large spread (years)
        would take thousands of steps to reach.  Centring and scaling it puts
        every target at the scale the initialisation assumes; predictions are
        mapped back.  Poisson's log link is not standardised: its bias starts at
        ``log(mean)`` instead.
        """
        if first_pass:
            mean = np.average(y, axis=0, weights=sample_weight)
            self._y_log_mean = 0.0
            if self.loss == "poisson":
                self._y_log_mean = np.log(np.maximum(mean, np.finfo(y.dtype).tiny))
                self._y_mean = np.zeros_like(mean)
                self._y_scale = np.ones_like(mean)
            else:
                # The spread as peak·rms(y/peak): squares of 1e300 would overflow.
                centred = y - mean
                peak = np.max(np.abs(centred), axis=0)
                peak = np.where(peak > 0, peak, 1.0)
                rms = np.average((centred / peak) ** 2, axis=0, weights=sample_weight)
                scale = peak * np.sqrt(rms)
                if not (np.isfinite(mean).all() and np.isfinite(scale).all()):
                    raise ValueError(
                        "The targets are too large to standardise: their mean or "
                        "spread overflows float64. Scale y first."
                    )
                self._y_mean = mean
                self._y_scale = np.where(scale > 0, scale, 1.0)
        return ((y - self._y_mean) / self._y_scale).astype(y.dtype, copy=False)

    def _predict_raw(self, X):
        y_pred = super()._predict_raw(X)
        return y_pred * self._y_scale + self._y_mean

    # -- the linear path's start and the table's penalty ---------------------------
    def _loop_extras(self):
        network = self._network
        extras = {}
        fresh = self._fit_state is None
        if fresh:
            extras["initialize"] = self._initialize_from_training_rows
        if network.table is not None and (
            self.alpha_embedding or (network.n_linear and self._alpha_linear())
        ):
            alphas = np.full(network.table.shape[1], float(self.alpha_embedding))
            if network.n_linear:
                alphas[-network.n_linear :] = self._alpha_linear()
            df = np.zeros(0) if fresh else self._document_frequency
            self._row_penalty = RowL2Penalty(alphas, df)
            extras["table_penalty"] = self._row_penalty
        # The compiled step where it covers the model; the reference otherwise.
        self._reference_reason = compiled_step_support(
            network, self._loss_node(), self._optimizers
        )
        if self._reference_reason is None:
            extras["compiled_step"] = CompiledBagStep
            extras["n_jobs"] = effective_n_jobs(self.n_jobs)
        return extras

    # The 'auto' grid of ``alpha_linear``, tried from the largest.
    _LINEAR_ALPHAS = LINEAR_ALPHAS

    def _linear_start(self):
        """Whether the linear path starts at the ridge solution (squared error)."""
        return self.loss == "squared_error"

    def _linear_solution(self, X, y, sample_weight, alpha):
        """``(w, b)`` of the linear path alone on ``(X, y)`` at penalty ``alpha``."""
        searching = self.__dict__.get("_searching_alpha", False)
        tol = RIDGE_SEARCH_TOL if searching else RIDGE_TOL
        return _ridge(X, y, sample_weight, alpha, tol=tol)

    def _alpha_linear(self):
        if self.alpha_linear != "auto":
            return float(self.alpha_linear)
        return getattr(self, "alpha_linear_", 1.0)

    def _initialize_from_training_rows(self, train):
        """Document frequencies of the table rows; the linear path's ridge solve."""
        df = RowL2Penalty.occurrences(sp.csr_array(train.inputs), train.sample_weight)
        self._document_frequency = df
        if self._network.n_linear and self._linear_start():
            # L-BFGS and LSQR are vector operations over the table's rows.
            with one_blas_thread():
                self.alpha_linear_ = self._solve_linear_path(train)
        penalty = getattr(self, "_row_penalty", None)
        if penalty is not None:
            penalty.set_document_frequency(df)
            if self._network.n_linear:
                penalty.alphas[-self._network.n_linear :] = self._alpha_linear()

    def _solve_linear_path(self, train):
        """``(w, b)`` of the ridge on the training rows: the notes' linear node
        ``Ŷ = Π·w + b`` in closed form, ``min Σᵢ sᵢ‖Π_i·w + b − yᵢ‖² + α‖w‖²``.

        Solved by LSQR on the weighted, centred ``Π`` (the intercept is not
        penalised).  With ``alpha_linear='auto'`` α is the best mean R² of a
        3-fold cross-validation on the training rows over a log grid, tried from
        the largest down until two in a row do not improve (the validation rows
        are left to early stopping: a few hundred rows choose α too noisily).
        Returns α.
        """
        network = self._network
        k = network.n_linear
        X = sp.csr_array(train.inputs, dtype=np.float64)
        # Rows no training document touches have w = 0 in the solution (their
        # centred column is zero): solve on the touched ones only, which with
        # subword buckets are a small fraction of the table.
        touched = np.unique(X.indices)
        X = sp.csr_array(X[:, touched])
        y = np.asarray(train.y, dtype=np.float64)
        s = (
            np.ones(X.shape[0])
            if train.sample_weight is None
            else np.asarray(train.sample_weight, dtype=np.float64)
        )
        alpha = self._alpha_linear()
        if self.alpha_linear == "auto" and X.shape[0] >= 10 * MIN_VALIDATION:
            alpha = self._search_alpha(X, y, s)
        solution = self._linear_solution(X, y, s, alpha)
        if solution is not None:
            network.table[:, -k:] = 0.0
            network.table[touched, -k:], network.intercepts[-1][...] = solution
        return alpha

    def _search_alpha(self, X, y, s):
        """The best of ``LINEAR_ALPHAS`` by 3-fold cross-validated score.

        Its solves only rank alphas: they stop at ``RIDGE_SEARCH_TOL``.
        """
        alpha = self._alpha_linear()
        folds = np.arange(X.shape[0]) % 3
        # Each fold's rows sliced once, the same objects for every alpha.
        splits = [
            (X[fit], y[fit], s[fit], X[~fit], y[~fit], s[~fit])
            for fit in (folds != fold for fold in range(3))
        ]
        # A fold whose fitting or held-out rows all weigh 0 has no solution or no
        # score (weights on every third row only): the other folds choose.
        splits = [split for split in splits if split[2].sum() > 0 < split[5].sum()]
        if not splits:
            return alpha
        best, worse = -np.inf, 0
        self._searching_alpha = True
        try:
            for candidate in self._LINEAR_ALPHAS:
                scores = []
                for X_fit, y_fit, s_fit, X_held, y_held, s_held in splits:
                    coef, intercept = self._linear_solution(
                        X_fit, y_fit, s_fit, candidate
                    )
                    scores.append(
                        self._validation_scorer(
                            y_held, X_held @ coef + intercept, s_held
                        )
                    )
                score = float(np.mean(scores))
                if score > best:
                    best, alpha, worse = score, float(candidate), 0
                else:
                    worse += 1
                    if worse >= 2:
                        break
        finally:
            del self._searching_alpha
        return alpha

    # -- live table ------------------------------------------------------------
    def _table(self):
        network = self._network
        if not network.n_linear:
            return self.embeddings_
        if self._is_live(self.embeddings_) and self._is_live(self.linear_coef_):
            return network.table
        linear = np.asarray(self.linear_coef_).reshape(network.table.shape[0], -1)
        return np.hstack([self.embeddings_, linear])

    def _is_live(self, array):
        # The table itself or a view of its columns (a reassigned array is neither).
        return array is self._network.table or (
            isinstance(array, np.ndarray)
            and array.base is not None
            and array.base is self._network.table
        )

    def _publish(self):
        super()._publish()
        network = self._network
        if network.n_linear:
            k = network.n_linear
            self.embeddings_ = network.table[:, :-k]
            self.linear_coef_ = network.table[:, -k:]
            if k == 1:
                self.linear_coef_ = network.table[:, -1]
        else:
            self.embeddings_ = network.table
            self.linear_coef_ = None

    def _journaled_rows(self):
        network = self._network
        if not self._is_live(self.embeddings_) or (
            network.n_linear and not self._is_live(self.linear_coef_)
        ):
            # A reassigned table is copied in whole by the next fit: no journal.
            return []
        optimizer = (self._optimizers or (None, None))[1]
        state = () if optimizer is None else optimizer.row_state()
        return [network.table, *state]

    def _sync_from_public(self):
        super()._sync_from_public()
        network = self._network
        if not self._is_live(self.embeddings_):
            network.table[:, : self.embeddings_.shape[1]] = self.embeddings_
        if network.n_linear and not self._is_live(self.linear_coef_):
            network.table[:, -network.n_linear :] = np.asarray(
                self.linear_coef_
            ).reshape(network.table.shape[0], -1)

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
        """Each term's derivative of the prediction, in document order.

        The notes derive the gradient with respect to the one-hot input,
        ``grad_Π = grad_R·Tableᵀ``.  A document's ``Π`` row is ``C·M``: ``C`` weighs
        its terms (tokens and word n-grams), ``M`` spreads a term over its table
        rows (its own row, and its subword rows with ``char_ngram_range``).  A
        term's attribution is ``∂ŷ/∂C[i, t] = grad_R[i]·(M·Table)[t]``: the change
        of the prediction per unit of the term's weight in the document (its count
        for 'sum' pooling, count/length for 'mean'), through its own row and its
        subword rows together.  For 'concat' it is ``∂ŷ/∂Π`` at each position.

        Parameters
        ----------
        X : see :meth:`fit`
        output : int, default=0
            Which output to explain for a multi-output model.

        Returns
        -------
        list of list of (term, float)
            For each document, its distinct terms in order of first appearance
            (tokens, then the n-grams of each order), each with its own text (an
            out-of-vocabulary token keeps its text; an n-gram is its tokens
            joined by spaces, or a tuple if some are ints); n-grams not in the
            vocabulary are left out (they do not enter the model).  'concat'
            lists each kept position; a bag matrix lists its non-zero columns by
            index.
        """
        check_is_fitted(self)
        if not 0 <= output < self.n_outputs_:
            raise ValueError(f"output must be in [0, {self.n_outputs_}); got {output}.")
        form, X = self._check_form(X, reset=False)
        if form == "bag" or self.pooling == "concat":
            Pi = self._validate_predict_input(X)
            grad_Pi = self._grad_input(Pi, output)
            c = self.max_length_ or 1
            docs = None if form == "bag" else self._docs(X, form)
            attributions = []
            for i in range(Pi.shape[0] // c):
                start, stop = grad_Pi.indptr[i * c], grad_Pi.indptr[(i + 1) * c]
                if docs is None:
                    names = grad_Pi.indices[start:stop].tolist()
                else:  # one entry per kept position, in order
                    names = docs[i][: stop - start]
                values = grad_Pi.data[start:stop].tolist()
                attributions.append(list(zip(names, values, strict=True)))
            return attributions
        docs = self._docs(X, form)
        dtype = self._network.dtype
        terms, C, M = self._encoder.encode(docs, dtype)
        table = self._table()
        C, term_table = sp.csr_array(C), np.asarray(M @ table[: M.shape[1]])
        if table.shape[0] > M.shape[1]:
            # The character n-gram block enters as it is (it has no terms), so
            # the derivative is taken at the model's own input.
            C = sp.hstack([C, self._pi_of_chars(as_documents(X), dtype)], format="csr")
            term_table = np.vstack([term_table, table[M.shape[1] :]])
        grad_C = self._grad_input(C, output, table=term_table)
        kept = self._encoder.term_rows(terms)[terms.term] >= 0
        # Occurrences come by order then position; a stable sort by document
        # keeps that order inside each document.
        by_doc = np.argsort(terms.doc[kept], kind="stable")
        doc, term = terms.doc[kept][by_doc], terms.term[kept][by_doc]
        _, first = np.unique(doc * max(terms.n_terms, 1) + term, return_index=True)
        first.sort()
        doc, term = doc[first], term[first]
        values = _entries(grad_C, doc, term)
        names = terms.all_names()
        attributions = [[] for _ in docs]
        for i, t, value in zip(
            doc.tolist(), term.tolist(), values.tolist(), strict=True
        ):
            attributions[i].append((names[t], value))
        return attributions

    def _grad_input(self, Pi, output, table=None):
        """The notes' ``grad_Π = grad_R·Tableᵀ`` of ``ŷ[:, output]`` at ``Π``'s pattern.

        ``table`` replaces the fitted table: with ``Π = C·M`` (term weights ``C``,
        term → rows ``M``), ``C·(M·Table)`` is the same ``R``, so passing ``C`` and
        ``M·Table`` differentiates with respect to each term's weight.
        """
        # A network of its own: the fitted one's buffers are shared state, and
        # concurrent calls (threads) would overwrite each other's activations.
        fitted = self._network
        network = Network(
            fitted.layer_units,
            self.activation,
            self._network_out_activation(),
            fitted.dtype,
            table=self._table() if table is None else table,
            positions=fitted.positions,
        )
        network.load(self.coefs_, self.intercepts_)
        network.embedding.input_is_data = False
        y_hat = network.forward(Pi)
        grad_y_hat = np.zeros_like(y_hat)
        # ŷ = ŷ_standardised·scale + mean: the derivative in the target's units.
        grad_y_hat[:, output] = self._y_scale[output]
        return network.backward(grad_y_hat)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.string = True
        # A bag matrix of counts: binary and sublinear weights need them >= 0.
        tags.input_tags.positive_only = self.weighting != "count"
        tags.target_tags.multi_output = True
        return tags
