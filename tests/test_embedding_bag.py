"""EmbeddingBagRegressor: the notes' embedding gradient, trained sparsely, used."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

from sknotes import EmbeddingBagRegressor
from sknotes.gradcheck import gradcheck
from sknotes.nodes import MSELoss
from sknotes.text import stable_hash

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


@pytest.fixture(scope="module")
def corpus():
    return _corpus()


def test_it_learns_the_synthetic_task(corpus):
    docs, y = corpus
    reg = EmbeddingBagRegressor(embedding_dim=8, max_iter=40, random_state=0)
    reg.fit(docs[:1200], y[:1200])
    assert reg.score(docs[1200:], y[1200:]) > 0.9


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
    network, Pi = reg._network, reg._validate_predict_input(docs)
    Y = y.reshape(-1, 1)
    loss_node = MSELoss()

    def loss():
        return loss_node.forward(network.predict(Pi), Y)

    loss_node.forward(network.forward(Pi), Y)
    rows, grad_rows = network.backward(loss_node.backward())
    grad_table = np.zeros_like(network.table)
    grad_table[rows] = grad_rows
    gradcheck(loss, network.table, grad_table, rtol=1e-6)
    gradcheck(loss, network.theta, network.grad.copy(), rtol=1e-6)


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
    )  # batch_size='auto': all the data
    reg.partial_fit(docs, y)  # builds the vocabulary and the model
    reg.embeddings_[...] = np.arange(reg.embeddings_.size).reshape(-1, 2) / 10
    table_before = reg.embeddings_.copy()
    W, b = reg.coefs_[0].copy(), reg.intercepts_[0].copy()
    Pi = reg._validate_predict_input([["a", "b"], ["a"]])  # rows of a, b only
    R = Pi @ table_before
    y_hat = R @ W + b
    grad_y_hat = 2 / 2 * (y_hat - np.array([[1.0], [0.5]]))
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
    assert set(reg.vocabulary_) == {"good", "food", "slow", "service", "bad"}
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
        embedding_dim=4, pooling="sum", max_iter=2, random_state=0
    )
    reg.fit(counts, y[:300])
    assert reg.n_features_in_ == counts.shape[1]
    table = reg.embeddings_
    np.testing.assert_allclose(reg.transform(counts), counts.toarray() @ table)


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
    assert restored.embeddings_ is restored._network.table
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
            reg._network.predict(sp.csr_array(up))
            - reg._network.predict(sp.csr_array(down))
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
            numeric = (
                reg._network.predict(up.tocsr()) - reg._network.predict(down.tocsr())
            )[i, 0] / (2 * eps)
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
    assert set(reg.vocabulary_) == {"a", "b-c", "x"}
