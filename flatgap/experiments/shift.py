"""Translation, measured: shift images with zero fill and see how a classifier's outputs change.

Two pieces:

- :func:`shift_images` moves every image of a batch by (dy, dx) pixels; what leaves the canvas is lost
  and what enters is zero (the background of the course's canvases), so nothing wraps around.
- :func:`shift_robustness` runs a classifier on shifted copies of a test set and reports, per shift,
  the accuracy, the fraction of predictions that did not change, and how far the output probabilities
  moved (mean and maximum absolute change).
- :func:`shifted_predictions` gives the predicted class of every image at every shift, and
  :func:`shift_consistency` Zhang's consistency: how often two shifted copies of an image get the same class;
  :func:`shift_scores` computes both for every final run of an experiment, each reporting seed on its own test resample.

Shapes are channels-last: images (N, H, W, C), probabilities (N, K).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from flatgap._validate import nhwc, size_pair


def _shift_amount(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer number of pixels, got {value!r}")
    return int(value)


def shift_images(images: np.ndarray, dy: int = 0, dx: int = 0) -> np.ndarray:
    """Translate every image by ``dy`` rows (down if positive) and ``dx`` columns (right if positive).

    Pixels shifted past the border are dropped; the vacated rows and columns are filled with zeros.
    Shifting by the full height or width (or more) leaves an all-zero image.

    Args:
        images: (N, H, W, C) array.
        dy: integer shift along H; positive moves content down.
        dx: integer shift along W; positive moves content right.

    Returns:
        A new (N, H, W, C) array of the same dtype.

    Example:
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        >>> shift_images(x, dx=1)[0, :, :, 0]
        array([[0., 0., 1.],
               [0., 3., 4.],
               [0., 6., 7.]], dtype=float32)
    """
    images = nhwc("images", images)
    dy, dx = _shift_amount("dy", dy), _shift_amount("dx", dx)
    height, width = images.shape[1:3]
    out = np.zeros_like(images)
    if abs(dy) >= height or abs(dx) >= width:
        return out
    src_rows = slice(max(0, -dy), height - max(0, dy))
    dst_rows = slice(max(0, dy), height - max(0, -dy))
    src_cols = slice(max(0, -dx), width - max(0, dx))
    dst_cols = slice(max(0, dx), width - max(0, -dx))
    out[:, dst_rows, dst_cols] = images[:, src_rows, src_cols]
    return out


def _as_offsets(shifts) -> list[tuple[int, int]]:
    """Shifts as (dy, dx) pairs: an int k means a horizontal shift (0, k)."""
    if isinstance(shifts, (str, bytes)) or not isinstance(shifts, Sequence) or len(shifts) == 0:
        raise ValueError(f"shifts must be a non-empty sequence of ints or (dy, dx) pairs, got {shifts!r}")
    offsets = []
    for item in shifts:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            offsets.append((_shift_amount("dy", item[0]), _shift_amount("dx", item[1])))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            offsets.append((0, int(item)))
        else:
            raise ValueError(f"each shift must be an int (horizontal) or a (dy, dx) pair of ints, got {item!r}")
    return offsets


def _probabilities(predict, images: np.ndarray) -> np.ndarray:
    if hasattr(predict, "predict"):
        probs = predict.predict(images, verbose=0, batch_size=512)
    elif callable(predict):
        probs = predict(images)
    else:
        raise ValueError(f"predict must be a Keras model or a callable, got {type(predict).__name__}")
    probs = np.asarray(probs)
    if probs.ndim != 2 or len(probs) != len(images):
        raise ValueError(f"predict must return (N, K) probabilities for N={len(images)} images, got shape {probs.shape}")
    return probs


# Images per call of ``predict``: the shifted copies of the test set are classified in groups this large rather than
# one shift at a time. A call has a fixed cost (Keras's ``predict`` sets up its loop; an eager call dispatches every
# layer), which at 450 small images per shift was most of the time: the translation chapter's 64 two-dimensional
# shifts of its 450 test digits took 3.5 s per model one shift per call, 1.0 s in groups of 18 shifts (AMD EPYC, one
# core's worth of work). Each image's outputs do not depend on the others in its batch, so grouping changes nothing
# but the time (the outputs were equal to the last bit in that measurement).
IMAGES_PER_CALL = 8192


def _shifted_probabilities(predict, images: np.ndarray, offsets, reference: np.ndarray):
    """Yield the probabilities of the images shifted by each (dy, dx) of ``offsets``, in order."""
    per_call = max(1, IMAGES_PER_CALL // len(images))
    moved = [offset for offset in offsets if offset != (0, 0)]
    found = {}
    for start in range(0, len(moved), per_call):
        group = moved[start : start + per_call]
        probs = _probabilities(predict, np.concatenate([shift_images(images, dy, dx) for dy, dx in group]))
        if probs.shape != (len(group) * len(images), reference.shape[1]):
            raise ValueError(f"predict returned shape {probs.shape} for {len(group)} shifted copies of {len(images)} "
                             f"images; expected ({len(group) * len(images)}, {reference.shape[1]}), like before")
        found.update(zip(group, np.split(probs, len(group)), strict=True))
    for dy, dx in offsets:
        yield reference if (dy, dx) == (0, 0) else found[dy, dx]


def shift_robustness(
    predict: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    shifts,
) -> dict[str, np.ndarray]:
    """Measure how a classifier's outputs change when its test images are shifted.

    For each shift the images are moved with :func:`shift_images` and classified again; the outputs are
    compared with those on the unshifted images.

    Args:
        predict: a Keras model (its ``predict`` is called quietly) or a callable mapping (N, H, W, C)
            images to (N, K) class probabilities.
        images: (N, H, W, C) unshifted test images.
        labels: (N,) integer true classes.
        shifts: a sequence of ints (horizontal shifts, positive = right) or of (dy, dx) pairs.

    Returns:
        A dict of arrays, one entry per shift, in the order given:

        - ``"shift"``: (S, 2) the (dy, dx) of each shift;
        - ``"accuracy"``: (S,) accuracy on the shifted images;
        - ``"unchanged"``: (S,) fraction of images whose predicted class equals the unshifted prediction;
        - ``"mean_abs_change"``: (S,) mean over images and classes of |p_shifted - p_unshifted|;
        - ``"max_abs_change"``: (S,) the largest such change over all images and classes.

    Example:
        >>> x = np.zeros((2, 6, 6, 1), np.float32); x[:, 2:4, 2:4] = 1
        >>> result = shift_robustness(lambda im: np.stack([im.mean((1, 2, 3)), 1 - im.mean((1, 2, 3))], 1),
        ...                           x, np.array([1, 1]), [0, 1, 2])
        >>> result["unchanged"].tolist(), float(result["max_abs_change"].max())
        ([1.0, 1.0, 1.0], 0.0)
    """
    images = nhwc("images", images)
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},), one class per image, got {labels.shape}")
    offsets = _as_offsets(shifts)
    reference = _probabilities(predict, images)
    reference_class = reference.argmax(axis=1)
    accuracy, unchanged, mean_change, max_change = [], [], [], []
    for probs in _shifted_probabilities(predict, images, offsets, reference):
        predicted = probs.argmax(axis=1)
        change = np.abs(probs - reference)
        accuracy.append(float(np.mean(predicted == labels)))
        unchanged.append(float(np.mean(predicted == reference_class)))
        mean_change.append(float(change.mean()))
        max_change.append(float(change.max()))
    return {
        "shift": np.array(offsets, dtype=np.int64),
        "accuracy": np.array(accuracy),
        "unchanged": np.array(unchanged),
        "mean_abs_change": np.array(mean_change),
        "max_abs_change": np.array(max_change),
    }


def shifted_predictions(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, shifts) -> np.ndarray:
    """The predicted class of every image at every shift: (S, N) integers, shifts in the order given.

    Args:
        predict: a Keras model (its ``predict`` is called quietly) or a callable mapping (N, H, W, C) images to (N, K)
            class scores (for many models, a direct call such as ``lambda x: predict_direct(model, x)`` builds no
            graph per model).
        images: (N, H, W, C) unshifted images.
        shifts: a sequence of ints (horizontal shifts, positive = right) or of (dy, dx) pairs; 0 or (0, 0) is allowed.

    Example:
        >>> x = np.zeros((1, 4, 4, 1), np.float32); x[0, :, 0] = 1  # one image: a bar in the first column
        >>> left_or_right = lambda im: np.stack([im[:, :, :2].sum((1, 2, 3)), im[:, :, 2:].sum((1, 2, 3))], 1)
        >>> shifted_predictions(left_or_right, x, [0, 1, 2]).tolist()  # the bar moves into the right half at 2
        [[0], [0], [1]]
    """
    images = nhwc("images", images)
    offsets = _as_offsets(shifts)
    reference = _probabilities(predict, images)
    return np.stack([probs.argmax(axis=1) for probs in _shifted_probabilities(predict, images, offsets, reference)])


def shift_consistency(predictions) -> float:
    """Zhang's (2019) shift consistency: the fraction of (image, pair of distinct shifts) given the same class.

    Zhang compares two random crops of each image; with the classes at S shifts, every one of the S (S - 1) / 2 pairs
    is compared, and the result is the mean over pairs and images.

    Args:
        predictions: (S, N) predicted classes of N images at S >= 2 shifts (:func:`shifted_predictions`).

    Returns:
        A float in [0, 1]: 1 when every image gets one class at every shift.

    Example:
        >>> shift_consistency(np.array([[1, 2], [1, 3], [1, 2]]))  # image 0: 3 of 3 pairs agree; image 1: 1 of 3
        0.6666666666666666
    """
    predictions = np.asarray(predictions)
    if predictions.ndim != 2 or len(predictions) < 2 or predictions.shape[1] == 0:
        raise ValueError(f"predictions must be (S, N) classes with S >= 2 shifts and N >= 1 images, got shape {predictions.shape}")
    first, second = np.triu_indices(len(predictions), k=1)
    return float((predictions[first] == predictions[second]).mean())


def shift_scores(experiment, images: np.ndarray, labels: np.ndarray, shifts) -> dict[str, dict[str, np.ndarray]]:
    """Accuracy and consistency under shifts of every model of an experiment, per reporting seed.

    Each seed's final run of each model classifies the seed's own resample of the test images
    (:meth:`flatgap.experiments.protocol.Protocol.test_resample` under version 2; the whole split under version 1) at
    every shift, so that the scores are taken on the same images as the runner's test accuracy.

    Args:
        experiment: an :class:`flatgap.experiments.protocol.Experiment` trained on the whole training split (no sizes).
        images: (N, H, W, C) the unshifted test images the experiment was scored on. labels: (N,) their classes.
        shifts: as in :func:`shifted_predictions`; must include the zero shift.

    Returns:
        ``{"by shift": {model: (seeds, S) accuracy at each shift}, "centred accuracy": {model: (seeds,)},
        "shifted accuracy": {model: (seeds,) mean accuracy over the other shifts}, "consistency": {model: (seeds,)}
        (:func:`shift_consistency` over all the shifts)}``, seeds in the protocol's order.
    """
    from flatgap.experiments.sizes import predict_direct

    images, labels = nhwc("images", images), np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},), one class per image, got {labels.shape}")
    offsets = _as_offsets(shifts)
    if (0, 0) not in offsets or len(offsets) < 2:
        raise ValueError(f"shifts must include the zero shift and at least one other, got {shifts!r}")
    if experiment.sizes != [None]:
        raise ValueError("shift_scores needs an experiment trained on the whole training split (no sizes)")
    protocol = experiment.protocol
    centre = offsets.index((0, 0))
    out: dict[str, dict[str, np.ndarray]] = {"by shift": {}, "centred accuracy": {}, "shifted accuracy": {}, "consistency": {}}
    for name in experiment.models:
        by_shift, consistency = [], []
        for seed in protocol.seeds:
            index = protocol.test_resample(labels, seed) if protocol.resample_test else np.arange(len(labels))
            model = experiment.model_of(name, seed)
            predicted = shifted_predictions(lambda x, model=model: predict_direct(model, x, 1024), images[index], offsets)
            by_shift.append((predicted == labels[index]).mean(axis=1))
            consistency.append(shift_consistency(predicted))
        by_shift = np.array(by_shift)
        out["by shift"][name] = by_shift
        out["centred accuracy"][name] = by_shift[:, centre]
        out["shifted accuracy"][name] = np.delete(by_shift, centre, axis=1).mean(axis=1)
        out["consistency"][name] = np.array(consistency)
    return out


def free_shift(boxes: np.ndarray, canvas_size) -> dict[str, int]:
    """How far every object can move in each direction before any of them touches the canvas border.

    Args:
        boxes: (N, 4) boxes (top, left, bottom, right), bottom and right exclusive, as returned by
            :func:`flatgap.data.make_canvases`.
        canvas_size: int or (height, width) of the canvases.

    Returns:
        ``{"up": ..., "down": ..., "left": ..., "right": ...}``: the largest shift in pixels that keeps
        every object fully on the canvas.
    """
    height, width = size_pair("canvas_size", canvas_size)
    boxes = np.asarray(boxes)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise ValueError(f"boxes must have shape (N, 4) with N >= 1, got {boxes.shape}")
    top, left, bottom, right = boxes.T
    if top.min() < 0 or left.min() < 0 or bottom.max() > height or right.max() > width:
        raise ValueError(f"boxes must lie inside the {height}x{width} canvas")
    return {
        "up": int(top.min()),
        "down": int(height - bottom.max()),
        "left": int(left.min()),
        "right": int(width - right.max()),
    }
