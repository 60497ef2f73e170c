"""Feeding a model images of other sizes: resize them, or batch them one size at a time.

- :func:`resize_images` — the honest way to feed a fixed-size model another size;
- :func:`pad_to` — the same images with more empty background around them (zero padding, centred);
- :func:`group_by_size`, :func:`predict_by_size` — a list of mixed-size images, one batch per size;
- :func:`predict_direct` — a model's outputs by calling it directly (no ``tf.function`` retraced per size).

Shapes follow the channels-last convention (N, H, W, C) throughout.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flatgap._validate import positive_int, size_pair


def resize_images(images: np.ndarray, size, method: str = "bilinear") -> np.ndarray:
    """Resize a batch of images to ``size`` (the honest way to feed a fixed-size model other sizes).

    Args:
        images: (N, H, W, C) float array.
        size: int or (height, width) of the output.
        method: ``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"area"`` or another method that
            ``keras.ops.image.resize`` accepts.

    Returns:
        (N, height, width, C) float32 NumPy array (``antialias=True``: shrinking averages, as a camera would).
    """
    import keras

    height, width = size_pair("size", size)
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        shape = getattr(images, "shape", type(images).__name__)
        raise ValueError(f"images must be a NumPy array of shape (N, H, W, C), got {shape}")
    out = keras.ops.image.resize(images.astype(np.float32), (height, width), interpolation=method, antialias=True)
    return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)


def pad_to(images: np.ndarray, size) -> np.ndarray:
    """Zero-pad a batch of images, centred, to a larger canvas: the same object with more background around it.

    Args:
        images: (N, H, W, C) array.
        size: int or (height, width) of the output, at least (H, W).

    Returns:
        (N, height, width, C) array of the input's dtype; the input sits in the middle (an odd margin puts the extra
        row or column at the bottom or right).

    Example:
        >>> pad_to(np.ones((1, 2, 2, 1)), 4)[0, :, :, 0].astype(int).tolist()
        [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    """
    height, width = size_pair("size", size)
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        shape = getattr(images, "shape", type(images).__name__)
        raise ValueError(f"images must be a NumPy array of shape (N, H, W, C), got {shape}")
    if height < images.shape[1] or width < images.shape[2]:
        raise ValueError(f"pad_to makes images larger: {images.shape[1]}×{images.shape[2]} does not fit in {height}×{width}")
    top, left = (height - images.shape[1]) // 2, (width - images.shape[2]) // 2
    return np.pad(images, ((0, 0), (top, height - images.shape[1] - top), (left, width - images.shape[2] - left), (0, 0)))


def group_by_size(images: Sequence[np.ndarray]) -> dict[tuple[int, int], np.ndarray]:
    """Indices of the images of each spatial size, so that each batch holds one size.

    Args:
        images: a list of (H_i, W_i, C) arrays whose sizes may differ.

    Returns:
        ``{(H, W): indices}`` with the indices (int64, ascending) of the images of that size, sizes
        in order of first appearance.
    """
    if len(images) == 0:
        raise ValueError("images is empty: there is nothing to group")
    groups: dict[tuple[int, int], list[int]] = {}
    for index, image in enumerate(images):
        shape = np.shape(image)
        if len(shape) != 3:
            raise ValueError(f"each image must have shape (H, W, C), image {index} has shape {shape}")
        groups.setdefault((int(shape[0]), int(shape[1])), []).append(index)
    return {size: np.asarray(idx, dtype=np.int64) for size, idx in groups.items()}


def predict_by_size(model, images: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
    """Predict a list of images of mixed sizes: one ``predict`` per size, results back in input order.

    Args:
        model: a Keras model whose input accepts every size in ``images`` (for example
            ``Input(shape=(None, None, C))`` and a fully convolutional body with a global-pooling head).
        images: a list of (H_i, W_i, C) arrays.
        batch_size: images per batch within one size.

    Returns:
        (N, outputs) NumPy array, row i for ``images[i]``.
    """
    batch_size = positive_int("batch_size", batch_size)
    groups = group_by_size(images)
    out = None
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            pred = predict_direct(model, np.stack([images[i] for i in chunk]))
            if out is None:
                out = np.empty((len(images),) + pred.shape[1:], dtype=pred.dtype)
            out[chunk] = pred
    return out


def predict_direct(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Outputs of ``model`` for a batch of images, by calling the model (inference mode) in chunks.

    Unlike ``model.predict``, a direct call builds no ``tf.function``, so feeding many different input sizes
    does not retrace a graph for each one (and TensorFlow prints no retracing warnings).

    Args:
        model: a Keras model. images: (N, H, W, C) array of one size. batch_size: images per call.

    Returns:
        float32 NumPy array with one row per image: (N, outputs) for a classifier, (N, h, w, c) for a body.
    """
    import keras

    batch_size = positive_int("batch_size", batch_size)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty array of shape (N, H, W, C), got shape {images.shape}")
    parts = [
        keras.ops.convert_to_numpy(model(images[start : start + batch_size], training=False))
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts).astype(np.float32)
