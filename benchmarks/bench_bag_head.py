"""The default embedding-bag models' training epoch: compiled step vs reference step.

Run:  PYTHONPATH=. python benchmarks/bench_bag_head.py            (median of 5)
      PYTHONPATH=. python benchmarks/bench_bag_head.py --quick    (smoke run)

The models are the estimators' defaults (a (64,) relu head beside the linear path,
sqrt-n pooling, Adam, float64), trained on int token lists of the Zipf corpus of
bench_embedding_bag.py (words only: the defaults add n-grams to raw strings
alone); early stopping off and a fixed number of epochs, so that each fit runs the
same steps.  Per-epoch tokens/s is taken from the difference of a 4-epoch and a
1-epoch fit in the same repeat (encoding, the linear path's ridge start and the
compilation cancel).  Sides, interleaved in one process:

- reference: the scipy/numpy step through the network's nodes (numba off for
  the step only);
- compiled, loops: the compiled step with the head's products as its own loops
  (the estimators' choice);
- compiled, BLAS: the same step with the head's products through numba's
  ``np.dot`` (OpenBLAS).

each on ``n_jobs=1`` and ``n_jobs=2`` (the reference runs one thread whatever
``n_jobs`` says; its BLAS may use two).
"""

import argparse
import os
import time
import warnings

import numpy as np
from _common import blas_environment
from bench_embedding_bag import make_corpus
from sklearn.exceptions import ConvergenceWarning

from sknotes import EmbeddingBagClassifier, EmbeddingBagRegressor
from sknotes import _bag_kernel as bag_kernel

EPOCHS = 4


def default_model(estimator, epochs, n_jobs):
    """The estimator's defaults, with a fixed number of epochs."""
    return estimator(
        early_stopping=False,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=0,
        n_jobs=n_jobs,
    )


def run(side, estimator, epochs, n_jobs, X, y):
    compiled = bag_kernel._compiled()
    bag_kernel.CompiledBagStep.blas = side == "compiled, BLAS"
    if side == "reference":
        bag_kernel._COMPILED = False
    try:
        model = default_model(estimator, epochs, n_jobs)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    finally:
        bag_kernel._COMPILED = compiled
        bag_kernel.CompiledBagStep.blas = False
    assert (model._reference_reason is None) == (side != "reference")
    return seconds, model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-docs", type=int, default=50_000)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    for line in blas_environment():
        print(line)
    n_docs = 5_000 if args.quick else args.n_docs
    repeats = 1 if args.quick else args.repeats
    ids, y = make_corpus(n_docs)
    n_train = int(0.8 * n_docs)
    docs = ids.tolist()
    targets = {
        EmbeddingBagRegressor: y.astype(np.float64),
        EmbeddingBagClassifier: y > np.median(y[:n_train]),
    }
    tokens = n_train * ids.shape[1]
    sides = ["reference", "compiled, loops", "compiled, BLAS"]
    load_before = os.getloadavg()[0]
    # Warm-up: numba compiles (or loads) every kernel before anything is timed.
    for estimator, target in targets.items():
        for side in sides[1:]:
            run(side, estimator, 1, 1, docs[:500], target[:500])
    print(
        f"\ndefault models, {n_train} training documents × {ids.shape[1]} tokens "
        f"(int token lists), per epoch from {EPOCHS}- minus 1-epoch fits, "
        f"median of {repeats}, interleaved"
    )
    print(
        f"{'model':>22s} {'side':>16s} {'threads':>7s} {'tokens/s':>12s} "
        f"{'× reference':>11s} {'held-out score':>14s}"
    )
    for estimator, target in targets.items():
        y_train, y_test = target[:n_train], target[n_train:]
        seconds = {}
        scores = {}
        for _ in range(repeats):
            for n_jobs in (1, 2):
                for side in sides:
                    key = side, n_jobs
                    many, model = run(
                        side, estimator, EPOCHS, n_jobs, docs[:n_train], y_train
                    )
                    one, _ = run(side, estimator, 1, n_jobs, docs[:n_train], y_train)
                    seconds.setdefault(key, []).append((many - one) / (EPOCHS - 1))
                    scores.setdefault(key, []).append(
                        model.score(docs[n_train:], y_test)
                    )
        for n_jobs in (1, 2):
            reference = tokens / float(np.median(seconds["reference", n_jobs]))
            for side in sides:
                speed = tokens / float(np.median(seconds[side, n_jobs]))
                print(
                    f"{estimator.__name__:>22s} {side:>16s} {n_jobs:7d} "
                    f"{speed:12,.0f} {speed / reference:11.2f} "
                    f"{float(np.median(scores[side, n_jobs])):14.4f}"
                )
    print(
        f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
        f"({os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
