import os
import warnings

# scikit-learn's check_array_api_input runs only when scipy was imported with its
# array API support on; set it before anything imports scipy, so that every estimator
# check runs instead of six being skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
# One BLAS and one OpenMP thread per test process (pytest-xdist runs a process per
# core). The suite's matrix products are tiny: a second OpenBLAS thread mostly
# waits on the first, and a small lbfgs fit spent several times the CPU time of one
# thread, far more on a shared machine. Subprocesses inherit the variables; tests
# of threading set their own limits; set the variables to run with more.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
from sklearn.datasets import make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

# For the libraries loaded before this file (numpy's and scipy's OpenBLAS).
threadpool_limits(int(os.environ["OPENBLAS_NUM_THREADS"]), user_api="blas")
threadpool_limits(int(os.environ["OMP_NUM_THREADS"]), user_api="openmp")


@pytest.fixture
def quiet_convergence():
    """Short fits stop at max_iter on purpose: hide their ConvergenceWarning.

    ``pytest.warns`` inside a test still sees every warning.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture
def strict():
    """Any floating-point overflow/invalid operation or warning is an error."""
    import numpy as np

    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(autouse=True)
def sigint_is_keyboard_interrupt():
    """Run each test with Python's own SIGINT handler.

    A shell starts background jobs with SIGINT ignored; the Ctrl-C tests press it
    and expect the handler an interactive session has.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def data():
    """A small standardised regression problem (120 × 6, unit-variance target)."""
    X, y = make_regression(n_samples=120, n_features=6, noise=0.5, random_state=0)
    return StandardScaler().fit_transform(X), y / y.std()


# -- shared processes ------------------------------------------------------------------
# Under pytest-xdist (--dist loadgroup, set in pyproject), the tests of one
# xdist_group run in one test process:
# - "loky": the tests with n_jobs=2 share joblib's pool of two worker processes
#   (joblib keeps it between calls) instead of each test process starting its own;
# - "dask": the tests on a dask cluster share `dask_cluster`;
# - "hash_seeds": the tests that compare with other hash seeds share
#   `other_hash_seeds`;
# - "sklearn_test_mlp": scikit-learn's own MLP tests, run in one subprocess.
# A group goes to one process as a whole; the groups run in the middle of the
# session (see `pytest_collection_modifyitems` and `pytest_configure`).
# `once_per_session` also shares the subprocesses' results when the tests of a group
# do run in several processes.


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Under --dist loadgroup, name each test's group in its node id, and move the
    groups' tests to the middle of the session.

    xdist (up to 3.8 at least) appends ``@group`` to ``item._nodeid``, which pytest
    9.2 no longer reads (its node id is ``item._id``): without the first step the
    groups are silently ignored and each test is scheduled alone.  In the middle,
    the groups' process pools and subprocesses start once the first half has filled
    numba's cache (on a fresh clone they would compile every kernel again), and the
    other process has the second half to run meanwhile instead of waiting idle at
    the end for the last group.
    """
    if not (os.environ.get("PYTEST_XDIST_WORKER") and config.getvalue("loadgroup")):
        return
    for item in items:
        grouped = getattr(item, "_nodeid", None)
        if grouped and grouped != item.nodeid and hasattr(item, "_id"):
            item._id = type(item._id).parse(grouped)
    in_groups = [item for item in items if item.get_closest_marker("xdist_group")]
    alone = [item for item in items if not item.get_closest_marker("xdist_group")]
    middle = len(alone) // 2
    items[:] = alone[:middle] + in_groups + alone[middle:]


@pytest.fixture(scope="session", autouse=True)
def compile_each_kernel_once(tmp_path_factory):
    """Under pytest-xdist, one test process compiles a numba function at a time.

    With an empty numba cache (a fresh clone) the test processes would each compile
    the same kernels at the same time; instead the others wait, then load the first
    one's result from the on-disk cache. The results are the same either way.
    """
    try:
        import fcntl  # not on Windows: there each process compiles its own

        from numba.core.compiler_lock import global_compiler_lock
        from numba.core.dispatcher import Dispatcher
    except ImportError:
        Dispatcher = None
    if Dispatcher is None or not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    import hashlib

    locks = tmp_path_factory.getbasetemp().parent / "numba-compile-locks"
    locks.mkdir(exist_ok=True)
    original = Dispatcher.compile
    held = set()  # a function calling itself compiles inside its own compile

    def compile(self, sig):
        function = self.py_func
        key = f"{function.__module__}.{function.__qualname__}"
        if type(self._cache).__name__ == "NullCache" or key in held:
            return original(self, sig)
        path = locks / hashlib.sha1(key.encode()).hexdigest()
        # numba's lock first: the threads of one process take the two in one order.
        with global_compiler_lock, open(path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            held.add(key)
            try:
                return original(self, sig)
            finally:
                held.discard(key)

    Dispatcher.compile = compile
    yield
    Dispatcher.compile = original


@pytest.fixture(scope="session")
def once_per_session(tmp_path_factory):
    """``share(name, compute)``: ``compute()``'s JSON result, computed by the first
    test process that asks and read by the others (pytest-xdist's processes share
    the parent of their temporary directories; see tests/session_cache.py)."""
    from functools import partial

    from tests.session_cache import share

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    return partial(share, root)


@pytest.fixture(scope="session")
def dask_cluster():
    """A local dask cluster of two worker processes, started once per session.

    Its tests are marked ``xdist_group("dask")``: one process runs them all.
    """
    pytest.importorskip("distributed")
    from tests.dask_cluster import local_cluster

    with local_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def other_hash_seeds(once_per_session):
    """``tests.hash_seeds.in_other_processes()``, once per session."""
    from tests.hash_seeds import in_other_processes

    return once_per_session("other_hash_seeds", in_other_processes)


# -- scikit-learn versions -------------------------------------------------------------
# pyproject allows scikit-learn >= 1.6 and CI also runs the suite on 1.6: a test that
# needs a newer scikit-learn says which, and why, with
# ``@pytest.mark.requires_sklearn("1.9", reason="...")``.


def pytest_configure(config):
    # xdist >= 3.7 would send the largest groups first: their process pools and
    # subprocesses would then start while numba's cache is still empty (a fresh clone)
    # and each compile every kernel again. Keep the order of the collection instead.
    if getattr(config.option, "loadscopereorder", False):
        config.option.loadscopereorder = False
    config.addinivalue_line(
        "markers",
        "requires_sklearn(version, reason): skip on an older scikit-learn",
    )


def pytest_runtest_setup(item):
    from packaging.version import Version
    from sklearn import __version__

    installed = Version(Version(__version__).base_version)
    for mark in item.iter_markers("requires_sklearn"):
        (version,) = mark.args
        if installed < Version(version):
            pytest.skip(
                f"needs scikit-learn >= {version} ({mark.kwargs['reason']}); "
                f"this is {__version__}"
            )
