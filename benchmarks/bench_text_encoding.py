"""The default text features (word bigrams, the char_wb block) from raw strings:
the array/compiled paths against the code they replace, interleaved in one process.

Run (from the repository root):

    python benchmarks/bench_text_encoding.py                 (median of 5)
    python benchmarks/bench_text_encoding.py --quick         (smoke run)

"before" is the same code with the new paths switched off: the n-gram vocabulary
counted in a ``Counter`` of the terms' texts (``DocumentEncoder._fit_terms``), the
char_wb block from scikit-learn's ``HashingVectorizer``, rows normalised and a
batch's n-grams numbered with numpy (what they did before); "after" the n-gram
vocabulary from the terms' arrays, the compiled char_wb block, row normalisation
and n-gram numbering.  Both sides run with the compiled encoder (numba) otherwise.

1. Encoding (raw strings -> Π, fitted model's ``_validate_predict_input``) tokens/s
   (word tokens), words only and the default features, on the synthetic corpus
   of ``bench_embedding_bag.py`` (Zipf words) and on the tweets.
2. One epoch from raw strings (encoder fit, Π, one epoch of the compiled step:
   ``bench_embedding_bag.py``'s model, no linear path), words only and the default
   features, before and after.
3. A default ``EmbeddingBagRegressor(random_state=0)`` fit on the tweets end to
   end, before and after, with identical predictions (asserted).
"""

import argparse
import os
import sys
import time
import warnings
from contextlib import contextmanager

import numpy as np
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _text_sets import load  # noqa: E402
from bench_embedding_bag import as_text, make_corpus, our_model  # noqa: E402

from sknotes import EmbeddingBagRegressor, _encode  # noqa: E402
from sknotes._text import DocumentEncoder  # noqa: E402

FEATURES = {
    "words only": {"ngram_range": (1, 1), "char_wb_ngram_range": None},
    "default features": {"ngram_range": "auto", "char_wb_ngram_range": "auto"},
}


@contextmanager
def side(name):
    """The new paths on ("after") or off ("before")."""
    if name == "after":
        yield
        return
    saved = (DocumentEncoder._fit_flat_terms, _encode.char_wb_arrays,
             _encode.normalize_rows, _encode.int_codes)  # fmt: skip
    DocumentEncoder._fit_flat_terms = lambda self, terms: False
    _encode.char_wb_arrays = lambda *args: None
    _encode.normalize_rows = lambda *args: False
    _encode.int_codes = lambda keys: None
    try:
        yield
    finally:
        (DocumentEncoder._fit_flat_terms, _encode.char_wb_arrays,
         _encode.normalize_rows, _encode.int_codes) = saved  # fmt: skip


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def model(features, **params):
    return our_model(1).set_params(
        # Mean pooling and counts, as the peers' model; sqrtn/sublinear are the
        # estimator's defaults: the encoding cost is the same but for the weights.
        pooling="sqrtn", weighting="sublinear", **FEATURES[features], **params
    )  # fmt: skip


def encoding(sets, repeats):
    print("1. encoding raw strings -> Π (tokens/s counts word tokens), median of "
          f"{repeats}, interleaved")  # fmt: skip
    for set_name, (texts, y, n_tokens) in sets.items():
        for features in FEATURES:
            fitted = model(features).fit(texts, y)
            seconds = {"before": [], "after": []}
            for _ in range(repeats):
                for name in seconds:
                    with side(name):
                        t, Pi = timed(fitted._validate_predict_input, texts)
                    seconds[name].append(t)
            before, after = (float(np.median(seconds[n])) for n in seconds)
            print(
                f"  {set_name:>9s} {features:>16s}: before {n_tokens / before:12,.0f}"
                f" tokens/s, after {n_tokens / after:12,.0f} ({before / after:5.2f}×"
                f" faster); nnz/document {Pi.nnz / len(texts):.0f}"
            )


def epoch(sets, repeats):
    print(f"2. one epoch from raw strings (fit, max_iter=1), median of {repeats}, "
          "interleaved; × = time / time of words only (after)")  # fmt: skip
    for set_name, (texts, y, n_tokens) in sets.items():
        seconds = {(f, s): [] for f in FEATURES for s in ("before", "after")}
        for _ in range(repeats):
            for features, name in seconds:
                with side(name):
                    t, fitted = timed(model(features).fit, texts, y)
                seconds[features, name].append(t)
        base = float(np.median(seconds["words only", "after"]))
        for (features, name), values in seconds.items():
            t = float(np.median(values))
            print(
                f"  {set_name:>9s} {features:>16s} {name:>6s}: {t:7.2f} s = "
                f"{n_tokens / t:12,.0f} tokens/s ({t / base:5.2f}×)"
            )


def default_fit(texts, y, repeats):
    print(f"3. default EmbeddingBagRegressor(random_state=0) on the tweets "
          f"({len(texts)} documents) end to end, median of {repeats}, "
          "interleaved")  # fmt: skip
    seconds = {"before": [], "after": []}
    predictions = {}
    for _ in range(repeats):
        for name in seconds:
            with side(name):
                t, fitted = timed(EmbeddingBagRegressor(random_state=0).fit, texts, y)
                predictions[name] = fitted.predict(texts)
            seconds[name].append(t)
    np.testing.assert_array_equal(predictions["before"], predictions["after"])
    before, after = (float(np.median(seconds[n])) for n in seconds)
    print(f"  before {before:.2f} s, after {after:.2f} s ({before / after:.2f}× "
          "faster); predictions identical")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    repeats = 1 if args.quick else args.repeats
    n_docs = 2_000 if args.quick else 20_000
    ids, y = make_corpus(n_docs)
    tweets, tweet_y = load("tweets", 1_000 if args.quick else None)
    tweet_tokens = sum(map(len, model("words only")._docs(tweets, "strings")))
    sets = {
        "synthetic": (as_text(ids), y, ids.size),
        "tweets": (tweets, tweet_y.astype(np.float32), tweet_tokens),
    }
    load_before = os.getloadavg()
    print(f"load average (1, 5, 15 min) before: {load_before}; a shared machine")
    # Warm-up: numba compiles the encoder's kernels before anything is timed.
    for features in FEATURES:
        model(features).fit(tweets[:200], tweet_y[:200])
    encoding(sets, repeats)
    epoch(sets, repeats)
    default_fit(tweets, tweet_y, max(1, repeats // 2))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
