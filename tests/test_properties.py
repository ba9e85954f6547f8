"""Property-based tests: any input gives finite predictions or a clear error."""

import warnings

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sknotes import EmbeddingBagRegressor, MLPRegressorFromNotes

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
CLEAR_ERRORS = (ValueError, TypeError)


def _fit_predict(est, X, y, sample_weight, X_new):
    """Finite predictions of the right shape, or a clear error with a message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y, sample_weight=sample_weight)
            return est.predict(X_new)
    except CLEAR_ERRORS as exc:
        assert str(exc), "an error must name the problem"
        return None


@st.composite
def tabular(draw):
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64, np.int32, bool]))
    elements = {"allow_nan": False, "allow_infinity": False}
    if dtype in (np.float16, np.float32, np.float64):
        elements.update(min_value=-1e3, max_value=1e3)
        X = draw(arrays(dtype, (n, d), elements=st.floats(**elements, width=np.dtype(dtype).itemsize * 8)))
    elif dtype is bool:
        X = draw(arrays(bool, (n, d)))
    else:
        X = draw(arrays(dtype, (n, d), elements=st.integers(-100, 100)))
    n_outputs = draw(st.integers(1, 3))
    y = draw(arrays(np.float64, (n, n_outputs) if n_outputs > 1 else (n,),
                    elements=st.floats(-1e3, 1e3)))
    sample_weight = draw(st.one_of(
        st.none(), arrays(np.float64, (n,), elements=st.sampled_from([0.0, 0.5, 1.0, 3.0]))
    ))
    layout = draw(st.sampled_from(["C", "F", "csr", "csc", "readonly"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout in ("csr", "csc") and dtype is not np.float16:
        X = sp.csr_matrix(X).asformat(layout)
    elif layout == "readonly":
        X = X.copy()
        X.setflags(write=False)
    return X, y, sample_weight


@SETTINGS
@given(data=tabular(), solver=st.sampled_from(["adam", "sgd", "lbfgs"]))
def test_mlp_any_tabular_input(data, solver):
    X, y, sample_weight = data
    est = MLPRegressorFromNotes(hidden_layer_sizes=(3,), solver=solver, max_iter=3,
                                random_state=0)
    pred = _fit_predict(est, X, y, sample_weight, X)
    if pred is None:
        return
    assert pred.shape == y.shape
    assert np.isfinite(pred).all()
    expected = np.float32 if X.dtype == np.float32 else np.float64
    assert pred.dtype == expected


def test_mlp_memory_mapped_input(tmp_path):
    X = np.memmap(tmp_path / "X.dat", dtype=np.float64, mode="w+", shape=(20, 3))
    X[:] = np.random.default_rng(0).standard_normal((20, 3))
    X.flush()
    readonly = np.memmap(tmp_path / "X.dat", dtype=np.float64, mode="r", shape=(20, 3))
    est = MLPRegressorFromNotes(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    pred = _fit_predict(est, readonly, np.arange(20.0), None, readonly)
    assert np.isfinite(pred).all() and pred.shape == (20,)


TOKENS = st.one_of(
    st.text(min_size=0, max_size=6),
    st.sampled_from(["🙂", "naïve", "日本", "a", "a"]),
    st.integers(-(2**70), 2**70),
)
DOCUMENTS = st.lists(st.lists(TOKENS, min_size=0, max_size=40), min_size=1, max_size=10)


@SETTINGS
@given(
    docs=DOCUMENTS,
    new_docs=DOCUMENTS,
    pooling=st.sampled_from(["sum", "mean", "concat"]),
    n_buckets=st.sampled_from([None, 8]),
    hidden=st.sampled_from([(), (2,)]),
)
def test_embedding_bag_any_documents(docs, new_docs, pooling, n_buckets, hidden):
    y = np.linspace(-1.0, 1.0, len(docs))
    est = EmbeddingBagRegressor(embedding_dim=2, pooling=pooling, n_buckets=n_buckets,
                                hidden_layer_sizes=hidden, max_iter=2, random_state=0)
    pred = _fit_predict(est, docs, y, None, new_docs)
    assert pred is not None, "valid token lists must be accepted"
    assert pred.shape == (len(new_docs),)
    assert np.isfinite(pred).all()
    assert est.transform(new_docs).shape[0] == len(new_docs)


@SETTINGS
@given(texts=st.lists(st.text(max_size=40), min_size=1, max_size=8))
def test_embedding_bag_any_strings(texts):
    est = EmbeddingBagRegressor(embedding_dim=2, max_iter=2, random_state=0)
    pred = _fit_predict(est, texts, np.arange(len(texts), dtype=float), None, texts)
    assert pred is not None and np.isfinite(pred).all() and pred.shape == (len(texts),)
