"""Random malformed inputs thrown at the estimators; used by tests and benchmarks.

An outcome is *expected* when the call returns finite predictions of the right
shape, or raises ``ValueError``/``TypeError`` (scikit-learn's ``NotFittedError`` and
``InvalidParameterError`` are both).  Anything else — another exception type, a
NaN prediction, a wrong shape — is *unexpected* and counted by its kind.
"""

import warnings
from collections import Counter

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier

from sknotes import (
    EmbeddingBagClassifier,
    EmbeddingBagRegressor,
    MLPClassifierFromNotes,
    MLPRegressorFromNotes,
)

_TABULAR_DTYPES = [
    np.float16,
    np.float32,
    np.float64,
    np.int64,
    bool,
    complex,
    object,
    str,
]


_JUNK = [
    None,
    {"a": 1},
    "text",
    3.5,
    [[1, [2]], 3],
    (),
    [],
    np.array(5.0),
    b"bytes",
    {1, 2},
    [None, None],
    [[1.0, "x"], [2.0, 3.0]],
    [[1j, 2], [3, 4]],
    [[[]]],
    [["a", ["b"]], ["c"]],
    np.empty((0, 0)),
    [{"k": "v"}],
    object(),
]


def _junk(rng):
    return _JUNK[rng.integers(len(_JUNK))]


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
    y = (
        rng.standard_normal((m, int(rng.integers(1, 4))))
        if rng.random() < 0.3
        else (rng.standard_normal(m))
    )
    if rng.random() < 0.1 and y.size:
        y.flat[0] = rng.choice([np.nan, np.inf, 1e300])
    if rng.random() < 0.05:
        y = y.astype(str)
    return y


def random_labels(rng, n):
    """Class labels (multilabel indicators when 2-D), from :func:`random_y`."""
    y = random_y(rng, n)
    if isinstance(y, np.ndarray) and y.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            y = (y > 0).astype(int) if y.ndim == 2 else np.round(y)
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


class _Tame:
    """An rng whose ``random()`` is 0.5: the rare malformations (p < 0.5) are off.

    Sizes and dtypes stay random, so a third of the cases reach training and the
    follow-up calls on a fitted model instead of stopping at validation.
    """

    def __init__(self, rng):
        self._rng = rng

    def random(self, size=None):
        return 0.5 if size is None else self._rng.random(size)

    def __getattr__(self, name):
        return getattr(self._rng, name)


def one_case(rng):
    """Run one random scenario; return an outcome label."""
    text = rng.random() < 0.5
    if rng.random() < 0.35:
        rng = _Tame(rng)
    if text:
        pooling = ["sum", "mean", "sqrtn", "concat"][rng.integers(4)]
        # 'concat' refuses the text options: draw them mostly for the others.
        plain = pooling == "concat" and rng.random() < 0.8
        bag = EmbeddingBagClassifier if rng.random() < 0.5 else EmbeddingBagRegressor
        est = bag(
            embedding_dim=int(rng.integers(1, 4)),
            pooling=pooling,
            hidden_layer_sizes=[(), (3,)][rng.integers(2)],
            n_buckets=[None, 16][rng.integers(2)],
            max_iter=2,
            random_state=0,
        )
        if not plain:
            est.set_params(
                weighting=["count", "binary", "sublinear"][rng.integers(3)],
                idf=bool(rng.integers(2)),
                ngram_range=[(1, 1), (1, 2), (2, 3)][rng.integers(3)],
                char_ngram_range=[None, None, (2, 4), (1, 1)][rng.integers(4)],
                n_subword_buckets=int(rng.integers(1, 9)),
                char_wb_ngram_range=[None, "auto", (1, 3)][rng.integers(3)],
                n_char_buckets=int(rng.integers(1, 9)),
                freeze_embeddings=bool(rng.integers(2)),
            )
        X = random_docs(rng) if rng.random() < 0.8 else random_table(rng)
        X_new = random_docs(rng) if rng.random() < 0.8 else random_table(rng)
    else:
        mlp = MLPClassifierFromNotes if rng.random() < 0.5 else MLPRegressorFromNotes
        est = mlp(
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
    classifier = is_classifier(est)
    y = random_labels(rng, n) if classifier else random_y(rng, n)
    sample_weight = random_weights(rng, n)
    method = ["fit", "partial_fit"][rng.integers(2)] if est.solver != "lbfgs" else "fit"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            extra = {}
            if classifier and method == "partial_fit":
                extra["classes"] = np.unique(np.asarray(y, dtype=object))
            getattr(est, method)(X, y, sample_weight=sample_weight, **extra)
            fitted = _check_prediction(_prediction(est, X), n)
            if fitted:
                return "unexpected: " + fitted
            return _second_call(rng, est, text, X_new)
    except (ValueError, TypeError) as exc:
        if not str(exc):
            return "unexpected: empty message"
        return "refused: " + type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - the point is to count these
        return f"unexpected: {type(exc).__name__}: {str(exc)[:80]}"


def _prediction(est, X):
    """Predictions, as numbers: a classifier's probabilities."""
    if is_classifier(est):
        return est.predict_proba(X)
    return est.predict(X)


def _parameters(est):
    arrays = est.coefs_ + est.intercepts_ + [getattr(est, "embeddings_", np.zeros(0))]
    return [a.copy() for a in arrays]


def _second_call(rng, est, text, X_new):
    """A random call on the fitted model; a refused update must change nothing."""
    n_new = _length(X_new)
    call = ["predict", "partial_fit", "warm_fit", "transform"][
        rng.integers(4 if text else 3)
    ]
    if call == "partial_fit" and est.solver == "lbfgs":
        call = "warm_fit"
    before = _parameters(est)
    try:
        if call == "predict":
            problem = _check_prediction(_prediction(est, X_new), n_new)
        elif call == "transform":
            features = est.transform(X_new)
            problem = _check_prediction(features, n_new)
            if is_classifier(est):
                est.token_attributions(X_new, class_=est.classes_[0])
            else:
                est.token_attributions(X_new)
        else:
            classifier = is_classifier(est)
            y_new = random_labels(rng, n_new) if classifier else random_y(rng, n_new)
            if call == "partial_fit":
                est.partial_fit(X_new, y_new)
            else:
                est.set_params(warm_start=True).fit(X_new, y_new)
            before = _parameters(est)  # the update succeeded; predict may refuse
            problem = _check_prediction(_prediction(est, X_new), n_new)
        return "unexpected: " + problem if problem else "ok"
    except (ValueError, TypeError) as exc:
        after = _parameters(est)
        if len(after) != len(before) or not all(
            np.array_equal(a, b) for a, b in zip(after, before, strict=True)
        ):
            return "unexpected: refused call changed the model"
        if not str(exc):
            return "unexpected: empty message"
        return "refused after fit: " + type(exc).__name__


def run(n_cases, seed=0):
    """Outcome counts of ``n_cases`` random scenarios."""
    rng = np.random.default_rng(seed)
    return Counter(one_case(rng) for _ in range(n_cases))
