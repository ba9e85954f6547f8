"""LossCurveDisplay draws the fitted curves (Agg backend, written to a PNG)."""

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
    with pytest.raises(ImportError, match=r"pip install 'sknotes\[plot\]'"):
        display.plot()
