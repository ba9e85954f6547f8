"""A network: the notes' nodes chained, with every dense parameter in one flat vector.

``Network`` owns the parameters (``theta``) and their gradient (``grad``) as two flat
vectors; each layer's ``W``/``b`` and ``grad_W``/``grad_b`` are views into them, so an
optimizer updates everything with a handful of vectorised operations and
``coefs_``/``intercepts_`` are the live parameters.  An optional :class:`Embedding`
node in front turns a sparse ``Π`` into the first layer's input; its table lives
outside ``theta`` because it is updated one touched row at a time.
"""

import numpy as np

from sknotes._kernels import (
    add_row_relu,
    outer_relu_backward_column_sum,
    relu_backward_column_sum,
)
from sknotes.nodes import (
    ACTIVATIONS,
    Add,
    Embedding,
    Linear,
    ReLU,
    _column_sum,
    _matmul,
)

__all__ = ["Network", "glorot_bound", "n_parameters", "predict"]


def n_parameters(layer_units):
    """Number of weights and biases of the dense layers ``layer_units``."""
    units = [int(u) for u in layer_units]
    return sum(a * b + b for a, b in zip(units[:-1], units[1:], strict=True))


def glorot_bound(fan_in, fan_out, activation):
    """Half-width of Glorot's uniform initialisation (as scikit-learn's MLP)."""
    factor = 2.0 if activation == "logistic" else 6.0
    return np.sqrt(factor / (fan_in + fan_out))


def linear_path_width(layer_units, table, positions):
    """Columns of ``table`` beyond the head's inputs: the linear path's ``k``."""
    if table is None or positions is not None:
        return 0
    return table.shape[1] - int(layer_units[0])


def split_linear_path(R, n_linear):
    """``Π·Table = [R | R_lin]`` → ``(R, R_lin)``; ``R_lin`` is None without a path."""
    if not n_linear:
        return R, None
    return np.ascontiguousarray(R[:, :-n_linear]), R[:, -n_linear:]


def _linear_relu_forward(linear, relu, X, out):
    """``linear`` then ``relu`` forward, ``S = X·W + b`` and ``Y = max(S, 0)`` into
    ``out``, with the bias and the max in one pass over ``S``.

    The same values as the two nodes' ``forward``; caches what their ``backward``
    reads (``X`` on the linear node, ``Y`` on the ReLU).
    """
    linear.X = X
    relu.Y = add_row_relu(_matmul(X, linear.W, out=out), linear.b)
    return relu.Y


def _relu_linear_backward(relu, linear, grad_Y, out):
    """``relu`` then ``linear`` backward, with ``grad_b`` summed in the ReLU's pass.

    ``grad_S = grad_Y·1[Y > 0]`` (overwriting ``grad_Y``), then the linear node's
    "Brief Summary" (see :func:`_linear_backward_summed`).  For layers of two or
    more units (see :func:`_fuses`).
    """
    grad_S = relu_backward_column_sum(grad_Y, relu.Y, linear.grad_b)
    return _linear_backward_summed(linear, grad_S, out)


def _linear_backward_summed(linear, grad_S, out):
    """``Linear.backward`` once ``grad_b = sum(grad_S, axis=0)`` is stored.

    Stores ``grad_W = Xᵀ·grad_S``; returns ``grad_X = grad_S·Wᵀ`` (None for data).
    """
    _matmul(linear.X.T, grad_S, out=linear.grad_W)
    if linear.input_is_data:
        return None
    return _matmul(grad_S, linear.W.T, out=out)


def _output_relu_backward(linear, relu, grad_b, grad_S, out):
    """A one-unit output ``linear`` node's backward and the hidden ``relu``'s.

    Stores the output node's ``grad_W = Xᵀ·grad_S`` and ``grad_b =
    sum(grad_S, axis=0)``; its ``grad_X = grad_S·Wᵀ`` (an outer product) is
    written into ``out`` already times the ReLU's mask ``1[Y > 0]``, and its
    column sums into ``grad_b`` (the hidden linear node's), in one pass.
    Returns the hidden linear node's ``grad_S``.
    """
    _matmul(linear.X.T, grad_S, out=linear.grad_W)
    _column_sum(grad_S, out=linear.grad_b)
    return outer_relu_backward_column_sum(
        grad_S[:, 0], linear.W[:, 0], relu.Y, out, grad_b
    )


def _fuses(linear, activation):
    """Whether a hidden (linear, activation) pair takes the fused passes above.

    A ReLU after a layer of two or more units; with one unit the column sum is
    ``Linear.backward``'s (``np.add.reduce`` adds one column pairwise, not in row
    order).
    """
    return type(activation) is ReLU and linear.W.shape[1] > 1


class Network:
    """``[Embedding] → Linear → Δ → … → Linear → output activation``.

    Parameters
    ----------
    layer_units : sequence of int
        ``[n_inputs, hidden_1, …, n_outputs]``.
    activation : str
        Hidden activation, a key of :data:`sknotes.nodes.ACTIVATIONS`.
    out_activation : str
        Output activation (``'identity'`` for squared error, ``'exp'`` for Poisson).
    dtype : numpy dtype
        float32 or float64; parameters, buffers and gradients all use it.
    table : ndarray of shape (w, d), default=None
        Embedding table; when given, the input of :meth:`forward` is ``Π``.
    positions : int, default=None
        Token positions per document for the embedding's ``n × (c·d)`` reshape.

    A table with ``k`` columns more than the first layer's inputs (``d + k``, no
    ``positions``) carries a linear path: ``Π·Table = [R | R_lin]``, ``R`` feeds
    the head and the notes' Add node joins ``R_lin = Π·w`` to the output layer's
    ``S`` before the output activation, ``S_out = head(R) + Π·w``.  Backward, the
    Add node passes ``grad_S_out`` to both, so ``grad_R_lin = grad_S_out`` and
    ``grad_table = Πᵀ·[grad_R | grad_S_out]``: ``w`` is trained row-sparse with
    the table, by the same optimizer.
    """

    def __init__(
        self,
        layer_units,
        activation,
        out_activation,
        dtype,
        table=None,
        positions=None,
    ):
        self.layer_units = [int(u) for u in layer_units]
        self.activation = activation
        self.out_activation = out_activation
        self.dtype = np.dtype(dtype)
        self.theta = np.zeros(n_parameters(self.layer_units), dtype=self.dtype)
        self.table = table
        self.positions = positions
        self._tie()

    # The views, the gradient and the buffers are derived state: rebuilt after
    # unpickling or copying so that coefs_/intercepts_ stay tied to theta.
    def _tie(self):
        self.grad = np.zeros_like(self.theta)
        shapes = list(zip(self.layer_units[:-1], self.layer_units[1:], strict=True))
        # All weights first, then all biases (scikit-learn's packing order), so the
        # L2 penalty applies to one contiguous slice.
        self.n_coef_params = sum(fan_in * fan_out for fan_in, fan_out in shapes)
        self.coefs, self.intercepts, self.grad_coefs, self.grad_intercepts = (
            [],
            [],
            [],
            [],
        )
        start = 0
        for fan_in, fan_out in shapes:
            end = start + fan_in * fan_out
            self.coefs.append(self.theta[start:end].reshape(fan_in, fan_out))
            self.grad_coefs.append(self.grad[start:end].reshape(fan_in, fan_out))
            start = end
        for _, fan_out in shapes:
            end = start + fan_out
            self.intercepts.append(self.theta[start:end])
            self.grad_intercepts.append(self.grad[start:end])
            start = end
        # The first layer's input is data unless an embedding computes it.
        first_is_data = [self.table is None] + [False] * (len(shapes) - 1)
        self.linears = [
            Linear(W, b, gW, gb, input_is_data=is_data)
            for W, b, gW, gb, is_data in zip(
                self.coefs,
                self.intercepts,
                self.grad_coefs,
                self.grad_intercepts,
                first_is_data,
                strict=True,
            )
        ]
        self.activations = [ACTIVATIONS[self.activation]() for _ in shapes[:-1]]
        self.activations.append(ACTIVATIONS[self.out_activation]())
        self.embedding = (
            None if self.table is None else Embedding(self.table, self.positions)
        )
        self.n_linear = linear_path_width(self.layer_units, self.table, self.positions)
        self.add = Add() if self.n_linear else None
        # The (linear, activation) pairs of the hidden layers, in forward and in
        # backward order, and the output layer's pair: built once, not per batch.
        layers = list(zip(self.linears, self.activations, strict=True))
        self._hidden, self._output = layers[:-1], layers[-1]
        self._hidden = [(*pair, _fuses(*pair)) for pair in self._hidden]
        self._hidden_reversed = self._hidden[::-1]
        # A one-unit output after a fused ReLU: its outer product takes the
        # ReLU's mask in the same pass (no linear path joins its grad_S).
        self._fuse_output = (
            bool(self._hidden)
            and self._hidden[-1][2]
            and self.layer_units[-1] == 1
            and not self.n_linear
        )
        self._forward_buffers = []
        self._backward_buffers = []
        self._capacity = 0
        self._views = {}

    def __getstate__(self):
        return {
            key: getattr(self, key)
            for key in (
                "layer_units",
                "activation",
                "out_activation",
                "dtype",
                "theta",
                "table",
                "positions",
            )
        }

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._tie()

    def initialize(self, random_state):
        """Glorot-uniform weights and biases, drawn in scikit-learn's order."""
        for W, b in zip(self.coefs, self.intercepts, strict=True):
            bound = glorot_bound(W.shape[0], W.shape[1], self.activation)
            W[...] = random_state.uniform(-bound, bound, W.shape)
            b[...] = random_state.uniform(-bound, bound, b.shape)

    def load(self, coefs, intercepts):
        """Copy ``coefs``/``intercepts`` (e.g. arrays a user set) into ``theta``."""
        for W, new in zip(self.coefs, coefs, strict=True):
            W[...] = new
        for b, new in zip(self.intercepts, intercepts, strict=True):
            b[...] = new

    def snapshot(self):
        """Copies of the parameters (``theta`` and the table), for :meth:`restore`."""
        table = None if self.table is None else self.table.copy()
        return self.theta.copy(), table

    def restore(self, snapshot):
        """Write parameters saved by :meth:`snapshot` back in place."""
        theta, table = snapshot
        self.theta[...] = theta
        if table is not None:
            self.table[...] = table

    def _reserve(self, n):
        """The buffers of a batch of ``n`` rows, as :meth:`forward` and
        :meth:`backward` walk the layers.

        Allocated once for the largest batch; the views of each batch size are
        kept (an epoch has at most two), so a batch slices nothing.
        """
        views = self._views.get(n)
        if views is not None:
            return views
        if n > self._capacity or len(self._views) > 8:
            # New buffers, or many chunk sizes (partial_fit): forget the old views.
            self._views = {}
        if n > self._capacity:
            units = self.layer_units
            self._forward_buffers = [np.empty((n, u), self.dtype) for u in units[1:]]
            # grad_X of each layer's input; none for data.
            self._backward_buffers = [
                None if linear.input_is_data else np.empty((n, u), self.dtype)
                for linear, u in zip(self.linears, units[:-1], strict=True)
            ]
            self._capacity = n
        forward = [buffer[:n] for buffer in self._forward_buffers]
        backward = [None if b is None else b[:n] for b in self._backward_buffers[::-1]]
        views = self._views[n] = (forward[:-1], forward[-1], backward[0], backward[1:])
        return views

    def forward(self, X):
        """Training forward pass; caches in the nodes what backward needs.

        ``X`` is the data (dense or sparse), or ``Π`` when the network has an
        embedding.  Returns ``Ŷ`` (a view of a reused buffer: copy it to keep it).
        """
        if self.embedding is None:
            A, R_lin = X, None
        else:
            A, R_lin = split_linear_path(self.embedding.forward(X), self.n_linear)
        buffers, output_buffer, _, _ = self._reserve(A.shape[0])
        for (linear, activation, fused), buffer in zip(
            self._hidden, buffers, strict=True
        ):
            if fused:
                A = _linear_relu_forward(linear, activation, A, buffer)
            else:
                S = linear.forward(A, out=buffer)
                A = activation.forward(S, out=S)
        linear, activation = self._output
        S = linear.forward(A, out=output_buffer)
        if R_lin is not None:
            # The Add node joins the linear path before the output activation.
            S[...] = self.add.forward(S, R_lin)
        return activation.forward(S, out=S)

    def backward(self, grad_Y_hat):
        """Backward pass from ``grad_Ŷ`` (which it overwrites); fills ``grad``.

        Every node stores its parameters' gradients (``grad_W``/``grad_b`` are views
        of ``grad``; the embedding keeps ``grad_table_rows``).  Returns the gradient
        of the network's input: None for data.
        """
        _, _, output_buffer, buffers = self._reserve(grad_Y_hat.shape[0])
        linear, activation = self._output
        grad_S = activation.backward(grad_Y_hat, out=grad_Y_hat)
        grad_R_lin = None
        if self.add is not None:
            # The Add node: grad_S_head = grad_R_lin = grad_S_out.
            grad_S, grad_R_lin = self.add.backward(grad_S)
            grad_R_lin = grad_R_lin.copy()
        hidden = self._hidden_reversed
        if self._fuse_output:
            (hidden_linear, relu, _), hidden = hidden[0], hidden[1:]
            grad_S = _output_relu_backward(
                linear, relu, hidden_linear.grad_b, grad_S, output_buffer
            )
            grad = _linear_backward_summed(hidden_linear, grad_S, buffers[0])
            buffers = buffers[1:]
        else:
            grad = linear.backward(grad_S, out=output_buffer)
        for (linear, activation, fused), buffer in zip(hidden, buffers, strict=True):
            if fused:
                grad = _relu_linear_backward(activation, linear, grad, buffer)
            else:
                grad = linear.backward(activation.backward(grad, out=grad), out=buffer)
        if grad_R_lin is not None:
            grad = np.hstack([grad, grad_R_lin])
        if self.embedding is not None:
            # grad of the first linear node's input is the notes' gradient of X_new.
            grad = self.embedding.backward(grad)
        return grad

    def predict(self, X):
        """Stateless forward pass (thread-safe): see :func:`predict`."""
        return predict(
            X,
            self.coefs,
            self.intercepts,
            self.activation,
            self.out_activation,
            table=self.table,
            positions=self.positions,
        )


def predict(
    X, coefs, intercepts, activation, out_activation, table=None, positions=None
):
    """Forward pass with fresh nodes and new arrays, touching no shared cache.

    Parameters are passed explicitly so that estimators predict from their public
    ``coefs_``/``intercepts_`` even after a user reassigns them.
    """
    A, R_lin = X, None
    if table is not None:
        A = Embedding(table, positions).forward(X)
        units = [coefs[0].shape[0], *(W.shape[1] for W in coefs)]
        A, R_lin = split_linear_path(A, linear_path_width(units, table, positions))
    n_layers = len(coefs)
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        S = Linear(W, b).forward(A)
        if i == n_layers - 1 and R_lin is not None:
            S = Add().forward(S, R_lin)
        name = activation if i < n_layers - 1 else out_activation
        A = ACTIVATIONS[name]().forward(S, out=S)
    return A
