"""sknotes: hand-derived backpropagation notes as scikit-learn estimators."""

# The one place the version is written: pyproject.toml reads it from here.
__version__ = "0.2.0.dev0"

from sknotes._embedding_bag import EmbeddingBagRegressor
from sknotes._embedding_bag_classifier import EmbeddingBagClassifier
from sknotes._mlp import MLPClassifierFromNotes, MLPRegressorFromNotes
from sknotes.display import LossCurveDisplay
from sknotes.gradcheck import gradcheck

__all__ = [
    "EmbeddingBagClassifier",
    "EmbeddingBagRegressor",
    "LossCurveDisplay",
    "MLPClassifierFromNotes",
    "MLPRegressorFromNotes",
    "gradcheck",
]
