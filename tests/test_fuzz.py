"""A short seeded fuzz run (benchmarks/fuzz.py runs 10,000+): every malformed input
is refused with a clear ValueError/TypeError or handled, and a refused call on a
fitted model leaves its parameters unchanged."""

from tests.fuzz_harness import run


def test_no_unexpected_outcome():
    outcomes = run(500, seed=1)
    unexpected = {k: v for k, v in outcomes.items() if k.startswith("unexpected")}
    assert unexpected == {}
    # The generator reaches every path: training, follow-up calls, refusals.
    assert outcomes["ok"] > 30
    assert outcomes["refused after fit: ValueError"] > 10
    assert outcomes["refused: ValueError"] > 100 and outcomes["refused: TypeError"] > 10
