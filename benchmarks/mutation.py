"""Mutation testing of sknotes/, one module at a time, against that module's tests.

    PYTHONPATH=. python benchmarks/mutation.py                 # every module
    PYTHONPATH=. python benchmarks/mutation.py _training nodes # some modules
    PYTHONPATH=. python benchmarks/mutation.py --sample 300 _embedding_bag

Each module is mutated by mutmut (``pip install ".[mutation]"``) in a scratch copy
of the checkout, and each mutant runs only the tests of the module's own test
files (``MODULE_TESTS``; mutmut further narrows them to the tests that call the
mutated function).  The whole suite per mutant would take hours on two cores.
``--sample N`` runs N mutants drawn at random (seed 0) instead of all of them.

The results, one line per mutant, go to ``benchmarks/results/mutation/``; the
summary (killed / survived / not reached, per module) is printed and appended to
``benchmarks/results/mutation/summary.txt``.  Mutants listed in ``EQUIVALENT``
cannot change behaviour; they are counted apart, not as survivors.
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
    "_base": ["tests/test_mlp.py", "tests/test_atomicity.py"],
    "_callbacks": ["tests/test_callbacks.py"],
    "_compat": ["tests/test_compat.py"],
    "_demo": ["tests/test_demo.py"],
    "_embedding_bag": ["tests/test_embedding_bag.py"],
    "_embedding_bag_classifier": ["tests/test_embedding_bag_classifier.py"],
    "_kernels": ["tests/test_kernels.py"],
    "_mlp": ["tests/test_mlp.py", "tests/test_mlp_classifier.py"],
    "_network": ["tests/test_network.py"],
    "_optimizers": ["tests/test_optimizers.py"],
    "_text": ["tests/test_text.py"],
    "_training": ["tests/test_training.py", "tests/test_atomicity.py"],
    "display": ["tests/test_display.py"],
    "gradcheck": ["tests/test_gradcheck.py"],
    "nodes": ["tests/test_nodes.py", "tests/test_classification_nodes.py"],
    "onnx": ["tests/test_onnx.py"],
}

# Mutants that cannot change what the module computes, by mutmut's name, with why.
# Filled from reading each survivor (see the README's "Mutation testing").
EQUIVALENT = {}


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
    config = {
        "source_paths": ["sknotes"],
        "only_mutate": [f"sknotes/{module}.py"],
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-x", "-q"],
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


def run_module(module, sample, max_children):
    tests = MODULE_TESTS[module]
    work = _scratch_copy(module, tests)
    try:
        names = None
        if sample:
            # Generate the mutants only (no test run), then run a random sample.
            _mutmut(work, "run", "--max-children", "1", "__no_such_mutant__")
            everything = sorted(_results(work))
            names = random.Random(0).sample(everything, min(sample, len(everything)))
        args = ["run", "--max-children", str(max_children)] + (names or [])
        run = _mutmut(work, *args)
        results = _results(work)
        if names is not None:
            results = {name: results[name] for name in names}
        if not results:
            raise RuntimeError(f"mutmut ran no mutant:\n{run.stdout}\n{run.stderr}")
        details = {}
        for name, status in results.items():
            if status != "killed":
                details[name] = _mutmut(work, "show", name).stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tests, results, details


def summarize(module, results):
    counts = {"killed": 0, "survived": 0, "no tests": 0, "timeout": 0, "other": 0}
    equivalent = 0
    for name, status in results.items():
        if name in EQUIVALENT:
            equivalent += 1
            continue
        key = status if status in counts else "other"
        counts[key] += 1
    total = sum(counts.values())
    killed = counts["killed"] + counts["timeout"]
    return {
        "module": module,
        "mutants": len(results),
        "equivalent": equivalent,
        "killed": killed,
        "not_killed": total - killed,
        "rate": killed / total if total else float("nan"),
        **{k: v for k, v in counts.items() if k not in ("killed", "timeout")},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=sorted(MODULE_TESTS))
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--max-children", type=int, default=2)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    date = datetime.date.today().isoformat()
    for module in args.modules:
        tests, results, details = run_module(module, args.sample, args.max_children)
        row = summarize(module, results)
        row.update(date=date, sample=args.sample or "all", tests=tests)
        with open(RESULTS / f"{module}.txt", "w") as f:
            f.write(f"# {date}, mutmut, tests: {' '.join(tests)}\n")
            for name, status in sorted(results.items()):
                tag = " (equivalent)" if name in EQUIVALENT else ""
                f.write(f"{name}: {status}{tag}\n")
            for name, diff in sorted(details.items()):
                f.write(f"\n## {name}: {results[name]}\n{diff}")
        with open(RESULTS / "summary.txt", "a") as f:
            f.write(json.dumps(row) + "\n")
        print(
            f"{module:28s} {row['killed']:5d}/{row['killed'] + row['not_killed']:<5d}"
            f" killed ({row['rate']:.0%}); {row['survived']} survived, "
            f"{row['no tests']} not reached, {row['equivalent']} equivalent",
            flush=True,
        )


if __name__ == "__main__":
    main()
