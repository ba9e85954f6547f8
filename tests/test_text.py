"""Text handling: tokenization, vocabulary, stable hashing and the one-hot Π."""

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from sknotes.text import (
    HashingEncoder,
    Vocabulary,
    bag_matrix,
    detect_input_form,
    normalize_bag_rows,
    position_matrix,
    stable_hash,
    tokenize,
)

DOCS = [["good", "food", "good"], [], ["slow", 7, "service", "good"], ["food"]]


def test_tokenize_matches_count_vectorizer():
    texts = ["Good food, GOOD service!", "Café crème brûlée — très bon", "a b cd 12"]
    analyzer = CountVectorizer().build_analyzer()
    assert tokenize(texts) == [analyzer(t) for t in texts]
    assert tokenize(["A b"], tokenizer=str.split) == [["a", "b"]]
    with pytest.raises(TypeError, match="document 1"):
        tokenize(["ok", 3])


def test_detect_input_form():
    assert detect_input_form(DOCS) == "tokens"
    assert detect_input_form(["a text", "another"]) == "strings"
    assert detect_input_form(np.array(["a text", "b"], dtype=object)) == "strings"
    assert detect_input_form(sp.csr_array(np.eye(2))) == "bag"
    assert detect_input_form(np.ones((3, 2))) == "bag"
    assert detect_input_form([[0.5, 1.0], [2.0, 3.0]]) == "bag"
    with pytest.raises(ValueError, match="0 documents"):
        detect_input_form([])
    with pytest.raises(TypeError, match="str or int"):
        detect_input_form([["a", 1.5]])
    with pytest.raises(TypeError, match="str or int"):
        detect_input_form([["a", ["nested"]]])
    with pytest.raises(TypeError):
        detect_input_form("one string")
    with pytest.raises(TypeError):
        detect_input_form(["text", ["tokens"]])
    with pytest.raises(TypeError):
        detect_input_form(None)


def test_stable_hash_is_stable_across_processes():
    tokens = ["good", "food", "émoji🙂", 7, "7"]
    here = stable_hash(tokens, 1000)
    assert ((0 <= here) & (here < 1000)).all()
    assert here[3] != here[4]  # 7 and "7" are different tokens
    code = (
        "from sknotes.text import stable_hash;"
        "print(stable_hash(['good', 'food', 'émoji🙂', 7, '7'], 1000).tolist())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.getcwd()}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == str([int(v) for v in here])


def test_vocabulary_order_counts_and_oov():
    vocab = Vocabulary().fit(DOCS)
    assert vocab.tokens == ["good", "food", "slow", 7, "service"]
    assert vocab.oov_row == vocab.n_known == 5 and vocab.n_rows == 6
    indices, indptr = vocab.encode([["food", "unseen"], []])
    np.testing.assert_array_equal(indices, [1, 5])
    np.testing.assert_array_equal(indptr, [0, 2, 2])
    frequent = Vocabulary(min_count=2).fit(DOCS)
    assert frequent.tokens == ["good", "food"]
    assert frequent.n_oov_tokens_seen_in_fit == 3
    top = Vocabulary(max_vocabulary=1).fit(DOCS)
    assert top.tokens == ["good"]


def test_hashing_encoder():
    encoder = HashingEncoder(16)
    indices, indptr = encoder.encode(DOCS)
    np.testing.assert_array_equal(indptr, [0, 3, 3, 7, 8])
    np.testing.assert_array_equal(indices, stable_hash([t for d in DOCS for t in d], 16))
    assert encoder.n_rows == 16


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_bag_matrix_equals_a_dense_reference(pooling):
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 6, size=20)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = rng.integers(0, 9, size=indptr[-1])
    before = indices.copy()
    bag = bag_matrix(indices, indptr, 9, pooling=pooling)
    reference = np.zeros((20, 9))
    np.add.at(reference, (np.repeat(np.arange(20), lengths), indices), 1.0)
    if pooling == "mean":
        reference /= np.maximum(lengths, 1)[:, None]
    assert isinstance(bag, sp.csr_array)
    np.testing.assert_allclose(bag.toarray(), reference)
    np.testing.assert_array_equal(indices, before)  # the caller's arrays are kept
    assert not isinstance(bag.T @ np.ones((20, 2)), np.matrix)


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_bag_rows(dense, dtype):
    X = np.array([[1.0, -3.0, 0.0], [0.0, 0.0, 0.0], [2.0, 2.0, 4.0]], dtype=dtype)
    original = X.copy()
    P = normalize_bag_rows(X if dense else sp.csr_matrix(X))
    expected = X / np.maximum(np.abs(X).sum(axis=1, keepdims=True), 1)
    np.testing.assert_allclose(P.toarray(), expected, rtol=1e-6)
    assert P.dtype == dtype
    np.testing.assert_array_equal(X, original)


def test_position_matrix_layout():
    indices = np.array([3, 1, 2, 0, 4, 4])
    indptr = np.array([0, 3, 3, 6])  # lengths 3, 0, 3
    P = position_matrix(indices, indptr, 5, 2)
    assert P.shape == (6, 5)
    expected = np.zeros((6, 5))
    expected[0, 3] = expected[1, 1] = 1  # doc 0 truncated to 2 tokens
    expected[4, 0] = expected[5, 4] = 1  # doc 1 is padding only (rows 2, 3)
    np.testing.assert_array_equal(P.toarray(), expected)
