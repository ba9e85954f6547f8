"""Mutation testing of sknotes/, one module at a time, against that module's tests.

    PYTHONPATH=. python benchmarks/mutation.py                 # every module
    PYTHONPATH=. python benchmarks/mutation.py _training nodes # some modules
    PYTHONPATH=. python benchmarks/mutation.py --sample 300 _embedding_bag

Each module is mutated by mutmut (``pip install ".[mutation]"``) in a scratch copy
of the checkout, and each mutant runs only the tests of the module's own test
files (``MODULE_TESTS``; mutmut further narrows them to the tests that call the
mutated function).  The whole suite per mutant would take hours on two cores.
``--sample N`` runs N mutants drawn at random (seed 0) instead of all of them.
``--survivors`` runs again only the mutants a module's results file lists as not
killed (after new tests; the module's code must be unchanged).

The results, one line per mutant, go to ``benchmarks/results/mutation/``; the
summary (killed / survived / not reached, per module) is printed and appended to
``benchmarks/results/mutation/summary.txt``.  Survivors that ``EQUIVALENT_RULES``
recognise cannot change what sknotes computes; they are counted apart (and
listed with their reason), not as survivors.
"""

import argparse
import datetime
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "mutation"

# The test files that mirror each module (tests/ mirrors the package).
MODULE_TESTS = {
    # _base is every estimator's plumbing: its classifier half is tested with
    # the MLP classifier, its fitted copies with the callbacks; test_base.py
    # holds what no estimator's file pins.
    # The compiled bag step's loops run as Python (see _PYTHON_BAG_STEP): the
    # Hogwild quality test, which trains for minutes that way, stays out (it
    # pins the threads, not the arithmetic the bit-for-bit tests compare).
    "_bag_kernel": [
        "tests/test_bag_kernel.py",
        "--deselect",
        "tests/test_bag_kernel.py::test_hogwild_reaches_the_same_held_out_quality",
    ],
    # Likewise the compiled dense step (see _PYTHON_DENSE_STEP).
    "_dense_kernel": ["tests/test_dense_kernel.py"],
    "_base": [
        "tests/test_base.py",
        "tests/test_mlp.py",
        "tests/test_mlp_classifier.py",
        "tests/test_atomicity.py",
        "tests/test_callbacks.py",
    ],
    "_callbacks": ["tests/test_callbacks.py"],
    "_compat": ["tests/test_compat.py"],
    "_demo": ["tests/test_demo.py"],
    # test_atomicity.py holds every estimator's failed-fit tests (the row journal).
    "_embedding_bag": [
        "tests/test_embedding_bag.py",
        "tests/test_atomicity.py",
        "tests/test_docstrings.py",
    ],
    # test_docstrings.py: the documented defaults are __init__'s.
    "_embedding_bag_classifier": [
        "tests/test_embedding_bag_classifier.py",
        "tests/test_docstrings.py",
    ],
    # The compiled encoder, against _text's reference (its loops run as Python).
    "_encode": ["tests/test_encode.py"],
    "_kernels": ["tests/test_kernels.py"],
    "_mlp": [
        "tests/test_mlp.py",
        "tests/test_mlp_classifier.py",
        "tests/test_docstrings.py",
    ],
    "_network": ["tests/test_network.py"],
    "_optimizers": ["tests/test_optimizers.py"],
    # test_encode.py checks _text's Python reference against the compiled encoder.
    "_text": ["tests/test_text.py", "tests/test_encode.py"],
    "_training": ["tests/test_training.py", "tests/test_atomicity.py"],
    "display": ["tests/test_display.py"],
    "gradcheck": ["tests/test_gradcheck.py"],
    "nodes": ["tests/test_nodes.py", "tests/test_classification_nodes.py"],
    "onnx": ["tests/test_onnx.py"],
}


# Surviving mutants that cannot change what sknotes computes, recognised by their
# diff (the changed line before and after), each with the reason.  Every survivor
# these rules exclude is listed, with its rule, in the module's results file.
def _drop(pattern, repl=""):
    return lambda line: re.sub(pattern, repl, line)


def _no_trailing_comma(line):
    """The line without a trailing comma or the spaces of a re-wrapped call."""
    return re.sub(r"\s+", " ", re.sub(r",?\s*\)", ")", line))


# A surviving mutant is excluded when one of these rewrites, applied to the
# changed line before and after the mutation, makes the two lines equal: the
# mutation only touched something that cannot change what sknotes computes.
EQUIVALENT_RULES = [
    (
        _drop(r",?\s*strict=\w+"),
        "zip's strict only raises on unequal lengths, which the code never passes",
    ),
    (
        _drop(r'"[^"]*->[^"]*"', lambda m: m.group().lower()),
        "einsum subscripts in upper case: the same contraction",
    ),
    (_drop(r"reshape\(-2", "reshape(-1"), "numpy reads reshape(-2) as reshape(-1)"),
    (_drop(r",?\s*optimize=\w+"), "einsum's optimize flag: the same two-operand sum"),
    (_drop(r",?\s*copy=\w+"), "astype's copy flag: the same values"),
    (
        _drop(
            r"(np\.(?:zeros|ones|empty)\([^()]*?),?\s*dtype=(?:np\.float64|None)\)",
            r"\1)",
        ),
        "np.zeros, ones and empty make float64 by default",
    ),
    (
        _drop(r"astype\(np\.float64\)", "astype(None)"),
        "numpy reads dtype None as float64",
    ),
    (
        _drop(r",?\s*out=.*\)\s*$", ")"),
        "an out= buffer dropped: the same values in a new array",
    ),
    (
        _drop(r"self\._scratch\.like\(params\)|scratch\)$|None\)$", "SCRATCH)"),
        "the optimizers' scratch buffer: the numpy path only overwrites it",
    ),
    (_drop(r",?\s*stacklevel=\d+"), "which frame a warning names: not specified"),
    (_drop(r'"L-BFGS-B"|"l-bfgs-b"', "L"), "scipy lower-cases the method name"),
]

# Equivalent survivors no line rewrite describes, by name (mutmut numbers each
# function's mutants in a fixed order: a name stays valid while its function
# is unchanged).
EQUIVALENT_NAMES = {
    "sknotes._optimizers.xǁ_Scratchǁlike": "the scratch buffer's reuse (any buffer "
    "of the right shape and dtype is fully overwritten before it is read)",
    "sknotes.nodes.x__column_sum__mutmut_3": "the ones cache missed: recomputed",
    "sknotes.nodes.x__column_sum__mutmut_4": "the ones cache missed: recomputed",
    "sknotes.nodes.x__column_sum__mutmut_8": "the ones cache grown one row early",
    "sknotes.nodes.x__column_sum__mutmut_18": "the ones cache one row longer",
    "sknotes.nodes.x__column_sum__mutmut_19": "the ones cache left writeable",
    "sknotes.nodes.xǁEmbeddingǁ_touched_rows__mutmut_1": "the row maps not reused",
    "sknotes.nodes.xǁEmbeddingǁ_touched_rows__mutmut_2": "the row maps not reused",
    "sknotes.nodes.xǁEmbeddingǁ_touched_rows__mutmut_3": "the row maps not reused",
    "sknotes.nodes.xǁEmbeddingǁ_touched_rows__mutmut_4": "the row maps not reused",
    "sknotes.nodes.xǁEmbeddingǁ_touched_rows__mutmut_8": "the row maps not reused",
    "sknotes.nodes.xǁEmbeddingǁforward__mutmut_3": "tocsr() of a CSR Π is Π",
    "sknotes.nodes.xǁEmbeddingǁforward__mutmut_5": "tocsr() of a CSR Π is Π",
    "sknotes.nodes.xǁEmbeddingǁforward__mutmut_6": "tocsr() of a CSR Π is Π",
    "sknotes._kernels.x_adam_update__mutmut_1": "decay 1 by default, on 0 entries",
    "sknotes._kernels.x_adam_update__mutmut_2": "1 entry by default, decayed by 0",
    "sknotes._kernels.x_add_decay": "the numpy path's scratch slice (see above)",
    "sknotes._kernels.x__loops__mutmut_2": "the loops rebuilt at each call",
    "sknotes._embedding_bag.xǁEmbeddingBagRegressorǁ_sync_from_public__mutmut_8": "a "
    "live linear_coef_ copied onto itself (it is a view of those columns): the same "
    "values",
    "sknotes._embedding_bag.xǁEmbeddingBagRegressorǁ_table__mutmut_4": "the live "
    "table or a copy of the same columns: the same values, and its callers (predict, "
    "attributions, the fitted copy's forward pass) only read it",
    "sknotes._embedding_bag.xǁEmbeddingBagRegressorǁ_validate_fit_input__mutmut_31": (
        "check_array converts a sparse format not listed to the first listed (csr), "
        "and the fit converts X to CSR next: the same matrix"
    ),
    "sknotes._dense_kernel.x__dense_step_loop__mutmut_297": "the fused one-unit "
    "backward taken for a one-unit input too: the same bits (the hidden (1,) cases "
    "of tests/test_dense_kernel.py pass with it applied)",
    "sknotes._dense_kernel.xǁCompiledDenseStepǁ_for_n__mutmut_12": "the decay 2c·W "
    "applied with c = 0 adds +0.0 to each gradient: the same bits",
    "sknotes._dense_kernel.xǁCompiledDenseStepǁ_setup__mutmut_27": "numpy's default "
    "integer is int64 here: the same array",
    "sknotes._base.xǁBaseNotesEstimatorǁ_fitted_copy__mutmut_10": "no private "
    "attribute's name ends in '_': the same attributes are copied",
    "sknotes._demo.x_loss_curve_picture__mutmut_18": "the legend's name: "
    "from_estimator names it after the estimator's class when None, the same "
    "'EmbeddingBagRegressor'",
    "sknotes._mlp.xǁ_MLPFromNotesǁ_validate_predict_input__mutmut_6": "validate_data "
    "reads reset only as a truth value: None and False alike",
    "sknotes._mlp.xǁMLPRegressorFromNotesǁ_validate_fit_input__mutmut_10": "y is cast "
    "to X's dtype on the next line: the same conversion (and, for strings, the "
    "same 'could not convert string to float' error) without y_numeric",
    "sknotes._bag_kernel.x__bag_step_loop__mutmut_238": "grad_R also computed "
    "when the table does not train: its own buffer, read only by the table's step",
    "sknotes._embedding_bag_classifier.xǁEmbeddingBagClassifierǁ_linear_solution"
    "__mutmut_57": "_searching_alpha is read only as a truth value: None and False "
    "alike",
    "sknotes._encode.x__first_codes_loop__mutmut_138": "the code table grown "
    "one code earlier: a larger table, the same codes (numbered by first "
    "appearance, whatever the slots)",
    "sknotes._encode.x__char_wb_counts_loop__mutmut_13": "the longest padded "
    "word starts at 1, not 0: a padded word is at least 3 long, and without one "
    "the scratch it sizes is never read",
    "sknotes._encode.x_weighted_bag__mutmut_16": "its caller returns before "
    "a batch without tokens: indptr's diff is never empty, max's initial unused",
    "sknotes._base.x__binarize__mutmut_10": "the direct encoding is a shortcut of "
    "label_binarizer.transform (the same matrix, same dtype); a column of labels "
    "reaches it raveled (checked by hand: the same fit)",
    "sknotes._optimizers.x__decay__mutmut_3": "decay 1 on 0 entries: nothing",
    "sknotes._optimizers.x__decay__mutmut_4": "decay 0 on 1 entry: nothing",
    "sknotes._training.x_fit_lbfgs__mutmut_27": "verbose reaches only scipy's "
    "disp, which prints nothing on scipy >= 1.15 (see minimize_lbfgs below)",
    "sknotes._training.x_fit_lbfgs__mutmut_43": "lbfgs publishes no best_loss_; "
    "the stochastic loop's start reads a best loss of None as inf",
    "sknotes._training.xǁStochasticLoopǁ_batch_size__mutmut_23": "batch_size >= 1 "
    "is validated by _parameter_constraints: the lower clip never acts",
    "sknotes._training.xǁStochasticLoopǁ_batch_size__mutmut_24": "a batch larger "
    "than the data slices the same rows as one clipped to it (the warning stays)",
    **{
        f"sknotes._training.xǁStochasticLoopǁ__init____mutmut_{i}": "without a "
        "compiled step the reference step runs alone, whatever n_jobs is"
        for i in (21, 23)
    },
    "sknotes._training.xǁStochasticLoopǁrun_epoch__mutmut_38": "the pool's size: "
    "map runs one task per worker step either way",
    **{
        f"sknotes._training.xǁTrainingDataǁbatch__mutmut_{i}": "sample_weight is "
        "1-D: take along axis 0 or along the flattened array is the same"
        for i in (19, 21)
    },
    "sknotes._training.xǁTrainingLossStoppingǁepoch_end__mutmut_10": "on a tie the "
    "best loss is set to the value it already has",
    "sknotes._training.xǁ_InterruptFlagǁ__init____mutmut_1": "raised is only read "
    "as a truth value: None and False alike",
    "sknotes._training.xǁ_InterruptFlagǁ__enter____mutmut_7": "the except branch "
    "of an embedded interpreter (signal refused in the main thread): unreachable",
    "sknotes._text.x__text_column__mutmut_11": "every pandas dtype has a kind "
    "(ExtensionDtype's is 'O'): getattr's default is never used",
    "sknotes._text.x_as_documents__mutmut_6": "the sparse check is a shortcut: "
    "_text_column returns None for a sparse matrix anyway",
    "sknotes._text.x_normalize_bag_rows__mutmut_64": "a row of norm 0 holds only "
    "zeros: 0/1 and 0/2 are both 0",
    "sknotes._text.xǁ_Termsǁ__init____mutmut_103": "p·K − c numbers the pairs "
    "(p, c), 0 <= c < K, as injectively as p·K + c; terms are then ranked by first "
    "appearance, not by key",
    "sknotes._text.xǁ_Termsǁ__init____mutmut_146": "previous is read only at the "
    "starts written (remaining >= n + 1 implies >= n): its fill value is never read",
    "sknotes._text.xǁ_Termsǁ__init____mutmut_147": "previous is read only at the "
    "starts written (remaining >= n + 1 implies >= n): its fill value is never read",
    "sknotes._text.xǁ_Termsǁtoken_hashes__mutmut_9": "MurmurHash3 < 2**32 < 3**32: "
    "the modulo leaves it unchanged",
    **{
        f"sknotes._optimizers.x_minimize_lbfgs__mutmut_{i}": "scipy >= 1.15 prints "
        "nothing for disp and raises no DeprecationWarning for it"
        for i in (8, 9, 10, 11, 13, 15)
    },
}

# Lines whose mutants the harness cannot judge: numba's own configuration (the
# loops run as Python under mutmut) and the choice between a compiled loop and
# its numpy twin, which compute the same values by design (tests/test_kernels.py
# checks both paths against each other).  Counted apart, as "not measurable".
NOT_MEASURABLE = (
    "sknotes._kernels.xǁ_Compiledǁ",
    "sknotes._kernels.x__compile__",
    "sknotes._bag_kernel.x__compiled__",
    "sknotes._dense_kernel.x__compiled__",
    # Built at import by the scratch conftest, before a mutant is chosen.
    "sknotes._encode.xǁ_Compiledǁ",
    "sknotes._encode.x__kernels__",
    # Called at import (the decorators' code objects), before a mutant is chosen.
    "sknotes._compat.x__wrapper_code__",
)
# (_text's compiled encoder, _encode, likewise: tests/test_encode.py compares it
# with _text's reference, ``arrays``/``self._flat`` None.)
NUMPY_TWIN = re.compile(
    r"^\s*(loops|contiguous|arrays|self\._flat) = None$"
    r"|^\s*if loops and (isinstance|g\.dtype)"
)


def equivalent_reason(name, diff):
    """Why a surviving mutant cannot change behaviour; None when it can."""
    if name.startswith(NOT_MEASURABLE):
        if name.startswith("sknotes._compat."):
            return "not measurable: run at import, before a mutant is chosen"
        return "not measurable: numba's configuration (the loops run as Python)"
    for prefix, reason in EQUIVALENT_NAMES.items():
        if name == prefix or name.startswith(prefix + "__mutmut_"):
            return reason
    lines = diff.splitlines()
    before = [x[1:] for x in lines if x.startswith("-") and not x.startswith("---")]
    after = [x[1:] for x in lines if x.startswith("+") and not x.startswith("+++")]
    if any(NUMPY_TWIN.search(line) for line in after):
        return "compiled loop or numpy twin: the same values (checked both ways)"
    before, after = " ".join(before).strip(), " ".join(after).strip()
    for rewrite, reason in EQUIVALENT_RULES:
        if _no_trailing_comma(rewrite(before)) == _no_trailing_comma(rewrite(after)):
            return reason
    return None


_SIGINT_FIXTURE = """

@pytest.fixture(autouse=True)
def _python_sigint_handler():
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
"""

# mutmut runs the unmutated tests in its own process, then reaps its workers with
# waitpid(-1): joblib's idle worker processes (GridSearchCV(n_jobs=2)), exiting
# minutes later, would be reaped there and end the run with a KeyError.
_NO_LEFTOVER_WORKERS = """

@pytest.fixture(autouse=True, scope="session")
def _no_leftover_worker_processes():
    yield
    from joblib.externals.loky import reusable_executor

    if reusable_executor._executor is not None:
        reusable_executor._executor.shutdown(wait=True)
"""

# mutmut's trampolines run between sknotes' frames, from mutmut's own file:
# warn_at_caller skips them as it skips scikit-learn's decorators, or the
# warnings' attribution tests fail before any mutant runs.
_TRAMPOLINES_SKIPPED = """

import types as _types

import mutmut.mutation.trampoline as _trampoline
import sknotes._compat as _compat_of_the_warnings


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, _types.CodeType):
            yield from _code_objects(const)


_compat_of_the_warnings._SKLEARN_WRAPPERS |= {
    code
    for value in vars(_trampoline).values()
    if isinstance(value, _types.FunctionType)
    for code in _code_objects(value.__code__)
}
"""

# numba cannot compile mutmut's trampolines: the kernels' loops run as Python.
_PYTHON_LOOPS = """

import types as _types

import sknotes._kernels as _kernels

_kernels._LOOPS = _kernels._Compiled(
    _types.SimpleNamespace(njit=lambda **options: lambda loop: loop)
)
"""
# Likewise the encoder's loops.
_PYTHON_ENCODER = """

import types as _types

import sknotes._encode as _encode

_encode._KERNELS = _encode._Compiled(
    _types.SimpleNamespace(njit=lambda **options: lambda loop: loop)
)
"""
# Likewise the compiled bag step (the _kernels loops it calls stay compiled).
_PYTHON_BAG_STEP = """

import sknotes._bag_kernel as _bag_kernel
import sknotes._kernels as _kernels_of_the_bag_step

if _kernels_of_the_bag_step._loops():
    _loops = _kernels_of_the_bag_step._LOOPS
    _bag_kernel._adam, _bag_kernel._add_scaled = _loops.adam, _loops.add_scaled
    _bag_kernel._softmax_cross_entropy_row = _loops.softmax_cross_entropy_row
    _bag_kernel._COMPILED = (_bag_kernel._bag_step_loop, _bag_kernel._touched_rows_loop)
"""
# Likewise the compiled dense step: its helpers (the bag step's and _kernels'
# loops) stay compiled, the step itself runs as Python.
_PYTHON_DENSE_STEP = """

import sknotes._dense_kernel as _dense_kernel

_column_sum_of_the_dense_step = _dense_kernel._column_sum
if _dense_kernel._compiled() is not None:
    _dense_kernel._column_sum = _column_sum_of_the_dense_step
    _dense_kernel._COMPILED = _dense_kernel._dense_step_loop
"""
CONFTEST_EXTRA = {
    "_dense_kernel": _PYTHON_DENSE_STEP,
    "_kernels": _PYTHON_LOOPS,
    "_encode": _PYTHON_ENCODER,
    "_bag_kernel": _PYTHON_BAG_STEP,
}


# Test runs that count as failed besides "killed" (see summarize).
KILLED_TOO = ("timeout", "segfault", "check was interrupted by user")


def _scratch_copy(module, tests):
    """The checkout's files (as they are on disk) and a mutmut configuration."""
    work = Path(tempfile.mkdtemp(prefix=f"sknotes-mutation-{module}-"))
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in files:
        if (ROOT / name).is_file() and name.startswith(("sknotes/", "tests/")):
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / name)
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    # mutmut's workers ignore SIGINT; the Ctrl-C tests need Python's handler.
    with open(work / "tests" / "conftest.py", "a") as f:
        f.write(
            _SIGINT_FIXTURE
            + _NO_LEFTOVER_WORKERS
            + _TRAMPOLINES_SKIPPED
            + CONFTEST_EXTRA.get(module, "")
        )
    config = {
        "source_paths": ["sknotes"],
        "only_mutate": [f"sknotes/{module}.py"],
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-x", "-q"],
        # mutmut ends a mutant's run (as a timeout, which counts as killed) after
        # (t + 1)·multiplier seconds of wall-clock time, t the clean run's time of
        # the tests it runs, measured on the same loaded machine.  The default 15
        # let a mutant that makes the linear start crawl (BFGS in place of
        # L-BFGS-B) run for 11 minutes.
        "timeout_multiplier": 5.0,
    }
    with open(work / "pyproject.toml", "a") as f:
        f.write("\n[tool.mutmut]\n")
        for key, value in config.items():
            f.write(f"{key} = {json.dumps(value)}\n")
    return work


def _mutmut(work, *args):
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=work, capture_output=True, text=True,
    )  # fmt: skip


def _results(work):
    out = _mutmut(work, "results", "--all", "true").stdout
    return dict(re.findall(r"^\s*(\S+__mutmut_\d+): (.+)$", out, flags=re.M))


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
path, names = sys.argv[1], sys.argv[2:]
print(json.dumps({name: get_diff_for_mutant(name, path=path) for name in names}))
"""


def _diffs(work, module, names):
    """The source diff of each mutant (one process: ``mutmut show`` is slow)."""
    if not names:
        return {}
    out = subprocess.run(
        [sys.executable, "-c", _DIFFS, f"sknotes/{module}.py", *names],
        cwd=work, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def run_module(module, sample, max_children, work=None, previous=None):
    """Mutate ``module``, run its tests against each mutant; ``work``: collect the
    results of an earlier run left in that scratch directory instead.

    ``previous``: the results of an earlier run of the same code; only its mutants
    not killed run again (after new tests), the others keep their result.
    """
    tests = MODULE_TESTS[module]
    keep = work is not None
    work = Path(work) if keep else _scratch_copy(module, tests)
    try:
        names = run = None
        if not keep:
            if sample or previous:
                # Generate the mutants only (no test runs), then run a sample.
                generation = _mutmut(
                    work, "run", "--max-children", "1", "__no_such_mutant__"
                )
                everything = sorted(_results(work))
                if not everything:
                    # Else an empty sample would run every mutant, then report none.
                    raise RuntimeError(
                        f"mutmut generated no mutant of {module} in {work}:\n"
                        + generation.stderr[-2000:]
                    )
            if previous:
                if not set(previous) <= set(everything):
                    raise RuntimeError(
                        f"{module} changed since its results file: run it again"
                    )
                names = [
                    name
                    for name, status in previous.items()
                    if status != "killed" and status not in KILLED_TOO
                ]
            elif sample:
                rng = random.Random(0)
                names = rng.sample(everything, min(sample, len(everything)))
            args = ["run", "--max-children", str(max_children)] + (names or [])
            run = _mutmut(work, *args)
            # mutmut redraws a progress line in place: keep the other lines.
            log = [
                line
                for line in re.split(r"[\r\n]+", run.stdout + run.stderr)
                if line.strip() and "/" not in line[:12]
            ]
            (RESULTS / f"{module}.log").write_text("\n".join(log) + "\n")
        results = _results(work)
        if names is not None:
            results = {name: results[name] for name in names}
        if previous:
            results = {**previous, **results}
        if not results:
            raise RuntimeError(f"mutmut ran no mutant in {work}")
        not_killed = [
            name
            for name, status in results.items()
            if status != "killed" and status not in KILLED_TOO
        ]
        details = _diffs(work, module, not_killed)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return tests, results, details


def summarize(module, results, excluded):
    counts = {"killed": 0, "survived": 0, "no tests": 0, "other": 0}
    equivalent = 0
    for name, status in results.items():
        if name in excluded:
            equivalent += 1
            continue
        # A test run that crashes (segfault) or hangs is a test run that fails;
        # so is one ended by a KeyboardInterrupt: only the Ctrl-C tests send one,
        # and it escapes only when the mutant broke the handler they test.
        status = "killed" if status in KILLED_TOO else status
        counts[status if status in counts else "other"] += 1
    total = sum(counts.values())
    killed = counts["killed"]
    return {
        "module": module,
        "mutants": len(results),
        "equivalent": equivalent,
        "killed": killed,
        "not_killed": total - killed,
        "rate": killed / total if total else float("nan"),
        **{k: v for k, v in counts.items() if k != "killed"},
    }


def _read_report(module):
    """``(date, tests, results, details)`` from a module's results file."""
    text = (RESULTS / f"{module}.txt").read_text()
    header, _, rest = text.partition("\n")
    date, tests = re.match(r"# (\S+), mutmut, tests: (.*)", header).groups()
    listing, _, blocks = rest.partition("\n## ")
    results = dict(
        re.match(r"(\S+): (.+?)(?: \(excluded: .*\))?$", line).groups()
        for line in listing.splitlines()
        if line.strip()
    )
    details = {}
    for block in ("## " + blocks).split("\n## ")[0 if blocks else 1 :]:
        head, _, diff = block.removeprefix("## ").partition("\n")
        details[head.rsplit(": ", 1)[0]] = diff.rstrip("\n") + "\n"
    return date, tests.split(), results, details


def report(module, date, sample, tests, results, details):
    """Write the module's results file and summary line; print the summary."""
    excluded = {
        name: reason
        for name, diff in details.items()
        if results[name] == "survived"
        and (reason := equivalent_reason(name, diff)) is not None
    }
    row = summarize(module, results, excluded)
    row.update(date=date, sample=sample, tests=tests)
    with open(RESULTS / f"{module}.txt", "w") as f:
        f.write(f"# {date}, mutmut, tests: {' '.join(tests)}\n")
        for name, status in sorted(results.items()):
            tag = f" (excluded: {excluded[name]})" if name in excluded else ""
            f.write(f"{name}: {status}{tag}\n")
        for name, diff in sorted(details.items()):
            f.write(f"\n## {name}: {results[name]}\n{diff}")
    summary = RESULTS / "summary.txt"
    rows = [
        line
        for line in (summary.read_text().splitlines() if summary.exists() else [])
        if json.loads(line)["module"] != module
    ]
    summary.write_text("\n".join([*rows, json.dumps(row)]) + "\n")
    print(
        f"{module:28s} {row['killed']:5d}/{row['killed'] + row['not_killed']:<5d}"
        f" killed ({row['rate']:.0%}); {row['survived']} survived, "
        f"{row['no tests']} not reached, {row['equivalent']} excluded",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=sorted(MODULE_TESTS))
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--from-dir", help="collect a finished run's scratch copy")
    parser.add_argument(
        "--rescore", action="store_true", help="re-apply the rules to saved results"
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="after new tests, run only the mutants the results file lists as not "
        "killed (the module's code unchanged); the others keep their result",
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for module in args.modules:
        previous = sample = None
        if args.rescore or args.survivors:
            date, tests, previous, details = _read_report(module)
            sample = _saved_sample(module)
        if args.rescore:
            report(module, date, sample, tests, previous, details)
            continue
        tests, results, details = run_module(
            module, args.sample, args.max_children, args.from_dir, previous
        )
        date = datetime.date.today().isoformat()
        report(module, date, sample or args.sample or "all", tests, results, details)


def _saved_sample(module):
    """The sample size (or "all") of the module's last summary line."""
    summary = RESULTS / "summary.txt"
    for line in summary.read_text().splitlines() if summary.exists() else []:
        row = json.loads(line)
        if row["module"] == module:
            return row["sample"]
    return "all"


if __name__ == "__main__":
    main()
