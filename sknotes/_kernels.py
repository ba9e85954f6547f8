"""Elementwise passes of a training step, fused by numba when it is installed.

A stochastic step spends much of its time outside the GEMMs, in elementwise numpy
passes: Adam makes a dozen over every parameter, the L2 term two, ReLU's backward a
masked multiply, a classifier's loss a dozen over its logits; with numpy each
operation is a call and a pass over memory.  With the optional ``numba`` dependency
(the ``fast`` extra: ``pip install ".[fast]"`` from a checkout) each of these
functions is one compiled loop; without it, the numpy twin runs.  Both compute the
same arithmetic in the same order, so float64 results are identical bit for bit
(float32 ones agree to rounding); the one exception is ``exp`` in the
cross-entropy passes, the C library's here and numpy's own (SIMD) in the numpy
path, which may differ in the last bit.

``SKNOTES_NUMBA=0`` in the environment keeps numpy even when numba is installed.
Kernels are compiled on first use and cached on disk.
"""

import os

import numpy as np

__all__ = [
    "adam_constants",
    "adam_step",
    "adam_update",
    "mse_loss",
    "sigmoid_cross_entropy",
    "softmax_cross_entropy",
    "add_decay",
    "add_row",
    "add_row_relu",
    "add_scaled",
    "outer",
    "outer_relu_backward_column_sum",
    "relu",
    "relu_backward",
    "relu_backward_column_sum",
    "using_numba",
]

# None: not decided yet; False: numpy; otherwise the namespace of compiled loops.
_LOOPS = None


def _adam_loop(params, grad, m, v, beta_1, beta_2, one_minus_beta_1, one_minus_beta_2,
               neg_step, epsilon, decay, n_decayed):  # fmt: skip
    # Same operations in the same order as the numpy path below, in one pass over
    # memory: the decayed entries, then the others (two loops, not a branch per
    # element, so that each one vectorises).
    for i in range(n_decayed):
        g = grad[i] + params[i] * decay
        grad[i] = g
        m_i = m[i] * beta_1 + g * one_minus_beta_1
        v_i = v[i] * beta_2 + (g * g) * one_minus_beta_2
        m[i] = m_i
        v[i] = v_i
        params[i] += (m_i / (np.sqrt(v_i) + epsilon)) * neg_step
    for i in range(n_decayed, params.shape[0]):
        g = grad[i]
        m_i = m[i] * beta_1 + g * one_minus_beta_1
        v_i = v[i] * beta_2 + (g * g) * one_minus_beta_2
        m[i] = m_i
        v[i] = v_i
        params[i] += (m_i / (np.sqrt(v_i) + epsilon)) * neg_step


# _adam_loop, or its compiled twin once numba compiles the packed loop below.
_adam = _adam_loop

# Where adam_step's constants sit in its ``hyper`` vector.
_BETA_1, _BETA_2, _ONE_MINUS_BETA_1, _ONE_MINUS_BETA_2, _NEG_STEP, _EPSILON, _DECAY = (
    range(7)
)


def _adam_packed_loop(params, grad, m, v, hyper, n_decayed):
    # The constants in one array of the parameters' dtype: numba reads an array
    # argument much faster than seven numpy scalars.
    _adam(params, grad, m, v, hyper[0], hyper[1], hyper[2], hyper[3], hyper[4],
          hyper[5], hyper[6], n_decayed)  # fmt: skip


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


def _mse_loop(Y_hat, Y, scale, sample_weight, residual, grad, row_sq):
    # MSELoss's forward and backward in one pass: the same operations as its numpy
    # path (float64 squares; 2/n, then the row's weight), so the same bits.
    for i in range(Y_hat.shape[0]):
        total = 0.0
        for j in range(Y_hat.shape[1]):
            r = Y_hat[i, j] - Y[i, j]
            residual[i, j] = r
            total += np.float64(r) * np.float64(r)
            g = r * scale
            if sample_weight.shape[0]:
                g = g * sample_weight[i]
            grad[i, j] = g
        row_sq[i] = total


def _sigmoid_cross_entropy_loop(S, Y, scale, row_scale, sample_weight, zero, one,
                                P, grad_S):  # fmt: skip
    # Per entry softplus(s) − y·s and σ(s) = 1/(1 + e^{−s}) (scipy's expit: the same
    # C library exp), grad_S = (P − Y)·w/n; returns Σᵢ wᵢ·lossᵢ in float64.
    weighted = sample_weight.shape[0] > 0
    total = 0.0
    for i in range(S.shape[0]):
        factor = row_scale[i] if weighted else scale
        row = 0.0
        for j in range(S.shape[1]):
            s = S[i, j]
            y = Y[i, j]
            e = np.exp(-np.abs(s))
            row += np.float64(np.log1p(e) + max(s, zero) - y * s)
            if s < zero:
                e = np.exp(-s)
            # e = e^{−s} (the same bits as for s ≥ 0 above), as scipy's expit.
            p = one / (one + e)
            P[i, j] = p
            grad_S[i, j] = (p - y) * factor
        total += row * np.float64(sample_weight[i]) if weighted else row
    return total


def _softmax_cross_entropy_row_loop(S, i, Y, r, factor, zero, P, grad_S):
    # Row i of S against row r of Y, with m the max and Z = Σ e^{s−m}: returns
    # Σy·log Z − Σy·(s − m) (float64) and writes P = e^{s−m}/Z and
    # grad_S = (P·Σy − Y)·factor into row i.  S, P and grad_S may be one array
    # (the bag step's, in place): each entry is read before it is written.
    # Shared by _softmax_cross_entropy_loop and the compiled bag step
    # (sknotes._bag_kernel); rows are indexed, not sliced (a view per row costs
    # as much as the row's arithmetic).
    top = S[i, 0]
    for j in range(1, S.shape[1]):
        top = max(top, S[i, j])
    Z = zero
    y_sum = zero
    row = 0.0
    for j in range(S.shape[1]):
        shifted = S[i, j] - top
        row -= np.float64(Y[r, j]) * np.float64(shifted)
        P[i, j] = np.exp(shifted)
        Z += P[i, j]
        y_sum += Y[r, j]
    row += np.float64(y_sum) * np.log(np.float64(Z))
    for j in range(S.shape[1]):
        p = P[i, j] / Z
        P[i, j] = p
        grad_S[i, j] = (p * y_sum - Y[r, j]) * factor
    return row


# _softmax_cross_entropy_row_loop, or its compiled twin once numba compiles the
# loops that call it (read when they compile, as _adam).
_softmax_cross_entropy_row = _softmax_cross_entropy_row_loop


def _softmax_cross_entropy_loop(S, Y, scale, row_scale, sample_weight, zero, P,
                                grad_S):  # fmt: skip
    # Per row, _softmax_cross_entropy_row with factor w/n; returns Σᵢ wᵢ·lossᵢ in
    # float64.
    weighted = sample_weight.shape[0] > 0
    total = 0.0
    for i in range(S.shape[0]):
        factor = row_scale[i] if weighted else scale
        row = _softmax_cross_entropy_row(S, i, Y, i, factor, zero, P, grad_S)
        total += row * np.float64(sample_weight[i]) if weighted else row
    return total


def _add_row_relu_loop(S, b):
    # add_row then relu, in one pass: the same operations, so the same bits.
    for i in range(S.shape[0]):
        for j in range(S.shape[1]):
            x = S[i, j] + b[j]
            S[i, j] = x if x > 0 or x != x else 0.0


def _relu_backward_column_sum_loop(grad_Y, Y, grad_b):
    # relu_backward in place, and the column sums of its result added row after
    # row to 0 (np.add.reduce's order along axis 0 for two or more columns), in
    # the same pass over the rows (two inner loops: each vectorises, also in
    # float64, where one loop doing both does not).
    for j in range(grad_Y.shape[1]):
        grad_b[j] = 0.0
    for i in range(grad_Y.shape[0]):
        for j in range(grad_Y.shape[1]):
            grad_Y[i, j] *= Y[i, j] > 0
        for j in range(grad_Y.shape[1]):
            grad_b[j] += grad_Y[i, j]


def _outer_relu_backward_column_sum_loop(g, w, Y, out, grad_b):
    # outer, then relu_backward_column_sum on its result, in one pass: the same
    # operations in the same order.
    for j in range(out.shape[1]):
        grad_b[j] = 0.0
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (g[i] * w[j]) * (Y[i, j] > 0)
        for j in range(out.shape[1]):
            grad_b[j] += out[i, j]


class _Compiled:
    def __init__(self, numba, cache=True):
        self.cache = cache
        jit = numba.njit(cache=cache, nogil=True, error_model="numpy")
        self.adam = jit(_adam_loop)
        self.adam_packed = jit(_adam_packed_loop)
        self.add_scaled = jit(_add_scaled_loop)
        self.relu = jit(_relu_loop)
        self.relu_inplace = jit(_relu_inplace_loop)
        self.relu_backward = jit(_relu_backward_loop)
        self.relu_backward_inplace = jit(_relu_backward_inplace_loop)
        self.add_row = jit(_add_row_loop)
        self.outer = jit(_outer_loop)
        self.mse = jit(_mse_loop)
        self.sigmoid_cross_entropy = jit(_sigmoid_cross_entropy_loop)
        # Inlined into its callers (numba's IR), as if written there.
        self.softmax_cross_entropy_row = numba.njit(
            cache=cache, nogil=True, error_model="numpy", inline="always"
        )(_softmax_cross_entropy_row_loop)
        self.softmax_cross_entropy = jit(_softmax_cross_entropy_loop)
        self.add_row_relu = jit(_add_row_relu_loop)
        self.relu_backward_column_sum = jit(_relu_backward_column_sum_loop)
        self.outer_relu_backward_column_sum = jit(_outer_relu_backward_column_sum_loop)


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
    global _LOOPS, _adam, _softmax_cross_entropy_row
    if _LOOPS is None:
        _LOOPS = _compile()
        if _LOOPS:
            # Read when numba compiles the loops that call them (on their first
            # call).
            _adam = _LOOPS.adam
            _softmax_cross_entropy_row = _LOOPS.softmax_cross_entropy_row
    return _LOOPS


def using_numba():
    """Whether the compiled kernels are in use (numba installed and not disabled)."""
    return bool(_loops())


def adam_constants(beta_1, beta_2, epsilon, dtype):
    """The ``hyper`` vector of :func:`adam_step` (step size and decay still 0)."""
    hyper = np.zeros(7, dtype)
    hyper[_BETA_1], hyper[_BETA_2], hyper[_EPSILON] = beta_1, beta_2, epsilon
    hyper[_ONE_MINUS_BETA_1], hyper[_ONE_MINUS_BETA_2] = 1.0 - beta_1, 1.0 - beta_2
    return hyper


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
    hyper = adam_constants(beta_1, beta_2, epsilon, params.dtype)
    adam_step(params, grad, m, v, hyper, step_size, decay, n_decayed, scratch)


def adam_step(params, grad, m, v, hyper, step_size, decay, n_decayed, scratch=None):
    """:func:`adam_update` with the constants from :func:`adam_constants`.

    ``hyper`` (the parameters' dtype) receives ``−step_size`` and ``decay``.
    """
    hyper[_NEG_STEP], hyper[_DECAY] = -step_size, decay
    loops = _loops()
    if loops:
        loops.adam_packed(params, grad, m, v, hyper, n_decayed)
        return
    beta_1, beta_2, one_minus_beta_1, one_minus_beta_2, neg_step, epsilon, _ = hyper
    if scratch is None:
        scratch = np.empty_like(params)
    add_decay(grad, params, decay, n_decayed, scratch)
    m *= beta_1
    np.multiply(grad, one_minus_beta_1, out=scratch)
    m += scratch
    v *= beta_2
    np.multiply(grad, grad, out=scratch)
    scratch *= one_minus_beta_2
    v += scratch
    np.sqrt(v, out=scratch)
    scratch += epsilon
    np.divide(m, scratch, out=scratch)
    scratch *= neg_step
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


def add_row_relu(S, b):
    """``relu(add_row(S, b))`` in place: a linear node's bias and a ReLU, one pass.

    The 2-D ``S`` (an ndarray) becomes ``max(S + b, 0)`` with ``np.maximum``'s
    answer for every input; returns ``S``.
    """
    loops = _loops()
    if loops and S.dtype == b.dtype and S.flags.c_contiguous:
        loops.add_row_relu(S, b)
        return S
    return relu(add_row(S, b), out=S)


def relu_backward_column_sum(grad_Y, Y, grad_b):
    """``relu_backward`` in place and ``grad_b = sum(grad_Y·1[Y > 0], axis=0)``.

    The ReLU's backward and the next linear node's ``grad_b``, one pass. The sum
    adds the rows in order (``np.add.reduce`` along axis 0, which does so for two
    or more columns): callers with one column sum it themselves.
    """
    loops = _loops()
    if (
        loops
        and grad_Y.dtype == Y.dtype == grad_b.dtype
        and grad_Y.flags.c_contiguous
        and Y.flags.c_contiguous
    ):
        loops.relu_backward_column_sum(grad_Y, Y, grad_b)
        return grad_Y
    relu_backward(grad_Y, Y, out=grad_Y)
    np.add.reduce(grad_Y, axis=0, out=grad_b)
    return grad_Y


def outer_relu_backward_column_sum(g, w, Y, out, grad_b):
    """``outer(g, w, out)``, then :func:`relu_backward_column_sum` on ``out``.

    A one-unit linear node's ``grad_X = grad_S·Wᵀ`` times the ReLU mask before
    it, and the column sums, in one pass over ``out``; returns ``out``.
    """
    loops = _loops()
    if (
        loops
        and g.dtype == w.dtype == Y.dtype == out.dtype == grad_b.dtype
        and Y.flags.c_contiguous
        and out.flags.c_contiguous
    ):
        loops.outer_relu_backward_column_sum(g, w, Y, out, grad_b)
        return out
    return relu_backward_column_sum(outer(g, w, out=out), Y, grad_b)


def outer(g, w, out=None):
    """``out[i, j] = g[i]·w[j]``: the product of an n × 1 and a 1 × d matrix."""
    if out is None:
        out = np.empty((g.shape[0], w.shape[0]), np.result_type(g, w))
    loops = _loops()
    if loops and g.dtype == w.dtype == out.dtype:
        loops.outer(g, w, out)
        return out
    return np.multiply(g[:, None], w[None, :], out=out)


_NO_WEIGHTS = {}


def _fusable(*arrays):
    """Whether the compiled loss loops take these arrays: 2-D, C-ordered, one dtype."""
    dtype = arrays[0].dtype
    for a in arrays:
        if not (
            type(a) is np.ndarray
            and a.ndim == 2
            and a.dtype == dtype
            and a.flags.c_contiguous
        ):
            return False
    return True


def _weights(sample_weight, dtype):
    """``sample_weight``, or an empty vector standing for "no weights"."""
    if sample_weight is not None:
        return sample_weight
    empty = _NO_WEIGHTS.get(dtype)
    if empty is None:
        empty = _NO_WEIGHTS[dtype] = np.empty(0, dtype)
    return empty


def mse_loss(Y_hat, Y, sample_weight, n, residual, grad, row_sq):
    """MSELoss's pass: ``residual = Ŷ − Y``, ``grad = 2/n·residual·w`` and each row's
    ``‖ŷᵢ − yᵢ‖²`` (float64) into ``row_sq``, in one loop.

    Returns False when the compiled loops do not apply (numba off, several
    outputs, other dtypes or layouts): the caller runs its numpy path.
    """
    loops = _loops()
    if not (loops and Y_hat.shape[1] == 1 and _fusable(Y_hat, Y, residual, grad)):
        return False
    scale = Y_hat.dtype.type(2.0 / n if n else 0.0)
    loops.mse(Y_hat, Y, scale, _weights(sample_weight, Y_hat.dtype), residual, grad,
              row_sq)  # fmt: skip
    return True


def _scales(sample_weight, n, dtype):
    """``1/n`` and, with weights, ``wᵢ/n`` per row, in ``dtype``."""
    t = dtype.type
    if sample_weight is None:
        return t(1.0 / n), _weights(None, dtype)
    return t(0.0), (sample_weight / n).astype(dtype, copy=False)


def sigmoid_cross_entropy(S, Y, sample_weight, n, P, grad_S):
    """The fused sigmoid and binary cross-entropy, one pass over the logits ``S``.

    Writes ``P = σ(S)`` and ``grad_S = (P − Y)·w/n``; returns ``Σᵢ wᵢ·lossᵢ``
    (float64, ``lossᵢ = Σₖ softplus(s) − y·s``), or None when the compiled loops do
    not apply (numba off, ``n`` = 0, other dtypes or layouts).
    """
    loops = _loops()
    if not (loops and n and _fusable(S, Y, P, grad_S)):
        return None
    scale, row_scale = _scales(sample_weight, n, S.dtype)
    t = S.dtype.type
    return loops.sigmoid_cross_entropy(
        S, Y, scale, row_scale, _weights(sample_weight, S.dtype), t(0.0), t(1.0),
        P, grad_S,
    )  # fmt: skip


def softmax_cross_entropy(S, Y, sample_weight, n, P, grad_S):
    """The fused softmax and cross-entropy, one pass over the logits ``S``.

    Writes ``P = softmax(S)`` and ``grad_S = (P·Σₖyₖ − Y)·w/n``; returns
    ``Σᵢ wᵢ·lossᵢ`` (float64, ``lossᵢ = Σy·log Z − Σy·(s − m)``), or None as
    :func:`sigmoid_cross_entropy`.
    """
    loops = _loops()
    if not (loops and n and _fusable(S, Y, P, grad_S)):
        return None
    scale, row_scale = _scales(sample_weight, n, S.dtype)
    return loops.softmax_cross_entropy(
        S, Y, scale, row_scale, _weights(sample_weight, S.dtype), S.dtype.type(0.0),
        P, grad_S,
    )  # fmt: skip
