"""The compiled encoder (sknotes._encode) against the Python reference of _text.

Every comparison encodes the same documents twice: with the compiled kernels, and
with them switched off (the reference: dict lookups and scipy's sum_duplicates),
and asks for identical arrays, dtypes and errors.
"""

import enum
import pickle
import re
import types
from collections import Counter
from itertools import chain

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from sknotes import EmbeddingBagRegressor, _encode
from sknotes._text import (
    TOKEN_PATTERN,
    DocumentEncoder,
    HashingEncoder,
    Vocabulary,
    _indptr,  # noqa: PLC2701
    _Terms,  # noqa: PLC2701
    bag_matrix,
    normalize_bag_rows,
    tokenize,
)

pytestmark = pytest.mark.skipif(
    not _encode._kernels(), reason="the compiled encoder needs numba"
)

INT64 = st.integers(-(2**63), 2**63 - 1)
SMALL_INTS = st.integers(-3, 40)
# Letters, digits, marks, CJK, astral code points (4 UTF-8 bytes), "<", ">" and
# spaces; lone surrogates are excluded by the strategy and tested apart.
TEXT = st.text(
    # A filter rather than exclude_categories, which hypothesis 6.0 lacks.
    alphabet=st.characters().filter(lambda c: not "\ud800" <= c <= "\udfff"),
    min_size=0,
    max_size=8,
)
FEW_WORDS = st.sampled_from(["a", "ab", "good", "Ünï", "日本", "😀x", "", " ", "a b"])


def documents(tokens):
    return st.lists(st.lists(tokens, max_size=12), min_size=1, max_size=12)


def compiled(docs):
    """Whether the compiled path takes ``docs`` (else the test tests nothing new)."""
    return _encode.flatten(docs, _indptr(docs)) is not None


def reference(function, *args, **kwargs):
    """``function(*args, **kwargs)`` with the compiled kernels switched off."""
    saved = _encode._KERNELS
    _encode._KERNELS = False
    try:
        return function(*args, **kwargs)
    finally:
        _encode._KERNELS = saved


def outcome(function, *args, **kwargs):
    """What ``function(*args, **kwargs)`` returns, or the type and text of its
    error."""
    try:
        return function(*args, **kwargs)
    except Exception as error:  # noqa: BLE001
        return type(error), str(error)


def assert_same(compiled, expected):
    if isinstance(expected, tuple) and isinstance(expected[0], type):
        assert compiled == expected
    elif sp.issparse(expected):
        assert sp.issparse(compiled)
        assert compiled.shape == expected.shape
        assert compiled.dtype == expected.dtype
        for name in ("data", "indices", "indptr"):
            a, b = getattr(compiled, name), getattr(expected, name)
            assert a.dtype == b.dtype, name
            np.testing.assert_array_equal(a, b, strict=True)
        assert compiled.has_canonical_format == expected.has_canonical_format
    else:
        assert len(compiled) == len(expected)
        for a, b in zip(compiled, expected, strict=True):
            np.testing.assert_array_equal(a, b, strict=True)


def assert_encodes_alike(encoder, docs):
    assert_same(outcome(encoder.encode, docs), reference(outcome, encoder.encode, docs))


def assert_coded_in_order(flat, docs):
    """``first_codes(flat)`` numbers the tokens of ``docs`` by first appearance,
    as ``dict.fromkeys`` orders them, and finds each code's first token."""
    tokens = list(chain.from_iterable(docs))
    distinct = list(dict.fromkeys(tokens))
    codes, first = _encode.first_codes(flat)
    assert _encode.first_tokens(flat, docs, first) == distinct
    code_of = {t: c for c, t in enumerate(distinct)}
    assert codes.tolist() == [code_of[t] for t in tokens]


@pytest.mark.parametrize(
    "tokens", [st.one_of(SMALL_INTS, INT64), st.one_of(FEW_WORDS, TEXT)]
)
@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    min_count=st.integers(1, 3),
    max_vocabulary=st.one_of(st.none(), st.integers(1, 5)),
)
def test_vocabulary_lookup(tokens, data, min_count, max_vocabulary):
    train, test = data.draw(documents(tokens)), data.draw(documents(tokens))
    assert compiled(test)
    vocabulary = Vocabulary(min_count, max_vocabulary).fit(train)
    assert_encodes_alike(vocabulary, test)
    assert_encodes_alike(vocabulary, train)


@settings(max_examples=150, deadline=None)
@given(
    docs=documents(st.one_of(SMALL_INTS, INT64, FEW_WORDS, TEXT, st.booleans())),
    n_buckets=st.sampled_from([1, 2, 7, 2**10, 2**20, 2**31 - 1]),
    homogeneous=st.sampled_from(["int", "str", "mixed"]),
)
def test_hashing(docs, n_buckets, homogeneous):
    if homogeneous == "int":
        docs = [[t for t in doc if type(t) is int] for doc in docs]
    elif homogeneous == "str":
        docs = [[t for t in doc if isinstance(t, str)] for doc in docs]
    assert_encodes_alike(HashingEncoder(n_buckets), docs)


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(st.lists(st.integers(0, 30), max_size=50), min_size=1, max_size=30),
    pooling=st.sampled_from(["sum", "mean"]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_bag_matrix(docs, pooling, dtype):
    vocabulary = Vocabulary().fit(docs)
    indices, indptr = vocabulary.encode(docs)
    args = indices, indptr, vocabulary.n_rows
    options = {"dtype": dtype, "pooling": pooling}
    assert_same(bag_matrix(*args, **options), reference(bag_matrix, *args, **options))


ENCODERS = st.fixed_dictionaries(
    {
        "n_buckets": st.sampled_from([None, 64]),
        "ngram_range": st.sampled_from([(1, 1), (1, 2), (2, 3)]),
        "char_ngram_range": st.sampled_from([None, (2, 4)]),
        "n_subword_buckets": st.just(32),
        "weighting": st.sampled_from(["count", "binary", "sublinear"]),
        "idf": st.booleans(),
        "pooling": st.sampled_from(["sum", "mean", "sqrtn", "concat"]),
        "min_count": st.integers(1, 2),
    }
)
ANY_DOCS = st.one_of(
    documents(st.one_of(FEW_WORDS, TEXT)), documents(st.one_of(SMALL_INTS, INT64))
)


def fitted_alike(params, docs):
    """The encoder fitted with and without the kernels; asserts they agree."""
    encoder = DocumentEncoder(**params).fit(docs)
    expected = reference(DocumentEncoder(**params).fit, docs)
    assert_fitted_alike(encoder, expected)
    return encoder


def assert_fitted_alike(encoder, expected):
    """Two fitted DocumentEncoders hold the same vocabulary, n-gram index and
    IDF."""
    assert repr(encoder.tokens) == repr(expected.tokens)  # also the tokens' types
    if isinstance(expected.words, Vocabulary):
        # What a pickle holds: the compiled lookup tables are caches.
        assert repr(encoder.words.__getstate__()) == repr(expected.words.__getstate__())
    if hasattr(expected, "_ngram_index"):
        ids, n_ids, levels = encoder._ngram_index
        expected_ids, expected_n_ids, expected_levels = expected._ngram_index
        assert repr(ids) == repr(expected_ids)  # keys, their types and order
        assert n_ids == expected_n_ids
        assert len(levels) == len(expected_levels)
        for level, expected_level in zip(levels, expected_levels, strict=True):
            for got, want in zip(level, expected_level, strict=True):
                np.testing.assert_array_equal(got, want, strict=True)
    if getattr(encoder, "idf_", None) is not None:
        np.testing.assert_array_equal(encoder.idf_, expected.idf_, strict=True)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(train=ANY_DOCS, test=ANY_DOCS, params=ENCODERS)
def test_document_encoder_pi(train, test, params):
    if params["pooling"] == "concat":
        params.update(ngram_range=(1, 1), char_ngram_range=None,
                      weighting="count", idf=False)  # fmt: skip
    encoder = fitted_alike(params, train)
    for docs in (train, test):
        for dtype in (np.float32, np.float64):
            assert_same(
                outcome(encoder.pi, docs, dtype, max_length=5),
                reference(outcome, encoder.pi, docs, dtype, max_length=5),
            )


NO_SPACE_WORDS = st.sampled_from(["a", "ab", "good", "Ünï", "日本", "😀x", "", "x\x00"])


@settings(max_examples=200, deadline=None)
@given(
    docs=st.one_of(
        documents(st.one_of(NO_SPACE_WORDS, TEXT.map(lambda t: t.replace(" ", "")))),
        documents(st.one_of(SMALL_INTS, st.integers(0, 3), INT64)),
    ),
    ngram_range=st.sampled_from([(1, 2), (2, 2), (1, 3), (2, 4), (3, 3), (1, 5)]),
    min_count=st.integers(1, 3),
    max_vocabulary=st.one_of(st.none(), st.integers(1, 8)),
)
def test_ngram_vocabulary_from_arrays(docs, ngram_range, min_count, max_vocabulary):
    # The n-gram vocabulary built from the terms' arrays against the Counter of
    # their texts: the same terms, rows, ties, dropped counts and index.
    params = {"ngram_range": ngram_range, "min_count": min_count,
              "max_vocabulary": max_vocabulary}  # fmt: skip
    encoder = DocumentEncoder(**params)
    assert encoder._fit_flat_terms(_Terms(docs, ngram_range))  # the arrays' path
    expected = DocumentEncoder(**params)
    expected._fit_terms(_Terms(docs, ngram_range))
    assert_fitted_alike(encoder, expected)
    fitted = DocumentEncoder(**params).fit(docs)
    expected = reference(DocumentEncoder(**params).fit, docs)
    assert_fitted_alike(fitted, expected)
    assert_same(fitted.pi(docs), reference(expected.pi, docs))


@pytest.mark.parametrize(
    "docs", [[["a b", "c"], ["a", "b c"]], [["a b"], ["a", "b"]], [["x y", "z"]]]
)
def test_ngrams_of_tokens_with_spaces_keep_the_reference(docs):
    # "a b" + "c" and "a" + "b c" are one term, "a b", to the reference.
    encoder = DocumentEncoder(ngram_range=(1, 2))
    assert not encoder._fit_flat_terms(_Terms(docs, (1, 2)))
    fitted_alike({"ngram_range": (1, 2)}, docs)


def test_ngram_vocabulary_parameters_are_checked_alike():
    for params in ({"min_count": 0}, {"max_vocabulary": 0}, {"min_count": 1.5}):
        encoder = DocumentEncoder(ngram_range=(1, 2), **params)
        assert outcome(encoder.fit, [["a", "b"]]) == reference(
            outcome, DocumentEncoder(ngram_range=(1, 2), **params).fit, [["a", "b"]]
        )


def test_document_encoder_on_a_zipf_corpus():
    # Many repeats, collisions in 64 buckets, n-grams seen and unseen in training.
    rng = np.random.default_rng(0)
    ids = rng.zipf(1.3, size=(300, 12)) % 500
    int_docs = [doc[: rng.integers(0, 13)] for doc in ids.tolist()]
    str_docs = [[f"w{t}" for t in doc] for doc in int_docs]
    for docs in (int_docs, str_docs):
        for params in (
            {},
            {"n_buckets": 64, "weighting": "sublinear", "pooling": "sqrtn"},
            {"ngram_range": (1, 2), "idf": True, "min_count": 2},
            {"n_buckets": 1000, "ngram_range": (1, 3), "char_ngram_range": (2, 4)},
        ):
            encoder = fitted_alike(params, docs[:200])
            for dtype in (np.float32, np.float64):
                assert_same(encoder.pi(docs, dtype), reference(encoder.pi, docs, dtype))


@pytest.mark.parametrize(
    "docs",
    [
        [["a", "\ud800"]],  # a lone surrogate: murmurhash3_32 cannot encode it
        [[2**63]],  # beyond int64
        [[-(2**63) - 1, 5]],
        [[np.int64(3), 4, np.uint64(2**64 - 1)]],
        [[1, "1"]],  # mixed kinds
        [[True, 2]],  # a bool: the reference rejects it when hashing
        [[1, True, 0], [False]],  # ... unless an int of its value came first
        [[2, False], [0]],
        [[np.True_]],
        [[1.0, 2.0]],
        [[], []],
        [[("a", "b")]],
    ],
)
@pytest.mark.parametrize("encoder", ["vocabulary", "hashing"])
def test_inputs_the_compiled_path_leaves_to_the_reference(docs, encoder):
    if encoder == "vocabulary":
        model = reference(outcome, Vocabulary().fit, [*docs, [1, "a"]])
        if isinstance(model, tuple):
            return
    else:
        model = HashingEncoder(2**20)
    assert_encodes_alike(model, docs)


@pytest.mark.parametrize("docs", [[[True, 2]], [[1, True, 0], [False, 3]], [[2, 0]]])
@pytest.mark.parametrize("n_buckets", [None, 16])
def test_document_encoder_with_bool_tokens(docs, n_buckets):
    params = {"n_buckets": n_buckets, "weighting": "sublinear", "pooling": "sqrtn"}
    fitted = reference(outcome, DocumentEncoder(**params).fit, [[2, 1, 0]])
    assert_same(
        outcome(fitted.pi, docs, np.float64),
        reference(outcome, fitted.pi, docs, np.float64),
    )


@pytest.mark.parametrize(
    "docs",
    [
        [["a\x00b", "", "\x00"], ["", "c"]],  # NULs in tokens: lengths by len()
        [["", ""], [], ["ab", ""]],  # empty tokens between the NULs of the join
    ],
)
def test_str_tokens_with_nuls_and_empty_tokens(docs):
    assert compiled(docs)
    assert_encodes_alike(Vocabulary().fit([["a\x00b", "", "c"]]), docs)
    assert_encodes_alike(HashingEncoder(2**20), docs)
    flat = _encode.flatten(docs, _indptr(docs))
    spans = zip(*flat.spans(), strict=True)
    tokens = [flat.chars[a:b].tobytes().decode("utf-32-le") for a, b in spans]
    assert tokens == list(chain.from_iterable(docs))


def test_int_tokens_of_numpy_types_and_arrays():
    docs = [np.array([3, 1, 4, 1]), [np.int32(5), 9], (2, 6)]
    vocabulary = Vocabulary().fit([[1, 2, 3, 4, 5]])
    assert_encodes_alike(vocabulary, docs)
    assert_encodes_alike(HashingEncoder(1000), docs)
    strs = [np.array(["a", "bc"]), ["bc", np.str_("a")]]
    assert_encodes_alike(Vocabulary().fit([["a"]]), strs)
    assert_encodes_alike(HashingEncoder(1000), strs)


def test_vocabulary_with_keys_only_a_dict_compares():
    # A float key equals an int token in a dict: the compiled path steps aside.
    vocabulary = Vocabulary().fit([[1, 2]])
    vocabulary.token_to_row = {2.0: 0, 1: 1}
    assert_encodes_alike(vocabulary, [[1, 2, 3]])
    assert vocabulary.encode([[2]])[0].tolist() == [0]


def test_compiled_tables_are_rebuilt_not_pickled():
    vocabulary = Vocabulary().fit([["a", "b"], [1]])
    before = vocabulary.encode([["b", "c"], ["a"]])
    assert "_compiled_index" in vocabulary.__dict__
    copy = pickle.loads(pickle.dumps(vocabulary))
    assert "_compiled_index" not in copy.__dict__
    assert_same(copy.encode([["b", "c"], ["a"]]), before)
    assert copy.encode([[1, 7]])[0].tolist() == [2, 3]
    # A refit replaces token_to_row: the tables follow.
    vocabulary.fit([["c"]])
    assert vocabulary.encode([["c", "b"]])[0].tolist() == [0, 1]


def test_murmur_of_long_and_astral_tokens():
    words = ["x" * n for n in range(0, 40)] + ["😀" * 5, "é" * 9, "中文字符" * 3]
    hashed = HashingEncoder(2**31 - 1)
    assert_encodes_alike(hashed, [words])
    ints = [[0, -1, 9, 10, -10, 2**63 - 1, -(2**63), 10**18, -(10**18)]]
    assert_encodes_alike(hashed, ints)


@pytest.mark.parametrize("kind", ["int", "str"])
def test_first_codes_are_dict_fromkeys_order(kind):
    # Thousands of distinct tokens: the table of codes is regrown several times.
    rng = np.random.default_rng(1)
    values = rng.integers(-(2**40), 2**40, size=3000)
    values = np.concatenate([values, rng.choice(values, 6000)])
    tokens = values.tolist() if kind == "int" else [f"t{v}é" for v in values]
    docs = [tokens[i : i + 7] for i in range(0, len(tokens), 7)]
    assert_coded_in_order(_encode.flatten(docs, _indptr(docs)), docs)


# Tokens around the str tables' keys: up to 7 code points, all in 1..255, are
# the key (bytes with the high bit set, 0x01 and 0xff among them); longer
# tokens, other code points and NULs take the hash and a comparison.
PACKING = st.text(
    alphabet=st.sampled_from(
        ["a", "b", "\x01", "\x7f", "\x80", "\xff", "é", "日", "😀", "\x00"]
    ),  # fmt: skip
    max_size=10,
)


@settings(max_examples=200, deadline=None)
@given(
    train=documents(st.one_of(PACKING, FEW_WORDS)),
    test=documents(st.one_of(PACKING, FEW_WORDS)),
    weighting=st.sampled_from(["count", "sublinear"]),
)
def test_str_tables_around_their_keys(train, test, weighting):
    from sknotes._text import read_input

    vocabulary = Vocabulary().fit(train)
    assert_encodes_alike(vocabulary, test)
    for docs in (train, test):
        # Flattened from the list of tokens, and from the checked documents
        # (joined document by document: no list of the tokens is kept).
        checked = read_input(docs)[1]
        for flat in (_encode.flatten(docs, _indptr(docs)), checked.flat):
            assert_coded_in_order(flat, docs)
            expected = reference(vocabulary.encode, docs)[0]
            np.testing.assert_array_equal(
                _encode.lookup_rows(flat, vocabulary), expected, strict=True
            )
        encoder = fitted_alike({"weighting": weighting}, train)
        for dtype in (np.float32, np.float64):
            assert_same(encoder.pi(checked, dtype), reference(encoder.pi, docs, dtype))


def test_str_tables_of_many_short_and_long_tokens():
    # Tens of thousands of distinct tokens of every length up to 12, one byte
    # or four per code point: the tables of codes regrow, and hashed long
    # tokens share slots' neighbourhoods with packed short ones.
    rng = np.random.default_rng(3)
    for alphabet in ("abcdefgh\x80\xff", "ab日😀"):
        letters = np.array(list(alphabet))
        lengths = rng.integers(0, 13, size=30_000)
        words = ["".join(rng.choice(letters, n)) for n in lengths]
        tokens = [words[i] for i in rng.integers(0, len(words), size=60_000)]
        docs = [tokens[i : i + 9] for i in range(0, len(tokens), 9)]
        vocabulary = Vocabulary(min_count=2).fit(docs[: len(docs) // 2])
        assert_encodes_alike(vocabulary, docs)
        assert_coded_in_order(_encode.flatten(docs, _indptr(docs)), docs)
        encoder = fitted_alike({"weighting": "sublinear", "pooling": "sqrtn"}, docs)
        assert_same(encoder.pi(docs), reference(encoder.pi, docs))


class _Color(enum.IntEnum):
    RED = 1
    BLUE = 7


INT_LIKE = st.one_of(
    SMALL_INTS,
    INT64,
    st.integers(2**63, 2**65),
    st.booleans(),
    st.sampled_from([np.int32(3), np.int64(-2), np.uint8(7), np.True_, _Color.BLUE]),
    st.builds(lambda v: _Index(v), SMALL_INTS),
)


@settings(max_examples=300, deadline=None)
@given(docs=documents(INT_LIKE))
def test_int_tokens_are_read_as_the_reference_reads_them(docs):
    # Bools, numpy scalars, IntEnum members, objects with __index__ (no
    # Integral), ints beyond int64: the same form, documents and errors.
    from sknotes._text import read_input

    got = outcome(read_input, docs)
    expected = reference(outcome, read_input, docs)
    if isinstance(expected[0], type):
        assert got == expected
        return
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    if got[0] != "tokens":
        return
    vocabulary = Vocabulary().fit([[-2, 0, 1, 3, 4, 7, 2**40]])
    plain = [list(d) for d in docs]
    assert_same(vocabulary.encode(got[1]), reference(vocabulary.encode, plain))
    hashing = HashingEncoder(2**20)
    assert_same(hashing.encode(got[1]), reference(hashing.encode, plain))
    tokens = list(chain.from_iterable(docs))
    if all(type(t) is int and -(2**63) <= t < 2**63 for t in tokens):
        assert isinstance(got[1], _encode.FlatLists)  # the compiled path's


@pytest.mark.parametrize("high", [31, 2**20, 2**40])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bag_matrix_of_many_documents_and_large_rows(high, dtype):
    # Documents past the short-document sort, repeats, rows beyond int32.
    rng = np.random.default_rng(2)
    lengths = rng.integers(0, 45, size=9000)
    indptr = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = rng.integers(0, high, size=int(indptr[-1]))
    indices[1::3] = indices[::3][: indices[1::3].size]  # repeats in documents
    for pooling in ("sum", "mean"):
        args = indices, indptr, high
        options = {"dtype": dtype, "pooling": pooling}
        assert_same(
            bag_matrix(*args, **options), reference(bag_matrix, *args, **options)
        )


# -- the compiled tokenizer of the default pattern ---------------------------------
# Characters where \w, lowercasing or UTF-32 are subtle: the final sigma (its lower
# case depends on its neighbours), "İ" (lowercases to two code points, the second a
# combining mark), combining marks (not \w: they split words), digits and numbers
# of other scripts, "_", a titlecase letter, ligatures, astral letters and emoji,
# lone surrogates (a str may hold them; they are no word characters).
SUBTLE = ["Σ", "ς", "σ", "İ", "ı", "\u0301", "\u0345", "_", "١", "²", "Ⅻ", "ǅ",
          "ﬁ", "ß", "ẞ", "𝔘", "𐐀", "😀", "\ud800", "\udfff", "\x00", " ", "\n", "-",
          "A", "Z", "a", "z", "0", "9", "é", "É"]  # fmt: skip
RAW_TEXT = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(SUBTLE)), max_size=30
)
ASCII_TEXT = st.text(alphabet=st.sampled_from("aZ_09 .\t-é"), max_size=30)
RAW_DOCS = st.lists(st.one_of(RAW_TEXT, ASCII_TEXT), min_size=0, max_size=8)


def regex_tokens(docs, lowercase):
    """CountVectorizer's tokens: ``re.findall`` of the default pattern."""
    pattern = re.compile(TOKEN_PATTERN)
    return [pattern.findall(doc.lower() if lowercase else doc) for doc in docs]


@settings(max_examples=300, deadline=None)
@given(docs=RAW_DOCS, lowercase=st.booleans())
def test_tokenizer_finds_what_the_regular_expression_finds(docs, lowercase):
    tokens = tokenize(docs, lowercase=lowercase, flat=True)
    assert isinstance(tokens, _encode.FlatDocs)  # the compiled path ran
    expected = regex_tokens(docs, lowercase)
    assert len(tokens) == len(expected)
    assert list(tokens) == expected
    assert all(type(t) is str for doc in tokens for t in doc)
    np.testing.assert_array_equal(_indptr(tokens), _indptr(expected), strict=True)
    assert tokenize(docs, lowercase=lowercase) == expected


@pytest.mark.parametrize(
    ("docs", "expected"),
    [
        # Per document: joined, "ΑΣ" + "Α" would lower its sigma to "σ".
        (["ΑΣ", "Α", "ΟΔΟΣ ΑΣ."], [["ας"], [], ["οδος", "ας"]]),
        # "İ".lower() is "i̇": the combining dot ends no word but is none.
        (["İSTANBUL İİ"], [["stanbul"]]),
        (["a b cc _ __ a_1", "", "x"], [["cc", "__", "a_1"], [], []]),
        (["cafe\u0301s ab\ud800cd 😀ab 𝔘𝔫𝔦"], [["cafe", "ab", "cd", "ab", "𝔘𝔫𝔦"]]),
        (["١٢٣ ²³ ⅫⅫ ǅǅ"], [["١٢٣", "²³", "ⅻⅻ", "ǆǆ"]]),
    ],
)
def test_tokenizer_edge_cases(docs, expected):
    assert regex_tokens(docs, True) == expected  # the cases say what re does
    assert list(tokenize(docs, flat=True)) == expected


def test_word_table_is_python_word_characters():
    # re's \w for str patterns: str.isalnum() or "_", checked over every code point.
    word = _encode.word_table()
    every = np.arange(0x110000, dtype=np.uint32).tobytes()
    every = every.decode("utf-32-le", "surrogatepass")
    expected = np.fromiter((c.isalnum() or c == "_" for c in every), np.bool_)
    np.testing.assert_array_equal(word, expected, strict=True)
    assert _encode.word_table() is word  # built once


def test_other_patterns_and_tokenizers_keep_the_python_path():
    docs = ["Good food", "bad"]
    assert tokenize(docs, token_pattern=r"\w+", flat=True) == [
        ["good", "food"],
        ["bad"],
    ]
    assert tokenize(docs, tokenizer=str.split, flat=True) == [["good", "food"], ["bad"]]
    assert reference(tokenize, docs, flat=True) == [["good", "food"], ["bad"]]
    with pytest.raises(TypeError, match="document 1 is int"):
        tokenize(["a", 1], flat=True)


def test_flat_docs_as_a_sequence():
    tokens = tokenize(["Aa bb", "", "cc dd ee"], flat=True)
    assert len(tokens) == 3
    assert tokens[0] == ["aa", "bb"] and tokens[1] == [] and tokens[-1][2] == "ee"
    assert tokens[1:] == [[], ["cc", "dd", "ee"]]
    assert list(iter(tokens)) == [["aa", "bb"], [], ["cc", "dd", "ee"]]
    for i in (3, -4):
        with pytest.raises(IndexError):
            tokens[i]


@settings(max_examples=150, deadline=None)
@given(docs=ANY_DOCS)
def test_token_counts_are_a_counter(docs):
    counts = _encode.token_counts(docs, _indptr(docs))
    expected = Counter(chain.from_iterable(docs))
    assert repr(counts) == repr(expected)  # keys, their types, counts and order


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(train=RAW_DOCS, test=RAW_DOCS, params=ENCODERS, lowercase=st.booleans())
def test_document_encoder_from_raw_strings(train, test, params, lowercase):
    # The compiled tokenizer's sequence against the regular expression's lists
    # encoded by the reference.
    if params["pooling"] == "concat":
        params.update(ngram_range=(1, 1), char_ngram_range=None,
                      weighting="count", idf=False)  # fmt: skip
    flat = tokenize(train, lowercase=lowercase, flat=True)
    lists = regex_tokens(train, lowercase)
    encoder = outcome(DocumentEncoder(**params).fit, flat)
    expected = reference(outcome, DocumentEncoder(**params).fit, lists)
    if isinstance(expected, tuple):  # lone surrogates cannot be hashed
        assert encoder[0] is expected[0]
        return
    assert_fitted_alike(encoder, expected)
    for docs in (train, test):
        for dtype in (np.float32, np.float64):
            assert_same(
                outcome(
                    encoder.pi, tokenize(docs, lowercase=lowercase, flat=True),
                    dtype, max_length=5,
                ),
                reference(
                    outcome, expected.pi, regex_tokens(docs, lowercase), dtype,
                    max_length=5,
                ),
            )  # fmt: skip


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "params",
    [
        {},  # the defaults: word bigrams and char_wb n-grams on raw strings
        {"ngram_range": (1, 1), "char_wb_ngram_range": None, "weighting": "count"},
        {
            "n_buckets": 512,
            "pooling": "concat",
            "ngram_range": (1, 1),
            "char_wb_ngram_range": None,
        },  # fmt: skip
    ],
)
def test_estimator_from_raw_strings_matches_the_reference(params):
    rng = np.random.default_rng(3)
    words = ["Good", "food", "BAD", "service", "ΟΔΟΣ", "İyi", "café", "x", "a_b"]
    texts = [" ".join(rng.choice(words, rng.integers(0, 9))) for _ in range(120)]
    y = rng.standard_normal(120)
    model = EmbeddingBagRegressor(max_iter=3, random_state=0, **params)
    fitted = model.fit(texts, y)
    expected = reference(lambda: clone(model).fit(texts, y))
    np.testing.assert_array_equal(fitted.embeddings_, expected.embeddings_)
    assert fitted.vocabulary_ == expected.vocabulary_
    np.testing.assert_array_equal(
        fitted.predict(texts[:30]), reference(expected.predict, texts[:30])
    )


# -- the char_wb block ----------------------------------------------------------
# Whitespace that str.split() cuts at besides " " (the separators \x1c-\x1f, the
# next line \x85, no-break and ideographic spaces), and code points of 1 to 4
# UTF-8 bytes.
SPACES = ["\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1f", "\x85", "\xa0",
          "\u2000", "\u2028", "\u3000"]  # fmt: skip
CHAR_TEXT = st.text(
    alphabet=st.one_of(
        st.characters().filter(lambda c: not "\ud800" <= c <= "\udfff"),
        st.sampled_from([s for s in SUBTLE if not "\ud800" <= s <= "\udfff"]),
        st.sampled_from(SPACES),
    ),
    max_size=40,
)
CHAR_DOCS = st.lists(st.one_of(CHAR_TEXT, ASCII_TEXT), min_size=1, max_size=8)


def hashing_vectorizer(docs, ngram_range, n_features, lowercase, dtype):
    """What ``EmbeddingBagRegressor`` used before: scikit-learn's char_wb."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return sp.csr_array(
        HashingVectorizer(
            analyzer="char_wb", ngram_range=ngram_range, n_features=n_features,
            lowercase=lowercase, alternate_sign=False, norm=None, dtype=dtype,
        ).transform(docs)
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    docs=CHAR_DOCS,
    ngram_range=st.sampled_from([(1, 1), (1, 3), (2, 5), (3, 3), (4, 6), (2, 8)]),
    n_features=st.sampled_from([1, 7, 64, 2**16, 2**20, 2**31 - 1]),
    lowercase=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_char_wb_block_is_scikit_learns(docs, ngram_range, n_features, lowercase,
                                        dtype):  # fmt: skip
    arrays = _encode.char_wb_arrays(docs, ngram_range, n_features, lowercase, dtype)
    assert arrays is not None  # the compiled path ran
    expected = hashing_vectorizer(docs, ngram_range, n_features, lowercase, dtype)
    for got, want in zip(
        arrays, (expected.data, expected.indices, expected.indptr), strict=True
    ):
        np.testing.assert_array_equal(got, want, strict=True)


def test_char_wb_of_long_words_and_a_real_corpus():
    # Words longer than the n-grams, one-letter words (shorter than n once
    # padded), runs of whitespace and astral characters, many documents.
    rng = np.random.default_rng(0)
    pieces = ["a", "Zebra", "ünïcödé", "😀😀", "antidisestablishmentarianism",
              "日本語", "\t\n", "  ", "x\u3000y", "İ", "ΟΔΟΣ"]  # fmt: skip
    docs = [" ".join(rng.choice(pieces, rng.integers(0, 30))) for _ in range(500)]
    for lowercase in (True, False):
        arrays = _encode.char_wb_arrays(docs, (2, 5), 2**16, lowercase, np.float64)
        expected = hashing_vectorizer(docs, (2, 5), 2**16, lowercase, np.float64)
        np.testing.assert_array_equal(arrays[0], expected.data, strict=True)
        np.testing.assert_array_equal(arrays[1], expected.indices, strict=True)
        np.testing.assert_array_equal(arrays[2], expected.indptr, strict=True)


@pytest.mark.parametrize(
    "docs", [["ab\ud800cd"], ["ok", 3], []], ids=["surrogate", "not str", "empty"]
)
def test_char_wb_leaves_to_scikit_learn_what_it_does_not_cover(docs):
    # scikit-learn raises for these; the compiled path must not answer.
    assert _encode.char_wb_arrays(docs, (2, 5), 64, True, np.float64) is None
    assert reference(_encode.char_wb_arrays, ["ab"], (2, 5), 64, True, "f8") is None


def test_space_table_is_str_isspace():
    space = _encode.space_table()
    every = np.arange(0x110000, dtype=np.uint32).tobytes()
    every = every.decode("utf-32-le", "surrogatepass")
    np.testing.assert_array_equal(
        space, np.fromiter(map(str.isspace, every), np.bool_), strict=True
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_estimator_char_block_matches_the_reference(dtype):
    texts = ["Good FOOD\tcafé", "", "  ", "😀 ok İyi", "a b c d e f"] * 3
    model = EmbeddingBagRegressor(n_char_buckets=512, max_iter=1, random_state=0)
    model.fit(np.asarray(texts, dtype=object), np.arange(15.0))
    block = model._pi_of_chars(texts, dtype)
    expected = reference(model._pi_of_chars, texts, dtype)
    assert block.has_canonical_format
    for name in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(
            getattr(block, name), getattr(expected, name), strict=True
        )


FLOATS = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -2.5, 1e-300, 3e38, 1e-45]),
    st.floats(-1e6, 1e6, allow_nan=False),
)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.tuples(st.integers(0, 9), FLOATS), max_size=12),
        min_size=1,
        max_size=10,
    ),  # fmt: skip
    norm=st.sampled_from(["l1", "l2"]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_normalize_bag_rows_matches_the_reference(rows, norm, dtype):
    # Duplicates, explicit zeros, empty rows, tiny and huge values.
    indptr = np.cumsum([0] + [len(row) for row in rows])
    entries = [entry for row in rows for entry in row]
    indices = np.array([i for i, _ in entries], dtype=np.int64)
    data = np.array([v for _, v in entries], dtype=dtype)
    P = sp.csr_array((data, indices, indptr), shape=(len(rows), 10))
    got = normalize_bag_rows(P, norm)
    expected = reference(normalize_bag_rows, P, norm)
    np.testing.assert_array_equal(P.data, data)  # the input is not written
    for name in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(
            getattr(got, name), getattr(expected, name), strict=True
        )


WORD_ENCODERS = st.fixed_dictionaries(
    {
        "n_buckets": st.sampled_from([None, 1, 7, 2**20]),
        "weighting": st.sampled_from(["count", "binary", "sublinear"]),
        "idf": st.booleans(),
        "pooling": st.sampled_from(["sum", "mean", "sqrtn"]),
        "min_count": st.integers(1, 3),
        "max_vocabulary": st.sampled_from([None, 3]),
    }
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(train=ANY_DOCS, test=ANY_DOCS, params=WORD_ENCODERS)
def test_weighted_words_take_the_compiled_bag(train, test, params):
    # Weighted words without n-grams skip C·M: the compiled bag must give its
    # entries in its order, OOV tokens and hash collisions summed into one row.
    encoder = fitted_alike(params, train)
    for docs in (train, test):
        for dtype in (np.float32, np.float64):
            expected = reference(outcome, encoder.pi, docs, dtype)
            if (
                compiled(docs)
                and sum(map(len, docs))
                and not isinstance(expected, tuple)
            ):
                assert encoder._compiled_pi(docs, dtype) is not None
            assert_same(outcome(encoder.pi, docs, dtype), expected)


def test_weighted_bag_of_long_documents_and_repeats():
    # Documents past the short-document sort (33 tokens and more), many repeats.
    rng = np.random.default_rng(1)
    docs = [rng.zipf(1.2, size=rng.integers(0, 90)).tolist() for _ in range(60)]
    for params in (
        {"weighting": "sublinear", "pooling": "mean", "min_count": 2},
        {"n_buckets": 5, "weighting": "sublinear", "pooling": "sqrtn", "idf": True},
        {"weighting": "binary", "pooling": "sum"},
        {"weighting": "count", "pooling": "sqrtn"},
    ):
        encoder = fitted_alike(params, docs[:40])
        for dtype in (np.float32, np.float64):
            assert encoder._compiled_pi(docs, dtype) is not None
            assert_same(encoder.pi(docs, dtype), reference(encoder.pi, docs, dtype))


class _Index:
    """An int-like token that is no Integral: array("q") takes it, detection not."""

    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


@pytest.mark.parametrize(
    "X",
    [
        [[1, 2], [3]],
        [["a", "b"], []],
        [("a", "b"), np.array(["c"])],
        [np.array([1, 2]), [np.int32(3), 4]],
        [[1, "a"]],  # mixed kinds: tokens, through the type pass
        [["a\x00b", ""], ["c"]],  # NULs in str tokens
        [["café", "x"], [], ["ÿ"]],  # one byte per code point (latin-1)
        [["日本", "ab"], ["😀"]],  # four
        [["a", "\ud800"]],  # a lone surrogate: no arrays
        [[True, 2]],  # bools are no tokens
        [[1, np.True_]],
        [[1, _Index(2)]],
        [[1.0, 2.0], [3.0, 4.0]],  # a bag matrix as lists
        [[1.0, 2.0], [3.0]],
        [[1, 2**70]],
    ],
)
def test_reading_keeps_the_arrays_of_token_lists_only(X):
    from sknotes._text import read_input, token_lists

    expected = reference(outcome, read_input, X)
    got = outcome(read_input, X)
    if isinstance(expected[0], type):  # an error, the same
        assert got == expected
        return
    form, docs = got
    assert form == expected[0]
    assert (docs is None) == (expected[1] is None) == (form != "tokens")
    if docs is None:
        return
    assert docs == expected[1] == [list(d) for d in X]
    kept = isinstance(docs, _encode.FlatLists)
    assert not isinstance(expected[1], _encode.FlatLists)
    # The arrays are kept exactly when the check found tokens the compiled
    # path covers; then they are those of the tokens.
    assert kept == compiled([list(d) for d in X])
    if kept:
        fresh = _encode.flatten([list(d) for d in X], _indptr(X))
        assert docs.flat.kind == fresh.kind
        for name in ("values", "chars", "starts", "indptr"):
            a, b = getattr(docs.flat, name), getattr(fresh, name)
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)
        assert token_lists(docs) is docs
        assert read_input(docs) == ("tokens", docs)
    # Nothing is left behind for another reading of the same object.
    assert not isinstance(token_lists(X), _encode.FlatLists)


def test_arrays_travel_with_the_documents_they_were_read_from():
    from sknotes._text import read_input, token_lists

    X = [[1, 2], [3]]
    form, docs = read_input(X)
    assert form == "tokens"
    assert isinstance(docs, _encode.FlatLists)
    assert read_input([[1, "a"]])[0] == "tokens"  # another batch, read meanwhile
    X.append([4])  # X changed after it was read: read again, it is new
    vocabulary = Vocabulary().fit([[4, 3, 2, 1]])
    rows, indptr = vocabulary.encode(docs)
    assert rows.tolist() == [3, 2, 1] and indptr.tolist() == [0, 2, 3]
    rows, indptr = vocabulary.encode(token_lists(X))
    assert rows.tolist() == [3, 2, 1, 0] and indptr.tolist() == [0, 2, 3, 4]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("form", ["int", "str"])
@pytest.mark.parametrize(
    "params",
    [
        {"weighting": "count"},
        {"weighting": "sublinear"},
        {"weighting": "sublinear", "n_buckets": 64, "pooling": "sqrtn"},
        {"weighting": "binary", "idf": True, "min_count": 2},
    ],
)
def test_estimator_from_token_lists_matches_the_reference(form, params):
    # fit, partial_fit, predict and transform all read the detected arrays.
    rng = np.random.default_rng(5)
    ids = rng.zipf(1.3, size=(150, 12)) % 300
    docs = [doc[: rng.integers(0, 13)] for doc in ids.tolist()]
    if form == "str":
        docs = [[f"w{t}" for t in doc] for doc in docs]
    y = rng.standard_normal(150)
    model = EmbeddingBagRegressor(
        max_iter=3, random_state=0, ngram_range=(1, 1), **params
    )
    fitted = model.fit(docs[:100], y[:100])
    expected = reference(lambda: clone(model).fit(docs[:100], y[:100]))
    np.testing.assert_array_equal(fitted.embeddings_, expected.embeddings_)
    # Unseen tokens (OOV or new buckets) among the last 50 documents.
    for method in ("predict", "transform"):
        np.testing.assert_array_equal(
            getattr(fitted, method)(docs[100:]),
            reference(getattr(expected, method), docs[100:]),
        )
    fitted.partial_fit(docs[100:], y[100:])
    reference(expected.partial_fit, docs[100:], y[100:])
    np.testing.assert_array_equal(fitted.embeddings_, expected.embeddings_)


# -- pinned by mutation testing (benchmarks/mutation.py _encode) -------------------


def test_str_tokens_flatten_by_joining_with_empty_documents_left_out():
    pytest.importorskip("numba")
    docs, indptr = [["ab", "c"], [], ["d"]], np.array([0, 2, 2, 3])
    flat = _encode.flat_of_strs(docs, indptr)
    assert flat is not None and flat.kind == "str"
    assert bytes(flat.joined) == b"ab\x00c\x00d"


def test_weighted_bag_gives_int64_index_arrays():
    docs, indptr = [["a", "b", "a"], ["c"], []], np.array([0, 3, 4, 4])
    flat = _encode.flatten(docs, indptr)
    _, first = _encode.first_codes(flat)
    arrays = _encode.weighted_bag(
        flat, np.arange(len(first)), len(first), np.float64, "count", "sum"
    )
    if arrays is None:
        pytest.skip("no compiled encoder")
    data, indices, out_indptr = arrays
    assert indices.dtype == out_indptr.dtype == np.int64
    assert out_indptr.tolist() == [0, 2, 3, 3] and indices.tolist() == [1, 0, 2]
    assert data.tolist() == [1.0, 2.0, 1.0]


def test_int_tokens_are_ints_but_not_bools():
    assert _encode._int_type(int) and _encode._int_type(np.int32)
    assert not _encode._int_type(bool) and not _encode._int_type(np.bool_)
    assert not _encode._int_type(str)


def test_code_point_table_marks_what_the_pattern_finds(monkeypatch):
    monkeypatch.setattr(_encode, "_TABLES", {})  # built here, not found cached
    table = _encode._code_point_table(r"[b-d\u00e9]")
    assert np.flatnonzero(table).tolist() == [ord(c) for c in "bcdé"]
    assert table.dtype == np.bool_  # 1.1 MB per pattern: a byte per code point


def test_str_table_is_the_smallest_power_of_two_at_least_twice_the_keys():
    assert [_encode._table_size(n) for n in (0, 4, 5, 8, 9)] == [8, 8, 16, 16, 32]


def test_str_hash_spreads_over_the_high_bits():
    # The tables index by the high bits: every token in one slot would make each
    # lookup a scan.
    tokens = [f"t{i}" for i in range(256)]
    chars = np.array([ord(c) for c in "".join(tokens)], np.uint32)
    stops = np.cumsum([len(t) for t in tokens])
    starts = stops - np.array([len(t) for t in tokens])
    bounds = zip(starts, stops, strict=True)
    with np.errstate(over="ignore"):
        top = {int(_encode._chars_hash(chars, a, b)) >> 58 for a, b in bounds}
    assert len(top) >= 32


# -- the dense int tables, the marks, the chunked join (issue 14) ------------------


def test_ints_are_read_in_two_passes_or_left_to_the_next_reader():
    indptr = np.array([0, 0, 2, 3])
    flat = _encode.flat_of_ints([[], [5, -(2**63)], [2**63 - 1]], indptr)
    assert flat.kind == "int"
    assert flat.values.tolist() == [5, -(2**63), 2**63 - 1]
    assert flat.values.dtype == np.int64 and flat.indptr is indptr
    # Only exact ints that fit: the first token decides, then every token's type.
    for docs in ([["a"], [1], [2]], [[], [1, True], [2]], [[], [1, np.int64(2)], [3]],
                 [[], [1, 2**63], [3]], [[], [1, 2.0], [3]]):  # fmt: skip
        assert _encode.flat_of_ints(docs, indptr) is None
    assert _encode.flat_of_ints([[], [], []], np.zeros(4, np.int64)) is None


@pytest.mark.parametrize(
    "keys",
    [
        list(range(-5, 300)),  # ids: a table by offset
        [-(2**63), 0, 7, 2**63 - 1],  # spread: the hash table
        [2**40 + i for i in range(0, 900, 3)],  # dense far from 0
    ],
)
def test_int_lookup_by_offset_or_hash_agrees_with_the_dict(keys):
    vocabulary = Vocabulary().fit([keys])
    index = _encode._index_of(vocabulary)
    dense = max(keys) - min(keys) < 4 * len(keys) + 2**16
    assert (index.int_direct is not None) == dense
    probes = [k + d for k in keys for d in (-1, 0, 1) if -(2**63) <= k + d < 2**63]
    probes += [-(2**63), 2**63 - 1, min(keys) - 2**62, max(keys) + 2**62]
    docs = [[p for p in probes if -(2**63) <= p < 2**63]]
    assert_encodes_alike(vocabulary, docs)
    rows, _ = vocabulary.encode(docs)
    expected = [vocabulary.token_to_row.get(p, vocabulary.oov_row) for p in docs[0]]
    assert rows.tolist() == expected


def test_int_lookup_by_offset_runs_as_python_too(monkeypatch):
    # Mutation runs swap the compiled loops for plain Python: below zero the
    # offset table's np.uint64 arithmetic must wrap there as it does in numba.
    keys = list(range(-5, 300))
    docs = [[-7, -6, -5, -1, 0, 299, 300, -(2**63), 2**63 - 1]]
    vocabulary = Vocabulary().fit([keys])
    compiled, _ = vocabulary.encode(docs)
    python_loops = _encode._Compiled(
        types.SimpleNamespace(njit=lambda **options: lambda loop: loop)
    )
    monkeypatch.setattr(_encode, "_KERNELS", python_loops)
    vocabulary = Vocabulary().fit([keys])
    assert _encode._index_of(vocabulary).int_direct is not None
    as_python, _ = vocabulary.encode(docs)
    oov = vocabulary.oov_row
    expected = [oov, oov, 0, 4, 5, 304] + [oov] * 3
    assert as_python.tolist() == compiled.tolist() == expected


@pytest.mark.parametrize("span", [1, 50, 10**6, 2**62])
def test_int_codes_by_offset_or_hash_are_first_appearance_codes(span):
    rng = np.random.default_rng(span % 1000)
    keys = rng.integers(0, span, size=3000) - span // 2
    codes, first = _encode.int_codes(keys)
    distinct = list(dict.fromkeys(keys.tolist()))
    assert keys[first].tolist() == distinct
    code_of = {k: c for c, k in enumerate(distinct)}
    assert codes.tolist() == [code_of[k] for k in keys.tolist()]


@pytest.mark.parametrize("n_rows", [40, 400, 2**20])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bag_matrix_by_marks_of_many_distinct_rows(n_rows, dtype):
    # Rows of up to 120 tokens, most distinct (past the rank sort of 32), with
    # repeats; n_rows small next to the batch (marks) and large (the sort).
    rng = np.random.default_rng(n_rows)
    lengths = rng.integers(0, 120, size=300)
    indptr = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = rng.integers(0, n_rows, size=int(indptr[-1]))
    indices[::5] = indices[1::5][: indices[::5].size]
    for pooling in ("sum", "mean"):
        args, options = (indices, indptr, n_rows), {"dtype": dtype, "pooling": pooling}
        assert_same(
            bag_matrix(*args, **options), reference(bag_matrix, *args, **options)
        )


def test_bag_matrix_of_rows_beyond_its_columns_is_the_sorts():
    # An index outside [0, n_rows) stops the marks (they have no entry for it):
    # the sort gives its arrays, as before.
    indptr = np.array([0, 3, 5])
    for indices in ([0, 9, 9, 1, 2], [0, -1, 1, 2, 2]):
        indices = np.array(indices)
        k = _encode._kernels()
        out = np.empty(5), np.empty(5, np.int64), np.empty(3, np.int64)
        assert k.bag_distinct(indices, indptr, np.ones(2), 3, *out) == -1
        arrays = _encode.bag_arrays(indices, indptr, np.float64, False, 3)
        data, got, got_indptr = arrays
        assert got.tolist() == sorted(set(indices[:3].tolist())) + sorted(
            set(indices[3:].tolist())
        )
        assert data.tolist() == [
            indices[a:b].tolist().count(i) for a, b in ((0, 3), (3, 5))
            for i in sorted(set(indices[a:b].tolist()))
        ]  # fmt: skip
        assert got_indptr.tolist() == [0, len(set(indices[:3].tolist())), 4]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weighted_bag_sums_terms_that_share_a_row_only(dtype):
    # OOV tokens share the OOV row; hashed tokens may share a bucket: those
    # rows are summed, every other row written as its term's weight.
    train = [["a", "b", "c"], ["d", "a"]]
    test = [["x", "a", "y", "x"], ["a", "b"], ["z"], [], ["b", "q", "q", "b"]]
    for params in (
        {"weighting": "sublinear", "pooling": "mean"},
        {"weighting": "binary", "pooling": "sqrtn", "idf": True},
        {"n_buckets": 3, "weighting": "sublinear", "pooling": "sum"},
    ):
        encoder = fitted_alike(params, train)
        got = encoder._compiled_pi(test, dtype)
        assert got is not None
        assert_same(got, reference(encoder.pi, test, dtype))
    encoder = fitted_alike({"weighting": "sublinear", "pooling": "sum"}, train)
    row = encoder.pi(test, dtype)[[0]]
    oov = encoder.oov_row
    # "x" twice and "y" once, weighted apart and summed: (1 + ln 2) + 1.
    expected = np.array(1 + np.log(dtype(2)), dtype) + dtype(1)
    assert row[0, oov] == expected
    # Rows listed from the last one touched, terms in order of first appearance
    # (x: the OOV row, a, y: the OOV row again).
    assert row.indices.tolist() == [encoder.token_to_row["a"], oov]


@pytest.mark.parametrize("step", [1, 2, 3, 1024])
def test_str_documents_are_joined_in_chunks(monkeypatch, step):
    from sknotes._text import read_input

    monkeypatch.setattr(_encode, "_JOIN_STEP", step)
    docs = [[], ["ab", "c"], [], [], ["d"], ["é", "日本"], [], ["", "x"], [""], []]
    indptr = _indptr(docs)
    flat = _encode.flat_of_strs(docs, indptr)
    expected = "\x00".join(chain.from_iterable(docs))
    assert flat.joined.tobytes() == expected.encode("utf-32-le")
    assert flat.indptr is indptr
    _, checked = read_input(docs)
    assert checked.flat.joined.tobytes() == expected.encode("utf-32-le")
    latin = [[], ["ab"], [], ["c", "ÿ"]]
    joined = _encode.flat_of_strs(latin, _indptr(latin)).joined
    assert joined.dtype == np.uint8 and joined.tobytes() == b"ab\x00c\x00\xff"
    assert _encode.flat_of_strs([["a"], [], ["b", 1]], np.array([0, 1, 1, 3])) is None


def _recording_argument_dtypes(monkeypatch, name):
    """Replace kernel ``name`` by a wrapper that records, per call, the dtype of
    each array argument; return the list of records."""
    kernels = _encode._kernels()
    kernel, calls = getattr(kernels, name), []

    def recording(*args):
        calls.append(tuple(a.dtype for a in args if isinstance(a, np.ndarray)))
        return kernel(*args)

    monkeypatch.setattr(kernels, name, recording)
    return calls


def test_placeholder_arrays_have_the_dtypes_of_the_arrays_they_stand_for(
    monkeypatch,
):
    # A path passes a kernel an array it never reads (int_codes: chars and
    # starts; lookup_rows of NUL-joined tokens: starts and stops) where the
    # other path passes a real one.  numba compiles a kernel once per set of
    # argument types: a placeholder of another dtype would compile it again,
    # and float starts could not index the code points.
    first_codes = _recording_argument_dtypes(monkeypatch, "first_codes")
    ints = [[7, 3, 7], [3, -(2**40)]]  # spread apart: coded by the hash table
    _encode.first_codes(_encode.flatten(ints, _indptr(ints)))
    strs = [["ab", "c"], ["ab", "日本"]]
    split = _encode.flat_of_strs(strs, _indptr(strs))
    assert split.chars.shape == (7,)  # split: first_codes reads chars, starts
    _encode.first_codes(split)
    int64 = np.dtype(np.int64)
    assert first_codes == [(int64, np.dtype(np.uint32), int64, int64)] * 2

    lookup_str = _recording_argument_dtypes(monkeypatch, "lookup_str")
    vocabulary = Vocabulary().fit(strs)
    joined = _encode.flat_of_strs(strs, _indptr(strs))
    rows = _encode.lookup_rows(joined, vocabulary)
    assert joined._chars is None  # read in the joined chars, not split for it
    at = np.arange(4)
    np.testing.assert_array_equal(_encode.lookup_rows(joined, vocabulary, at=at), rows)
    assert len(lookup_str) == 2
    for call in lookup_str:
        starts, stops = call[1:3]
        assert starts == stops == int64


def test_str_hash_is_fnv_1a_then_murmur3_mixing():
    # The documented hash, written out in Python's integers.
    def expected(token):
        h = 0xCBF29CE484222325
        for c in token:
            h = ((h ^ ord(c)) * 0x100000001B3) % 2**64
        h ^= h >> 33
        h = (h * 0xFF51AFD7ED558CCD) % 2**64
        return h ^ (h >> 33)

    for token in ["", "a", "good", "日本😀", "t" * 40]:
        chars = np.array([ord(c) for c in token], np.uint32)
        with np.errstate(over="ignore"):
            got = _encode._chars_hash(chars, 0, len(token))
        assert int(got) == expected(token)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_bags_and_norms_cover_float_rows(dtype):
    # The compiled path takes the float dtypes (the reference runs otherwise),
    # and hands back index arrays of the dtype scipy keeps without a copy.
    indices = np.array([3, 1, 3, 0], np.int64)
    data, out_indices, indptr = _encode.bag_arrays(indices, [0, 3, 4], dtype, False)
    assert (data.dtype, out_indices.dtype, indptr.dtype) == (dtype, np.int64, np.int64)
    assert indptr.tolist() == [0, 2, 3]
    assert _encode.normalize_rows(data, indptr, False) is True
    np.testing.assert_array_equal(data, np.array([1 / 3, 2 / 3, 1], dtype))
    assert _encode.normalize_rows(np.ones(3, np.int64), indptr, False) is False
