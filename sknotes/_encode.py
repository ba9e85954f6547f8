"""Compiled encoding of token lists: tokens → table rows → ``Π``, without a
Python call per token.

:mod:`sknotes._text` defines what the encoding is (its Python code is the
reference); this module computes the same arrays faster when numba (the ``fast``
extra) is installed, and says "not here" (``None``) otherwise or for any input it
does not cover, so that the caller runs the reference.  What it covers:

- a batch whose tokens are all ints (not bools) that fit in int64, or all str
  (without lone surrogates): C-level passes flatten it (a pass over the ints'
  types and one converting them, or the code points of the strs joined by
  NULs, document by document);
- a vocabulary lookup: an open-addressing hash table built once from
  ``token_to_row`` (ints by value; a str of at most 7 code points in 1..255 by
  those code points packed into the key, a longer one by a hash of its code
  points, checked for equality), unknown tokens to ``oov_row``; int keys that
  lie close together (ids) by their offset in a table;
- stable hashing: MurmurHash3 (x86, 32 bits, seed 0) of each token's UTF-8 bytes,
  ``"\\x00" + str(int)`` for an int, as :func:`sklearn.utils.murmurhash3_32`;
- the bag matrix of sum or mean pooling, sorted and with duplicates summed in the
  reference's order, so float32 and float64 values are the same bit for bit (a
  row's duplicates found through a mark per column, only its distinct columns
  sorted);
- a batch's word n-grams numbered by first appearance (``np.unique``'s ids), and
  the n-gram index of a vocabulary built from arrays;
- the row normalisation of a bag matrix (its sums in the reference's order);
- the char_wb block of raw strings: scikit-learn's ``HashingVectorizer(
  analyzer="char_wb")`` counts (its n-grams of space-padded words, MurmurHash3
  of their UTF-8 bytes as a signed int32, its absolute value as the bucket).
"""

import os
import re
from array import array
from collections import Counter
from collections.abc import Sequence
from itertools import chain, compress, islice
from numbers import Integral
from operator import countOf

import numpy as np

__all__ = [
    "Flat",
    "FlatDocs",
    "FlatLists",
    "bag_arrays",
    "char_wb_arrays",
    "first_codes",
    "first_tokens",
    "flat_of_ints",
    "flat_of_strs",
    "flat_of_tokens",
    "flatten",
    "hash_rows",
    "int_codes",
    "lookup_rows",
    "ngram_index",
    "normalize_rows",
    "space_table",
    "token_counts",
    "tokenize",
    "weighted_bag",
    "word_table",
]

# None: not decided yet; False: unavailable; otherwise the compiled kernels.
_KERNELS = None


class Flat:
    """A batch of token lists as flat arrays.

    Attributes
    ----------
    kind : {"int", "str"}
    indptr : ndarray of int64, token offsets of each document
    values : ndarray of int64, the int tokens (kind "int")
    chars, starts : ndarray of uint32 / int64 (kind "str")
        The code points of all tokens, and where each token's start (one more
        entry than tokens).
    tokens : list (kind "str")
        The tokens themselves.
    joined : ndarray of uint8 or uint32 (kind "str"), or None
        The code points of the tokens joined by NULs, none in a token, when
        ``chars`` and ``starts`` are to be made from them on first use (a
        vocabulary lookup reads them as they are).
    """

    def __init__(self, kind, indptr, values=None, chars=None, starts=None,
                 tokens=None, joined=None):  # fmt: skip
        self.kind, self.indptr = kind, indptr
        self.values, self._chars, self._starts = values, chars, starts
        self.tokens, self.joined = tokens, joined
        self.codes = None  # first_codes' result, kept: a batch is coded once
        self.first_spans = None  # where its first tokens lie in joined

    def _split(self):
        if self._chars is None and self.joined is not None:
            self._chars, self._starts = _kernels().split(self.joined, self.n_tokens)

    @property
    def chars(self):
        self._split()
        return self._chars

    @property
    def starts(self):
        self._split()
        return self._starts

    @property
    def n_tokens(self):
        return int(self.indptr[-1])

    def ints(self, at=None):
        return self.values if at is None else self.values[at]

    def char_spans(self, at=None):
        """``(chars, starts, stops)``: code points holding each token (or each
        token at ``at``) at ``chars[starts[i]:stops[i]]``. The first
        occurrences that :func:`first_codes` found in the NUL-joined code
        points are read there (``at`` its positions), without a split."""
        if at is not None and self.first_spans is not None and at is self.codes[1]:
            return (self.joined, *self.first_spans)
        return (self.chars, *self.spans(at))

    def spans(self, at=None):
        """Where each token (or each token at ``at``) starts and stops in chars."""
        if at is None:
            return self.starts[:-1], self.starts[1:]
        return self.starts[at], self.starts[np.asarray(at) + 1]


def _int_type(kind):
    return issubclass(kind, Integral | np.integer) and not issubclass(
        kind, bool | np.bool_
    )


def flatten(docs, indptr):
    """``docs`` as a :class:`Flat`, or None if the compiled path does not cover it."""
    if not _kernels():
        return None
    if isinstance(docs, FlatDocs | FlatLists):
        return docs.flat
    flat = flat_of_ints(docs, indptr)
    if flat is not None:
        return flat
    # A list first: array() reads a list faster than an iterator.
    return flat_of_tokens(list(chain.from_iterable(docs)), docs, indptr)


def flat_of_ints(docs, indptr):
    """:func:`flatten` of ``docs`` if all its tokens are ints (the type itself,
    no subclass) that fit in int64, else None.

    Two C-level passes over the documents, no list of all the tokens: one
    counts the tokens whose type is int, one converts them.
    """
    tokens = chain.from_iterable(docs)
    n = int(indptr[-1])
    # The first token decides whether the pass is worth making.
    if not _kernels() or not n or type(next(tokens)) is not int:
        return None
    if countOf(map(type, chain.from_iterable(docs)), int) != n:
        return None
    try:
        values = np.fromiter(chain.from_iterable(docs), np.int64, n)
    except OverflowError:  # beyond int64
        return None
    return Flat("int", indptr, values=values)


def flat_of_tokens(tokens, docs, indptr):
    """:func:`flatten` of ``docs`` given ``tokens``, their tokens in one list:
    ints (not bools) that fit in int64, or strs."""
    if not _kernels():
        return None
    n = int(indptr[-1])
    try:
        # array("q") takes ints and nothing else but objects with __index__
        # (bools among them), which the type pass then finds.
        values = np.frombuffer(array("q", tokens), np.int64)
    except (TypeError, OverflowError):  # strs, floats, or ints beyond int64
        pass
    else:
        return Flat("int", indptr, values=values) if _ints_only(tokens) else None
    try:
        # join takes strs (and their subclasses) and nothing else.
        joined = "\x00".join(tokens)
    except TypeError:
        return None
    try:  # one byte per code point when they all fit
        chars = np.frombuffer(joined.encode("latin-1"), np.uint8)
    except UnicodeEncodeError:
        try:  # one uint32 per code point, as len() counts them
            chars = np.frombuffer(joined.encode("utf-32-le"), np.uint32)
        except UnicodeEncodeError:  # lone surrogates
            return None
    if n and _kernels().count_nuls(chars) == n - 1:
        # No token holds a NUL: the NULs tell where the tokens start, rather
        # than a len() call per token; split on first use.
        return Flat("str", indptr, tokens=tokens, joined=chars)
    chars = np.frombuffer("".join(tokens).encode("utf-32-le"), np.uint32)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, tokens), np.int64, n), out=starts[1:])
    return Flat("str", indptr, chars=chars, starts=starts, tokens=tokens)


def flat_of_strs(docs, indptr):
    """:func:`flatten` of ``docs`` if all its tokens are strs, else None.

    Each document is joined first, so that no list of all the tokens is made:
    a corpus's str tokens lie scattered in memory, and each pass over them
    (listing, joining, releasing the list) costs a cache miss per token. The
    documents' strings are joined in chunks of ``_JOIN_STEP``: each chunk's
    are released before the next is made, so that their memory, still in
    cache, is reused rather than taken fresh from the system.
    """
    n = int(indptr[-1])
    if not _kernels() or not n:
        return None
    lengths = np.diff(indptr)
    documents = iter(docs)
    if not lengths.all():
        # Empty documents left out: their "" would read as an empty token.
        documents = compress(documents, (lengths > 0).tobytes())
    join = "\x00".join
    n_chunks = -(-int(np.count_nonzero(lengths)) // _JOIN_STEP)
    try:
        joined = join(
            [join(map(join, islice(documents, _JOIN_STEP))) for _ in range(n_chunks)]
        )
    except TypeError:  # a token is no str
        return None
    try:
        chars = np.frombuffer(joined.encode("latin-1"), np.uint8)
    except UnicodeEncodeError:
        try:
            chars = np.frombuffer(joined.encode("utf-32-le"), np.uint32)
        except UnicodeEncodeError:
            return None
    if _kernels().count_nuls(chars) != n - 1:
        return None  # a token holds a NUL
    return Flat("str", indptr, joined=chars)


_JOIN_STEP = 1024


class FlatLists(list):
    """A list of token lists that holds their :class:`Flat` too, made once (when
    the input form was detected) for every encoder that reads the batch.

    Parameters
    ----------
    docs : iterable of lists
    flat : Flat
    """

    def __init__(self, docs, flat):
        super().__init__(docs)
        self.flat = flat


def _ints_only(tokens):
    """Whether every token is an int token of the reference (an Integral or
    numpy integer, not a bool)."""
    # Exact ints are told apart in one C loop; any other type, by its class.
    if countOf(map(type, tokens), int) == len(tokens):
        return True
    return all(map(_int_type, set(map(type, tokens))))


# -- tables of a vocabulary ------------------------------------------------------
class _Index:
    """Hash tables of a ``token_to_row`` mapping, for :func:`lookup_rows`."""

    def __init__(self, token_to_row):
        ints, int_rows, strs, str_rows = [], [], [], []
        for token, row in token_to_row.items():
            kind = type(token)
            if issubclass(kind, str):
                strs.append(token)
                str_rows.append(row)
            elif issubclass(kind, Integral | np.integer) and (
                -(2**63) <= token < 2**63
            ):
                # True is 1 in a dict: it is found by an int 1 as well.
                ints.append(int(token))
                int_rows.append(row)
            elif not isinstance(token, tuple):
                # A float, say, can equal an int token: only a dict finds it.
                # (A tuple, an n-gram of int tokens, never equals a token.)
                raise _Unsupported
        k = _kernels()
        keys = np.asarray(ints, dtype=np.int64)
        int_rows = np.asarray(int_rows, np.int64)
        self.int_table = k.build_int_table(keys, int_rows)
        # Ids (a corpus's tokens numbered from 0, say) are found by their
        # offset from the least, without hashing.
        self.int_direct = None
        low, high = (int(keys.min()), int(keys.max())) if keys.size else (0, 0)
        if keys.size and _is_dense(low, high, 4 * keys.size):
            table = np.full(high - low + 1, -1, _index_dtype(int_rows))
            table[keys - low] = int_rows
            # An int64 low: a loop running as Python (mutation runs) wraps
            # np.uint64(low) as numba does, where a negative Python int raises.
            self.int_direct = table, np.int64(low)
        starts = np.zeros(len(strs) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, strs), np.int64, len(strs)), out=starts[1:])
        chars = np.frombuffer("".join(strs).encode("utf-32-le"), np.uint32)
        self.str_chars, self.str_starts = chars, starts
        str_rows = np.asarray(str_rows, np.int64)
        if len(strs) >= 2**31 or (str_rows.size and str_rows.max() >= 2**31):
            raise _Unsupported  # a slot packs a row and an entry in 32 bits each
        self.str_table = k.build_str_table(chars, starts, str_rows)


class _Unsupported(Exception):
    pass


def _is_dense(low, high, n):
    """Whether a table of every int from ``low`` to ``high`` is small enough
    next to ``n`` entries (the span of two int64s taken as Python ints)."""
    return int(high) - int(low) < n + 2**16


def _index_dtype(values):
    """int32 if it holds the non-negative ``values`` (and -1), else int64."""
    if values.size and values.max() >= 2**31:
        return np.int64
    return np.int32


def _index_of(vocabulary):
    # Cached on the vocabulary (and dropped from its pickles): built on first use.
    index = vocabulary.__dict__.get("_compiled_index")
    if index is None or index[0] is not vocabulary.token_to_row:
        try:
            built = _Index(vocabulary.token_to_row)
        except (_Unsupported, UnicodeEncodeError):
            built = None
        index = (vocabulary.token_to_row, built)
        vocabulary._compiled_index = index
    return index[1]


def lookup_rows(flat, vocabulary, at=None):
    """Row of each token of ``flat`` (or of the tokens at positions ``at``) in
    ``vocabulary``, a fitted :class:`~sknotes._text.Vocabulary`; None if the
    compiled path does not cover its keys."""
    index = _index_of(vocabulary)
    if index is None:
        return None
    if at is None and flat.codes is not None:
        # Coded already (the vocabulary was fitted on this batch): a lookup per
        # distinct token.
        codes, first = flat.codes
        return lookup_rows(flat, vocabulary, at=first)[codes]
    k = _kernels()
    oov = vocabulary.oov_row
    if flat.kind == "int":
        values = flat.ints(at)
        out = np.empty(values.shape[0], dtype=np.int64)
        if index.int_direct is not None:
            k.lookup_int_direct(values, *index.int_direct, oov, out)
        else:
            k.lookup_int(values, *index.int_table, oov, out)
        return out
    if at is None and flat._chars is None and flat.joined is not None:
        # Looked up as they are joined, in the same pass that finds the tokens.
        chars, by_nuls = flat.joined, True
        starts = stops = np.zeros(0, dtype=np.int64)
        n = flat.n_tokens
    else:
        (chars, starts, stops), by_nuls = flat.char_spans(at), False
        n = starts.shape[0]
    out = np.empty(n, dtype=np.int64)
    k.lookup_str(
        chars, starts, stops, by_nuls, index.str_chars, index.str_starts,
        index.str_table, oov, out,
    )  # fmt: skip
    return out


def hash_rows(flat, n_buckets, at=None):
    """``stable_hash`` of each token of ``flat`` (or of those at ``at``);
    ``n_buckets=2**32`` gives MurmurHash3 itself."""
    k = _kernels()
    if flat.kind == "int":
        return k.hash_ints(flat.ints(at), n_buckets)
    return k.hash_strs(*flat.char_spans(at), n_buckets)


def first_tokens(flat, docs, first):
    """The tokens (the objects themselves) at flat positions ``first``."""
    if flat.tokens is not None:
        return list(map(flat.tokens.__getitem__, first.tolist()))
    if isinstance(docs, FlatDocs):  # the compiled tokenizer's: strs from chars
        return _strs(flat, first)
    doc = np.searchsorted(flat.indptr, first, side="right") - 1
    position = first - flat.indptr[doc]
    return [docs[d][p] for d, p in zip(doc.tolist(), position.tolist(), strict=True)]


def first_codes(flat):
    """Code of each token (distinct tokens numbered by first appearance, as
    ``dict.fromkeys`` orders them) and the position of each code's first token."""
    if flat.codes is None:
        if flat.kind == "int":
            codes = int_codes(flat.values)
        elif flat._chars is None and flat.joined is not None:
            codes = np.empty(flat.n_tokens, dtype=np.int64)
            first, *spans = _kernels().first_codes_joined(flat.joined, codes)
            flat.first_spans = tuple(spans)
            codes = codes, first
        else:
            k = _kernels()
            codes = np.empty(flat.n_tokens, dtype=np.int64)
            first = k.first_codes(
                np.zeros(0, np.int64), flat.chars, flat.starts, True, codes
            )
            codes = codes, first
        flat.codes = codes
    return flat.codes


def int_codes(keys):
    """:func:`first_codes` of an int64 array ``keys``: each key's code (distinct
    keys numbered by first appearance) and where each code first appears; None
    without the compiled kernels."""
    k = _kernels()
    if not k:
        return None
    codes = np.empty(keys.shape[0], dtype=np.int64)
    if keys.size:
        low, high = int(keys.min()), int(keys.max())
        if _is_dense(low, high, 2 * keys.size):
            return codes, k.dense_codes(keys, low, high - low + 1, codes)
    empty = np.zeros(0, np.uint32), np.zeros(1, np.int64)
    return codes, k.first_codes(keys, *empty, False, codes)


def token_counts(docs, indptr):
    """``Counter(chain.from_iterable(docs))`` (same keys, counts and order), or
    None if the compiled path does not cover ``docs``."""
    flat = flatten(docs, indptr)
    if flat is None:
        return None
    codes, first = first_codes(flat)
    counts = np.bincount(codes, minlength=first.shape[0]).tolist()
    # Built from a dict: Counter keeps its order, the order of first appearance.
    return Counter(dict(zip(first_tokens(flat, docs, first), counts, strict=True)))


def ngram_index(codes, rows, tokens):
    """:meth:`~sknotes._text.DocumentEncoder._index_ngrams`'s index, the same
    dict and arrays, from arrays: ``codes[i]`` holds the token codes of the kept
    n-grams of one length (one row each, lengths increasing, each in vocabulary
    order), ``rows[i]`` their rows, ``tokens`` the token of each code.

    Ids follow first appearance, as the reference's ``setdefault`` numbers
    them: tokens in the n-grams' tokens read in order, and, per length k, the
    prefixes of length k in the n-grams at least k tokens long.
    """
    codes = [c for c in codes if c.shape[0]]
    rows = [r for r in rows if r.shape[0]]
    if not codes:
        return {}, 1, []
    token_codes = np.concatenate([c.ravel() for c in codes])
    distinct, first = np.unique(token_codes, return_index=True)
    in_order = distinct[np.argsort(first, kind="stable")]
    in_order_tokens = map(tokens.__getitem__, in_order.tolist())
    token_ids = dict(zip(in_order_tokens, range(in_order.size), strict=True))
    n_ids = max(in_order.size, 1)
    id_of = np.full(len(tokens), -1, dtype=np.int64)
    id_of[in_order] = np.arange(in_order.size)
    prefixes = [id_of[c[:, 0]] for c in codes]
    levels = []
    for k in range(2, codes[-1].shape[1] + 1):
        longer = [i for i, c in enumerate(codes) if c.shape[1] >= k]
        keys = np.concatenate(
            [prefixes[i] * n_ids + id_of[codes[i][:, k - 1]] for i in longer]
        )
        distinct, first, inverse = np.unique(
            keys, return_index=True, return_inverse=True
        )
        ids = np.empty(distinct.size, dtype=np.int64)
        ids[np.argsort(first, kind="stable")] = np.arange(distinct.size)
        of_key = ids[inverse.reshape(-1)]
        level_rows = np.full(distinct.size, -1, dtype=np.int64)
        bounds = np.cumsum([0] + [codes[i].shape[0] for i in longer])
        for i, a, b in zip(longer, bounds[:-1], bounds[1:], strict=True):
            prefixes[i] = of_key[a:b]
            if codes[i].shape[1] == k:
                level_rows[prefixes[i]] = rows[i]
        levels.append((distinct, ids, level_rows))
    return token_ids, n_ids, levels


def normalize_rows(data, indptr, l2):
    """Divide each row of a canonical CSR matrix (``data`` in place) by its L1
    or L2 norm, as :func:`~sknotes._text.normalize_bag_rows`'s numpy code does
    (squares or absolute values in the dtype, summed in float64 in order, a zero
    norm taken as 1, the quotient in float64 rounded to the dtype); False (and
    nothing done) without the compiled kernels or for another dtype."""
    k = _kernels()
    if not k or data.dtype not in (np.float32, np.float64):
        return False
    k.normalize_rows(data, indptr, l2)
    return True


def bag_arrays(indices, indptr, dtype, mean, n_rows=None):
    """``(data, indices, indptr)`` of :func:`~sknotes._text.bag_matrix`'s canonical
    result, or None without the compiled kernels (or for another dtype).
    ``n_rows``, the columns, lets duplicates be found by marks."""
    k = _kernels()
    dtype = np.dtype(dtype)
    if not k or dtype not in (np.float32, np.float64):
        return None
    indptr = np.asarray(indptr, dtype=np.int64)
    n_docs = indptr.shape[0] - 1
    # The reference's entries: 1 / length, divided in the dtype.
    values = np.ones(n_docs, dtype=dtype)
    if mean:
        values /= np.maximum(np.diff(indptr), 1).astype(dtype)
    indices = np.asarray(indices, dtype=np.int64)
    # The marks of the distinct loop cost a pass over n_rows: worth it when
    # the batch has about as many tokens or more. (A mark holds a document
    # number in 32 bits.)
    near = n_rows is not None and n_rows <= 2 * indices.shape[0] + 2**16
    if near and n_docs < 2**31:
        arrays = _bag_outputs(k.bag_distinct, indices, indptr, dtype, values, n_rows)
        if arrays is not None:
            return arrays
    return _bag_outputs(k.bag, indices, indptr, dtype, values)


def _bag_outputs(loop, indices, indptr, dtype, *args):
    """``(data, indices, indptr)`` that a bag loop writes, ``loop(indices,
    indptr, *args, data, indices_out, indptr_out)`` returning how many entries.

    The outputs are numpy's arrays: a large array allocated in compiled code
    faults its pages in one by one at every call, numpy's memory is reused.
    """
    n = indices.shape[0]
    data = np.empty(n, dtype=dtype)
    ordered = np.empty(n, dtype=np.int64)
    out_indptr = np.empty(indptr.shape[0], dtype=np.int64)
    k = loop(indices, indptr, *args, data, ordered, out_indptr)
    if k < 0:  # the loop does not cover these indices
        return None
    return data[:k], ordered[:k], out_indptr


def weighted_bag(flat, term_rows, n_rows, dtype, weighting, pooling, term_scale=None):
    """``(data, indices, indptr)`` of ``DocumentEncoder.pi``'s ``C·M`` for words
    alone (no n-grams or subwords), from the batch's first codes and the row of
    each distinct token; None without the compiled kernels (or for another dtype).

    The reference's arithmetic, in its order: counts in ``dtype``, weighted by
    ``weigh_bag`` (numpy makes the weight of each count, so the logarithm is
    numpy's), times ``term_scale`` (IDF), rows normalised in float64 as
    ``normalize_bag_rows`` does, then summed into table rows as scipy's
    ``csr_matmat`` does (its order of entries: last touched first; zeros
    dropped).
    """
    k = _kernels()
    dtype = np.dtype(dtype)
    if not k or dtype not in (np.float32, np.float64):
        return None
    codes, _ = first_codes(flat)
    indptr = np.asarray(flat.indptr, dtype=np.int64)
    longest = int(np.diff(indptr).max(initial=0))
    if indptr.shape[0] > 2**31:  # its marks hold a document number in 32 bits
        return None
    weights = np.arange(longest + 1, dtype=dtype)  # the weight of each count
    if weighting == "binary":
        weights[1:] = 1.0
    elif weighting == "sublinear":
        weights[1:] = 1.0 + np.log(weights[1:])
    scale = np.zeros(0, dtype) if term_scale is None else term_scale.astype(dtype)
    norm = {"sum": 0, "mean": 1, "sqrtn": 2}[pooling]
    rows = np.asarray(term_rows, dtype=np.int64)
    # Terms that share their row (the out-of-vocabulary row, a hash bucket)
    # are summed there; the others are not looked for.
    kept = rows[rows >= 0]
    shared = np.zeros(rows.shape[0], dtype=np.bool_)
    shared[rows >= 0] = np.bincount(kept, minlength=n_rows)[kept] > 1
    return _bag_outputs(k.weighted_bag, codes, indptr, dtype, rows, shared,
                        n_rows, weights, scale, norm)  # fmt: skip


# -- the default tokenizer ---------------------------------------------------------
class FlatDocs(Sequence):
    """Token lists held as a :class:`Flat` of str tokens (the compiled tokenizer's
    output): a document's list of str is made only when it is indexed.

    Parameters
    ----------
    flat : Flat
    """

    def __init__(self, flat):
        self.flat = flat

    def __len__(self):
        return self.flat.indptr.shape[0] - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("document index out of range")
        i %= n
        start, stop = self.flat.indptr[i : i + 2].tolist()
        return _strs(self.flat, np.arange(start, stop))

    def __iter__(self):
        return map(self.__getitem__, range(len(self)))


def _strs(flat, at):
    """The str tokens of ``flat`` at positions ``at``, decoded from their chars."""
    starts, stops = flat.spans(at)
    offsets = np.zeros(starts.shape[0] + 1, dtype=np.int64)
    np.cumsum(stops - starts, out=offsets[1:])
    lengths = np.diff(offsets)
    where = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    text = flat.chars[where].astype(np.uint32).tobytes().decode("utf-32-le")
    bounds = offsets.tolist()
    return list(map(text.__getitem__, map(slice, bounds[:-1], bounds[1:])))


_TABLES = {}


def _code_point_table(pattern):
    """Whether each code point (0 to 0x10FFFF) is in the runs ``pattern`` finds,
    for Python's ``re`` with a str pattern: built once, from ``re`` itself."""
    if pattern not in _TABLES:
        every = np.arange(0x110000, dtype=np.uint32).tobytes()
        every = every.decode("utf-32-le", "surrogatepass")
        table = np.zeros(0x110000, dtype=np.bool_)
        for run in re.finditer(pattern, every):
            table[run.start() : run.end()] = True
        _TABLES[pattern] = table
    return _TABLES[pattern]


def word_table():
    """Whether each code point (0 to 0x10FFFF) is a word character, ``\\w``, for
    Python's ``re`` with a str pattern."""
    return _code_point_table(r"(?u)\w+")


def space_table():
    """Whether each code point is whitespace, as ``str.split()`` and ``re``'s
    ``\\s`` read it (both ask ``Py_UNICODE_ISSPACE``)."""
    return _code_point_table(r"\s+")


def tokenize(docs, lowercase):
    """The tokens of ``TOKEN_PATTERN`` (``(?u)\\b\\w\\w+\\b``: the maximal runs of
    two or more word characters) of ``docs``, a list of str, lowercased first if
    ``lowercase``, as ``re.findall`` finds them; a :class:`FlatDocs`, or None
    without the compiled kernels."""
    k = _kernels()
    if not k:
        return None
    # Lone surrogates pass: they are no word characters, as in re.
    chars, bounds, lower_ascii = _code_points(docs, lowercase, "surrogatepass")
    token_chars, starts, indptr = k.tokenize(chars, bounds, word_table(), lower_ascii)
    return FlatDocs(Flat("str", indptr, chars=token_chars, starts=starts))


def _code_points(docs, lowercase, errors):
    """The code points of ``docs`` (a list of str) joined, where each document
    starts (one more entry than documents), and whether the kernel must still
    lowercase A-Z; ``errors`` as ``str.encode``'s for lone surrogates."""
    joined = "".join(docs)
    lower_ascii = False
    if joined.isascii():
        # str.lower changes A-Z and nothing else in ASCII: the kernel does it.
        lower_ascii = lowercase
    elif lowercase:
        # Document by document, as the reference: lowering can change a length
        # ("İ" becomes two code points) and a final sigma depends on the letters
        # around it, which must not be the next document's.
        docs = list(map(str.lower, docs))
        joined = "".join(docs)
    bounds = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, docs), np.int64, len(docs)), out=bounds[1:])
    try:  # one byte per code point when they all fit
        chars = np.frombuffer(joined.encode("latin-1"), np.uint8)
    except UnicodeEncodeError:
        chars = np.frombuffer(joined.encode("utf-32-le", errors), np.uint32)
    return chars, bounds, lower_ascii


def char_wb_arrays(docs, ngram_range, n_features, lowercase, dtype):
    """``(data, indices, indptr)`` of ``HashingVectorizer(analyzer="char_wb",
    ngram_range=ngram_range, n_features=n_features, lowercase=lowercase,
    alternate_sign=False, norm=None, dtype=dtype).transform(docs)``, with its
    index dtypes, or None without the compiled kernels or for input they do not
    cover (not all str, no documents, lone surrogates, another dtype).

    The same n-grams: each whitespace-separated word padded with a space on
    both sides, its character n-grams for each n (a padded word no longer than
    n once, and no longer n after it); the same buckets: MurmurHash3 of the
    n-gram's UTF-8 bytes as a signed int32, its absolute value modulo
    ``n_features``; counts summed in the dtype.
    """
    k = _kernels()
    dtype = np.dtype(dtype)
    if not k or dtype not in (np.float32, np.float64):
        return None
    docs = docs if isinstance(docs, list) else list(docs)
    if not docs or not all(isinstance(doc, str) for doc in docs):
        return None
    try:
        # The reference fails on lone surrogates (it hashes UTF-8 bytes).
        chars, bounds, lower_ascii = _code_points(docs, lowercase, "strict")
    except UnicodeEncodeError:
        return None
    min_n, max_n = ngram_range
    args = chars, bounds, space_table(), lower_ascii, min_n, max_n, n_features
    ones = np.ones(len(docs), dtype=dtype)
    # A dense array of the buckets beats sorting all n-grams, while it is small.
    if n_features <= 2**20:
        data, indices, indptr, n_raw = k.char_wb(*args, ones)
    else:
        raw, indptr = k.char_wb_raw(*args)
        data, indices, indptr = _bag_outputs(k.bag, raw, indptr, dtype, ones)
        n_raw = raw.shape[0]
    # scikit-learn's index dtypes: int32, or int64 for more n-grams than int32
    # counts (before their duplicates are summed).
    indices = indices.astype(np.int32, copy=False)
    if n_raw > np.iinfo(np.int32).max:
        indices = indices.astype(np.int64)
    else:
        indptr = indptr.astype(np.int32)
    return data, indices, indptr


# -- the compiled loops ----------------------------------------------------------
_C1, _C2 = 0xCC9E2D51, 0x1B873593
_M32 = 0xFFFFFFFF


def _murmur3_32(buffer, length):
    """MurmurHash3_x86_32 of ``buffer[:length]`` (uint8), seed 0, as uint32."""
    h = np.uint64(0)
    n_blocks = length // 4
    for b in range(n_blocks):
        k1 = (
            np.uint64(buffer[4 * b])
            | (np.uint64(buffer[4 * b + 1]) << np.uint64(8))
            | (np.uint64(buffer[4 * b + 2]) << np.uint64(16))
            | (np.uint64(buffer[4 * b + 3]) << np.uint64(24))
        )
        k1 = (k1 * np.uint64(_C1)) & np.uint64(_M32)
        k1 = ((k1 << np.uint64(15)) | (k1 >> np.uint64(17))) & np.uint64(_M32)
        k1 = (k1 * np.uint64(_C2)) & np.uint64(_M32)
        h ^= k1
        h = ((h << np.uint64(13)) | (h >> np.uint64(19))) & np.uint64(_M32)
        h = (h * np.uint64(5) + np.uint64(0xE6546B64)) & np.uint64(_M32)
    tail = 4 * n_blocks
    rest = length & 3
    k1 = np.uint64(0)
    if rest == 3:
        k1 ^= np.uint64(buffer[tail + 2]) << np.uint64(16)
    if rest >= 2:
        k1 ^= np.uint64(buffer[tail + 1]) << np.uint64(8)
    if rest >= 1:
        k1 ^= np.uint64(buffer[tail])
        k1 = (k1 * np.uint64(_C1)) & np.uint64(_M32)
        k1 = ((k1 << np.uint64(15)) | (k1 >> np.uint64(17))) & np.uint64(_M32)
        k1 = (k1 * np.uint64(_C2)) & np.uint64(_M32)
        h ^= k1
    h ^= np.uint64(length)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & np.uint64(_M32)
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & np.uint64(_M32)
    h ^= h >> np.uint64(16)
    return h


def _utf8(chars, start, stop, buffer):
    """Write the UTF-8 bytes of code points ``chars[start:stop]``; return how many."""
    n = 0
    for i in range(start, stop):
        c = np.int64(chars[i])
        if c < 0x80:
            buffer[n] = c
            n += 1
        elif c < 0x800:
            buffer[n] = 0xC0 | (c >> 6)
            buffer[n + 1] = 0x80 | (c & 0x3F)
            n += 2
        elif c < 0x10000:
            buffer[n] = 0xE0 | (c >> 12)
            buffer[n + 1] = 0x80 | ((c >> 6) & 0x3F)
            buffer[n + 2] = 0x80 | (c & 0x3F)
            n += 3
        else:
            buffer[n] = 0xF0 | (c >> 18)
            buffer[n + 1] = 0x80 | ((c >> 12) & 0x3F)
            buffer[n + 2] = 0x80 | ((c >> 6) & 0x3F)
            buffer[n + 3] = 0x80 | (c & 0x3F)
            n += 4
    return n


def _int_key(value, buffer):
    """Write ``"\\x00" + str(value)`` as bytes; return their count."""
    buffer[0] = 0
    n = 1
    if value < 0:
        buffer[1] = 45  # "-"
        n = 2
        # -value overflows for int64's minimum: go through uint64.
        magnitude = np.uint64(-(value + 1)) + np.uint64(1)
    else:
        magnitude = np.uint64(value)
    digits = 1
    probe = magnitude
    while probe >= np.uint64(10):
        probe //= np.uint64(10)
        digits += 1
    for i in range(digits):
        buffer[n + digits - 1 - i] = np.uint8(magnitude % np.uint64(10))
        buffer[n + digits - 1 - i] += 48
        magnitude //= np.uint64(10)
    return n + digits


def _hash_ints_loop(values, n_buckets):
    out = np.empty(values.shape[0], dtype=np.int64)
    buffer = np.empty(24, dtype=np.uint8)
    for i in range(values.shape[0]):
        n = _int_key(values[i], buffer)
        out[i] = np.int64(_murmur3_32(buffer, n)) % n_buckets
    return out


def _hash_strs_loop(chars, starts, stops, n_buckets):
    n_tokens = starts.shape[0]
    out = np.empty(n_tokens, dtype=np.int64)
    longest = 0
    for i in range(n_tokens):
        longest = max(longest, stops[i] - starts[i])
    buffer = np.empty(4 * longest + 4, dtype=np.uint8)
    for i in range(n_tokens):
        n = _utf8(chars, starts[i], stops[i], buffer)
        out[i] = np.int64(_murmur3_32(buffer, n)) % n_buckets
    return out


def _mix(key):
    # Fibonacci hashing: the high bits of key·2⁶⁴/φ spread consecutive ints.
    return (np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)


def _table_size(n):
    size = 8
    while size < 2 * n:
        size *= 2
    return size


def _build_int_table_loop(keys, rows):
    size = _table_size(keys.shape[0])
    mask = np.uint64(size - 1)
    slot_keys = np.zeros(size, dtype=np.int64)
    slot_rows = np.full(size, -1, dtype=np.int64)  # -1: empty
    for i in range(keys.shape[0]):
        s = _mix(keys[i]) & mask
        while slot_rows[s] >= 0 and slot_keys[s] != keys[i]:
            s = (s + np.uint64(1)) & mask
        slot_keys[s] = keys[i]
        slot_rows[s] = rows[i]
    return slot_keys, slot_rows


def _lookup_int_loop(values, slot_keys, slot_rows, oov, out):
    mask = np.uint64(slot_keys.shape[0] - 1)
    for i in range(values.shape[0]):
        s = _mix(values[i]) & mask
        row = oov
        while slot_rows[s] >= 0:
            if slot_keys[s] == values[i]:
                row = slot_rows[s]
                break
            s = (s + np.uint64(1)) & mask
        out[i] = row
    return out


def _lookup_int_direct_loop(values, table, low, oov, out):
    # values[i] - low in uint64 wraps a value below low past the table's end.
    span = np.uint64(table.shape[0])
    for i in range(values.shape[0]):
        j = np.uint64(values[i]) - np.uint64(low)
        row = table[j] if j < span else -1
        out[i] = oov if row < 0 else row


def _dense_codes_loop(keys, low, span, codes):
    # _first_codes_loop's codes of int keys, all in [low, low + span): each
    # key's code at its offset from low, rather than in a hash table.
    n = keys.shape[0]
    code_of = np.full(span, -1, dtype=np.int64)
    first = np.empty(min(n, span), dtype=np.int64)
    n_codes = 0
    for i in range(n):
        j = keys[i] - low
        c = code_of[j]
        if c < 0:
            c = n_codes
            code_of[j] = c
            first[c] = i
            n_codes += 1
        codes[i] = c
    return first[:n_codes].copy()


def _chars_hash(chars, start, stop):
    # FNV-1a over the code points: only to place a str in the table.
    h = np.uint64(0xCBF29CE484222325)
    for i in range(start, stop):
        h = (h ^ np.uint64(chars[i])) * np.uint64(0x100000001B3)
    # FNV's last characters reach only its low bits, and the tables index by
    # the high ones: MurmurHash3's finaliser spreads every bit over all of them.
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    return h


def _same_chars(chars, a, b, other, c, d):
    """Whether code points ``chars[a:b]`` equal ``other[c:d]``."""
    if b - a != d - c:
        return False
    for j in range(b - a):
        if chars[a + j] != other[c + j]:
            return False
    return True


# A str token's key in the str tables: its code points a byte each, when it has
# at most 7 and all are in 1..255 (then equal keys are equal tokens), else the
# hash of its code points with the top bit set (equal keys are then checked).
_LONG = np.uint64(1 << 63)
_ONES, _HIGHS = 0x0101010101010101, 0x8080808080808080
_LENGTHS = 0x0102030405060708


def _str_key(chars, a, b):
    """The table key of the token ``chars[a:b]``."""
    if b - a <= 7:
        key = np.uint64(0)
        for j in range(b - a):
            c = np.uint64(chars[a + j])
            if c == 0 or c > 255:
                return np.int64(_chars_hash(chars, a, b) | _LONG)
            key |= c << np.uint64(8 * j)
        return np.int64(key)
    return np.int64(_chars_hash(chars, a, b) | _LONG)


def _token_end(chars, a):
    """Where the token at ``chars[a]`` of NUL-joined tokens ends, and its key."""
    n = chars.shape[0]
    if chars.itemsize == 1 and a + 8 <= n:
        # Eight bytes at once: the first NUL among them ends a short token
        # (the lowest high bit of "has a zero byte" marks it exactly).
        v = np.uint64(0)
        for j in range(8):
            v |= np.uint64(chars[a + j]) << np.uint64(8 * j)
        zero = (v - np.uint64(_ONES)) & ~v & np.uint64(_HIGHS)
        if zero != 0:
            low = zero & (~zero + np.uint64(1))
            length = ((low >> np.uint64(7)) * np.uint64(_LENGTHS)) >> np.uint64(56)
            return a + np.int64(length) - 1, np.int64(v & (low - np.uint64(1)))
    b = a
    while b < n and chars[b] != 0:
        b += 1
    return b, _str_key(chars, a, b)


def _find_slot(slots, key, s):
    """The first slot from ``s`` on that holds ``key`` or is empty (column 1
    negative). A long key's token is then compared by the caller, in its own
    loop: numba's code for a probe function that took the code point arrays
    too ran several times slower."""
    mask = np.uint64(slots.shape[0] - 1)
    while slots[s, 1] >= 0 and slots[s, 0] != key:
        s = (s + np.uint64(1)) & mask
    return s


def _build_str_table_loop(chars, starts, rows):
    n = starts.shape[0] - 1
    size = _table_size(n)
    mask = np.uint64(size - 1)
    # A slot: the key, and the entry (high 32 bits) and row (low 32 bits) of
    # its token (-1: empty), two int64s to a slot and four slots to a line.
    slots = np.full((size, 2), -1, dtype=np.int64)
    for i in range(n):
        key = _str_key(chars, starts[i], starts[i + 1])
        s = _mix(key) & mask
        while slots[s, 1] >= 0:
            s = (s + np.uint64(1)) & mask
        slots[s, 0], slots[s, 1] = key, (i << 32) | rows[i]
    return slots


def _lookup_str_loop(chars, starts, stops, by_nuls, vocab_chars, vocab_starts,
                     slots, oov, out):  # fmt: skip
    # With by_nuls, chars holds the tokens joined by NULs (none in a token),
    # starts and stops say nothing, and each token is found as it is read.
    mask = np.uint64(slots.shape[0] - 1)
    a, b = 0, 0
    for i in range(out.shape[0]):
        if by_nuls:
            b, key = _token_end(chars, a)
        else:
            a, b = starts[i], stops[i]
            key = _str_key(chars, a, b)
        s = _find_slot(slots, key, _mix(key) & mask)
        while (key < 0 and slots[s, 1] >= 0 and not _same_chars(
            chars, a, b, vocab_chars, vocab_starts[slots[s, 1] >> 32],
            vocab_starts[(slots[s, 1] >> 32) + 1],
        )):  # fmt: skip
            s = _find_slot(slots, key, (s + np.uint64(1)) & mask)
        out[i] = oov if slots[s, 1] < 0 else slots[s, 1] & 0xFFFFFFFF
        a = b + 1


def _first_codes_joined_loop(chars, codes):
    # _first_codes_loop's codes of NUL-joined str tokens, keyed as the str
    # tables: a short token's key is the token. A long one is compared with its
    # code's first occurrence. Also where each code's first occurrence lies.
    n = codes.shape[0]
    size = 1024
    first = np.empty(n, dtype=np.int64)
    keys = np.empty(n, dtype=np.int64)
    span_starts = np.empty(n, dtype=np.int64)
    span_stops = np.empty(n, dtype=np.int64)
    i, a, n_codes = 0, 0, 0
    while i < n:
        # A table twice as large as the codes so far, filled up to half.
        size = max(size, _table_size(n_codes))
        slots = np.full((size, 2), -1, dtype=np.int64)  # key, code (-1: empty)
        for old in range(n_codes):
            _insert_code(slots, keys[old], old)
        i, a, n_codes = _code_tokens(chars, codes, slots, i, a, n_codes, first,
                                     keys, span_starts, span_stops)  # fmt: skip
    return (first[:n_codes].copy(), span_starts[:n_codes].copy(),
            span_stops[:n_codes].copy())  # fmt: skip


def _code_tokens(chars, codes, slots, i, a, n_codes, first, keys, span_starts,
                 span_stops):  # fmt: skip
    """Code tokens from the ``i``-th (at ``chars[a]``) until ``slots`` is half
    full; return where it stopped and the number of codes. (A loop of its own:
    numba's code for one loop that also grew the table ran slower.)"""
    n = codes.shape[0]
    mask = np.uint64(slots.shape[0] - 1)
    while i < n and 2 * n_codes <= slots.shape[0]:
        b, key = _token_end(chars, a)
        s = _find_slot(slots, key, _mix(key) & mask)
        while (key < 0 and slots[s, 1] >= 0 and not _same_chars(
            chars, a, b, chars, span_starts[slots[s, 1]], span_stops[slots[s, 1]],
        )):  # fmt: skip
            s = _find_slot(slots, key, (s + np.uint64(1)) & mask)
        c = slots[s, 1]
        if c < 0:
            c = n_codes
            first[c], keys[c], span_starts[c], span_stops[c] = i, key, a, b
            slots[s, 0], slots[s, 1] = key, c
            n_codes += 1
        codes[i] = c
        i += 1
        a = b + 1
    return i, a, n_codes


def _insert_code(slots, key, code):
    mask = np.uint64(slots.shape[0] - 1)
    s = _mix(key) & mask
    while slots[s, 1] >= 0:
        s = (s + np.uint64(1)) & mask
    slots[s, 0], slots[s, 1] = key, code


def _first_codes_loop(values, chars, starts, by_chars, codes):
    # One open-addressing table of codes, grown as distinct tokens arrive: sized
    # by them, not by the batch, it stays in cache for a corpus's frequent tokens.
    # A slot holds a key (an int token, or the hash of a str token's code points)
    # beside its code, so that a probe reads one cache line; a str's code points
    # are copied for the comparison, as the first occurrences lie scattered
    # through the batch.
    n = starts.shape[0] - 1 if by_chars else values.shape[0]
    size = 1024
    slots = np.empty((size, 2), dtype=np.int64)
    slots[:, 1] = -1  # -1: empty
    first = np.empty(n, dtype=np.int64)
    keys = np.empty(n, dtype=np.int64)
    key_chars = np.empty(chars.shape[0] if by_chars else 0, dtype=np.uint32)
    key_starts = np.zeros(n + 1 if by_chars else 1, dtype=np.int64)
    n_codes = 0
    a, b = 0, 0
    for i in range(n):
        if by_chars:
            a, b = starts[i], starts[i + 1]
            h = _chars_hash(chars, a, b)
            key = np.int64(h)
        else:
            key = values[i]
            h = _mix(key)
        mask = np.uint64(size - 1)
        s = (h >> np.uint64(16)) & mask if by_chars else h & mask
        while slots[s, 1] >= 0:
            if slots[s, 0] == key:
                c = slots[s, 1]
                if not by_chars or _same_chars(
                    chars, a, b, key_chars, key_starts[c], key_starts[c + 1]
                ):
                    break
            s = (s + np.uint64(1)) & mask
        if slots[s, 1] >= 0:
            codes[i] = slots[s, 1]
            continue
        slots[s, 0] = key
        slots[s, 1] = n_codes
        first[n_codes] = i
        keys[n_codes] = key
        if by_chars:
            k = key_starts[n_codes]
            key_chars[k : k + b - a] = chars[a:b]
            key_starts[n_codes + 1] = k + b - a
        codes[i] = n_codes
        n_codes += 1
        if 2 * n_codes > size:  # rehash into a table twice as large
            size *= 2
            mask = np.uint64(size - 1)
            slots = np.empty((size, 2), dtype=np.int64)
            slots[:, 1] = -1
            for c in range(n_codes):
                if by_chars:
                    t = (np.uint64(keys[c]) >> np.uint64(16)) & mask
                else:
                    t = _mix(keys[c]) & mask
                while slots[t, 1] >= 0:
                    t = (t + np.uint64(1)) & mask
                slots[t, 0] = keys[c]
                slots[t, 1] = c
    return first[:n_codes].copy()


def _sort_into(indices, a, b, ordered, k):
    """Write ``indices[a:b]``, sorted, to ``ordered[k:]``."""
    if b - a > 32:
        ordered[k : k + b - a] = np.sort(indices[a:b])
    else:
        # Documents are short: each token goes straight to its rank (the
        # tokens before it not larger, after it smaller), counted without
        # branches, which an insertion sort mispredicts on random rows.
        for i in range(a, b):
            x = indices[i]
            rank = 0
            for j in range(a, i):
                rank += indices[j] <= x
            for j in range(i + 1, b):
                rank += indices[j] < x
            ordered[k + rank] = x


def _bag_loop(indices, indptr, values, data, ordered, out_indptr):
    n_docs = indptr.shape[0] - 1
    out_indptr[0] = 0
    k = 0
    for d in range(n_docs):
        a, b = indptr[d], indptr[d + 1]
        _sort_into(indices, a, b, ordered, k)
        # Duplicates are summed one by one, in the dtype, as sum_duplicates does.
        value = values[d]
        last = k - 1
        for m in range(k, k + b - a):
            if last < k or ordered[m] != ordered[last]:
                last += 1
                ordered[last] = ordered[m]
                data[last] = value
            else:
                data[last] += value
        k = last + 1
        out_indptr[d + 1] = k
    return k


def _sort_distinct(keys, values, m, out_keys, out_values, k):
    """Write ``keys[:m]`` (distinct) in increasing order to ``out_keys[k:]``,
    each with its entry of ``values`` to ``out_values[k:]``."""
    if m > 32:
        order = np.argsort(keys[:m])
        for i in range(m):
            out_keys[k + i] = keys[order[i]]
            out_values[k + i] = values[order[i]]
    else:
        # Short rows: each key goes straight to its rank, the number of keys
        # below it, counted without branches (which an insertion sort
        # mispredicts on random rows).
        for i in range(m):
            x = keys[i]
            rank = 0
            for j in range(m):
                rank += keys[j] < x
            out_keys[k + rank] = x
            out_values[k + rank] = values[i]


def _marks(n):
    """Each key's mark for :func:`_tally`: none yet."""
    return np.full(n, -1, dtype=np.int64)


def _tally(x, d, marks, distinct, m):
    """Where key ``x`` of row ``d`` is among the row's ``m`` distinct keys so
    far (``distinct``), ``m`` if it is new (then listed); O(1) per key.

    ``marks[x]`` holds the last row that held ``x`` (high 32 bits) and its
    place there (low 32 bits): one array, so one cache line read per key.
    """
    mark = marks[x]
    if mark >> 32 == d:
        return mark & 0xFFFFFFFF
    marks[x] = (d << 32) | m
    distinct[m] = x
    return m


def _bag_distinct_loop(indices, indptr, values, n_rows, data, ordered, out_indptr):
    # _bag_loop's result, each row's duplicates found through marks rather
    # than by sorting them: only the distinct entries are sorted. -1 if an
    # index lies outside [0, n_rows).
    n_docs = indptr.shape[0] - 1
    marks = _marks(n_rows)
    longest = _longest_row(indptr)
    distinct = np.empty(longest, dtype=np.int64)
    sums = np.empty(longest, dtype=data.dtype)
    out_indptr[0] = 0
    k = 0
    for d in range(n_docs):
        value = values[d]
        m = 0
        for t in range(indptr[d], indptr[d + 1]):
            x = indices[t]
            if np.uint64(x) >= np.uint64(n_rows):
                return -1
            at = _tally(x, d, marks, distinct, m)
            if at == m:
                sums[m] = value
                m += 1
            else:
                # One by one, in the dtype, as sum_duplicates adds them.
                sums[at] += value
        _sort_distinct(distinct, sums, m, ordered, data, k)
        k += m
        out_indptr[d + 1] = k
    return k


def _longest_row(indptr):
    """The most entries in one row of a CSR ``indptr`` (0 for no rows)."""
    longest = 0
    for d in range(indptr.shape[0] - 1):
        longest = max(longest, indptr[d + 1] - indptr[d])
    return longest


def _weighted_bag_loop(codes, indptr, term_rows, shared, n_rows, weights, scale,
                       norm, data, out, out_indptr):  # fmt: skip
    n_docs = indptr.shape[0] - 1
    out_indptr[0] = 0
    longest = _longest_row(indptr)
    marks = _marks(term_rows.shape[0])
    distinct = np.empty(longest, dtype=np.int64)
    tallies = np.empty(longest, dtype=np.int64)
    ordered = np.empty(longest, dtype=np.int64)
    counts = np.empty(longest, dtype=np.int64)
    w = np.empty(longest, dtype=weights.dtype)
    touched = np.empty(longest, dtype=np.int64)
    sums = np.empty(longest, dtype=weights.dtype)
    row_marks = _marks(n_rows)
    k = 0
    for d in range(n_docs):
        n_terms = 0
        sharing = False  # whether two of the row's terms may share a row
        for t in range(indptr[d], indptr[d + 1]):
            at = _tally(codes[t], d, marks, distinct, n_terms)
            if at == n_terms:
                tallies[at] = 1
                sharing |= shared[codes[t]]
                n_terms += 1
            else:
                tallies[at] += 1
        # The terms in code order, each with its count.
        _sort_distinct(distinct, tallies, n_terms, ordered, counts, 0)
        total = 0.0  # float64, as np.bincount sums the row
        for i in range(n_terms):
            w[i] = weights[counts[i]]
            if scale.shape[0]:
                w[i] *= scale[ordered[i]]
            if norm == 1:
                total += abs(np.float64(w[i]))
            elif norm == 2:
                total += np.float64(w[i] * w[i])
        if norm == 2:
            total = np.sqrt(total)
        if norm and total == 0.0:
            total = 1.0
        if norm:  # divided in float64, rounded to the dtype by the store
            for i in range(n_terms):
                w[i] = np.float64(w[i]) / total
        # C·M: the terms in code order, each into its table row (M's entries
        # are 1, a row's sum starts from 0); scipy lists a row's sums from the
        # last row touched, zeros left out.
        if not sharing:  # each term's row is its own: its sum, its weight
            for i in range(n_terms - 1, -1, -1):
                row = term_rows[ordered[i]]
                if row >= 0 and w[i] != 0:  # row -1: an unknown n-gram
                    out[k] = row
                    data[k] = w[i]
                    k += 1
            out_indptr[d + 1] = k
            continue
        n_touched = 0
        for i in range(n_terms):
            row = term_rows[ordered[i]]
            if row < 0:
                continue
            at = _tally(row, d, row_marks, touched, n_touched)
            if at == n_touched:
                sums[at] = 0
                n_touched += 1
            sums[at] += w[i]
        for t in range(n_touched - 1, -1, -1):
            if sums[t] != 0:
                out[k] = touched[t]
                data[k] = sums[t]
                k += 1
        out_indptr[d + 1] = k
    return k


def _tokenize_loop(chars, bounds, word, lower_ascii):
    # A token needs two chars: at most len(chars) // 2 of them.
    out = np.empty(chars.shape[0], dtype=np.uint32)
    starts = np.empty(chars.shape[0] // 2 + 1, dtype=np.int64)
    indptr = np.zeros(bounds.shape[0], dtype=np.int64)
    starts[0] = 0
    n_tokens, k = 0, 0
    for d in range(bounds.shape[0] - 1):
        i, stop = bounds[d], bounds[d + 1]
        while i < stop:
            if not word[chars[i]]:
                i += 1
                continue
            j = i + 1
            while j < stop and word[chars[j]]:
                j += 1
            if j - i >= 2:
                for m in range(i, j):
                    c = np.uint32(chars[m])
                    if lower_ascii and 65 <= c <= 90:
                        c += np.uint32(32)
                    out[k] = c
                    k += 1
                n_tokens += 1
                starts[n_tokens] = k
            i = j + 1  # chars[j] is no word character
        indptr[d + 1] = n_tokens
    # Views: the pages past them were never touched, so never allocated.
    return out[:k], starts[: n_tokens + 1], indptr


def _count_nuls_loop(joined):
    n = 0
    for c in joined:
        n += c == 0
    return n


def _split_loop(joined, n):
    # The code points of n ≥ 1 tokens joined by NULs, none in a token: the
    # tokens' code points without the NULs, and where each token starts.
    chars = np.empty(joined.shape[0] - (n - 1), dtype=np.uint32)
    starts = np.empty(n + 1, dtype=np.int64)
    starts[0] = 0
    t, k = 0, 0
    for c in joined:
        if c == 0:
            t += 1
            starts[t] = k
        else:
            chars[k] = c
            k += 1
    starts[n] = k
    return chars, starts


def _next_word(chars, i, stop, space):
    """Where the next run of non-whitespace in ``chars[i:stop]`` starts and
    stops; ``stop`` if there is none."""
    while i < stop and space[chars[i]]:
        i += 1
    j = i
    while j < stop and not space[chars[j]]:
        j += 1
    return i, j


def _char_wb_counts_loop(chars, bounds, space, min_n, max_n):
    # How many n-grams each document has, and the longest padded word.
    n_docs = bounds.shape[0] - 1
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    longest = 0
    for d in range(n_docs):
        stop = bounds[d + 1]
        count = 0
        i, j = _next_word(chars, bounds[d], stop, space)
        while i < stop:
            padded = j - i + 2
            longest = max(longest, padded)
            for n in range(min_n, max_n + 1):
                if padded <= n:  # the whole padded word, once, and no longer n
                    count += 1
                    break
                count += padded - n + 1
            i, j = _next_word(chars, j, stop, space)
        indptr[d + 1] = indptr[d] + count
    return indptr, longest


def _char_wb_doc(chars, i, stop, space, lower_ascii, min_n, max_n, n_features,
                 word, at, out, m):  # fmt: skip
    """Write the buckets of the n-grams of ``chars[i:stop]`` to ``out[m:]``;
    return where they end. ``word`` and ``at``: scratch arrays."""
    i, j = _next_word(chars, i, stop, space)
    while i < stop:
        padded = j - i + 2
        word[0] = 32
        at[0], at[1] = 0, 1
        for c in range(i, j):
            start = at[c - i + 1]
            code = chars[c]
            if code < 128:
                if lower_ascii and 65 <= code <= 90:
                    code += 32
                word[start] = code
                at[c - i + 2] = start + 1
            else:
                at[c - i + 2] = start + _utf8(chars, c, c + 1, word[start:])
        word[at[padded - 1]] = 32
        at[padded] = at[padded - 1] + 1
        for n in range(min_n, max_n + 1):
            for offset in range(max(padded - n, 0) + 1):
                a, b = at[offset], at[min(offset + n, padded)]
                h = np.int64(_murmur3_32(word[a:], b - a))
                if h >= 2**31:  # scikit-learn's signed int32, then abs
                    h = 2**32 - h
                    if h == 2**31:  # abs(-2**31) is no int32: its rule
                        h = 2147483647 - (n_features - 1)
                out[m] = h % n_features
                m += 1
            if padded <= n:
                break
        i, j = _next_word(chars, j, stop, space)
    return m


def _char_wb_scratch(longest):
    word = np.empty(4 * longest, dtype=np.uint8)  # a padded word's UTF-8
    at = np.empty(longest + 1, dtype=np.int64)  # where each of its chars starts
    return word, at


def _radix_sort(values, spare, n, n_bytes, buckets):
    """Sort ``values[:n]`` (non-negative, below ``256**n_bytes``) in place: a
    least significant digit radix sort, a byte a pass, through ``spare``."""
    source, target = values, spare
    for byte in range(n_bytes):
        shift = 8 * byte
        buckets[:] = 0
        for t in range(n):
            buckets[((source[t] >> shift) & 255) + 1] += 1
        for b in range(1, 257):
            buckets[b] += buckets[b - 1]
        for t in range(n):
            digit = (source[t] >> shift) & 255
            target[buckets[digit]] = source[t]
            buckets[digit] += 1
        source, target = target, source
    if n_bytes % 2:  # the sorted values ended in ``spare``
        values[:n] = spare[:n]


def _char_wb_raw_loop(chars, bounds, space, lower_ascii, min_n, max_n, n_features):
    # Every bucket of every document, for the bag kernel to sort and sum.
    n_docs = bounds.shape[0] - 1
    raw_indptr, longest = _char_wb_counts_loop(chars, bounds, space, min_n, max_n)
    word, at = _char_wb_scratch(longest)
    raw = np.empty(raw_indptr[n_docs], dtype=np.int64)
    for d in range(n_docs):
        _char_wb_doc(chars, bounds[d], bounds[d + 1], space, lower_ascii, min_n,
                     max_n, n_features, word, at, raw, raw_indptr[d])  # fmt: skip
    return raw, raw_indptr


def _char_wb_loop(chars, bounds, space, lower_ascii, min_n, max_n, n_features,
                  ones):  # fmt: skip
    # Each document's counts are summed in a dense array of the buckets, and
    # only its distinct buckets are sorted.
    n_docs = bounds.shape[0] - 1
    raw_indptr, longest = _char_wb_counts_loop(chars, bounds, space, min_n, max_n)
    n_raw = raw_indptr[n_docs]
    word, at = _char_wb_scratch(longest)
    buckets = np.empty(257, dtype=np.int64)
    n_bytes = 1
    while 256**n_bytes < n_features:
        n_bytes += 1
    longest_doc = _longest_row(raw_indptr)
    scratch = np.empty(longest_doc, dtype=np.int64)
    distinct = np.empty(longest_doc, dtype=np.int64)
    spare = np.empty(longest_doc, dtype=np.int64)
    sums = np.zeros(n_features, dtype=ones.dtype)
    data = np.empty(n_raw, dtype=ones.dtype)
    indices = np.empty(n_raw, dtype=np.int32)  # buckets below 2**20
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    k = 0
    for d in range(n_docs):
        m = _char_wb_doc(chars, bounds[d], bounds[d + 1], space, lower_ascii,
                         min_n, max_n, n_features, word, at, scratch, 0)  # fmt: skip
        n_distinct = 0
        for t in range(m):
            x = scratch[t]
            if sums[x] == 0:
                distinct[n_distinct] = x
                n_distinct += 1
            # One by one, in the dtype, as sum_duplicates adds them.
            sums[x] += ones[d]
        _radix_sort(distinct, spare, n_distinct, n_bytes, buckets)
        indices[k : k + n_distinct] = distinct[:n_distinct]
        for t in range(k, k + n_distinct):
            data[t] = sums[indices[t]]
            sums[indices[t]] = 0
        k += n_distinct
        indptr[d + 1] = k
    return data[:k].copy(), indices[:k].copy(), indptr, n_raw


def _normalize_rows_loop(data, indptr, l2):
    for d in range(indptr.shape[0] - 1):
        norm = 0.0
        for t in range(indptr[d], indptr[d + 1]):
            norm += np.float64(data[t] * data[t] if l2 else abs(data[t]))
        if l2:
            norm = np.sqrt(norm)
        if norm == 0:  # empty rows and rows of explicit zeros
            norm = 1.0
        for t in range(indptr[d], indptr[d + 1]):
            data[t] = data[t] / norm


class _Compiled:
    def __init__(self, numba, cache=True):
        jit = numba.njit(cache=cache, nogil=True)
        inner = numba.njit(cache=cache, nogil=True, inline="always")
        g = globals()
        for name in ("_murmur3_32", "_utf8", "_int_key", "_mix", "_chars_hash",
                     "_str_key", "_token_end", "_find_slot", "_insert_code",
                     "_table_size", "_same_chars", "_char_wb_counts_loop",
                     "_char_wb_doc", "_char_wb_scratch", "_radix_sort",
                     "_next_word", "_sort_distinct", "_marks", "_tally",
                     "_sort_into", "_longest_row"):  # fmt: skip
            g[name] = inner(g[name].py_func if hasattr(g[name], "py_func") else g[name])
        self.hash_ints = jit(_hash_ints_loop)
        self.hash_strs = jit(_hash_strs_loop)
        self.build_int_table = jit(_build_int_table_loop)
        self.lookup_int = jit(_lookup_int_loop)
        self.lookup_int_direct = jit(_lookup_int_direct_loop)
        self.dense_codes = jit(_dense_codes_loop)
        self.build_str_table = jit(_build_str_table_loop)
        self.lookup_str = jit(_lookup_str_loop)
        g["_code_tokens"] = jit(_code_tokens)
        self.first_codes_joined = jit(_first_codes_joined_loop)
        self.count_nuls = jit(_count_nuls_loop)
        self.bag = jit(_bag_loop)
        self.bag_distinct = jit(_bag_distinct_loop)
        self.weighted_bag = jit(_weighted_bag_loop)
        self.first_codes = jit(_first_codes_loop)
        self.tokenize = jit(_tokenize_loop)
        self.split = jit(_split_loop)
        self.char_wb = jit(_char_wb_loop)
        self.char_wb_raw = jit(_char_wb_raw_loop)
        self.normalize_rows = jit(_normalize_rows_loop)


def _kernels():
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = False
        if os.environ.get("SKNOTES_NUMBA", "1") != "0":
            try:
                import numba
            except ImportError:
                numba = None
            if numba is not None and not numba.config.DISABLE_JIT:
                try:
                    _KERNELS = _Compiled(numba)
                except RuntimeError:
                    _KERNELS = _Compiled(numba, cache=False)
    return _KERNELS
