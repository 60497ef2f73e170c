"""Argument checks shared by the helper modules: each failure is a ValueError in one plain sentence."""

from __future__ import annotations

import numpy as np


def positive_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise ValueError unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise ValueError unless it is an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def size_pair(name: str, value) -> tuple[int, int]:
    """Return (height, width) from an int or a pair of ints, each >= 1."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be an int or a (height, width) pair, got {value!r}")
    return positive_int(f"{name}[0]", value[0]), positive_int(f"{name}[1]", value[1])


def nhwc(name: str, array, channels: int | None = None) -> np.ndarray:
    """Return ``array`` as an ndarray of rank 4 (N, H, W, C), or raise ValueError naming the shape."""
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array of shape (N, H, W, C), got {type(array).__name__}")
    if array.ndim != 4:
        raise ValueError(f"{name} must have shape (N, H, W, C) (rank 4), got shape {array.shape}")
    if channels is not None and array.shape[-1] != channels:
        raise ValueError(f"{name} must have {channels} channel(s) (N, H, W, {channels}), got shape {array.shape}")
    return array
