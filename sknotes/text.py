"""Text handling: tokens → rows of an embedding table → the notes' one-hot ``Π``.

The notes' embedding node starts with "change X → Π [one hot transformation]".  This
module does that step and nothing else: tokenization, a vocabulary (or stable
hashing), and the sparse matrices ``Π`` for sum/mean pooling (one row per document)
and for the notes' exact ``nc × w`` layout (one row per token position).

Corpora can hold millions of documents, so per-token Python work is kept to one
dict lookup (or one hash per *distinct* token), done through C-level ``map`` and
``np.fromiter``; everything after that is vectorised numpy.
"""

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import chain, repeat
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
    "document_lengths",
    "normalize_bag_rows",
    "position_matrix",
    "stable_hash",
    "tokenize",
]

TOKEN_PATTERN = r"(?u)\b\w\w+\b"

_FORMS_MESSAGE = (
    "X must be a sequence of raw strings, a sequence of token sequences or a 2-D "
    "numeric bag matrix"
)


# -- tokenization --------------------------------------------------------------
def tokenize(docs, *, tokenizer=None, lowercase=True, token_pattern=TOKEN_PATTERN):
    """Split raw strings into token lists, as ``CountVectorizer``'s default analyzer.

    Parameters
    ----------
    docs : sequence of str
    tokenizer : callable, default=None
        ``str -> iterable of tokens``, used instead of ``token_pattern``; the string
        is lowercased first if ``lowercase``.
    lowercase : bool, default=True
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"

    Returns
    -------
    list of list of str

    Raises
    ------
    TypeError
        If a document is not a str.
    """
    docs = list(docs)
    # One type pass up front keeps the hot loop free of per-document checks.
    if not all(isinstance(doc, str) for doc in docs):
        i, doc = next((i, d) for i, d in enumerate(docs) if not isinstance(d, str))
        raise TypeError(
            f"Expected raw documents of type str; document {i} is {type(doc).__name__}."
        )
    if lowercase:
        docs = map(str.lower, docs)
    if tokenizer is None:
        return list(map(re.compile(token_pattern).findall, docs))
    return [list(tokenizer(doc)) for doc in docs]


# -- what X is -----------------------------------------------------------------
def _is_token_type(kind):
    return issubclass(kind, str) or (
        issubclass(kind, Integral | np.integer)
        and not issubclass(kind, bool | np.bool_)
    )


def _is_number_type(kind):
    return issubclass(kind, Real | np.number) and not issubclass(kind, bool | np.bool_)


def _is_data_frame(X):
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "shape")


def detect_input_form(X):
    """Tell which of the three accepted forms ``X`` is.

    Parameters
    ----------
    X : object

    Returns
    -------
    form : {"bag", "strings", "tokens"}
        ``"bag"`` for a sparse matrix, a numeric numpy array (also a 2-D object
        array, and a 0-D/1-D numeric one, so that scikit-learn's validation raises
        its usual messages), a numeric data frame, or a list of equal-length rows of
        numbers with at least one float (``X.tolist()`` of a float matrix);
        ``"strings"`` for a sequence of str; ``"tokens"`` for a sequence of token
        sequences (lists, tuples or 1-D arrays of str or int tokens).

    Raises
    ------
    ValueError
        For 0 documents, an array with more than 2 dimensions, or a document that
        is not 1-D.
    TypeError
        For anything else, naming the offending type.
    """
    if sp.issparse(X):
        return "bag"
    if X is None or isinstance(X, str | bytes | Mapping):
        raise TypeError(f"{_FORMS_MESSAGE}; got {type(X).__name__}.")
    if _is_data_frame(X):
        kinds = {getattr(dtype, "kind", "O") for dtype in X.dtypes}
        if kinds <= set("biufc"):
            return "bag"
        raise TypeError(
            "A data frame X must hold numbers (a bag matrix); to pass text, pass one "
            "column of strings or token lists, e.g. df['text']."
        )
    if not isinstance(X, list | tuple) and hasattr(X, "__array__"):
        X = np.asarray(X)  # pandas Series and other array-likes
    if isinstance(X, np.ndarray):
        if X.ndim > 2:
            raise ValueError(
                f"{_FORMS_MESSAGE}; got an array with {X.ndim} dimensions."
            )
        if X.dtype.kind in "biufc" or (X.dtype.kind == "O" and X.ndim == 2):
            return "bag"
        if X.ndim == 0:
            raise TypeError(f"{_FORMS_MESSAGE}; got a 0-D {X.dtype} array.")
    elif not isinstance(X, Sequence):
        raise TypeError(f"{_FORMS_MESSAGE}; got {type(X).__name__}.")
    if len(X) == 0:
        raise ValueError(
            "Found 0 documents in X while a minimum of 1 sample is required."
        )
    doc_types = set(map(type, X))
    if all(issubclass(kind, str) for kind in doc_types):
        return "strings"
    if all(issubclass(kind, list | tuple | np.ndarray) for kind in doc_types):
        return _token_docs_form(X, doc_types)
    kinds = ", ".join(sorted(kind.__name__ for kind in doc_types))
    raise TypeError(f"{_FORMS_MESSAGE}; got a sequence of {kinds}.")


def _token_docs_form(docs, doc_types):
    if any(issubclass(kind, np.ndarray) for kind in doc_types):
        for i, doc in enumerate(docs):
            if isinstance(doc, np.ndarray) and doc.ndim != 1:
                raise ValueError(f"Document {i} must be 1-D; got {doc.ndim}-D.")
    # Types, not tokens, are checked: a corpus has few distinct token types.
    token_types = set(map(type, chain.from_iterable(docs)))
    if all(_is_token_type(kind) for kind in token_types):
        return "tokens"
    # Floats are never tokens, so equal-length rows of numbers are a bag matrix
    # given as lists (scikit-learn passes ``X.tolist()``).
    if all(_is_number_type(kind) for kind in token_types) and (
        len(set(map(len, docs))) == 1
    ):
        return "bag"
    for i, doc in enumerate(docs):
        for token in doc:
            if not _is_token_type(type(token)):
                raise TypeError(
                    f"Tokens must be str or int; got {type(token).__name__} "
                    f"in document {i}."
                )
    raise AssertionError("unreachable")  # pragma: no cover


# -- tokens → rows -------------------------------------------------------------
def _hash_key(token):
    # Ints are hashed through a prefix that no str token starts with, so 1 ≠ "1".
    if isinstance(token, str):
        return token
    if _is_token_type(type(token)):
        return "\x00" + str(int(token))
    raise TypeError(f"Tokens must be str or int; got {type(token).__name__}.")


def _check_positive_int(value, name):
    if (
        not isinstance(value, Integral | np.integer)
        or isinstance(value, bool)
        or value < 1
    ):
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")


def _hash_rows(tokens, n_buckets):
    # Hash each distinct token once: one dict lookup per token beats one murmurhash
    # call per token, and corpora repeat their tokens a lot.
    first_seen = dict.fromkeys(tokens)
    codes = {token: code for code, token in enumerate(first_seen)}
    buckets = (
        np.fromiter(
            (murmurhash3_32(_hash_key(t), positive=True) for t in first_seen),
            dtype=np.int64,
            count=len(first_seen),
        )
        % n_buckets
    )
    return codes, buckets


def stable_hash(tokens, n_buckets):
    """Bucket of each token in ``[0, n_buckets)``, the same in every process.

    MurmurHash3 (seed 0) of the token's text; Python's salted ``hash`` is not used.
    An int token is hashed as ``"\\x00" + str(token)`` so it differs from its str.

    Parameters
    ----------
    tokens : iterable of str or int
    n_buckets : int

    Returns
    -------
    ndarray of int64, one bucket per token
    """
    _check_positive_int(n_buckets, "n_buckets")
    tokens = tokens if isinstance(tokens, Sequence | np.ndarray) else list(tokens)
    codes, buckets = _hash_rows(tokens, n_buckets)
    return buckets[np.fromiter(map(codes.__getitem__, tokens), np.int64, len(tokens))]


def document_lengths(indptr):
    """Number of tokens of each document, from ``indptr``."""
    return np.diff(np.asarray(indptr))


def _indptr(docs):
    indptr = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, docs), np.int64, len(docs)), out=indptr[1:])
    return indptr


class Vocabulary:
    """Token → row of the embedding table, with one shared out-of-vocabulary row.

    Rows follow first appearance in the training corpus (deterministic, whatever
    ``PYTHONHASHSEED``).  Tokens seen fewer than ``min_count`` times, or beyond the
    ``max_vocabulary`` most frequent (ties: first seen wins), map to the last row,
    ``oov_row``, which is therefore learned from them; unseen tokens at predict
    time map there too.

    Parameters
    ----------
    min_count : int, default=1
    max_vocabulary : int, default=None

    Attributes
    ----------
    token_to_row : dict
    tokens : list, the kept tokens in row order
    n_known : int
    oov_row : int, equal to ``n_known``
    n_rows : int, equal to ``n_known + 1``
    n_oov_tokens_seen_in_fit : int
        Training token occurrences mapped to ``oov_row``.
    """

    def __init__(self, min_count=1, max_vocabulary=None):
        self.min_count = min_count
        self.max_vocabulary = max_vocabulary

    def fit(self, docs):
        """Count the tokens of ``docs`` (a sequence of token sequences)."""
        _check_positive_int(self.min_count, "min_count")
        if self.max_vocabulary is not None:
            _check_positive_int(self.max_vocabulary, "max_vocabulary")
        counts = Counter(chain.from_iterable(docs))  # insertion order = first seen
        kept = [t for t, c in counts.items() if c >= self.min_count]
        if self.max_vocabulary is not None and len(kept) > self.max_vocabulary:
            # sorted is stable: ties keep first-appearance order.
            chosen = set(sorted(kept, key=lambda t: -counts[t])[: self.max_vocabulary])
            kept = [t for t in kept if t in chosen]
        self.tokens = kept
        self.token_to_row = {t: i for i, t in enumerate(kept)}
        self.n_known = len(kept)
        self.oov_row = self.n_known
        self.n_rows = self.n_known + 1
        self.n_oov_tokens_seen_in_fit = int(
            counts.total() - sum(counts[t] for t in kept)
        )
        return self

    def encode(self, docs):
        """Rows of every token, document by document.

        Returns
        -------
        indices : ndarray of int64, one row per token (unknown → ``oov_row``)
        indptr : ndarray of int64 of length ``len(docs) + 1``
        """
        indptr = _indptr(docs)
        rows = map(
            self.token_to_row.get, chain.from_iterable(docs), repeat(self.oov_row)
        )
        return np.fromiter(rows, np.int64, int(indptr[-1])), indptr


class HashingEncoder:
    """Token → ``stable_hash(token, n_buckets)``: no vocabulary to store or grow.

    Parameters
    ----------
    n_buckets : int
    """

    def __init__(self, n_buckets):
        self.n_buckets = n_buckets

    @property
    def n_rows(self):
        """Rows of the embedding table: ``n_buckets``."""
        return self.n_buckets

    def encode(self, docs):
        """Return ``(indices, indptr)`` as :meth:`Vocabulary.encode`."""
        _check_positive_int(self.n_buckets, "n_buckets")
        indptr = _indptr(docs)
        codes, buckets = _hash_rows(chain.from_iterable(docs), self.n_buckets)
        rows = map(codes.__getitem__, chain.from_iterable(docs))
        return buckets[np.fromiter(rows, np.int64, int(indptr[-1]))], indptr


# -- rows → Π ------------------------------------------------------------------
def bag_matrix(indices, indptr, n_rows, *, dtype=np.float64, pooling="sum"):
    """``Π`` for sum or mean pooling: row i counts the tokens of document i.

    ``Π·Table`` is then the sum of the document's token vectors; with
    ``pooling="mean"`` each row is divided by the document's token count (an
    empty document stays a zero row).

    Parameters
    ----------
    indices, indptr : ndarray of int
        As returned by :meth:`Vocabulary.encode`.
    n_rows : int
    dtype : float dtype, default=np.float64
    pooling : {"sum", "mean"}, default="sum"

    Returns
    -------
    csr_array of shape (n_docs, n_rows), canonical (sorted, duplicates summed)
    """
    if pooling not in ("sum", "mean"):
        raise ValueError(f"pooling must be 'sum' or 'mean'; got {pooling!r}.")
    indices, indptr = np.asarray(indices), np.asarray(indptr)
    n_docs = indptr.shape[0] - 1
    data = np.ones(indices.shape[0], dtype=dtype)
    if pooling == "mean":
        # Empty documents repeat their length zero times, so nothing divides by 0.
        lengths = np.diff(indptr)
        data /= np.repeat(lengths, lengths).astype(dtype, copy=False)
    # Copies: sum_duplicates works in place and the caller keeps its arrays.
    bag = sp.csr_array((data, indices.copy(), indptr.copy()), shape=(n_docs, n_rows))
    bag.sum_duplicates()
    return bag


def normalize_bag_rows(P):
    """Divide each row of a bag matrix by the sum of its absolute values.

    The mean pooling of a user's bag matrix (``CountVectorizer`` counts, tf-idf
    weights, …); all-zero rows stay zero.  The input is not modified.

    Parameters
    ----------
    P : sparse or dense 2-D array of numbers

    Returns
    -------
    csr_array, float32 or float64 as ``P``, else float64
    """
    dtype = getattr(P, "dtype", None)
    if dtype not in (np.float32, np.float64):
        dtype = np.float64
    # Checked before csr_array, which makes a 1-D array one row on scipy < 1.14.
    if np.ndim(P) != 2:
        raise ValueError(f"A bag matrix must be 2-D; got {np.ndim(P)}-D.")
    # Both branches copy, so the caller's arrays are never written.
    if sp.issparse(P):
        P = sp.csr_array(P, dtype=dtype, copy=True)
    else:
        P = sp.csr_array(np.asarray(P, dtype=dtype))
    # Before taking |·|: duplicates of opposite sign must cancel first.
    P.sum_duplicates()
    lengths = np.diff(P.indptr)
    row_norm = np.bincount(
        np.repeat(np.arange(P.shape[0]), lengths),
        weights=np.abs(P.data),
        minlength=P.shape[0],
    )
    row_norm[row_norm == 0] = 1.0  # empty rows and rows of explicit zeros
    P.data /= np.repeat(row_norm, lengths)
    return P


def position_matrix(indices, indptr, n_rows, max_length, *, dtype=np.float64):
    """``Π`` in the notes' layout: one one-hot row per token position (``nc × w``).

    Row ``i·c + j`` is the one-hot of the ``j``-th token of document ``i`` (``c =
    max_length``); longer documents are truncated, shorter ones padded with zero
    rows, which contribute zero vectors after ``Π·Table``.

    Parameters
    ----------
    indices, indptr : ndarray of int
        As returned by :meth:`Vocabulary.encode`.
    n_rows : int
    max_length : int
    dtype : float dtype, default=np.float64

    Returns
    -------
    csr_array of shape (n_docs * max_length, n_rows)
    """
    _check_positive_int(max_length, "max_length")
    indices, indptr = np.asarray(indices), np.asarray(indptr)
    n_docs = indptr.shape[0] - 1
    lengths = np.diff(indptr)
    position = np.arange(indices.shape[0]) - np.repeat(indptr[:-1], lengths)
    kept = position < max_length
    # Each output row holds at most one entry: its indptr is a cumulative count of
    # min(length, max_length) ones followed by padding.
    n_kept = np.minimum(lengths, max_length)
    filled = np.arange(max_length) < n_kept[:, None]
    out_indptr = np.zeros(n_docs * max_length + 1, dtype=np.int64)
    np.cumsum(filled.ravel(), out=out_indptr[1:])
    return sp.csr_array(
        (np.ones(int(n_kept.sum()), dtype=dtype), indices[kept], out_indptr),
        shape=(n_docs * max_length, n_rows),
    )
