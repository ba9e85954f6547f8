"""The default embedding-bag models' training epoch: compiled step vs reference step.

Run:  PYTHONPATH=. python benchmarks/bench_bag_head.py            (median of 5)
      PYTHONPATH=. python benchmarks/bench_bag_head.py --quick    (smoke run)

The models are the estimators' defaults (a (64,) relu head beside the linear path,
sqrt-n pooling, Adam, float64), trained on int token lists of the Zipf corpus of
bench_embedding_bag.py (words only: the defaults add n-grams to raw strings
alone); early stopping off and a fixed number of epochs, so that each fit runs the
same steps.  The model is fitted once (the start: vocabulary, the linear path's
solve) and copied for each side, then warm-started: per-epoch tokens/s is taken from
the difference of a 4-epoch and a 1-epoch warm fit in the same repeat (encoding
cancels).  Sides, interleaved in one process:

- reference: the scipy/numpy step through the network's nodes (numba off for
  the step only);
- compiled, loops: the compiled step with the head's products as its own loops;
- compiled, BLAS: the same step with the head's products through numba's
  ``np.dot`` (OpenBLAS), the estimators' choice for hidden heads.

each on ``n_jobs=1`` and ``n_jobs=2`` (the reference runs one thread whatever
``n_jobs`` says; its BLAS may use two).
"""

import argparse
import copy
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


def with_side(side, function, *args):
    """``function(*args)`` with the train step of ``side``."""
    compiled, blas = bag_kernel._compiled(), bag_kernel.CompiledBagStep.blas
    bag_kernel.CompiledBagStep.blas = side == "compiled, BLAS"
    if side == "reference":
        bag_kernel._COMPILED = False
    try:
        return function(*args)
    finally:
        bag_kernel._COMPILED = compiled
        bag_kernel.CompiledBagStep.blas = blas


def timed_epochs(side, model, epochs, X, y):
    """Seconds of ``epochs`` more epochs of the fitted ``model`` (warm start)."""
    model.set_params(max_iter=epochs)
    start = time.perf_counter()
    with_side(side, model.fit, X, y)
    seconds = time.perf_counter() - start
    assert (model._reference_reason is None) == (side != "reference")
    return seconds


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
    train, test = docs[:n_train], docs[n_train:]
    targets = {
        EmbeddingBagRegressor: y.astype(np.float64),
        EmbeddingBagClassifier: y > np.median(y[:n_train]),
    }
    tokens = n_train * ids.shape[1]
    sides = ["reference", "compiled, loops", "compiled, BLAS"]
    load_before = os.getloadavg()[0]
    print(
        f"\ndefault models, {n_train} training documents × {ids.shape[1]} tokens "
        f"(int token lists), per epoch from warm-started {EPOCHS}- minus 1-epoch "
        f"fits, median of {repeats}, interleaved"
    )
    print(
        f"{'model':>22s} {'side':>16s} {'threads':>7s} {'tokens/s':>12s} "
        f"{'× reference':>11s} {'held-out score':>14s}"
    )
    for estimator, target in targets.items():
        y_train, y_test = target[:n_train], target[n_train:]
        # The start (vocabulary, the linear path's solve) once, untimed; then one
        # untimed epoch per side (numba compiles or loads its kernels).
        start = default_model(estimator, 1, 1).fit(train, y_train)
        models = {}
        for n_jobs in (1, 2):
            for side in sides:
                model = copy.deepcopy(start).set_params(warm_start=True, n_jobs=n_jobs)
                timed_epochs(side, model, 1, train, y_train)
                models[side, n_jobs] = model
        seconds = {key: [] for key in models}
        for _ in range(repeats):
            for key, model in models.items():
                many = timed_epochs(key[0], model, EPOCHS, train, y_train)
                one = timed_epochs(key[0], model, 1, train, y_train)
                seconds[key].append((many - one) / (EPOCHS - 1))
        for n_jobs in (1, 2):
            reference = tokens / float(np.median(seconds["reference", n_jobs]))
            for side in sides:
                speed = tokens / float(np.median(seconds[side, n_jobs]))
                score = models[side, n_jobs].score(test, y_test)
                print(
                    f"{estimator.__name__:>22s} {side:>16s} {n_jobs:7d} "
                    f"{speed:12,.0f} {speed / reference:11.2f} {score:14.4f}"
                )
    print(
        f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
        f"({os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
