"""Property-based tests (hypothesis): any input gives finite predictions of the right
shape and dtype, or a ValueError/TypeError naming the problem — nothing else."""

import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sknotes import EmbeddingBagRegressor, MLPRegressorFromNotes
from sknotes._text import tokenize

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
CLEAR_ERRORS = (ValueError, TypeError)
FLOATS = (np.float16, np.float32, np.float64)


def _run(calls):
    """Run ``calls`` (fit/predict closures); return the last result or the clear error.

    Anything but a ValueError/TypeError (IndexError, ZeroDivisionError,
    FloatingPointError, MemoryError...) propagates and fails the property.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = None
            for call in calls:
                result = call()
            return result
    except CLEAR_ERRORS as exc:
        assert len(str(exc)) > 10, f"an error must name the problem: {exc!r}"
        return exc


def _memmap(X, directory):
    path = Path(directory) / "X.dat"
    out = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    out[:] = X
    out.flush()
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)


def _layout(X, layout, directory):
    if layout == "F":
        return np.asfortranarray(X)
    if layout in ("csr", "csc") and X.dtype != np.float16:
        return sp.csr_matrix(X).asformat(layout)
    if layout == "readonly":
        X = X.copy()
        X.setflags(write=False)
    if layout == "memmap":
        return _memmap(X, directory)
    return X


@st.composite
def tabular(draw):
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([*FLOATS, np.int32, np.int64, np.uint8, bool]))
    if dtype in FLOATS:
        width = np.dtype(dtype).itemsize * 8
        elements = st.floats(-1e3, 1e3, width=width)
    elif dtype is bool:
        elements = st.booleans()
    else:
        elements = st.integers(0, 100)
    X = draw(arrays(dtype, (n, d), elements=elements))
    n_outputs = draw(st.integers(1, 3))
    y_shape = (n, n_outputs) if n_outputs > 1 else (n,)
    y = draw(arrays(np.float64, y_shape, elements=st.floats(-1e3, 1e3)))
    sample_weight = draw(
        st.one_of(
            st.none(),
            arrays(np.float64, (n,), elements=st.sampled_from([0.0, 0.5, 1.0, 3.0])),
        )
    )
    layout = draw(st.sampled_from(["C", "F", "csr", "csc", "readonly", "memmap"]))
    return X, y, sample_weight, layout


def _check_prediction(pred, shape, X):
    assert pred.shape == shape
    assert np.isfinite(pred).all()
    assert pred.dtype == (np.float32 if X.dtype == np.float32 else np.float64)


@SETTINGS
@given(
    data=tabular(),
    solver=st.sampled_from(["adam", "sgd", "lbfgs"]),
    method=st.sampled_from(["fit", "partial_fit"]),
)
def test_mlp_any_tabular_input(data, solver, method):
    X, y, sample_weight, layout = data
    if solver == "lbfgs":
        method = "fit"
    est = MLPRegressorFromNotes(
        hidden_layer_sizes=(3,), solver=solver, max_iter=3, random_state=0
    )
    with tempfile.TemporaryDirectory() as directory:
        X = _layout(X, layout, directory)
        result = _run(
            [
                lambda: getattr(est, method)(X, y, sample_weight=sample_weight),
                lambda: est.predict(X),
            ]
        )
        if isinstance(result, Exception):
            # A valid table is refused only for zero total weight, or when the
            # solver diverged (plain SGD on unscaled values of 1e3 can).
            message = str(result)
            diverged = "not finite" in message or "non-finite" in message
            assert diverged or (sample_weight is not None and "weight" in message)
            return
        _check_prediction(result, y.shape, X)


@SETTINGS
@given(data=tabular(), d_new=st.integers(1, 6), n_new=st.integers(0, 5))
def test_mlp_predict_checks_the_new_input(data, d_new, n_new):
    X, y, _, _ = data
    X = X.astype(np.float64)
    est = MLPRegressorFromNotes(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    _run([lambda: est.fit(X, y)])
    X_new = np.ones((n_new, d_new))
    result = _run([lambda: est.predict(X_new)])
    if n_new == 0 or d_new != X.shape[1]:
        assert isinstance(result, ValueError)
        assert ("feature" in str(result)) or ("sample" in str(result))
    else:
        assert result.shape == (n_new, *y.shape[1:]) and np.isfinite(result).all()


TOKENS = st.one_of(
    st.text(min_size=0, max_size=6),
    st.sampled_from(["🙂", "👩‍👩‍👧", "naïve", "日本語", "a", "a", "Ω≈ç√"]),
    st.integers(-(2**70), 2**70),
)
DOCUMENT = st.one_of(
    st.lists(TOKENS, min_size=0, max_size=12),  # includes empty and one-token docs
    # Very long documents, built from a few drawn tokens (cheap to generate).
    st.builds(
        lambda n, tokens: (tokens * n)[:n],
        st.integers(500, 3000),
        st.lists(TOKENS, min_size=1, max_size=3),
    ),
)
DOCUMENTS = st.lists(DOCUMENT, min_size=1, max_size=8)


@SETTINGS
@given(
    docs=DOCUMENTS,
    new_docs=DOCUMENTS,
    pooling=st.sampled_from(["sum", "mean", "concat"]),
    n_buckets=st.sampled_from([None, 8]),
    min_count=st.sampled_from([1, 2]),
    hidden=st.sampled_from([(), (3,)]),
    n_outputs=st.integers(1, 3),
    zero_weights=st.booleans(),
)
def test_embedding_bag_any_documents(
    docs, new_docs, pooling, n_buckets, min_count, hidden, n_outputs, zero_weights
):
    # new_docs mostly hold tokens never seen in fit: they must map to OOV/buckets.
    y = np.linspace(-1.0, 1.0, len(docs) * n_outputs).reshape(len(docs), n_outputs)
    y = y.ravel() if n_outputs == 1 else y
    weight = np.where(np.arange(len(docs)) % 2, 0.0, 1.0) if zero_weights else None
    est = EmbeddingBagRegressor(
        embedding_dim=2,
        pooling=pooling,
        n_buckets=n_buckets,
        min_count=min_count,
        hidden_layer_sizes=hidden,
        max_iter=2,
        random_state=0,
    )
    pred = _run(
        [
            lambda: est.fit(docs, y, sample_weight=weight),
            lambda: est.partial_fit(docs, y, sample_weight=weight),
            lambda: est.predict(new_docs),
        ]
    )
    if not any(map(len, docs)):  # no token at all: refused as CountVectorizer does
        assert isinstance(pred, ValueError) and "empty vocabulary" in str(pred)
        return
    assert not isinstance(pred, Exception), f"valid token lists refused: {pred}"
    assert pred.shape == (len(new_docs), *y.shape[1:])
    assert pred.dtype == np.float64 and np.isfinite(pred).all()
    features = est.transform(new_docs)
    assert features.shape[0] == len(new_docs) and np.isfinite(features).all()
    attributions = est.token_attributions(new_docs)
    assert len(attributions) == len(new_docs)
    assert all(np.isfinite(v) for doc in attributions for _, v in doc)


@SETTINGS
@given(
    texts=st.lists(st.text(max_size=60), min_size=1, max_size=8),
    new_texts=st.lists(st.text(max_size=60), min_size=1, max_size=4),
)
def test_embedding_bag_any_strings(texts, new_texts):
    est = EmbeddingBagRegressor(embedding_dim=2, max_iter=2, random_state=0)
    y = np.arange(len(texts), dtype=float)
    pred = _run([lambda: est.fit(texts, y), lambda: est.predict(new_texts)])
    if not any(map(len, tokenize(texts))):
        assert isinstance(pred, ValueError) and "empty vocabulary" in str(pred)
        return
    assert not isinstance(pred, Exception), f"valid strings refused: {pred}"
    assert np.isfinite(pred).all() and pred.shape == (len(new_texts),)


@SETTINGS
@given(data=tabular(), pooling=st.sampled_from(["sum", "mean"]))
def test_embedding_bag_any_bag_matrix(data, pooling):
    X, y, sample_weight, layout = data
    est = EmbeddingBagRegressor(
        embedding_dim=2, pooling=pooling, max_iter=2, random_state=0
    )
    with tempfile.TemporaryDirectory() as directory:
        X = _layout(np.abs(X), layout, directory)
        result = _run(
            [lambda: est.fit(X, y, sample_weight=sample_weight), lambda: est.predict(X)]
        )
        if isinstance(result, Exception):
            assert sample_weight is not None and "weight" in str(result)
            return
        assert result.shape == y.shape and np.isfinite(result).all()
        assert result.dtype in (np.float32, np.float64)
