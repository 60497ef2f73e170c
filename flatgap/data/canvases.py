"""Generated canvases: objects placed at chosen or random positions on blank canvases of any size.

One object per canvas (a digit, a drawn shape, or any (h, w, 1) image such as a 28x28 Fashion-MNIST item) with its
class label and bounding box, or a few dots to count. Position, size and translation experiments control exactly
where things are. Everything is deterministic from a seed. Shapes follow the channels-last convention (N, H, W, C).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flatgap._validate import non_negative_int, positive_int, size_pair
from flatgap.data.digits import load_digits_nhwc

SHAPE_NAMES = ("square", "disk", "triangle", "cross")
"""Class names of the drawn shapes, in label order (label 0 is ``"square"``)."""


@dataclass(frozen=True)
class CanvasSet:
    """Objects placed on blank canvases.

    Attributes:
        images: (N, H, W, 1) float32 in [0, 1]; background 0.
        labels: (N,) int64 class of each object (digit 0..9, or an index into ``SHAPE_NAMES``).
        boxes: (N, 4) int64 bounding box of each placed patch as (top, left, bottom, right),
            bottom and right exclusive, in canvas pixels.
    """

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray


def draw_shape(name: str, size: int) -> np.ndarray:
    """Draw one filled shape into a square patch.

    Args:
        name: one of ``SHAPE_NAMES``.
        size: side of the patch in pixels, at least 4.

    Returns:
        (size, size) float32 patch with the shape at 1.0 on a 0.0 background.
    """
    if name not in SHAPE_NAMES:
        raise ValueError(f"name must be one of {SHAPE_NAMES}, got {name!r}")
    size = positive_int("size", size)
    if size < 4:
        raise ValueError(f"size must be at least 4 pixels to draw a recognisable shape, got {size}")
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    centre = size / 2
    if name == "square":
        margin = size * 0.15
        mask = (rows > margin) & (rows < size - margin) & (cols > margin) & (cols < size - margin)
    elif name == "disk":
        mask = (rows - centre) ** 2 + (cols - centre) ** 2 <= (size * 0.42) ** 2
    elif name == "triangle":
        # apex at the top centre, base along the bottom
        height = rows / size
        mask = (np.abs(cols - centre) <= height * size * 0.48) & (rows > size * 0.1) & (rows < size * 0.92)
    else:  # cross
        bar = size * 0.16
        mask = (np.abs(rows - centre) <= bar) | (np.abs(cols - centre) <= bar)
        mask &= (rows > size * 0.08) & (rows < size * 0.92) & (cols > size * 0.08) & (cols < size * 0.92)
    return mask.astype(np.float32)


def _object_pool(kind: str, object_scale: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Patches (M, s, s) and their labels (M,) to draw objects from."""
    if kind == "digit":
        if source not in ("train", "test"):
            raise ValueError(f"source must be 'train' or 'test', got {source!r}")
        split = load_digits_nhwc(upscale_factor=object_scale)
        images, labels = (split.x_train, split.y_train) if source == "train" else (split.x_test, split.y_test)
        return images[..., 0], labels
    if kind == "shape":
        side = 8 * object_scale
        patches = np.stack([draw_shape(name, side) for name in SHAPE_NAMES])
        return patches, np.arange(len(SHAPE_NAMES), dtype=np.int64)
    raise ValueError(f"kind must be 'digit' or 'shape', got {kind!r}")


def make_canvases(
    n: int,
    canvas_size=32,
    kind: str = "digit",
    positions=None,
    object_scale: int = 1,
    margin: int = 0,
    source: str = "train",
    seed: int = 0,
) -> CanvasSet:
    """Place one object on each of ``n`` blank canvases.

    Objects are 8x8 digits from scikit-learn (or drawn shapes of the same size), enlarged by
    ``object_scale``, so each patch is (8 * object_scale) pixels square.

    Args:
        n: number of canvases, >= 1.
        canvas_size: int or (height, width) of each canvas; must fit the patch plus the margins.
        kind: ``"digit"`` (labels 0..9) or ``"shape"`` (labels index ``SHAPE_NAMES``).
        positions: ``None`` for uniformly random top-left corners (kept ``margin`` pixels from every
            border), one ``(top, left)`` pair for all canvases, or an (n, 2) integer array of corners.
        object_scale: integer >= 1 enlarging each 8x8 object.
        margin: minimum distance in pixels between a random object and the canvas border.
        source: which split of the digits the objects come from, ``"train"`` or ``"test"``.
        seed: fixes the objects drawn and their positions.

    Returns:
        A :class:`CanvasSet` with images (n, H, W, 1), labels (n,) and boxes (n, 4).

    Example:
        >>> data = make_canvases(4, canvas_size=(20, 30), seed=1)
        >>> data.images.shape, data.boxes.shape
        ((4, 20, 30, 1), (4, 4))
    """
    n = positive_int("n", n)
    height, width = size_pair("canvas_size", canvas_size)
    object_scale = positive_int("object_scale", object_scale)
    margin = non_negative_int("margin", margin)
    seed = non_negative_int("seed", seed)
    patches, pool_labels = _object_pool(kind, object_scale, source)
    side = patches.shape[1]
    free_rows, free_cols = height - side - 2 * margin, width - side - 2 * margin
    if free_rows < 0 or free_cols < 0:
        raise ValueError(
            f"canvas_size {(height, width)} is too small for a {side}x{side} object with margin {margin}: "
            f"it needs at least {side + 2 * margin} pixels each way"
        )
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(patches), size=n)
    if positions is None:
        corners = np.stack(
            [rng.integers(0, free_rows + 1, size=n) + margin, rng.integers(0, free_cols + 1, size=n) + margin], axis=1
        )
    else:
        corners = np.asarray(positions)
        if corners.shape == (2,):
            corners = np.broadcast_to(corners, (n, 2))
        if corners.shape != (n, 2) or not np.issubdtype(corners.dtype, np.integer):
            raise ValueError(f"positions must be None, one (top, left) pair or an ({n}, 2) integer array, got shape {corners.shape}")
        out_of_range = (corners[:, 0] < 0) | (corners[:, 1] < 0) | (corners[:, 0] > height - side) | (corners[:, 1] > width - side)
        if out_of_range.any():
            bad = corners[np.argmax(out_of_range)]
            raise ValueError(
                f"position (top={bad[0]}, left={bad[1]}) puts a {side}x{side} object outside a {height}x{width} canvas"
            )
    images = np.zeros((n, height, width, 1), dtype=np.float32)
    for i, (top, left) in enumerate(corners):
        images[i, top : top + side, left : left + side, 0] = patches[picks[i]]
    boxes = np.concatenate([corners, corners + side], axis=1).astype(np.int64)
    return CanvasSet(images, pool_labels[picks].astype(np.int64), boxes)


def place_at_random(images: np.ndarray, labels: np.ndarray, canvas_size, seed: int = 0, margin: int = 0) -> CanvasSet:
    """Place every image once, at a uniformly random position, on its own blank canvas.

    Unlike :func:`make_canvases`, which draws its objects with replacement, every image given appears exactly once,
    so a training set keeps all of its images (only their position changes).

    Args:
        images: (N, h, w, 1) objects of any size (the 8x8 digits of :func:`load_digits_nhwc`, the 28x28 items of
            :func:`~flatgap.data.fashion_mnist.load_fashion_mnist`). labels: (N,) their classes.
        canvas_size: int or (height, width) of the canvases, at least the object's size plus the margins.
        seed: fixes the positions. margin: minimum distance in pixels between an object and the border.

    Returns:
        A :class:`CanvasSet` with images (N, H, W, 1), the labels and the boxes (N, 4).

    Example:
        >>> split = load_digits_nhwc()
        >>> placed = place_at_random(split.x_test, split.y_test, 12, seed=0)
        >>> placed.images.shape, bool((placed.images.sum(axis=(1, 2, 3)) == split.x_test.sum(axis=(1, 2, 3))).all())
        ((450, 12, 12, 1), True)
    """
    images, labels = np.asarray(images, dtype=np.float32), np.asarray(labels)
    if images.ndim != 4 or images.shape[-1] != 1 or labels.shape != (len(images),) or len(images) == 0:
        raise ValueError(f"images must be (N, h, w, 1) with one label each, got images {images.shape} and labels {labels.shape}")
    height, width = size_pair("canvas_size", canvas_size)
    margin, seed = non_negative_int("margin", margin), non_negative_int("seed", seed)
    side_h, side_w = images.shape[1:3]
    free_rows, free_cols = height - side_h - 2 * margin, width - side_w - 2 * margin
    if free_rows < 0 or free_cols < 0:
        raise ValueError(f"canvas_size {(height, width)} is too small for {side_h}x{side_w} objects with margin {margin}")
    rng = np.random.default_rng(seed)
    corners = np.stack([rng.integers(0, free_rows + 1, len(images)), rng.integers(0, free_cols + 1, len(images))], axis=1) + margin
    canvases = np.zeros((len(images), height, width, 1), np.float32)
    for i, (top, left) in enumerate(corners):
        canvases[i, top : top + side_h, left : left + side_w] = images[i]
    boxes = np.concatenate([corners, corners + [side_h, side_w]], axis=1).astype(np.int64)
    return CanvasSet(canvases, labels.astype(np.int64), boxes)


def quadrant_labels(boxes: np.ndarray, canvas_size) -> np.ndarray:
    """Which quadrant holds each object's centre: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right.

    Args:
        boxes: (N, 4) boxes as (top, left, bottom, right), as returned by :func:`make_canvases`.
        canvas_size: int or (height, width) of the canvases.

    Returns:
        (N,) int64 quadrant labels.
    """
    height, width = size_pair("canvas_size", canvas_size)
    boxes = np.asarray(boxes)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {boxes.shape}")
    centre_row = (boxes[:, 0] + boxes[:, 2]) / 2
    centre_col = (boxes[:, 1] + boxes[:, 3]) / 2
    return ((centre_row >= height / 2).astype(np.int64) * 2 + (centre_col >= width / 2)).astype(np.int64)


def make_counting_canvases(n: int, canvas_size, counts=(1, 2, 3, 4), object_size: int = 1, spacing: int = 4,
                           margin: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Canvases holding a few small filled squares each (dots, by default): the label is how many.

    Each canvas gets a number of squares drawn uniformly from ``counts``, placed one after the other at random
    among the positions still free: any two squares are at least ``spacing`` blank pixels apart (in rows or in
    columns) and every square is at least ``margin`` pixels from every border. Position and canvas size carry no
    information about the label.

    Args:
        n: number of canvases, >= 1.
        canvas_size: int or (height, width).
        counts: the possible numbers of squares, distinct integers >= 0.
        object_size: side of every square in pixels, >= 1 (value 1.0 on a 0.0 background).
        spacing: blank pixels kept between squares, >= 0.
        margin: blank pixels kept between every square and the canvas border, >= 0.
        seed: fixes the counts and the positions.

    Returns:
        ``(images, labels)``: (n, H, W, 1) float32 and (n,) int64, the number of squares on each canvas.

    Example:
        >>> images, labels = make_counting_canvases(3, 12, seed=0)
        >>> images.shape, labels.tolist(), images.sum(axis=(1, 2, 3)).tolist()
        ((3, 12, 12, 1), [4, 3, 3], [4.0, 3.0, 3.0])
    """
    n = positive_int("n", n)
    height, width = size_pair("canvas_size", canvas_size)
    side, spacing = positive_int("object_size", object_size), non_negative_int("spacing", spacing)
    margin, seed = non_negative_int("margin", margin), non_negative_int("seed", seed)
    counts = tuple(non_negative_int("count", c) for c in counts)
    if not counts or len(set(counts)) != len(counts):
        raise ValueError(f"counts must be a non-empty sequence of distinct non-negative integers, got {counts!r}")
    rows, cols = height - side - 2 * margin + 1, width - side - 2 * margin + 1
    if rows < 1 or cols < 1:
        raise ValueError(f"a {side} px square {margin} px from every border does not fit a {height}x{width} canvas")
    rng = np.random.default_rng(seed)
    labels = rng.choice(np.array(counts, dtype=np.int64), size=n)
    images = np.zeros((n, height, width, 1), dtype=np.float32)
    grid_rows, grid_cols = np.mgrid[0:rows, 0:cols]
    for i, count in enumerate(labels):
        for _attempt in range(100):
            free, corners = np.ones((rows, cols), dtype=bool), []
            for _ in range(count):
                if not free.any():
                    break
                top, left = divmod(int(rng.choice(np.flatnonzero(free))), cols)
                corners.append((top, left))
                free &= np.maximum(np.abs(grid_rows - top), np.abs(grid_cols - left)) >= side + spacing
            if len(corners) == count:
                break
        else:
            raise ValueError(f"could not place {count} squares of {side} px, {spacing} px apart and {margin} px from the "
                             f"borders, on a {height}x{width} canvas")
        for top, left in corners:
            images[i, margin + top : margin + top + side, margin + left : margin + left + side, 0] = 1.0
    return images, labels
