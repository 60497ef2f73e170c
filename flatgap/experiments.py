"""Reusable pieces of the Part III experiments (chapters 11 to 14).

- :func:`stratified_subset` — a training subset with the same number of images from every class.
- :func:`run_size_sweep` — train each head on subsets of several sizes for a fixed number of gradient
  steps (small subsets are repeated so that an epoch is not a handful of steps).
- :func:`curve_band` and :func:`mean_spread` — the mean and spread over seeds of curves and numbers.
- :func:`format_table` — a small aligned text table (no pandas needed).
- :func:`receptive_field` — how far each layer of a Keras body "sees", from kernel sizes, strides
  and pooling.
- :func:`resize_images`, :func:`group_by_size`, :func:`predict_by_size`, :func:`predict_direct` — feeding
  images of other sizes to a model: resize them, or batch them one size at a time.

Shapes follow the channels-last convention (N, H, W, C) throughout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from flatgap._validate import non_negative_int, positive_int, size_pair


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


def repeat_to_length(x: np.ndarray, y: np.ndarray, min_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Repeat a small data set whole until it has at least ``min_length`` examples.

    Training a few dozen images "for 500 epochs" costs Keras a fixed overhead per epoch; repeating the
    set and training fewer, longer epochs takes the same gradient steps for less time.

    Args:
        x: (N, ...) inputs. y: (N,) labels.
        min_length: the repeated set has ``N * ceil(min_length / N)`` examples (at least N).

    Returns:
        ``(x_rep, y_rep)``, each a whole number of copies of the input.
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty with one label per example, got {len(x)} and {len(y)}")
    copies = max(1, math.ceil(positive_int("min_length", min_length) / len(x)))
    if copies == 1:
        return x, y
    return np.concatenate([x] * copies), np.concatenate([y] * copies)


def run_size_sweep(
    build: Callable[[str], object],
    heads: Sequence[str],
    sizes: Sequence[int],
    seeds: Sequence[int],
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    steps: int | Mapping[str, int],
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    steps_per_epoch: int = 128,
    verbose: bool = True,
) -> list[dict]:
    """Train every head on stratified subsets of several sizes, for a fixed number of gradient steps.

    For each size and seed the subset is drawn once (``stratified_subset(..., seed=seed)``) and shared by
    all heads. A run takes ``steps`` steps of ``batch_size`` whatever the size, so small subsets are not
    simply trained less: the subset is repeated whole (:func:`repeat_to_length`) into epochs of at least
    ``steps_per_epoch`` steps, and the step count is rounded up to whole epochs.

    Args:
        build: ``build(head)`` returns a fresh uncompiled model (called after seeding).
        heads: head names. sizes: subset sizes (multiples of the number of classes). seeds: one run each.
        train: (images (N, H, W, C), labels (N,)) to draw the subsets from.
        test: (images, labels) to evaluate on.
        steps: gradient steps per run: one number for every head, or ``{head: steps}`` to give a head
            that converges more slowly a larger budget.
        batch_size, learning_rate: training settings.
        steps_per_epoch: the shortest epoch, in steps (Keras pays a fixed cost per epoch).
        verbose: print one line per run.

    Returns:
        One dict per run: head, size, seed, train_accuracy (on the subset), test_accuracy, gap
        (train minus test accuracy), steps (actually taken), seconds.
    """
    from flatgap.training import accuracy_of, fit_quietly, fresh_model

    if not heads or not sizes or not seeds:
        raise ValueError("heads, sizes and seeds must each name at least one entry")
    if isinstance(steps, Mapping):
        missing = [head for head in heads if head not in steps]
        if missing:
            raise ValueError(f"steps gives no budget for the heads {missing}; it names {sorted(steps)}")
        budget = {head: positive_int(f"steps[{head!r}]", steps[head]) for head in heads}
    else:
        budget = dict.fromkeys(heads, positive_int("steps", steps))
    batch_size = positive_int("batch_size", batch_size)
    steps_per_epoch = positive_int("steps_per_epoch", steps_per_epoch)
    runs, reuse = [], {}
    for size in sizes:
        for seed in seeds:
            x_sub, y_sub = stratified_subset(*train, size, seed=seed)
            x_rep, y_rep = repeat_to_length(x_sub, y_sub, steps_per_epoch * batch_size)
            per_epoch = math.ceil(len(x_rep) / batch_size)
            for head in heads:
                epochs = math.ceil(budget[head] / per_epoch)
                model = fresh_model(build, head, seed, learning_rate, reuse)
                history = fit_quietly(model, x_rep, y_rep, epochs=epochs, batch_size=batch_size, seed=seed)
                train_acc, test_acc = accuracy_of(model, x_sub, y_sub), accuracy_of(model, *test)
                runs.append(
                    {
                        "head": head,
                        "size": int(size),
                        "seed": seed,
                        "train_accuracy": train_acc,
                        "test_accuracy": test_acc,
                        "gap": train_acc - test_acc,
                        "steps": epochs * per_epoch,
                        "seconds": history["seconds"],
                    }
                )
                if verbose:
                    print(
                        f"{head:>16} n={size:<4} seed {seed}: train {train_acc:.3f}  test {test_acc:.3f}"
                        f"  ({epochs * per_epoch} steps, {history['seconds']:.1f} s)"
                    )
    return runs


def mean_spread(values) -> dict[str, float]:
    """Mean, standard deviation, minimum and maximum of a 1-D sequence of numbers."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence of numbers, got shape {array.shape}")
    return {"mean": float(array.mean()), "std": float(array.std()), "min": float(array.min()), "max": float(array.max())}


def curve_band(runs: Sequence[dict], head: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, minimum and maximum over seeds of one per-epoch curve of one head.

    Args:
        runs: the dicts returned by ``flatgap.training.run_over_seeds`` (each with a ``"history"``).
        head: which head. key: a history key such as ``"accuracy"`` or ``"val_accuracy"``.

    Returns:
        ``(mean, low, high)``, each (epochs,).
    """
    curves = [run["history"][key] for run in runs if run["head"] == head and key in run.get("history", {})]
    if not curves:
        heads = sorted({run["head"] for run in runs})
        raise ValueError(f"no run of head {head!r} has a {key!r} curve; heads present: {heads}")
    array = np.asarray(curves, dtype=float)
    return array.mean(axis=0), array.min(axis=0), array.max(axis=0)


def format_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """An aligned plain-text table: the first column left-aligned, the others right-aligned.

    Args:
        headers: one title per column.
        rows: sequences of the same length as ``headers``; cells are turned into strings.

    Returns:
        The table as one string (header, a rule, then one line per row).

    Example:
        >>> print(format_table(["head", "acc"], [["gap", "0.95"], ["flatten", "0.97"]]))
        head      acc
        -------  ----
        gap      0.95
        flatten  0.97
    """
    if not headers:
        raise ValueError("headers must name at least one column")
    cells = [[str(h) for h in headers]]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"every row must have {len(headers)} cells, got {len(row)}: {row!r}")
        cells.append([str(c) for c in row])
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def receptive_field(model) -> list[dict]:
    """Receptive field of every convolution and pooling layer of a Keras model.

    For each layer with kernel size k and stride s (dilation d for convolutions), the receptive field
    grows by ``(k_eff - 1) * jump`` where ``k_eff = d * (k - 1) + 1`` and ``jump`` is the product of the
    strides before it; then ``jump *= s``. Other layers (activations, Flatten, global pooling, Dense)
    are skipped: global pooling and Dense see everything.

    Args:
        model: a ``keras.Model`` (only its Conv2D, MaxPooling2D and AveragePooling2D layers count).

    Returns:
        One dict per counted layer, in order: ``name``, ``kernel``, ``stride``, ``rf`` (side of the square
        input window one output unit sees, in input pixels) and ``jump`` (input pixels between
        neighbouring output units).
    """
    import keras

    rows, rf, jump = [], 1, 1
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, stride, dilation = layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0]
            if layer.kernel_size[0] != layer.kernel_size[1] or layer.strides[0] != layer.strides[1]:
                raise ValueError(f"layer {layer.name!r} is not square; receptive_field handles square kernels only")
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            kernel, stride, dilation = layer.pool_size[0], layer.strides[0], 1
        else:
            continue
        rf += dilation * (kernel - 1) * jump
        jump *= stride
        rows.append({"name": layer.name, "kernel": int(kernel), "stride": int(stride), "rf": int(rf), "jump": int(jump)})
    if not rows:
        raise ValueError("model has no Conv2D or pooling layer, so it has no receptive field to compute")
    return rows


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
