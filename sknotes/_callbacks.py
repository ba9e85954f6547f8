"""scikit-learn's callback API (``sklearn.callback``, new in 1.9), where it exists.

``est.set_callbacks(ProgressBar())`` shows a bar over epochs, also inside
``GridSearchCV`` or a ``Pipeline``; ``ScoringMonitor`` scores the model after each
epoch.  Both come from scikit-learn (``from sklearn.callback import ProgressBar``),
not from sknotes; ``ProgressBar`` needs ``rich``.  On older scikit-learn the mixin
is empty and the decorator does nothing, so the estimators work the same without
callbacks.
"""

from sknotes._compat import CallbackSupportMixin, with_callbacks

__all__ = ["CallbackSupportMixin", "FitCallbacks", "with_callbacks"]


class FitCallbacks:
    """The callback context of one fit: a root task and one sub-task per epoch.

    Parameters
    ----------
    est : estimator
    X, y : the data of the fit
    n_epochs : int
    reconstruction : callable
        Returns the attributes that make a copy of ``est`` predict as it does now
        (scikit-learn's ``reconstruction_attributes``).
    """

    def __init__(self, est, X, y, n_epochs, reconstruction):
        self.est, self.X, self.y = est, X, y
        self.reconstruction = reconstruction
        self.context = None
        if hasattr(est, "_init_callback_context"):
            self.context = est._init_callback_context(max_subtasks=n_epochs)
            self.context.call_on_fit_task_begin(estimator=est, X=X, y=y)

    @property
    def active(self):
        """Whether any callback listens (scikit-learn ≥ 1.9)."""
        return self.context is not None

    def epoch_end(self, epoch):
        """One epoch done (the estimator's attributes are up to date); True stops."""
        if self.context is None:
            return False
        sub = self.context.subcontext(task_name=f"epoch {epoch}")
        sub.call_on_fit_task_begin(estimator=self.est, X=self.X, y=self.y)
        return bool(
            sub.call_on_fit_task_end(
                estimator=self.est,
                X=self.X,
                y=self.y,
                reconstruction_attributes=self.reconstruction,
            )
        )

    def fit_end(self):
        if self.context is not None:
            self.context.call_on_fit_task_end(
                estimator=self.est,
                X=self.X,
                y=self.y,
                reconstruction_attributes=self.reconstruction,
            )
