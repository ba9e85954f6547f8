"""What must not depend on Python's str hash, computed in processes with other seeds.

Token buckets, the vocabulary's order among tied counts and the fitted parameters
must be the same whatever ``PYTHONHASHSEED`` is.  One subprocess per seed computes
all of them (``python -m tests.hash_seeds`` prints them as JSON), once per test
session: starting Python and importing sknotes is most of a subprocess's cost.
"""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKENS = ["good", "food", "émoji🙂", 7, "7", -(2**80)]
# 0 turns str hash randomisation off; the others are two randomised hashes.
SEEDS = ("0", "1", "4242")


def stable_hash_and_vocabulary():
    """The buckets of ``TOKENS`` and a vocabulary's order among tied counts."""
    from sknotes._text import Vocabulary, stable_hash

    vocabulary = Vocabulary(max_vocabulary=4).fit([list("zyxwvzyx"), list("abcz")])
    return [stable_hash(TOKENS, 1000).tolist(), list(vocabulary.tokens)]


def fingerprints():
    """The fitted parameters' fingerprints: an MLP, a vocabulary bag, a hashed bag."""
    from tests.reliability_cases import DOCS, X, Y, fingerprint, make_bag, make_mlp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [
            fingerprint(make_mlp().fit(X, Y)),
            fingerprint(make_bag().fit(DOCS, Y)),
            fingerprint(make_bag(n_buckets=64).fit(DOCS, Y)),
        ]


def in_other_processes():
    """The outputs of one process per seed: ``{seed: {name: value}}``."""
    outputs = {}
    for seed in SEEDS:
        result = subprocess.run(
            [sys.executable, "-m", "tests.hash_seeds"],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
        outputs[seed] = json.loads(result.stdout)
    return outputs


if __name__ == "__main__":
    print(
        json.dumps(
            {
                "hash_and_vocabulary": stable_hash_and_vocabulary(),
                "fingerprints": fingerprints(),
            }
        )
    )
