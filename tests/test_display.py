"""LossCurveDisplay draws the fitted curves (Agg backend): the drawn artists are
compared, not pixels."""

import re
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from sklearn.datasets import make_regression  # noqa: E402

from sknotes import LossCurveDisplay, MLPRegressorFromNotes  # noqa: E402


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("early_stopping", [False, True])
def test_from_estimator_draws_the_curves(tmp_path, early_stopping):
    X, y = make_regression(n_samples=200, n_features=4, random_state=0)
    reg = MLPRegressorFromNotes(
        hidden_layer_sizes=(8,),
        max_iter=15,
        random_state=0,
        early_stopping=early_stopping,
    ).fit(X, y / y.std())
    display = LossCurveDisplay.from_estimator(reg)
    np.testing.assert_array_equal(display.line_.get_ydata(), reg.loss_curve_)
    if early_stopping:
        np.testing.assert_array_equal(
            display.validation_line_.get_ydata(), reg.validation_loss_curve_
        )
        np.testing.assert_array_equal(
            display.score_line_.get_ydata(), reg.validation_scores_
        )
    else:
        assert display.validation_line_ is None and display.score_line_ is None
    path = tmp_path / "loss.png"
    display.figure_.savefig(path)
    assert path.stat().st_size > 1000
    assert display.ax_.get_xlabel() == "epoch"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_refuses_a_model_without_curve():
    X, y = make_regression(n_samples=30, n_features=2, random_state=0)
    reg = MLPRegressorFromNotes(solver="lbfgs", max_iter=5).fit(X, y / y.std())
    with pytest.raises(ValueError, match="loss_curve_"):
        LossCurveDisplay.from_estimator(reg)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_draws_into_the_given_axes_for_the_embedding_model():
    import matplotlib.pyplot as plt

    from sknotes import EmbeddingBagRegressor

    docs = [[f"t{i % 7}", f"u{i % 3}"] for i in range(50)]
    y = np.array([i % 7 for i in range(50)], dtype=float)
    reg = EmbeddingBagRegressor(embedding_dim=3, max_iter=6, random_state=0).fit(
        docs, y
    )
    fig, (left, right) = plt.subplots(1, 2)
    display = LossCurveDisplay.from_estimator(reg, ax=right, name="bag")
    assert display.ax_ is right and display.figure_ is fig
    assert not left.lines and display.line_.get_label() == "bag training loss"
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(1, 7))
    np.testing.assert_array_equal(display.line_.get_ydata(), reg.loss_curve_)
    plt.close(fig)


def test_missing_matplotlib_is_a_clear_import_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    display = LossCurveDisplay(loss_curve=[1.0, 0.5])
    with pytest.raises(ImportError, match=r'pip install "\.\[plot\]"'):
        display.plot()


def _fitted_with_early_stopping():
    X, y = make_regression(n_samples=300, n_features=4, noise=10, random_state=0)
    return MLPRegressorFromNotes(
        hidden_layer_sizes=(8,),
        max_iter=40,
        early_stopping=True,
        learning_rate_init=0.01,
        random_state=0,
    ).fit(X, y / y.std())


def _extent(artist):
    return artist.get_window_extent(artist.figure.canvas.get_renderer())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_layout_legend_and_labels_survive_a_plain_savefig(tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    reg = _fitted_with_early_stopping()
    display = LossCurveDisplay.from_estimator(reg, name="net")
    fig = display.figure_
    assert isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)
    fig.savefig(tmp_path / "plain.png")  # no bbox_inches: the layout must do it
    # One legend in the whole figure, holding every curve and the marker.
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes]
    assert [legend for legend in legends if legend is not None] == [display.legend_]
    assert [t.get_text() for t in display.legend_.get_texts()] == [
        "net training loss",
        "validation MSE",
        "validation R²",
        f"restored best epoch ({display.best_epoch})",
    ]
    figure_box = fig.bbox
    legend_box = _extent(display.legend_)
    axes_box = display.ax_.get_window_extent()
    # Below the axes and their x label (clear of every curve), inside the figure.
    assert legend_box.y1 <= _extent(display.ax_.xaxis.label).y0
    assert legend_box.y1 < axes_box.y0
    assert figure_box.contains(legend_box.x0, legend_box.y0)
    assert figure_box.contains(legend_box.x1, legend_box.y1)
    # Both y labels, the right one included, lie inside the figure.
    for label in (display.ax_.yaxis.label, display.score_ax_.yaxis.label):
        box = _extent(label)
        assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1
    plt.close(fig)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_marks_the_restored_best_epoch():
    import matplotlib.pyplot as plt

    reg = _fitted_with_early_stopping()
    display = LossCurveDisplay.from_estimator(reg)
    scores = np.asarray(reg.validation_scores_)
    best = int(np.argmax(scores)) + 1
    assert display.best_epoch == best
    assert scores[best - 1] == reg.best_validation_score_
    np.testing.assert_array_equal(display.best_epoch_line_.get_xdata(), [best, best])
    assert display.best_epoch_line_.axes is display.ax_
    plt.close(display.figure_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_no_marker_without_early_stopping():
    import matplotlib.pyplot as plt

    X, y = make_regression(n_samples=100, n_features=3, random_state=0)
    reg = MLPRegressorFromNotes(max_iter=5, random_state=0).fit(X, y / y.std())
    display = LossCurveDisplay.from_estimator(reg)
    assert display.best_epoch is None and display.best_epoch_line_ is None
    assert display.score_ax_ is None
    assert [t.get_text() for t in display.legend_.get_texts()] == [
        "MLPRegressorFromNotes training loss"
    ]
    plt.close(display.figure_)


@pytest.mark.parametrize(
    "scores, limits",
    [
        ([0.90, 0.91, 0.905, 0.912], (0.0, 1.0)),  # small wobbles stay small
        ([-0.4, 0.2, 0.5], (-0.4, 1.0)),
        ([-30.0, -2.0, 0.3], (-1.0, 1.0)),  # far below zero: clipped at −1
        ([np.nan, 0.5, np.nan], (0.0, 1.0)),
    ],
)
def test_validation_axis_keeps_the_scale_of_r2(scores, limits):
    import matplotlib.pyplot as plt

    display = LossCurveDisplay(
        loss_curve=np.linspace(2, 1, len(scores)),
        validation_loss_curve=np.linspace(2, 1, len(scores)),
        validation_scores=scores,
        best_epoch=2,
    ).plot()
    assert display.score_ax_.get_ylim() == pytest.approx(limits)
    np.testing.assert_array_equal(display.score_line_.get_ydata(), scores)
    plt.close(display.figure_)


def test_the_layout_of_a_given_figure_is_left_alone():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert fig.get_layout_engine() is None
    LossCurveDisplay(loss_curve=[2.0, 1.0]).plot(ax=ax)
    assert fig.get_layout_engine() is None
    plt.close(fig)


def test_best_epoch_ignores_non_finite_scores():
    from sknotes.display import _best_epoch

    assert _best_epoch([0.1, np.nan, 0.3, 0.3, 0.2]) == 3
    assert _best_epoch([np.nan, np.nan]) is None
    assert _best_epoch(None) is None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "kind, loss, score",
    [
        ("classifier", "log-loss", "accuracy"),
        ("poisson", "half Poisson deviance", "R²"),
    ],
)
def test_labels_name_the_estimators_loss_and_score(kind, loss, score):
    import matplotlib.pyplot as plt

    from sknotes import MLPClassifierFromNotes

    X, y = make_regression(n_samples=200, n_features=4, random_state=0)
    params = dict(
        hidden_layer_sizes=(8,), max_iter=15, early_stopping=True, random_state=0
    )
    if kind == "classifier":
        model = MLPClassifierFromNotes(**params).fit(X, y > 0)
    else:
        model = MLPRegressorFromNotes(loss="poisson", **params).fit(X, np.abs(y) / 50)
    display = LossCurveDisplay.from_estimator(model, name="net")
    assert display.ax_.get_ylabel() == f"loss ({loss})"
    assert display.score_ax_.get_ylabel() == f"validation {score}"
    assert [t.get_text() for t in display.legend_.get_texts()][1:3] == [
        f"validation {loss}",
        f"validation {score}",
    ]
    np.testing.assert_array_equal(
        display.score_line_.get_ydata(), model.validation_scores_
    )
    if kind == "classifier":  # accuracy, on its own scale
        assert display.score_ax_.get_ylim() == (0.0, 1.0)
    plt.close(display.figure_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_embedding_bag_classifier_curves_name_its_log_loss_score():
    import matplotlib.pyplot as plt

    from sknotes import EmbeddingBagClassifier

    X = [[f"t{i % 7}", f"u{i % 3}"] for i in range(200)]
    y = np.array(["a" if i % 7 < 3 else "b" for i in range(200)])
    clf = EmbeddingBagClassifier(embedding_dim=3, max_iter=8, random_state=0)
    display = LossCurveDisplay.from_estimator(clf.fit(X, y))
    np.testing.assert_array_equal(display.line_.get_ydata(), clf.loss_curve_)
    np.testing.assert_array_equal(
        display.score_line_.get_ydata(), clf.validation_scores_
    )
    assert display.ax_.get_ylabel() == "loss (log-loss)"
    assert display.validation_line_.get_label() == "validation log-loss"
    assert display.score_ax_.get_ylabel() == "validation −log-loss"
    plt.close(display.figure_)


# Pinned by mutation testing (benchmarks/mutation.py display).


def test_model_without_curve_message_says_which_solvers_record_one():
    X, y = make_regression(n_samples=30, n_features=2, random_state=0)
    with pytest.warns(Warning):
        reg = MLPRegressorFromNotes(solver="lbfgs", max_iter=2).fit(X, y / y.std())
    message = (
        "The estimator has no loss_curve_: fit it with solver='sgd' or 'adam' "
        "(L-BFGS records no curve)."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        LossCurveDisplay.from_estimator(reg)


def test_missing_matplotlib_message_in_full(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="^LossCurveDisplay needs matplotlib"):
        LossCurveDisplay(loss_curve=[1.0, 0.5]).plot()


def _early_stopping_display(**kwargs):
    return LossCurveDisplay(
        loss_curve=[3.0, 2.0, 1.5, 1.2],
        validation_loss_curve=[3.1, 2.2, 1.9, 2.0],
        validation_scores=[0.1, 0.4, 0.6, 0.5],
        best_epoch=3,
        estimator_name="net",
    ).plot(**kwargs)


def test_every_legend_entry_has_its_own_colour_and_line_style():
    # The score curve lives on twin axes, whose colour cycle starts again: without
    # its own colour it would take the training curve's.
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    display = _early_stopping_display()
    lines = [
        display.line_,
        display.validation_line_,
        display.score_line_,
        display.best_epoch_line_,
    ]
    colours = [to_rgba(line.get_color()) for line in lines]
    styles = [line.get_linestyle() for line in lines]
    assert len(set(colours)) == len(set(styles)) == 4
    np.testing.assert_array_equal(display.score_line_.get_xdata(), [1, 2, 3, 4])
    plt.close(display.figure_)


def test_legend_holds_two_columns_and_clears_a_large_x_label():
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"axes.labelsize": 30}):
        display = _early_stopping_display()
        fig = display.figure_
        fig.canvas.draw()
        label_box = _extent(display.ax_.xaxis.label)
        legend_box = _extent(display.legend_)
    assert legend_box.y1 <= label_box.y0
    x = [_extent(text).x0 for text in display.legend_.get_texts()]
    # Filled column by column: two entries in each of two columns.
    assert x[0] == x[1] < x[2] == x[3]
    plt.close(fig)


def test_no_finite_validation_score_keeps_the_score_axis_zero_to_one():
    import matplotlib.pyplot as plt

    display = LossCurveDisplay(
        loss_curve=[2.0, 1.0], validation_scores=[np.nan, np.nan]
    ).plot()
    assert display.score_ax_.get_ylim() == (0.0, 1.0)
    plt.close(display.figure_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_from_estimator_passes_its_keywords_to_the_training_curve():
    import matplotlib.pyplot as plt

    X, y = make_regression(n_samples=40, n_features=2, random_state=0)
    reg = MLPRegressorFromNotes(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    display = LossCurveDisplay.from_estimator(
        reg.fit(X, y / y.std()), color="red", linewidth=3
    )
    assert display.line_.get_color() == "red" and display.line_.get_linewidth() == 3
    plt.close(display.figure_)
