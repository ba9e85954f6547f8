"""Throw random malformed inputs at both estimators and count what happens.

Run:  python benchmarks/fuzz.py [--cases 10000] [--seed 0]

Every outcome must be finite predictions of the right shape or a ValueError /
TypeError naming the problem; the last line is the count of unexpected outcomes
(target 0).  The scenarios live in tests/fuzz_harness.py, which the default test
suite runs on a few hundred cases.
"""

import argparse
import sys
import time
from pathlib import Path

# The scenarios are the test suite's: import them as the package ``tests`` of
# this checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz_harness import run  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    outcomes = run(args.cases, seed=args.seed)
    seconds = time.perf_counter() - start
    for outcome, count in sorted(outcomes.items(), key=lambda kv: -kv[1]):
        print(f"{count:7d}  {outcome}")
    unexpected = sum(v for k, v in outcomes.items() if k.startswith("unexpected"))
    print(f"{args.cases} cases in {seconds:.0f} s; unexpected outcomes: {unexpected}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
