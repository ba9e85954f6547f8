"""Sphinx configuration of the sknotes documentation (build it with docs/build.sh)."""

import ast
import os
import sys
from pathlib import Path

from docutils import nodes

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The checkout's package, not an installed copy: the pages describe this tree.
sys.path.insert(0, str(ROOT))

# The gallery runs the examples on a subsample so that the site builds in minutes;
# a reader runs them on the full data (see each example's header).
os.environ.setdefault("SKNOTES_EXAMPLE_N", "3000")
os.environ.setdefault("MPLBACKEND", "Agg")

import sknotes  # noqa: E402

project = "sknotes"
author = "the sknotes developers"
copyright = "the sknotes developers"
release = sknotes.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # Markdown pages (notes_classification.md) with $...$ and $$...$$ math.
    "myst_parser",
]
myst_enable_extensions = ["dollarmath"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# Every cross-reference to sknotes must resolve; names from numpy, scipy,
# scikit-learn or matplotlib are left as text (no inventory is fetched: the build
# works offline).
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|scipy|sp|sklearn|matplotlib|joblib)(\..*)?"),
    (r"py:.*", r"(ndarray|array-like|callable|optional|default|of|shape)"),
]

autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# \grad{S} renders as grad_S, the code's name for d loss / dS.
mathjax3_config = {"tex": {"macros": {"grad": [r"\operatorname{grad}_{#1}", 1]}}}

html_theme = "pydata_sphinx_theme"
html_title = f"sknotes {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
# Pages without sub-pages get the full width for their equations.
html_sidebars = {
    page: []
    for page in (
        "index",
        "getting_started",
        "the_notes",
        "notes_classification",
        "api",
        "user_guide/*",
    )
}

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Executed: the plot_* scripts. scale_out_dask.py starts a local cluster and
    # is shown, not run.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "min_reported_time": 1,
    "reference_url": {"sknotes": None},
    "doc_module": ("sknotes",),
    "backreferences_dir": "generated/backreferences",
}


# -- :test:`file.py::name`: a test cited by the pages, checked to exist ---------
def _test_names(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test")
    }


_TEST_CACHE = {}


def _test_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """Render ``tests/<file>::<test>`` and warn (an error under -W) if it is gone."""
    filename, _, function = text.partition("::")
    path = ROOT / "tests" / filename
    if path not in _TEST_CACHE:
        _TEST_CACHE[path] = _test_names(path) if path.is_file() else None
    found = _TEST_CACHE[path]
    messages = []
    if found is None or (function and function not in found):
        messages.append(
            inliner.reporter.warning(f"cited test not found: tests/{text}", line=lineno)
        )
    node = nodes.literal(rawtext, f"tests/{text}", classes=["sknotes-test"])
    return [node], messages


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    # Inherited scikit-learn methods (get_params, score, set_output, the generated
    # set_*_request, ...) are documented by scikit-learn; their docstrings cite
    # labels of its own site.
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn") or (
        name.startswith("set_") and name.endswith("_request")
    ):
        return True
    return None


def setup(app):
    app.add_role("test", _test_role)
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
