"""The MLP's training step compiled: one numba loop per minibatch.

The reference step (:meth:`sknotes._training.StochasticLoop.train_step`) gathers
the batch's rows with numpy, runs the network's nodes one by one
(:meth:`~sknotes._network.Network.forward`, the loss node,
:meth:`~sknotes._network.Network.backward`), then the L2 penalty and the dense
optimizer: some sixty numpy calls and Python frames per minibatch, each short.
:class:`CompiledDenseStep` makes the same calls, in the same order, inside one
numba function that allocates nothing outside its buffers:

1. the batch's rows of ``X`` copied into the first layer's input;
2. :meth:`~sknotes._network.Network.forward`'s chain: per layer the notes'
   linear node ("Brief Summary", ② and ③) ``S = X·W + b`` and, for a hidden
   layer, its activation ``Y = Δ(S)`` (:ref:`notes-activations`; ReLU beyond
   them, as scikit-learn's);
3. the loss node's row losses and gradient: the notes' MSE (block ①)
   ``grad_Ŷ = 2/n (Ŷ − Y)`` (rows scaled by ``wᵢ``), or the classifiers' fused
   :class:`~sknotes.nodes.SigmoidBinaryCrossEntropy` and
   :class:`~sknotes.nodes.SoftmaxCrossEntropy`, ``grad_S = (P − Y)·w/n``;
4. :meth:`~sknotes._network.Network.backward`'s chain: each linear node stores
   ``grad_W = Xᵀ·grad_S`` and ``grad_b = sum(grad_S, axis=0)`` and returns
   ``grad_X = grad_S·Wᵀ`` (none for the data); each hidden activation turns it
   into its input's ``grad_S`` (``grad_Y·1[Y > 0]``, ``grad_Y·Δ(1 − Δ)``,
   ``grad_Y·(1 − tanh²)``, from the cached output ``Y``);
5. :class:`~sknotes.nodes.L2Penalty`'s ``c·Σ‖W‖²`` and the dense optimizer's
   step (Adam, or SGD with momentum or Nesterov's), the penalty's gradient
   ``2c·W`` fused into it.

The matrix products are numba's ``np.dot``, that is scipy's OpenBLAS rather
than numpy's (the same kernels on this project's machines; threadpoolctl limits
both), and every other operation is the reference's in the reference's order:
the fused passes of :mod:`sknotes._kernels` where the network takes them (bias
and ReLU, ReLU's backward and ``grad_b``, a one-unit output's outer product),
``grad_b`` as a product with a vector of ones elsewhere, as
:class:`~sknotes.nodes.Linear`'s; the sigmoid is ``1/(1 + exp(−s))`` with the C
library's ``exp`` on both sides (scipy's ``expit``).  So a fit gives the
reference's numbers bit for bit with ReLU, identity or logistic hidden layers
(tests/test_dense_kernel.py).  tanh is not covered: numpy's own (SIMD) tanh
and the C library's are a few ulps apart.  It, and anything else (sparse or
Fortran-ordered ``X``, the Poisson loss, numba missing or off) trains on the
reference step.

Without sample weights an epoch's minibatches go to the compiled loop several
at a time (:meth:`CompiledDenseStep.run_batches`): the Python around a call
(the step size, the loss, the call itself) is then paid once for them, and
steps stay the same, in the same order.
"""

import numpy as np

from sknotes import _bag_kernel as bag
from sknotes._bag_kernel import (
    _DECAY,
    _GRAD_SCALE,
    _LR,
    _MSE,
    _N_HYPER,
    _NEG_STEP,
    _ONE,
    _RELU,
    dense_optimizer_setup,
)
from sknotes._kernels import (
    _add_row_loop,
    _add_row_relu_loop,
    _loops,
    _outer_loop,
    _outer_relu_backward_column_sum_loop,
    _relu_backward_column_sum_loop,
)
from sknotes._optimizers import SGD, Adam
from sknotes._training import run_each_batch

__all__ = ["CompiledDenseStep", "dense_step_support"]

# flags[...] of the kernel
_ACTIVATION, _LOSS, _HAS_SW, _N_DECAYED, _DENSE_ADAM, _NESTEROV = range(6)
_N_FLAGS = 6
# Batches per compiled call of CompiledDenseStep.run_batches: a first Ctrl-C
# (the loop's flag) is read between calls.
_BATCHES_PER_CALL = 32
# Hidden activations it covers.  Not tanh: the kernel's would be the C
# library's, the reference's numpy's own (SIMD), and every fit with tanh would
# change in the last bits.
_ACTIVATIONS = ("identity", "relu", "logistic")


def _column_sum(ones, G, out):
    # sum(G, axis=0) as Linear.backward's _column_sum: the product onesᵀ·G (one
    # column: numpy's matmul takes the dot product of two vectors).
    n = G.shape[0]
    if G.shape[1] == 1:
        out[0] = np.dot(ones[:n], G.reshape(n))
    else:
        np.dot(ones[:n], G, out)


def _dense_step_loop(X, y, batch, sw, row_scale, theta, grad, dense_m,
                     dense_v, hyper, flags, units, ones, forward, backward,
                     row_loss):  # fmt: skip
    # Flags in locals: read from arrays inside the loops they could alias the
    # buffers, and the loops would not vectorise.
    n = batch.shape[0]
    d = X.shape[1]
    activation, loss_kind = flags[_ACTIVATION], flags[_LOSS]
    has_sw, n_decayed = flags[_HAS_SW] != 0, flags[_N_DECAYED]
    dense_adam, nesterov = flags[_DENSE_ADAM] != 0, flags[_NESTEROV] != 0
    one = hyper[_ONE]
    n_layers = units.shape[0] - 1
    n_coef = 0
    for layer in range(n_layers):
        n_coef += units[layer] * units[layer + 1]

    # 1. The batch's rows, the first linear node's X.
    A = _matrix(forward, 0, n, d)
    for i in range(n):
        row = batch[i]
        for j in range(d):
            A[i, j] = X[row, j]

    # 2. Network.forward: S = X·W + b per layer, Y = Δ(S) after each hidden
    #    one (bias and ReLU in one pass, as _network's fused pair); each layer's
    #    output follows its input in `forward`.
    w_start, b_start, a_start = 0, n_coef, 0
    for layer in range(n_layers):
        a, u = units[layer], units[layer + 1]
        W = _matrix(theta, w_start, a, u)
        b = theta[b_start : b_start + u]
        S = _matrix(forward, a_start + n * a, n, u)
        np.dot(_matrix(forward, a_start, n, a), W, S)
        if layer == n_layers - 1:
            _add_row(S, b)
        elif activation == _RELU and u > 1:
            _add_row_relu(S, b)
        else:
            _add_row(S, b)
            _activation_forward(S, activation, one)
        w_start += a * u
        b_start += u
        a_start += n * a
    c = units[n_layers]
    S_out = _matrix(forward, a_start, n, c)

    # 3. The loss node: row losses into row_loss, its gradient over S_out; the
    #    cross-entropies' Σᵢ wᵢ·lossᵢ as their kernels add it.
    _loss_rows(S_out, y, batch, sw, row_scale, hyper, has_sw, loss_kind, row_loss)
    total = 0.0
    if loss_kind != _MSE:
        for i in range(n):
            total += row_loss[i] * np.float64(sw[i]) if has_sw else row_loss[i]

    # 4. Network.backward, from the last layer: grad_W = Xᵀ·grad_S, grad_b =
    #    sum(grad_S, axis=0), grad_X = grad_S·Wᵀ (none for the data), then the
    #    hidden activation's backward turns grad_X (its grad_Y) into grad_S.
    #    `summed`: a fused pass already wrote the layer's grad_b.
    grad_S = S_out
    g_start = 0
    for layer in range(1, n_layers):
        g_start += n * units[layer]
    summed = False
    for layer in range(n_layers - 1, -1, -1):
        a, u = units[layer], units[layer + 1]
        w_start -= a * u
        b_start -= u
        a_start -= n * a
        X_in = _matrix(forward, a_start, n, a)
        W = _matrix(theta, w_start, a, u)
        grad_b = grad[b_start : b_start + u]
        if layer < n_layers - 1:
            Y = _matrix(forward, a_start + n * a, n, u)
            if activation == _RELU and u > 1:
                if not summed:
                    _relu_backward_column_sum(grad_S, Y, grad_b)
            else:
                _activation_backward(grad_S, Y, activation, one)
                _column_sum(ones, grad_S, grad_b)
        else:
            _column_sum(ones, grad_S, grad_b)
        summed = False
        np.dot(X_in.T, grad_S, _matrix(grad, w_start, a, u))
        if layer == 0:
            break
        g_start -= n * a
        grad_X = _matrix(backward, g_start, n, a)
        if u > 1:
            np.dot(grad_S, W.T, grad_X)
        elif activation == _RELU and a > 1:
            # A one-unit layer after a fused ReLU: the outer product grad_S·Wᵀ
            # times the ReLU's mask, and its column sums into the ReLU's
            # layer's grad_b, in one pass (_network's _output_relu_backward).
            _outer_relu_backward_column_sum(
                grad_S[:, 0], W[:, 0], X_in, grad_X,
                grad[b_start - a : b_start],
            )  # fmt: skip
            summed = True
        else:
            _outer(grad_S[:, 0], W[:, 0], grad_X)
        grad_S = grad_X

    # 5. L2Penalty's Σ‖W‖² (before the step), then the step, 2c·W fused.
    squares = 0.0
    if n_decayed:
        squares = np.float64(np.dot(theta[:n_decayed], theta[:n_decayed]))
    _dense_optimizer_step(
        theta, grad, dense_m, dense_v, hyper, n_decayed, dense_adam, nesterov
    )
    return total, squares


def _dense_batches_loop(X, y, batches, n, neg_steps, sw, row_scale, theta, grad,
                        dense_m, dense_v, hyper, flags, units, ones, forward,
                        backward, row_losses, totals, squares):  # fmt: skip
    # _dense_step_loop on batch k = batches[k·n : (k + 1)·n] for every k, in
    # order: its row losses into row_losses[k], its returns into totals[k] and
    # squares[k]; Adam's (negated) step size of batch k from neg_steps[k] (none
    # for SGD, whose learning rate does not change within an epoch).
    for k in range(totals.shape[0]):
        if neg_steps.shape[0]:
            hyper[_NEG_STEP] = neg_steps[k]
        totals[k], squares[k] = _dense_step(
            X, y, batches[k * n : (k + 1) * n], sw, row_scale, theta, grad,
            dense_m, dense_v, hyper, flags, units, ones, forward, backward,
            row_losses[k],
        )  # fmt: skip


# The loops the step calls: their compiled twins once numba compiles it.
_matrix, _activation_forward, _activation_backward = (
    bag._matrix,
    bag._activation_forward,
    bag._activation_backward,
)
_loss_rows, _dense_optimizer_step = bag._loss_rows, bag._dense_optimizer_step
_add_row, _add_row_relu, _outer = _add_row_loop, _add_row_relu_loop, _outer_loop
_relu_backward_column_sum = _relu_backward_column_sum_loop
_outer_relu_backward_column_sum = _outer_relu_backward_column_sum_loop
_dense_step = _dense_step_loop
_COMPILED = None
_COMPILED_BATCHES = None


def _compiled():
    """The compiled step, or None without numba (or with it turned off)."""
    global _COMPILED
    if _COMPILED is None:
        loops = _loops()
        if not loops or bag._compiled() is None:
            _COMPILED = False
        else:
            import numba

            global _matrix, _activation_forward, _activation_backward, _loss_rows
            global _dense_optimizer_step, _add_row, _add_row_relu, _outer
            global _relu_backward_column_sum, _outer_relu_backward_column_sum
            global _column_sum, _dense_step, _COMPILED_BATCHES
            _matrix, _loss_rows = bag._matrix, bag._loss_rows
            _activation_forward = bag._activation_forward
            _activation_backward = bag._activation_backward
            _dense_optimizer_step = bag._dense_optimizer_step
            _add_row, _add_row_relu, _outer = (
                loops.add_row,
                loops.add_row_relu,
                loops.outer,
            )
            _relu_backward_column_sum = loops.relu_backward_column_sum
            _outer_relu_backward_column_sum = loops.outer_relu_backward_column_sum
            jit = numba.njit(cache=loops.cache, nogil=True, error_model="numpy")
            _column_sum = jit(_column_sum)
            _COMPILED = _dense_step = jit(_dense_step_loop)
            _COMPILED_BATCHES = jit(_dense_batches_loop)
    return _COMPILED or None


def dense_step_support(network, loss_node, optimizers):
    """Why the compiled step cannot train this network, or None when it can.

    It covers a plain network (no embedding) of the MLP activations, on the
    notes' squared error or a classifier's cross-entropy, with SGD or Adam.
    The data's form (dense, C-ordered, the network's dtype) is checked per fit.
    """
    if _compiled() is None:
        return "numba is not installed (or SKNOTES_NUMBA=0)"
    if network.table is not None:
        return "an embedding (the bag step's)"
    if network.activation not in _ACTIVATIONS:
        return f"the hidden activation {network.activation!r}"
    if network.out_activation != "identity" or type(loss_node) not in bag._LOSS_KINDS:
        return "a loss other than the squared error or cross-entropy"
    if type(optimizers[0]) not in (SGD, Adam):
        return "an optimizer other than SGD or Adam"
    return None


class CompiledDenseStep:
    """The loop's compiled train step: ``step(train, indices) -> batch loss``.

    What does not change during a fit (the shapes, the optimizer's kind and
    constants) is read when the step first meets the training data; what does
    (the learning rate, Adam's step size) at every call, and what depends on
    the batch's ``n`` (the loss's scale, the penalty's ``c``) when ``n``
    changes.  Data the kernel does not take (sparse, not C-ordered, another
    dtype), and a batch whose weights sum to zero, go to the loop's reference
    :meth:`~sknotes._training.StochasticLoop.train_step`.

    The loop runs an epoch through :meth:`run_batches`: without sample weights,
    up to ``_BATCHES_PER_CALL`` batches of one size per compiled call (the same
    steps, in the same order), so the Python work of a call is paid once for
    them; with weights, one call per batch.

    Parameters
    ----------
    loop : StochasticLoop
    """

    # The products are the network's own matrices: BLAS threads as the caller
    # set them (the bag step, whose products are small, runs on one).
    single_blas_thread = False

    def __init__(self, loop):
        self.loop = loop
        self._train = None
        self._capacity = 0

    def _setup(self, train, n_batch):
        """Buffers, flags and constants for batches of up to ``n_batch`` rows."""
        loop, network = self.loop, self.loop.network
        dtype = network.dtype
        X, y, sw = train.inputs, train.y, train.sample_weight
        self._train = train
        self._takes_data = (
            type(X) is np.ndarray
            and X.flags.c_contiguous
            and X.dtype == dtype
            and type(y) is np.ndarray
            and y.flags.c_contiguous
            and y.dtype == dtype
            and (sw is None or sw.dtype == dtype)
        )
        units = network.layer_units
        self._capacity = n_batch
        self.units = np.array(units, np.int64)
        self.forward = np.empty(n_batch * sum(units), dtype)
        self.backward = np.empty(n_batch * sum(units[1:-1]), dtype)
        self.ones = np.ones(n_batch, dtype)
        self.row_loss = np.empty(n_batch, np.float64)
        self.row_losses = np.empty((_BATCHES_PER_CALL, n_batch), np.float64)
        self.totals = np.empty(_BATCHES_PER_CALL, np.float64)
        self.squares = np.empty(_BATCHES_PER_CALL, np.float64)
        self.neg_steps = np.empty(_BATCHES_PER_CALL, dtype)
        self.chunk = np.empty(_BATCHES_PER_CALL * n_batch, np.intp)
        self._empty = np.zeros(0, dtype)
        self._loss_kind = bag._LOSS_KINDS[type(loop.loss_node)]
        self._ratio = type(loop.loss_node).sklearn_loss_ratio
        flags = self.flags = np.zeros(_N_FLAGS, np.int64)
        hyper = self.hyper = np.zeros(_N_HYPER, dtype)
        flags[_ACTIVATION] = bag._ACTIVATIONS[network.activation]
        flags[_LOSS] = self._loss_kind
        flags[_HAS_SW] = sw is not None
        hyper[_ONE] = 1.0
        dense = loop.dense_optimizer
        flags[_DENSE_ADAM], flags[_NESTEROV], state = dense_optimizer_setup(
            dense, hyper, self._empty
        )
        adam = flags[_DENSE_ADAM]
        self._next_step_size = dense.steps.next_step_size if adam else None
        self._n = None
        # The kernel's arguments after the batch's own (the last: the row losses).
        self._arguments = (
            network.theta, network.grad, *state, hyper, flags, self.units, self.ones,
            self.forward, self.backward, self.row_loss,
        )  # fmt: skip

    def _for_n(self, n):
        """Set what depends on the batch's ``n`` (rows, or Σ wᵢ):
        L2Penalty.forward's ``c`` and the loss's ``2/n`` (MSE) or ``1/n``."""
        penalty, flags, hyper = self.loop.penalty, self.flags, self.hyper
        c = self._ratio * penalty.alpha / (2.0 * n) if penalty.alpha else 0.0
        flags[_N_DECAYED] = penalty.n_penalized if c else 0
        hyper[_DECAY] = 2.0 * c
        hyper[_GRAD_SCALE] = (2.0 if self._loss_kind == _MSE else 1.0) / n
        self._n, self._c = n, c

    def run_batches(self, train, batches, interrupt):
        """Σ loss × batch size over ``batches``, or None when interrupted: what
        :func:`~sknotes._training.run_each_batch` returns with this step.

        Runs of batches of one size (all but an epoch's last) go to the
        compiled loop ``_BATCHES_PER_CALL`` at a time; ``interrupt`` is read
        after each call.
        """
        if not batches:
            return 0.0
        n_batch = batches[0].shape[0]
        if train is not self._train or n_batch > self._capacity:
            self._setup(train, n_batch)
        if train.sample_weight is not None or not self._takes_data:
            return run_each_batch(self, train, batches, interrupt)
        accumulated_loss, start = 0.0, 0
        while start < len(batches):
            n = batches[start].shape[0]
            stop = start + 1
            while (
                stop < len(batches)
                and stop - start < _BATCHES_PER_CALL
                and batches[stop].shape[0] == n
            ):
                stop += 1
            # Each batch's loss added in turn, as run_each_batch adds them.
            for loss in self._run_chunk(train, batches[start:stop], n):
                accumulated_loss += loss * n
            if interrupt.raised:
                return None
            start = stop
        return accumulated_loss

    def _run_chunk(self, train, batches, n):
        """The losses of ``batches`` (each of ``n`` rows, unweighted), trained
        in one compiled call: what one call of the step per batch returns."""
        if n != self._n:
            self._for_n(n)
        c = self.loop.penalty.c = self._c
        m = len(batches)
        if self._next_step_size is not None:
            neg_steps = self.neg_steps[:m]
            neg_steps[:] = [-self._next_step_size() for _ in range(m)]
        else:
            neg_steps = self._empty
            self.hyper[_LR] = self.loop.dense_optimizer.schedule.learning_rate
        totals, squares = self.totals[:m], self.squares[:m]
        chunk = np.concatenate(batches, out=self.chunk[: m * n])
        _COMPILED_BATCHES(
            train.inputs, train.y, chunk, n, neg_steps, self._empty, self._empty,
            *self._arguments[:-1], self.row_losses, totals, squares,
        )  # fmt: skip
        return [
            self._batch_loss(float(totals[k]), self.row_losses[k, :n], n, c, squares[k])
            for k in range(m)
        ]

    def _batch_loss(self, total, row_loss, n, c, squares, sw_batch=None):
        """A batch's loss as the loss node reduces it, then the penalty's."""
        if self._loss_kind != _MSE:
            loss = total / n
        elif sw_batch is None:
            loss = float(np.add.reduce(row_loss)) / n
        else:
            loss = float(row_loss @ sw_batch) / n
        return loss + (c * float(squares) if c else 0.0)

    def __call__(self, train, indices):
        n_batch = indices.shape[0]
        if train is not self._train or n_batch > self._capacity:
            self._setup(train, n_batch)
        sw = train.sample_weight
        if sw is None:
            n, sw_batch, row_scale = n_batch, self._empty, self._empty
        else:
            sw_batch = sw.take(indices)
            n = float(sw_batch.sum())
            row_scale = (sw_batch / n).astype(sw.dtype) if n else None
        if not (self._takes_data and n):
            return self.loop.train_step(*train.batch(indices))
        if n != self._n:
            self._for_n(n)
        c = self.loop.penalty.c = self._c
        if self._next_step_size is not None:
            self.hyper[_NEG_STEP] = -self._next_step_size()
        else:
            self.hyper[_LR] = self.loop.dense_optimizer.schedule.learning_rate
        total, squares = _COMPILED(
            train.inputs, train.y, indices, sw_batch, row_scale, *self._arguments
        )
        row_loss = self.row_loss[:n_batch]
        return self._batch_loss(
            total, row_loss, n, c, squares, None if sw is None else sw_batch
        )
