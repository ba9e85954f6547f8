"""Each estimator's docstring documents every parameter and its own defaults."""

import ast
import inspect
import re

import pytest

import sknotes

docscrape = pytest.importorskip("numpydoc.docscrape")

ESTIMATORS = [
    sknotes.MLPRegressorFromNotes,
    sknotes.MLPClassifierFromNotes,
    sknotes.EmbeddingBagRegressor,
    sknotes.EmbeddingBagClassifier,
]


def literal(text):
    """A default as written (``0.01``, ``(64,)``, ``'mean'``, ``2**18``)."""
    tree = ast.parse(text.strip(), mode="eval")
    if isinstance(tree.body, ast.BinOp):  # 2**18: constants only
        return eval(compile(tree, "<default>", "eval"), {"__builtins__": {}})
    return ast.literal_eval(tree)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_documented_defaults_are_the_defaults(estimator):
    signature = inspect.signature(estimator.__init__).parameters
    documented, every_name = {}, set()
    for parameter in docscrape.ClassDoc(estimator)["Parameters"]:
        names = [name.strip() for name in parameter.name.split(",")]
        every_name.update(names)
        match = re.search(r"default=(.*)$", parameter.type)
        if match is None:
            continue
        values = [match.group(1)] if len(names) == 1 else match.group(1).split(",")
        for name, value in zip(names, values, strict=True):
            assert name in signature, f"{name} is documented but not a parameter"
            documented[name] = literal(value)
    # Enough to matter: every parameter whose default differs from the other
    # estimators' is among them.
    assert len(documented) >= 7
    for name, value in documented.items():
        assert signature[name].default == value, name
    assert every_name == set(signature) - {"self"}
