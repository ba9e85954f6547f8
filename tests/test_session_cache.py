"""tests/session_cache.py: conftest's ``once_per_session``, one computation per
session whatever the number of test processes, without ``fcntl``."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.session_cache import share

ROOT = Path(__file__).resolve().parents[1]

# A test process: asks for "result" and prints what it got.  Its computation
# logs a line to calls.txt and takes long enough for the others to arrive.
_ASKER = """
import json, os, sys, time
from pathlib import Path
from tests.session_cache import share

root = Path(sys.argv[1])

def compute():
    with open(root / "calls.txt", "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(0.5)
    return {"by": os.getpid()}

print(json.dumps(share(root, "result", compute)))
"""


def test_processes_compute_once_and_read_the_same_result(tmp_path):
    askers = [
        subprocess.Popen(
            [sys.executable, "-c", _ASKER, str(tmp_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [json.loads(asker.communicate(timeout=60)[0]) for asker in askers]
    calls = (tmp_path / "calls.txt").read_text().split()
    assert len(calls) == 1
    assert results == [{"by": int(calls[0])}] * 4
    assert not (tmp_path / "result.lock").exists()


def test_a_slow_holder_is_waited_for_not_taken_over(tmp_path):
    calls = []

    def compute():
        calls.append(threading.get_ident())
        time.sleep(1.0)  # several times stale_after: the heartbeat keeps it fresh
        return len(calls)

    results = []

    def ask():
        results.append(share(tmp_path, "slow", compute, stale_after=0.4))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(calls) == 1
    assert results == [1, 1, 1]


def test_a_failed_computation_leaves_it_to_the_next_asker(tmp_path):
    def fail():
        raise RuntimeError("no result")

    with pytest.raises(RuntimeError, match="no result"):
        share(tmp_path, "flaky", fail)
    assert not (tmp_path / "flaky.lock").exists()
    assert share(tmp_path, "flaky", lambda: [1, 2]) == [1, 2]


def test_the_lock_of_a_dead_holder_is_taken_over(tmp_path):
    lock = tmp_path / "orphan.lock"
    lock.touch()
    long_ago = time.time() - 120
    os.utime(lock, (long_ago, long_ago))
    assert share(tmp_path, "orphan", lambda: "recomputed", stale_after=60) == (
        "recomputed"
    )
    assert not lock.exists()


def test_a_live_holder_s_result_is_read_not_recomputed(tmp_path):
    lock = tmp_path / "held.lock"
    lock.touch()

    def holder_finishes():
        time.sleep(0.3)
        (tmp_path / "held.json").write_text(json.dumps({"from": "holder"}))
        lock.unlink()

    def compute():
        raise AssertionError("the waiter computed the holder's result")

    finisher = threading.Thread(target=holder_finishes)
    finisher.start()
    assert share(tmp_path, "held", compute, stale_after=60) == {"from": "holder"}
    finisher.join()
