"""EmbeddingBagRegressor: the notes' embedding gradient, trained sparsely, used."""

import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

from sknotes import EmbeddingBagClassifier, EmbeddingBagRegressor
from sknotes._text import bag_matrix, smooth_idf, stable_hash
from sknotes.gradcheck import gradcheck
from sknotes.nodes import MSELoss
from tests.gradients import check_whole_model_gradient

pytestmark = pytest.mark.usefixtures("quiet_convergence")


def _corpus(n_docs=1500, n_tokens=120, seed=0):
    """y = mean of hidden per-token weights + noise (the issue's synthetic task)."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal(n_tokens)
    docs = [
        [f"t{j}" for j in rng.integers(0, n_tokens, size=rng.integers(1, 12))]
        for _ in range(n_docs)
    ]
    y = np.array([np.mean([weights[int(t[1:])] for t in doc]) for doc in docs])
    return docs, y + 0.05 * rng.standard_normal(n_docs)


def _predict_pi(reg, Pi):
    """The fitted model's prediction from ``Π``, in the target's units."""
    return reg._network.predict(Pi) * reg._y_scale + reg._y_mean


@pytest.fixture(scope="module")
def corpus():
    return _corpus()


def test_it_learns_the_synthetic_task(corpus):
    docs, y = corpus
    # The task's own model: y is the plain mean of its tokens' weights.
    reg = EmbeddingBagRegressor(
        embedding_dim=8,
        pooling="mean",
        weighting="count",
        idf=False,
        max_iter=40,
        random_state=0,
    )
    reg.fit(docs[:1200], y[:1200])
    assert reg.score(docs[1200:], y[1200:]) > 0.9


def _check_whole_model_gradient(reg, docs, y):
    """The squared error's gradient w.r.t. the table and θ at the fitted model."""
    Y = np.asarray(y).reshape(len(y), -1)
    check_whole_model_gradient(reg, docs, Y, MSELoss())


@pytest.mark.parametrize("pooling", ["sum", "mean", "concat"])
@pytest.mark.parametrize("hidden", [(), (4,)])
def test_whole_model_gradient(pooling, hidden):
    docs, y = _corpus(n_docs=12, n_tokens=10, seed=1)
    reg = EmbeddingBagRegressor(
        embedding_dim=3,
        pooling=pooling,
        hidden_layer_sizes=hidden,
        activation="tanh",
        max_iter=1,
        random_state=0,
    )
    reg.fit(docs, y)
    _check_whole_model_gradient(reg, docs, y)


def test_one_sgd_step_is_the_notes_update():
    docs = [["a", "b"], ["b", "c", "c"], ["a"]]
    y = np.array([1.0, -1.0, 0.5])
    reg = EmbeddingBagRegressor(
        embedding_dim=2,
        pooling="sum",
        solver="sgd",
        momentum=0.0,
        alpha=0.0,
        learning_rate_init=0.1,
        shuffle=False,
        random_state=0,
        linear_path=False,
        alpha_embedding=0.0,
        hidden_layer_sizes=(),
    )  # batch_size='auto': all the data
    reg.partial_fit(docs, y)  # builds the vocabulary and the model
    reg.embeddings_[...] = np.arange(reg.embeddings_.size).reshape(-1, 2) / 10
    table_before = reg.embeddings_.copy()
    W, b = reg.coefs_[0].copy(), reg.intercepts_[0].copy()
    Pi = reg._validate_predict_input([["a", "b"], ["a"]])  # rows of a, b only
    R = Pi @ table_before
    y_hat = R @ W + b
    # The network fits the target standardised by the first call's statistics.
    target = (np.array([[1.0], [0.5]]) - reg._y_mean) / reg._y_scale
    grad_y_hat = 2 / 2 * (y_hat - target)
    grad_R = grad_y_hat @ W.T
    reg.partial_fit([["a", "b"], ["a"]], [1.0, 0.5])
    expected = table_before - 0.1 * (Pi.T @ grad_R)
    np.testing.assert_allclose(reg.embeddings_, expected, rtol=1e-12)
    untouched = [reg.vocabulary_["c"], len(reg.vocabulary_)]  # c and the OOV row
    np.testing.assert_array_equal(reg.embeddings_[untouched], table_before[untouched])


def test_empty_and_unknown_documents_predict_finitely(corpus):
    docs, y = corpus
    for pooling in ["sum", "mean", "concat"]:
        reg = EmbeddingBagRegressor(
            embedding_dim=4, pooling=pooling, max_iter=3, random_state=0
        ).fit(docs[:200] + [[]], np.r_[y[:200], 0])
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            pred = reg.predict([[], ["never", "seen"], ["t1"]])
        assert np.isfinite(pred).all()
        np.testing.assert_allclose(reg.transform([[]]), 0.0)


def test_out_of_vocabulary_row(corpus):
    docs, y = corpus
    reg = EmbeddingBagRegressor(embedding_dim=4, max_iter=2, random_state=0).fit(
        docs, y
    )
    np.testing.assert_array_equal(reg.embeddings_[-1], 0.0)  # no token was cut
    rare = EmbeddingBagRegressor(
        embedding_dim=4, max_iter=2, min_count=80, random_state=0
    )
    rare.fit(docs, y)
    assert len(rare.vocabulary_) < 120
    assert np.any(rare.embeddings_[-1] != 0.0)  # learned from the cut tokens
    np.testing.assert_allclose(rare.transform([["unseen"]]), rare.embeddings_[-1:])


def test_hashing_meets_new_tokens_and_vocabulary_is_fixed(corpus):
    docs, y = corpus
    hashed = EmbeddingBagRegressor(embedding_dim=4, n_buckets=64, random_state=0)
    hashed.partial_fit(docs[:100], y[:100])
    assert hashed.vocabulary_ is None and hashed.embeddings_.shape == (64, 4)
    before = hashed.embeddings_.copy()
    hashed.partial_fit([["brand", "new"]] * 10, np.ones(10))
    assert not np.array_equal(before, hashed.embeddings_)
    fixed = EmbeddingBagRegressor(embedding_dim=4, random_state=0)
    fixed.partial_fit(docs[:100], y[:100])
    vocabulary = dict(fixed.vocabulary_)
    fixed.partial_fit([["brand", "new"]], [1.0])
    assert fixed.vocabulary_ == vocabulary


def test_raw_strings_and_form_mismatch():
    texts = ["good food", "slow service", "good service", "bad food"]
    reg = EmbeddingBagRegressor(embedding_dim=3, max_iter=5, random_state=0)
    reg.fit(texts, [1.0, -1.0, 0.5, -0.5])
    # Raw strings: words and (ngram_range='auto') their bigrams.
    assert set(reg.vocabulary_) == {"good", "food", "slow", "service", "bad"} | set(
        texts
    )
    with pytest.raises(ValueError, match="same form"):
        reg.predict([["good", "food"]])
    bag = EmbeddingBagRegressor(max_iter=2).fit(np.eye(4), np.arange(4.0))
    with pytest.raises(ValueError, match="features"):
        bag.predict(np.eye(5))
    with pytest.raises(ValueError, match="concat"):
        EmbeddingBagRegressor(pooling="concat").fit(np.eye(4), np.arange(4.0))


def test_bag_matrix_equals_token_lists(corpus):
    """A CountVectorizer bag with 'sum' pooling is the same Π as the token lists."""
    docs, y = corpus
    texts = [" ".join(doc) for doc in docs[:300]]
    vectorizer = CountVectorizer(token_pattern=r"\S+")
    counts = vectorizer.fit_transform(texts)
    reg = EmbeddingBagRegressor(
        embedding_dim=4, pooling="sum", weighting="count", max_iter=2, random_state=0
    )
    reg.fit(counts, y[:300])
    assert reg.n_features_in_ == counts.shape[1]
    table = reg.embeddings_
    np.testing.assert_allclose(reg.transform(counts), counts.toarray() @ table)


@pytest.mark.xdist_group("loky")  # one pool of worker processes (see conftest)
def test_in_scikit_learn_workflows(corpus):
    docs, y = corpus
    texts = [" ".join(doc) for doc in docs[:400]]
    pipe = make_pipeline(
        CountVectorizer(), EmbeddingBagRegressor(max_iter=20, random_state=0)
    )
    assert pipe.fit(texts, y[:400]).score(texts, y[:400]) > 0.5
    grid = GridSearchCV(
        EmbeddingBagRegressor(max_iter=10, random_state=0),
        {"embedding_dim": [2, 4], "pooling": ["sum", "mean"]},
        cv=2,
        n_jobs=2,
    ).fit(docs[:400], y[:400])
    assert grid.best_params_["pooling"] == "mean"
    scores = cross_val_score(
        EmbeddingBagRegressor(max_iter=10, random_state=0), docs[:400], y[:400], cv=3
    )
    assert scores.shape == (3,) and np.all(scores > 0.3)


def test_clone_pickle_and_live_table(corpus):
    docs, y = corpus
    reg = EmbeddingBagRegressor(
        embedding_dim=4, hidden_layer_sizes=(3,), max_iter=3, random_state=0
    ).fit(docs[:200], y[:200])
    assert clone(reg).get_params() == reg.get_params()
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.predict(docs[:50]), reg.predict(docs[:50]))
    assert np.shares_memory(restored.embeddings_, restored._network.table)
    restored.embeddings_[...] = 0.0  # live: editing the table changes the model
    np.testing.assert_allclose(restored.transform(docs[:5]), 0.0)
    assert not np.allclose(restored.predict(docs[:5]), reg.predict(docs[:5]))


def test_token_attributions_match_finite_differences(corpus):
    docs, y = corpus
    reg = EmbeddingBagRegressor(
        embedding_dim=4,
        pooling="sum",
        hidden_layer_sizes=(5,),
        activation="tanh",
        max_iter=3,
        random_state=0,
    )
    reg.fit(docs[:300], y[:300])
    doc = ["t1", "t2", "t2", "unknown"]
    attributions = dict(reg.token_attributions([doc])[0])
    Pi = reg._validate_predict_input([doc]).toarray()
    eps = 1e-6
    for token, value in attributions.items():
        row = reg.vocabulary_.get(token, len(reg.vocabulary_))
        up, down = Pi.copy(), Pi.copy()
        up[0, row] += eps
        down[0, row] -= eps
        numeric = (
            _predict_pi(reg, sp.csr_array(up)) - _predict_pi(reg, sp.csr_array(down))
        )[0, 0] / (2 * eps)
        assert value == pytest.approx(numeric, rel=1e-5, abs=1e-8)
    assert "unknown" in attributions  # its own text, through the OOV row


def test_impossible_table_is_refused_up_front():
    with pytest.raises(ValueError, match="GiB"):
        EmbeddingBagRegressor(n_buckets=10**12).fit([["a"]], [1.0])


def test_float32(corpus):
    docs, y = corpus
    reg = EmbeddingBagRegressor(dtype="float32", max_iter=2, random_state=0)
    reg.fit(docs[:100], y[:100])
    assert reg.embeddings_.dtype == np.float32
    assert reg.predict(docs[:3]).dtype == np.float32


@pytest.mark.parametrize("pooling", ["mean", "sqrtn", "concat"])
def test_token_attributions_are_the_gradient_at_pi(corpus, pooling):
    """Each attribution is dŷ/dΠ[i, j] at the token's row (notes: grad_R·Tableᵀ),
    listed in document order with the token's own text."""
    docs, y = corpus
    reg = EmbeddingBagRegressor(
        embedding_dim=3,
        pooling=pooling,
        hidden_layer_sizes=(4,),
        activation="tanh",
        max_length=5,
        max_iter=2,
        random_state=0,
    )
    reg.fit(docs[:200], y[:200])
    batch = [["t2", "t1", "t2"], ["t3", "zzz", "qqq"], []]
    attributions = reg.token_attributions(batch)
    Pi = reg._validate_predict_input(batch)
    c = reg.max_length_ or 1
    eps = 1e-6
    oov = len(reg.vocabulary_)
    if pooling == "concat":
        expected_names = batch  # every position
    else:
        expected_names = [["t2", "t1"], ["t3", "zzz", "qqq"], []]
    assert [[t for t, _ in a] for a in attributions] == expected_names
    for i, doc_attributions in enumerate(attributions):
        for position, (token, value) in enumerate(doc_attributions):
            row = i * c + (position if pooling == "concat" else 0)
            j = reg.vocabulary_.get(token, oov)
            up, down = Pi.tolil(), Pi.tolil()
            up[row, j] += eps
            down[row, j] -= eps
            numeric = (_predict_pi(reg, up.tocsr()) - _predict_pi(reg, down.tocsr()))[
                i, 0
            ] / (2 * eps)
            assert value == pytest.approx(numeric, rel=1e-5, abs=1e-8)
    # Two unknown tokens share the OOV row, hence its derivative.
    assert attributions[1][1][1] == attributions[1][2][1]


def test_transform_shapes_and_feature_names(corpus):
    docs, y = corpus
    concat = EmbeddingBagRegressor(
        embedding_dim=3, pooling="concat", max_length=2, max_iter=2, random_state=0
    ).fit(docs[:100], y[:100])
    assert concat.max_length_ == 2
    assert concat.transform(docs[:7]).shape == (7, 6)
    # Truncated to max_length positions; padding contributes zero vectors.
    np.testing.assert_array_equal(
        concat.transform([["t1", "t2", "t3"]]), concat.transform([["t1", "t2"]])
    )
    np.testing.assert_array_equal(concat.transform([["t1"]])[0, 3:], 0.0)
    assert len(concat.get_feature_names_out()) == 6
    texts = [" ".join(doc) for doc in docs[:100]]
    pipe = make_pipeline(
        CountVectorizer(), EmbeddingBagRegressor(embedding_dim=5, max_iter=2)
    )
    names = pipe.fit(texts, y[:100]).get_feature_names_out()
    assert list(names) == [f"embeddingbagregressor{i}" for i in range(5)]
    # A refit on another form of input keeps nothing of the earlier vocabulary.
    concat.set_params(pooling="sum").fit(np.eye(4), np.arange(4.0))
    assert concat.vocabulary_ is None and concat.max_length_ is None
    assert concat.get_feature_names_out().shape == (3,)
    with pytest.raises(ValueError, match="same form"):
        concat.predict(docs[:2])


def test_hashed_rows_are_the_stable_hash():
    reg = EmbeddingBagRegressor(
        embedding_dim=3, n_buckets=16, pooling="sum", max_iter=2, random_state=0
    ).fit([["a", "b"], ["c"]], [1.0, 2.0])
    row = stable_hash(["never seen"], 16)[0]
    np.testing.assert_array_equal(
        reg.transform([["never seen"]])[0], reg.embeddings_[row]
    )


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="dtype"):
        EmbeddingBagRegressor(dtype=int).fit([["a"]], [1.0])
    with pytest.raises(ValueError, match="solver"):
        EmbeddingBagRegressor(solver="lbfgs").fit([["a"]], [1.0])
    reg = EmbeddingBagRegressor(token_pattern=r"\S+", max_iter=2).fit(
        ["a b-c", "x"], [1.0, 2.0]
    )
    assert set(reg.vocabulary_) == {"a", "b-c", "x", "a b-c"}


# -- weighting, n-grams, subwords (issue 10) -----------------------------------
TEXT_OPTIONS = [
    {"pooling": "sqrtn"},
    {"weighting": "sublinear", "idf": True, "pooling": "sqrtn"},
    {"weighting": "binary", "idf": True, "pooling": "mean"},
    {"ngram_range": (1, 2), "pooling": "sum"},
    {"ngram_range": (1, 2), "n_buckets": 32, "idf": True},
    {"char_ngram_range": (2, 3), "n_subword_buckets": 16, "pooling": "mean"},
    {"char_ngram_range": (2, 3), "n_subword_buckets": 16, "ngram_range": (1, 2)},
    {"char_wb_ngram_range": (1, 4), "n_char_buckets": 32},
]


@pytest.mark.parametrize("options", TEXT_OPTIONS)
def test_whole_model_gradient_with_text_options(options):
    """grad_table = Πᵀ·grad_R is unchanged math: Π only has other entries."""
    docs, y = _corpus(n_docs=12, n_tokens=10, seed=1)
    docs = [[t + "x" * (i % 3) for i, t in enumerate(doc)] for doc in docs]
    unseen = ["unseen"]
    if "char_wb_ngram_range" in options:  # characters of raw text
        docs, unseen = [" ".join(doc) + " !" for doc in docs], "unseen !"
    reg = EmbeddingBagRegressor(
        embedding_dim=2,
        hidden_layer_sizes=(3,),
        activation="tanh",
        max_iter=1,
        random_state=0,
        **options,
    )
    reg.fit(docs, y)
    _check_whole_model_gradient(reg, docs + [unseen], np.r_[y, 0.5])


@pytest.mark.parametrize("options", TEXT_OPTIONS)
def test_text_options_train_transform_and_attribute(options):
    docs, y = _corpus(n_docs=300, n_tokens=30, seed=2)
    texts = [" ".join(doc) for doc in docs]
    reg = EmbeddingBagRegressor(
        embedding_dim=4, max_iter=3, random_state=0, **options
    ).fit(texts, y)
    assert np.isfinite(reg.predict(texts)).all()
    features = reg.transform(texts[:5])
    np.testing.assert_allclose(
        features, reg._validate_predict_input(texts[:5]) @ reg.embeddings_
    )
    assert (reg.idf_ is not None) == options.get("idf", False)
    reg.partial_fit(texts[:50], y[:50])
    attributions = reg.token_attributions([texts[0], "t3 never"])
    names = [[t for t, _ in doc] for doc in attributions]
    # Document order, each term once; bigrams of a training text are all known.
    expected = list(dict.fromkeys(docs[0]))
    # Raw strings: ngram_range='auto' is (1, 2).
    if options.get("ngram_range", (1, 2)) == (1, 2):
        expected += dict.fromkeys(
            map(" ".join, zip(docs[0][:-1], docs[0][1:], strict=True))
        )
    assert names[0] == expected
    assert names[1][:2] == ["t3", "never"]


@pytest.mark.parametrize(
    "options",
    [
        {"ngram_range": (1, 2)},
        {"char_ngram_range": (2, 4), "n_subword_buckets": 64},
        {"char_ngram_range": (2, 4), "n_subword_buckets": 64, "idf": True},
        {"weighting": "sublinear", "idf": True, "pooling": "sqrtn"},
        {"char_wb_ngram_range": (2, 5), "n_char_buckets": 64},
    ],
)
def test_attributions_are_the_derivative_of_each_terms_weight(corpus, options):
    """∂ŷ/∂C[i, t]: perturb the term's weight in C, rebuild Π = C·M, predict
    (with character n-grams, their block of Π held as it is)."""
    docs, y = corpus
    batch = [["t2", "t1", "t2", "t10"], ["t3x", "zzz"]]
    strings = "char_wb_ngram_range" in options
    if strings:
        docs, batch = [" ".join(doc) for doc in docs], [" ".join(b) for b in batch]
    reg = EmbeddingBagRegressor(
        embedding_dim=3,
        hidden_layer_sizes=(4,),
        activation="tanh",
        max_iter=2,
        random_state=0,
        **options,
    ).fit(docs[:200], y[:200])
    attributions = reg.token_attributions(batch)
    terms, C, M = reg._encoder.encode(reg._docs(batch, "strings" if strings else ""))
    blocks = [reg._pi_of_chars(batch, np.float64)] if strings else []

    def predict(C):
        return _predict_pi(reg, sp.hstack([C.tocsr() @ M, *blocks], format="csr"))

    names = terms.all_names()
    eps = 1e-6
    for i, doc_attributions in enumerate(attributions):
        for name, value in doc_attributions:
            t = names.index(name)
            up, down = C.tolil(), C.tolil()
            up[i, t] += eps
            down[i, t] -= eps
            numeric = (predict(up) - predict(down))[i, 0] / (2 * eps)
            assert value == pytest.approx(numeric, rel=1e-5, abs=1e-8)
    if "char_ngram_range" in options:
        # A misspelled, unseen word has a vector and an attribution of its own.
        assert reg.transform([["t3x"]]).any()
        assert dict(attributions[1])["t3x"] != dict(attributions[1])["zzz"]


def test_mean_and_sum_count_are_unchanged():
    docs, y = _corpus(n_docs=50, n_tokens=10, seed=3)
    for pooling in ("mean", "sum"):
        reg = EmbeddingBagRegressor(
            pooling=pooling, weighting="count", max_iter=2, random_state=0
        )
        reg.fit(docs, y)
        indices, indptr = reg._encoder.words.encode(docs)
        expected = bag_matrix(indices, indptr, reg._encoder.n_rows, pooling=pooling)
        Pi = reg._validate_predict_input(docs)
        np.testing.assert_array_equal(Pi.data, expected.data)
        np.testing.assert_array_equal(Pi.indices, expected.indices)


def test_idf_is_learned_in_fit_and_kept_by_partial_fit():
    docs = [["a", "b"], ["a"], ["a", "c"], ["b"]]
    reg = EmbeddingBagRegressor(idf=True, solver="sgd", max_iter=2, random_state=0)
    reg.partial_fit(docs, np.arange(4.0))
    expected = smooth_idf([3, 2, 1, 0], 4)  # a, b, c, then the OOV row
    np.testing.assert_allclose(reg.idf_, expected)
    reg.partial_fit([["c", "c"], ["c"]], [1.0, 2.0])
    np.testing.assert_allclose(reg.idf_, expected)
    reg.fit([["c"]], [1.0])  # a new fit learns again
    np.testing.assert_allclose(reg.idf_, smooth_idf([1, 0], 1))


def test_weighting_of_a_bag_matrix_equals_token_lists():
    docs = [["a", "b", "a"], ["b", "c"], ["c", "c", "c", "a"]]
    bag = CountVectorizer(analyzer=lambda d: d).fit_transform(docs)  # a, b, c
    y = np.array([1.0, -1.0, 0.5])
    options = dict(weighting="sublinear", idf=True, pooling="sqrtn")
    common = dict(embedding_dim=3, max_iter=3, shuffle=False, random_state=0)
    from_bag = EmbeddingBagRegressor(**options, **common).fit(bag, y)
    from_docs = EmbeddingBagRegressor(**options, **common).fit(docs, y)
    np.testing.assert_allclose(from_bag.idf_, from_docs.idf_[:3])
    np.testing.assert_allclose(
        from_bag._validate_predict_input(bag).toarray(),
        from_docs._validate_predict_input(docs).toarray()[:, :3],
    )
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        from_bag.predict(-bag)
    with pytest.raises(ValueError, match="bag matrix has no word order"):
        EmbeddingBagRegressor(ngram_range=(1, 2)).fit(bag, y)
    with pytest.raises(ValueError, match="bag matrix has no word order"):
        EmbeddingBagRegressor(char_ngram_range=(3, 5)).fit(bag, y)
    sqrtn = EmbeddingBagRegressor(pooling="sqrtn", weighting="count", max_iter=1)
    sqrtn.fit(bag, y)
    expected = bag.toarray() / np.linalg.norm(bag.toarray(), axis=1, keepdims=True)
    np.testing.assert_allclose(sqrtn._validate_predict_input(bag).toarray(), expected)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"ngram_range": (2, 1)}, "ngram_range must be"),
        ({"ngram_range": (0, 1)}, "ngram_range must be"),
        ({"ngram_range": (1.0, 2)}, "ngram_range must be"),
        ({"ngram_range": (1, 2, 3)}, "ngram_range must be"),
        ({"char_ngram_range": (3,)}, "char_ngram_range must be"),
        ({"weighting": "tfidf"}, "weighting"),
        ({"pooling": "max"}, "pooling"),
        ({"n_subword_buckets": 0}, "n_subword_buckets"),
        ({"initial_embeddings": 3}, "initial_embeddings"),
        (
            {"pooling": "concat", "ngram_range": (1, 2)},
            "concat' gives one vector per position: it takes no ngram_range, "
            "char_ngram_range or char_wb_ngram_range. Use 'mean', 'sum' or 'sqrtn' "
            "pooling for those.",
        ),
        ({"hidden_layer_sizes": (8.5,)}, "must be integers"),
        ({"hidden_layer_sizes": (True,)}, "must be integers"),
    ],
)
def test_new_parameters_are_validated(params, match):
    with pytest.raises(ValueError, match=match):
        EmbeddingBagRegressor(**params).fit([["a", "b"], ["c"]], [1.0, 2.0])


# -- rough edges of text input (issue 10, item 9) --------------------------------
def test_one_column_of_texts_fits_as_texts():
    pd = pytest.importorskip("pandas")
    texts = ["good food here", "slow service", "good service", "bad food"]
    y = np.array([1.0, -1.0, 0.5, -0.5])
    params = dict(embedding_dim=3, max_iter=3, random_state=0)
    reference = EmbeddingBagRegressor(**params).fit(texts, y)
    frame = pd.DataFrame({"text": texts})
    for X in (frame, frame[["text"]].to_numpy(), np.array(texts)[:, None]):
        reg = EmbeddingBagRegressor(**params).fit(X, y)
        assert reg.vocabulary_ == reference.vocabulary_
        np.testing.assert_array_equal(reg.predict(X), reference.predict(texts))


def test_missing_texts_name_the_row():
    pd = pytest.importorskip("pandas")
    texts = pd.Series(["good food", np.nan, "bad"])
    with pytest.raises(ValueError, match="Document 1 is missing"):
        EmbeddingBagRegressor().fit(texts, [1.0, 2.0, 3.0])
    reg = EmbeddingBagRegressor(max_iter=1).fit(["ab cd", "ef"], [1.0, 2.0])
    with pytest.raises(ValueError, match="Document 0 is missing"):
        reg.predict([None, "a"])


@pytest.mark.parametrize(
    "X, params",
    [
        ([[], []], {}),
        (["", "!! ?", "a b"], {}),  # single characters are no tokens
        ([["a"], ["b"]], {"ngram_range": (2, 2)}),
    ],
)
def test_empty_vocabulary_is_refused(X, params):
    with pytest.raises(ValueError, match="empty vocabulary; perhaps the documents"):
        EmbeddingBagRegressor(**params).fit(X, np.arange(len(X), dtype=float))


def test_tokenizer_errors():
    with pytest.raises(TypeError, match="tokenizer must return a list"):
        EmbeddingBagRegressor(tokenizer=str.lower).fit(["A b", "c"], [1.0, 2.0])
    for params in ({"tokenizer": str.split}, {"token_pattern": r"\S+"}):
        with pytest.raises(ValueError, match="apply to raw strings.*tokens"):
            EmbeddingBagRegressor(**params).fit([["a"], ["b"]], [1.0, 2.0])
    reg = EmbeddingBagRegressor(tokenizer=str.split, max_iter=1)
    reg.fit(["a-b c", "d"], [1.0, 2.0])
    assert set(reg.vocabulary_) == {"a-b", "c", "d", "a-b c"}


def test_auto_ngrams_follow_the_input_form():
    texts = ["good food here", "slow service", "good service", "bad food"] * 5
    y = np.arange(20.0)
    reg = EmbeddingBagRegressor(embedding_dim=3, n_char_buckets=64, max_iter=2)
    reg.fit(texts, y)
    assert "good food" in reg.vocabulary_
    assert reg.embeddings_.shape[0] == reg._encoder.n_rows + 64
    tokens = [text.split() for text in texts]
    reg.fit(tokens, y)
    assert "good food" not in reg.vocabulary_
    assert reg.embeddings_.shape[0] == reg._encoder.n_rows
    concat = EmbeddingBagRegressor(pooling="concat", max_iter=1).fit(texts, y)
    assert concat.embeddings_.shape[0] == concat._encoder.n_rows
    with pytest.raises(ValueError, match="char_wb_ngram_range needs raw strings"):
        EmbeddingBagRegressor(char_wb_ngram_range=(2, 3)).fit(tokens, y)
    with pytest.raises(ValueError, match="concat.*char_wb_ngram_range"):
        EmbeddingBagRegressor(pooling="concat", char_wb_ngram_range=(2, 3)).fit(
            texts, y
        )
    with pytest.raises(ValueError, match="char_wb_ngram_range must be"):
        EmbeddingBagRegressor(char_wb_ngram_range=(3, 2)).fit(texts, y)


def test_character_block_is_char_wb_tfidf_without_idf():
    """Hashed into enough buckets, each row is TfidfVectorizer(char_wb)'s row,
    scaled to norm √½: half the word block's squared norm."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["Good food, here!", "slow  service", "a b", "Bad food :(", "food"]
    reg = EmbeddingBagRegressor(n_char_buckets=2**20, max_iter=1, random_state=0)
    reg.fit(texts, np.arange(5.0))
    block = sp.csr_array(reg._validate_predict_input(texts)[:, reg._encoder.n_rows :])
    reference = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, use_idf=False
    ).fit_transform(texts)
    assert block.nnz == reference.nnz
    for i in range(len(texts)):
        ours = block.data[block.indptr[i] : block.indptr[i + 1]]
        theirs = reference.data[reference.indptr[i] : reference.indptr[i + 1]]
        np.testing.assert_allclose(
            np.sort(ours), np.sqrt(0.5) * np.sort(theirs), rtol=1e-12
        )
    words = reg._validate_predict_input(texts)[:, : reg._encoder.n_rows]
    has_words = np.diff(sp.csr_array(words).indptr) > 0  # "a b" has none
    np.testing.assert_allclose(
        sp.linalg.norm(block, axis=1)[has_words] ** 2,
        0.5 * sp.linalg.norm(words, axis=1)[has_words] ** 2,
    )


# -- pretrained vectors ----------------------------------------------------------
def _write_vec(path, vectors):
    d = len(next(iter(vectors.values())))
    lines = [f"{len(vectors)} {d}"]
    lines += [f"{t} " + " ".join(map(str, v)) for t, v in vectors.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("source", ["path", "str", "mapping", "pair"])
def test_initial_embeddings(tmp_path, source):
    vectors = {"good": [0.5, -1.0, 2.0], "food": [1.0, 1.0, 1.0], "far": [9, 9, 9]}
    path = _write_vec(tmp_path / "v.vec", vectors)
    initial = {
        "path": path,
        "str": str(path),
        "mapping": vectors,
        "pair": (list(vectors), np.array(list(vectors.values()))),
    }[source]
    docs = [["good", "food"], ["bad", "food"], ["good"]]
    reg = EmbeddingBagRegressor(
        embedding_dim=3, initial_embeddings=initial, max_iter=1, random_state=0
    )
    reg.set_params(learning_rate_init=1e-12).fit(docs, [1.0, 0.0, 1.0])
    np.testing.assert_allclose(reg.embeddings_[reg.vocabulary_["good"]], [0.5, -1, 2])
    np.testing.assert_allclose(reg.embeddings_[reg.vocabulary_["food"]], [1, 1, 1])
    assert reg.n_pretrained_rows_ == 2
    # Tokens absent from the vectors are initialised as without them.
    plain = EmbeddingBagRegressor(embedding_dim=3, max_iter=1, random_state=0)
    plain.set_params(learning_rate_init=1e-12).fit(docs, [1.0, 0.0, 1.0])
    bad = reg.vocabulary_["bad"]
    np.testing.assert_allclose(reg.embeddings_[bad], plain.embeddings_[bad])
    with pytest.raises(ValueError, match="dimension 3, but embedding_dim=4"):
        clone(reg).set_params(embedding_dim=4).fit(docs, [1.0, 0.0, 1.0])


def test_initial_embeddings_with_hashing_and_bags():
    vectors = {"good": [0.5, -1.0], 2: [3.0, 4.0]}
    reg = EmbeddingBagRegressor(
        embedding_dim=2, n_buckets=64, initial_embeddings=vectors, max_iter=1
    )
    reg.set_params(learning_rate_init=1e-12).fit([["good"], ["x"]], [1.0, 0.0])
    np.testing.assert_allclose(
        reg.embeddings_[stable_hash(["good"], 64)[0]], [0.5, -1.0]
    )
    bag = EmbeddingBagRegressor(embedding_dim=2, initial_embeddings=vectors)
    bag.set_params(max_iter=1, learning_rate_init=1e-12).fit(np.eye(3), [1.0, 0, 2])
    np.testing.assert_allclose(bag.embeddings_[2], [3.0, 4.0])  # column 2
    assert bag.n_pretrained_rows_ == 1


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_freeze_embeddings_trains_only_the_head(corpus, solver):
    docs, y = corpus
    reg = EmbeddingBagRegressor(
        embedding_dim=4,
        freeze_embeddings=True,
        solver=solver,
        max_iter=3,
        random_state=0,
    )
    reg.partial_fit(docs[:100], y[:100])
    table, head = reg.embeddings_.copy(), reg.coefs_[0].copy()
    reg.partial_fit(docs[:100], y[:100])
    np.testing.assert_array_equal(reg.embeddings_, table)
    assert not np.array_equal(reg.coefs_[0], head)
    # Unfreezing a warm model builds a table optimizer and trains the table.
    reg.set_params(freeze_embeddings=False).partial_fit(docs[:100], y[:100])
    assert not np.array_equal(reg.embeddings_, table)
    fitted = clone(reg).set_params(freeze_embeddings=True).fit(docs[:100], y[:100])
    start = clone(fitted).set_params(max_iter=1, learning_rate_init=1e-300)
    start.fit(docs[:100], y[:100])
    np.testing.assert_array_equal(fitted.embeddings_, start.embeddings_)


@pytest.mark.parametrize(
    "name, value",
    [
        ("n_char_buckets", 64),  # the table's rows: Π would not fit it
        ("char_wb_ngram_range", None),  # the same, fewer rows
        ("pooling", "concat"),  # the head's input width
        ("embedding_dim", 3),  # the table's columns: would be ignored
        ("ngram_range", (1, 2)),  # the encoder's features: would be ignored
    ],
)
@pytest.mark.parametrize("how", ["partial_fit", "warm start"])
def test_continuing_with_another_structure_is_refused(name, value, how):
    docs = ["the cat sat on the mat", "a dog ran far", "cats and dogs"] * 4
    y = np.arange(12.0) % 3
    reg = EmbeddingBagRegressor(embedding_dim=4, max_iter=2, random_state=0)
    reg.fit(docs, y)
    before = reg.predict(docs)
    old = reg.get_params()[name]
    reg.set_params(**{name: value}, warm_start=how == "warm start")
    expected = f"{name} changed from {old!r} to {value!r} since the last fit"
    with pytest.raises(ValueError, match=re.escape(expected)):
        reg.partial_fit(docs, y) if how == "partial_fit" else reg.fit(docs, y)
    np.testing.assert_array_equal(reg.set_params(**{name: old}).predict(docs), before)
    reg.partial_fit(docs, y)  # the fitted structure again: continues
    assert reg.set_params(**{name: value}, warm_start=False).fit(docs, y).n_iter_ == 2


# -- issue 10: standardised target, table penalty, linear path ---------------------
def test_row_penalty_is_the_gradient_of_its_dense_equivalent():
    """Row-sparse ``grad_table[rows] += 2c·(N/n)·(n_r/df_r)·T[rows]`` equals the
    finite differences of ``c·Σ D·T²`` over the whole table (zero elsewhere)."""
    from sknotes.nodes import RowL2Penalty

    rng = np.random.default_rng(0)
    table = rng.standard_normal((7, 3))
    alphas = np.array([0.1, 0.1, 2.0])  # embedding columns, then the linear path's
    df = np.array([3, 1, 0, 5, 2, 2, 4])
    penalty = RowL2Penalty(alphas, df)
    rows, counts = np.array([0, 2, 3, 6]), np.array([2, 1, 1, 3])
    loss_node = MSELoss()
    loss_node.forward(np.zeros((4, 1)), np.ones((4, 1)))  # n = 4

    def dense_penalty():
        return penalty.forward(table[rows], rows, counts, loss_node)

    penalty.forward(table[rows], rows, counts, loss_node)
    grad_rows = penalty.backward(np.zeros((rows.size, 3)), table[rows])
    grad_table = np.zeros_like(table)
    grad_table[rows] = grad_rows
    gradcheck(dense_penalty, table, grad_table, rtol=1e-7)
    # The coefficient: sklearn_loss_ratio·α_j/n · n_r/df_r (a row never counted: 1).
    expected = (
        2 * alphas / 4 * (counts / np.maximum(df[rows], 1))[:, None] * table[rows]
    )
    np.testing.assert_allclose(grad_rows, expected)


def test_row_penalty_decays_each_row_once_per_epoch_in_expectation():
    """Σ over an epoch's batches of n_r/df_r is 1: each row gets the dense decay."""
    docs, y = _corpus(n_docs=60, n_tokens=10, seed=2)
    reg = EmbeddingBagRegressor(embedding_dim=2, max_iter=1, random_state=0)
    Pi = sp.csr_array(reg.fit(docs, y)._validate_predict_input(docs))
    df = np.bincount(Pi.indices, minlength=Pi.shape[1])
    total = np.zeros(Pi.shape[1])
    for start in range(0, 60, 16):
        batch = Pi[start : start + 16]
        total += np.bincount(batch.indices, minlength=Pi.shape[1])
    seen = df > 0
    np.testing.assert_allclose(total[seen] / df[seen], 1.0)


@pytest.mark.parametrize("hidden", [(), (4,)])
def test_joined_model_gradient_with_two_outputs(hidden):
    """Table (vectors and w), head and biases of ŷ = head(pool(Π·T)) + Π·w + b."""
    docs, y = _corpus(n_docs=30, n_tokens=10, seed=4)
    Y = np.c_[y, 2 * y + 1]
    reg = EmbeddingBagRegressor(
        embedding_dim=3,
        pooling="sqrtn",
        hidden_layer_sizes=hidden,
        activation="tanh",
        max_iter=2,
        early_stopping=False,
        random_state=0,
    ).fit(docs, Y)
    assert reg._network.n_linear == 2 and reg._network.table.shape[1] == 3 + 2
    _check_whole_model_gradient(reg, docs, Y)


def test_ridge_start_is_scikit_learns_ridge():
    from sklearn.linear_model import Ridge

    from sknotes._embedding_bag import _ridge

    rng = np.random.default_rng(0)
    X = sp.csr_array(sp.random(80, 30, density=0.1, random_state=0, format="csr"))
    y = rng.standard_normal((80, 2))
    weight = rng.uniform(0.5, 2.0, 80)
    coef, intercept = _ridge(X, y, weight, 0.7, tol=1e-12)
    ridge = Ridge(alpha=0.7, tol=1e-12).fit(X.toarray(), y, sample_weight=weight)
    np.testing.assert_allclose(coef, ridge.coef_.T, atol=1e-9)
    np.testing.assert_allclose(intercept, ridge.intercept_, atol=1e-9)


def test_alpha_search_at_its_loose_tolerance_picks_the_exact_searchs_alpha(
    corpus, monkeypatch
):
    """The search's solves stop early; the alpha and the start do not change."""
    from sknotes import _embedding_bag

    docs, y = corpus
    tols = []
    ridge = _embedding_bag._ridge

    def recording(X, y, s, alpha, tol):
        tols.append(tol)
        return ridge(X, y, s, alpha, tol=tol)

    monkeypatch.setattr(_embedding_bag, "_ridge", recording)
    params = dict(embedding_dim=4, max_iter=1, early_stopping=False, random_state=0)
    loose = EmbeddingBagRegressor(**params).fit(docs[:900], y[:900])
    assert tols[-1] == _embedding_bag.RIDGE_TOL
    assert set(tols[:-1]) == {_embedding_bag.RIDGE_SEARCH_TOL} and len(tols) >= 7
    monkeypatch.setattr(_embedding_bag, "RIDGE_SEARCH_TOL", 1e-12)
    monkeypatch.setattr(_embedding_bag, "RIDGE_TOL", 1e-12)
    exact = EmbeddingBagRegressor(**params).fit(docs[:900], y[:900])
    assert loose.alpha_linear_ == exact.alpha_linear_
    # Both start from the same ridge to RIDGE_TOL, and train alike from there.
    np.testing.assert_allclose(
        loose.predict(docs[900:]), exact.predict(docs[900:]), atol=1e-3 * y.std()
    )


@pytest.mark.parametrize(
    "Estimator", ["EmbeddingBagRegressor", "EmbeddingBagClassifier"]
)
def test_linear_start_solves_on_one_blas_thread(corpus, monkeypatch, Estimator):
    """LSQR's and L-BFGS's vector operations run on one BLAS thread (threads
    cost more than they bring there); the caller's setting is restored."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import sknotes

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    cls = getattr(sknotes, Estimator)
    solve, seen = cls._linear_solution, []

    def recording(self, *args):
        seen.append(blas_threads())
        return solve(self, *args)

    monkeypatch.setattr(cls, "_linear_solution", recording)
    docs, y = corpus
    if Estimator == "EmbeddingBagClassifier":
        y = y > np.median(y)
    with threadpool_limits(limits=2, user_api="blas"):
        cls(embedding_dim=4, max_iter=1, random_state=0).fit(docs[:600], y[:600])
        assert blas_threads() == {2}
    assert len(seen) >= 2 and all(threads == {1} for threads in seen)


def test_early_stopping_never_ends_worse_than_the_linear_start(corpus):
    """Epoch 0 (the ridge start) is scored: training that only hurts is undone."""
    docs, y = corpus
    reg = EmbeddingBagRegressor(
        embedding_dim=4,
        hidden_layer_sizes=(4,),
        learning_rate_init=3.0,  # every epoch ruins the model
        n_iter_no_change=2,
        random_state=0,
    ).fit(docs[:400], y[:400])
    assert reg.best_validation_score_ > max(reg.validation_scores_)
    # Restored to the start: the head's last layer is still exactly zero.
    np.testing.assert_array_equal(reg.coefs_[-1], 0.0)
    assert reg.score(docs[400:800], y[400:800]) > 0.5


def test_target_is_standardised_with_the_first_fits_statistics():
    docs, y = _corpus(n_docs=300, n_tokens=20, seed=5)
    years = 1950.0 + 30.0 * y  # far from 0, wide: the tate_titles failure
    weight = np.r_[np.ones(150), 3 * np.ones(150)]
    reg = EmbeddingBagRegressor(embedding_dim=4, random_state=0)
    reg.fit(docs, years, sample_weight=weight)
    np.testing.assert_allclose(reg._y_mean, np.average(years, weights=weight))
    spread = np.sqrt(np.average((years - reg._y_mean) ** 2, weights=weight))
    np.testing.assert_allclose(reg._y_scale, spread)
    assert reg.score(docs, years) > 0.5  # in the target's units
    Pi = reg._validate_predict_input(docs[:5])
    np.testing.assert_allclose(reg.predict(docs[:5]), _predict_pi(reg, Pi).ravel())
    # partial_fit: the first call fixes the statistics, later chunks keep them.
    inc = EmbeddingBagRegressor(embedding_dim=4, random_state=0)
    inc.partial_fit(docs[:100], years[:100])
    mean, scale = inc._y_mean.copy(), inc._y_scale.copy()
    inc.partial_fit(docs[100:], years[100:] + 500.0)
    np.testing.assert_array_equal(inc._y_mean, mean)
    np.testing.assert_array_equal(inc._y_scale, scale)
    # Multi-output: one mean and scale per output.
    multi = EmbeddingBagRegressor(embedding_dim=4, max_iter=3, random_state=0)
    multi.fit(docs, np.c_[years, -y])
    np.testing.assert_allclose(multi._y_mean, [years.mean(), -y.mean()])


def test_poisson_starts_at_the_log_mean_without_standardising():
    docs, y = _corpus(n_docs=200, n_tokens=10, seed=6)
    counts = np.round(np.exp(1.5 + y)).astype(float)
    reg = EmbeddingBagRegressor(
        loss="poisson",
        embedding_dim=2,
        max_iter=1,
        learning_rate_init=1e-9,  # the start, barely moved
        early_stopping=False,
        random_state=0,
    ).fit(docs, counts)
    np.testing.assert_array_equal(reg._y_scale, 1.0)
    np.testing.assert_allclose(reg.predict(docs), counts.mean(), rtol=1e-6)


def test_frozen_vectors_beside_a_trained_linear_path(corpus):
    docs, y = corpus
    reg = EmbeddingBagRegressor(
        embedding_dim=3, freeze_embeddings=True, max_iter=3, random_state=0
    )
    reg.fit(docs[:200], y[:200])
    before = reg.embeddings_.copy(), reg.linear_coef_.copy()
    reg.partial_fit(docs[200:400], y[200:400])
    np.testing.assert_array_equal(reg.embeddings_, before[0])
    assert not np.array_equal(reg.linear_coef_, before[1])


def test_defaults_fit_a_handful_of_documents():
    """Too few documents to hold out two: trained without early stopping."""
    reg = EmbeddingBagRegressor(random_state=0).fit(
        [["a"], ["b"], ["a", "b"]], [1, 2, 3]
    )
    assert reg.validation_scores_ is None and np.isfinite(reg.predict([["a"]])).all()


def test_initial_embeddings_sharing_no_token_leave_the_table_as_drawn():
    docs, y = [["good", "food"], ["bad"]], [1.0, 0.0]
    params = dict(embedding_dim=2, max_iter=1, learning_rate_init=1e-12)
    reg = EmbeddingBagRegressor(
        initial_embeddings={"unseen": [3.0, 4.0]}, random_state=0, **params
    ).fit(docs, y)
    assert reg.n_pretrained_rows_ == 0
    plain = EmbeddingBagRegressor(random_state=0, **params).fit(docs, y)
    np.testing.assert_array_equal(reg.embeddings_, plain.embeddings_)


def test_reassigned_table_and_linear_path_are_what_predict_uses():
    docs = [["a", "b"], ["b"], ["c", "a"], ["c"]] * 3
    y = np.arange(12.0) % 4
    reg = EmbeddingBagRegressor(
        embedding_dim=2, hidden_layer_sizes=(3,), max_iter=3, random_state=0
    ).fit(docs, y)
    assert reg.linear_coef_.shape == (reg.embeddings_.shape[0],)
    # New arrays, not views of the table: every document then pools to 0.
    reg.embeddings_ = np.zeros_like(reg.embeddings_)
    reg.linear_coef_ = np.zeros_like(reg.linear_coef_)
    np.testing.assert_allclose(reg.transform(docs), 0.0)
    prediction = reg.predict(docs)
    np.testing.assert_allclose(prediction, prediction[0])


@pytest.mark.parametrize("weighting", ["binary", "count"])
def test_float32_bag_matrix_stays_float32_when_weighted(weighting):
    X = sp.csr_array(np.array([[2, 0, 1], [0, 1, 1], [1, 1, 0]], dtype=np.float32))
    reg = EmbeddingBagRegressor(
        weighting=weighting, idf=True, embedding_dim=2, max_iter=1, random_state=0
    ).fit(X, [1.0, 0.0, 2.0])
    assert reg.embeddings_.dtype == np.float32
    assert reg.predict(X).dtype == np.float32
    assert reg.transform(X).dtype == np.float32


@pytest.mark.parametrize("Estimator", [EmbeddingBagRegressor, EmbeddingBagClassifier])
@pytest.mark.parametrize("weighted", [[0], [0, 1]])
def test_alpha_search_skips_folds_whose_rows_all_weigh_zero(Estimator, weighted):
    # The search's folds are every third row: these weights leave one fold (or
    # two) without a row to fit; once, that fold's solve crashed the fit.
    rng = np.random.default_rng(0)
    docs = [[f"t{j}" for j in rng.integers(0, 30, 5)] for _ in range(300)]
    y = np.array([int(doc[0][1:]) % 2 for doc in docs])
    weight = np.isin(np.arange(300) % 3, weighted).astype(float)
    est = Estimator(max_iter=1, early_stopping=False, random_state=0)
    est.fit(docs, y, sample_weight=weight)
    assert est.alpha_linear_ in Estimator._LINEAR_ALPHAS
    assert np.isfinite(est.predict(docs[:5]).astype(float)).all()


# -- pinned by mutation testing (_embedding_bag, 2026-11-30) ---------------------------


def test_vec_file_is_read_for_the_vocabulary_only(tmp_path, monkeypatch):
    """A .vec file can hold millions of vectors: only the vocabulary's are read."""
    import sknotes._text as text

    path = _write_vec(tmp_path / "v.vec", {"good": [1.0, 2.0], "far": [3.0, 4.0]})
    asked = []
    read_vec = text.read_vec
    monkeypatch.setattr(
        text,
        "read_vec",
        lambda path, tokens=None: asked.append(tokens) or read_vec(path, tokens),
    )
    reg = EmbeddingBagRegressor(
        embedding_dim=2, initial_embeddings=path, max_iter=1, random_state=0
    ).fit([["good", "food"], ["bad"]], [1.0, 0.0])
    (tokens,) = asked
    assert tokens is not None and set(tokens) == set(reg.vocabulary_)


@pytest.mark.parametrize("pooling, norm", [("mean", 1), ("sqrtn", 2)])
def test_count_bag_matrix_is_pooled_by_its_rows_norm(pooling, norm):
    X = sp.csr_array(np.array([[2.0, 0, 1], [0, 3, 1], [1, 1, 0]]))
    reg = EmbeddingBagRegressor(
        weighting="count", idf=False, pooling=pooling, embedding_dim=2,
        max_iter=1, random_state=0,
    ).fit(X, [1.0, 0.0, 2.0])  # fmt: skip
    dense = X.toarray()
    pooled = dense / np.linalg.norm(dense, ord=norm, axis=1, keepdims=True)
    np.testing.assert_allclose(reg.transform(X), pooled @ reg.embeddings_, rtol=1e-12)


def test_character_block_without_the_compiled_loop_is_the_same(monkeypatch):
    """Without numba's char_wb loop, scikit-learn's HashingVectorizer builds it."""
    from sknotes import _encode

    texts = ["Good food, slow service", "bad food", "très bon café", "ok"]
    reg = EmbeddingBagRegressor(
        n_char_buckets=64, embedding_dim=2, max_iter=1, random_state=0
    ).fit(texts, [3.0, 1.0, 4.0, 2.0])
    compiled = reg.transform(texts)
    monkeypatch.setattr(_encode, "char_wb_arrays", lambda *args, **kwargs: None)
    np.testing.assert_allclose(reg.transform(texts), compiled, rtol=1e-6)


def test_targets_too_large_to_standardise_are_refused():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "The targets are too large to standardise: their mean or spread "
            "overflows float64. Scale y first."
        ),
    ):
        EmbeddingBagRegressor(max_iter=1).fit(
            [["a"], ["b"], ["a", "b"]], [1.7e308, 1.7e308, 1.0]
        )


@pytest.mark.parametrize("n_documents, searched", [(99, False), (100, True)])
def test_alpha_linear_is_searched_from_100_training_documents(
    n_documents, searched, monkeypatch
):
    calls = []
    search = EmbeddingBagRegressor._search_alpha

    def spy(self, *args):
        calls.append(args[0].shape[0])
        return search(self, *args)

    monkeypatch.setattr(EmbeddingBagRegressor, "_search_alpha", spy)
    rng = np.random.default_rng(0)
    docs = [[f"t{i}" for i in rng.integers(0, 20, 4)] for _ in range(n_documents)]
    EmbeddingBagRegressor(
        early_stopping=False, max_iter=1, embedding_dim=2, random_state=0
    ).fit(docs, rng.standard_normal(n_documents))
    assert calls == ([n_documents] if searched else [])


def test_reassigned_linear_path_is_where_partial_fit_continues():
    docs = [["a", "b"], ["b"], ["c", "a"], ["c", "d"]] * 3
    y = np.arange(12.0) % 4
    reg = EmbeddingBagRegressor(
        embedding_dim=2, max_iter=2, learning_rate_init=1e-12, random_state=0
    ).fit(docs, y)
    new = np.arange(1.0, reg.linear_coef_.shape[0] + 1)
    reg.linear_coef_ = new.copy()
    reg.partial_fit(docs, y)
    np.testing.assert_allclose(reg.linear_coef_, new, atol=1e-6)
