"""Saving and loading: pickle, joblib and skops give the same model back."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import is_classifier

from sknotes import (
    EmbeddingBagClassifier,
    EmbeddingBagRegressor,
    MLPClassifierFromNotes,
    MLPRegressorFromNotes,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

rng = np.random.default_rng(0)
X = rng.standard_normal((40, 3))
Y = rng.standard_normal(40)
LABELS = np.array(["no", "yes", "maybe"])[rng.integers(0, 3, 40)]
DOCS = [[f"t{j}" for j in rng.integers(0, 9, size=4)] for _ in range(40)]
CASES = [
    (MLPRegressorFromNotes(hidden_layer_sizes=(4,), max_iter=3, random_state=0), X),
    (MLPRegressorFromNotes(solver="lbfgs", max_iter=3, random_state=0), X),
    (MLPClassifierFromNotes(hidden_layer_sizes=(4,), max_iter=3, random_state=0), X),
    (MLPClassifierFromNotes(solver="lbfgs", max_iter=3, random_state=0), X),
    (
        EmbeddingBagClassifier(
            embedding_dim=3, hidden_layer_sizes=(2,), max_iter=3, random_state=0
        ),
        DOCS,
    ),
    (
        EmbeddingBagRegressor(
            embedding_dim=3, hidden_layer_sizes=(2,), max_iter=3, random_state=0
        ),
        DOCS,
    ),
    (
        EmbeddingBagRegressor(
            pooling="concat", n_buckets=16, max_iter=3, random_state=0
        ),
        DOCS,
    ),
    (
        EmbeddingBagRegressor(
            embedding_dim=3,
            pooling="sqrtn",
            weighting="sublinear",
            idf=True,
            ngram_range=(1, 2),
            char_ngram_range=(2, 3),
            n_subword_buckets=32,
            initial_embeddings={"t1": [1.0, 2.0, 3.0]},
            max_iter=3,
            random_state=0,
        ),
        DOCS,
    ),
    (
        EmbeddingBagRegressor(
            embedding_dim=3,
            n_buckets=64,
            ngram_range=(1, 3),
            char_wb_ngram_range=(1, 4),
            n_char_buckets=32,
            idf=True,
            freeze_embeddings=True,
            max_iter=3,
            random_state=0,
        ),
        [" ".join(doc) for doc in DOCS],
    ),
]


def _target(est):
    return LABELS if is_classifier(est) else Y


def _predictions(est, data):
    if is_classifier(est):
        return est.predict_proba(data)
    return est.predict(data)


def _round_trips(tmp_path):
    yield "pickle", lambda est: pickle.loads(pickle.dumps(est))

    def with_joblib(est):
        joblib.dump(est, tmp_path / "model.joblib")
        return joblib.load(tmp_path / "model.joblib")

    yield "joblib", with_joblib


@pytest.mark.parametrize("est, data", CASES)
def test_pickle_and_joblib_round_trips(est, data, tmp_path):
    est.fit(data, _target(est))
    for name, round_trip in _round_trips(tmp_path):
        loaded = round_trip(est)
        np.testing.assert_array_equal(
            _predictions(loaded, data), _predictions(est, data), err_msg=name
        )
        assert np.shares_memory(loaded.coefs_[0], loaded._network.theta)
        if hasattr(est, "idf_") and est.idf_ is not None:
            np.testing.assert_array_equal(loaded.idf_, est.idf_)
        if hasattr(est, "embeddings_"):
            np.testing.assert_array_equal(loaded.transform(data), est.transform(data))
        # Training goes on where it stopped.
        if loaded.solver != "lbfgs":
            loaded.partial_fit(data, _target(est))
            est.partial_fit(data, _target(est))
            np.testing.assert_array_equal(
                _predictions(loaded, data), _predictions(est, data)
            )


@pytest.mark.parametrize("est, data", CASES)
def test_skops_trusts_only_sknotes_and_numpy_types(est, data, tmp_path):
    sio = pytest.importorskip("skops.io")
    est.fit(data, _target(est))
    path = tmp_path / "model.skops"
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted, "sknotes types must be reviewed before loading"
    assert all(t.split(".")[0] in {"sknotes", "numpy", "scipy"} for t in untrusted)
    own = f"{type(est).__module__}.{type(est).__name__}"
    assert own in untrusted
    with pytest.raises(Exception, match="[Uu]ntrusted"):
        sio.load(path)
    # Every listed type is needed: trusting all but one still refuses to load.
    for left_out in untrusted:
        with pytest.raises(Exception, match="[Uu]ntrusted"):
            sio.load(path, trusted=[t for t in untrusted if t != left_out])
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(_predictions(loaded, data), _predictions(est, data))
    assert np.shares_memory(loaded.coefs_[0], loaded._network.theta)
