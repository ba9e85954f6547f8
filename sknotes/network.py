"""A network: the notes' nodes chained, with every dense parameter in one flat vector.

``Network`` owns the parameters (``theta``) and their gradient (``grad``) as two flat
vectors; each layer's ``W``/``b`` and ``grad_W``/``grad_b`` are views into them, so an
optimizer updates everything with a handful of vectorised operations and
``coefs_``/``intercepts_`` are the live parameters.  An optional :class:`Embedding`
node in front turns a sparse ``Π`` into the first layer's input; its table lives
outside ``theta`` because it is updated one touched row at a time.
"""

import numpy as np

from sknotes.nodes import ACTIVATIONS, Embedding, Linear

__all__ = ["Network", "glorot_bound", "n_parameters", "predict"]


def n_parameters(layer_units):
    """Number of weights and biases of the dense layers ``layer_units``."""
    units = [int(u) for u in layer_units]
    return sum(a * b + b for a, b in zip(units[:-1], units[1:], strict=True))


def glorot_bound(fan_in, fan_out, activation):
    """Half-width of Glorot's uniform initialisation (as scikit-learn's MLP)."""
    factor = 2.0 if activation == "logistic" else 6.0
    return np.sqrt(factor / (fan_in + fan_out))


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
        self._forward_buffers = []
        self._backward_buffers = []
        self._capacity = 0

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
        # Per-batch buffers are allocated once for the largest batch and sliced.
        if n <= self._capacity:
            return
        units = self.layer_units
        self._forward_buffers = [np.empty((n, u), self.dtype) for u in units[1:]]
        # grad_X of each layer's input; none for data.
        self._backward_buffers = [
            None if linear.input_is_data else np.empty((n, u), self.dtype)
            for linear, u in zip(self.linears, units[:-1], strict=True)
        ]
        self._capacity = n

    def forward(self, X):
        """Training forward pass; caches in the nodes what backward needs.

        ``X`` is the data (dense or sparse), or ``Π`` when the network has an
        embedding.  Returns ``Ŷ`` (a view of a reused buffer: copy it to keep it).
        """
        A = X if self.embedding is None else self.embedding.forward(X)
        n = A.shape[0]
        self._reserve(n)
        for linear, activation, buffer in zip(
            self.linears, self.activations, self._forward_buffers, strict=True
        ):
            S = linear.forward(A, out=buffer[:n])
            A = activation.forward(S, out=S)
        return A

    def backward(self, grad_Y_hat):
        """Backward pass from ``grad_Ŷ`` (which it overwrites); fills ``grad``.

        Every node stores its parameters' gradients (``grad_W``/``grad_b`` are views
        of ``grad``; the embedding keeps ``grad_table_rows``).  Returns the gradient
        of the network's input: None for data.
        """
        n = grad_Y_hat.shape[0]
        grad = grad_Y_hat
        for linear, activation, buffer in zip(
            self.linears[::-1],
            self.activations[::-1],
            self._backward_buffers[::-1],
            strict=True,
        ):
            grad_S = activation.backward(grad, out=grad)
            grad = linear.backward(grad_S, out=None if buffer is None else buffer[:n])
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
    A = X
    if table is not None:
        A = Embedding(table, positions).forward(X)
    n_layers = len(coefs)
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        S = Linear(W, b).forward(A)
        name = activation if i < n_layers - 1 else out_activation
        A = ACTIVATIONS[name]().forward(S, out=S)
    return A
