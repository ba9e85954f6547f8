"""Output and loss nodes for classifiers, derived as the notes derive block ①.

The full derivations are in ``docs/notes_classification.md``; each docstring below
holds the short form.  Names follow the notes: logits ``S`` (the last linear node's
output), probabilities ``P``, one-hot or indicator targets ``Y``, and the gradients
``grad_S`` and ``grad_P``.

Two ways to chain the output:

- separately, an activation and a loss on probabilities, each with its own
  Jacobian: :class:`Softmax` then :class:`CrossEntropy`, or ``nodes.Sigmoid`` then
  :class:`BinaryCrossEntropy`;
- fused, one node from logits to loss whose backward is the collapsed product of
  the two Jacobians, ``grad_S = (P − Y)·w/n``: :class:`SoftmaxCrossEntropy` and
  :class:`SigmoidBinaryCrossEntropy`.  The estimators train with these; they never
  divide by a probability, so they stay exact where ``P`` saturates.

Every loss node follows ``MSELoss``: ``forward(input, Y, sample_weight=None)``
returns the loss as a float (summed in float64) and sets ``n``, the number of rows,
or ``Σ wᵢ`` with sample weights; the loss is ``Σᵢ wᵢ lossᵢ / n``, where ``lossᵢ``
sums over the columns of row ``i``.  ``backward()`` returns the gradient with
respect to the node's input, a new array each call, in the input's dtype.
"""

import numpy as np
from scipy.special import expit

__all__ = [
    "BinaryCrossEntropy",
    "CrossEntropy",
    "SigmoidBinaryCrossEntropy",
    "Softmax",
    "SoftmaxCrossEntropy",
    "log_sigmoid",
    "log_softmax",
    "softmax",
]


def _shifted_logits(S):
    """``S − max(S, axis=1)``: every entry ≤ 0, so ``e^{·}`` cannot overflow."""
    return np.subtract(S, S.max(axis=1, keepdims=True))


def softmax(S, out=None):
    """Row-wise ``P = e^{S−m} / Σ e^{S−m}`` (``= e^S / Σ e^S``), ``m`` the row max."""
    P = np.subtract(S, S.max(axis=1, keepdims=True), out=out)
    # Logits far below the row's max underflow to probability 0: the right answer.
    with np.errstate(under="ignore"):
        np.exp(P, out=P)
    P /= P.sum(axis=1, keepdims=True)
    return P


def log_softmax(S):
    """Row-wise ``log P = (S − m) − log Σ e^{S−m}`` without forming ``P``."""
    log_P = _shifted_logits(S)
    with np.errstate(under="ignore"):
        log_Z = np.log(np.exp(log_P).sum(axis=1, keepdims=True))
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
        self.P = expit(S)
        self.Y, self.sample_weight = Y, sample_weight
        entry = _log1p_exp_neg_abs(S)
        entry += np.maximum(S, 0)
        entry -= Y * S
        row_loss = entry.sum(axis=1, dtype=np.float64)
        self.n = _n(S.shape[0], sample_weight)
        return _mean(row_loss, sample_weight, self.n)

    def backward(self):
        """Return ``grad_S = (P − Y)·w/n``."""
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
        shifted = _shifted_logits(S)
        with np.errstate(under="ignore"):
            P = np.exp(shifted)
        Z = P.sum(axis=1, keepdims=True)
        P /= Z
        self.P, self.Y, self.sample_weight = P, Y, sample_weight
        self.y_sum = Y.sum(axis=1, dtype=P.dtype)
        row_loss = self.y_sum * np.log(Z[:, 0], dtype=np.float64)
        row_loss -= np.einsum("ij,ij->i", Y, shifted, dtype=np.float64)
        self.n = _n(S.shape[0], sample_weight)
        return _mean(row_loss, sample_weight, self.n)

    def backward(self):
        """Return ``grad_S = (P·Σₖyₖ − Y)·w/n``: ``(P − Y)·w/n`` for one-hot ``Y``."""
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
