"""Text handling: tokens → rows of an embedding table → the notes' one-hot ``Π``.

The notes' embedding node starts with "change X → Π [one hot transformation]".  This
module does that step and nothing else: tokenization, a vocabulary (or stable
hashing), and the sparse matrices ``Π`` for sum/mean pooling (one row per document)
and for the notes' exact ``nc × w`` layout (one row per token position).

Corpora can hold millions of documents, so per-token Python work is kept to one
dict lookup (or one hash per *distinct* token), done through C-level ``map`` and
``np.fromiter``; everything after that is vectorised numpy.
"""

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import chain, repeat
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import murmurhash3_32

from . import _encode

__all__ = [
    "TOKEN_PATTERN",
    "DocumentEncoder",
    "HashingEncoder",
    "Vocabulary",
    "as_documents",
    "bag_matrix",
    "char_ngrams",
    "load_embeddings",
    "normalize_bag_rows",
    "position_matrix",
    "read_input",
    "read_vec",
    "smooth_idf",
    "stable_hash",
    "token_lists",
    "tokenize",
    "weigh_bag",
]

TOKEN_PATTERN = r"(?u)\b\w\w+\b"

_FORMS_MESSAGE = (
    "X must be a sequence of raw strings, a sequence of token sequences or a 2-D "
    "numeric bag matrix"
)


# -- tokenization --------------------------------------------------------------
def tokenize(
    docs, *, tokenizer=None, lowercase=True, token_pattern=TOKEN_PATTERN, flat=False
):
    """Split raw strings into token lists, as ``CountVectorizer``'s default analyzer.

    Parameters
    ----------
    docs : sequence of str
    tokenizer : callable, default=None
        ``str -> iterable of tokens``, used instead of ``token_pattern``; the string
        is lowercased first if ``lowercase``.
    lowercase : bool, default=True
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"
    flat : bool, default=False
        Allow the compiled tokenizer of the default pattern (numba), which
        returns the same tokens as a sequence that keeps them as code points
        until a document is indexed, for the encoders; without it, or with
        another pattern or a ``tokenizer``, lists are returned.

    Returns
    -------
    list of list of str, or a sequence of them with ``flat``

    Raises
    ------
    TypeError
        If a document is not a str, or ``tokenizer`` returns a str.
    """
    docs = list(docs)
    # One type pass up front keeps the hot loop free of per-document checks.
    if not all(map(isinstance, docs, repeat(str))):
        i, doc = next((i, d) for i, d in enumerate(docs) if not isinstance(d, str))
        raise TypeError(
            f"Expected raw documents of type str; document {i} is {type(doc).__name__}."
        )
    if flat and tokenizer is None and token_pattern == TOKEN_PATTERN:
        tokens = _encode.tokenize(docs, lowercase)
        if tokens is not None:
            return tokens
    if lowercase:
        docs = map(str.lower, docs)
    if tokenizer is None:
        return list(map(re.compile(token_pattern).findall, docs))
    tokenized = []
    for i, doc in enumerate(docs):
        tokens = tokenizer(doc)
        # A str is iterable: list() would silently split it into characters.
        if isinstance(tokens, str | bytes):
            raise TypeError(
                "tokenizer must return a list of tokens; it returned a "
                f"{type(tokens).__name__} for document {i}."
            )
        tokenized.append(list(tokens))
    return tokenized


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


def read_input(X):
    """Tell which of the three accepted forms ``X`` is, and read token sequences.

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
    docs : list of list, or None
        For ``"tokens"``, the documents as lists, holding the arrays the type
        check flattened them into (a :class:`~sknotes._encode.FlatLists`) when
        the compiled encoder covers them: the encoders read the batch that was
        checked, from these arrays, rather than flatten it again. None for the
        other forms.

    Raises
    ------
    ValueError
        For 0 documents, an array with more than 2 dimensions, or a document that
        is not 1-D.
    TypeError
        For anything else, naming the offending type.
    """
    if isinstance(X, _encode.FlatLists):  # read already
        return "tokens", X
    if sp.issparse(X):
        return "bag", None
    if X is None or isinstance(X, str | bytes | Mapping):
        raise TypeError(f"{_FORMS_MESSAGE}; got {type(X).__name__}.")
    column = _text_column(X)
    if column is not None:
        X = column
    elif _is_data_frame(X):
        kinds = {getattr(dtype, "kind", "O") for dtype in X.dtypes}
        if kinds <= set("biufc"):
            return "bag", None
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
            return "bag", None
        if X.ndim == 0:
            raise TypeError(f"{_FORMS_MESSAGE}; got a 0-D {X.dtype} array.")
    elif not isinstance(X, Sequence):
        raise TypeError(f"{_FORMS_MESSAGE}; got {type(X).__name__}.")
    if len(X) == 0:
        raise ValueError(
            "Found 0 documents in X while a minimum of 1 sample is required."
        )
    doc_types = set(map(type, X))
    _check_missing(X, doc_types)
    if all(issubclass(kind, str) for kind in doc_types):
        return "strings", None
    if all(issubclass(kind, list | tuple | np.ndarray) for kind in doc_types):
        return _token_docs_form(X, doc_types)
    kinds = ", ".join(sorted(kind.__name__ for kind in doc_types))
    raise TypeError(f"{_FORMS_MESSAGE}; got a sequence of {kinds}.")


def _is_missing(value):
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float | np.floating) and value != value


def _is_missing_type(kind):
    return issubclass(kind, type(None) | float | np.floating) or kind.__name__ in (
        "NAType",
        "NaTType",
    )


def _check_missing(docs, doc_types):
    # Missing texts arrive as None, NaN or pandas.NA among the documents: name the
    # first one rather than report "a sequence of float, str".
    if not any(map(_is_missing_type, doc_types)):
        return
    others = [kind for kind in doc_types if not _is_missing_type(kind)]
    if not all(issubclass(kind, str | list | tuple | np.ndarray) for kind in others):
        return  # not texts: reported as a wrong type
    missing = [i for i, doc in enumerate(docs) if _is_missing(doc)]
    if not missing or (not others and len(missing) < len(docs)):
        return  # numbers, not missing texts
    i = missing[0]
    raise ValueError(
        f"Document {i} is missing ({docs[i]!r}); every document must be a text or "
        "a token sequence. Drop or fill the missing texts first, e.g. fillna('')."
    )


def _text_column(X):
    """The documents of a one-column 2-D array or data frame of texts, else None.

    ``df[["text"]]`` and ``df[["text"]].to_numpy()`` hold one text per row; read as
    rows of tokens they would make each whole text a single token.
    """
    if _is_data_frame(X):
        if X.shape[1] != 1 or getattr(X.dtypes.iloc[0], "kind", "O") in "biufc":
            return None
        column = np.asarray(X.iloc[:, 0], dtype=object)
    elif isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 1:
        if X.dtype.kind in "biufc":
            return None
        column = X[:, 0]
    else:
        return None
    if column.dtype.kind == "O" and all(
        _is_number_type(type(value)) and not _is_missing(value) for value in column
    ):
        return None  # an object array of numbers is a bag matrix
    return column


def as_documents(X):
    """``X`` as a sequence of documents: a one-column array or frame of texts
    becomes its column, anything else is returned as it is."""
    column = _text_column(X) if not sp.issparse(X) else None
    return X if column is None else column


def _token_docs_form(docs, doc_types):
    """The form of a sequence of token sequences (``"tokens"``, or ``"bag"`` for
    rows of numbers) and its documents (see :func:`read_input`)."""
    if any(issubclass(kind, np.ndarray) for kind in doc_types):
        for i, doc in enumerate(docs):
            if isinstance(doc, np.ndarray) and doc.ndim != 1:
                raise ValueError(f"Document {i} must be 1-D; got {doc.ndim}-D.")
    indptr = _indptr(docs)
    if doc_types <= {list}:
        # Listed now, while the documents are in cache (just read for their
        # lengths): each later pass over them reads their memory again.
        docs = _encode.FlatLists(docs, None)
    # str.join takes strs only: if it took every token, no type pass is needed.
    flat = _encode.flat_of_strs(docs, indptr)
    if flat is None:  # the common case of ints, without a list of the tokens
        flat = _encode.flat_of_ints(docs, indptr)
    if flat is not None:
        return "tokens", _lists(docs, doc_types, flat)
    tokens = list(chain.from_iterable(docs))
    flat = _encode.flat_of_tokens(tokens, docs, indptr)
    if flat is not None:
        return "tokens", _lists(docs, doc_types, flat)
    # Types, not tokens, are checked: a corpus has few distinct token types.
    token_types = set(map(type, tokens))
    if all(_is_token_type(kind) for kind in token_types):
        return "tokens", _lists(docs, doc_types)
    # Floats are never tokens, so equal-length rows of numbers are a bag matrix
    # given as lists (scikit-learn passes ``X.tolist()``).
    if all(_is_number_type(kind) for kind in token_types) and (
        len(set(map(len, docs))) == 1
    ):
        return "bag", None
    for i, doc in enumerate(docs):
        for token in doc:
            if not _is_token_type(type(token)):
                raise TypeError(
                    f"Tokens must be str or int; got {type(token).__name__} "
                    f"in document {i}."
                )
    raise AssertionError("unreachable")  # pragma: no cover


def _lists(docs, doc_types, flat=None):
    """``docs`` as a list of lists (lists are read, never written: only other
    sequences are copied), holding ``flat`` if given."""
    if isinstance(docs, _encode.FlatLists) and flat is not None:
        docs.flat = flat
        return docs
    if not doc_types <= {list}:
        docs = [d if type(d) is list else list(d) for d in docs]
    return list(docs) if flat is None else _encode.FlatLists(docs, flat)


def token_lists(X):
    """The token lists of ``X`` (a sequence of token sequences) as lists; the
    documents :func:`read_input` returned are returned as they are.

    Parameters
    ----------
    X : sequence of token sequences

    Returns
    -------
    list of list
    """
    if isinstance(X, _encode.FlatLists):
        return X
    return _lists(X, set(map(type, X)))


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
    return codes, _murmur(first_seen) % n_buckets


def _murmur(distinct_tokens):
    return np.fromiter(
        (murmurhash3_32(_hash_key(t), positive=True) for t in distinct_tokens),
        dtype=np.int64,
        count=len(distinct_tokens),
    )


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


def _indptr(docs):
    if isinstance(docs, _encode.FlatDocs | _encode.FlatLists):
        return docs.flat.indptr
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
        # insertion order = first seen
        counts = _encode.token_counts(docs, _indptr(docs))
        if counts is None:
            counts = Counter(chain.from_iterable(docs))
        return self.fit_counts(counts)

    def fit_counts(self, counts):
        """Keep terms of ``counts`` (a Counter in first-appearance order)."""
        self._check_params()
        kept = [t for t, c in counts.items() if c >= self.min_count]
        if self.max_vocabulary is not None and len(kept) > self.max_vocabulary:
            # sorted is stable: ties keep first-appearance order.
            chosen = set(sorted(kept, key=lambda t: -counts[t])[: self.max_vocabulary])
            kept = [t for t in kept if t in chosen]
        return self._keep(kept, counts.total() - sum(counts[t] for t in kept))

    def _check_params(self):
        _check_positive_int(self.min_count, "min_count")
        if self.max_vocabulary is not None:
            _check_positive_int(self.max_vocabulary, "max_vocabulary")

    def _kept_counts(self, counts):
        """Which of ``counts`` (an array in first-appearance order) :meth:`fit_counts`
        keeps: their sorted positions."""
        kept = np.flatnonzero(counts >= self.min_count)
        if self.max_vocabulary is not None and kept.size > self.max_vocabulary:
            # A stable sort, as fit_counts': ties keep first-appearance order.
            chosen = np.argsort(-counts[kept], kind="stable")[: self.max_vocabulary]
            kept = np.sort(kept[chosen])
        return kept

    def _keep(self, kept, n_oov):
        """Rows for the terms ``kept``, in their order; ``n_oov`` training
        occurrences of the others."""
        self.tokens = kept
        self.token_to_row = dict(zip(kept, range(len(kept)), strict=True))
        self.n_known = len(kept)
        self.oov_row = self.n_known
        self.n_rows = self.n_known + 1
        self.n_oov_tokens_seen_in_fit = int(n_oov)
        return self

    def encode(self, docs):
        """Rows of every token, document by document.

        Returns
        -------
        indices : ndarray of int64, one row per token (unknown → ``oov_row``)
        indptr : ndarray of int64 of length ``len(docs) + 1``
        """
        indptr = _indptr(docs)
        flat = _encode.flatten(docs, indptr)
        if flat is not None:
            rows = _encode.lookup_rows(flat, self)
            if rows is not None:
                return rows, indptr
        rows = map(
            self.token_to_row.get, chain.from_iterable(docs), repeat(self.oov_row)
        )
        return np.fromiter(rows, np.int64, int(indptr[-1])), indptr

    def __getstate__(self):
        # The compiled lookup tables are rebuilt on first use, not pickled.
        state = self.__dict__.copy()
        state.pop("_compiled_index", None)
        return state


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
        # Bools (which the reference rejects when hashing) are left to it.
        flat = _encode.flatten(docs, indptr)
        if flat is not None:
            return _encode.hash_rows(flat, self.n_buckets), indptr
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
    arrays = _encode.bag_arrays(indices, indptr, dtype, pooling == "mean", n_rows)
    if arrays is not None:
        bag = sp.csr_array(arrays, shape=(n_docs, n_rows))
        bag.has_canonical_format = True  # sorted, duplicates summed
        return bag
    data = np.ones(indices.shape[0], dtype=dtype)
    if pooling == "mean":
        # Empty documents repeat their length zero times, so nothing divides by 0.
        lengths = np.diff(indptr)
        data /= np.repeat(lengths, lengths).astype(dtype, copy=False)
    # Copies: sum_duplicates works in place and the caller keeps its arrays.
    bag = sp.csr_array((data, indices.copy(), indptr.copy()), shape=(n_docs, n_rows))
    bag.sum_duplicates()
    return bag


def normalize_bag_rows(P, norm="l1"):
    """Divide each row of a bag matrix by its L1 (or L2) norm.

    ``"l1"`` (the sum of absolute values) is the mean pooling of a user's bag
    matrix (``CountVectorizer`` counts, tf-idf weights, …), ``"l2"`` its ``sqrtn``
    pooling; all-zero rows stay zero.  The input is not modified.

    Parameters
    ----------
    P : sparse or dense 2-D array of numbers
    norm : {"l1", "l2"}, default="l1"

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
    if _encode.normalize_rows(P.data, P.indptr, norm == "l2"):
        return P
    lengths = np.diff(P.indptr)
    row_norm = np.bincount(
        np.repeat(np.arange(P.shape[0]), lengths),
        weights=np.abs(P.data) if norm == "l1" else np.square(P.data),
        minlength=P.shape[0],
    )
    if norm == "l2":
        row_norm = np.sqrt(row_norm)
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


# -- weighting -----------------------------------------------------------------
def smooth_idf(df, n_docs):
    """``TfidfVectorizer``'s smooth IDF: ``ln((1 + n) / (1 + df)) + 1``.

    As if one extra document held every term once, so no IDF is infinite (a row
    never seen in training gets the largest, ``ln(1 + n) + 1``).
    """
    return np.log((1.0 + n_docs) / (1.0 + np.asarray(df, dtype=np.float64))) + 1.0


def weigh_bag(P, *, weighting="count", idf=None, pooling="sum"):
    """Weigh the entries of a bag of counts, then normalise its rows for pooling.

    Parameters
    ----------
    P : csr_array of float, canonical (sorted, duplicates summed)
        Counts; it is not modified.
    weighting : {"count", "binary", "sublinear"}, default="count"
        An entry's weight: its count, 1, or ``1 + ln(count)``.
    idf : ndarray of shape (P.shape[1],), default=None
        Multiplies the weights column by column (TF-IDF).
    pooling : {"sum", "mean", "sqrtn"}, default="sum"
        ``"mean"`` divides each row by the sum of its absolute weights (L1),
        ``"sqrtn"`` by the square root of the sum of their squares (L2, TensorFlow's
        combiner of that name: ``√count`` for unweighted counts).

    Returns
    -------
    csr_array of the dtype of ``P``
    """
    P = P.copy()
    if weighting == "binary":
        P.data[P.data != 0] = 1.0
    elif weighting == "sublinear":
        positive = P.data > 0
        P.data[positive] = 1.0 + np.log(P.data[positive])
    elif weighting != "count":
        raise ValueError(f"Unknown weighting {weighting!r}.")
    if idf is not None:
        P.data *= np.asarray(idf, dtype=P.dtype)[P.indices]
    if pooling in ("mean", "sqrtn"):
        P = normalize_bag_rows(P, "l1" if pooling == "mean" else "l2")
    return P


# -- word and subword n-grams --------------------------------------------------
def char_ngrams(word, min_n, max_n):
    """fastText's subwords of ``word``: its character n-grams, ``min_n ≤ n ≤ max_n``,
    of ``"<" + word + ">"`` (the markers tell prefixes and suffixes apart).

    Examples
    --------
    >>> char_ngrams("where", 3, 3)
    ['<wh', 'whe', 'her', 'ere', 're>']
    """
    marked = f"<{word}>"
    return [
        marked[i : i + n]
        for n in range(min_n, max_n + 1)
        for i in range(len(marked) - n + 1)
        if n > 1 or marked[i] not in "<>"
    ]


@lru_cache(maxsize=2**16)
def _subword_hashes(word, min_n, max_n):
    # Cached: a corpus meets its frequent words in every batch.
    return tuple(
        murmurhash3_32(g, positive=True) for g in char_ngrams(word, min_n, max_n)
    )


# fastText's multiplier for hashing a word n-gram from its tokens' hashes.
_NGRAM_MULTIPLIER = np.uint64(116049371)


def _ngram_name(tokens):
    # CountVectorizer joins word n-grams with a space; int tokens have no text.
    if all(isinstance(t, str) for t in tokens):
        return " ".join(tokens)
    return tuple(tokens)


class _Terms:
    """The distinct terms (tokens, then word n-grams) of a batch, and where they are.

    Tokens are coded once (one dict lookup per token); n-grams are then built on
    the codes with numpy: the n-gram at position p is the pair ((n−1)-gram at p,
    token at p+n−1), numbered by ``np.unique``.  Terms are numbered by order,
    then first appearance.

    Attributes
    ----------
    n_docs, n_terms : int
    tokens : list, the distinct tokens, in first-appearance order
    doc, term, position : ndarray of int64, one entry per term occurrence
    """

    def __init__(self, docs, ngram_range):
        low, high = ngram_range
        self.n_docs = len(docs)
        indptr = _indptr(docs)
        lengths = np.diff(indptr)
        n_tokens = int(indptr[-1])
        # Bools (hashing rejects them) are left to the reference.
        self._flat = _encode.flatten(docs, indptr)
        if self._flat is not None:
            codes, self._first = _encode.first_codes(self._flat)
            self.tokens = _encode.first_tokens(self._flat, docs, self._first)
        else:
            self.tokens = list(dict.fromkeys(chain.from_iterable(docs)))
            code_of = dict(zip(self.tokens, range(len(self.tokens)), strict=True))
            codes = np.fromiter(
                map(code_of.__getitem__, chain.from_iterable(docs)), np.int64, n_tokens
            )
        doc_of = np.repeat(np.arange(self.n_docs, dtype=np.int64), lengths)
        position = np.arange(n_tokens, dtype=np.int64) - np.repeat(indptr[:-1], lengths)
        remaining = np.repeat(lengths, lengths) - position
        self._codes = codes
        self.orders = []  # (n, first term id, n distinct, a start of each)
        docs_of, terms, positions = [], [], []
        offset, previous = 0, codes
        for n in range(1, high + 1):
            if n == 1:
                starts, ids, starts_of = np.arange(n_tokens), codes, None
                n_distinct = len(self.tokens)
            else:
                starts = np.flatnonzero(remaining >= n)
                keys = (
                    previous[starts] * max(len(self.tokens), 1) + codes[starts + n - 1]
                )
                coded = _encode.int_codes(keys)
                if coded is None:
                    _, first, inverse = np.unique(
                        keys, return_index=True, return_inverse=True
                    )
                    order = np.argsort(first, kind="stable")
                    rank = np.empty_like(order)
                    rank[order] = np.arange(order.size)
                    coded = rank[inverse.reshape(-1)], first[order]
                ids, first = coded
                starts_of = starts[first]
                n_distinct = first.size
                previous = np.full(n_tokens, -1, dtype=np.int64)
                previous[starts] = ids
            if n >= low:
                self.orders.append((n, offset, n_distinct, starts_of))
                docs_of.append(doc_of[starts])
                terms.append(ids + offset)
                positions.append(position[starts])
                offset += n_distinct
        self.n_terms = offset
        self.doc = np.concatenate(docs_of) if docs_of else np.zeros(0, np.int64)
        self.term = np.concatenate(terms) if terms else np.zeros(0, np.int64)
        self.position = (
            np.concatenate(positions) if positions else np.zeros(0, np.int64)
        )

    def token_tuples(self, order):
        """The tokens of each n-gram of one ``order`` entry (n ≥ 2)."""
        n, _, _, starts_of = order
        tokens = self.tokens
        columns = [self._codes[starts_of + k].tolist() for k in range(n)]
        return [tuple(tokens[c] for c in codes) for codes in zip(*columns, strict=True)]

    def names(self, order):
        """The text of each term of one ``order`` entry (a token or joined n-gram)."""
        if order[0] == 1:
            return list(self.tokens)
        return list(map(_ngram_name, self.token_tuples(order)))

    def codes_at(self, order, k):
        """Token codes of the k-th token of each n-gram of ``order``."""
        return self._codes[order[3] + k]

    def all_names(self):
        """The text of every term, in term order."""
        return [name for order in self.orders for name in self.names(order)]

    def token_hashes(self):
        """MurmurHash3 of each distinct token (:func:`stable_hash`'s, before the
        modulo)."""
        if self._flat is not None:
            return _encode.hash_rows(self._flat, 2**32, at=self._first)
        return _murmur(self.tokens)

    def token_rows(self, vocabulary):
        """Row of each distinct token in ``vocabulary`` (unknown → its ``oov_row``)."""
        if self._flat is not None:
            rows = _encode.lookup_rows(self._flat, vocabulary, at=self._first)
            if rows is not None:
                return rows
        get, oov = vocabulary.token_to_row.get, vocabulary.oov_row
        return np.fromiter(
            (get(t, oov) for t in self.tokens), np.int64, len(self.tokens)
        )

    def ngram_hashes(self, order, token_hashes):
        """fastText's hash of each n-gram of ``order`` from its tokens' hashes."""
        n, _, _, starts_of = order
        token_hashes = token_hashes.astype(np.uint64)
        h = token_hashes[self._codes[starts_of]]
        for k in range(1, n):
            h = h * _NGRAM_MULTIPLIER + token_hashes[self._codes[starts_of + k]]
        return h


class DocumentEncoder:
    """Token sequences → the notes' ``Π``, with n-grams, subwords and weighting.

    A document's *terms* are its tokens and, with ``ngram_range``, its word
    n-grams.  Each term has a row of the table (from a vocabulary learned in
    :meth:`fit`, or hashed); a str token's vector is, with ``char_ngram_range``,
    the average of its row and its hashed subword rows (fastText's word vector).
    ``Π = C·M``: ``C`` weighs each term of each document (count, binary or
    sublinear, times IDF, then normalised for pooling), ``M`` spreads a term's
    weight over its rows.  Without n-grams, subwords or weighting, ``Π`` is
    :func:`bag_matrix`'s, bit for bit.

    Parameters
    ----------
    min_count, max_vocabulary : int
        As :class:`Vocabulary`; n-grams count as terms of the vocabulary.
    n_buckets : int, default=None
        Hash terms into this many rows instead (unigrams by :func:`stable_hash`,
        n-grams by fastText's combination of their tokens' hashes).
    ngram_range : (int, int), default=(1, 1)
    char_ngram_range : (int, int), default=None
    n_subword_buckets : int, default=2**18
    weighting : {"count", "binary", "sublinear"}, default="count"
    idf : bool, default=False
    pooling : {"sum", "mean", "sqrtn", "concat"}, default="mean"

    Attributes
    ----------
    words : Vocabulary or HashingEncoder
    idf_ : ndarray of shape (n_word_rows,) or None
    n_word_rows, n_rows : int
    """

    def __init__(
        self,
        *,
        min_count=1,
        max_vocabulary=None,
        n_buckets=None,
        ngram_range=(1, 1),
        char_ngram_range=None,
        n_subword_buckets=2**18,
        weighting="count",
        idf=False,
        pooling="mean",
    ):
        self.min_count = min_count
        self.max_vocabulary = max_vocabulary
        self.n_buckets = n_buckets
        self.ngram_range = tuple(ngram_range)
        self.char_ngram_range = (
            None if char_ngram_range is None else tuple(char_ngram_range)
        )
        self.n_subword_buckets = n_subword_buckets
        self.weighting = weighting
        self.idf = idf
        self.pooling = pooling

    @property
    def plain(self):
        """True when ``Π`` is :func:`bag_matrix`'s (or :func:`position_matrix`'s)."""
        return (
            self.ngram_range == (1, 1)
            and self.char_ngram_range is None
            and self.weighting == "count"
            and not self.idf
            and self.pooling != "sqrtn"
        )

    # The word encoder's vocabulary, for the estimator and attributions.
    @property
    def tokens(self):
        return getattr(self.words, "tokens", None)

    @property
    def token_to_row(self):
        return getattr(self.words, "token_to_row", None)

    @property
    def oov_row(self):
        return getattr(self.words, "oov_row", None)

    @property
    def n_word_rows(self):
        return self.words.n_rows

    @property
    def n_rows(self):
        extra = self.n_subword_buckets if self.char_ngram_range is not None else 0
        return self.n_word_rows + extra

    def fit(self, docs):
        """Learn the vocabulary (unless hashing) and the IDF of ``docs``."""
        if self.n_buckets is not None:
            self.words = HashingEncoder(self.n_buckets)
        elif self.ngram_range == (1, 1):
            self.words = Vocabulary(self.min_count, self.max_vocabulary).fit(docs)
        else:
            terms = _Terms(docs, self.ngram_range)
            if not self._fit_flat_terms(terms):
                self._fit_terms(terms)
        self.idf_ = None
        if self.idf:
            terms = _Terms(docs, self.ngram_range)
            rows = self.term_rows(terms)[terms.term]
            kept = rows >= 0
            present = np.unique(terms.doc[kept] * self.n_word_rows + rows[kept])
            df = np.bincount(present % self.n_word_rows, minlength=self.n_word_rows)
            self.idf_ = smooth_idf(df, len(docs))
        return self

    def _fit_terms(self, terms):
        """The vocabulary of tokens and n-grams (the reference: a Counter of the
        terms' texts)."""
        counts, ngrams = Counter(), {}
        term_counts = np.bincount(terms.term, minlength=terms.n_terms).tolist()
        for order in terms.orders:
            n, offset, n_distinct, _ = order
            names = terms.names(order) if n == 1 else terms.token_tuples(order)
            for name, count in zip(
                names, term_counts[offset : offset + n_distinct], strict=True
            ):
                if n > 1:
                    tokens, name = name, _ngram_name(name)
                    ngrams.setdefault(name, []).append(tokens)
                counts[name] += count
        self.words = Vocabulary(self.min_count, self.max_vocabulary)
        self.words.fit_counts(counts)
        self._index_ngrams(ngrams)

    def _fit_flat_terms(self, terms):
        """:meth:`_fit_terms`'s vocabulary and n-gram index from the terms'
        arrays, texts made for the kept terms only; False (nothing done) without
        the compiled encoder's flat tokens, or if a str token holds a space: then
        two terms can share a text, which the reference merges."""
        flat = terms._flat
        if flat is None or (flat.kind == "str" and (flat.chars == 32).any()):
            return False
        words = Vocabulary(self.min_count, self.max_vocabulary)
        words._check_params()
        counts = np.bincount(terms.term, minlength=terms.n_terms)
        kept = words._kept_counts(counts)
        names, ngram_codes, ngram_rows = [], [], []
        for n, offset, n_distinct, starts_of in terms.orders:
            at = np.searchsorted(kept, [offset, offset + n_distinct])
            ids = (kept[at[0] : at[1]] - offset).tolist()
            if n == 1:
                names += map(terms.tokens.__getitem__, ids)
                continue
            codes = terms._codes[starts_of[ids][:, None] + np.arange(n)]
            columns = [
                list(map(terms.tokens.__getitem__, column.tolist()))
                for column in codes.T
            ]
            tuples = zip(*columns, strict=True)
            names += tuples if flat.kind == "int" else map(" ".join, tuples)
            ngram_codes.append(codes)
            ngram_rows.append(np.arange(at[0], at[1], dtype=np.int64))
        words._keep(names, counts.sum() - counts[kept].sum())
        self.words = words
        self._ngram_index = _encode.ngram_index(ngram_codes, ngram_rows, terms.tokens)
        return True

    def _index_ngrams(self, ngrams):
        """Number the vocabulary's n-grams for :meth:`_ngram_rows`.

        Each prefix of a kept n-gram gets an id per length; the key of a prefix of
        length k is ``id(its first k−1 tokens)·T + id(its k-th token)``, ``T``
        tokens in all. Looking up a batch's n-grams is then a vectorised
        ``searchsorted`` per length, with one dict lookup per distinct token
        instead of building and looking up each n-gram's text. (So an n-gram
        unseen in training whose text equals a kept term's, possible only with
        tokens that contain spaces, is not found.)
        """
        kept = [
            (tokens, self.token_to_row[name])
            for name, all_tokens in ngrams.items()
            if name in self.token_to_row
            for tokens in all_tokens
        ]
        token_ids = {}
        for tokens, _ in kept:
            for token in tokens:
                token_ids.setdefault(token, len(token_ids))
        n_ids = max(len(token_ids), 1)
        levels = []  # per length k ≥ 2: {key: prefix id}, row of each prefix id
        for tokens, row in kept:
            prefix = token_ids[tokens[0]]
            for k in range(2, len(tokens) + 1):
                if len(levels) < k - 1:
                    levels.append(({}, []))
                ids, rows = levels[k - 2]
                key = prefix * n_ids + token_ids[tokens[k - 1]]
                prefix = ids.setdefault(key, len(ids))
                if prefix == len(rows):
                    rows.append(-1)
            levels[len(tokens) - 2][1][prefix] = row
        arrays = []
        for ids, rows in levels:
            keys = np.fromiter(ids.keys(), np.int64, len(ids))
            values = np.fromiter(ids.values(), np.int64, len(ids))
            order = np.argsort(keys)
            arrays.append((keys[order], values[order], np.asarray(rows, np.int64)))
        self._ngram_index = token_ids, n_ids, arrays

    def _ngram_rows(self, terms, order):
        """Vocabulary row of each n-gram of ``order`` (-1 if unknown)."""
        token_ids, n_ids, levels = self._ngram_index
        n = order[0]
        if len(levels) < n - 1:
            return np.full(order[2], -1, dtype=np.int64)
        get = token_ids.get
        ids = np.fromiter(
            (get(t, -1) for t in terms.tokens), np.int64, len(terms.tokens)
        )
        prefix = ids[terms.codes_at(order, 0)]
        for k in range(2, n + 1):
            keys, values, _ = levels[k - 2]
            token = ids[terms.codes_at(order, k - 1)]
            key = prefix * n_ids + token
            at = np.minimum(np.searchsorted(keys, key), keys.size - 1)
            found = (prefix >= 0) & (token >= 0) & (keys[at] == key)
            prefix = np.where(found, values[at], -1)
        rows = levels[n - 2][2]
        return np.where(prefix >= 0, rows[np.maximum(prefix, 0)], -1)

    def term_rows(self, terms):
        """Row of each term of ``terms``; -1 for an n-gram not in the vocabulary
        (dropped, as ``CountVectorizer`` drops unknown n-grams; an unknown token
        takes the out-of-vocabulary row)."""
        parts = []
        token_hashes = None
        for order in terms.orders:
            n = order[0]
            if self.n_buckets is not None:
                if token_hashes is None:
                    token_hashes = terms.token_hashes()
                if n == 1:
                    parts.append(token_hashes % self.n_buckets)
                else:
                    hashes = terms.ngram_hashes(order, token_hashes)
                    parts.append((hashes % np.uint64(self.n_buckets)).astype(np.int64))
            elif n > 1:
                parts.append(self._ngram_rows(terms, order))
            else:
                parts.append(terms.token_rows(self.words))
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def encode(self, docs, dtype=np.float64):
        """Return ``(terms, C, M)`` with ``Π = C·M`` (see the class docstring)."""
        terms = _Terms(docs, self.ngram_range)
        rows = self.term_rows(terms)
        kept = rows[terms.term] >= 0
        C = sp.csr_array(
            (
                np.ones(int(kept.sum()), dtype=dtype),
                (terms.doc[kept], terms.term[kept]),
            ),
            shape=(terms.n_docs, terms.n_terms),
        )
        C.sum_duplicates()
        idf = None if self.idf_ is None else self.idf_[np.maximum(rows, 0)]
        C = weigh_bag(C, weighting=self.weighting, idf=idf, pooling=self.pooling)
        return terms, C, self._composition(terms, rows, dtype)

    def _composition(self, terms, rows, dtype):
        """``M``: row t spreads term t over its table rows."""
        n_terms = terms.n_terms
        counts = (rows >= 0).astype(np.int64)
        subword_rows = []
        first_order = terms.orders[0] if terms.orders else None
        with_subwords = (
            self.char_ngram_range is not None
            and first_order is not None
            and first_order[0] == 1
        )
        if with_subwords:
            min_n, max_n = self.char_ngram_range
            subword_rows = [
                _subword_hashes(t, min_n, max_n) if isinstance(t, str) else ()
                for t in terms.tokens
            ]
            counts[: len(subword_rows)] += np.fromiter(
                map(len, subword_rows), np.int64, len(subword_rows)
            )
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.empty(int(indptr[-1]), dtype=np.int64)
        indices[indptr[:-1][rows >= 0]] = rows[rows >= 0]
        if with_subwords:
            hashes = np.fromiter(
                chain.from_iterable(subword_rows),
                np.int64,
                int(counts.sum() - (rows >= 0).sum()),
            )
            n_tokens = len(subword_rows)
            lengths = counts[:n_tokens] - 1
            # Each token's subword rows follow its own row.
            starts = np.repeat(indptr[:n_tokens] + 1, lengths)
            offsets = np.arange(hashes.size) - np.repeat(
                np.cumsum(lengths) - lengths, lengths
            )
            indices[starts + offsets] = (
                self.n_word_rows + hashes % self.n_subword_buckets
            )
        data = np.repeat(1.0 / np.maximum(counts, 1), counts).astype(dtype)
        M = sp.csr_array((data, indices, indptr), shape=(n_terms, self.n_rows))
        M.sum_duplicates()
        return M

    def pi(self, docs, dtype=np.float64, max_length=None):
        """``Π`` of ``docs``: one row per document (one per position for
        ``pooling="concat"``, ``max_length`` positions each)."""
        if self.plain:
            indices, indptr = self.words.encode(docs)
            if self.pooling == "concat":
                return position_matrix(
                    indices, indptr, self.n_rows, max_length, dtype=dtype
                )
            return bag_matrix(
                indices, indptr, self.n_rows, dtype=dtype, pooling=self.pooling
            )
        compiled = self._compiled_pi(docs, dtype)
        if compiled is not None:
            return compiled
        _, C, M = self.encode(docs, dtype)
        return sp.csr_array(C @ M)

    def _compiled_pi(self, docs, dtype):
        """:meth:`pi` of weighted words (no n-grams or subwords) by the compiled
        encoder, equal to ``C·M`` bit for bit; None where it does not apply."""
        if (
            self.ngram_range != (1, 1)
            or self.char_ngram_range is not None
            or self.weighting not in ("count", "binary", "sublinear")
            or self.pooling not in ("sum", "mean", "sqrtn")
        ):
            return None
        hashing = self.n_buckets is not None
        if hashing and not (
            isinstance(self.n_buckets, Integral | np.integer)
            and not isinstance(self.n_buckets, bool)
            and self.n_buckets >= 1
        ):
            return None
        # As _Terms: bools are left to the reference, which hashing rejects.
        flat = _encode.flatten(docs, _indptr(docs))
        # Without tokens scipy's product picks int32 indices: left to it.
        if flat is None or flat.n_tokens == 0:
            return None
        _, first = _encode.first_codes(flat)
        if hashing:  # as term_rows
            rows = _encode.hash_rows(flat, 2**32, at=first) % self.n_buckets
        else:
            rows = _encode.lookup_rows(flat, self.words, at=first)
            if rows is None:
                return None
        idf = None if self.idf_ is None else self.idf_[np.maximum(rows, 0)]
        arrays = _encode.weighted_bag(
            flat, rows, self.n_rows, dtype, self.weighting, self.pooling, idf
        )
        if arrays is None:
            return None
        return sp.csr_array(arrays, shape=(len(docs), self.n_rows))


# -- pretrained vectors ----------------------------------------------------------
def read_vec(path, tokens=None):
    """Read a word2vec/fastText ``.vec`` text file.

    The first line is ``"n d"``; each next line is a token and its ``d`` values,
    separated by spaces.

    Parameters
    ----------
    path : str or PathLike
    tokens : container, default=None
        Read only the vectors of these tokens (a file can hold millions).

    Returns
    -------
    tokens : list of str
    vectors : ndarray of shape (len(tokens), d)
    """
    with open(path, encoding="utf-8") as lines:
        header = lines.readline().split()
        if len(header) != 2 or not all(h.isdigit() for h in header):
            raise ValueError(
                f"{os.fspath(path)!r} is not a .vec file: its first line must be "
                f"'<number of vectors> <dimension>'; got {' '.join(header)!r}."
            )
        d = int(header[1])
        names, rows = [], []
        for number, line in enumerate(lines, start=2):
            token, _, values = line.rstrip("\r\n").partition(" ")
            if not token or (tokens is not None and token not in tokens):
                continue
            row = values.split()
            if len(row) != d:
                raise ValueError(
                    f"Line {number} of {os.fspath(path)!r} has {len(row)} values; "
                    f"the header says {d}."
                )
            names.append(token)
            rows.append(row)
    return names, np.array(rows, dtype=np.float64).reshape(len(rows), d)


def load_embeddings(source, dim, tokens=None):
    """Pretrained vectors as ``(tokens, matrix)`` from any accepted source.

    Parameters
    ----------
    source : mapping, (tokens, matrix) pair, or str/PathLike of a ``.vec`` file
    dim : int
        The expected dimension.
    tokens : container, default=None
        Tokens of interest (used to read only part of a file).

    Returns
    -------
    tokens : list
    vectors : ndarray of float64 of shape (len(tokens), dim)
    """
    if isinstance(source, str | os.PathLike):
        names, vectors = read_vec(source, tokens)
    elif isinstance(source, Mapping):
        names = list(source)
        vectors = np.array([np.ravel(source[t]) for t in names], dtype=np.float64)
        vectors = vectors.reshape(len(names), -1) if names else np.zeros((0, dim))
    elif isinstance(source, tuple) and len(source) == 2:
        names = list(source[0])
        vectors = np.asarray(source[1], dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] != len(names):
            raise ValueError(
                "initial_embeddings as (tokens, matrix) needs a 2-D matrix with one "
                f"row per token; got {len(names)} tokens and a matrix of shape "
                f"{vectors.shape}."
            )
    else:
        raise TypeError(
            "initial_embeddings must be a {token: vector} mapping, a (tokens, "
            f"matrix) pair or the path of a .vec file; got {type(source).__name__}."
        )
    if names and vectors.shape[1] != dim:
        raise ValueError(
            f"The pretrained vectors have dimension {vectors.shape[1]}, but "
            f"embedding_dim={dim}; set embedding_dim={vectors.shape[1]}."
        )
    if not np.isfinite(vectors).all():
        raise ValueError("The pretrained vectors contain NaN or infinity.")
    return names, vectors
