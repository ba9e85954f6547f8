"""A JSON result computed once per test session and shared by pytest-xdist's
processes, on any operating system (no ``fcntl``).

The first process to create ``<name>.lock`` (``O_CREAT | O_EXCL``: one process
succeeds) computes the result and moves it into place as ``<name>.json`` in one
step; the others wait for that file and read it.  The holder refreshes the
lock's time while it computes, so that the others can tell a holder that died
(its lock goes stale) from a slow one, and take over: as with ``flock``, a
process that fails or dies while computing does not leave the others waiting.
"""

import json
import os
import threading
import time

# The holder touches its lock every STALE_AFTER / 4 seconds.
STALE_AFTER = 60.0
POLL = 0.05


def share(root, name, compute, stale_after=STALE_AFTER):
    """``compute()``'s JSON result, computed by the first process that asks for
    ``name`` under the directory ``root`` and read by the others."""
    path, lock = root / f"{name}.json", root / f"{name}.lock"
    while not path.exists():
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            _remove_if_stale(lock, stale_after)
            time.sleep(POLL)
            continue
        done = threading.Event()
        heartbeat = threading.Thread(
            target=_touch_until, args=(lock, done, stale_after / 4), daemon=True
        )
        heartbeat.start()
        try:
            # Another process may have finished between our check and our lock.
            if not path.exists():
                partial = root / f"{name}.json.{os.getpid()}"
                partial.write_text(json.dumps(compute()))
                os.replace(partial, path)
        finally:
            done.set()
            heartbeat.join()
            os.close(fd)
            lock.unlink(missing_ok=True)
    return json.loads(path.read_text())


def _touch_until(lock, done, every):
    while not done.wait(every):
        os.utime(lock)


def _remove_if_stale(lock, stale_after):
    try:
        if time.time() - lock.stat().st_mtime > stale_after:
            # Its holder died: the lock is taken over, once (another waiter may
            # have removed it already).
            lock.unlink()
    except OSError:  # removed already, or (Windows) still open: not stale
        pass
