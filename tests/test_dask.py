"""Scale-out with dask: a search on a real local cluster, partial_fit over chunks."""

import os

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sknotes import EmbeddingBagRegressor, MLPRegressorFromNotes
from tests.dask_cluster import time_limit

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
da = pytest.importorskip("dask.array")

rng = np.random.default_rng(0)
X = rng.standard_normal((300, 4))
Y = X @ rng.standard_normal(4) + 0.1 * rng.standard_normal(300)


@pytest.mark.xdist_group("dask")
def test_grid_search_on_a_local_cluster_equals_the_local_search(dask_cluster):
    import distributed
    import joblib

    grid = {"alpha": [1e-4, 1e-1], "hidden_layer_sizes": [(4,), (8,)]}
    estimator = MLPRegressorFromNotes(max_iter=20, random_state=0)
    local = GridSearchCV(estimator, grid, cv=3).fit(X, Y)
    with (
        time_limit(120),
        distributed.Client(dask_cluster, timeout=60) as client,
    ):
        client.wait_for_workers(2, timeout=60)
        worker_pids = set(client.run(os.getpid).values())
        assert len(worker_pids) == 2 and os.getpid() not in worker_pids
        with joblib.parallel_backend("dask"):
            remote = GridSearchCV(estimator, grid, cv=3, n_jobs=-1).fit(X, Y)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(
        remote.best_estimator_.coefs_[0], local.best_estimator_.coefs_[0]
    )


def test_incremental_over_dask_chunks_equals_partial_fit_in_memory():
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X_dask = da.from_array(X, chunks=(60, 4))
    y_dask = da.from_array(Y, chunks=60)
    assert X_dask.numblocks[0] == 5
    inc = wrappers.Incremental(
        MLPRegressorFromNotes(hidden_layer_sizes=(5,), random_state=0),
        shuffle_blocks=False,
    )
    inc.fit(X_dask, y_dask)
    manual = MLPRegressorFromNotes(hidden_layer_sizes=(5,), random_state=0)
    for start in range(0, 300, 60):
        manual.partial_fit(X[start : start + 60], Y[start : start + 60])
    for a, b in zip(inc.estimator_.coefs_, manual.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_partial_fit_over_dask_bag_partitions_with_hashing():
    bag_module = pytest.importorskip("dask.bag")
    docs = [[f"t{j}" for j in rng.integers(0, 50, size=5)] for _ in range(200)]
    y = rng.standard_normal(200)
    bag = bag_module.from_sequence(list(zip(docs, y, strict=True)), npartitions=4)
    streamed = EmbeddingBagRegressor(n_buckets=64, embedding_dim=4, random_state=0)
    for partition in bag.to_delayed():
        pairs = partition.compute()
        streamed.partial_fit([d for d, _ in pairs], np.array([t for _, t in pairs]))
    manual = EmbeddingBagRegressor(n_buckets=64, embedding_dim=4, random_state=0)
    for start in range(0, 200, 50):
        manual.partial_fit(docs[start : start + 50], y[start : start + 50])
    np.testing.assert_array_equal(streamed.embeddings_, manual.embeddings_)
