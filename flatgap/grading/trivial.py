"""Trivial answers, for the variants CI uses to prove that the checkers reject them."""

from __future__ import annotations

import numpy as np


def zeros_like(value):
    """The "zeros of the right shape" answer for any result a solution returns.

    Arrays become arrays of zeros with the same shape and dtype; numbers become 0 of the same type
    (``False`` for a bool); tuples, lists and dicts are converted element by element; a string becomes
    ``""``. Anything else (a Keras model, ``None``) has no zero and becomes ``None``, so for a function
    that builds a model this variant is the same as the ``None`` one.

    Example:
        >>> zeros_like((np.ones((2, 3)), (2, 3), 1.5))
        (array([[0., 0., 0.],
               [0., 0., 0.]]), (0, 0), 0.0)
    """
    if isinstance(value, np.ndarray):
        return np.zeros_like(value)
    if isinstance(value, (bool, np.bool_)):
        return type(value)(False)
    if isinstance(value, (int, float, complex, np.number)):
        return type(value)(0)
    if isinstance(value, str):
        return ""
    if isinstance(value, tuple):
        return tuple(zeros_like(v) for v in value)
    if isinstance(value, list):
        return [zeros_like(v) for v in value]
    if isinstance(value, dict):
        return {k: zeros_like(v) for k, v in value.items()}
    return None
