"""Where a default EmbeddingBagRegressor fit from raw strings goes, phase by phase.

Run (from the repository root):

    python benchmarks/profile_text_fit.py --set tweets --epochs 2

Fits each configuration once under cProfile (one BLAS thread) on a set of
``benchmarks/_text_sets.py`` and prints the cumulative seconds of each phase:
tokenizing, the encoder's vocabulary (words, n-grams), the word block of ``Π``, the
char_wb block (hashing and weights), the linear path's ridge start (the alpha
search and all solves), the training epochs and the validation scores.
Configurations: ``words`` (unigrams only), ``bigrams`` (no char_wb block),
``defaults``, and ``defaults_linear_head`` (``hidden_layer_sizes=()``: the
compiled training step, where the defaults' (64,) head takes the reference
step).  ``--epochs`` epochs each (early stopping does not end them sooner).  The
first configuration also pays numba's compilation of the encoder.
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import one_thread  # noqa: E402
from _text_sets import load  # noqa: E402

from sknotes import EmbeddingBagRegressor  # noqa: E402

CONFIGS = {
    "words": dict(ngram_range=(1, 1), char_wb_ngram_range=None),
    "bigrams": dict(char_wb_ngram_range=None),
    "defaults": {},
    "defaults_linear_head": dict(hidden_layer_sizes=()),
}
# (label, file the function is in, function name)
PHASES = [
    ("tokenize", "_text.py", "tokenize"),
    ("encoder fit (vocabulary, n-grams)", "_text.py", "fit"),
    ("word block of Π", "_text.py", "pi"),
    ("char_wb block (hashing, weights)", "_embedding_bag.py", "_pi_of_chars"),
    ("ridge start: alpha search", "_embedding_bag.py", "_search_alpha"),
    ("ridge start: all solves", "_embedding_bag.py", "_solve_linear_path"),
    ("epochs (training steps)", "_training.py", "run_epoch"),
    ("validation scores", "_training.py", "scores"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="tweets")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args()
    X, y = load(args.set)
    print(f"{args.set}: {len(y)} documents; load average {os.getloadavg()[0]:.1f}")
    for name in args.configs.split(","):
        model = EmbeddingBagRegressor(
            random_state=0,
            max_iter=args.epochs,
            n_iter_no_change=args.epochs + 1,
            **CONFIGS[name],
        )
        with one_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            profile = cProfile.Profile()
            start = time.perf_counter()
            profile.enable()
            model.fit(X, y)
            profile.disable()
            total = time.perf_counter() - start
        stats = pstats.Stats(profile).stats
        row = {"total fit": total}
        for label, filename, function in PHASES:
            row[label] = sum(
                v[3]
                for k, v in stats.items()
                if k[0].endswith(filename) and k[2] == function
            )
        Pi = model._validate_predict_input(X[:2000])
        row["non-zeros per document"] = Pi.nnz / Pi.shape[0]
        print(name, json.dumps({k: round(v, 2) for k, v in row.items()}), flush=True)


if __name__ == "__main__":
    main()
