"""Finite-difference gradient checking: the proof that a backward is the notes' math."""

import numpy as np

__all__ = ["gradcheck", "numerical_gradient", "relative_error"]


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function ``f`` at the array ``x``.

    ``x`` is perturbed in place, one entry at a time, and restored, so ``f`` may read
    ``x`` through any view (a network's flat parameter vector, a node's weights).

    Parameters
    ----------
    f : callable
        Takes no argument and returns a float computed from the current ``x``.
    x : ndarray of float64
        The point; modified during the call and restored before it returns.
    eps : float, default=1e-6
        The step.

    Returns
    -------
    grad : ndarray of the shape of ``x``
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place.")
    flat_grad = grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        f_plus = f()
        flat[i] = original - eps
        f_minus = f()
        flat[i] = original
        flat_grad[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_error(analytic, numeric):
    """``‖a − n‖ / max(‖a‖ + ‖n‖, tiny)``: 0 for equal gradients, 1 for opposite."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if denominator == 0.0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / denominator)


def gradcheck(f, x, analytic_grad, eps=1e-6, rtol=1e-6):
    """Check an analytic gradient against central finite differences.

    Parameters
    ----------
    f : callable
        Scalar function of the current value of ``x`` (no arguments).
    x : ndarray of float64
        The point, perturbed in place and restored.
    analytic_grad : ndarray of the shape of ``x``
        The gradient a backward pass produced.
    eps : float, default=1e-6
        Finite-difference step.
    rtol : float, default=1e-6
        Largest accepted :func:`relative_error`.

    Returns
    -------
    error : float
        The relative error.

    Raises
    ------
    AssertionError
        If the relative error exceeds ``rtol``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknotes.gradcheck import gradcheck
    >>> x = np.array([1.0, -2.0])
    >>> gradcheck(lambda: float(np.sum(x**3)), x, 3 * x**2) < 1e-6
    True
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradcheck needs float64 parameters, got {x.dtype}.")
    numeric = numerical_gradient(f, x, eps=eps)
    error = relative_error(analytic_grad, numeric)
    if not error <= rtol:
        raise AssertionError(
            f"Gradient check failed: relative error {error:.3e} > rtol={rtol:.1e}."
        )
    return error
