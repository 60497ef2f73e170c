"""Train/test splits and class-balanced subsets of labelled images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flatgap._validate import non_negative_int, positive_int


@dataclass(frozen=True)
class ImageSplit:
    """A train/test split of labelled images (the digits, Fashion-MNIST).

    Attributes:
        x_train: (N_train, H, W, 1) float32 in [0, 1].
        y_train: (N_train,) int64 class labels 0..9.
        x_test: (N_test, H, W, 1) float32 in [0, 1].
        y_test: (N_test,) int64 class labels 0..9.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


DigitsSplit = ImageSplit
"""The name :func:`~flatgap.data.digits.load_digits_nhwc`'s split had before Fashion-MNIST shared it."""


def stratified_subset(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` examples with the same number from every class, without replacement.

    Args:
        x: (N, ...) inputs, for example (N, H, W, C) images.
        y: (N,) integer class labels.
        n: size of the subset; a multiple of the number of classes in ``y``, at most ``N``.
        seed: fixes which examples are drawn.

    Returns:
        ``(x_sub, y_sub)``: (n, ...) and (n,), in the order of the original arrays.

    Example:
        >>> x, y = np.arange(20).reshape(20, 1), np.repeat([0, 1], 10)
        >>> xs, ys = stratified_subset(x, y, 4, seed=0)
        >>> xs.shape, np.bincount(ys).tolist()
        ((4, 1), [2, 2])
    """
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"x and y must hold one label per example, got x {x.shape} and y {y.shape}")
    n = positive_int("n", n)
    seed = non_negative_int("seed", seed)
    classes = np.unique(y)
    if n % len(classes):
        raise ValueError(f"n must be a multiple of the number of classes ({len(classes)}), got {n}")
    per_class = n // len(classes)
    smallest = int(np.bincount(np.searchsorted(classes, y)).min())
    if per_class > smallest:
        raise ValueError(
            f"n={n} needs {per_class} examples of every class, but the rarest class has only {smallest}"
        )
    rng = np.random.default_rng(seed)
    picks = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in classes])
    picks.sort()
    return x[picks], y[picks]
