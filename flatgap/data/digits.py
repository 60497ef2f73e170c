"""scikit-learn's bundled handwritten digits (1,797 images of 8x8 pixels, shipped inside the package, no download),
as float32 NHWC arrays in [0, 1] with a fixed stratified train/test split, and the pixel-repeating enlargement."""

from __future__ import annotations

import numpy as np

from flatgap._validate import non_negative_int, positive_int
from flatgap.data.splits import ImageSplit


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge images by an integer factor, repeating each pixel (nearest neighbour).

    Args:
        images: (N, H, W, C) array.
        factor: integer >= 1.

    Returns:
        (N, H * factor, W * factor, C) array of the same dtype; ``factor == 1`` returns the input.
    """
    factor = positive_int("factor", factor)
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        shape = getattr(images, "shape", type(images).__name__)
        raise ValueError(f"images must be an array of shape (N, H, W, C), got {shape}")
    if factor == 1:
        return images
    return images.repeat(factor, axis=1).repeat(factor, axis=2)


def load_digits_nhwc(upscale_factor: int = 1, test_fraction: float = 0.25, seed: int = 0) -> ImageSplit:
    """scikit-learn's bundled digits as float32 NHWC in [0, 1], split into stratified train and test sets.

    No download: the 1,797 images ship inside scikit-learn.

    Args:
        upscale_factor: integer >= 1; each 8x8 image becomes (8 * factor) x (8 * factor).
        test_fraction: share of the images held out for testing, strictly between 0 and 1.
        seed: fixes the split (the default split is the course's fixed split).

    Returns:
        An :class:`~flatgap.data.splits.ImageSplit`; with the defaults, x_train is (1347, 8, 8, 1) and x_test (450, 8, 8, 1).

    Example:
        >>> split = load_digits_nhwc()
        >>> split.x_train.shape, split.x_test.shape
        ((1347, 8, 8, 1), (450, 8, 8, 1))
    """
    upscale_factor = positive_int("upscale_factor", upscale_factor)
    if not isinstance(test_fraction, (float, int)) or isinstance(test_fraction, bool) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number strictly between 0 and 1, got {test_fraction!r}")
    seed = non_negative_int("seed", seed)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, stratify=labels, random_state=seed
    )
    return ImageSplit(
        upscale(np.ascontiguousarray(x_train), upscale_factor),
        y_train,
        upscale(np.ascontiguousarray(x_test), upscale_factor),
        y_test,
    )
