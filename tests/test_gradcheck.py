"""The public gradient checker accepts right gradients and rejects wrong ones."""

import numpy as np
import pytest

from sknotes import gradcheck
from sknotes.gradcheck import numerical_gradient, relative_error


def test_accepts_the_right_gradient_and_restores_x():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    error = gradcheck(lambda: float(np.sum(np.sin(x))), x, np.cos(x))
    assert error < 1e-8
    np.testing.assert_array_equal(x, before)


def test_rejects_a_wrong_gradient():
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(AssertionError, match="relative error"):
        gradcheck(lambda: float(np.sum(x**2)), x, x)  # the right one is 2x


def test_rejects_float32():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda: float(x.sum()), x, np.ones(3))


def test_numerical_gradient_and_relative_error():
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(
        numerical_gradient(lambda: float(np.sum(x**3)), x), 3 * x**2, rtol=1e-8
    )
    assert relative_error(np.ones(2), np.ones(2)) == 0.0
    assert relative_error(np.ones(2), -np.ones(2)) == pytest.approx(1.0)
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0


def test_x_is_restored_after_a_failed_check_too():
    x = np.array([0.5, -1.5, 2.0])
    before = x.copy()
    with pytest.raises(AssertionError):
        gradcheck(lambda: float(np.sum(np.exp(x))), x, np.exp(x) * 1.01)
    np.testing.assert_array_equal(x, before)


def test_catches_a_small_error_in_one_entry():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    grad = 2 * x
    grad[2, 1] += 1e-3
    with pytest.raises(AssertionError):
        gradcheck(lambda: float(np.sum(x**2)), x, grad)


def test_refuses_a_copy_it_cannot_perturb_in_place():
    x = np.arange(12.0).reshape(3, 4).T  # not C-contiguous: reshape(-1) copies
    with pytest.raises(ValueError, match="^x must be contiguous"):
        numerical_gradient(lambda: float(x.sum()), x)


def test_the_step_and_the_tolerance_are_the_callers():
    x = np.array([1.0, 2.0])
    # A step of 0.1 brings the central difference's error (eps² f‴ / 6) into view.
    with pytest.raises(AssertionError, match="relative error"):
        gradcheck(lambda: float(np.sum(x**3)), x, 3 * x**2, eps=0.1)
    assert gradcheck(lambda: float(np.sum(x**3)), x, 3 * x**2, eps=1e-4) < 1e-6
    # rtol is the largest error accepted: a zero gradient is off by exactly 1.
    assert gradcheck(lambda: float(x.sum()), x, np.zeros(2), rtol=1.0) == 1.0


def test_half_precision_gradients_are_compared_in_float64():
    # Their squared norms overflow float16 (300² > 65504).
    half, full = np.array([300, 400], dtype=np.float16), np.array([300.0, 400.0])
    assert relative_error(half, -full) == pytest.approx(1.0)
    assert relative_error(-full, half) == pytest.approx(1.0)
