"""Shared data and estimators of the reliability tests (atomicity, reproducibility,
concurrency): one tiny configuration per estimator, and byte-level fingerprints."""

import hashlib

import numpy as np
from sklearn.base import is_classifier
from sklearn.datasets import make_regression

from sknotes import (
    EmbeddingBagClassifier,
    EmbeddingBagRegressor,
    MLPClassifierFromNotes,
    MLPRegressorFromNotes,
)

X, Y = make_regression(n_samples=80, n_features=4, noise=0.1, random_state=0)
Y = Y / Y.std()
# Three classes from the same targets, for the classifier.
LABELS = np.digitize(Y, [-0.5, 0.5])
_rng = np.random.default_rng(0)
DOCS = [
    [f"w{j}" for j in _rng.integers(0, 30, size=_rng.integers(0, 8))] for _ in range(80)
]


def make_mlp(**kwargs):
    return MLPRegressorFromNotes(
        **{"hidden_layer_sizes": (4,), "max_iter": 5, "random_state": 0, **kwargs}
    )


def make_mlp_classifier(**kwargs):
    return MLPClassifierFromNotes(
        **{"hidden_layer_sizes": (4,), "max_iter": 5, "random_state": 0, **kwargs}
    )


def make_bag_classifier(**kwargs):
    return EmbeddingBagClassifier(
        **{
            "embedding_dim": 3,
            "hidden_layer_sizes": (3,),
            "max_iter": 5,
            "random_state": 0,
            **kwargs,
        }
    )


def target(make):
    """The targets of the estimator ``make`` builds: labels for a classifier."""
    return LABELS if is_classifier(make()) else Y


def make_bag(**kwargs):
    return EmbeddingBagRegressor(
        **{
            "embedding_dim": 3,
            "hidden_layer_sizes": (3,),
            "max_iter": 5,
            "random_state": 0,
            **kwargs,
        }
    )


CASES = [(make_mlp, X), (make_bag, DOCS)]
CASE_IDS = ["mlp", "embedding_bag"]
CLASSIFIER_CASES = [(make_mlp_classifier, X), (make_bag_classifier, DOCS)]
CLASSIFIER_CASE_IDS = ["mlp_classifier", "embedding_bag_classifier"]
ALL_CASES = CASES + CLASSIFIER_CASES
ALL_CASE_IDS = CASE_IDS + CLASSIFIER_CASE_IDS


def parameters(est):
    return est.coefs_ + est.intercepts_ + [getattr(est, "embeddings_", np.zeros(0))]


def fingerprint(est):
    """SHA-256 of every learned parameter's bytes."""
    return hashlib.sha256(b"".join(a.tobytes() for a in parameters(est))).hexdigest()


def state(est):
    """Every learned parameter's bytes, and every public fitted attribute."""
    public = {
        k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")
    }
    return fingerprint(est), repr(sorted(public.items(), key=str))
