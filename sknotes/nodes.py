"""The notes as code: each node is one block of ``shared/notes/backprop-notes.md``.

A node has a ``forward`` that caches what its ``backward`` needs, and a ``backward``
that applies the notes' formula for that block and nothing else.  Nodes know nothing
about estimators, optimizers or training; the network chains them.

Names follow the notes: a linear node maps ``X`` to ``S`` and returns ``grad_X`` from
``grad_S``; an activation maps ``X`` to ``Y = Δ(X)``; the embedding node maps a one-hot
(or bag) matrix ``Π`` to ``R = Π·Table`` and produces ``grad_table``.

Every ``out=`` argument lets the network hand a node a preallocated buffer: the
math is the same, only the memory is reused.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, xlogy

from sknotes.kernels import add_row, outer, relu_backward

__all__ = [
    "ACTIVATIONS",
    "Add",
    "Embedding",
    "Exp",
    "Identity",
    "Linear",
    "MSELoss",
    "PoissonLoss",
    "ReLU",
    "Sigmoid",
    "Tanh",
]


def _matmul(A, B, out=None):
    """``A @ B`` for dense or scipy.sparse ``A``, always a dense ndarray."""
    if sp.issparse(A):
        result = np.asarray(A @ B)
        if out is None:
            return result
        out[...] = result
        return out
    return np.matmul(A, B, out=out)


_ONES = {}


def _ones(n, dtype):
    """A read-only vector of ``n`` ones, shared between calls."""
    ones = _ONES.get(dtype)
    if ones is None or ones.shape[0] < n:
        ones = np.ones(max(n, 256), dtype)
        ones.flags.writeable = False
        _ONES[dtype] = ones
    return ones[:n]


class Linear:
    """Linear node ``S = X·W + b`` (notes, blocks ② and ③, "Brief Summary").

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
    """

    def __init__(self, W, b, grad_W=None, grad_b=None):
        self.W = W
        self.b = b
        self.grad_W = grad_W
        self.grad_b = grad_b

    def forward(self, X, out=None):
        """Return ``S = X·W + b`` (X dense or scipy.sparse, n × d); caches ``X``."""
        self.X = X
        S = _matmul(X, self.W, out=out)
        return add_row(S, self.b)

    def backward(self, grad_S, need_grad_X=True, out=None):
        """Apply the "Brief Summary" of the linear node.

        ``grad_W = Xᵀ·grad_S``, ``grad_b = sum(grad_S, axis=0)`` (stored on the node)
        and ``grad_X = grad_S·Wᵀ`` (returned, or None when ``need_grad_X`` is False,
        as for the first layer, whose input is data).
        """
        if self.grad_W is None:
            self.grad_W = np.empty_like(self.W)
            self.grad_b = np.empty_like(self.b)
        _matmul(self.X.T, grad_S, out=self.grad_W)
        # The column sum as a BLAS product with ones: a third of np.sum's time.
        np.matmul(_ones(grad_S.shape[0], grad_S.dtype), grad_S, out=self.grad_b)
        if not need_grad_X:
            return None
        if grad_S.shape[1] == 1:
            # A single output makes grad_S·Wᵀ an outer product: broadcast, not GEMM.
            return outer(grad_S[:, 0], self.W[:, 0], out=out)
        return np.matmul(grad_S, self.W.T, out=out)


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
    """Sigmoid activation node, notes "for activation Node": ``Δ(x) = 1/(1+e^{-x})``.

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
    """Tanh activation node, notes "for activation Node".

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

    Not in the notes' activation table; it follows the same pattern (derivative
    written with the forward output), as scikit-learn's MLP does.
    """

    def forward(self, X, out=None):
        self.Y = np.maximum(X, 0, out=out)
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
    """Add node ``Z = X + Y + b`` (notes, "for Add Node").

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
        """Return ``(grad_X, grad_Y)``; ``grad_b`` is stored on the node."""
        if self.b is not None:
            np.sum(grad_Z, axis=0, out=self.grad_b)
        return grad_Z, grad_Z


class Embedding:
    """Embedding node ``R = Π·Table`` (notes, "for Embedding case in NLP").

    ``Π`` is a scipy.sparse one-hot matrix (one row per token position, the notes'
    ``nc × w``) or a bag matrix (one row per document, whose row sums the one-hot
    rows of its tokens: sum or mean pooling).  With ``positions=c`` the output is
    reshaped from ``(n·c) × d`` to the notes' ``X_new`` of shape ``n × (c·d)``.

    Parameters
    ----------
    table : ndarray of shape (w, d)
        The embedding table, read in place (never copied).
    positions : int, default=None
        ``c``, the number of token positions per document, for the reshape.
    """

    def __init__(self, table, positions=None):
        self.table = table
        self.positions = positions

    def forward(self, Pi):
        """Return ``R = Π·Table`` (reshaped to ``n × (c·d)`` when ``positions``)."""
        self.Pi = Pi
        R = np.asarray(Pi @ self.table)
        if self.positions is not None:
            R = R.reshape(-1, self.positions * self.table.shape[1])
        return R

    def _grad_R(self, grad_X_new):
        # The notes: "gradient R = reshape gradient X_new to nc × d".
        return grad_X_new.reshape(-1, self.table.shape[1])

    def backward(self, grad_X_new):
        """Return the dense ``grad_table = Πᵀ·grad_R`` (w × d).

        Only the rows of the tokens present in ``Π`` are non-zero; training uses
        :meth:`backward_rows`, which computes just those rows.
        """
        grad_R = self._grad_R(grad_X_new)
        return np.asarray(self.Pi.T @ grad_R)

    def backward_rows(self, grad_X_new):
        """Return ``(rows, grad_table[rows])`` of ``grad_table = Πᵀ·grad_R``.

        ``rows`` are the sorted distinct columns of ``Π`` (the tokens in the batch);
        every other row of ``grad_table`` is zero, so it is never formed.
        """
        grad_R = self._grad_R(grad_X_new)
        Pi = self.Pi.tocsr() if self.Pi.format != "csr" else self.Pi
        # Reused per-token maps (touched flag, row position) instead of np.unique,
        # whose sorting dominated a batch's backward pass.
        if getattr(self, "_touched", None) is None or self._touched.size != Pi.shape[1]:
            self._touched = np.zeros(Pi.shape[1], dtype=bool)
            self._position = np.empty(Pi.shape[1], dtype=np.intp)
        self._touched[Pi.indices] = True
        rows = np.flatnonzero(self._touched)
        self._touched[rows] = False
        self._position[rows] = np.arange(rows.size)
        compact_columns = self._position[Pi.indices]
        Pi_touched = sp.csr_array(
            (Pi.data, compact_columns, Pi.indptr),
            shape=(Pi.shape[0], rows.size),
        )
        return rows, np.asarray(Pi_touched.T @ grad_R)

    def grad_Pi(self, grad_X_new):
        """Return ``grad_Π = grad_R·Tableᵀ`` at the non-zeros of ``Π`` (its pattern).

        The notes' "gradient z = gradient R · Tableᵀ" ((nc) × w) is dense and huge;
        entry ``(i, j)`` is only meaningful where token ``j`` occurs in row ``i``, so
        only those entries are computed.
        """
        grad_R = self._grad_R(grad_X_new)
        Pi = sp.csr_array(self.Pi)
        row_of_entry = np.repeat(np.arange(Pi.shape[0]), np.diff(Pi.indptr))
        values = np.einsum(
            "ij,ij->i", grad_R[row_of_entry], self.table[Pi.indices], optimize=False
        )
        return sp.csr_array((values, Pi.indices.copy(), Pi.indptr.copy()), Pi.shape)


class MSELoss:
    """Mean squared error, notes block ①: ``loss = ‖Ŷ − Y‖² / n``.

    ``n`` is the number of rows (samples); for a multi-output ``Y`` the squared
    errors of all outputs of a row are summed, so each row contributes
    ``‖ŷᵢ − yᵢ‖²``.  With sample weights ``w`` the loss is
    ``Σ wᵢ‖ŷᵢ − yᵢ‖² / Σ wᵢ`` and ``n`` becomes ``Σ wᵢ`` (unit weights give the notes).

    ``backward`` returns ``grad_Ŷ = 2/n (Ŷ − Y)`` (rows scaled by ``wᵢ``); after it no
    node divides by ``n`` again.
    """

    def forward(self, Y_hat, Y, sample_weight=None):
        residual = np.subtract(Y_hat, Y)
        self.residual = residual
        self.sample_weight = sample_weight
        # Summed in float64: float32 residuals of 1e20 square beyond float32.
        row_sq = np.einsum("ij,ij->i", residual, residual, dtype=np.float64)
        if sample_weight is None:
            self.n = Y.shape[0]
            return float(row_sq.sum()) / self.n
        self.n = float(sample_weight.sum())
        return float(row_sq @ sample_weight) / self.n if self.n else 0.0

    def backward(self):
        """Return ``grad_Ŷ = 2/n (Ŷ − Y)``, computed in place of the cached residual."""
        grad_Y_hat = self.residual
        if self.n == 0:
            # A batch whose weights are all zero carries no signal.
            grad_Y_hat[...] = 0
            return grad_Y_hat
        grad_Y_hat *= 2.0 / self.n
        if self.sample_weight is not None:
            grad_Y_hat *= self.sample_weight[:, None]
        return grad_Y_hat


class PoissonLoss:
    """Half Poisson deviance, as scikit-learn's MLPRegressor (``loss='poisson'``).

    ``loss = Σᵢ wᵢ Σₖ (y log(y/ŷ) − y + ŷ) / Σ wᵢ`` with ``ŷ > 0`` (an :class:`Exp`
    output); ``grad_Ŷ = (1 − Y/Ŷ) / n``.  Not part of the notes: it follows their
    pattern of a loss node returning ``grad_Ŷ``.
    """

    def forward(self, Y_hat, Y, sample_weight=None):
        tiny = np.finfo(Y_hat.dtype).tiny
        self.Y_hat = np.maximum(Y_hat, tiny)
        self.Y = Y
        self.sample_weight = sample_weight
        row_dev = (xlogy(Y, Y / self.Y_hat) - Y + self.Y_hat).sum(axis=1)
        if sample_weight is None:
            self.n = Y.shape[0]
            return float(row_dev.sum()) / self.n
        self.n = float(sample_weight.sum())
        return float(row_dev @ sample_weight) / self.n if self.n else 0.0

    def backward(self):
        grad_Y_hat = (1.0 - self.Y / self.Y_hat) / (self.n or 1.0)
        if self.sample_weight is not None:
            grad_Y_hat *= self.sample_weight[:, None]
        return grad_Y_hat.astype(self.Y_hat.dtype, copy=False)


LOSSES = {"squared_error": MSELoss, "poisson": PoissonLoss}
