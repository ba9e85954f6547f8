"""predict from many threads at once on one fitted model equals serial calls."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from tests.reliability_cases import CASES, Y


@pytest.mark.parametrize(
    "make, data, method",
    [(*CASES[0], "predict"), (*CASES[1], "predict"), (*CASES[1], "transform")],
    ids=["mlp-predict", "bag-predict", "bag-transform"],
)
def test_many_threads_equal_serial_calls(make, data, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = make().fit(data, Y)
    call = getattr(est, method)
    # Different row subsets per call: shared buffers would mix rows between threads.
    rng = np.random.default_rng(0)
    subsets = [
        np.sort(rng.choice(len(Y), size=rng.integers(1, len(Y)), replace=False))
        for _ in range(200)
    ]

    def rows(idx):
        return data[idx] if isinstance(data, np.ndarray) else [data[i] for i in idx]

    serial = [call(rows(idx)) for idx in subsets]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda idx: call(rows(idx)), subsets))
    for a, b in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(a, b)


def test_token_attributions_from_many_threads():
    make, docs = CASES[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = make().fit(docs, Y)
    serial = [est.token_attributions(docs[i : i + 5]) for i in range(0, 80, 5)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(
            pool.map(lambda i: est.token_attributions(docs[i : i + 5]), range(0, 80, 5))
        )
    assert threaded == serial
