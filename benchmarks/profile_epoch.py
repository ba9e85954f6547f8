"""Where an MLP epoch goes: seconds per phase of the training step, and the floor.

Run:  python benchmarks/profile_epoch.py                     regression, (256, 256)
      python benchmarks/profile_epoch.py --task binary --hidden 100 --dtype float32
      OPENBLAS_NUM_THREADS=1 python benchmarks/profile_epoch.py --cpu-time
                                          (this thread's CPU time; one BLAS thread)

Replays the reference training step's calls for one epoch of bench_mlp.py's data
(100 batches of 200), timing each phase, median of 5 epochs; then the compiled step
that fits use with numba (sknotes/_dense_kernel.py: the same arithmetic in one call
per batch) on the same batches, and the arithmetic floor of bench_mlp.py
(benchmarks/_common.py: the same matrix products in preallocated buffers, nothing
else).  On a shared machine ``--cpu-time`` leaves out the time
other processes hold the core (not the caches they evict).
"""

import argparse
import time
import types
import warnings

import numpy as np
from _common import MatmulFloor, blas_environment
from bench_mlp import make_task

from sknotes import _dense_kernel as dense_kernel
from sknotes import _kernels as kernels
from sknotes._training import TrainingData
from sknotes.nodes import L2Penalty

NAMES = ["gather", "forward", "loss", "backward", "L2 loss term", "adam + L2 grad"]


def phases(task, hidden, dtype, clock, repeats=5, batch=200):
    X, y, ours, _, _ = make_task(task, 20_000)
    X = X.astype(dtype)
    y = y.astype(dtype) if task == "regression" else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ours(hidden_layer_sizes=hidden, max_iter=1).fit(X, y)
    network, optimizer, loss = model._network, model._optimizers[0], model._loss_node()
    penalty = L2Penalty(1e-4, network.n_coef_params)
    Y = model._encode_targets(y, False, dtype).reshape(len(X), -1)
    order = np.random.default_rng(0).permutation(len(X))
    times = {name: [] for name in NAMES}
    for _ in range(repeats):
        spent = dict.fromkeys(NAMES, 0.0)
        for start in range(0, len(X), batch):
            t0 = clock()
            idx = order[start : start + batch]
            xb, yb = np.take(X, idx, axis=0), np.take(Y, idx, axis=0)
            t1 = clock()
            y_hat = network.forward(xb)
            t2 = clock()
            loss.forward(y_hat, yb, None)
            grad = loss.backward()
            t3 = clock()
            network.backward(grad)
            t4 = clock()
            penalty.forward(network.theta, loss)
            t5 = clock()
            optimizer.step(network.theta, network.grad, penalty)
            t6 = clock()
            for name, seconds in zip(
                NAMES, np.diff([t0, t1, t2, t3, t4, t5, t6]), strict=True
            ):
                spent[name] += seconds
        for name in NAMES:
            times[name].append(spent[name])
    compiled = compiled_epoch(network, optimizer, loss, X, Y, order, clock, repeats)
    return {name: float(np.median(v)) for name, v in times.items()}, network, compiled


def compiled_epoch(network, optimizer, loss, X, Y, order, clock, repeats, batch=200):
    """Median seconds of an epoch of the compiled step on the same batches (gather
    included), or None when it does not cover the model (numba off)."""
    penalty = L2Penalty(1e-4, network.n_coef_params)
    if dense_kernel.dense_step_support(network, loss, (optimizer, None)):
        return None
    # What the step reads of the training loop.
    loop = types.SimpleNamespace(
        network=network, loss_node=loss, penalty=penalty, dense_optimizer=optimizer
    )
    step, train = dense_kernel.CompiledDenseStep(loop), TrainingData(X, Y)
    batches = [order[start : start + batch] for start in range(0, len(X), batch)]
    runs = []
    for _ in range(repeats + 1):  # the first one compiles or loads the kernel
        start = clock()
        for indices in batches:
            step(train, indices)
        runs.append(clock() - start)
    return float(np.median(runs[1:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--task", default="regression", choices=["regression", "binary", "multiclass"]
    )
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--cpu-time", action="store_true")
    args = parser.parse_args()
    hidden = tuple(int(h) for h in args.hidden.split(","))
    dtype = np.dtype(args.dtype)
    clock = time.thread_time if args.cpu_time else time.perf_counter
    print("sknotes kernels:", "numba" if kernels.using_numba() else "numpy")
    for line in blas_environment():
        print(line)
    spent, network, compiled = phases(args.task, hidden, dtype, clock)
    print(f"{args.task}, hidden {hidden}, {dtype.name}: seconds per epoch, median of 5")
    for name, seconds in spent.items():
        print(f"  {name:16s} {seconds:.4f}")
    print(f"  {'total':16s} {sum(spent.values()):.4f}")
    if compiled is not None:
        print(f"  {'compiled step':16s} {compiled:.4f}")
    floor = MatmulFloor(network.layer_units, 20_000, 200, dtype)
    floor.epoch()
    runs = []
    for _ in range(5):
        start = clock()
        floor.epoch()
        runs.append(clock() - start)
    print(f"  {'floor (products)':16s} {float(np.median(runs)):.4f}")


if __name__ == "__main__":
    main()
