"""scikit-learn's callback API: progress over epochs, also inside a search."""

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.model_selection import GridSearchCV

from sknotes import (
    EmbeddingBagClassifier,
    EmbeddingBagRegressor,
    MLPClassifierFromNotes,
    MLPRegressorFromNotes,
)

try:
    from sklearn import callback
except ImportError:  # scikit-learn < 1.9: the tests that use it are skipped
    callback = None

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
requires_callbacks = pytest.mark.requires_sklearn(
    "1.9", reason="sklearn.callback is new in 1.9"
)


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


@requires_callbacks
@pytest.mark.parametrize(
    "make, data",
    [
        (
            lambda: MLPRegressorFromNotes(
                hidden_layer_sizes=(4,), max_iter=7, random_state=0
            ),
            X,
        ),
        (
            lambda: EmbeddingBagRegressor(max_iter=7, random_state=0),
            [[f"t{i % 5}", f"u{i % 3}"] for i in range(60)],
        ),
        (
            lambda: MLPClassifierFromNotes(
                hidden_layer_sizes=(4,), max_iter=7, random_state=0
            ),
            X,
        ),
        (
            lambda: EmbeddingBagClassifier(
                max_iter=7, early_stopping=False, random_state=0
            ),
            [[f"t{i % 5}", f"u{i % 3}"] for i in range(60)],
        ),
    ],
)
def test_one_task_per_epoch_and_early_stop(make, data):
    recorder = EpochRecorder()
    est = make().set_callbacks(recorder)
    # Classifiers get labels: the sign of the regression target.
    y = np.where(Y > 0, "pos", "neg") if hasattr(est, "predict_proba") else Y
    est.fit(data, y)
    assert [t for t in recorder.ends if t.startswith("epoch")] == [
        f"epoch {i}" for i in range(7)
    ]
    assert recorder.setup_called and recorder.teardown_called
    stopper = make().set_callbacks(EpochRecorder(stop_after=3)).fit(data, y)
    assert stopper.n_iter_ == 3


@requires_callbacks
def test_progress_bar_inside_grid_search(capsys):
    pytest.importorskip("rich")
    search = GridSearchCV(
        MLPRegressorFromNotes(max_iter=3, random_state=0), {"alpha": [1e-4, 1e-2]}, cv=2
    )
    search.set_callbacks(callback.ProgressBar())
    search.fit(X, Y)
    assert np.isfinite(search.best_score_)
    assert "MLPRegressorFromNotes - fit" in capsys.readouterr().out


def test_verbose_prints_the_loss(capsys):
    est = MLPRegressorFromNotes(max_iter=2, verbose=True, random_state=0).fit(X, Y)
    out = capsys.readouterr().out.splitlines()
    # scikit-learn's MLP format, with the values of loss_curve_.
    assert out[:2] == [
        f"Iteration {i + 1}, loss = {loss:.8f}"
        for i, loss in enumerate(est.loss_curve_)
    ]
    est = MLPRegressorFromNotes(
        max_iter=2, verbose=True, early_stopping=True, random_state=0
    ).fit(X, Y)
    out = capsys.readouterr().out
    for score in est.validation_scores_:
        assert f"Validation score: {score:f}" in out


@requires_callbacks
def test_scoring_monitor_scores_the_model_as_it_was_after_each_epoch():
    monitor = callback.ScoringMonitor(scoring="r2")

    def make(k):
        return MLPRegressorFromNotes(
            hidden_layer_sizes=(4,), max_iter=k, random_state=0
        )

    make(4).set_callbacks(monitor).fit(X, Y)
    rows = monitor.get_logs().data
    per_epoch = {row["task_name"]: row["r2"] for row in rows}
    # Warm starts keep the optimizer, so a fit of k epochs is the k-th epoch's model.
    for k in range(1, 5):
        assert per_epoch[f"epoch {k - 1}"] == pytest.approx(
            make(k).fit(X, Y).score(X, Y), rel=1e-12
        )


@requires_callbacks
def test_progress_bar_inside_a_pipeline(capsys):
    pytest.importorskip("rich")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(
        StandardScaler(), MLPRegressorFromNotes(max_iter=3, random_state=0)
    )
    pipeline.set_callbacks(callback.ProgressBar()).fit(X, Y)
    out = capsys.readouterr().out
    assert "MLPRegressorFromNotes - fit" in out and "100%" in out


def test_works_without_sklearn_callback():
    """scikit-learn < 1.9 has no ``sklearn.callback``: fitting still works."""
    import subprocess
    import sys

    code = (
        # scikit-learn itself imports sklearn.callback: load it first, then hide
        # the module from sknotes as an older scikit-learn would.
        "import sys, sklearn.base, sklearn.metrics, sklearn.preprocessing\n"
        "sys.modules['sklearn.callback'] = None\n"
        "import numpy as np\n"
        "from sknotes import MLPRegressorFromNotes\n"
        "X = np.arange(20.0).reshape(10, 2); y = X[:, 0] / 10\n"
        "est = MLPRegressorFromNotes(max_iter=3, random_state=0).fit(X, y)\n"
        "assert not hasattr(est, 'set_callbacks') and est.n_iter_ == 3\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


class _RecordingContext:
    """scikit-learn's callback context, reduced to a log of the calls it gets."""

    def __init__(self, log, task_name="fit", stop=False):
        self.log, self.task_name, self.stop = log, task_name, stop

    def call_on_fit_task_begin(self, **kwargs):
        self.log.append(("begin", self.task_name, kwargs))

    def call_on_fit_task_end(self, **kwargs):
        self.log.append(("end", self.task_name, kwargs))
        return self.stop

    def subcontext(self, task_name):
        return _RecordingContext(self.log, task_name, self.stop)


class _EstimatorWithCallbacks:
    def __init__(self, log, stop):
        self.log, self.stop = log, stop

    def _init_callback_context(self, max_subtasks):
        self.max_subtasks = max_subtasks
        return _RecordingContext(self.log, stop=self.stop)


@pytest.mark.parametrize("stop", [False, True])
def test_fit_callbacks_hand_each_task_the_estimator_its_data_and_the_model(stop):
    from sknotes._callbacks import FitCallbacks

    log = []
    est, X, y = _EstimatorWithCallbacks(log, stop), np.ones((3, 2)), np.zeros(3)

    def reconstruction():
        return {}

    callbacks = FitCallbacks(est, X, y, 4, reconstruction)
    assert callbacks.active and est.max_subtasks == 4  # one sub-task per epoch
    assert callbacks.epoch_end(2) is stop
    callbacks.fit_end()
    data = {"estimator": est, "X": X, "y": y}
    ended = {**data, "reconstruction_attributes": reconstruction}
    assert log == [
        ("begin", "fit", data),
        ("begin", "epoch 2", data),
        ("end", "epoch 2", ended),
        ("end", "fit", ended),
    ]


def test_fit_callbacks_without_a_callback_context_do_nothing():
    from sknotes._callbacks import FitCallbacks

    callbacks = FitCallbacks(object(), None, None, 4, dict)
    assert not callbacks.active
    assert callbacks.epoch_end(0) is False  # never asks training to stop
    callbacks.fit_end()
