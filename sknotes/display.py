"""LossCurveDisplay: the training curve, the scikit-learn Display way."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["LossCurveDisplay"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # an optional extra
        raise ImportError(
            "LossCurveDisplay needs matplotlib: pip install 'sknotes[plot]'."
        ) from exc
    return plt


class LossCurveDisplay:
    """Training loss per epoch, with the validation loss and R² of early stopping.

    Build it with :meth:`from_estimator`; :meth:`plot` draws it.

    Parameters
    ----------
    loss_curve : array-like of float
        Training loss per epoch (the notes' MSE plus the L2 term).
    validation_loss_curve : array-like of float, default=None
        Validation MSE per epoch.
    validation_scores : array-like of float, default=None
        Validation R² per epoch, drawn on a second axis.
    estimator_name : str, default=None

    Attributes
    ----------
    line_ : matplotlib Line2D
    validation_line_ : matplotlib Line2D or None
    score_line_ : matplotlib Line2D or None
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sknotes import LossCurveDisplay  # doctest: +SKIP
    >>> display = LossCurveDisplay.from_estimator(fitted_model)  # doctest: +SKIP
    >>> display.figure_.savefig("loss.png")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        loss_curve,
        validation_loss_curve=None,
        validation_scores=None,
        estimator_name=None,
    ):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.validation_scores = validation_scores
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, **kwargs):
        """Plot the curves of a fitted sknotes estimator (``solver`` 'sgd' or 'adam').

        Parameters
        ----------
        estimator : fitted MLPRegressorFromNotes or EmbeddingBagRegressor
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
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
        display = cls(
            loss_curve=estimator.loss_curve_,
            validation_loss_curve=getattr(estimator, "validation_loss_curve_", None),
            validation_scores=getattr(estimator, "validation_scores_", None),
            estimator_name=name or estimator.__class__.__name__,
        )
        return display.plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
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
            _, ax = plt.subplots()
        name = name or self.estimator_name or "model"
        epochs = np.arange(1, len(self.loss_curve) + 1)
        (self.line_,) = ax.plot(
            epochs, self.loss_curve, label=f"{name} training loss", **kwargs
        )
        self.validation_line_ = self.score_line_ = None
        if self.validation_loss_curve is not None:
            (self.validation_line_,) = ax.plot(
                epochs, self.validation_loss_curve, "--", label="validation MSE"
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (MSE)")
        ax.legend(loc="upper right")
        if self.validation_scores is not None:
            score_ax = ax.twinx()
            (self.score_line_,) = score_ax.plot(
                epochs,
                self.validation_scores,
                ":",
                color="tab:green",
                label="validation R²",
            )
            score_ax.set_ylabel("validation R²")
            score_ax.legend(loc="lower left")
        self.ax_, self.figure_ = ax, ax.figure
        return self
