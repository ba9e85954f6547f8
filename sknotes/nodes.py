"""The notes as code: each node is one block of :ref:`the-notes` (docs/the_notes.rst).

One contract for every node: ``forward`` caches what ``backward`` needs;
``backward(grad_out)`` stores the gradients of the node's parameters on the node
(``grad_W``, ``grad_b``, ``grad_table``) and returns the gradient of its input (None
when the input is data; a tuple for a node with several inputs).  ``backward`` never
changes its cache, so calling it twice gives the same answer.  Nodes know nothing
about estimators, optimizers or training; the network chains them.

Names follow the notes: a linear node maps ``X`` to ``S`` and returns ``grad_X`` from
``grad_S``; an activation maps ``X`` to ``Y = Δ(X)``; the embedding node maps a one-hot
(or bag) matrix ``Π`` to ``R = Π·Table`` and stores ``grad_table``.  Speed tricks
(a BLAS column sum, the outer-product case of ``grad_S·Wᵀ``, the touched rows of
``Π``) live in the named helpers above the nodes, so each ``backward`` reads as
the notes' lines.

Every ``out=`` argument lets the network hand a node a preallocated buffer: the
math is the same, only the memory is reused.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, xlogy

from sknotes._kernels import (
    add_decay,
    add_row,
    mse_loss,
    outer,
    relu,
    relu_backward,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
)

__all__ = [
    "ACTIVATIONS",
    "Add",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "Embedding",
    "Exp",
    "Identity",
    "L2Penalty",
    "RowL2Penalty",
    "Linear",
    "MSELoss",
    "PoissonLoss",
    "ReLU",
    "Sigmoid",
    "SigmoidBinaryCrossEntropy",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Tanh",
    "log_sigmoid",
    "log_softmax",
    "softmax",
]


def _matmul(A, B, out=None):
    """``A @ B`` for dense or scipy.sparse ``A``, always a dense ndarray."""
    if isinstance(A, np.ndarray):
        # The common case first: scipy's issparse is an abstract-class check.
        return np.matmul(A, B, out=out)
    if sp.issparse(A):
        result = np.asarray(A @ B)
        if out is None:
            return result
        out[...] = result
        return out
    return np.matmul(A, B, out=out)


_ONES = {}


def _column_sum(G, out=None):
    """``sum(G, axis=0)`` as a BLAS product with a shared vector of ones.

    A third of ``np.sum``'s time on the tall, narrow gradients of a batch.
    """
    n = G.shape[0]
    ones = _ONES.get(G.dtype)
    if ones is None or ones.shape[0] < n:
        ones = np.ones(max(n, 256), G.dtype)
        ones.flags.writeable = False
        _ONES[G.dtype] = ones
    return np.matmul(ones[:n], G, out=out)


def _times_transpose(G, W, out=None):
    """``G·Wᵀ``; with one column of ``G``, an outer product: broadcast, not GEMM."""
    if G.shape[1] == 1:
        return outer(G[:, 0], W[:, 0], out=out)
    return np.matmul(G, W.T, out=out)


class Linear:
    """Linear node ``S = X·W + b`` (the notes' :ref:`notes-brief-summary`, ② and ③).

    Parameters
    ----------
    W : ndarray of shape (d, c)
        Weights; the node reads and never reallocates them, so ``W`` may be a view
        into a flat parameter vector.
    b : ndarray of shape (c,)
        Bias, broadcast over the n rows as the notes' column of ``b``.
    grad_W, grad_b : ndarray, default=None
        Where ``backward`` writes the gradients (views into a flat gradient vector
        in a network); allocated by the first ``backward`` when not given.
    input_is_data : bool, default=False
        ``X`` is data (the first layer of a network): ``backward`` returns None
        instead of computing ``grad_X``.
    """

    def __init__(self, W, b, grad_W=None, grad_b=None, input_is_data=False):
        self.W = W
        self.b = b
        self.grad_W = grad_W
        self.grad_b = grad_b
        self.input_is_data = input_is_data

    def forward(self, X, out=None):
        """Return ``S = X·W + b`` (X dense or scipy.sparse, n × d); caches ``X``."""
        self.X = X
        S = _matmul(X, self.W, out=out)
        return add_row(S, self.b)

    def backward(self, grad_S, out=None):
        """Apply the "Brief Summary" of the linear node.

        Stores ``grad_W = Xᵀ·grad_S`` and ``grad_b = sum(grad_S, axis=0)``; returns
        ``grad_X = grad_S·Wᵀ`` (None when ``X`` is data).
        """
        if self.grad_W is None:
            self.grad_W = np.empty_like(self.W)
            self.grad_b = np.empty_like(self.b)
        _matmul(self.X.T, grad_S, out=self.grad_W)
        _column_sum(grad_S, out=self.grad_b)
        if self.input_is_data:
            return None
        return _times_transpose(grad_S, self.W, out=out)


class Identity:
    """Identity activation ``Y = X``; ``grad_X = grad_Y``."""

    def forward(self, X, out=None):
        if out is not None and out is not X:
            out[...] = X
            return out
        return X

    def backward(self, grad_Y, out=None):
        return grad_Y


class Sigmoid:
    """Sigmoid activation node (:ref:`notes-activations`): ``Δ(x) = 1/(1+e^{-x})``.

    ``backward`` is ``grad_X = grad_Y · Δ(1 − Δ)``, written with the cached output Y.
    ``scipy.special.expit`` saturates to 0 or 1 without overflow for any input.
    """

    def forward(self, X, out=None):
        self.Y = expit(X, out=out)
        return self.Y

    def backward(self, grad_Y, out=None):
        Y = self.Y
        grad_X = np.multiply(grad_Y, Y, out=out)
        grad_X *= 1.0 - Y
        return grad_X


class Tanh:
    """Tanh activation node (:ref:`notes-activations`).

    ``backward`` is ``grad_X = grad_Y · (1 − tanh²(x))``, with ``tanh(x)`` the cached Y.
    """

    def forward(self, X, out=None):
        self.Y = np.tanh(X, out=out)
        return self.Y

    def backward(self, grad_Y, out=None):
        Y = self.Y
        one_minus_tanh2 = np.multiply(Y, Y)
        np.subtract(1.0, one_minus_tanh2, out=one_minus_tanh2)
        return np.multiply(grad_Y, one_minus_tanh2, out=out)


class ReLU:
    """ReLU activation ``Y = max(X, 0)``; ``grad_X = grad_Y · 1[Y > 0]``.

    Not in the notes' activation table (:ref:`notes-beyond`); it follows the same
    pattern (derivative written with the forward output), as scikit-learn's MLP does.
    """

    def forward(self, X, out=None):
        self.Y = relu(X, out=out)
        return self.Y

    def backward(self, grad_Y, out=None):
        return relu_backward(grad_Y, self.Y, out=out)


class Exp:
    """Exponential output ``Y = e^X`` (the log link of the Poisson loss).

    ``grad_X = grad_Y · Y``.  Inputs are clipped where ``e^X`` would overflow the
    dtype, so a diverging model yields a large finite value instead of ``inf``.
    """

    def forward(self, X, out=None):
        upper = np.log(np.finfo(X.dtype).max) - 1.0
        self.Y = np.minimum(X, upper, out=out)
        np.exp(self.Y, out=self.Y)
        return self.Y

    def backward(self, grad_Y, out=None):
        return np.multiply(grad_Y, self.Y, out=out)


ACTIVATIONS = {
    "identity": Identity,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "exp": Exp,
}


class Add:
    """Add node ``Z = X + Y + b`` (:ref:`notes-add`).

    ``grad_X = grad_Y = grad_Z`` and ``grad_b = sum(grad_Z, axis=0)``.
    """

    def __init__(self, b=None):
        self.b = b
        self.grad_b = None if b is None else np.zeros_like(b)

    def forward(self, X, Y):
        Z = X + Y
        if self.b is not None:
            Z += self.b
        return Z

    def backward(self, grad_Z):
        """Store ``grad_b``; return both inputs' gradients, ``(grad_X, grad_Y)``."""
        if self.b is not None:
            _column_sum(grad_Z, out=self.grad_b)
        return grad_Z, grad_Z


class _TouchedRows:
    """The sorted distinct columns of a CSR matrix, and ``Π`` restricted to them.

    Reused per-column maps (touched flag, compact position) instead of
    ``np.unique``, whose sorting dominated a batch's backward pass.
    """

    def __init__(self, n_columns):
        self.touched = np.zeros(n_columns, dtype=bool)
        self.position = np.empty(n_columns, dtype=np.intp)

    def compact(self, Pi):
        """Return ``(rows, Π[:, rows])``: the columns where ``Π`` has entries."""
        self.touched[Pi.indices] = True
        rows = np.flatnonzero(self.touched)
        self.touched[rows] = False
        self.position[rows] = np.arange(rows.size)
        Pi_rows = sp.csr_array(
            (Pi.data, self.position[Pi.indices], Pi.indptr),
            shape=(Pi.shape[0], rows.size),
        )
        return rows, Pi_rows


class Embedding:
    """Embedding node ``R = Π·Table`` (:ref:`notes-embedding`).

    ``Π`` is a scipy.sparse one-hot matrix (one row per token position, the notes'
    ``nc × w``) or a bag matrix (one row per document, whose row sums the one-hot
    rows of its tokens: sum or mean pooling).  With ``positions=c`` the output is
    reshaped from ``(n·c) × d`` to the notes' ``X_new`` of shape ``n × (c·d)``.

    ``backward`` stores ``grad_table = Πᵀ·grad_R`` in its row-sparse form,
    ``grad_table_rows = (rows, grad_table[rows])``: only the rows of the tokens in
    ``Π`` are non-zero, so no other row is ever formed.  ``grad_table`` is the dense
    ``w × d`` matrix, built on request.

    Parameters
    ----------
    table : ndarray of shape (w, d)
        The embedding table, read in place (never copied).
    positions : int, default=None
        ``c``, the number of token positions per document, for the reshape.
    input_is_data : bool, default=True
        ``Π`` is data, so ``backward`` returns None; with False it returns
        ``grad_Π`` at the non-zeros of ``Π`` (token attributions).
    """

    def __init__(self, table, positions=None, input_is_data=True):
        self.table = table
        self.positions = positions
        self.input_is_data = input_is_data

    def forward(self, Pi):
        """Return ``R = Π·Table`` (reshaped to ``n × (c·d)`` when ``positions``)."""
        self.Pi = Pi.tocsr() if Pi.format != "csr" else Pi
        R = np.asarray(self.Pi @ self.table)
        if self.positions is not None:
            R = R.reshape(-1, self.positions * self.table.shape[1])
        return R

    def backward(self, grad_X_new):
        """Store ``grad_table_rows``; return ``grad_Π`` (None when ``Π`` is data).

        The notes: "gradient R = reshape gradient X_new to nc × d",
        "gradient Table = Πᵀ·gradient R", "gradient Π = gradient R·Tableᵀ".
        """
        grad_R = grad_X_new.reshape(-1, self.table.shape[1])
        rows, Pi_rows = self._touched_rows().compact(self.Pi)
        self.grad_table_rows = rows, np.asarray(Pi_rows.T @ grad_R)
        # Π restricted to the touched rows, for a penalty that counts occurrences.
        self.Pi_rows = Pi_rows
        if self.input_is_data:
            return None
        return _grad_at_pattern(self.Pi, grad_R, self.table)

    def _touched_rows(self):
        maps = self.__dict__.get("_maps")
        if maps is None or maps.touched.size != self.table.shape[0]:
            maps = self._maps = _TouchedRows(self.table.shape[0])
        return maps

    @property
    def grad_table(self):
        """The dense ``grad_table = Πᵀ·grad_R`` (w × d) of the last ``backward``."""
        rows, grad_rows = self.grad_table_rows
        grad_table = np.zeros_like(self.table)
        grad_table[rows] = grad_rows
        return grad_table


def _grad_at_pattern(Pi, grad_R, table):
    """``grad_Π = grad_R·Tableᵀ`` at the non-zeros of ``Π`` (its sparsity pattern).

    The notes' "gradient z = gradient R · Tableᵀ" ((nc) × w) is dense and huge;
    entry ``(i, j)`` is only meaningful where token ``j`` occurs in row ``i``, so
    only those entries are computed.
    """
    row_of_entry = np.repeat(np.arange(Pi.shape[0]), np.diff(Pi.indptr))
    values = np.einsum(
        "ij,ij->i", grad_R[row_of_entry], table[Pi.indices], optimize=False
    )
    return sp.csr_array((values, Pi.indices.copy(), Pi.indptr.copy()), Pi.shape)


def _buffers(node, *specs):
    """Arrays of the given ``(shape, dtype)``, kept on ``node`` and reused by the
    next call with the same specs (a batch's loss allocates nothing)."""
    kept = node.__dict__.get("_kept")
    if kept is None or kept[0] != specs:
        kept = node._kept = specs, [np.empty(shape, dtype) for shape, dtype in specs]
    return kept[1]


def _weighted_mean(row_values, sample_weight):
    """``Σᵢ wᵢ·vᵢ / Σᵢ wᵢ`` and ``n = Σᵢ wᵢ`` (the row count without weights).

    A batch whose weights are all zero has mean 0: it carries no signal.
    """
    if sample_weight is None:
        n = row_values.shape[0]
        # np.add.reduce is ndarray.sum without its Python wrapper.
        return float(np.add.reduce(row_values)) / n, n
    n = float(sample_weight.sum())
    return (float(row_values @ sample_weight) / n if n else 0.0), n


class MSELoss:
    """Mean squared error (:ref:`notes-mse`, block ①): ``loss = ‖Ŷ − Y‖² / n``.

    ``n`` is the number of rows (samples); for a multi-output ``Y`` the squared
    errors of all outputs of a row are summed, so each row contributes
    ``‖ŷᵢ − yᵢ‖²``.  With sample weights ``w`` the loss is
    ``Σ wᵢ‖ŷᵢ − yᵢ‖² / Σ wᵢ`` and ``n`` becomes ``Σ wᵢ`` (unit weights give the notes).

    ``backward`` returns ``grad_Ŷ = 2/n (Ŷ − Y)`` (rows scaled by ``wᵢ``); after it no
    node divides by ``n`` again.

    scikit-learn's squared error minimises ``Σ wᵢ‖ŷᵢ − yᵢ‖² / (2Σ wᵢ)``: its
    gradient (deltas ``Ŷ − Y``) sums over the k outputs, although the ``loss_`` it
    reports also divides by k.  This loss is ``sklearn_loss_ratio = 2`` times that
    objective, for any k; :class:`L2Penalty` scales the penalty by the same
    factor, so that the same ``alpha`` gives scikit-learn's minimiser.
    """

    sklearn_loss_ratio = 2

    def forward(self, Y_hat, Y, sample_weight=None):
        self.sample_weight = sample_weight
        n_rows = Y_hat.shape[0]
        self.n = _n(n_rows, sample_weight)
        residual, grad, row_sq = _buffers(
            self, (Y_hat.shape, Y_hat.dtype), (Y_hat.shape, Y_hat.dtype),
            ((n_rows,), np.float64),
        )  # fmt: skip
        # One compiled pass computes backward's answer too (the same operations).
        if mse_loss(Y_hat, Y, sample_weight, self.n, residual, grad, row_sq):
            self.residual, self._grad = residual, grad
        else:
            self.residual, self._grad = np.subtract(Y_hat, Y), None
            # Summed in float64: float32 residuals of 1e20 square beyond float32.
            row_sq = np.einsum(
                "ij,ij->i", self.residual, self.residual, dtype=np.float64
            )
        loss, _ = _weighted_mean(row_sq, sample_weight)
        return loss

    def backward(self):
        """Return ``grad_Ŷ = 2/n (Ŷ − Y)``, a new array (the cache stays as it is)."""
        if self._grad is not None:
            return self._grad.copy()
        grad_Y_hat = np.multiply(self.residual, 2.0 / self.n if self.n else 0.0)
        if self.sample_weight is not None:
            grad_Y_hat *= self.sample_weight[:, None]
        return grad_Y_hat


class PoissonLoss:
    """Half Poisson deviance, as scikit-learn's MLPRegressor (``loss='poisson'``).

    ``loss = Σᵢ wᵢ Σₖ (y log(y/ŷ) − y + ŷ) / Σ wᵢ`` with ``ŷ > 0`` (an :class:`Exp`
    output); ``grad_Ŷ = (1 − Y/Ŷ) / n``.  Not part of the notes
    (:ref:`notes-beyond`): it follows their pattern of a loss node returning
    ``grad_Ŷ``.  It is scikit-learn's value (``sklearn_loss_ratio = 1``).
    """

    sklearn_loss_ratio = 1

    def forward(self, Y_hat, Y, sample_weight=None):
        tiny = np.finfo(Y_hat.dtype).tiny
        self.Y_hat = np.maximum(Y_hat, tiny)
        self.Y = Y
        self.sample_weight = sample_weight
        row_dev = (xlogy(Y, Y / self.Y_hat) - Y + self.Y_hat).sum(axis=1)
        loss, self.n = _weighted_mean(row_dev, sample_weight)
        return loss

    def backward(self):
        grad_Y_hat = (1.0 - self.Y / self.Y_hat) / (self.n or 1.0)
        if self.sample_weight is not None:
            grad_Y_hat *= self.sample_weight[:, None]
        return grad_Y_hat.astype(self.Y_hat.dtype, copy=False)


class L2Penalty:
    """The L2 penalty on the weights, with scikit-learn's meaning of ``alpha``.

    scikit-learn minimises ``loss_sk + α/(2n)·Σ‖W‖²`` (``n = Σ wᵢ``, the rows
    without weights; biases are not penalised).  Each loss node declares
    ``sklearn_loss_ratio``, its ratio to the ``loss_sk`` whose gradient scikit-learn
    follows (2 for the notes' MSE, for any number of outputs; 1 for Poisson), so
    the same minimiser needs the penalty scaled alike:

        penalty = c·Σ‖W‖²,   c = sklearn_loss_ratio · α / (2n)

    and, differentiating each entry ``c·w²``, the notes' way,

        grad_W += 2c·W

    (``decay = 2c``, which the optimizers fuse into their pass).

    The weights are ``theta[:n_penalized]``, one contiguous slice of the flat
    parameter vector.  An embedding table's rows are penalised by
    :class:`RowL2Penalty` instead (per occurrence, exact under row-sparse updates).

    Parameters
    ----------
    alpha : float
        scikit-learn's ``alpha``.
    n_penalized : int
        Length of the penalised slice of ``theta``.
    """

    def __init__(self, alpha, n_penalized):
        self.alpha = alpha
        self.n_penalized = n_penalized if alpha else 0
        self.c = 0.0

    @property
    def decay(self):
        """``2c``, the factor of ``W`` in the penalty's gradient."""
        return 2.0 * self.c

    @property
    def n_decayed(self):
        """Entries of ``theta`` the gradient touches (none while ``c`` is 0)."""
        return self.n_penalized if self.c else 0

    def forward(self, theta, loss_node):
        """Return ``c·Σ‖W‖²`` for the batch ``loss_node`` has just scored."""
        n = loss_node.n
        self.c = (
            0.0
            if not self.alpha or not n
            else (loss_node.sklearn_loss_ratio * self.alpha / (2.0 * n))
        )
        if not self.c:
            return 0.0
        W = theta[: self.n_penalized]
        return self.c * float(np.dot(W, W))

    def backward(self, grad, theta):
        """Add ``grad_W += 2c·W`` to the flat gradient, in place."""
        add_decay(grad, theta, self.decay, self.n_decayed)


# -- Classification: output and loss nodes ---------------------------------
#
# Output and loss nodes for classifiers, derived as the notes derive block ①.
#
# The full derivations are in ``docs/notes_classification.md``; each docstring below
# holds the short form.  Names follow the notes: logits ``S`` (the last linear node's
# output), probabilities ``P``, one-hot or indicator targets ``Y``, and the gradients
# ``grad_S`` and ``grad_P``.
#
# Two ways to chain the output:
#
# - separately, an activation and a loss on probabilities, each with its own
#   Jacobian: :class:`Softmax` then :class:`CrossEntropy`, or ``nodes.Sigmoid`` then
#   :class:`BinaryCrossEntropy`;
# - fused, one node from logits to loss whose backward is the collapsed product of
#   the two Jacobians, ``grad_S = (P − Y)·w/n``: :class:`SoftmaxCrossEntropy` and
#   :class:`SigmoidBinaryCrossEntropy`.  The estimators train with these; they never
#   divide by a probability, so they stay exact where ``P`` saturates.
#
# Every loss node follows ``MSELoss``: ``forward(input, Y, sample_weight=None)``
# returns the loss as a float (summed in float64) and sets ``n``, the number of rows,
# or ``Σ wᵢ`` with sample weights; the loss is ``Σᵢ wᵢ lossᵢ / n``, where ``lossᵢ``
# sums over the columns of row ``i``.  ``backward()`` returns the gradient with
# respect to the node's input, a new array each call, in the input's dtype.


# numpy reduces a short row (a few classes) slowly, one row at a time; a loop over
# the columns makes one long vector operation per column.  Below 8 entries numpy
# adds a row's entries one by one (its pairwise summation starts at 8), so the
# column loop makes the same additions in the same order: the same bits.
_SHORT_ROW = 8


def _row_max(S):
    """``S.max(axis=1, keepdims=True)``."""
    k = S.shape[1]
    if not 0 < k < _SHORT_ROW:
        return S.max(axis=1, keepdims=True)
    m = S[:, 0].copy()
    for j in range(1, k):
        np.maximum(m, S[:, j], out=m)
    return m[:, None]


def _row_sum(S, dtype=None):
    """``S.sum(axis=1, keepdims=True, dtype=dtype)``."""
    k = S.shape[1]
    if not 0 < k < _SHORT_ROW:
        return S.sum(axis=1, keepdims=True, dtype=dtype)
    # From zero, as numpy: a row of -0.0 sums to +0.0.
    total = np.zeros(S.shape[0], S.dtype if dtype is None else dtype)
    for j in range(k):
        np.add(total, S[:, j], out=total, dtype=total.dtype)
    return total[:, None]


def _shifted_logits(S):
    """``S − max(S, axis=1)``: every entry ≤ 0, so ``e^{·}`` cannot overflow."""
    return np.subtract(S, _row_max(S))


def softmax(S, out=None):
    """Row-wise ``P = e^{S−m} / Σ e^{S−m}`` (``= e^S / Σ e^S``), ``m`` the row max."""
    P = np.subtract(S, _row_max(S), out=out)
    # Logits far below the row's max underflow to probability 0: the right answer.
    with np.errstate(under="ignore"):
        np.exp(P, out=P)
    P /= _row_sum(P)
    return P


def log_softmax(S):
    """Row-wise ``log P = (S − m) − log Σ e^{S−m}`` without forming ``P``."""
    log_P = _shifted_logits(S)
    with np.errstate(under="ignore"):
        log_Z = np.log(_row_sum(np.exp(log_P)))
    log_P -= log_Z
    return log_P


def _log1p_exp_neg_abs(S):
    """``log(1 + e^{−|S|})``, the part of the softplus that never overflows."""
    t = np.abs(S)
    np.negative(t, out=t)
    with np.errstate(under="ignore"):
        np.exp(t, out=t)
    return np.log1p(t, out=t)


def log_sigmoid(S):
    """``log σ(S) = min(S, 0) − log(1 + e^{−|S|})``.

    ``log(1 − σ(S))`` is ``log_sigmoid(−S)``.
    """
    log_P = _log1p_exp_neg_abs(S)
    np.subtract(np.minimum(S, 0), log_P, out=log_P)
    return log_P


def _n(n_rows, sample_weight):
    """The notes' ``n``, as ``MSELoss`` defines it: rows, or ``Σ wᵢ`` with weights."""
    return n_rows if sample_weight is None else float(sample_weight.sum())


def _mean(row_loss, sample_weight, n):
    """``Σᵢ wᵢ lossᵢ / n`` as a float; 0 when all weights are zero."""
    if not n:
        return 0.0
    if sample_weight is None:
        return float(row_loss.sum()) / n
    return float(row_loss @ sample_weight) / n


def _scale_rows(grad, sample_weight, n):
    """``grad · wᵢ/n`` in place (row ``i`` by ``wᵢ/n``); zero when ``n`` is 0."""
    if not n:
        grad[...] = 0
        return grad
    if sample_weight is None:
        grad *= grad.dtype.type(1.0 / n)
    else:
        grad *= (sample_weight / n).astype(grad.dtype, copy=False)[:, None]
    return grad


def _fused_pass(node, kernel, S, Y, sample_weight):
    """A fused node's forward as one compiled pass, or None for the numpy path.

    Caches ``Y``, ``sample_weight`` and ``n``; ``kernel`` (from
    :mod:`sknotes._kernels`) writes ``P`` and backward's ``grad_S`` into reused
    buffers and returns ``Σᵢ wᵢ·lossᵢ``.
    """
    node.Y, node.sample_weight = Y, sample_weight
    node.n = _n(S.shape[0], sample_weight)
    P, grad_S = _buffers(node, (S.shape, S.dtype), (S.shape, S.dtype))
    total = kernel(S, Y, sample_weight, node.n, P, grad_S)
    if total is None:
        node._grad_S = None
        return None
    node.P, node._grad_S = P, grad_S
    return total / node.n


def _clip_probabilities(P):
    """``P`` clipped to ``[eps, 1 − eps]``, ``eps`` of its dtype, as in scikit-learn."""
    eps = np.finfo(P.dtype).eps
    return np.clip(P, eps, 1 - eps)


class Softmax:
    """Softmax activation ``P = softmax(S)`` by rows (notes, "for activation Node").

    Unlike the notes' element-wise activations, each ``p_k`` depends on the whole
    row: ``∂p_k/∂s_j = p_k(δ_kj − p_j)``, the Jacobian ``diag(p) − pᵀp`` of a row.
    Its product with the row ``gradient p`` collapses to
    ``grad_S = P ⊙ (grad_P − sum(grad_P ⊙ P, axis=1))`` (the sum broadcast over
    columns), written with the cached output ``P`` as the notes' ``Δ(1 − Δ)`` is.
    ``forward`` subtracts each row's max first (log-sum-exp), so no logit overflows.
    """

    def forward(self, S, out=None):
        """Return ``P = softmax(S)`` (n × c, rows sum to 1); caches ``P``."""
        self.P = softmax(S, out=out)
        return self.P

    def backward(self, grad_P, out=None):
        """Return ``grad_S = P ⊙ (grad_P − sum(grad_P ⊙ P, axis=1))``."""
        P = self.P
        row_dot = np.einsum("ij,ij->i", grad_P, P)
        grad_S = np.subtract(grad_P, row_dot[:, None], out=out)
        grad_S *= P
        return grad_S


class BinaryCrossEntropy:
    """Binary cross-entropy on probabilities, one column per label.

    ``loss = −Σᵢ wᵢ Σₖ [y log p + (1 − y) log(1 − p)] / n``, ``n`` the rows (``Σ wᵢ``
    with weights), ``p`` clipped to ``[eps, 1 − eps]`` (``eps`` of ``P``'s dtype) so
    the logs stay finite.  Per entry ``gradient p = (−y/p + (1 − y)/(1 − p))/n``, so
    ``grad_P = (P − Y) ⊘ (P ⊙ (1 − P)) · w/n`` (evaluated at the clipped ``P``).
    After ``nodes.Sigmoid`` (``grad_S = grad_P ⊙ P(1 − P)``) it becomes
    ``(P − Y)·w/n``; :class:`SigmoidBinaryCrossEntropy` computes that directly.

    Equals scikit-learn's ``binary_log_loss`` (mean over samples, summed over
    labels): ``sklearn_loss_ratio = 1.0``.
    """

    sklearn_loss_ratio = 1.0

    def forward(self, P, Y, sample_weight=None):
        """Return the loss of probabilities ``P`` (n × k) for 0/1 targets ``Y``."""
        P = _clip_probabilities(P)
        self.P, self.Y, self.sample_weight = P, Y, sample_weight
        entry = Y * np.log(P)
        entry += (1 - Y) * np.log1p(-P)
        row_loss = -entry.sum(axis=1, dtype=np.float64)
        self.n = _n(P.shape[0], sample_weight)
        return _mean(row_loss, sample_weight, self.n)

    def backward(self):
        """Return ``grad_P = (P − Y) ⊘ (P ⊙ (1 − P)) · w/n``."""
        P = self.P
        grad_P = np.subtract(P, self.Y, dtype=P.dtype)
        grad_P /= P * (1 - P)
        return _scale_rows(grad_P, self.sample_weight, self.n)


class CrossEntropy:
    """Cross-entropy on probabilities for one-hot ``Y``.

    ``loss = −Σᵢ wᵢ Σₖ yₖ log pₖ / n``, ``n`` the rows (``Σ wᵢ`` with weights), ``p``
    clipped to ``[eps, 1 − eps]``.  Per entry ``gradient p_k = −y_k/(n p_k)``, so
    ``grad_P = −Y ⊘ P · w/n``.  After :class:`Softmax` it becomes
    ``(P·Σₖyₖ − Y)·w/n = (P − Y)·w/n`` for rows of ``Y`` summing to 1;
    :class:`SoftmaxCrossEntropy` computes that directly.

    Equals scikit-learn's ``log_loss`` (mean over samples, summed over classes):
    ``sklearn_loss_ratio = 1.0``.
    """

    sklearn_loss_ratio = 1.0

    def forward(self, P, Y, sample_weight=None):
        """Return the loss of probabilities ``P`` (n × c) for one-hot ``Y``."""
        P = _clip_probabilities(P)
        self.P, self.Y, self.sample_weight = P, Y, sample_weight
        row_loss = -np.einsum("ij,ij->i", Y, np.log(P), dtype=np.float64)
        self.n = _n(P.shape[0], sample_weight)
        return _mean(row_loss, sample_weight, self.n)

    def backward(self):
        """Return ``grad_P = −Y ⊘ P · w/n``."""
        grad_P = np.divide(self.Y, self.P, dtype=self.P.dtype)
        np.negative(grad_P, out=grad_P)
        return _scale_rows(grad_P, self.sample_weight, self.n)


class SigmoidBinaryCrossEntropy:
    """Sigmoid and binary cross-entropy fused: logits ``S`` to loss, per column.

    Binary (one column) or multilabel (one column per label).  Per entry
    ``−[y log σ(s) + (1 − y) log(1 − σ(s))] = softplus(s) − y·s`` with
    ``softplus(s) = max(s, 0) + log(1 + e^{−|s|})``: no exponential of a positive
    number, so no overflow for any logit and no clipping.  The loss is
    ``Σᵢ wᵢ Σₖ (softplus(s) − y·s) / n`` (``n`` rows, or ``Σ wᵢ``) and its
    derivative is ``σ(s) − y`` per entry: ``grad_S = (P − Y)·w/n``, the product of
    ``BinaryCrossEntropy``'s ``(p − y)/(p(1 − p))`` and the sigmoid's ``p(1 − p)``
    with nothing divided.

    Equals scikit-learn's ``binary_log_loss`` wherever no probability is within
    ``eps`` of 0 or 1 (there scikit-learn clips; this loss stays exact):
    ``sklearn_loss_ratio = 1.0``.

    Attributes
    ----------
    P : ndarray of shape (n, k)
        ``σ(S)`` from the last ``forward``: the probability of each label.
    n : int or float
        Rows, or ``Σ wᵢ``, of the last ``forward``.
    """

    sklearn_loss_ratio = 1.0
    out_activation = "logistic"

    def forward(self, S, Y, sample_weight=None):
        """Return the loss of logits ``S`` (n × k) for 0/1 ``Y``; caches ``σ(S)``."""
        loss = _fused_pass(self, sigmoid_cross_entropy, S, Y, sample_weight)
        if loss is not None:
            return loss
        self.P = expit(S)
        entry = _log1p_exp_neg_abs(S)
        entry += np.maximum(S, 0)
        entry -= Y * S
        row_loss = _row_sum(entry, np.float64)[:, 0]
        return _mean(row_loss, sample_weight, self.n)

    def backward(self):
        """Return ``grad_S = (P − Y)·w/n``."""
        if self._grad_S is not None:
            return self._grad_S.copy()
        grad_S = np.subtract(self.P, self.Y, dtype=self.P.dtype)
        return _scale_rows(grad_S, self.sample_weight, self.n)

    @staticmethod
    def proba(S):
        """``σ(S)``, each label's probability (the positive class's for binary)."""
        return expit(S)

    @staticmethod
    def log_proba(S):
        """``log σ(S)``, computed stably; ``log(1 − σ(S))`` is ``log_proba(−S)``."""
        return log_sigmoid(S)


class SoftmaxCrossEntropy:
    """Softmax and cross-entropy fused: logits ``S`` to loss for one-hot ``Y``.

    ``log p_k = (s_k − m) − log Σⱼ e^{s_j − m}`` with ``m`` the row's max (log-sum-exp):
    every exponent is ≤ 0 and the sum is ≥ 1, so nothing overflows and no log of 0
    is taken.  The loss is ``Σᵢ wᵢ (Σₖ yₖ · log Z − Σₖ yₖ (s_k − m)) / n`` with
    ``Z = Σⱼ e^{s_j − m}`` (``n`` rows, or ``Σ wᵢ``).  The softmax Jacobian
    ``p_k(δ_kj − p_j)`` times ``CrossEntropy``'s ``−y_k/p_k`` sums to
    ``p_j Σₖ yₖ − y_j``: ``grad_S = (P·Σₖyₖ − Y)·w/n``, which is ``(P − Y)·w/n``
    exactly for one-hot rows (``Σₖ yₖ = 1``).

    Equals scikit-learn's ``log_loss`` wherever no probability is below ``eps``
    (there scikit-learn clips; this loss stays exact): ``sklearn_loss_ratio = 1.0``.

    Attributes
    ----------
    P : ndarray of shape (n, c)
        ``softmax(S)`` from the last ``forward``; rows sum to 1.
    n : int or float
        Rows, or ``Σ wᵢ``, of the last ``forward``.
    """

    sklearn_loss_ratio = 1.0
    out_activation = "softmax"

    def forward(self, S, Y, sample_weight=None):
        """Return the loss of logits ``S`` (n × c) for one-hot ``Y``; caches ``P``."""
        loss = _fused_pass(self, softmax_cross_entropy, S, Y, sample_weight)
        if loss is not None:
            return loss
        shifted = _shifted_logits(S)
        with np.errstate(under="ignore"):
            P = np.exp(shifted)
        Z = _row_sum(P)
        P /= Z
        self.P = P
        self.y_sum = _row_sum(Y, P.dtype)[:, 0]
        row_loss = self.y_sum * np.log(Z[:, 0], dtype=np.float64)
        row_loss -= np.einsum("ij,ij->i", Y, shifted, dtype=np.float64)
        return _mean(row_loss, sample_weight, self.n)

    def backward(self):
        """Return ``grad_S = (P·Σₖyₖ − Y)·w/n``: ``(P − Y)·w/n`` for one-hot ``Y``."""
        if self._grad_S is not None:
            return self._grad_S.copy()
        grad_S = np.multiply(self.P, self.y_sum[:, None])
        np.subtract(grad_S, self.Y, out=grad_S, dtype=grad_S.dtype, casting="same_kind")
        return _scale_rows(grad_S, self.sample_weight, self.n)

    @staticmethod
    def proba(S):
        """``softmax(S)``, each class's probability."""
        return softmax(S)

    @staticmethod
    def log_proba(S):
        """``log softmax(S)``, computed stably."""
        return log_softmax(S)


class RowL2Penalty:
    """L2 penalty on the rows of a table that a batch touches, per occurrence.

    The dense penalty scikit-learn's ``alpha`` means, on a table ``T`` (one
    coefficient per column ``j``: the embedding columns and the linear path's),
    is ``Σⱼ c_j·Σ_r T[r, j]²`` with ``c_j = sklearn_loss_ratio·α_j/(2N)`` over
    ``N`` training rows.  Its gradient ``2c·T`` is dense: every row moves at every
    step, which a row-sparse update cannot afford.  A batch of ``n`` documents in
    which row ``r`` occurs in ``n_r`` of them instead pays

        penalty = Σ_r Σⱼ c_j·(N/n)·(n_r/df_r)·T[r, j]²,
        c_j·(N/n) = sklearn_loss_ratio·α_j/(2n)

    (``df_r``: the training documents containing row ``r``) and, differentiating
    each entry the notes' way,

        grad_table[r] += 2·c_j·(N/n)·(n_r/df_r)·T[r]

    which is zero on the rows the batch does not touch: exact under row-sparse
    updates.  Over an epoch's batches ``Σ n_r = df_r``, so the decay a row
    receives per epoch equals the dense penalty's, spread over the steps that
    touch it (per-occurrence decay as in matrix factorisation, reweighted by
    ``1/df_r`` so that frequent tokens are not penalised more than rare ones).

    Parameters
    ----------
    alphas : ndarray of shape (n_columns,)
        scikit-learn's ``alpha`` of each table column.
    document_frequency : ndarray of shape (n_rows,)
        ``df_r`` from the training ``Π`` (weighted by the sample weights:
        :meth:`occurrences` of the whole training ``Π``).
    """

    def __init__(self, alphas, document_frequency):
        self.alphas = np.asarray(alphas, dtype=np.float64)
        self.set_document_frequency(document_frequency)

    def set_document_frequency(self, document_frequency):
        """``1/df_r``; a row absent from the counted documents (a hashed row first
        met by a later ``partial_fit``) counts as seen once."""
        df = np.asarray(document_frequency, dtype=np.float64)
        self.inverse_df = 1.0 / np.maximum(df, 1.0)

    def coefficients(self, rows, counts, loss_node):
        """``2c_j·(N/n)·(n_r/df_r)`` as an outer product (rows × columns)."""
        n = loss_node.n
        if not n:
            return np.zeros((rows.size, self.alphas.size))
        per_row = counts * self.inverse_df[rows]
        return np.outer(per_row, loss_node.sklearn_loss_ratio * self.alphas / n)

    @staticmethod
    def occurrences(Pi_rows, sample_weight=None):
        """``n_r``: the (weighted) rows of ``Π[:, rows]`` in which each row occurs.

        With sample weights a document counts its weight, as in ``n = Σ wᵢ`` and
        the weighted ``df_r``: weights then equal repetitions.
        """
        if sample_weight is None:
            return np.bincount(Pi_rows.indices, minlength=Pi_rows.shape[1])
        # Positions ('concat') are several rows of Π per document.
        per_row = np.repeat(sample_weight, Pi_rows.shape[0] // sample_weight.shape[0])
        entry_weight = np.repeat(per_row, np.diff(Pi_rows.indptr))
        return np.bincount(
            Pi_rows.indices, weights=entry_weight, minlength=Pi_rows.shape[1]
        )

    def forward(self, table_rows, rows, counts, loss_node):
        """Return the batch's penalty on ``table_rows = T[rows]``."""
        self.decay = self.coefficients(rows, counts, loss_node)
        return 0.5 * float(np.einsum("ij,ij,ij->", self.decay, table_rows, table_rows))

    def backward(self, grad_rows, table_rows):
        """Add ``grad_table[rows] += 2c·(N/n)·(n_r/df_r)·T[rows]`` in place."""
        grad_rows += (self.decay * table_rows).astype(grad_rows.dtype, copy=False)
        return grad_rows


LOSSES = {"squared_error": MSELoss, "poisson": PoissonLoss}
