"""partial_fit's cost against the size of the hashed table it updates.

Run:  python benchmarks/bench_partial_fit.py            (21 calls per size)
      python benchmarks/bench_partial_fit.py --quick    (7 calls per size)

A ``partial_fit`` of 200 documents touches a few hundred rows of the table.  A call
that fails must leave the model as it was, so the rows it writes are journaled
before their first write (and the dense parameters copied); a successful call
should therefore cost the same whatever the table's size.  This script times
``partial_fit`` of 200 documents (20 tokens each, Adam, 16 dimensions) with
``n_buckets=2**20`` and with ``2**10``, interleaved, after a warm-up call each.
Target: median(2**20) / median(2**10) ≤ 3.
"""

import argparse
import os
import time

import numpy as np

from sknotes import EmbeddingBagRegressor
from sknotes._kernels import using_numba


def _documents(rng, n_docs=200, length=20, vocabulary=50_000):
    ids = rng.integers(0, vocabulary, size=(n_docs, length))
    docs = [[f"t{i}" for i in row] for row in ids]
    y = rng.standard_normal(n_docs)
    return docs, y


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 7 if args.quick else 21
    rng = np.random.default_rng(0)
    chunks = [_documents(rng) for _ in range(repeats + 1)]
    sizes = {"2**20": 2**20, "2**10": 2**10}
    models = {
        name: EmbeddingBagRegressor(
            embedding_dim=16, n_buckets=n_buckets, random_state=0
        ).partial_fit(*chunks[0])
        for name, n_buckets in sizes.items()
    }
    times = {name: [] for name in sizes}
    for docs, y in chunks[1:]:
        for name, model in models.items():
            start = time.perf_counter()
            model.partial_fit(docs, y)
            times[name].append(time.perf_counter() - start)
    print(f"kernels: {'numba' if using_numba() else 'numpy'}; load {os.getloadavg()}")
    medians = {name: float(np.median(t)) for name, t in times.items()}
    for name, median in medians.items():
        print(f"n_buckets={name:6s} median {1e3 * median:7.2f} ms per partial_fit")
    ratio = medians["2**20"] / medians["2**10"]
    print(f"ratio 2**20 / 2**10: {ratio:.2f} (target <= 3)")


if __name__ == "__main__":
    main()
