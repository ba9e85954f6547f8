"""MLPRegressorFromNotes vs scikit-learn's MLPRegressor vs the arithmetic floor.

Run:  python benchmarks/bench_mlp.py              (median of 5 interleaved runs)
      python benchmarks/bench_mlp.py --quick      (smoke run)
      python benchmarks/bench_mlp.py --markdown   (also the README's table rows)
      python benchmarks/bench_mlp.py --threads 1  (BLAS on one thread, both sides)

Both sides get the same arrays (X and y in the row's dtype: float32 X with float32
y, float64 with float64), the same settings, initialisation (same random_state) and
shuffles, in one process with the same BLAS threads; fits are interleaved so both
see the same machine noise, and each row reports medians. Their training R² must
agree within 0.01 (Adam is invariant to the notes' factor 2 in the MSE gradient).

The floor (benchmarks/_common.py, MatmulFloor) is the matrix products one epoch
of the network needs, in preallocated buffers, nothing else, timed in the same
process between the fits.
Targets: ours/floor ≤ 1.3 for (256, 256) and ≤ 1.6 for (100,), both dtypes.
"""

import argparse
import contextlib
import os
import time
import warnings

import numpy as np
from _common import MatmulFloor, blas_environment, median_seconds
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from sknotes import MLPRegressorFromNotes
from sknotes import _kernels as kernels

TARGETS = {(100,): 1.6, (256, 256): 1.3}
BATCH = 200


def _time_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def run(n_samples, repeats, max_iter):
    X, y = make_regression(n_samples=n_samples, n_features=100, noise=1, random_state=0)
    y = y / y.std()
    settings = dict(
        solver="adam",
        batch_size=BATCH,
        max_iter=max_iter,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=0,
    )
    rows = []
    for hidden in TARGETS:
        for dtype in [np.float64, np.float32]:
            Xd, yd = X.astype(dtype), y.astype(dtype)
            floor = MatmulFloor([X.shape[1], *hidden, 1], n_samples, BATCH, dtype)
            floor.epoch()  # warm-up: page in the buffers
            times = {"sknotes": [], "sklearn": [], "floor": []}
            models = {}
            for cls in (MLPRegressorFromNotes, MLPRegressor):
                # Warm-up: compiled kernels and first-call costs stay out of the times.
                warm = dict(settings, max_iter=1)
                cls(hidden_layer_sizes=hidden, **warm).fit(Xd[:400], yd[:400])
            for _ in range(repeats):  # interleaved: all three see the same noise
                for name, cls in [
                    ("sknotes", MLPRegressorFromNotes),
                    ("sklearn", MLPRegressor),
                ]:
                    model = cls(hidden_layer_sizes=hidden, **settings)
                    times[name].append(_time_fit(model, Xd, yd) / max_iter)
                    models[name] = model
                # The floor is cheap: a median of 5 epochs per slot steadies it.
                times["floor"].append(median_seconds(floor.epoch, 5))
            medians = {name: float(np.median(t)) for name, t in times.items()}
            fitted = [models[name].coefs_[0].dtype for name in ("sknotes", "sklearn")]
            rows.append(
                dict(
                    hidden=hidden,
                    dtype=np.dtype(dtype).name,
                    fitted_dtypes=[d.name for d in fitted],
                    r2_ours=models["sknotes"].score(Xd, yd),
                    r2_sklearn=models["sklearn"].score(Xd, yd),
                    **medians,
                )
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--markdown", action="store_true", help="print table rows")
    parser.add_argument(
        "--threads", type=int, default=None, help="BLAS threads (default: as is)"
    )
    args = parser.parse_args()
    n_samples, repeats = (2000, 1) if args.quick else (20_000, args.repeats)
    warnings.simplefilter("ignore", ConvergenceWarning)
    # numba's kernels (the 'fast' extra) or the numpy twins (SKNOTES_NUMBA=0).
    print("sknotes kernels:", "numba" if kernels.using_numba() else "numpy")
    load_before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        if args.threads is not None:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(args.threads))
        for line in blas_environment():  # as the run sees it
            print(line)
        rows = run(n_samples, repeats, max_iter=5)
    # Other processes on a 2-core machine stall both sides' BLAS threads.
    print(f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}")
    print(
        f"make_regression({n_samples}, 100 features), X and y in the row's dtype, "
        f"adam, batch {BATCH}, 5 epochs, seconds per epoch, median of {repeats}"
    )
    print(
        f"{'hidden':>11s} {'dtype':>8s} {'sknotes':>8s} {'sklearn':>8s} "
        f"{'floor':>8s} {'ours/fl':>8s} {'skl/fl':>7s} {'ours/skl':>8s} "
        f"{'R² ours':>8s} {'R² skl':>7s} {'target':>7s}"
    )
    ok = True
    for r in rows:
        target = TARGETS[r["hidden"]]
        ours_floor = r["sknotes"] / r["floor"]
        agree = abs(r["r2_ours"] - r["r2_sklearn"]) < 0.01
        # A side that silently upcasts would not be timing the row's dtype.
        same_dtype = r["fitted_dtypes"] == [r["dtype"], r["dtype"]]
        met = agree and same_dtype and ours_floor <= target
        ok &= met
        print(
            f"{str(r['hidden']):>11s} {r['dtype']:>8s} {r['sknotes']:8.4f} "
            f"{r['sklearn']:8.4f} {r['floor']:8.4f} {ours_floor:8.2f} "
            f"{r['sklearn'] / r['floor']:7.2f} {r['sknotes'] / r['sklearn']:8.2f} "
            f"{r['r2_ours']:8.4f} {r['r2_sklearn']:7.4f} "
            f"{'≤ ' + str(target):>7s}{'' if met else '  NOT MET'}"
            f"{'' if agree else '  R² DISAGREE'}"
            f"{'' if same_dtype else '  FITTED IN ' + str(r['fitted_dtypes'])}"
        )
    print(
        "targets (ours/floor ≤ 1.3 for (256, 256), ≤ 1.6 for (100,); R² within 0.01):",
        "met" if ok else "NOT all met",
    )
    if args.markdown:
        print()
        print(
            "| hidden | dtype | sknotes | scikit-learn | floor | ours/floor "
            "| sklearn/floor | ours/sklearn | R² ours / sklearn |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['hidden']} | {r['dtype']} | {r['sknotes']:.4f} "
                f"| {r['sklearn']:.4f} | {r['floor']:.4f} "
                f"| {r['sknotes'] / r['floor']:.2f} (≤ {TARGETS[r['hidden']]}) "
                f"| {r['sklearn'] / r['floor']:.2f} "
                f"| {r['sknotes'] / r['sklearn']:.2f} "
                f"| {r['r2_ours']:.4f} / {r['r2_sklearn']:.4f} |"
            )


if __name__ == "__main__":
    main()
