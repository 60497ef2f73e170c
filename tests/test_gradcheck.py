"""flatgap.reference.gradcheck: the numerical gradient and the relative error used by every gradient check."""

from __future__ import annotations

import numpy as np
import pytest

from flatgap.reference.gradcheck import numerical_gradient, relative_error


def test_numerical_gradient_of_known_functions():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    original = x.copy()
    assert relative_error(numerical_gradient(lambda v: float(np.sum(v**2)), x), 2 * x) < 1e-9
    assert relative_error(numerical_gradient(lambda v: float(np.sum(np.sin(v))), x), np.cos(x)) < 1e-9
    assert np.array_equal(x, original)  # perturbed in place, then restored


def test_numerical_gradient_sees_a_wrong_backward_pass():
    x = np.random.default_rng(0).normal(size=(3, 4))
    w = np.random.default_rng(1).normal(size=(4, 2))
    dout = np.random.default_rng(2).normal(size=(3, 2))
    numeric = numerical_gradient(lambda v: float(np.sum((v @ w) * dout)), x)
    right = dout @ w.T
    assert relative_error(numeric, right) < 1e-9
    assert relative_error(numeric, 2 * right) > 0.3  # a factor of 2 off is caught
    assert relative_error(numeric, right[::-1]) > 1e-2  # and so are rows swapped


def test_relative_error_values():
    a = np.array([1.0, 2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(a, -a) == pytest.approx(1.0)
    assert relative_error(a, a * (1 + 1e-6)) == pytest.approx(5e-7, rel=1e-3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="x must be a float64 NumPy array"):
        numerical_gradient(lambda v: 0.0, np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="x must be a float64 NumPy array"):
        numerical_gradient(lambda v: 0.0, [1.0, 2.0])
    with pytest.raises(ValueError, match="h must be a positive number"):
        numerical_gradient(lambda v: 0.0, np.zeros(3), h=0)
    with pytest.raises(ValueError, match="f must be a function"):
        numerical_gradient(3.0, np.zeros(3))
    with pytest.raises(ValueError, match="f must return a scalar"):
        numerical_gradient(lambda v: v * 2, np.zeros(3))
    with pytest.raises(ValueError, match="x must be contiguous"):
        numerical_gradient(lambda v: 0.0, np.zeros((4, 4))[:, :2])
    with pytest.raises(ValueError, match=r"a and b must have the same shape, got \(3,\) and \(2,\)"):
        relative_error(np.zeros(3), np.zeros(2))
