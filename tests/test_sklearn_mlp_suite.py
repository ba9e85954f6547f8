"""scikit-learn's own MLP tests, with the sknotes MLPs in place of scikit-learn's.

The installed ``sklearn/neural_network/tests/test_mlp.py`` is copied at run time
(never vendored), its import of ``MLPClassifier`` and ``MLPRegressor`` replaced by
``MLPClassifierFromNotes`` and ``MLPRegressorFromNotes``, and its tests run in a
subprocess.  The selection is an explicit list of test ids: a test scikit-learn
renames or drops fails here instead of silently not running.  Excluded, and listed:
the tests that call scikit-learn's private ``_loss_grad_lbfgs`` (sknotes checks its
gradients by finite differences in its own tests).
"""

import ast
import importlib.util
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = [
    # The selection below is scikit-learn 1.9's test_mlp.py; older files differ.
    pytest.mark.requires_sklearn(
        "1.9", reason="the test selection is scikit-learn 1.9's test_mlp.py"
    ),
    # One process runs them all: the subprocess run of `outcomes` happens once.
    pytest.mark.xdist_group("sklearn_test_mlp"),
]

REGRESSOR_TESTS = [
    "test_lbfgs_regression[X0-y0]",
    "test_lbfgs_regression_maxfun[X0-y0]",
    "test_multioutput_regression",
    "test_partial_fit_regression",
    "test_nonfinite_params",
    "test_shuffle",
    "test_early_stopping[MLPRegressor]",
    "test_warm_start_full_iteration[MLPRegressor]",
    "test_mlp_regressor_dtypes_casting",
    "test_mlp_param_dtypes[MLPRegressor-float32]",
    "test_mlp_param_dtypes[MLPRegressor-float64]",
    "test_mlp_loading_from_joblib_partial_fit",
    "test_preserve_feature_names[MLPRegressor]",
    "test_mlp_warm_start_with_early_stopping[MLPRegressor]",
    "test_mlp_warm_start_no_convergence[sgd-MLPRegressor]",
    "test_mlp_warm_start_no_convergence[adam-MLPRegressor]",
    "test_mlp_warm_start_no_convergence[lbfgs-MLPRegressor]",
    "test_mlp_partial_fit_after_fit[MLPRegressor]",
    "test_mlp_diverging_loss",
    "test_mlp_sample_weight_with_early_stopping",
    "test_mlp_vs_poisson_glm_equivalent",
    "test_minimum_input_sample_size",
]

CLASSIFIER_TESTS = [
    "test_alpha",
    "test_fit",
    "test_lbfgs_classification[X0-y0]",
    "test_lbfgs_classification[X1-y1]",
    "test_lbfgs_classification_maxfun[X0-y0]",
    "test_lbfgs_classification_maxfun[X1-y1]",
    "test_learning_rate_warmstart",
    "test_multilabel_classification",
    "test_partial_fit_classes_error",
    "test_partial_fit_classification",
    "test_partial_fit_unseen_classes",
    "test_partial_fit_errors",
    "test_predict_proba_binary",
    "test_predict_proba_multiclass",
    "test_predict_proba_multilabel",
    "test_sparse_matrices[csr_matrix]",
    "test_sparse_matrices[csr_array]",
    "test_tolerance",
    "test_verbose_sgd",
    "test_early_stopping[MLPClassifier]",
    "test_adaptive_learning_rate",
    "test_warm_start",
    "test_warm_start_full_iteration[MLPClassifier]",
    "test_n_iter_no_change",
    "test_n_iter_no_change_inf",
    "test_early_stopping_stratified",
    "test_mlp_early_stopping_string_labels",
    "test_mlp_classifier_dtypes_casting",
    "test_mlp_param_dtypes[MLPClassifier-float32]",
    "test_mlp_param_dtypes[MLPClassifier-float64]",
    "test_preserve_feature_names[MLPClassifier]",
    "test_mlp_warm_start_with_early_stopping[MLPClassifier]",
    "test_mlp_warm_start_no_convergence[sgd-MLPClassifier]",
    "test_mlp_warm_start_no_convergence[adam-MLPClassifier]",
    "test_mlp_warm_start_no_convergence[lbfgs-MLPClassifier]",
    "test_mlp_partial_fit_after_fit[MLPClassifier]",
]

# Calls scikit-learn's private ``_loss_grad_lbfgs``, which sknotes does not have.
EXCLUDED = ["test_gradient"]

_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
_OURS = (
    "from sknotes import MLPClassifierFromNotes as MLPClassifier\n"
    "from sknotes import MLPRegressorFromNotes as MLPRegressor\n"
)
# scikit-learn's conftest supplies global_random_seed; its default seed is 42.
_CONFTEST = """import pytest


@pytest.fixture
def global_random_seed():
    return 42
"""


def _installed_test_mlp():
    spec = importlib.util.find_spec("sklearn.neural_network.tests.test_mlp")
    if spec is None or spec.origin is None:
        pytest.skip("scikit-learn is installed without its tests")
    return Path(spec.origin)


def _node_id(name):
    # The parametrized ids name the estimator class: ours under the alias.
    for ours in ("MLPRegressor", "MLPClassifier"):
        name = name.replace(ours, ours + "FromNotes")
    return "test_mlp_notes.py::" + name


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, once_per_session):
    """Run the selected tests once; ``{test id: 'passed' | failure text}``."""
    return once_per_session("sklearn_test_mlp", lambda: _run(tmp_path_factory))


def _run(tmp_path_factory):
    source = _installed_test_mlp().read_text()
    assert source.count(_IMPORT) == 1, "scikit-learn's test_mlp.py imports changed"
    directory = tmp_path_factory.mktemp("sklearn_mlp")
    (directory / "test_mlp_notes.py").write_text(source.replace(_IMPORT, _OURS))
    (directory / "conftest.py").write_text(_CONFTEST)
    report = directory / "report.xml"
    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            f"--rootdir={directory}",
            *(_node_id(name) for name in REGRESSOR_TESTS + CLASSIFIER_TESTS),
        ],
        cwd=directory,
        env={**_environ(), "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        problems = [c for c in case if c.tag in ("failure", "error", "skipped")]
        name = "test_mlp_notes.py::" + case.get("name")
        results[name] = (
            "passed"
            if not problems
            else f"{problems[0].tag}: {problems[0].get('message')}\n{problems[0].text}"
        )
    return results


def _environ():
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


@pytest.mark.parametrize("name", REGRESSOR_TESTS)
def test_scikit_learns_regressor_test_passes(outcomes, name):
    node = _node_id(name)
    assert node in outcomes, f"{name} did not run: renamed or removed upstream?"
    assert outcomes[node] == "passed", outcomes[node]


@pytest.mark.parametrize("name", CLASSIFIER_TESTS)
def test_scikit_learns_classifier_test_passes(outcomes, name):
    node = _node_id(name)
    assert node in outcomes, f"{name} did not run: renamed or removed upstream?"
    assert outcomes[node] == "passed", outcomes[node]


def _tests_using(estimator):
    source = _installed_test_mlp().read_text()
    found = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            parts = [node, *node.decorator_list]
            if any(estimator in ast.get_source_segment(source, p) for p in parts):
                found.add(node.name)
    return found


def test_the_selection_is_every_regressor_test():
    """Every test of the installed file that uses MLPRegressor is in the list."""
    selected = {name.split("[")[0] for name in REGRESSOR_TESTS}
    assert _tests_using("MLPRegressor") == selected


def test_the_selection_is_every_classifier_test_but_the_excluded():
    """Every test that uses MLPClassifier is in the list or, named, excluded."""
    selected = {name.split("[")[0] for name in CLASSIFIER_TESTS}
    assert not selected & set(EXCLUDED)
    assert _tests_using("MLPClassifier") == selected | set(EXCLUDED)
    for name in EXCLUDED:
        assert "_loss_grad_lbfgs" in ast.get_source_segment(
            _installed_test_mlp().read_text(),
            next(
                node
                for node in ast.parse(_installed_test_mlp().read_text()).body
                if isinstance(node, ast.FunctionDef) and node.name == name
            ),
        )
