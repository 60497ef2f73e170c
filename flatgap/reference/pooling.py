"""flatgap.reference.pooling: code shown in the chapters.

GENERATED FILE — do not edit. Each block below is a ``#@save reference.pooling`` cell of the chapter named above
it; edit the chapter, then run ``make sync`` (``python tools/sync_saved.py --write``).
"""


# ---- from chapters/beyond_two_heads/pooling_family.ipynb ------------------------------------------------------

import numpy as np

from flatgap.reference.layers import _check_array


def adaptive_windows(size, cells):
    """The windows of adaptive pooling along one axis: ``cells`` pairs (start, stop), stop exclusive.

    Window ``i`` covers positions ``floor(i * size / cells)`` to ``ceil((i + 1) * size / cells) - 1`` (the rule of
    PyTorch's ``AdaptiveAvgPool2d`` and Keras's ``AdaptiveAveragePooling2D``): every position is in some window,
    and neighbouring windows share a position when ``cells`` does not divide ``size``.

    Args:
        size: number of positions along the axis (H or W), >= 1.
        cells: number of output cells along the axis, >= 1 (it may exceed ``size``: windows then repeat).

    Returns:
        A list of ``cells`` tuples ``(start, stop)`` with ``0 <= start < stop <= size``.
    """
    for name, value in (("size", size), ("cells", cells)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"adaptive_windows: {name} must be a positive integer, got {value!r}")
    return [(i * size // cells, -(-(i + 1) * size // cells)) for i in range(cells)]


def _grid(fn, output_size):
    """(rows, cols) from an int k (a k x k grid) or a pair of positive ints."""
    grid = (output_size, output_size) if isinstance(output_size, (int, np.integer)) else output_size
    if not isinstance(grid, (tuple, list)) or len(grid) != 2 or any(
        isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 1 for g in grid
    ):
        raise ValueError(f"{fn}: output_size must be a positive int or a (rows, cols) pair of them, got {output_size!r}")
    return int(grid[0]), int(grid[1])


def adaptive_avg_pool_forward(x, output_size):
    """Adaptive average pooling forward pass: the mean of every cell of a rows x cols grid of windows.

    Args:
        x: input of shape (N, H, W, C).
        output_size: int k (a k x k grid) or (rows, cols).

    Returns:
        (out, cache): out of shape (N, rows, cols, C), where out[n, i, j, c] is the mean of x[n, r0:r1, c0:c1, c]
        for (r0, r1) = adaptive_windows(H, rows)[i] and (c0, c1) = adaptive_windows(W, cols)[j]; cache is
        (x.shape, row windows, column windows).
    """
    _check_array("adaptive_avg_pool_forward", "x", x, 4, "(N, H, W, C)")
    rows, cols = _grid("adaptive_avg_pool_forward", output_size)
    n, h, w, c = x.shape
    row_windows, col_windows = adaptive_windows(h, rows), adaptive_windows(w, cols)
    out = np.empty((n, rows, cols, c), dtype=x.dtype)
    for i, (r0, r1) in enumerate(row_windows):
        for j, (c0, c1) in enumerate(col_windows):
            out[:, i, j, :] = x[:, r0:r1, c0:c1, :].mean(axis=(1, 2))
    return out, (x.shape, row_windows, col_windows)


def adaptive_avg_pool_backward(dout, cache):
    """Adaptive average pooling backward pass: each cell's gradient spread evenly over its window.

    Args:
        dout: upstream gradient of shape (N, rows, cols, C).
        cache: (x.shape, row windows, column windows) from :func:`adaptive_avg_pool_forward`.

    Returns:
        dx of shape (N, H, W, C): every position gets dout[n, i, j, c] / (window area) from each cell (i, j)
        whose window holds it (one cell, or two to four where windows overlap).
    """
    x_shape, row_windows, col_windows = cache
    expected = (x_shape[0], len(row_windows), len(col_windows), x_shape[3])
    if not isinstance(dout, np.ndarray) or dout.shape != expected:
        raise ValueError(f"adaptive_avg_pool_backward: dout must have shape {expected}, got {getattr(dout, 'shape', dout)}")
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i, (r0, r1) in enumerate(row_windows):
        for j, (c0, c1) in enumerate(col_windows):
            dx[:, r0:r1, c0:c1, :] += dout[:, i : i + 1, j : j + 1, :] / ((r1 - r0) * (c1 - c0))
    return dx


# ---- from chapters/beyond_two_heads/global_poolings.ipynb -----------------------------------------------------

def global_sum_forward(x):
    """Global sum pooling forward pass: the sum of each channel over all H*W positions.

    Args:
        x: input of shape (N, H, W, C).

    Returns:
        out of shape (N, C): out[n, c] = sum over h, w of x[n, h, w, c] (H*W times the GAP output).
    """
    _check_array("global_sum_forward", "x", x, 4, "(N, H, W, C)")
    return x.sum(axis=(1, 2))


def global_avgmax_forward(x):
    """Average and maximum of each channel, concatenated (timm's catavgmax, fastai's AdaptiveConcatPool2d).

    Args:
        x: input of shape (N, H, W, C).

    Returns:
        out of shape (N, 2C): out[:, :C] the averages over H*W positions, out[:, C:] the maxima.
    """
    _check_array("global_avgmax_forward", "x", x, 4, "(N, H, W, C)")
    return np.concatenate([x.mean(axis=(1, 2)), x.max(axis=(1, 2))], axis=-1)


def gem_forward(x, p, eps=1e-6):
    """Generalized-mean (GeM) pooling forward pass: (mean over positions of max(x, eps)^p)^(1/p), per channel.

    Args:
        x: input of shape (N, H, W, C).
        p: the exponent, a positive number (1: the average; large: close to the maximum).
        eps: inputs are clamped to at least eps (a fractional power of a negative number is undefined).

    Returns:
        (out, cache): out of shape (N, C); cache is (x, p, eps, the clamped input, the means of its p-th power, out).
    """
    _check_array("gem_forward", "x", x, 4, "(N, H, W, C)")
    if not np.ndim(p) == 0 or not p > 0:
        raise ValueError(f"gem_forward: p must be a positive number, got {p!r}")
    clamped = np.maximum(x, eps)
    means = (clamped**p).mean(axis=(1, 2))
    out = means ** (1.0 / p)
    return out, (x, p, eps, clamped, means, out)


def gem_backward(dout, cache):
    """GeM backward pass: gradients with respect to the input and to the exponent p.

    With m = mean(z^p) over the P = H*W positions (z the clamped input) and y = m^(1/p):
    dy/dz = y * z^(p-1) / (P * m) where x > eps (0 where the clamp is active), and
    dy/dp = y * (mean(z^p * log z) / (p * m) - log(m) / p^2).

    Args:
        dout: upstream gradient of shape (N, C).
        cache: from :func:`gem_forward`.

    Returns:
        (dx, dp): dx of shape (N, H, W, C) and dp, a float (summed over images and channels: p is shared).
    """
    x, p, eps, clamped, means, out = cache
    if dout.shape != out.shape:
        raise ValueError(f"gem_backward: dout must have shape {out.shape}, got {dout.shape}")
    positions = x.shape[1] * x.shape[2]
    scale = (dout * out / (positions * means))[:, None, None, :]
    dx = scale * clamped ** (p - 1) * (x > eps)
    dmeans_dp = (clamped**p * np.log(clamped)).mean(axis=(1, 2))
    dp = float(np.sum(dout * out * (dmeans_dp / (p * means) - np.log(means) / p**2)))
    return dx, dp


def attention_weights(x, v):
    """The attention weights: a softmax over all H*W positions of the scores x[n, h, w, :] . v.

    Args:
        x: input of shape (N, H, W, C).
        v: score weights of shape (C,).

    Returns:
        a of shape (N, H, W): positive, summing to 1 over each image's positions (v = 0: all 1/(H*W)).
    """
    _check_array("attention_weights", "x", x, 4, "(N, H, W, C)")
    if np.shape(v) != (x.shape[-1],):
        raise ValueError(f"attention_weights: v must have shape ({x.shape[-1]},), got {np.shape(v)}")
    scores = np.einsum("nhwc,c->nhw", x, v)
    scores = scores - scores.max(axis=(1, 2), keepdims=True)  # the same softmax, without overflow
    e = np.exp(scores)
    return e / e.sum(axis=(1, 2), keepdims=True)


def attention_pool_forward(x, v):
    """Attention pooling forward pass: the attention-weighted mean of each channel.

    Args:
        x: input of shape (N, H, W, C).
        v: score weights of shape (C,).

    Returns:
        (out, cache): out of shape (N, C), out[n, c] = sum over h, w of a[n, h, w] * x[n, h, w, c] with
        a = attention_weights(x, v); cache is (x, v, a).
    """
    a = attention_weights(x, v)
    return np.einsum("nhw,nhwc->nc", a, x), (x, v, a)


def attention_pool_backward(dout, cache):
    """Attention pooling backward pass: gradients with respect to the input and to the score weights v.

    The input reaches the output twice: directly (weight a) and through the scores. With g[n, h, w] = dout[n] . x[n, h, w],
    the softmax gives the score gradient ds = a * (g - sum over positions of a * g); then dx = a * dout + ds * v and
    dv = sum over images and positions of ds * x.

    Args:
        dout: upstream gradient of shape (N, C).
        cache: (x, v, a) from :func:`attention_pool_forward`.

    Returns:
        (dx, dv): shapes (N, H, W, C) and (C,).
    """
    x, v, a = cache
    if dout.shape != (x.shape[0], x.shape[-1]):
        raise ValueError(f"attention_pool_backward: dout must have shape {(x.shape[0], x.shape[-1])}, got {dout.shape}")
    g = np.einsum("nc,nhwc->nhw", dout, x)
    ds = a * (g - (a * g).sum(axis=(1, 2), keepdims=True))
    dx = a[..., None] * dout[:, None, None, :] + ds[..., None] * v
    return dx, np.einsum("nhw,nhwc->c", ds, x)
