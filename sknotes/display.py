"""LossCurveDisplay: the training curve, the scikit-learn Display way."""

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

__all__ = ["LossCurveDisplay"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # an optional extra
        raise ImportError(
            "LossCurveDisplay needs matplotlib (the plot extra: from a checkout of "
            'sknotes, pip install ".[plot]"; or pip install matplotlib).'
        ) from exc
    return plt


class LossCurveDisplay:
    """Training loss per epoch, with the validation loss and score of early stopping.

    Build it with :meth:`from_estimator`; :meth:`plot` draws it.

    The picture is made to be saved as it is: a new figure uses matplotlib's
    constrained layout (both axis labels survive a plain ``savefig``), the single
    legend sits below the axes, clear of the curves, and the epoch whose parameters
    early stopping restored is marked by a vertical line. The validation score
    axis runs from ``min(0, lowest score)`` (but not below −1) to 1, the scale of
    R² and of accuracy themselves: a wobble of 0.01 is 1 % of the axis, not a
    swing across it.

    Parameters
    ----------
    loss_curve : array-like of float
        Training loss per epoch (the notes' MSE plus the L2 term, for example).
    validation_loss_curve : array-like of float, default=None
        Validation loss per epoch.
    validation_scores : array-like of float, default=None
        Validation score per epoch (R², accuracy), drawn on a second axis.
    best_epoch : int, default=None
        Epoch (from 1) whose parameters the model kept; marked when given.
    estimator_name : str, default=None
    loss_name : str, default='MSE'
        What the loss is, for the labels: :meth:`from_estimator` gives
        ``'half Poisson deviance'`` for ``loss='poisson'`` and ``'log-loss'`` for a
        classifier.
    score_name : str, default='R²'
        What the score is: ``'accuracy'`` for a classifier.

    Attributes
    ----------
    line_ : matplotlib Line2D
    validation_line_ : matplotlib Line2D or None
    score_line_ : matplotlib Line2D or None
    best_epoch_line_ : matplotlib Line2D or None
    legend_ : matplotlib Legend
    ax_ : matplotlib Axes
    score_ax_ : matplotlib Axes or None
        The twin axes of the validation score.
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sknotes import LossCurveDisplay, MLPRegressorFromNotes
    >>> X, y = make_regression(n_samples=100, n_features=4, random_state=0)
    >>> reg = MLPRegressorFromNotes(max_iter=300, random_state=0).fit(X, y / 100)
    >>> display = LossCurveDisplay.from_estimator(reg)
    >>> len(display.line_.get_ydata()) == reg.n_iter_
    True
    >>> display.figure_.savefig("loss.png")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        loss_curve,
        validation_loss_curve=None,
        validation_scores=None,
        best_epoch=None,
        estimator_name=None,
        loss_name="MSE",
        score_name="R²",
    ):
        self.loss_name = loss_name
        self.score_name = score_name
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.validation_scores = validation_scores
        self.best_epoch = best_epoch
        self.estimator_name = estimator_name
        self.loss_name = loss_name
        self.score_name = score_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, **kwargs):
        """Plot the curves of a fitted sknotes estimator (``solver`` 'sgd' or 'adam').

        With ``early_stopping=True`` the best epoch is the first one of highest
        validation score (``validation_scores_``: R², or accuracy for a
        classifier): the epoch whose parameters the fit restored at its end. The
        labels name the estimator's loss and score.

        Parameters
        ----------
        estimator : fitted sknotes estimator
            ``MLPRegressorFromNotes``, ``MLPClassifierFromNotes``,
            ``EmbeddingBagRegressor`` or ``EmbeddingBagClassifier``.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure (constrained layout) when None.
        name : str, default=None
            Legend label; the estimator's class name when None.
        **kwargs : dict
            Passed to ``Axes.plot`` for the training curve.

        Returns
        -------
        display : LossCurveDisplay
        """
        check_is_fitted(estimator)
        if getattr(estimator, "loss_curve_", None) is None:
            raise ValueError(
                "The estimator has no loss_curve_: fit it with solver='sgd' or "
                "'adam' (L-BFGS records no curve)."
            )
        scores = getattr(estimator, "validation_scores_", None)
        display = cls(
            loss_curve=estimator.loss_curve_,
            validation_loss_curve=getattr(estimator, "validation_loss_curve_", None),
            validation_scores=scores,
            best_epoch=_best_epoch(scores),
            estimator_name=name or estimator.__class__.__name__,
            **_curve_names(estimator),
        )
        return display.plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure (constrained layout) when None. The layout
            of a figure you pass is left as it is.
        name : str, default=None
            Legend label of the training curve.
        **kwargs : dict
            Passed to ``Axes.plot`` for the training curve.

        Returns
        -------
        self : LossCurveDisplay
        """
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        name = name or self.estimator_name or "model"
        epochs = np.arange(1, len(self.loss_curve) + 1)
        (self.line_,) = ax.plot(
            epochs, self.loss_curve, label=f"{name} training loss", **kwargs
        )
        handles = [self.line_]
        self.validation_line_ = self.score_line_ = self.best_epoch_line_ = None
        self.score_ax_ = None
        if self.validation_loss_curve is not None:
            (self.validation_line_,) = ax.plot(
                epochs,
                self.validation_loss_curve,
                "--",
                label=f"validation {self.loss_name}",
            )
            handles.append(self.validation_line_)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"loss ({self.loss_name})")
        if self.validation_scores is not None:
            self.score_ax_ = ax.twinx()
            (self.score_line_,) = self.score_ax_.plot(
                epochs,
                self.validation_scores,
                ":",
                color="tab:green",
                label=f"validation {self.score_name}",
            )
            # R² and accuracy have a scale of their own; −log-loss has none.
            if self.score_name in ("R²", "accuracy"):
                self.score_ax_.set_ylim(*_score_limits(self.validation_scores))
            self.score_ax_.set_ylabel(f"validation {self.score_name}")
            handles.append(self.score_line_)
        if self.best_epoch is not None:
            self.best_epoch_line_ = ax.axvline(
                self.best_epoch,
                color="0.4",
                linestyle="-.",
                linewidth=1,
                label=f"restored best epoch ({self.best_epoch})",
            )
            handles.append(self.best_epoch_line_)
        self.legend_ = _legend_below(ax, handles)
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _curve_names(estimator):
    """What the estimator's loss and validation score are, for the labels."""
    if is_classifier(estimator):
        # MLPClassifierFromNotes scores accuracy (scikit-learn's choice);
        # EmbeddingBagClassifier says when it scores something else.
        score = getattr(estimator, "_VALIDATION_SCORE_NAME", "accuracy")
        return {"loss_name": "log-loss", "score_name": score}
    if getattr(estimator, "loss", None) == "poisson":
        return {"loss_name": "half Poisson deviance", "score_name": "R²"}
    return {"loss_name": "MSE", "score_name": "R²"}


def _best_epoch(validation_scores):
    """First epoch (from 1) of highest validation score, or None."""
    if validation_scores is None:
        return None
    scores = np.asarray(validation_scores, dtype=float)
    if not np.isfinite(scores).any():
        return None
    return int(np.argmax(np.where(np.isfinite(scores), scores, -np.inf))) + 1


def _score_limits(validation_scores):
    """``(max(min(0, lowest score), -1), 1)``: R²'s (or accuracy's) own scale."""
    scores = np.asarray(validation_scores, dtype=float)
    finite = scores[np.isfinite(scores)]
    low = min(0.0, finite.min()) if finite.size else 0.0
    return max(low, -1.0), 1.0


def _legend_below(ax, handles):
    """One legend under the axes, below the x tick labels and the x label."""
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties
    from matplotlib.transforms import ScaledTranslation

    def points(size):
        return FontProperties(size=size).get_size_in_points()

    # Tick, its pad, tick labels, the label's pad and the label, plus a gap.
    drop = (
        rcParams["xtick.major.size"]
        + rcParams["xtick.major.pad"]
        + 1.2 * points(rcParams["xtick.labelsize"])
        + rcParams["axes.labelpad"]
        + 1.2 * points(rcParams["axes.labelsize"])
        + 4.0
    )
    offset = ScaledTranslation(0, -drop / 72, ax.figure.dpi_scale_trans)
    return ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=ax.transAxes + offset,
        ncols=2,
        frameon=False,
    )
