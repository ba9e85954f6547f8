"""Private scikit-learn names live in ``sknotes._compat`` only, and its shims work."""

import ast
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import _check_sample_weight as sklearn_check

import sknotes
from sknotes import EmbeddingBagClassifier, MLPRegressorFromNotes, _compat

PACKAGE = Path(sknotes.__file__).parent


def private_sklearn_imports(source):
    """The ``import`` lines of ``source`` that reach a private scikit-learn name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            paths = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            paths = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for path in paths:
            parts = path.split(".")
            if parts[0] == "sklearn" and any(p.startswith("_") for p in parts):
                found.append((node.lineno, path))
    return found


@pytest.mark.parametrize(
    "line, private",
    [
        ("from sklearn.base import _fit_context", True),
        ("from sklearn.utils._param_validation import Interval", True),
        ("import sklearn.utils._testing as t", True),
        ("from sklearn.utils import _safe_indexing, check_array", True),
        ("def f():\n    from sklearn.neural_network._base import ACTIVATIONS", True),
        ("from sklearn.base import BaseEstimator, clone", False),
        ("import sklearn.utils.validation", False),
        ("from sknotes._compat import _fit_context", False),
        ("from ._compat import _check_sample_weight", False),
    ],
)
def test_the_scan_finds_private_sklearn_imports(line, private):
    assert bool(private_sklearn_imports(line)) is private


def test_no_private_sklearn_import_outside_compat():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert PACKAGE / "_compat.py" in modules and len(modules) > 5
    offenders = {
        str(path.relative_to(PACKAGE)): found
        for path in modules
        if path.name != "_compat.py"
        and (found := private_sklearn_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "import these through sknotes._compat"
    # The scan reads the real files: it sees the ones _compat itself makes.
    compat = private_sklearn_imports((PACKAGE / "_compat.py").read_text())
    assert "sklearn.base._fit_context" in [path for _, path in compat]


def test_check_sample_weight_refuses_all_zero_weights_on_every_version():
    X = np.empty((4, 0))
    with pytest.raises(ValueError, match="at least one non-zero number"):
        _compat._check_sample_weight(np.zeros(4), X)
    zeros = _compat._check_sample_weight(np.zeros(4), X, allow_all_zero_weights=True)
    np.testing.assert_array_equal(zeros, np.zeros(4))
    # Otherwise it is scikit-learn's: same dtype rules, same refusals.
    weights = np.array([0.0, 1.0, 2, 3], dtype=np.float32)
    ours = _compat._check_sample_weight(weights, X, dtype=np.float32)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, sklearn_check(weights, X, dtype=np.float32))
    with pytest.raises(ValueError, match="(?i)negative"):
        _compat._check_sample_weight(-np.ones(4), X, ensure_non_negative=True)


@pytest.mark.requires_sklearn("999", reason="checks the marker itself")
def test_requires_sklearn_skips_on_an_older_scikit_learn():
    pytest.fail("a test that needs scikit-learn 999 ran")


@pytest.mark.parametrize(
    "bag, solver, batch_size, category",
    [
        (False, "adam", "auto", ConvergenceWarning),  # the stochastic loop's max_iter
        (False, "lbfgs", "auto", ConvergenceWarning),  # scipy's L-BFGS
        (False, "sgd", 500, UserWarning),  # the batch clipped to the data
        (True, "adam", "auto", ConvergenceWarning),
        (True, "sgd", 500, UserWarning),
    ],
)
def test_training_warnings_point_at_the_users_call(
    data, bag, solver, batch_size, category
):
    """warn_at_caller, through fit's scikit-learn decorators: the warnings point at
    the line to change, the caller's."""
    X, y = data
    if bag:
        X, y = [[f"w{i % 9}"] for i in range(len(y))], y > 0
        est = EmbeddingBagClassifier(embedding_dim=2, hidden_layer_sizes=())
    else:
        est = MLPRegressorFromNotes(hidden_layer_sizes=(3,))
    est.set_params(
        solver=solver, batch_size=batch_size, max_iter=2, early_stopping=False
    )
    # Taken outside the assert: pytest's assertion rewriting sets f_lineno
    # differently across its versions.
    fit_line = sys._getframe().f_lineno + 2
    with pytest.warns(category) as record:
        est.fit(X, y)
    assert {(w.filename, w.lineno) for w in record if w.category is category} == {
        (__file__, fit_line)
    }
