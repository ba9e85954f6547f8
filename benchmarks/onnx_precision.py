"""Precision of the ONNX export over every case of tests/test_onnx.py.

Runs the test module in this process and records, for each comparison it makes,
the largest relative difference between onnxruntime's output and ``predict``
(regressors) or ``predict_proba`` (classifiers, whose labels the tests require
equal). Prints the largest and the median per kind and dtype, and saves them to
``benchmarks/results/onnx_precision.json``. These numbers back the README's
"ONNX export" section.

Run from the repository root: ``PYTHONPATH=. python benchmarks/onnx_precision.py``.
"""

import json
import platform
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "onnx_precision.json"


def main():
    import onnxruntime
    import skl2onnx

    from tests import test_onnx

    records = []

    def relative(got, expected):
        got = np.asarray(got, dtype=np.float64).reshape(np.shape(expected))
        expected = np.asarray(expected, dtype=np.float64)
        return float(np.max(np.abs(got - expected) / np.abs(expected)))

    def recorded(original, kind, expected_of, output):
        def wrapper(onx, X_onnx, model, X, dtype):
            got = test_onnx.run_all(onx, X_onnx)[output]
            records.append(
                {
                    "kind": kind,
                    "dtype": np.dtype(dtype).name,
                    "max_relative": relative(got, expected_of(model, X)),
                }
            )
            return original(onx, X_onnx, model, X, dtype)

        return wrapper

    test_onnx.assert_same = recorded(
        test_onnx.assert_same, "regressor", lambda m, X: m.predict(X), 0
    )
    test_onnx.assert_same_classes = recorded(
        test_onnx.assert_same_classes,
        "classifier",
        lambda m, X: m.predict_proba(X),
        1,
    )
    status = pytest.main(
        [str(ROOT / "tests" / "test_onnx.py"), "-q", "-p", "no:cacheprovider"]
    )
    if status != 0:
        sys.exit(f"tests/test_onnx.py failed (exit status {status}): nothing saved.")
    summary = {}
    for kind in ("regressor", "classifier"):
        for dtype in ("float64", "float32"):
            values = [
                r["max_relative"]
                for r in records
                if r["kind"] == kind and r["dtype"] == dtype
            ]
            summary[f"{kind} {dtype}"] = {
                "comparisons": len(values),
                "largest": max(values),
                "median": float(np.median(values)),
            }
    print(f"\n{'':22s} {'comparisons':>11s} {'largest':>9s} {'median':>9s}")
    for name, row in summary.items():
        print(
            f"{name:22s} {row['comparisons']:11d} {row['largest']:9.1e} "
            f"{row['median']:9.1e}"
        )
    RESULTS.write_text(
        json.dumps(
            {
                "what": "max relative |onnxruntime - predict(_proba)| per comparison",
                "versions": {
                    "python": platform.python_version(),
                    "numpy": np.__version__,
                    "skl2onnx": skl2onnx.__version__,
                    "onnxruntime": onnxruntime.__version__,
                },
                "summary": summary,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"saved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
