"""Text handling: tokenization, input forms, vocabulary, stable hashing and the Π's."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils import murmurhash3_32

from sknotes._text import (
    TOKEN_PATTERN,
    DocumentEncoder,
    HashingEncoder,
    Vocabulary,
    _ngram_name,  # noqa: PLC2701
    as_documents,
    bag_matrix,
    char_ngrams,
    load_embeddings,
    normalize_bag_rows,
    position_matrix,
    read_input,
    read_vec,
    smooth_idf,
    stable_hash,
    tokenize,
    weigh_bag,
)
from tests.hash_seeds import stable_hash_and_vocabulary

DOCS = [["good", "food", "good"], [], ["slow", 7, "service", "good"], ["food"]]
TOKENS = st.one_of(st.text(max_size=6), st.integers(-(2**70), 2**70))


def _random_encoding(rng, n_docs, n_rows, max_len=6):
    lengths = rng.integers(0, max_len, size=n_docs)
    lengths[0] = 0  # always at least one empty document
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    return rng.integers(0, n_rows, size=indptr[-1]), indptr, lengths


# -- tokenize ------------------------------------------------------------------
def test_tokenize_matches_count_vectorizer():
    texts = [
        "Good food, GOOD service!",
        "Café crème brûlée — très bon",
        "a b cd 12 x_y",
        "Ünïcödé ΣΊΣΥΦΟΣ 東京タワー  tabs\tand\nnewlines",
        "",
    ]
    analyzer = CountVectorizer().build_analyzer()
    assert tokenize(texts) == [analyzer(t) for t in texts]
    assert tokenize(tuple(texts)) == [analyzer(t) for t in texts]
    cased = CountVectorizer(lowercase=False, token_pattern=r"\S+").build_analyzer()
    assert tokenize(texts, lowercase=False, token_pattern=r"\S+") == [
        cased(t) for t in texts
    ]
    assert TOKEN_PATTERN == CountVectorizer().token_pattern


def test_tokenize_custom_tokenizer_sees_lowercased_text():
    seen = []

    def tokenizer(text):
        seen.append(text)
        return iter(text.split("-"))  # any iterable is accepted

    assert tokenize(["A-b", "C"], tokenizer=tokenizer) == [["a", "b"], ["c"]]
    assert seen == ["a-b", "c"]
    assert tokenize(["A-b"], tokenizer=tokenizer, lowercase=False) == [["A", "b"]]


def test_tokenize_rejects_non_strings():
    with pytest.raises(TypeError, match="document 1 is int"):
        tokenize(["ok", 3])
    with pytest.raises(TypeError, match="document 0 is list"):
        tokenize([["already", "tokens"]])


# -- read_input's form ---------------------------------------------------------
@pytest.mark.parametrize(
    "X, form",
    [
        (DOCS, "tokens"),
        ([("a", "b"), ()], "tokens"),
        ([np.array(["a", "b"]), np.array([1, 2])], "tokens"),
        ([[np.int64(3), 4], [5]], "tokens"),
        ([[1, 2], [3, 4]], "tokens"),  # ints are tokens, even in a rectangle
        ([[], []], "tokens"),
        (np.array([["a", "b"], ["c", "d"]]), "tokens"),
        (["a text", "another"], "strings"),
        (("a text",), "strings"),
        (np.array(["a text", "b"], dtype=object), "strings"),
        (np.array(["a text", "b"]), "strings"),
        (np.array([["a"], ["b", "c"]], dtype=object), "tokens"),
        (sp.csr_array(np.eye(2)), "bag"),
        (sp.csr_matrix(np.eye(2)), "bag"),
        (sp.coo_array(np.eye(2)), "bag"),
        (np.ones((3, 2)), "bag"),
        (np.ones((3, 2), dtype=np.int32), "bag"),
        (np.ones((3, 2), dtype=bool), "bag"),
        (np.ones((3, 2), dtype=object), "bag"),
        ([[0.5, 1.0], [2.0, 3.0]], "bag"),  # a float matrix's .tolist()
        ([[0.5, 1], [2, 3]], "bag"),
    ],
)
def test_read_input_form(X, form):
    assert read_input(X)[0] == form


def test_detect_input_form_pandas():
    pd = pytest.importorskip("pandas")
    assert read_input(pd.Series(["a text", "b"]))[0] == "strings"
    assert read_input(pd.Series([["a"], ["b", "c"]]))[0] == "tokens"
    assert read_input(pd.DataFrame({"a": [1.0, 2.0], "b": [0, 1]}))[0] == "bag"
    # One column of texts is the documents (df[["text"]]), not rows of tokens.
    assert read_input(pd.DataFrame({"text": ["a b", "c"]}))[0] == "strings"
    with pytest.raises(TypeError, match="data frame"):
        read_input(pd.DataFrame({"text": ["a b", "c"], "other": ["d", "e"]}))[0]


@pytest.mark.parametrize("X", [[], (), np.array([], dtype=object)])
def test_detect_input_form_empty(X):
    with pytest.raises(ValueError, match="0 documents.*minimum of 1"):
        read_input(X)[0]


@pytest.mark.parametrize(
    "X, error, match",
    [
        ("one string", TypeError, "got str"),
        (b"bytes", TypeError, "got bytes"),
        (None, TypeError, "got NoneType"),
        ({"a": ["b"]}, TypeError, "got dict"),
        ({"a", "b"}, TypeError, "got set"),
        ((doc for doc in DOCS), TypeError, "got generator"),
        (np.array("text"), TypeError, "0-D"),
        (np.ones((2, 2, 2)), ValueError, "3 dimensions"),
        (["text", ["tokens"]], TypeError, "list, str"),
        ([1, 2, 3], TypeError, "sequence of int"),
        ([["a", 1.5]], TypeError, "str or int; got float in document 0"),
        ([["a"], [0.5, 1.0, 2.0]], TypeError, "got float in document 1"),
        ([["a"], ["b", ["nested"]]], TypeError, "got list in document 1"),
        ([["a", True]], TypeError, "got bool in document 0"),
        ([["a", None]], TypeError, "got NoneType in document 0"),
        ([np.array([["a"]])], ValueError, "Document 0 must be 1-D"),
    ],
)
def test_detect_input_form_errors(X, error, match):
    with pytest.raises(error, match=match):
        read_input(X)[0]


# -- stable_hash ---------------------------------------------------------------
@pytest.mark.xdist_group("hash_seeds")
def test_stable_hash_and_vocabulary_are_the_same_in_every_process(other_hash_seeds):
    """Neither depends on Python's str hash (PYTHONHASHSEED): the same buckets, and
    the same vocabulary order among tied counts, in processes with other seeds."""
    here = stable_hash_and_vocabulary()
    assert here[1] == ["z", "y", "x", "w"]
    assert sorted(other_hash_seeds) == ["0", "1", "4242"]
    for seed, outputs in other_hash_seeds.items():
        assert outputs["hash_and_vocabulary"] == here, f"PYTHONHASHSEED={seed}"


def test_stable_hash_definition_and_token_kinds():
    # "service" and "fast" hash above 2³¹: their signed hash modulo 97 differs.
    words = ["good", "food", "émoji🙂", "", "service", "fast"]
    unsigned = [murmurhash3_32(w, seed=0, positive=True) for w in words]
    assert max(unsigned) >= 2**31
    expected = [h % 97 for h in unsigned]
    np.testing.assert_array_equal(stable_hash(words, 97), expected)
    assert stable_hash(words, 97).dtype == np.int64
    # An int is not its string; numpy scalars are the same tokens as Python ones.
    assert stable_hash([1], 2**31)[0] != stable_hash(["1"], 2**31)[0]
    np.testing.assert_array_equal(
        stable_hash([np.int64(7), np.str_("good")], 1000),
        stable_hash([7, "good"], 1000),
    )
    np.testing.assert_array_equal(
        stable_hash(np.array(["a", "bb"]), 50), stable_hash(["a", "bb"], 50)
    )
    np.testing.assert_array_equal(
        stable_hash(iter(["a", "bb"]), 50), stable_hash(["a", "bb"], 50)
    )
    assert stable_hash([], 5).shape == (0,)
    with pytest.raises(TypeError, match="str or int; got float"):
        stable_hash(["a", 1.5], 10)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_buckets"):
            stable_hash(["a"], bad)


@settings(max_examples=50, deadline=None)
@given(st.lists(TOKENS, max_size=30), st.integers(1, 2**40))
def test_stable_hash_range_and_per_token(tokens, n_buckets):
    buckets = stable_hash(tokens, n_buckets)
    assert buckets.shape == (len(tokens),)
    assert ((buckets >= 0) & (buckets < n_buckets)).all()
    # Deduplicating distinct tokens must not change any token's bucket.
    one_by_one = [stable_hash([t], n_buckets)[0] for t in tokens]
    np.testing.assert_array_equal(buckets, one_by_one)


# -- Vocabulary ----------------------------------------------------------------
def test_vocabulary_order_and_oov():
    vocab = Vocabulary().fit(DOCS)
    assert vocab.tokens == ["good", "food", "slow", 7, "service"]  # first appearance
    assert vocab.token_to_row == {t: i for i, t in enumerate(vocab.tokens)}
    assert vocab.oov_row == vocab.n_known == 5 and vocab.n_rows == 6
    assert vocab.n_oov_tokens_seen_in_fit == 0
    indices, indptr = vocab.encode([["food", "unseen", 7, "7"], [], ("good",)])
    np.testing.assert_array_equal(indices, [1, 5, 3, 5, 0])
    np.testing.assert_array_equal(indptr, [0, 4, 4, 5])
    assert indices.dtype == indptr.dtype == np.int64


def test_vocabulary_min_count_and_max_vocabulary():
    docs = [["b", "a", "c"], ["a", "c", "d"], ["d", "c", "e"], ["b"]]
    # counts: b 2, a 2, c 3, d 2, e 1
    frequent = Vocabulary(min_count=2).fit(docs)
    assert frequent.tokens == ["b", "a", "c", "d"]
    assert frequent.n_oov_tokens_seen_in_fit == 1
    # Top 2: c (3), then b wins the tie with a and d by appearing first; rows stay
    # in first-appearance order.
    top = Vocabulary(max_vocabulary=2).fit(docs)
    assert top.tokens == ["b", "c"]
    assert top.n_oov_tokens_seen_in_fit == 2 + 2 + 1
    both = Vocabulary(min_count=3, max_vocabulary=2).fit(docs)
    assert both.tokens == ["c"] and both.oov_row == 1
    indices, _ = top.encode(docs)
    assert (indices == top.oov_row).sum() == top.n_oov_tokens_seen_in_fit
    for bad in ({"min_count": 0}, {"max_vocabulary": 0}, {"min_count": 1.5}):
        with pytest.raises(ValueError, match="positive integer"):
            Vocabulary(**bad).fit(docs)


def test_vocabulary_on_empty_documents():
    vocab = Vocabulary().fit([[], []])
    assert vocab.tokens == [] and vocab.n_known == 0 and vocab.oov_row == 0
    assert vocab.n_rows == 1 and vocab.n_oov_tokens_seen_in_fit == 0
    indices, indptr = vocab.encode([["a"], [], ["b", "c"]])
    np.testing.assert_array_equal(indices, [0, 0, 0])
    np.testing.assert_array_equal(indptr, [0, 1, 1, 3])
    indices, indptr = vocab.encode([[]])
    assert indices.shape == (0,)
    np.testing.assert_array_equal(indptr, [0, 0])


# -- HashingEncoder ------------------------------------------------------------
def test_hashing_encoder():
    encoder = HashingEncoder(16)
    indices, indptr = encoder.encode(DOCS)
    np.testing.assert_array_equal(indptr, [0, 3, 3, 7, 8])
    np.testing.assert_array_equal(
        indices, stable_hash([t for d in DOCS for t in d], 16)
    )
    assert indices[0] == indices[2] == indices[6]  # "good" everywhere
    assert encoder.n_rows == 16
    indices, indptr = encoder.encode([[], []])
    assert indices.shape == (0,)
    np.testing.assert_array_equal(indptr, [0, 0, 0])
    with pytest.raises(ValueError, match="n_buckets"):
        HashingEncoder(0).encode(DOCS)


# -- bag_matrix ----------------------------------------------------------------
@pytest.mark.parametrize("pooling", ["sum", "mean"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bag_matrix_equals_a_dense_reference(pooling, dtype):
    rng = np.random.default_rng(0)
    indices, indptr, lengths = _random_encoding(rng, 30, 9)
    before = indices.copy(), indptr.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # empty documents: no division warning
        bag = bag_matrix(indices, indptr, 9, dtype=dtype, pooling=pooling)
    reference = np.zeros((30, 9))
    np.add.at(reference, (np.repeat(np.arange(30), lengths), indices), 1.0)
    if pooling == "mean":
        reference /= np.maximum(lengths, 1)[:, None]
    assert isinstance(bag, sp.csr_array) and bag.shape == (30, 9)
    assert bag.dtype == dtype
    np.testing.assert_allclose(bag.toarray(), reference, rtol=1e-6)
    assert bag.has_canonical_format and bag.nnz == np.count_nonzero(reference)
    assert bag.indices.dtype in (np.int32, np.int64)
    assert bag[[0]].nnz == 0  # the empty document
    np.testing.assert_array_equal(indices, before[0])  # the caller's arrays are kept
    np.testing.assert_array_equal(indptr, before[1])
    product = bag.T @ np.ones((30, 2))
    assert type(product) is np.ndarray and product.shape == (9, 2)


def test_bag_matrix_small_example():
    # doc 0 = [2, 0, 2], doc 1 = [], doc 2 = [1]
    indices, indptr = np.array([2, 0, 2, 1]), np.array([0, 3, 3, 4])
    np.testing.assert_array_equal(
        bag_matrix(indices, indptr, 3).toarray(), [[1, 0, 2], [0, 0, 0], [0, 1, 0]]
    )
    np.testing.assert_allclose(
        bag_matrix(indices, indptr, 3, pooling="mean").toarray(),
        [[1 / 3, 0, 2 / 3], [0, 0, 0], [0, 1, 0]],
    )
    with pytest.raises(ValueError, match="pooling"):
        bag_matrix(indices, indptr, 3, pooling="concat")


# -- normalize_bag_rows --------------------------------------------------------
@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize(
    "container",
    [np.asarray, np.asmatrix, sp.csr_matrix, sp.csr_array, sp.coo_array, sp.csc_array],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_bag_rows(container, dtype):
    X = np.array([[1.0, -3.0, 0.0], [0.0, 0.0, 0.0], [2.0, 2.0, 4.0]], dtype=dtype)
    P_in = container(X)
    original = P_in.copy()
    P = normalize_bag_rows(P_in)
    expected = np.array([[0.25, -0.75, 0], [0, 0, 0], [0.25, 0.25, 0.5]])
    assert isinstance(P, sp.csr_array) and P.dtype == dtype
    np.testing.assert_allclose(P.toarray(), expected, rtol=1e-6)
    assert type(P.T @ np.ones((3, 1))) is np.ndarray
    # The input is untouched.
    if sp.issparse(P_in):
        np.testing.assert_array_equal(P_in.toarray(), original.toarray())
    else:
        np.testing.assert_array_equal(P_in, original)


def test_normalize_bag_rows_dtypes_and_edge_cases():
    counts = sp.csr_array(np.array([[1, 3], [0, 0]], dtype=np.int64))
    P = normalize_bag_rows(counts)
    assert P.dtype == np.float64 and counts.dtype == np.int64
    np.testing.assert_allclose(P.toarray(), [[0.25, 0.75], [0, 0]])
    assert normalize_bag_rows(np.array([[True, True]])).dtype == np.float64
    # Explicit zeros make no division by zero; duplicates of opposite sign cancel
    # before taking absolute values.
    explicit = sp.csr_array(
        (np.array([0.0, 2.0, -1.0, 3.0]), np.array([0, 0, 0, 1]), np.array([0, 1, 4])),
        shape=(2, 2),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = normalize_bag_rows(explicit)
    np.testing.assert_allclose(P.toarray(), [[0, 0], [0.25, 0.75]])
    np.testing.assert_array_equal(explicit.data, [0.0, 2.0, -1.0, 3.0])
    # Trailing empty rows are fine too.
    P = normalize_bag_rows(sp.csr_array(np.array([[2.0, 2.0], [0, 0], [0, 0]])))
    np.testing.assert_allclose(P.toarray(), [[0.5, 0.5], [0, 0], [0, 0]])
    with pytest.raises(ValueError, match="2-D"):
        normalize_bag_rows(np.ones(3))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_normalize_bag_rows_random(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((8, 5)) * (rng.random((8, 5)) < 0.4)
    P = normalize_bag_rows(sp.csr_array(X)).toarray()
    norms = np.abs(X).sum(axis=1)
    np.testing.assert_allclose(np.abs(P).sum(axis=1), (norms > 0).astype(float))
    np.testing.assert_allclose(
        P * np.where(norms > 0, norms, 1)[:, None], X, atol=1e-12
    )


# -- position_matrix -----------------------------------------------------------
def test_position_matrix_small_example():
    indices = np.array([3, 1, 2, 0, 4, 4])
    indptr = np.array([0, 3, 3, 6])  # lengths 3, 0, 3
    P = position_matrix(indices, indptr, 5, 2)
    assert isinstance(P, sp.csr_array) and P.shape == (6, 5)
    expected = np.zeros((6, 5))
    expected[0, 3] = expected[1, 1] = 1  # doc 0 truncated to 2 tokens
    expected[4, 0] = expected[5, 4] = 1  # doc 1 is padding only (rows 2, 3)
    np.testing.assert_array_equal(P.toarray(), expected)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="max_length"):
            position_matrix(indices, indptr, 5, bad)


@pytest.mark.parametrize("max_length", [1, 3, 8])
def test_position_matrix_equals_a_reference(max_length):
    rng = np.random.default_rng(1)
    indices, indptr, lengths = _random_encoding(rng, 25, 7, max_len=6)
    P = position_matrix(indices, indptr, 7, max_length, dtype=np.float32)
    assert P.shape == (25 * max_length, 7) and P.dtype == np.float32
    reference = np.zeros((25 * max_length, 7), dtype=np.float32)
    for i in range(25):
        for j, row in enumerate(indices[indptr[i] : indptr[i + 1]][:max_length]):
            reference[i * max_length + j, row] = 1
    np.testing.assert_array_equal(P.toarray(), reference)
    counts = np.diff(P.indptr)
    assert counts.max() <= 1  # one-hot rows; padding rows hold nothing
    np.testing.assert_array_equal(
        counts.reshape(25, max_length).sum(axis=1), np.minimum(lengths, max_length)
    )
    # Π·Table stacks each document's token vectors, zero-padded: the notes' layout.
    table = rng.standard_normal((7, 3))
    stacked = (P @ table).reshape(25, max_length * 3)
    i = int(np.argmax(lengths))
    n = min(lengths[i], max_length)
    expected = np.zeros(max_length * 3)
    expected[: n * 3] = table[indices[indptr[i] : indptr[i] + n]].ravel()
    np.testing.assert_allclose(stacked[i], expected, rtol=1e-6)
    assert type(P.T @ np.ones((25 * max_length, 2))) is np.ndarray


# -- rough edges of text input -------------------------------------------------
def test_one_column_of_texts_is_documents():
    pd = pytest.importorskip("pandas")
    texts = ["Good food", "slow service", "ok"]
    for X in (
        np.array(texts, dtype=object)[:, None],
        np.array(texts)[:, None],
        pd.DataFrame({"text": texts}),
        pd.DataFrame({"text": pd.Series(texts, dtype="string")}),
    ):
        assert read_input(X)[0] == "strings"
        assert list(as_documents(X)) == texts
    numbers = np.ones((3, 1), dtype=object)
    assert read_input(numbers)[0] == "bag"
    assert as_documents(numbers) is numbers


@pytest.mark.parametrize(
    "X, row, shown",
    [
        (["a text", None, "b"], 1, "None"),
        ([["a"], ["b"], np.nan], 2, "nan"),
        ([None, None], 0, "None"),
    ],
)
def test_missing_documents_are_named(X, row, shown):
    with pytest.raises(ValueError, match=f"Document {row} is missing \\({shown}\\)"):
        read_input(X)[0]


def test_missing_documents_in_pandas():
    pd = pytest.importorskip("pandas")
    for series in (
        pd.Series(["a", np.nan, "b"]),
        pd.Series(["a", None, "b"], dtype="string"),
    ):
        with pytest.raises(ValueError, match="Document 1 is missing"):
            read_input(series)[0]
    with pytest.raises(ValueError, match="Document 0 is missing"):
        read_input(pd.DataFrame({"text": [None, "b"]}))[0]
    # Numbers among texts are a wrong type, not missing texts.
    with pytest.raises(TypeError, match="float, str"):
        read_input(["a", 1.5])[0]


def test_tokenizer_returning_a_string_is_refused():
    with pytest.raises(TypeError, match="tokenizer must return a list.*str for doc"):
        tokenize(["a b", "c d"], tokenizer=str.strip)


# -- weighting -----------------------------------------------------------------
def test_weigh_bag():
    P = sp.csr_array(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 4.0, 1.0]]))
    np.testing.assert_array_equal(weigh_bag(P).toarray(), P.toarray())
    np.testing.assert_array_equal(
        weigh_bag(P, weighting="binary").toarray(), P.toarray() > 0
    )
    sub = weigh_bag(P, weighting="sublinear").toarray()
    np.testing.assert_allclose(sub[P.toarray() > 0], 1 + np.log([2, 1, 4, 1]))
    idf = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(weigh_bag(P, idf=idf).toarray(), P.toarray() * idf)
    sqrtn = weigh_bag(P, pooling="sqrtn").toarray()
    np.testing.assert_allclose(sqrtn[0], [2, 1, 0] / np.sqrt(5))
    np.testing.assert_allclose(sqrtn[2], [0, 4, 1] / np.sqrt(17))
    np.testing.assert_array_equal(sqrtn[1], 0.0)
    mean = weigh_bag(P, pooling="mean").toarray()
    np.testing.assert_allclose(mean[0], [2 / 3, 1 / 3, 0])
    assert P.toarray()[0, 0] == 2.0  # not modified
    with pytest.raises(ValueError, match="weighting"):
        weigh_bag(P, weighting="log")


def test_smooth_idf_is_tfidf_vectorizers():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["a b b", "b c", "c c d", "a"]
    counts = CountVectorizer(token_pattern=r"\w").fit_transform(texts)
    df = np.bincount(counts.nonzero()[1])
    tfidf = TfidfVectorizer(token_pattern=r"\w").fit(texts)
    np.testing.assert_allclose(smooth_idf(df, len(texts)), tfidf.idf_)


@pytest.mark.parametrize(
    "weighting, pooling, reference",
    [
        ("count", "sum", {"use_idf": False, "norm": None}),
        ("binary", "sqrtn", {"binary": True}),
        ("sublinear", "mean", {"sublinear_tf": True, "norm": "l1"}),
        ("sublinear", "sqrtn", {"sublinear_tf": True}),
    ],
)
@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 3)])
def test_encoder_equals_tfidf_vectorizer(weighting, pooling, reference, ngram_range):
    """Π of the encoder is TfidfVectorizer's matrix (same terms, other columns)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [
        "the cat sat on the mat",
        "the dog sat",
        "a cat and a dog and a cat",
        "",
        "mat mat mat on the dog",
    ]
    docs = tokenize(texts)
    idf = reference.get("use_idf", True)
    encoder = DocumentEncoder(
        ngram_range=ngram_range, weighting=weighting, idf=idf, pooling=pooling
    ).fit(docs)
    vectorizer = TfidfVectorizer(ngram_range=ngram_range, **reference)
    expected = vectorizer.fit_transform(texts).toarray()
    columns = [encoder.token_to_row[t] for t in vectorizer.get_feature_names_out()]
    new = ["the cat sat on a dog", "unknown cat cat"]
    Pi = encoder.pi(docs).toarray()
    assert encoder.plain == (ngram_range == (1, 1) and weighting == "count" and not idf)
    assert Pi.shape[1] == len(columns) + 1  # and the out-of-vocabulary row
    np.testing.assert_allclose(Pi[:, columns], expected, rtol=1e-12, atol=1e-15)
    if idf:
        np.testing.assert_allclose(encoder.idf_[columns], vectorizer.idf_)
    else:
        assert encoder.idf_ is None
    # New documents: known terms as TfidfVectorizer; unknown tokens take the OOV
    # row (which the vectorizer drops), so compare the unigram-free case only.
    if ngram_range[0] > 1:
        np.testing.assert_allclose(
            encoder.pi(tokenize(new)).toarray()[:, columns],
            vectorizer.transform(new).toarray(),
            rtol=1e-12,
            atol=1e-15,
        )


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_plain_encoder_is_bag_matrix_bit_for_bit(pooling):
    encoder = DocumentEncoder(pooling=pooling).fit(DOCS)
    assert encoder.plain
    indices, indptr = Vocabulary().fit(DOCS).encode(DOCS)
    expected = bag_matrix(indices, indptr, 6, pooling=pooling)
    Pi = encoder.pi(DOCS)
    np.testing.assert_array_equal(Pi.data, expected.data)
    np.testing.assert_array_equal(Pi.indices, expected.indices)
    # The general path gives the same Π up to rounding.
    _, C, M = encoder.encode(DOCS)
    np.testing.assert_allclose((C @ M).toarray(), expected.toarray(), rtol=1e-15)


# -- word n-grams --------------------------------------------------------------
def test_word_ngrams_in_the_vocabulary():
    docs = [["a", "b", "c"], ["a", "b"], [1, 2, "a", "b"]]
    encoder = DocumentEncoder(ngram_range=(1, 3), min_count=2, pooling="sum")
    encoder.fit(docs)
    # Unigrams, then bigrams, then trigrams, each in first-appearance order.
    assert encoder.tokens == ["a", "b", "a b"]
    encoder = DocumentEncoder(ngram_range=(1, 2), pooling="sum").fit(docs)
    assert encoder.tokens == ["a", "b", "c", 1, 2, "a b", "b c", (1, 2), (2, "a")]
    # An unknown n-gram is dropped; an unknown token takes the OOV row.
    Pi = encoder.pi([["b", "a", "b", "z"]]).toarray()[0]
    row = encoder.token_to_row
    expected = np.zeros(encoder.n_rows)
    expected[[row["b"], row["a"], row["a b"], encoder.oov_row]] = [2, 1, 1, 1]
    np.testing.assert_array_equal(Pi, expected)
    top = DocumentEncoder(ngram_range=(2, 2), max_vocabulary=1).fit(docs)
    assert top.tokens == ["a b"]


def test_hashed_word_ngrams():
    docs = [["a", "b", "c"], ["b", "c"], []]
    encoder = DocumentEncoder(ngram_range=(1, 2), n_buckets=1000, pooling="sum")
    Pi = encoder.fit(docs).pi(docs).toarray()
    h = {t: murmurhash3_32(t, positive=True) for t in "abc"}
    mask = 2**64 - 1
    ab = (h["a"] * 116049371 + h["b"]) & mask
    bc = (h["b"] * 116049371 + h["c"]) & mask
    expected = np.zeros((3, 1000))
    for i, rows in enumerate(
        [[h["a"], h["b"], h["c"], ab, bc], [h["b"], h["c"], bc], []]
    ):
        for r in rows:
            expected[i, r % 1000] += 1
    np.testing.assert_array_equal(Pi, expected)
    assert encoder.n_rows == 1000


def test_ngrams_of_short_documents():
    encoder = DocumentEncoder(ngram_range=(3, 3)).fit([["a", "b", "c"], ["a"]])
    Pi = encoder.pi([["a"], [], ["a", "b"], ["a", "b", "c"]])
    np.testing.assert_array_equal(np.diff(Pi.indptr), [0, 0, 0, 1])


# -- subwords ------------------------------------------------------------------
def test_char_ngrams_are_fasttexts():
    # fastText's own example for "where" with n = 3.
    assert char_ngrams("where", 3, 3) == ["<wh", "whe", "her", "ere", "re>"]
    assert char_ngrams("ab", 1, 2) == ["a", "b", "<a", "ab", "b>"]
    assert char_ngrams("a", 4, 6) == []


def test_subword_rows_average_into_the_word_vector():
    docs = [["good", "food"], ["good"]]
    n_sub = 97
    encoder = DocumentEncoder(
        char_ngram_range=(3, 4), n_subword_buckets=n_sub, pooling="mean"
    ).fit(docs)
    assert encoder.n_word_rows == 3 and encoder.n_rows == 3 + n_sub

    def word_row(word, own_row):
        grams = char_ngrams(word, 3, 4)
        row = np.zeros(encoder.n_rows)
        row[own_row] += 1
        for g in grams:
            row[3 + murmurhash3_32(g, positive=True) % n_sub] += 1
        return row / (len(grams) + 1)

    Pi = encoder.pi([["good", "food"], ["goodd"], [7]]).toarray()
    np.testing.assert_allclose(Pi[0], (word_row("good", 0) + word_row("food", 1)) / 2)
    # An unseen (misspelled) word: the OOV row and its own subwords.
    np.testing.assert_allclose(Pi[1], word_row("goodd", encoder.oov_row))
    assert (Pi[1, 3:] > 0).sum() > 3
    # Int tokens have no characters: their own row only.
    np.testing.assert_array_equal(Pi[2], np.eye(encoder.n_rows)[encoder.oov_row])


def test_idf_per_hashed_bucket():
    docs = [["a", "b"], ["a"], ["a", "c", "c"]]
    encoder = DocumentEncoder(n_buckets=50, idf=True).fit(docs)
    rows = stable_hash(["a", "b", "c"], 50)
    df = np.zeros(50)
    df[rows] += [3, 1, 1]
    np.testing.assert_allclose(encoder.idf_, smooth_idf(df, 3))


# -- pretrained vectors --------------------------------------------------------
def test_read_vec_and_load_embeddings(tmp_path):
    path = tmp_path / "small.vec"
    path.write_text("3 2\ngood 0.5 -1\nfood 2 3.25 \nthe 0 0\n", encoding="utf-8")
    tokens, vectors = read_vec(path)
    assert tokens == ["good", "food", "the"]
    np.testing.assert_array_equal(vectors, [[0.5, -1], [2, 3.25], [0, 0]])
    tokens, vectors = read_vec(str(path), tokens={"food"})
    assert tokens == ["food"] and vectors.shape == (1, 2)
    assert load_embeddings(path, 2)[0] == ["good", "food", "the"]
    with pytest.raises(ValueError, match="dimension 2, but embedding_dim=3"):
        load_embeddings(path, 3)
    mapping = {"a": [1.0, 2.0], "b": np.array([3.0, 4.0])}
    tokens, vectors = load_embeddings(mapping, 2)
    assert tokens == ["a", "b"]
    np.testing.assert_array_equal(vectors, [[1, 2], [3, 4]])
    tokens, vectors = load_embeddings((["x"], np.ones((1, 2))), 2)
    assert tokens == ["x"]
    with pytest.raises(ValueError, match="one row per token"):
        load_embeddings((["x", "y"], np.ones((1, 2))), 2)
    with pytest.raises(ValueError, match="NaN"):
        load_embeddings({"a": [np.nan, 1.0]}, 2)
    bad_files = [
        ("good 0.5 -1\n", "not a .vec file"),
        ("good food\nthe 1 2\n", "not a .vec file"),  # a header of two words
        ("2 3\na 1 2 3\nb 1 2\n", "Line 3 .* has 2 values"),
        ("2 2\ngood 1 2\nfood\n", "Line 3 .* has 0 values"),  # a token alone
    ]
    for content, message in bad_files:
        bad = tmp_path / "bad.vec"
        bad.write_text(content, encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            read_vec(bad, tokens={"a", "b", "good", "food"})
    with pytest.raises(TypeError, match="initial_embeddings must be"):
        load_embeddings(42, 2)


@pytest.mark.parametrize("seed", range(4))
def test_vocabulary_ngrams_equal_a_lookup_by_text(seed):
    """The vectorised n-gram lookup finds exactly the rows of each n-gram's text."""
    rng = np.random.default_rng(seed)
    alphabet = ["a", "b", "c", "d", 1, 2]
    docs = [
        [alphabet[i] for i in rng.integers(0, len(alphabet), rng.integers(0, 9))]
        for _ in range(40)
    ]
    low = int(rng.integers(1, 3))
    ngram_range = (low, low + int(rng.integers(0, 3)))
    encoder = DocumentEncoder(
        ngram_range=ngram_range, min_count=2, max_vocabulary=25, pooling="sum"
    ).fit(docs[:30])
    expected = np.zeros((len(docs), encoder.n_rows))
    for i, doc in enumerate(docs):
        for n in range(ngram_range[0], ngram_range[1] + 1):
            for s in range(len(doc) - n + 1):
                gram = doc[s] if n == 1 else _ngram_name(doc[s : s + n])
                row = encoder.token_to_row.get(gram, encoder.oov_row if n == 1 else -1)
                if row >= 0:
                    expected[i, row] += 1
    np.testing.assert_array_equal(encoder.pi(docs).toarray(), expected)


# -- pinned by mutation testing --------------------------------------------------
def test_position_matrix_keeps_the_table_width_when_its_last_rows_are_unused():
    P = position_matrix(np.array([0, 1]), np.array([0, 2]), 9, 3)
    assert P.shape == (3, 9)  # not the 2 columns the indices reach


def test_terms_are_numbered_by_order_then_first_appearance():
    from sknotes._text import _Terms  # noqa: PLC2701

    terms = _Terms([["c", "a", "b", "a"], ["a", "b", "c"]], (1, 3))
    assert terms.all_names() == [
        "c", "a", "b", "c a", "a b", "b a", "b c", "c a b", "a b a", "a b c",
    ]  # fmt: skip
    assert terms.n_terms == 10


def test_a_token_that_reads_like_an_ngram_shares_its_count():
    # The token "a b" and the bigram ("a", "b") are one term of the vocabulary:
    # once each, they reach min_count=2 together.
    docs = [["a b"], ["a", "b"]]
    encoder = DocumentEncoder(ngram_range=(1, 2), min_count=2).fit(docs)
    assert encoder.tokens == ["a b"]


@pytest.mark.parametrize(
    "pooling, ngram_range", [("sum", (1, 1)), ("sum", (1, 2)), ("concat", (1, 1))]
)
def test_pi_has_the_dtype_asked_for_and_a_row_per_table_row(pooling, ngram_range):
    docs = [[f"w{i}" for i in range(6)], ["w1"]]
    encoder = DocumentEncoder(ngram_range=ngram_range, pooling=pooling).fit(docs)
    Pi = encoder.pi(docs, np.float32, max_length=2)
    assert Pi.dtype == np.float32
    assert Pi.shape[1] == encoder.n_rows > 2


def test_max_vocabulary_errors_name_it():
    with pytest.raises(ValueError, match="max_vocabulary"):
        Vocabulary(max_vocabulary=0).fit([["a"]])
