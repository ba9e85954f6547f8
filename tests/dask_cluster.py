"""One local dask cluster of two worker processes, shared by the session's tests."""

import contextlib
import signal


@contextlib.contextmanager
def time_limit(seconds):
    """Fail instead of hanging if the cluster does not answer."""

    def expire(signum, frame):
        raise TimeoutError(f"the dask cluster took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def local_cluster():
    """The cluster, closed on exit: starting its processes costs seconds."""
    import distributed

    with time_limit(120):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    with cluster:
        yield cluster
