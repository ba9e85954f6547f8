"""Where an MLPRegressorFromNotes epoch goes: seconds per phase, and the GEMM floor.

Run:  python benchmarks/profile_epoch.py                     (256, 256), float64
      python benchmarks/profile_epoch.py --hidden 100 --dtype float32

Replays the training loop's calls for one epoch of bench_mlp.py's data (100 batches
of 200), timing each phase, median of 5 epochs; then times the arithmetic floor of
bench_mlp.py (benchmarks/_common.py: the same matrix products in preallocated
buffers, nothing else).
"""

import argparse
import time
import warnings

import numpy as np
from _common import MatmulFloor, blas_environment
from sklearn.datasets import make_regression

from sknotes import MLPRegressorFromNotes
from sknotes import _kernels as kernels
from sknotes.nodes import L2Penalty, MSELoss


def phases(hidden, dtype, repeats=5, batch=200):
    X, y = make_regression(n_samples=20_000, n_features=100, noise=1, random_state=0)
    X, y = X.astype(dtype), (y / y.std()).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressorFromNotes(hidden_layer_sizes=hidden, max_iter=1).fit(X, y)
    network, optimizer, loss = model._network, model._optimizers[0], MSELoss()
    penalty = L2Penalty(1e-4, network.n_coef_params)
    y = y[:, None]
    order = np.random.default_rng(0).permutation(len(X))
    names = ["gather", "forward", "loss", "backward", "L2 loss term", "adam + L2 grad"]
    times = {name: [] for name in names}
    for _ in range(repeats):
        spent = dict.fromkeys(names, 0.0)
        for start in range(0, len(X), batch):
            t0 = time.perf_counter()
            idx = order[start : start + batch]
            xb, yb = np.take(X, idx, axis=0), np.take(y, idx, axis=0)
            t1 = time.perf_counter()
            y_hat = network.forward(xb)
            t2 = time.perf_counter()
            loss.forward(y_hat, yb, None)
            grad = loss.backward()
            t3 = time.perf_counter()
            network.backward(grad)
            t4 = time.perf_counter()
            penalty.forward(network.theta, loss)
            t5 = time.perf_counter()
            optimizer.step(network.theta, network.grad, penalty)
            t6 = time.perf_counter()
            for name, seconds in zip(
                names, np.diff([t0, t1, t2, t3, t4, t5, t6]), strict=True
            ):
                spent[name] += seconds
        for name in names:
            times[name].append(spent[name])
    return {name: float(np.median(v)) for name, v in times.items()}, network


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    args = parser.parse_args()
    hidden = tuple(int(h) for h in args.hidden.split(","))
    dtype = np.dtype(args.dtype)
    print("sknotes kernels:", "numba" if kernels.using_numba() else "numpy")
    for line in blas_environment():
        print(line)
    spent, network = phases(hidden, dtype)
    print(f"hidden {hidden}, {dtype.name}: seconds per epoch, median of 5")
    for name, seconds in spent.items():
        print(f"  {name:16s} {seconds:.4f}")
    print(f"  {'total':16s} {sum(spent.values()):.4f}")
    floor = MatmulFloor(network.layer_units, 20_000, 200, dtype)
    print(f"  {'floor (products)':16s} {floor.seconds_per_epoch():.4f}")


if __name__ == "__main__":
    main()
