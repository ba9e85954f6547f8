"""EmbeddingBagRegressor vs PyTorch's nn.EmbeddingBag(sparse=True) + SparseAdam.

Run:  pip install torch==2.13.0 threadpoolctl   (the `benchmark` extra)
      python benchmarks/bench_embedding_bag.py             (median of 5, 1 epoch each)
      python benchmarks/bench_embedding_bag.py --quick

Synthetic corpus: 200,000 documents × 20 tokens drawn Zipf-like from a 50,000-token
vocabulary; target = mean of hidden per-token weights + noise; 80/20 split.
embedding_dim=50, mean pooling, linear head, Adam lr 1e-2, batch 256, float32.
Both sides use 2 threads.  Our side is given the documents as a sparse bag matrix
(the CountVectorizer form); encoding token lists is timed separately.
"""

import argparse
import os
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from sknotes import EmbeddingBagRegressor, kernels


def make_corpus(n_docs, n_tokens=20, vocabulary=50_000, seed=0):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocabulary + 1) ** 1.05
    ids = rng.choice(vocabulary, size=(n_docs, n_tokens), p=p / p.sum())
    weights = rng.standard_normal(vocabulary)
    y = weights[ids].mean(axis=1) + 0.1 * rng.standard_normal(n_docs)
    return ids, y.astype(np.float32)


def bag_of(ids, vocabulary):
    n_docs, n_tokens = ids.shape
    indptr = np.arange(0, n_docs * n_tokens + 1, n_tokens)
    bag = sp.csr_array(
        # A copy: sum_duplicates sorts in place and ids.ravel() is a view.
        (np.ones(ids.size, np.float32), ids.ravel().copy(), indptr),
        shape=(n_docs, vocabulary),
    )
    bag.sum_duplicates()
    return bag


def fit_sknotes(ids_train, y_train, ids_test, vocabulary, epochs):
    bag_train, bag_test = bag_of(ids_train, vocabulary), bag_of(ids_test, vocabulary)
    model = EmbeddingBagRegressor(
        embedding_dim=50,
        pooling="mean",
        learning_rate_init=1e-2,
        batch_size=256,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=10**9,
        alpha=0.0,
        random_state=0,
        dtype="float32",
    )
    start = time.perf_counter()
    model.fit(bag_train, y_train)
    seconds = time.perf_counter() - start
    return seconds, model.predict(bag_test)


def fit_torch(ids_train, y_train, ids_test, vocabulary, epochs):
    import torch

    torch.manual_seed(0)
    embedding = torch.nn.EmbeddingBag(vocabulary, 50, mode="mean", sparse=True)
    head = torch.nn.Linear(50, 1)
    # The same initial distributions as EmbeddingBagRegressor (table variance 1/d,
    # Glorot-uniform head), so both sides solve the same problem from the same start.
    with torch.no_grad():
        torch.nn.init.uniform_(embedding.weight, -np.sqrt(3 / 50), np.sqrt(3 / 50))
        bound = np.sqrt(6 / (50 + 1))
        torch.nn.init.uniform_(head.weight, -bound, bound)
        torch.nn.init.uniform_(head.bias, -bound, bound)
    sparse_opt = torch.optim.SparseAdam(list(embedding.parameters()), lr=1e-2)
    dense_opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    X = torch.from_numpy(ids_train.astype(np.int64))
    Y = torch.from_numpy(y_train).reshape(-1, 1)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(X.shape[0], generator=generator)
        for batch in order.split(256):
            sparse_opt.zero_grad()
            dense_opt.zero_grad()
            loss = torch.nn.functional.mse_loss(head(embedding(X[batch])), Y[batch])
            loss.backward()
            sparse_opt.step()
            dense_opt.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        pred = (
            head(embedding(torch.from_numpy(ids_test.astype(np.int64)))).numpy().ravel()
        )
    return seconds, pred


def main():
    # numba's kernels (the 'fast' extra) or the numpy twins (SKNOTES_NUMBA=0).
    print("sknotes kernels:", "numba" if kernels.using_numba() else "numpy")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    # One epoch: with lr 1e-2 both sides overfit the rare tokens after it.
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(2)
    n_docs = 20_000 if args.quick else 200_000
    repeats = 1 if args.quick else args.repeats
    vocabulary = 50_000
    ids, y = make_corpus(n_docs)
    n_train = int(0.8 * n_docs)
    split = (ids[:n_train], y[:n_train], ids[n_train:], vocabulary, args.epochs)
    tokens = n_train * ids.shape[1] * args.epochs
    results = {"sknotes": [], "torch": []}
    load_before = os.getloadavg()[0]
    with threadpool_limits(2):
        for _ in range(repeats):  # interleaved
            for name, fit in [("sknotes", fit_sknotes), ("torch", fit_torch)]:
                seconds, pred = fit(*split)
                results[name].append((tokens / seconds, r2_score(y[n_train:], pred)))
        # Encoding token lists (the main input form) on top of the bag path:
        docs = [list(doc) for doc in ids[:n_train].tolist()]
        start = time.perf_counter()
        EmbeddingBagRegressor(max_iter=1)._fit_encoder(docs)
        encode = time.perf_counter() - start
    print(
        f"{n_docs} docs × 20 tokens, vocabulary {vocabulary}, d=50, mean pooling, "
        f"linear head, Adam 1e-2, batch 256, float32, {args.epochs} epochs, "
        f"median of {repeats}"
    )
    print(f"{'side':>8s} {'tokens/s':>12s} {'held-out R²':>12s}")
    medians = {}
    for name, rows in results.items():
        speed = float(np.median([r[0] for r in rows]))
        r2 = float(np.median([r[1] for r in rows]))
        medians[name] = (speed, r2)
        print(f"{name:>8s} {speed:12,.0f} {r2:12.4f}")
    ratio = medians["sknotes"][0] / medians["torch"][0]
    agree = abs(medians["sknotes"][1] - medians["torch"][1]) < 0.01
    print(
        f"ratio sknotes/torch tokens/s: {ratio:.2f} (target >= 1.5); "
        f"R² {'agree' if agree else 'DISAGREE'} within 0.01"
    )
    print(f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}")
    print(f"building the vocabulary of {n_train} token lists: {encode:.2f} s")


if __name__ == "__main__":
    main()
