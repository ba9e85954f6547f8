"""Shared pieces of the benchmarks: the BLAS environment and the arithmetic floor.

Imported by the scripts in this folder (run as ``python benchmarks/<script>.py``,
which puts this folder on ``sys.path``).
"""

import os
import time

import numpy as np


def blas_environment():
    """One line per BLAS/OpenMP pool (library, version, kernels, threads) and the
    OpenBLAS environment variables that change its kernels or blocking."""
    lines = []
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            # The folder tells whose copy it is (numpy.libs, scipy.libs, torch/lib).
            owner = os.path.basename(os.path.dirname(pool["filepath"]))
            details = [
                f"{pool[key]}{suffix}"
                for key, suffix in [
                    ("architecture", " kernels"),
                    ("threading_layer", ""),
                ]
                if pool.get(key)
            ]
            lines.append(
                f"{pool['user_api']}: {pool['internal_api']} "
                f"{pool.get('version') or '(version unknown)'} from {owner} "
                f"({', '.join([*details, str(pool['num_threads'])])} threads)"
            )
    except ImportError:
        lines.append("threadpoolctl not installed: BLAS threads unknown")
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS"):
        lines.append(f"{name}={os.environ.get(name, '(unset)')}")
    return lines


def one_thread():
    """Every BLAS and OpenMP pool on one thread (a context manager), for the
    baselines as for sknotes' ``n_jobs=1``.

    The thread trap: on a shared machine OpenMP's and OpenBLAS's threads wait on
    each other; one ``LogisticRegression`` fit ran 30 times slower, LSQR's vector
    products several times slower, and the baselines' times meant nothing.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def median_seconds(function, repeats, clock=time.perf_counter):
    """Median time of ``function()`` over ``repeats`` calls (wall time by default)."""
    runs = []
    for _ in range(repeats):
        start = clock()
        function()
        runs.append(clock() - start)
    return float(np.median(runs))


class MatmulFloor:
    """The matrix products of one epoch of an MLP, and nothing else.

    Per minibatch and per layer ``i`` with input ``A_i`` (batch × fan_in) and weights
    ``W_i`` (fan_in × fan_out): the forward ``S_i = A_i·W_i``, the backward
    ``grad_W_i = A_iᵀ·grad_S_i`` and, except for the first layer, ``grad_X_i =
    grad_S_i·W_iᵀ`` (the notes' linear-node formulas). Every product writes into a
    preallocated buffer; no activation, loss, bias or optimizer work is done, so
    its time is what any implementation of this math must spend on this machine.

    Parameters
    ----------
    layer_units : sequence of int
        ``[n_features, hidden..., n_outputs]``.
    n_samples, batch_size : int
        One epoch is ``ceil(n_samples / batch_size)`` minibatches (the last one
        smaller when ``batch_size`` does not divide ``n_samples``).
    dtype : dtype
    """

    def __init__(self, layer_units, n_samples, batch_size, dtype):
        rng = np.random.default_rng(0)
        dtype = np.dtype(dtype)
        pairs = list(zip(layer_units[:-1], layer_units[1:], strict=True))
        self.batches = [
            min(batch_size, n_samples - start)
            for start in range(0, n_samples, batch_size)
        ]
        self.W = [rng.standard_normal(p).astype(dtype) for p in pairs]
        self.grad_W = [np.empty(p, dtype) for p in pairs]

        def buffers(widths):
            # One set per distinct batch size, so the last, smaller batch
            # multiplies contiguous arrays of its own shape.
            return {
                n: [rng.standard_normal((n, w)).astype(dtype) for w in widths]
                for n in set(self.batches)
            }

        self.A = buffers(layer_units[:-1])
        self.S = buffers(layer_units[1:])
        self.grad_S = buffers(layer_units[1:])
        self.grad_X = buffers(layer_units[:-1])

    def epoch(self):
        """Run one epoch of the products."""
        matmul = np.matmul
        for n in self.batches:
            A, S, grad_S, grad_X = self.A[n], self.S[n], self.grad_S[n], self.grad_X[n]
            for i, W in enumerate(self.W):
                matmul(A[i], W, out=S[i])
            for i in range(len(self.W) - 1, -1, -1):
                matmul(A[i].T, grad_S[i], out=self.grad_W[i])
                if i:
                    matmul(grad_S[i], self.W[i].T, out=grad_X[i])

    def seconds_per_epoch(self, repeats=5):
        """Median seconds of one epoch after a warm-up epoch."""
        self.epoch()
        return median_seconds(self.epoch, repeats)
