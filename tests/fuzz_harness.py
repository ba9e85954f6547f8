"""Random malformed inputs thrown at both estimators; used by tests and benchmarks.

An outcome is *expected* when the call returns finite predictions of the right
shape, or raises ``ValueError``/``TypeError`` (scikit-learn's ``NotFittedError`` and
``InvalidParameterError`` are both).  Anything else — another exception type, a
NaN prediction, a wrong shape — is *unexpected* and counted by its kind.
"""

import warnings
from collections import Counter

import numpy as np
import scipy.sparse as sp

from sknotes import EmbeddingBagRegressor, MLPRegressorFromNotes

_TABULAR_DTYPES = [np.float16, np.float32, np.float64, np.int64, bool, complex, object, str]


def _junk(rng):
    return [None, {"a": 1}, "text", 3.5, [[1, [2]], 3], (), [], np.array(5.0)][
        rng.integers(8)
    ]


def random_table(rng, n=None, d=None):
    """A tabular X, valid or not."""
    if rng.random() < 0.1:
        return _junk(rng)
    n = int(rng.integers(0, 12)) if n is None else n
    d = int(rng.integers(0, 5)) if d is None else d
    shape = [(n, d), (n,), (n, d, 2)][rng.choice(3, p=[0.8, 0.1, 0.1])]
    X = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 6)
    if rng.random() < 0.15 and X.size:
        X.flat[rng.integers(X.size)] = rng.choice([np.nan, np.inf, -np.inf, 1e300])
    dtype = _TABULAR_DTYPES[rng.integers(len(_TABULAR_DTYPES))]
    if dtype in (object, str) and rng.random() < 0.5:
        X = X.astype(dtype)
        if X.size and dtype is object:
            X.flat[0] = "not a number"
    elif dtype not in (object, str):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X = X.astype(dtype)
    sparse_ok = X.ndim == 2 and X.dtype.kind in "biufc" and X.dtype != np.float16
    if sparse_ok and rng.random() < 0.3:
        X = [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix][rng.integers(3)](X)
    elif rng.random() < 0.2 and hasattr(X, "tolist"):
        X = X.tolist()
    return X


def random_docs(rng, n=None):
    """Token lists or raw strings, valid or not."""
    if rng.random() < 0.1:
        return _junk(rng)
    n = int(rng.integers(0, 10)) if n is None else n
    vocabulary = ["a", "b", "ünï", "🙂", "", "long" * 50, 7, 2**70, -3]
    bad = [None, 1.5, ["x"], {"k": 1}, b"bytes", True]
    docs = []
    for _ in range(n):
        length = int(rng.integers(0, 30))
        doc = [vocabulary[rng.integers(len(vocabulary))] for _ in range(length)]
        if rng.random() < 0.1 and doc:
            doc[0] = bad[rng.integers(len(bad))]
        docs.append(doc)
    if rng.random() < 0.2:
        docs = [" ".join(str(t) for t in doc) for doc in docs]
    if rng.random() < 0.05 and docs:
        docs[0] = _junk(rng)
    return docs


def random_y(rng, n):
    if rng.random() < 0.1:
        return _junk(rng)
    m = n if rng.random() < 0.85 else max(n + int(rng.integers(-2, 3)), 0)
    y = rng.standard_normal((m, int(rng.integers(1, 4)))) if rng.random() < 0.3 else (
        rng.standard_normal(m)
    )
    if rng.random() < 0.1 and y.size:
        y.flat[0] = rng.choice([np.nan, np.inf, 1e300])
    if rng.random() < 0.05:
        y = y.astype(str)
    return y


def random_weights(rng, n):
    choice = rng.integers(10)
    if choice >= 5:
        return None
    if choice == 1:
        return np.zeros(n)
    if choice == 2:
        return -np.ones(n)
    if choice == 3:
        return np.ones(max(n - 1, 0))
    w = rng.random(n)
    if choice == 4 and n:
        w[0] = np.nan
    return w


def _length(X):
    try:
        return X.shape[0] if hasattr(X, "shape") else len(X)
    except (TypeError, IndexError):  # a scalar
        return 0


def _check_prediction(pred, n_rows):
    pred = np.asarray(pred)
    if pred.shape[0] != n_rows:
        return "wrong shape"
    if not np.all(np.isfinite(pred)):
        return "non-finite prediction"
    return None


def one_case(rng):
    """Run one random scenario; return an outcome label."""
    text = rng.random() < 0.5
    if text:
        est = EmbeddingBagRegressor(
            embedding_dim=int(rng.integers(1, 4)),
            pooling=["sum", "mean", "concat"][rng.integers(3)],
            hidden_layer_sizes=[(), (3,)][rng.integers(2)],
            n_buckets=[None, 16][rng.integers(2)],
            max_iter=2,
            random_state=0,
        )
        X = random_docs(rng) if rng.random() < 0.8 else random_table(rng)
        X_new = random_docs(rng) if rng.random() < 0.8 else random_table(rng)
    else:
        est = MLPRegressorFromNotes(
            hidden_layer_sizes=(3,),
            solver=["adam", "sgd", "lbfgs"][rng.integers(3)],
            max_iter=2,
            random_state=0,
        )
        X = random_table(rng)
        shape = getattr(X, "shape", ())
        n_features = shape[-1] if len(shape) == 2 else None
        X_new = random_table(rng, d=n_features if rng.random() < 0.6 else None)
    n = _length(X)
    y = random_y(rng, n)
    sample_weight = random_weights(rng, n)
    method = ["fit", "partial_fit"][rng.integers(2)] if est.solver != "lbfgs" else "fit"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(est, method)(X, y, sample_weight=sample_weight)
            fitted = _check_prediction(est.predict(X), n)
            if fitted:
                return "unexpected: " + fitted
            pred = est.predict(X_new)
            problem = _check_prediction(pred, _length(X_new))
            if problem:
                return "unexpected: " + problem
            if text and rng.random() < 0.3:
                est.transform(X_new)
        return "ok"
    except (ValueError, TypeError) as exc:
        if not str(exc):
            return "unexpected: empty message"
        return "refused: " + type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - the point is to count these
        return f"unexpected: {type(exc).__name__}: {str(exc)[:80]}"


def run(n_cases, seed=0):
    """Outcome counts of ``n_cases`` random scenarios."""
    rng = np.random.default_rng(seed)
    return Counter(one_case(rng) for _ in range(n_cases))
