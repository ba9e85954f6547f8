"""Text handling: tokens → rows of an embedding table → the notes' one-hot ``Π``.

The notes' embedding node starts with "change X → Π [one hot transformation]".  This
module does that step and nothing else: tokenization, a vocabulary (or stable
hashing), and the sparse matrices ``Π`` for sum/mean pooling (one row per document)
and for the notes' exact ``nc × w`` layout (one row per token position).
"""

import re
from collections import Counter
from itertools import chain
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import murmurhash3_32

__all__ = [
    "TOKEN_PATTERN",
    "HashingEncoder",
    "Vocabulary",
    "bag_matrix",
    "detect_input_form",
    "normalize_bag_rows",
    "position_matrix",
    "stable_hash",
    "tokenize",
]

TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def tokenize(docs, *, tokenizer=None, lowercase=True, token_pattern=TOKEN_PATTERN):
    """Split raw strings into token lists, as ``CountVectorizer``'s default analyzer.

    Parameters
    ----------
    docs : iterable of str
    tokenizer : callable, default=None
        ``str -> iterable of tokens``, used instead of ``token_pattern``.
    lowercase : bool, default=True
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"

    Returns
    -------
    list of list of str
    """
    split = tokenizer if tokenizer is not None else re.compile(token_pattern).findall
    tokens = []
    for i, doc in enumerate(docs):
        if not isinstance(doc, str):
            raise TypeError(
                f"Expected raw documents of type str; document {i} is "
                f"{type(doc).__name__}."
            )
        tokens.append(list(split(doc.lower() if lowercase else doc)))
    return tokens


def _is_token(token):
    return isinstance(token, str) or (
        isinstance(token, Integral | np.integer) and not isinstance(token, bool | np.bool_)
    )


def _is_numeric_table(docs):
    """Equal-length rows of numbers with at least one non-integer: a dense bag."""
    if len({len(doc) for doc in docs}) != 1:
        return False
    values = list(chain.from_iterable(docs))
    return all(
        isinstance(v, Real | np.number) and not isinstance(v, bool) for v in values
    ) and any(not isinstance(v, Integral | np.integer) for v in values)


def detect_input_form(X):
    """Tell which of the three accepted forms ``X`` is.

    Returns
    -------
    form : {"bag", "strings", "tokens"}
        ``"bag"`` for a sparse matrix or a numeric 2-D array (a data frame included),
        ``"strings"`` for a sequence of raw strings, ``"tokens"`` for a sequence of
        token sequences (each token a str or an int).

    Raises
    ------
    TypeError or ValueError
        Naming what is wrong with ``X``.
    """
    if sp.issparse(X):
        return "bag"
    if isinstance(X, str | bytes | dict) or X is None:
        raise TypeError(
            "X must be a list of token lists, a list of strings or a 2-D numeric bag "
            f"matrix; got {type(X).__name__}."
        )
    if hasattr(X, "dtypes") and hasattr(X, "columns"):  # a data frame
        return "bag"
    if not isinstance(X, list | tuple) and hasattr(X, "__array__"):
        X = np.asarray(X)
    if isinstance(X, np.ndarray) and (
        X.dtype.kind in "biufc" or (X.dtype.kind == "O" and X.ndim == 2)
    ):
        # Numeric (or a 2-D object table): a bag matrix, whose shape and values
        # the estimator validates with scikit-learn's messages.
        return "bag"
    try:
        n_docs = len(X)
    except TypeError:
        raise TypeError(
            f"X must be a sequence of documents; got {type(X).__name__}."
        ) from None
    if n_docs == 0:
        raise ValueError(
            "Found 0 documents in X while a minimum of 1 is required."
        )
    docs = list(X)
    if all(isinstance(doc, str) for doc in docs):
        return "strings"
    if all(isinstance(doc, list | tuple | np.ndarray) for doc in docs):
        if _is_numeric_table(docs):
            return "bag"
        for i, doc in enumerate(docs):
            if isinstance(doc, np.ndarray) and doc.ndim != 1:
                raise ValueError(f"Document {i} must be 1-D; got {doc.ndim}-D.")
            for token in doc:
                if not _is_token(token):
                    raise TypeError(
                        f"Tokens must be str or int; got {type(token).__name__} "
                        f"in document {i}."
                    )
        return "tokens"
    kinds = sorted({type(doc).__name__ for doc in docs})
    raise TypeError(
        "X must be a list of token lists, a list of strings or a 2-D numeric bag "
        f"matrix; got a sequence of {', '.join(kinds)}."
    )


def _hash_key(token):
    # Ints are hashed through a prefix that no str token starts with, so 1 ≠ "1".
    if isinstance(token, str):
        return token
    return "\x00" + str(int(token))


def stable_hash(tokens, n_buckets):
    """Bucket of each token in ``[0, n_buckets)``, the same in every process.

    MurmurHash3 (seed 0) of the token's text; Python's salted ``hash`` is not used.
    """
    return np.fromiter(
        (murmurhash3_32(_hash_key(t), positive=True) % n_buckets for t in tokens),
        dtype=np.int64,
        count=len(tokens) if hasattr(tokens, "__len__") else -1,
    )


def _indptr(docs):
    lengths = np.fromiter((len(doc) for doc in docs), dtype=np.int64, count=len(docs))
    indptr = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return indptr


class Vocabulary:
    """Token → row of the embedding table, with one shared out-of-vocabulary row.

    Rows follow first appearance in the training corpus (deterministic, whatever
    ``PYTHONHASHSEED``).  Tokens seen fewer than ``min_count`` times, or beyond the
    ``max_vocabulary`` most frequent, map to the last row, ``oov_row``, which is
    therefore learned from them; unseen tokens at predict time map there too.

    Parameters
    ----------
    min_count : int, default=1
    max_vocabulary : int, default=None
    """

    def __init__(self, min_count=1, max_vocabulary=None):
        self.min_count = min_count
        self.max_vocabulary = max_vocabulary

    def fit(self, docs):
        counts = Counter(chain.from_iterable(docs))  # insertion order = first seen
        kept = [t for t, c in counts.items() if c >= self.min_count]
        if self.max_vocabulary is not None and len(kept) > self.max_vocabulary:
            # sorted is stable: ties keep first-appearance order.
            by_count = sorted(kept, key=lambda t: -counts[t])[: self.max_vocabulary]
            chosen = set(by_count)
            kept = [t for t in kept if t in chosen]
        self.tokens = kept
        self.token_to_row = {t: i for i, t in enumerate(kept)}
        self.n_known = len(kept)
        self.oov_row = self.n_known
        self.n_rows = self.n_known + 1
        self.n_oov_tokens_seen_in_fit = sum(counts.values()) - sum(
            counts[t] for t in kept
        )
        return self

    def encode(self, docs):
        """Return ``(indices, indptr)``: the rows of every token, document by document."""
        lookup, oov = self.token_to_row.get, self.oov_row
        indices = np.fromiter(
            (lookup(t, oov) for t in chain.from_iterable(docs)), dtype=np.int64
        )
        return indices, _indptr(docs)


class HashingEncoder:
    """Token → ``stable_hash(token) % n_buckets``: no vocabulary to store or grow."""

    def __init__(self, n_buckets):
        self.n_buckets = n_buckets

    @property
    def n_rows(self):
        return self.n_buckets

    def encode(self, docs):
        """Return ``(indices, indptr)`` as :meth:`Vocabulary.encode`."""
        indices = stable_hash(list(chain.from_iterable(docs)), self.n_buckets)
        return indices, _indptr(docs)


def bag_matrix(indices, indptr, n_rows, *, dtype=np.float64, pooling="sum"):
    """``Π`` for sum or mean pooling: row i counts the tokens of document i.

    ``Π·Table`` is then the sum of the document's token vectors; with
    ``pooling="mean"`` each row is divided by the document's token count (an
    empty document stays a zero row).

    Returns
    -------
    csr_array of shape (n_docs, n_rows)
    """
    n_docs = indptr.shape[0] - 1
    data = np.ones(indices.shape[0], dtype=dtype)
    if pooling == "mean":
        lengths = np.diff(indptr)
        data /= np.repeat(lengths, lengths).astype(dtype, copy=False)
    # Copies: sum_duplicates works in place and the caller keeps its arrays.
    bag = sp.csr_array(
        (data, indices.copy(), indptr.copy()), shape=(n_docs, n_rows)
    )
    bag.sum_duplicates()
    return bag


def normalize_bag_rows(P):
    """Divide each row of a bag matrix by the sum of its absolute values.

    The mean pooling of a user's bag matrix (``CountVectorizer`` counts, tf-idf
    weights, …); all-zero rows stay zero.  The input is not modified.

    Returns
    -------
    csr_array
    """
    P = sp.csr_array(P, copy=True)
    if P.dtype not in (np.float32, np.float64):
        P = P.astype(np.float64)
    P.sum_duplicates()
    row_norm = np.asarray(abs(P).sum(axis=1)).ravel()
    row_norm[row_norm == 0] = 1.0
    P.data /= np.repeat(row_norm, np.diff(P.indptr)).astype(P.dtype, copy=False)
    return P


def position_matrix(indices, indptr, n_rows, max_length, *, dtype=np.float64):
    """``Π`` in the notes' layout: one one-hot row per token position (``nc × w``).

    Row ``i·c + j`` is the one-hot of the ``j``-th token of document ``i`` (``c =
    max_length``); longer documents are truncated, shorter ones padded with zero
    rows, which contribute zero vectors after ``Π·Table``.

    Returns
    -------
    csr_array of shape (n_docs * max_length, n_rows)
    """
    n_docs = indptr.shape[0] - 1
    position = np.arange(indices.shape[0]) - np.repeat(indptr[:-1], np.diff(indptr))
    kept = position < max_length
    doc = np.repeat(np.arange(n_docs), np.diff(indptr))[kept]
    rows = doc * max_length + position[kept]
    row_counts = np.zeros(n_docs * max_length, dtype=np.int64)
    row_counts[rows] = 1
    out_indptr = np.zeros(n_docs * max_length + 1, dtype=np.int64)
    np.cumsum(row_counts, out=out_indptr[1:])
    return sp.csr_array(
        (np.ones(rows.shape[0], dtype=dtype), indices[kept], out_indptr),
        shape=(n_docs * max_length, n_rows),
    )
