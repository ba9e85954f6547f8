"""MLPRegressorFromNotes vs scikit-learn's MLPRegressor: seconds per epoch, same math.

Run:  python benchmarks/bench_mlp.py            (median of 5 interleaved runs)
      python benchmarks/bench_mlp.py --quick    (smoke run)

Both sides get the same data, settings, initialisation (same random_state) and
shuffles; their training R² must agree within 0.01 (Adam is invariant to the notes'
factor 2 in the MSE gradient).
"""

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from sknotes import MLPRegressorFromNotes, kernels


def _time_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def run(n_samples, repeats, max_iter):
    X, y = make_regression(n_samples=n_samples, n_features=100, noise=1, random_state=0)
    y = y / y.std()
    settings = dict(
        solver="adam",
        batch_size=200,
        max_iter=max_iter,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=0,
    )
    rows = []
    for hidden in [(100,), (256, 256)]:
        for dtype in [np.float64, np.float32]:
            Xd = X.astype(dtype)
            times = {"sknotes": [], "sklearn": []}
            models = {}
            for _ in range(repeats):  # interleaved: both sides see the same noise
                for name, cls in [
                    ("sknotes", MLPRegressorFromNotes),
                    ("sklearn", MLPRegressor),
                ]:
                    model = cls(hidden_layer_sizes=hidden, **settings)
                    times[name].append(_time_fit(model, Xd, y) / max_iter)
                    models[name] = model
            ours, theirs = np.median(times["sknotes"]), np.median(times["sklearn"])
            r2_ours = models["sknotes"].score(Xd, y)
            r2_theirs = models["sklearn"].score(Xd, y)
            rows.append(
                (hidden, np.dtype(dtype).name, ours, theirs, r2_ours, r2_theirs)
            )
    return rows


def main():
    # numba's kernels (the 'fast' extra) or the numpy twins (SKNOTES_NUMBA=0).
    print("sknotes kernels:", "numba" if kernels.using_numba() else "numpy")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n_samples, repeats = (2000, 1) if args.quick else (20_000, args.repeats)
    warnings.simplefilter("ignore", ConvergenceWarning)
    try:
        from threadpoolctl import threadpool_info

        blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]
        print("BLAS:", blas)
    except ImportError:
        pass
    load_before = os.getloadavg()[0]
    rows = run(n_samples, repeats, max_iter=5)
    # Other processes on a 2-core machine stall both sides' BLAS threads.
    print(f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}")
    print(
        f"make_regression({n_samples}, 100 features), adam, batch 200, 5 epochs, "
        f"median of {repeats}"
    )
    print(
        f"{'hidden':>11s} {'dtype':>8s} {'sknotes s/ep':>13s} {'sklearn s/ep':>13s} "
        f"{'ratio':>6s} {'R² ours':>8s} {'R² sklearn':>10s}"
    )
    ok = True
    for hidden, dtype, ours, theirs, r2_ours, r2_theirs in rows:
        ratio = ours / theirs
        agree = abs(r2_ours - r2_theirs) < 0.01
        ok &= agree and ratio <= 0.5
        print(
            f"{str(hidden):>11s} {dtype:>8s} {ours:13.4f} {theirs:13.4f} {ratio:6.2f} "
            f"{r2_ours:8.4f} {r2_theirs:10.4f}{'' if agree else '  R² DISAGREE'}"
        )
    print("targets (ratio <= 0.5, R² within 0.01):", "met" if ok else "NOT all met")


if __name__ == "__main__":
    main()
