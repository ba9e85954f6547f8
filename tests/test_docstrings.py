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


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_a_new_estimator_holds_the_documented_defaults(estimator):
    # What a new estimator holds, not the signature: a default is a value __init__
    # stores.  A group of parameters documented as another estimator's meaning
    # and defaults holds that estimator's.
    params = estimator().get_params()
    checked = set()
    for parameter in docscrape.ClassDoc(estimator)["Parameters"]:
        names = [name.strip() for name in parameter.name.split(",")]
        match = re.search(r"default=(.*)$", parameter.type)
        shared = re.search(r":class:`(\w+)`", " ".join(parameter.desc))
        if match is not None:
            values = [match.group(1)] if len(names) == 1 else match.group(1).split(",")
            expected = dict(zip(names, map(literal, values), strict=True))
        elif shared is not None and "default" in " ".join(parameter.desc):
            other = getattr(sknotes, shared.group(1))().get_params()
            expected = {name: other[name] for name in names}
        else:
            continue
        for name, value in expected.items():
            assert params[name] == value, name
        checked.update(expected)
    assert checked == set(params)
