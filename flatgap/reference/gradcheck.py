"""Numerical gradient checks for the NumPy layers (CS231n style).

A backward pass is trusted when its gradient matches a centred finite difference of the forward pass:

    df/dx[i] ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)

whose error is O(h^2) plus round-off of order eps * |f| / h. In float64 with h = 1e-6 the two balance
near 1e-10 relative error for smooth functions, so a correct backward pass gives a relative error far
below 1e-7 and a wrong one (a transposed index, a missing factor) gives something near 1.

Example:
    >>> import numpy as np
    >>> x = np.array([1.0, -2.0, 3.0])
    >>> grad = numerical_gradient(lambda v: float(np.sum(v**2)), x)
    >>> relative_error(grad, 2 * x) < 1e-7
    True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Centred-difference gradient of a scalar function of an array.

    ``x`` is perturbed in place one element at a time and restored afterwards, so ``f`` may close over
    it (or over arrays that share its memory); ``x`` holds its original values again on return.

    Args:
        f: function of ``x`` returning a real scalar (to check a layer with array output, use
            ``lambda x: float(np.sum(layer(x) * dout))`` for a fixed random ``dout``).
        x: float64 array of any shape (float32 round-off would swamp the differences).
        h: step, > 0.

    Returns:
        grad, an array of the shape of ``x``: grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h).
    """
    if not callable(f):
        raise ValueError(f"numerical_gradient: f must be a function of x returning a scalar, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        detail = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"numerical_gradient: x must be a float64 NumPy array (float32 is too coarse), got {detail}")
    if isinstance(h, bool) or not isinstance(h, (int, float)) or not h > 0:
        raise ValueError(f"numerical_gradient: h must be a positive number, got {h!r}")
    grad = np.zeros_like(x)
    flat, grad_flat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient: x must be contiguous so it can be perturbed in place")
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + h
        plus = f(x)
        flat[i] = saved - h
        minus = f(x)
        flat[i] = saved
        if np.ndim(plus) != 0 or np.ndim(minus) != 0:
            raise ValueError(f"numerical_gradient: f must return a scalar, got an array of shape {np.shape(plus)}")
        grad_flat[i] = (float(plus) - float(minus)) / (2 * h)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error between two gradients: ||a - b|| / (||a|| + ||b||), Euclidean norms over all elements.

    0 when both are zero; at most 1. Below 1e-7 means the two agree to about seven significant digits.

    Args:
        a, b: arrays of the same shape.

    Returns:
        A float in [0, 1].
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: a and b must have the same shape, got {a.shape} and {b.shape}")
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)
