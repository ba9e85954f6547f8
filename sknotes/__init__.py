"""sknotes: hand-derived backpropagation notes as scikit-learn estimators."""

from sknotes.display import LossCurveDisplay
from sknotes.embedding_bag import EmbeddingBagRegressor
from sknotes.gradcheck import gradcheck
from sknotes.mlp import MLPRegressorFromNotes

__all__ = [
    "EmbeddingBagRegressor",
    "LossCurveDisplay",
    "MLPRegressorFromNotes",
    "gradcheck",
]
__version__ = "0.1.0"
