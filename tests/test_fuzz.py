"""A short seeded fuzz run: every malformed input is refused clearly or handled."""

from fuzz_harness import run


def test_no_unexpected_outcome():
    outcomes = run(800, seed=1)
    unexpected = {k: v for k, v in outcomes.items() if k.startswith("unexpected")}
    assert outcomes["ok"] > 20  # the generator also produces valid inputs
    assert unexpected == {}
