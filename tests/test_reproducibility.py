"""The same integer random_state gives bit-identical parameters: in one process,
in another process (another PYTHONHASHSEED), under a parallel grid search and after
a pickle round trip; random_state=None gives different fits."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV

from tests.hash_seeds import fingerprints
from tests.reliability_cases import (
    CASE_IDS,
    CASES,
    DOCS,
    X,
    fingerprint,
    make_bag_classifier,
    make_mlp_classifier,
    target,
)

pytestmark = pytest.mark.usefixtures("quiet_convergence")

# The classifiers join the loops over estimators (the subprocess test keeps the
# regressors' fixed list).
CASES = [*CASES, (make_mlp_classifier, X), (make_bag_classifier, DOCS)]
CASE_IDS = [*CASE_IDS, "mlp_classifier", "bag_classifier"]


@pytest.mark.parametrize(
    "make, data, solver",
    [
        (*CASES[0], "adam"),
        (*CASES[0], "sgd"),
        (*CASES[0], "lbfgs"),
        (*CASES[1], "adam"),
        (*CASES[1], "sgd"),
        (*CASES[2], "adam"),
        (*CASES[2], "lbfgs"),
        (*CASES[3], "adam"),
    ],
    ids=[
        "mlp-adam",
        "mlp-sgd",
        "mlp-lbfgs",
        "bag-adam",
        "bag-sgd",
        "classifier-adam",
        "classifier-lbfgs",
        "bag-classifier-adam",
    ],
)
def test_same_random_state_same_bits(make, data, solver):
    a, b = (
        make(solver=solver).fit(data, target(make)),
        make(solver=solver).fit(data, target(make)),
    )
    assert fingerprint(a) == fingerprint(b)
    np.testing.assert_array_equal(a.predict(data), b.predict(data))


@pytest.mark.parametrize("make, data", CASES, ids=CASE_IDS)
def test_same_bits_after_a_pickle_round_trip(make, data):
    reference = fingerprint(make().fit(data, target(make)))
    unfitted = pickle.loads(pickle.dumps(make()))
    assert fingerprint(unfitted.fit(data, target(make))) == reference
    # A fitted model pickled, then refitted from its clone, is the same too.
    fitted = pickle.loads(pickle.dumps(make().fit(data, target(make))))
    assert fingerprint(fitted) == reference
    assert fingerprint(clone(fitted).fit(data, target(make))) == reference


@pytest.mark.parametrize("make, data", CASES, ids=CASE_IDS)
def test_partial_fit_sequence_is_reproducible(make, data):
    a, b = make(), make()
    y = target(make)
    # A classifier's first partial_fit names the classes (scikit-learn's rule).
    first = {"classes": np.unique(y)} if is_classifier(a) else {}
    for _ in range(3):
        a.partial_fit(data, y, **first)
        b.partial_fit(data, y, **first)
        first = {}
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize("make, data", CASES, ids=CASE_IDS)
def test_random_state_none_differs(make, data):
    c = make(random_state=None).fit(data, target(make))
    d = make(random_state=None).fit(data, target(make))
    assert fingerprint(c) != fingerprint(d)
    assert fingerprint(make(random_state=1).fit(data, target(make))) != fingerprint(
        make(random_state=2).fit(data, target(make))
    )


@pytest.mark.xdist_group("hash_seeds")
def test_same_bits_in_other_processes_with_other_hash_seeds(other_hash_seeds):
    # Token vocabularies and hashed buckets must not depend on Python's str hash.
    here = fingerprints()
    assert len(other_hash_seeds) == 3
    for seed, outputs in other_hash_seeds.items():
        assert outputs["fingerprints"] == here, f"PYTHONHASHSEED={seed}"


@pytest.mark.xdist_group("loky")  # one pool of worker processes (see conftest)
@pytest.mark.parametrize("make, data", CASES, ids=CASE_IDS)
def test_grid_search_in_parallel_equals_serial(make, data):
    grid = {"alpha": [1e-4, 1e-1]}
    serial = GridSearchCV(make(), grid, cv=2, n_jobs=1).fit(data, target(make))
    parallel = GridSearchCV(make(), grid, cv=2, n_jobs=2).fit(data, target(make))
    assert serial.best_params_ == parallel.best_params_
    np.testing.assert_array_equal(
        serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )
    assert fingerprint(serial.best_estimator_) == fingerprint(parallel.best_estimator_)
