"""Issue 10's MovieLens check: the defaults against one-hot + Ridge on one 80/20 split.

Run (from the repository root):  python benchmarks/bench_movielens_split.py

``train_test_split(test_size=0.2, random_state=0)`` of MovieLens' user/movie/genre
token bags (``benchmarks/_text_sets.py``); ``EmbeddingBagRegressor(random_state=0)``
against ``CountVectorizer`` one-hot tokens + ``Ridge`` at every alpha of a small log
grid (each alpha's test RMSE is shown: the best of them is chosen on the test set, a
generous baseline).  Writes ``benchmarks/results/movielens_split.json``.
"""

import json
import os
import sys
import time

from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import Ridge
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import one_thread  # noqa: E402
from _text_sets import load  # noqa: E402

from sknotes import EmbeddingBagRegressor  # noqa: E402

RESULTS = os.path.join(os.path.dirname(__file__), "results", "movielens_split.json")


def main():
    X, y = load("movielens")
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0
    )
    record = {"load_average": os.getloadavg()[0], "ridge": {}}
    with one_thread():
        for alpha in (1.0, 3.0, 10.0):
            ridge = make_pipeline(CountVectorizer(analyzer=list), Ridge(alpha=alpha))
            ridge.fit(X_train, y_train)
            rmse = root_mean_squared_error(y_test, ridge.predict(X_test))
            record["ridge"][str(alpha)] = rmse
            print(f"one-hot + Ridge(alpha={alpha:g})  RMSE {rmse:.4f}", flush=True)
        start = time.perf_counter()
        model = EmbeddingBagRegressor(random_state=0).fit(X_train, y_train)
        record["fit_seconds"] = time.perf_counter() - start
        record["defaults"] = root_mean_squared_error(y_test, model.predict(X_test))
    print(
        f"EmbeddingBagRegressor defaults  RMSE {record['defaults']:.4f} "
        f"(fit {record['fit_seconds']:.0f} s, {model.n_iter_} epochs, "
        f"alpha_linear_ {model.alpha_linear_:g})"
    )
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
