"""scikit-learn's callback API (``sklearn.callback``, new in 1.9), where it exists.

``est.set_callbacks(ProgressBar())`` shows a bar over epochs, also inside
``GridSearchCV`` or a ``Pipeline``; ``ScoringMonitor`` scores the model after each
epoch.  Both come from scikit-learn (``from sklearn.callback import ProgressBar``),
not from sknotes; ``ProgressBar`` needs ``rich``.  On older scikit-learn the mixin
is empty and the decorator does nothing, so the estimators work the same without
callbacks.
"""

import copy

from sknotes._compat import CallbackSupportMixin, with_callbacks

__all__ = ["CallbackSupportMixin", "FitCallbacks", "with_callbacks"]

# What a copy of the model needs to predict (the callbacks' "reconstruction").
_PRIVATE_STATE = ("_network", "_encoder", "_input_form")


class FitCallbacks:
    """The callback context of one fit: a root task and one sub-task per epoch."""

    def __init__(self, est, X, y, n_epochs):
        self.est, self.X, self.y = est, X, y
        self.context = None
        if hasattr(est, "_init_callback_context"):
            self.context = est._init_callback_context(max_subtasks=n_epochs)
            self.context.call_on_fit_task_begin(estimator=est, X=X, y=y)

    def _state(self):
        return copy.deepcopy(
            {
                key: value
                for key, value in vars(self.est).items()
                if (key.endswith("_") and not key.startswith("_"))
                or key in _PRIVATE_STATE
            }
        )

    def epoch_end(self, epoch):
        """One epoch done; returns True when a callback asks to stop."""
        if self.context is None:
            return False
        sub = self.context.subcontext(task_name=f"epoch {epoch}")
        sub.call_on_fit_task_begin(estimator=self.est, X=self.X, y=self.y)
        self.est._publish()
        return bool(
            sub.call_on_fit_task_end(
                estimator=self.est,
                X=self.X,
                y=self.y,
                reconstruction_attributes=self._state,
            )
        )

    def fit_end(self):
        if self.context is not None:
            self.context.call_on_fit_task_end(
                estimator=self.est,
                X=self.X,
                y=self.y,
                reconstruction_attributes=self._state,
            )
