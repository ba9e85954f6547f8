"""sknotes: hand-derived backpropagation notes as scikit-learn estimators."""

from sknotes.gradcheck import gradcheck
from sknotes.mlp import MLPRegressorFromNotes

__all__ = ["MLPRegressorFromNotes", "gradcheck"]
__version__ = "0.1.0"
