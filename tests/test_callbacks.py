"""scikit-learn's callback API: progress over epochs, also inside a search."""

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.model_selection import GridSearchCV

from sknotes import EmbeddingBagRegressor, MLPRegressorFromNotes

callback = pytest.importorskip("sklearn.callback")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class EpochRecorder:
    """A FitCallback that records the tasks it sees."""

    def __init__(self, stop_after=None):
        self.ends = []
        self.stop_after = stop_after

    def setup(self, estimator, context):
        self.setup_called = True

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, **kwargs):
        self.ends.append(context.task_name)
        epochs = [t for t in self.ends if t.startswith("epoch")]
        return self.stop_after is not None and len(epochs) >= self.stop_after

    def teardown(self, estimator, context):
        self.teardown_called = True


X, Y = make_regression(n_samples=60, n_features=3, random_state=0)
Y = Y / Y.std()


@pytest.mark.parametrize("make, data", [
    (lambda: MLPRegressorFromNotes(hidden_layer_sizes=(4,), max_iter=7, random_state=0), X),
    (lambda: EmbeddingBagRegressor(max_iter=7, random_state=0),
     [[f"t{i % 5}", f"u{i % 3}"] for i in range(60)]),
])
def test_one_task_per_epoch_and_early_stop(make, data):
    recorder = EpochRecorder()
    est = make().set_callbacks(recorder)
    est.fit(data, Y)
    assert [t for t in recorder.ends if t.startswith("epoch")] == [
        f"epoch {i}" for i in range(7)
    ]
    assert recorder.setup_called and recorder.teardown_called
    stopper = make().set_callbacks(EpochRecorder(stop_after=3)).fit(data, Y)
    assert stopper.n_iter_ == 3


def test_progress_bar_inside_grid_search(capsys):
    pytest.importorskip("rich")
    search = GridSearchCV(MLPRegressorFromNotes(max_iter=3, random_state=0),
                          {"alpha": [1e-4, 1e-2]}, cv=2)
    search.set_callbacks(callback.ProgressBar())
    search.fit(X, Y)
    assert np.isfinite(search.best_score_)
    assert "MLPRegressorFromNotes - fit" in capsys.readouterr().out


def test_verbose_prints_the_loss(capsys):
    MLPRegressorFromNotes(max_iter=2, verbose=True, random_state=0).fit(X, Y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out
