"""Atomic failures, reproducibility and thread safety of both estimators."""

import hashlib
import os
import pickle
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV

from sknotes import EmbeddingBagRegressor, MLPRegressorFromNotes
from sknotes.optimizers import Adam


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


X, Y = make_regression(n_samples=80, n_features=4, noise=0.1, random_state=0)
Y = Y / Y.std()
rng = np.random.default_rng(0)
DOCS = [[f"w{j}" for j in rng.integers(0, 30, size=rng.integers(0, 8))] for _ in range(80)]


def _mlp(**kwargs):
    return MLPRegressorFromNotes(hidden_layer_sizes=(4,), max_iter=5, random_state=0,
                                 **kwargs)


def _bag(**kwargs):
    return EmbeddingBagRegressor(embedding_dim=3, hidden_layer_sizes=(3,), max_iter=5,
                                 random_state=0, **kwargs)


CASES = [(_mlp, X), (_bag, DOCS)]


def _state(est):
    """Everything a fitted estimator exposes, as bytes."""
    arrays = est.coefs_ + est.intercepts_ + [getattr(est, "embeddings_", np.zeros(0))]
    public = {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}
    return b"".join(a.tobytes() for a in arrays), repr(sorted(public.items(), key=str))


@pytest.mark.parametrize("make, data", CASES)
@pytest.mark.parametrize("call", ["fit", "partial_fit", "warm_start"])
def test_failed_call_leaves_the_fitted_model_unchanged(make, data, call):
    est = make(warm_start=call == "warm_start").fit(data, Y)
    before, prediction = _state(est), est.predict(data)
    bad_y = Y.copy()
    bad_y[3] = np.nan
    method = est.partial_fit if call == "partial_fit" else est.fit
    with pytest.raises(ValueError, match="NaN"):
        method(data, bad_y)
    assert _state(est) == before
    np.testing.assert_array_equal(est.predict(data), prediction)


@pytest.mark.parametrize("make, data", CASES)
@pytest.mark.parametrize("call", ["partial_fit", "warm_start"])
def test_interrupt_inside_the_loop_restores_the_previous_model(make, data, call, monkeypatch):
    est = make(warm_start=call == "warm_start").fit(data, Y)
    before, prediction = _state(est), est.predict(data)
    original = Adam.step

    def step_then_interrupt(self, *args):
        original(self, *args)
        raise KeyboardInterrupt  # after the parameters have moved

    monkeypatch.setattr(Adam, "step", step_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        (est.partial_fit if call == "partial_fit" else est.fit)(data, Y)
    assert _state(est) == before
    np.testing.assert_array_equal(est.predict(data), prediction)


@pytest.mark.parametrize("make, data", CASES)
def test_failed_first_fit_leaves_the_estimator_unfitted(make, data, monkeypatch):
    est = make()

    def boom(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(Adam, "step", boom)
    with pytest.raises(KeyboardInterrupt):
        est.fit(data, Y)
    with pytest.raises(NotFittedError):
        est.predict(data)


def _fingerprint(est):
    arrays = est.coefs_ + est.intercepts_ + [getattr(est, "embeddings_", np.zeros(0))]
    return hashlib.sha256(b"".join(a.tobytes() for a in arrays)).hexdigest()


@pytest.mark.parametrize("make, data", CASES)
def test_same_random_state_same_bits(make, data):
    a, b = make().fit(data, Y), make().fit(data, Y)
    assert _fingerprint(a) == _fingerprint(b)
    restored = pickle.loads(pickle.dumps(make()))
    assert _fingerprint(restored.fit(data, Y)) == _fingerprint(a)
    c = clone(a).set_params(random_state=None).fit(data, Y)
    d = clone(a).set_params(random_state=None).fit(data, Y)
    assert _fingerprint(c) != _fingerprint(d)


_SUBPROCESS = """
import hashlib, sys, warnings
import numpy as np
sys.path.insert(0, {tests!r})
warnings.simplefilter("ignore")
from test_reliability import CASES, X, Y, DOCS, _fingerprint
for make, data in CASES:
    print(_fingerprint(make().fit(data, Y)))
"""


def test_same_bits_in_another_process():
    tests = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    out = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS.format(tests=tests)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()
    assert out == [_fingerprint(make().fit(data, Y)) for make, data in CASES]


@pytest.mark.parametrize("make, data", CASES)
def test_grid_search_in_parallel_equals_serial(make, data):
    grid = {"alpha": [1e-4, 1e-1]}
    serial = GridSearchCV(make(), grid, cv=2, n_jobs=1).fit(data, Y)
    parallel = GridSearchCV(make(), grid, cv=2, n_jobs=2).fit(data, Y)
    assert serial.best_params_ == parallel.best_params_
    np.testing.assert_array_equal(serial.cv_results_["mean_test_score"],
                                  parallel.cv_results_["mean_test_score"])
    assert _fingerprint(serial.best_estimator_) == _fingerprint(parallel.best_estimator_)


@pytest.mark.parametrize("make, data", CASES)
def test_predict_from_many_threads(make, data):
    est = make().fit(data, Y)
    serial = est.predict(data)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: est.predict(data), range(64)))
    for result in results:
        np.testing.assert_array_equal(result, serial)


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e150), (np.float32, 1e18)])
def test_huge_targets_never_give_silent_nan(dtype, scale):
    est = _mlp(solver="lbfgs")
    try:
        est.fit(X.astype(dtype), (Y * scale).astype(dtype))
    except ValueError as exc:
        assert "non-finite" in str(exc) or "too large" in str(exc)
    else:
        assert np.isfinite(est.predict(X.astype(dtype))).all()
