"""
When one machine is not enough: sknotes with dask
=================================================

1. A hyper-parameter search spread over a dask cluster, through joblib's dask
   backend (here a ``LocalCluster`` of 2 worker processes on this machine; point the
   ``Client`` at a real scheduler to use a cluster).
2. Training on data larger than memory: ``partial_fit`` over the chunks of a
   ``dask.array`` with ``dask_ml.wrappers.Incremental``, and over the partitions of a
   ``dask.bag`` of token lists with ``EmbeddingBagRegressor(n_buckets=...)``, whose
   hashed table meets new tokens forever.

Set ``SKNOTES_EXAMPLE_N`` to change the number of rows.
"""

# %%
import os
import time
import warnings

import dask.array as da
import dask.bag as db
import joblib
import numpy as np
from dask_ml.wrappers import Incremental
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sknotes import EmbeddingBagRegressor, MLPRegressorFromNotes

warnings.simplefilter("ignore", ConvergenceWarning)
n = int(os.environ.get("SKNOTES_EXAMPLE_N", 200_000))
rng = np.random.default_rng(0)

if __name__ == "__main__":
    # %%
    # 1. A search on the cluster.
    X = rng.standard_normal((min(n, 20_000), 20))
    y = np.tanh(X[:, :5]).sum(axis=1) + 0.1 * rng.standard_normal(len(X))
    grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(32,), (64,)]}
    search = GridSearchCV(
        MLPRegressorFromNotes(max_iter=20, random_state=0), grid, cv=3, n_jobs=-1
    )
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
        print(
            f"dask search: best {search.best_params_}, R² {search.best_score_:.3f}, "
            f"{time.perf_counter() - start:.1f} s"
        )
    # The same search in this process: same random_state, so the same result.
    start = time.perf_counter()
    local = GridSearchCV(search.estimator, grid, cv=3).fit(X, y)
    same = np.array_equal(
        local.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )
    print(
        f"local search (1 process): {time.perf_counter() - start:.1f} s; results "
        f"{'agree' if same else 'DISAGREE'} with the cluster's"
    )

    # %%
    # 2a. partial_fit over the chunks of a dask array (one chunk in memory at a time).
    X_big = da.random.RandomState(0).standard_normal((n, 20), chunks=(n // 10, 20))
    y_big = (da.tanh(X_big[:, :5]).sum(axis=1)).rechunk(n // 10)
    start = time.perf_counter()
    incremental = Incremental(
        MLPRegressorFromNotes(hidden_layer_sizes=(32,), random_state=0),
        shuffle_blocks=False,
    )
    incremental.fit(X_big, y_big)
    X_last, y_last = X_big.blocks[-1].compute(), y_big.blocks[-1].compute()
    print(
        f"Incremental over {X_big.numblocks[0]} chunks of {n // 10} rows: "
        f"{time.perf_counter() - start:.1f} s, "
        f"R² on the last chunk {incremental.estimator_.score(X_last, y_last):.3f}"
    )

    # %%
    # 2b. Token lists streamed from a dask bag, hashed into a fixed table.
    weights = rng.standard_normal(1000)
    pairs = db.from_sequence(range(min(n, 50_000)), npartitions=8).map(
        lambda i: (
            [f"t{(i * 7 + k * 13) % 1000}" for k in range(5)],
            float(np.mean([weights[(i * 7 + k * 13) % 1000] for k in range(5)])),
        )
    )
    model = EmbeddingBagRegressor(n_buckets=4096, embedding_dim=16, random_state=0)
    for _epoch in range(3):
        for partition in pairs.to_delayed():
            chunk = partition.compute()
            model.partial_fit(
                [doc for doc, _ in chunk], np.array([t for _, t in chunk])
            )
    last = pairs.to_delayed()[-1].compute()
    print(
        "dask bag → EmbeddingBagRegressor, R² on the last partition:",
        round(model.score([d for d, _ in last], np.array([t for _, t in last])), 3),
    )
