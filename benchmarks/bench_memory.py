"""Peak resident memory of fitting EmbeddingBagRegressor, against what it must hold.

Run:  python benchmarks/bench_memory.py           (both cases)
      python benchmarks/bench_memory.py --quick   (small case only)

Each case runs in a fresh subprocess and reports the peak RSS of the fit above the
RSS measured after building the data and a warm-up fit on 512 documents (so the
interpreter, its libraries and numba's compiled kernels are not counted; the
warm-up's share is printed), beside the size of the table, Adam's two moments and
the data.
Target: peak ≤ 2 × (table + optimizer state + data).
"""

import argparse
import json
import subprocess
import sys

CASES = {
    "200k docs, 50k vocabulary": (200_000, 50_000),
    "1M docs, 500k vocabulary": (1_000_000, 500_000),
}

CHILD = r"""
import json, resource, sys, warnings
import numpy as np, scipy.sparse as sp
from sknotes import EmbeddingBagRegressor
n_docs, vocabulary = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
p = 1.0 / np.arange(1, vocabulary + 1) ** 1.05
ids = rng.choice(vocabulary, size=(n_docs, 20), p=p / p.sum()).astype(np.int32)
y = (rng.standard_normal(vocabulary)[ids].mean(axis=1)).astype(np.float32)
bag = sp.csr_array((np.ones(ids.size, np.float32), ids.ravel().copy(),
                    np.arange(0, ids.size + 1, 20)), shape=(n_docs, vocabulary))
bag.sum_duplicates()
del ids, p
def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
warnings.simplefilter("ignore")
# A tiny fit first loads the libraries a fit uses (numba's compiled kernels with
# LLVM, when installed): a one-off cost per process, not memory that grows with
# the data, so it is reported apart.
start = rss_mib()
EmbeddingBagRegressor(embedding_dim=50, pooling="mean", max_iter=1,
                      dtype="float32", random_state=0).fit(bag[:512], y[:512])
before = rss_mib()
model = EmbeddingBagRegressor(embedding_dim=50, pooling="mean", batch_size=256,
                              max_iter=1, dtype="float32", random_state=0).fit(bag, y)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
table = model.embeddings_.nbytes / 2**20
data = (bag.data.nbytes + bag.indices.nbytes + bag.indptr.nbytes + y.nbytes) / 2**20
print(json.dumps(dict(start=start, before=before, peak=peak, table=table,
                      state=2 * table, data=data)))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    cases = list(CASES.items())[:1] if args.quick else CASES.items()
    print(
        f"{'case':>28s} {'fit peak − before (MiB)':>24s} {'table+state+data':>17s} "
        f"{'ratio':>6s}"
    )
    for name, (n_docs, vocabulary) in cases:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(n_docs), str(vocabulary)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        held = r["table"] + r["state"] + r["data"]
        # Peak above the data already built: what fitting itself added, plus the data.
        used = r["peak"] - r["before"] + r["data"]
        print(
            f"{name:>28s} {used:24.0f} {held:17.0f} {used / held:6.2f}"
            f"   (peak RSS {r['peak']:.0f} MiB, before fit {r['before']:.0f} MiB, "
            f"of which {r['before'] - r['start']:.0f} MiB loaded by a warm-up fit)"
        )


if __name__ == "__main__":
    main()
