"""Elementwise passes of a training step, fused by numba when it is installed.

A stochastic step spends much of its time outside the GEMMs, in elementwise numpy
passes: Adam makes a dozen over every parameter, the L2 term two, ReLU's backward a
masked multiply; with numpy each operation is a call and a pass over memory.
With the optional ``numba`` dependency (the ``fast`` extra: ``pip install ".[fast]"``
from a checkout) each of these functions is one compiled loop; without it, the numpy
twin runs.  Both compute the same arithmetic in the same order, so float64 results
are identical bit for bit (float32 ones agree to rounding).

``SKNOTES_NUMBA=0`` in the environment keeps numpy even when numba is installed.
Kernels are compiled on first use and cached on disk.
"""

import os

import numpy as np

__all__ = [
    "adam_update",
    "add_decay",
    "add_row",
    "add_scaled",
    "outer",
    "relu",
    "relu_backward",
    "using_numba",
]

# None: not decided yet; False: numpy; otherwise the namespace of compiled loops.
_LOOPS = None


def _adam_loop(params, grad, m, v, beta_1, beta_2, one_minus_beta_1, one_minus_beta_2,
               neg_step, epsilon, decay, n_decayed):  # fmt: skip
    # Same operations in the same order as the numpy path below.  Two loops, not a
    # branch per element, so that each one vectorises.
    for i in range(n_decayed):
        grad[i] += params[i] * decay
    for i in range(params.shape[0]):
        g = grad[i]
        m_i = m[i] * beta_1 + g * one_minus_beta_1
        v_i = v[i] * beta_2 + (g * g) * one_minus_beta_2
        m[i] = m_i
        v[i] = v_i
        params[i] += (m_i / (np.sqrt(v_i) + epsilon)) * neg_step


def _add_scaled_loop(y, x, a):
    for i in range(y.shape[0]):
        y[i] += x[i] * a


def _relu_loop(X, out):
    # np.maximum(X, 0)'s answer for every input: X when X > 0 or NaN, else +0
    # (also for X = -0).
    for i in range(X.shape[0]):
        x = X[i]
        out[i] = x if x > 0 or x != x else 0.0


def _relu_inplace_loop(X):
    for i in range(X.shape[0]):
        x = X[i]
        X[i] = x if x > 0 or x != x else 0.0


def _relu_backward_loop(grad_Y, Y, out):
    # A multiply, not a branch: ReLU's mask is a coin flip for the predictor.
    for i in range(grad_Y.shape[0]):
        out[i] = grad_Y[i] * (Y[i] > 0)


def _relu_backward_inplace_loop(grad_Y, Y):
    # Without a separate output, the compiler needs no aliasing check and vectorises.
    for i in range(grad_Y.shape[0]):
        grad_Y[i] *= Y[i] > 0


def _add_row_loop(S, b):
    for i in range(S.shape[0]):
        for j in range(S.shape[1]):
            S[i, j] += b[j]


def _outer_loop(g, w, out):
    for i in range(g.shape[0]):
        for j in range(w.shape[0]):
            out[i, j] = g[i] * w[j]


class _Compiled:
    def __init__(self, numba, cache=True):
        self.cache = cache
        jit = numba.njit(cache=cache, nogil=True, error_model="numpy")
        self.adam = jit(_adam_loop)
        self.add_scaled = jit(_add_scaled_loop)
        self.relu = jit(_relu_loop)
        self.relu_inplace = jit(_relu_inplace_loop)
        self.relu_backward = jit(_relu_backward_loop)
        self.relu_backward_inplace = jit(_relu_backward_inplace_loop)
        self.add_row = jit(_add_row_loop)
        self.outer = jit(_outer_loop)


def _compile():
    """The compiled loops, or False when numba is missing or turned off."""
    if os.environ.get("SKNOTES_NUMBA", "1") == "0":
        return False
    try:
        import numba
    except ImportError:
        return False
    if numba.config.DISABLE_JIT:
        # NUMBA_DISABLE_JIT makes njit a no-op: the loops would run as Python.
        return False
    try:
        return _Compiled(numba)
    except RuntimeError:
        # No writable cache directory (read-only install and home): compile anew
        # in each process instead.
        return _Compiled(numba, cache=False)


def _loops():
    global _LOOPS
    if _LOOPS is None:
        _LOOPS = _compile()
    return _LOOPS


def using_numba():
    """Whether the compiled kernels are in use (numba installed and not disabled)."""
    return bool(_loops())


def adam_update(
    params, grad, m, v, beta_1, beta_2, step_size, epsilon, scratch=None,
    decay=0.0, n_decayed=0,
):  # fmt: skip
    """One Adam step on flat vectors, in place.

    First ``grad[:n_decayed] += decay·params[:n_decayed]`` (an L2 term's gradient,
    as PyTorch's ``weight_decay``), then ``m ← β₁m + (1−β₁)g``,
    ``v ← β₂v + (1−β₂)g²``, ``params ← params − step_size · m / (√v + ε)``.
    ``scratch`` (same shape, allocated when None) is used only by the numpy path.
    """
    t = params.dtype.type
    loops = _loops()
    if loops:
        loops.adam(
            params, grad, m, v, t(beta_1), t(beta_2), t(1.0 - beta_1),
            t(1.0 - beta_2), t(-step_size), t(epsilon), t(decay), n_decayed,
        )  # fmt: skip
        return
    if scratch is None:
        scratch = np.empty_like(params)
    add_decay(grad, params, decay, n_decayed, scratch)
    m *= t(beta_1)
    np.multiply(grad, t(1.0 - beta_1), out=scratch)
    m += scratch
    v *= t(beta_2)
    np.multiply(grad, grad, out=scratch)
    scratch *= t(1.0 - beta_2)
    v += scratch
    np.sqrt(v, out=scratch)
    scratch += t(epsilon)
    np.divide(m, scratch, out=scratch)
    scratch *= t(-step_size)
    params += scratch


def add_scaled(y, x, a, scratch=None):
    """``y += a·x`` in place (``scratch``, like ``x``, is used only by numpy)."""
    loops = _loops()
    if loops:
        loops.add_scaled(y, x, y.dtype.type(a))
        return
    y += np.multiply(x, y.dtype.type(a), out=scratch)


def add_decay(grad, params, decay, n_decayed, scratch=None):
    """An L2 term's gradient: ``grad[:n_decayed] += decay·params[:n_decayed]``."""
    if n_decayed:
        part = None if scratch is None else scratch[:n_decayed]
        add_scaled(grad[:n_decayed], params[:n_decayed], decay, part)


def relu(X, out=None):
    """``max(X, 0)`` (``np.maximum(X, 0)``), written to ``out`` (which may be ``X``)."""
    if out is None:
        out = np.empty_like(X)
    loops = _loops()
    if loops and X.flags.c_contiguous and out.flags.c_contiguous:
        if out is X:
            loops.relu_inplace(X.reshape(-1))
        else:
            loops.relu(X.reshape(-1), out.reshape(-1))
        return out
    return np.maximum(X, 0, out=out)


def relu_backward(grad_Y, Y, out=None):
    """``grad_Y · 1[Y > 0]``, written to ``out`` (which may be ``grad_Y``)."""
    if out is None:
        out = np.empty_like(grad_Y)
    loops = _loops()
    contiguous = (
        grad_Y.flags.c_contiguous and Y.flags.c_contiguous and out.flags.c_contiguous
    )
    if loops and contiguous:
        if out is grad_Y:
            loops.relu_backward_inplace(grad_Y.reshape(-1), Y.reshape(-1))
        else:
            loops.relu_backward(grad_Y.reshape(-1), Y.reshape(-1), out.reshape(-1))
        return out
    return np.multiply(grad_Y, Y > 0, out=out)


def add_row(S, b):
    """``S += b`` with ``b`` broadcast over the rows of the 2-D ``S``."""
    loops = _loops()
    if loops and isinstance(S, np.ndarray) and S.ndim == 2 and S.dtype == b.dtype:
        loops.add_row(S, b)
        return S
    S += b
    return S


def outer(g, w, out=None):
    """``out[i, j] = g[i]·w[j]``: the product of an n × 1 and a 1 × d matrix."""
    if out is None:
        out = np.empty((g.shape[0], w.shape[0]), np.result_type(g, w))
    loops = _loops()
    if loops and g.dtype == w.dtype == out.dtype:
        loops.outer(g, w, out)
        return out
    return np.multiply(g[:, None], w[None, :], out=out)
