"""The embedding bag's training step as one compiled loop per minibatch (numba).

The reference step (:meth:`sknotes._training.StochasticLoop.train_step`) slices
``Π`` for the batch, runs the network's nodes one by one through scipy and numpy,
then the optimizers.  For an embedding bag with a linear head or hidden layers
(the estimators' defaults: a (64,) ReLU head beside the linear path),
:class:`CompiledBagStep` does the same arithmetic in one numba loop that
allocates nothing outside its buffers, reading the batch's rows straight from the
whole ``Π`` (CSR ``indptr/indices/data``):

1. gather and pool, the notes' embedding node (:ref:`notes-embedding`):
   ``R = Π·Table``, row by row in ``Π``'s entry order, as scipy's CSR product,
   split as ``[R | R_lin]`` (the head's input, the linear path);
2. the head, :meth:`~sknotes._network.Network.forward`'s chain: per hidden layer
   the notes' linear node ("Brief Summary") ``S = X·W + b`` and activation
   ``Y = Δ(S)`` (:ref:`notes-activations`: ReLU, tanh, the sigmoid, identity),
   then the output layer's ``S = X·W + b`` and the Add node's ``+ R_lin``;
3. the loss gradient, the notes' MSE (block ①): ``grad_Ŷ = 2/n (Ŷ − Y)`` (rows
   scaled by ``wᵢ``), or the classifiers' fused sigmoid or softmax cross-entropy
   (:class:`~sknotes.nodes.SigmoidBinaryCrossEntropy`,
   :class:`~sknotes.nodes.SoftmaxCrossEntropy`): ``grad_S = (P − Y)·w/n``;
4. :meth:`~sknotes._network.Network.backward`'s chain from the old parameters:
   the Add node passes ``grad_R_lin = grad_S`` to the linear path; each linear
   node stores ``grad_W = Xᵀ·grad_S``, ``grad_b = sum(grad_S, axis=0)`` and returns
   ``grad_X = grad_S·Wᵀ``; each hidden activation turns it into its input's
   gradient (``grad_Y·Δ(1 − Δ)``, ``grad_Y·(1 − tanh²)``, ``grad_Y·1[Y > 0]``,
   from the cached output); the first layer's ``grad_X`` is ``grad_R``;
5. the dense optimizer's step (the L2 term ``2c·W`` on every layer's weights
   fused, as :class:`~sknotes.nodes.L2Penalty`), then the scatter of the
   embedding node's ``grad_table = Πᵀ·[grad_R | grad_R_lin]`` into the touched
   rows only (in document order, as scipy's CSC product), the
   :class:`~sknotes.nodes.RowL2Penalty` per-occurrence decay, and the row-sparse
   optimizer's step on those rows.

Same operations, same order as the reference, except the head's sums of products:
the reference hands ``X·W``, ``Xᵀ·grad_S``, ``grad_S·Wᵀ`` and ``sum(grad_S)`` to
OpenBLAS, whose kernels sum in blocks with fused multiply-adds chosen per CPU;
for a linear head this loop sums in index order, and a hidden head's products go
to numba's ``np.dot``, that is to scipy's OpenBLAS build rather than numpy's
(``CompiledBagStep.blas = False`` keeps them in index-order loops).  So results
are identical bit for bit whenever those sums are exact
(tests/test_bag_kernel.py starts from dyadic values, with ReLU or identity
activations) and otherwise agree to rounding.  The sigmoid is the C
library's ``1/(1 + exp(−s))`` on both sides; tanh and softmax's exponential are
numpy's own (SIMD) in the reference and the C library's here, a few ulps apart.
The row losses are reduced by numpy, as the reference's.

Threads (``n_jobs``): several workers, each with its own buffers, run batches of
one epoch at once on the shared table, head and optimizer moments without locks
(Hogwild, as fastText's threads); the kernel releases the GIL.
"""

import numpy as np

from sknotes._kernels import (
    _adam_loop,
    _add_scaled_loop,
    _loops,
    _softmax_cross_entropy_row_loop,
)
from sknotes._optimizers import (
    SGD,
    Adam,
    FrozenColumns,
    RowSparseAdam,
    RowSparseSGD,
)
from sknotes.nodes import MSELoss, SigmoidBinaryCrossEntropy, SoftmaxCrossEntropy

__all__ = ["CompiledBagStep", "compiled_step_support"]

# flags[...] of the kernel
_D, _C, _K, _DENSE_ADAM, _NESTEROV, _TABLE_KIND, _N_FROZEN, _HAS_SW = range(8)
_N_DECAYED, _TABLE_NESTEROV, _TABLE_MOMENTUM, _HAS_PENALTY, _LOSS = range(8, 13)
_ACTIVATION, _BLAS = range(13, 15)
_N_FLAGS = 15
# hyper[...] (in the network's dtype), for the elementwise loops
_LR, _MOMENTUM, _B1, _B2, _1MB1, _1MB2, _EPS, _NEG_STEP, _DECAY, _GRAD_SCALE = range(10)
_T_LR, _T_MOMENTUM, _T_NEG_STEP, _ZERO, _ONE = range(10, 15)
_N_HYPER = 15
# table kinds; loss kinds; hidden activations (sknotes.nodes.ACTIVATIONS' names)
_NO_TABLE, _TABLE_SGD, _TABLE_ADAM = range(3)
_MSE, _SIGMOID, _SOFTMAX = range(3)
_LOSS_KINDS = {MSELoss: _MSE, SigmoidBinaryCrossEntropy: _SIGMOID}
_LOSS_KINDS[SoftmaxCrossEntropy] = _SOFTMAX
_IDENTITY, _RELU, _TANH, _LOGISTIC = range(4)
_ACTIVATIONS = {"identity": _IDENTITY, "relu": _RELU, "tanh": _TANH}
_ACTIVATIONS["logistic"] = _LOGISTIC


def _matrix(flat, start, n_rows, n_columns):
    # A C-contiguous (n_rows, n_columns) view of flat[start:], for np.dot.
    return flat[start : start + n_rows * n_columns].reshape((n_rows, n_columns))


def _linear_forward(X, W, b, S, blas):
    # The notes' linear node ("Brief Summary"): S = X·W + b (b added after the
    # product, as Linear.forward's add_row).
    if blas:
        np.dot(X, W, S)
    else:
        # Row i of S accumulates X[i, j]·W[j] in j's order: the inner loop runs
        # along S's and W's rows and vectorises.
        for i in range(X.shape[0]):
            for o in range(S.shape[1]):
                S[i, o] = 0.0
            for j in range(X.shape[1]):
                x = X[i, j]
                for o in range(S.shape[1]):
                    S[i, o] += x * W[j, o]
    for i in range(S.shape[0]):
        for o in range(S.shape[1]):
            S[i, o] = S[i, o] + b[o]


def _linear_backward(X, W, grad_S, grad_W, grad_b, grad_X, W_T, blas):
    # The notes' linear node ("Brief Summary"): grad_W = Xᵀ·grad_S,
    # grad_b = sum(grad_S, axis=0), grad_X = grad_S·Wᵀ (none when grad_X is
    # empty: the table does not train).
    n, a, u = X.shape[0], X.shape[1], grad_S.shape[1]
    for o in range(u):
        grad_b[o] = 0.0
    for i in range(n):
        for o in range(u):
            grad_b[o] += grad_S[i, o]
    if blas:
        np.dot(X.T, grad_S, grad_W)
        if grad_X.shape[0]:
            np.dot(grad_S, W.T, grad_X)
        return
    for j in range(a):
        for o in range(u):
            grad_W[j, o] = 0.0
    for i in range(n):
        for j in range(a):
            x = X[i, j]
            for o in range(u):
                grad_W[j, o] += x * grad_S[i, o]
    if not grad_X.shape[0]:
        return
    # grad_X[i] accumulates grad_S[i, o]·Wᵀ[o] in o's order, along Wᵀ's rows
    # (a transposed copy: a sum along W's rows would not vectorise).
    for j in range(a):
        for o in range(u):
            W_T[o, j] = W[j, o]
    for i in range(n):
        for j in range(a):
            grad_X[i, j] = 0.0
        for o in range(u):
            g = grad_S[i, o]
            for j in range(a):
                grad_X[i, j] += g * W_T[o, j]


def _activation_forward(S, kind, one):
    # Y = Δ(S) in place, as sknotes.nodes' activations (ReLU as np.maximum(S, 0)
    # for every input, the sigmoid as scipy's expit).
    n, u = S.shape
    if kind == _RELU:
        for i in range(n):
            for o in range(u):
                x = S[i, o]
                S[i, o] = x if x > 0 or x != x else 0.0
    elif kind == _TANH:
        for i in range(n):
            for o in range(u):
                S[i, o] = np.tanh(S[i, o])
    elif kind == _LOGISTIC:
        for i in range(n):
            for o in range(u):
                S[i, o] = one / (one + np.exp(-S[i, o]))


def _activation_backward(grad_Y, Y, kind, one):
    # The notes' activation nodes, from the cached output Y, in place:
    # grad_X = grad_Y·Δ(1 − Δ) (sigmoid), grad_Y·(1 − tanh²), grad_Y·1[Y > 0].
    n, u = Y.shape
    if kind == _RELU:
        for i in range(n):
            for o in range(u):
                grad_Y[i, o] *= Y[i, o] > 0
    elif kind == _TANH:
        for i in range(n):
            for o in range(u):
                grad_Y[i, o] *= one - Y[i, o] * Y[i, o]
    elif kind == _LOGISTIC:
        for i in range(n):
            for o in range(u):
                grad_Y[i, o] = grad_Y[i, o] * Y[i, o] * (one - Y[i, o])


def _loss_rows(S_out, y, batch, sw, row_scale, hyper, has_sw, loss_kind, row_loss):
    # The loss node's row losses (float64) into row_loss and its gradient over
    # the logits or Ŷ in S_out; row i is scored against y[batch[i]].
    scale, zero, one = hyper[_GRAD_SCALE], hyper[_ZERO], hyper[_ONE]
    c = S_out.shape[1]
    for i in range(S_out.shape[0]):
        doc = batch[i]
        row = 0.0
        if loss_kind == _MSE:
            # MSELoss (block ①): grad_Ŷ = 2/n (Ŷ − Y), rows scaled by wᵢ.
            for o in range(c):
                residual = S_out[i, o] - y[doc, o]
                row += np.float64(residual) * np.float64(residual)
                g = residual * scale
                if has_sw:
                    g = g * sw[i]
                S_out[i, o] = g
        elif loss_kind == _SIGMOID:
            # SigmoidBinaryCrossEntropy: softplus(s) − y·s; grad_S = (P − Y)·w/n.
            for o in range(c):
                s = S_out[i, o]
                entry = np.log1p(np.exp(-np.abs(s))) + max(s, zero) - y[doc, o] * s
                row += np.float64(entry)
                p = one / (one + np.exp(-s))
                S_out[i, o] = (p - y[doc, o]) * (row_scale[i] if has_sw else scale)
        else:
            # SoftmaxCrossEntropy: Σy·log Z − Σy·(s − m); grad_S = (P·Σy − Y)·w/n,
            # in place in the row (sknotes._kernels' row loop).
            factor = row_scale[i] if has_sw else scale
            row = _softmax_cross_entropy_row(
                S_out, i, y, doc, factor, zero, S_out, S_out
            )
        row_loss[i] = row


def _dense_optimizer_step(theta, grad, dense_m, dense_v, hyper, n_decayed,
                          dense_adam, nesterov):  # fmt: skip
    # The dense optimizer's step on the flat parameters, the L2 term's
    # grad[:n_decayed] += decay·theta[:n_decayed] fused (sknotes._kernels' loops).
    n_params = theta.shape[0]
    if dense_adam:
        _adam(
            theta, grad, dense_m, dense_v, hyper[_B1], hyper[_B2], hyper[_1MB1],
            hyper[_1MB2], hyper[_NEG_STEP], hyper[_EPS], hyper[_DECAY], n_decayed,
        )  # fmt: skip
        return
    # SGD.step's passes: velocity = momentum·velocity − lr·grad, then the
    # step (Nesterov's: momentum·velocity − lr·grad).
    _add_scaled(grad[:n_decayed], theta[:n_decayed], hyper[_DECAY])
    lr, momentum = hyper[_LR], hyper[_MOMENTUM]
    for q in range(n_params):
        dense_m[q] *= momentum
    _add_scaled(dense_m, grad, -lr)
    if nesterov:
        _add_scaled(theta, dense_m, momentum)
        _add_scaled(theta, grad, -lr)
    else:
        for q in range(n_params):
            theta[q] += dense_m[q]


def _bag_step_loop(indptr, indices, data, batch, y, sw, row_scale, table, theta,
                   grad, dense_m, dense_v, table_m, table_v, hyper, flags, units,
                   colcoef, inverse_df, R, R_lin, hidden, grad_hidden, S, grad_R, W_T,
                   row_loss, position, rows, grad_rows, counts, cast):  # fmt: skip
    # Flags and constants in locals: read from arrays inside the loops they
    # could alias the int64 buffers, and the loops would not vectorise.
    n_batch = batch.shape[0]
    width = table.shape[1]
    d, c, k = flags[_D], flags[_C], flags[_K]
    has_sw, has_penalty = flags[_HAS_SW] != 0, flags[_HAS_PENALTY] != 0
    n_decayed, n_frozen = flags[_N_DECAYED], flags[_N_FROZEN]
    table_kind = flags[_TABLE_KIND]
    dense_adam, nesterov = flags[_DENSE_ADAM] != 0, flags[_NESTEROV] != 0
    table_momentum = flags[_TABLE_MOMENTUM] != 0
    table_nesterov = flags[_TABLE_NESTEROV] != 0
    loss_kind, activation = flags[_LOSS], flags[_ACTIVATION]
    blas = flags[_BLAS] != 0
    n_layers = units.shape[0] - 1
    n_coef = 0
    for layer in range(n_layers):
        n_coef += units[layer] * units[layer + 1]

    # 1. R = Π·Table: each batch row accumulates its entries in order, from 0
    #    (scipy's csr_matvecs), its first d columns in R (the head's input) and
    #    its last k in R_lin (the linear path); the touched rows get compact
    #    positions.
    X = _matrix(R, 0, n_batch, d)
    n_rows = 0
    for i in range(n_batch):
        doc = batch[i]
        for j in range(d):
            X[i, j] = 0.0
        for o in range(k):
            R_lin[i, o] = 0.0
        for p in range(indptr[doc], indptr[doc + 1]):
            col = indices[p]
            a = data[p]
            for j in range(d):
                X[i, j] += a * table[col, j]
            for o in range(k):
                R_lin[i, o] += a * table[col, d + o]
            if position[col] < 0:
                position[col] = n_rows
                rows[n_rows] = col
                n_rows += 1

    # 2. The head, Network.forward's chain: S = X·W + b, Y = Δ(S) for each
    #    hidden layer, then the output layer's S = X·W + b (+ R_lin, the Add
    #    node), the logits or Ŷ, in S.
    zero, one = hyper[_ZERO], hyper[_ONE]
    w_start, b_start, h_start = 0, n_coef, 0
    for layer in range(n_layers):
        a, u = units[layer], units[layer + 1]
        W = _matrix(theta, w_start, a, u)
        b = theta[b_start : b_start + u]
        if layer < n_layers - 1:
            out = _matrix(hidden, h_start, n_batch, u)
            h_start += n_batch * u
        else:
            out = _matrix(S, 0, n_batch, c)
        _linear_forward(X, W, b, out, blas)
        if layer < n_layers - 1:
            _activation_forward(out, activation, one)
        w_start += a * u
        b_start += u
        X = out
    S_out = X
    for i in range(n_batch):
        for o in range(k):
            S_out[i, o] = S_out[i, o] + R_lin[i, o]

    # 3. The loss node's row losses (float64) and its gradient, overwriting S.
    _loss_rows(S_out, y, batch, sw, row_scale, hyper, has_sw, loss_kind, row_loss)

    # 4. Network.backward's chain, all from the old parameters (the step comes
    #    after): the Add node passes grad_S to the head and to R_lin unchanged;
    #    each linear node stores grad_W, grad_b and returns grad_X, through each
    #    hidden activation's backward; the first one's grad_X is grad_R (none
    #    without a table step).
    grad_S = S_out
    grad_R = _matrix(grad_R, 0, n_batch if table_kind != _NO_TABLE else 0, d)
    for layer in range(n_layers - 1, -1, -1):
        a, u = units[layer], units[layer + 1]
        w_start -= a * u
        b_start -= u
        if layer:
            h_start -= n_batch * a
            X = _matrix(hidden, h_start, n_batch, a)
            grad_X = _matrix(grad_hidden, h_start, n_batch, a)
        else:
            X, grad_X = _matrix(R, 0, n_batch, d), grad_R
        _linear_backward(
            X, _matrix(theta, w_start, a, u), grad_S, _matrix(grad, w_start, a, u),
            grad[b_start : b_start + u], grad_X, _matrix(W_T, 0, u, a), blas,
        )  # fmt: skip
        if layer:
            _activation_backward(grad_X, X, activation, one)
        grad_S = grad_X

    # 5a. The dense step, its L2 term fused.
    _dense_optimizer_step(
        theta, grad, dense_m, dense_v, hyper, n_decayed, dense_adam, nesterov
    )

    penalty = 0.0
    if table_kind != _NO_TABLE:
        # 5b. grad_table[rows] = Π[:, rows]ᵀ·grad_R, document by document (scipy's
        #     csc_matvecs), with each row's (weighted) occurrences n_r.
        for q in range(n_rows):
            counts[q] = 0.0
            for j in range(width):
                grad_rows[q, j] = 0.0
        for i in range(n_batch):
            doc = batch[i]
            for p in range(indptr[doc], indptr[doc + 1]):
                q = position[indices[p]]
                a = data[p]
                for j in range(d):
                    grad_rows[q, j] += a * grad_R[i, j]
                for o in range(k):
                    grad_rows[q, d + o] += a * S_out[i, o]
                if has_sw:
                    counts[q] += np.float64(sw[i])
                else:
                    counts[q] += 1.0
        # RowL2Penalty: grad_table[r] += 2c·(N/n)·(n_r/df_r)·T[r], in float64.
        if has_penalty:
            for q in range(n_rows):
                row = rows[q]
                per_row = counts[q] * inverse_df[row]
                for j in range(width):
                    t = np.float64(table[row, j])
                    coefficient = per_row * colcoef[j]
                    penalty += coefficient * t * t
                    cast[0] = coefficient * t
                    grad_rows[q, j] += cast[0]
        # FrozenColumns: the vectors keep still, the linear path trains.
        for q in range(n_rows):
            for j in range(n_frozen):
                grad_rows[q, j] = 0.0
        # 5c. The row-sparse step on the touched rows.
        if table_kind == _TABLE_ADAM:
            # RowSparseAdam: Adam on each touched row, without decay.
            for q in range(n_rows):
                row = rows[q]
                _adam(
                    table[row], grad_rows[q], table_m[row], table_v[row],
                    hyper[_B1], hyper[_B2], hyper[_1MB1], hyper[_1MB2],
                    hyper[_T_NEG_STEP], hyper[_EPS], zero, 0,
                )  # fmt: skip
        else:
            lr, momentum = hyper[_T_LR], hyper[_T_MOMENTUM]
            for q in range(n_rows):
                row = rows[q]
                if not table_momentum:
                    for j in range(width):
                        table[row, j] -= lr * grad_rows[q, j]
                    continue
                for j in range(width):
                    g = grad_rows[q, j]
                    velocity = momentum * table_m[row, j] - lr * g
                    table_m[row, j] = velocity
                    if table_nesterov:
                        velocity = momentum * velocity - lr * g
                    table[row, j] += velocity
    for q in range(n_rows):
        position[rows[q]] = -1
    return n_rows, 0.5 * penalty


def _touched_rows_loop(indptr, indices, batch, position, rows):
    # The distinct rows a batch touches (for the journal, before any write).
    n_rows = 0
    for i in range(batch.shape[0]):
        doc = batch[i]
        for p in range(indptr[doc], indptr[doc + 1]):
            col = indices[p]
            if position[col] < 0:
                position[col] = n_rows
                rows[n_rows] = col
                n_rows += 1
    for q in range(n_rows):
        position[rows[q]] = -1
    return n_rows


# sknotes._kernels' loops, which the step calls: their compiled twins once
# numba compiles the step.
_adam, _add_scaled = _adam_loop, _add_scaled_loop
_softmax_cross_entropy_row = _softmax_cross_entropy_row_loop
_COMPILED = None


def _compiled():
    """The compiled loops, or None without numba (or with it turned off)."""
    global _COMPILED
    if _COMPILED is None:
        loops = _loops()
        if not loops:
            _COMPILED = False
        else:
            import numba

            global _adam, _add_scaled, _matrix, _linear_forward, _linear_backward
            global _activation_forward, _activation_backward
            global _loss_rows, _dense_optimizer_step
            global _softmax_cross_entropy_row
            _adam, _add_scaled = loops.adam, loops.add_scaled
            _softmax_cross_entropy_row = loops.softmax_cross_entropy_row
            jit = numba.njit(cache=loops.cache, nogil=True, error_model="numpy")
            _matrix, _linear_forward = jit(_matrix), jit(_linear_forward)
            _linear_backward = jit(_linear_backward)
            _activation_forward = jit(_activation_forward)
            _activation_backward = jit(_activation_backward)
            _loss_rows = jit(_loss_rows)
            _dense_optimizer_step = jit(_dense_optimizer_step)
            _COMPILED = (jit(_bag_step_loop), jit(_touched_rows_loop))
    return _COMPILED or None


def _unwrap(optimizer):
    """``(row-sparse optimizer, frozen columns)`` of a table optimizer."""
    if isinstance(optimizer, FrozenColumns):
        return optimizer.optimizer, optimizer.n_frozen
    return optimizer, 0


def dense_optimizer_setup(dense, hyper, empty):
    """``(is Adam, Nesterov's, state)`` of a dense optimizer for the kernels'
    ``_dense_optimizer_step``, its constants written into ``hyper``.

    The state is Adam's ``(m, v)``, or SGD's ``(velocity, empty)``.
    """
    if isinstance(dense, Adam):
        steps = dense.steps
        hyper[[_B1, _B2, _1MB1, _1MB2, _EPS]] = (
            steps.beta_1, steps.beta_2, 1.0 - steps.beta_1,
            1.0 - steps.beta_2, steps.epsilon,
        )  # fmt: skip
        return True, False, (dense.m, dense.v)
    hyper[_MOMENTUM] = dense.momentum
    return False, dense.nesterov, (dense.velocity, empty)


def compiled_step_support(network, loss_node, optimizers):
    """Why the compiled step cannot train this network, or None when it can.

    It covers an embedding bag (not 'concat') with a linear head or hidden
    layers of the MLP activations, on the notes' squared error or a
    classifier's cross-entropy, with SGD or Adam.  Anything else trains on the
    reference path.
    """
    dense, table = optimizers
    table, _ = _unwrap(table)
    if _compiled() is None:
        return "numba is not installed (or SKNOTES_NUMBA=0)"
    if network.table is None or network.positions is not None:
        return "no embedding bag (a dense input or 'concat' pooling)"
    if len(network.layer_units) > 2 and network.activation not in _ACTIVATIONS:
        return f"the hidden activation {network.activation!r}"
    if network.out_activation != "identity" or type(loss_node) not in _LOSS_KINDS:
        return "a loss other than the squared error or cross-entropy"
    if type(dense) not in (SGD, Adam) or type(table) not in (
        RowSparseSGD,
        RowSparseAdam,
        type(None),
    ):
        return "an optimizer other than SGD or Adam"
    if table is not None and type(dense) is not {RowSparseSGD: SGD}.get(
        type(table), Adam
    ):
        return "different dense and table optimizers"
    return None


class CompiledBagStep:
    """One worker's compiled train step: ``step(train, indices) -> batch loss``.

    Owns its buffers, so that several workers can run at once (Hogwild).  What
    does not change during a fit (the shapes, the optimizers' kinds and
    constants) is read at the first call of each epoch; what does (the learning
    rate, Adam's step sizes, the loss node's ``n``) at every call.

    Parameters
    ----------
    loop : StochasticLoop
    """

    # A hidden head's products through OpenBLAS (numba's np.dot) or as the
    # kernel's own loops: benchmarks/bench_bag_head.py measures both, and BLAS
    # was the faster for the defaults' (64,) head on 1 and 2 threads.  A linear
    # head (a matrix-vector product) keeps the loops it was measured with.
    blas = True

    def __init__(self, loop):
        self.loop = loop
        self._train = None

    def _setup(self, train, n_batch):
        """Buffers, flags and constants for batches of ``n_batch`` of ``train``."""
        loop, network = self.loop, self.loop.network
        table, dtype = network.table, network.dtype
        Pi = train.inputs
        self._train = train
        self._loss_kind = _LOSS_KINDS[type(loop.loss_node)]
        self._ratio = type(loop.loss_node).sklearn_loss_ratio
        self._empty_1d = np.zeros(0, dtype)
        self._colcoef = {}
        # A batch touches at most the entries of its documents, and never more
        # rows than the table has.
        longest = int(np.diff(Pi.indptr).max(initial=0))
        if self.__dict__.get("position") is None or (
            self.position.shape[0] != table.shape[0]
        ):
            self.position = np.full(table.shape[0], -1, np.int64)
            self.rows = np.empty(table.shape[0], np.int64)
        units = network.layer_units
        width, d, c, k = table.shape[1], units[0], units[-1], network.n_linear
        # The head's matrices are flat buffers: the kernel views each batch's
        # rows as contiguous (n, u) blocks, as np.dot needs them.
        self.units = np.array(units, np.int64)
        self.R = np.empty(n_batch * d, dtype)
        self.R_lin = np.empty((n_batch, k), dtype)
        self.hidden = np.empty(n_batch * sum(units[1:-1]), dtype)
        self.grad_hidden = np.empty_like(self.hidden)
        self.S = np.empty(n_batch * c, dtype)
        self.grad_R = np.empty(n_batch * d, dtype)
        pairs = zip(units[:-1], units[1:], strict=True)
        self.W_T = np.empty(max(a * u for a, u in pairs), dtype)
        self.row_loss = np.empty(n_batch, np.float64)
        self.cast = np.empty(1, dtype)
        n_touched = min(n_batch * longest, table.shape[0])
        self.grad_rows = np.empty((n_touched, width), dtype)
        self.counts = np.empty(n_touched, np.float64)

        dense = loop.dense_optimizer
        table_optimizer, n_frozen = _unwrap(loop.table_optimizer)
        flags = self.flags = np.zeros(_N_FLAGS, np.int64)
        hyper = self.hyper = np.zeros(_N_HYPER, dtype)
        flags[_D] = network.layer_units[0]
        flags[_C] = c
        flags[_K] = network.n_linear
        flags[_N_FROZEN] = n_frozen
        flags[_HAS_SW] = train.sample_weight is not None
        flags[_LOSS] = self._loss_kind
        flags[_ACTIVATION] = _ACTIVATIONS.get(network.activation, _IDENTITY)
        flags[_BLAS] = self.blas and len(units) > 2
        hyper[_ONE] = 1.0
        empty_2d = np.zeros((0, 0), dtype)
        flags[_DENSE_ADAM], flags[_NESTEROV], self._dense_state = dense_optimizer_setup(
            dense, hyper, self._empty_1d
        )
        self._table_state = empty_2d, empty_2d
        if isinstance(table_optimizer, RowSparseAdam):
            flags[_TABLE_KIND] = _TABLE_ADAM
            self._table_state = table_optimizer.m, table_optimizer.v
        elif isinstance(table_optimizer, RowSparseSGD):
            flags[_TABLE_KIND] = _TABLE_SGD
            flags[_TABLE_NESTEROV] = table_optimizer.nesterov
            flags[_TABLE_MOMENTUM] = table_optimizer.velocity is not None
            hyper[_T_MOMENTUM] = table_optimizer.momentum
            if table_optimizer.velocity is not None:
                self._table_state = table_optimizer.velocity, empty_2d
        self._table_optimizer = table_optimizer
        # The row penalty's 1/df is set by the loop's initialize, before training.
        penalty = loop.table_penalty
        flags[_HAS_PENALTY] = penalty is not None and table_optimizer is not None
        self._inverse_df = penalty.inverse_df if flags[_HAS_PENALTY] else np.zeros(0)

    def __call__(self, train, indices):
        n_batch = indices.shape[0]
        if train is not self._train or n_batch > self.R.shape[0]:
            self._setup(train, n_batch)
        loop, network = self.loop, self.loop.network
        flags, hyper = self.flags, self.hyper
        Pi, y, sw = train.inputs, train.y, train.sample_weight

        # The loss node's n (rows, or Σ wᵢ) and what depends on it, computed as
        # the reference's nodes compute them.
        sw_batch = None if sw is None else np.take(sw, indices, axis=0)
        n = n_batch if sw is None else float(sw_batch.sum())
        ratio, mse = self._ratio, self._loss_kind == _MSE
        penalty = loop.penalty
        c = 0.0 if not penalty.alpha or not n else ratio * penalty.alpha / (2.0 * n)
        flags[_N_DECAYED] = penalty.n_penalized if c else 0
        hyper[_DECAY] = 2.0 * c
        dense_penalty = 0.0
        if c:
            W = network.theta[: penalty.n_penalized]
            dense_penalty = c * float(np.dot(W, W))
        # MSELoss's grad_Ŷ = 2/n·(Ŷ − Y); the cross-entropies' (P − Y)·w/n, whose
        # w/n the reference rounds to the dtype per row.
        hyper[_GRAD_SCALE] = ((2.0 if mse else 1.0) / n) if n else 0.0
        row_scale = self._empty_1d
        if sw is not None and not mse:
            row_scale = (sw_batch / n).astype(network.dtype) if n else sw_batch * 0
        if flags[_DENSE_ADAM]:
            hyper[_NEG_STEP] = -loop.dense_optimizer.steps.next_step_size()
        else:
            hyper[_LR] = loop.dense_optimizer.schedule.learning_rate
        table_kind = flags[_TABLE_KIND]
        if table_kind == _TABLE_ADAM:
            hyper[_T_NEG_STEP] = -self._table_optimizer.steps.next_step_size()
        elif table_kind == _TABLE_SGD:
            hyper[_T_LR] = self._table_optimizer.schedule.learning_rate
        colcoef = self._colcoef.get(n)
        if colcoef is None:
            alphas = loop.table_penalty.alphas if flags[_HAS_PENALTY] else np.zeros(0)
            colcoef = self._colcoef[n] = ratio * alphas / n if n else alphas * 0.0

        if loop.journal is not None and table_kind != _NO_TABLE:
            n_rows = _compiled()[1](
                Pi.indptr, Pi.indices, indices, self.position, self.rows
            )
            loop.journal.save(self.rows[:n_rows].copy())
        _, table_penalty_loss = _compiled()[0](
            Pi.indptr, Pi.indices, Pi.data, indices, y,
            self._empty_1d if sw is None else sw_batch, row_scale,
            network.table, network.theta, network.grad, *self._dense_state,
            *self._table_state, hyper, flags, self.units, colcoef, self._inverse_df,
            self.R, self.R_lin, self.hidden, self.grad_hidden, self.S, self.grad_R,
            self.W_T, self.row_loss, self.position, self.rows, self.grad_rows,
            self.counts, self.cast,
        )  # fmt: skip
        # The loss as the loss nodes reduce it (numpy), then the penalties.
        row_loss = self.row_loss[:n_batch]
        if sw is None:
            loss = float(row_loss.sum()) / n
        else:
            loss = float(row_loss @ sw_batch) / n if n else 0.0
        return loss + dense_penalty + table_penalty_loss
