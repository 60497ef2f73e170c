"""NumPy layers of Part I: Conv2D, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Dense, softmax.

GENERATED FILE — do not edit. Each block below is a ``#@save reference.layers`` cell of the chapter named above
it; edit the chapter, then run ``make sync`` (``python tools/sync_saved.py --write``).
"""


# ---- from chapters/in_numpy/conv2d.ipynb ----------------------------------------------------------------------

import numpy as np


def _check_array(fn: str, name: str, x, rank: int, layout: str) -> np.ndarray:
    """Return ``x`` if it is a NumPy array of rank ``rank``; otherwise raise a ValueError naming ``layout``."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{fn}: {name} must be a NumPy array of shape {layout}, got {type(x).__name__}")
    if x.ndim != rank:
        raise ValueError(f"{fn}: {name} must have shape {layout}, got {x.shape}")
    return x


def conv_output_length(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """Output length and zero padding of one spatial axis of a convolution, with Keras's rules.

    Args:
        size: input length along the axis (H or W).
        kernel: kernel length along the axis (KH or KW).
        stride: step between windows, >= 1.
        padding: ``"valid"`` (no padding: windows must fit) or ``"same"`` (output length ceil(size / stride);
            pad_total = max((out - 1) * stride + kernel - size, 0), the odd pixel going after: bottom or right).

    Returns:
        (out, pad_before, pad_after).
    """
    if padding not in ("valid", "same"):
        raise ValueError(f"conv_output_length: padding must be 'valid' or 'same', got {padding!r}")
    if padding == "valid":
        if size < kernel:
            raise ValueError(f"conv_output_length: a kernel of length {kernel} does not fit an input of length {size} with padding='valid'")
        return (size - kernel) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def _conv_geometry(fn: str, x, w, b, stride, padding) -> tuple[int, int, int, int, int, int]:
    """Validate the arguments of a convolution; return (OH, OW, top, bottom, left, right)."""
    _check_array(fn, "x", x, 4, "(N, H, W, C)")
    _check_array(fn, "w", w, 4, "(KH, KW, C, F)")
    _check_array(fn, "b", b, 1, "(F,)")
    if w.shape[2] != x.shape[3]:
        raise ValueError(f"{fn}: kernel has C={w.shape[2]} input channels but x has C={x.shape[3]} (x {x.shape}, w {w.shape})")
    if b.shape[0] != w.shape[3]:
        raise ValueError(f"{fn}: b must have shape (F,) = ({w.shape[3]},) to match w {w.shape}, got {b.shape}")
    if isinstance(stride, bool) or not isinstance(stride, int | np.integer) or stride < 1:
        raise ValueError(f"{fn}: stride must be a positive integer, got {stride!r}")
    if padding not in ("valid", "same"):
        raise ValueError(f"{fn}: padding must be 'valid' or 'same', got {padding!r}")
    if padding == "valid" and (w.shape[0] > x.shape[1] or w.shape[1] > x.shape[2]):
        raise ValueError(
            f"{fn}: the {w.shape[0]}x{w.shape[1]} kernel does not fit the {x.shape[1]}x{x.shape[2]} input with padding='valid' "
            "(use padding='same' or a larger input)"
        )
    oh, top, bottom = conv_output_length(x.shape[1], w.shape[0], int(stride), padding)
    ow, left, right = conv_output_length(x.shape[2], w.shape[1], int(stride), padding)
    return oh, ow, top, bottom, left, right


def conv2d_forward_loops(x, w, b, stride=1, padding="valid"):
    """Conv2D forward pass with explicit loops: slow, but every multiply-add is in plain sight.

    Args:
        x: input of shape (N, H, W, C).
        w: kernel of shape (KH, KW, C, F).
        b: bias of shape (F,).
        stride: step between windows, a positive int (the same along H and W).
        padding: ``"valid"`` or ``"same"`` (Keras semantics, see :func:`conv_output_length`).

    Returns:
        out of shape (N, OH, OW, F), with out[n, i, j, f] = sum(window * w[..., f]) + b[f].
    """
    oh, ow, top, bottom, left, right = _conv_geometry("conv2d_forward_loops", x, w, b, stride, padding)
    kh, kw, _, f = w.shape
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out = np.zeros((x.shape[0], oh, ow, f), dtype=np.result_type(x, w, b))
    for n in range(x.shape[0]):
        for i in range(oh):
            for j in range(ow):
                window = xp[n, i * stride : i * stride + kh, j * stride : j * stride + kw, :]  # (KH, KW, C)
                for k in range(f):
                    out[n, i, j, k] = np.sum(window * w[:, :, :, k]) + b[k]
    return out


def im2col(xp, kh: int, kw: int, stride: int, oh: int, ow: int) -> np.ndarray:
    """Copy every (KH, KW, C) window of a padded input into one row of a matrix.

    Args:
        xp: padded input of shape (N, Hp, Wp, C).
        kh, kw: window size; stride: step between windows; oh, ow: number of windows down and across.

    Returns:
        cols of shape (N, OH, OW, KH, KW, C), a new C-contiguous array; cols[n, i, j] is the window whose
        top-left corner is xp[n, i * stride, j * stride]. ``cols.reshape(N * OH * OW, KH * KW * C)`` is the
        im2col matrix (a free reshape, no copy).
    """
    _check_array("im2col", "xp", xp, 4, "(N, Hp, Wp, C)")
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))  # (N, Hp-KH+1, Wp-KW+1, C, KH, KW), a view
    windows = windows[:, : stride * (oh - 1) + 1 : stride, : stride * (ow - 1) + 1 : stride]  # keep every stride-th window
    return np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3))  # the one copy: (N, OH, OW, KH, KW, C)


def conv2d_forward(x, w, b, stride=1, padding="valid"):
    """Conv2D forward pass, vectorized: im2col, then one matrix product.

    Args:
        x: input of shape (N, H, W, C).
        w: kernel of shape (KH, KW, C, F).
        b: bias of shape (F,).
        stride: step between windows, a positive int (the same along H and W).
        padding: ``"valid"`` or ``"same"`` (Keras semantics, see :func:`conv_output_length`).

    Returns:
        (out, cache): out of shape (N, OH, OW, F); cache is a dict holding the input shape ``x_shape``,
        the kernel ``w``, the window matrix ``cols`` of shape (N*OH*OW, KH*KW*C), ``stride`` and
        ``pads`` = (top, bottom, left, right), everything :func:`conv2d_backward` needs.
    """
    oh, ow, top, bottom, left, right = _conv_geometry("conv2d_forward", x, w, b, stride, padding)
    kh, kw, c, f = w.shape
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    cols = im2col(xp, kh, kw, int(stride), oh, ow).reshape(-1, kh * kw * c)
    out = (cols @ w.reshape(-1, f) + b).reshape(x.shape[0], oh, ow, f)  # (N*OH*OW, KH*KW*C) @ (KH*KW*C, F)
    cache = {"x_shape": x.shape, "w": w, "cols": cols, "stride": int(stride), "pads": (top, bottom, left, right)}
    return out, cache


def conv2d_backward(dout, cache):
    """Conv2D backward pass.

    Args:
        dout: upstream gradient of shape (N, OH, OW, F).
        cache: the cache returned by :func:`conv2d_forward`.

    Returns:
        (dx, dw, db): gradients of the loss with respect to x (N, H, W, C), w (KH, KW, C, F) and b (F,).
    """
    n, h, wd, c = cache["x_shape"]
    w, cols, stride = cache["w"], cache["cols"], cache["stride"]
    top, bottom, left, right = cache["pads"]
    kh, kw, _, f = w.shape
    _check_array("conv2d_backward", "dout", dout, 4, "(N, OH, OW, F)")
    oh, ow = dout.shape[1], dout.shape[2]
    if dout.shape[0] != n or dout.shape[3] != f or n * oh * ow != cols.shape[0]:
        raise ValueError(f"conv2d_backward: dout must have the forward output's shape (N, OH, OW, F), got {dout.shape}")
    dout2d = dout.reshape(-1, f)
    db = dout2d.sum(axis=0)
    dw = (cols.T @ dout2d).reshape(w.shape)
    dcols = (dout2d @ w.reshape(-1, f).T).reshape(n, oh, ow, kh, kw, c)
    dxp = np.zeros((n, h + top + bottom, wd + left + right, c), dtype=dcols.dtype)
    for di in range(kh):
        for dj in range(kw):
            dxp[:, di : di + stride * (oh - 1) + 1 : stride, dj : dj + stride * (ow - 1) + 1 : stride, :] += dcols[:, :, :, di, dj, :]
    return dxp[:, top : top + h, left : left + wd, :], dw, db


def relu_forward(x):
    """ReLU forward pass: max(x, 0) elementwise.

    Args:
        x: array of any shape, typically (N, H, W, C).

    Returns:
        (out, cache): out has the shape of x; cache is x itself.
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"relu_forward: x must be a NumPy array, got {type(x).__name__}")
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """ReLU backward pass: the gradient flows where the input was positive (0 at and below 0).

    Args:
        dout: upstream gradient, same shape as the forward input.
        cache: the forward input x.

    Returns:
        dx, same shape as x.
    """
    if not isinstance(dout, np.ndarray) or dout.shape != cache.shape:
        raise ValueError(f"relu_backward: dout must have the input's shape {cache.shape}, got {getattr(dout, 'shape', type(dout).__name__)}")
    return dout * (cache > 0)


# ---- from chapters/in_numpy/flatten.ipynb ---------------------------------------------------------------------

def flatten_forward(x):
    """Flatten forward pass: keep the batch axis, lay every other axis out in one row (C order).

    Args:
        x: array of shape (N, H, W, C), or any (N, d1, ..., dk) with k >= 1.

    Returns:
        (out, cache): out of shape (N, H*W*C), element [n, (h*W + w)*C + c] = x[n, h, w, c]; it is a view of x
        (no copy) when x is C-contiguous. cache is the input shape.
    """
    if not isinstance(x, np.ndarray) or x.ndim < 2:
        shape = x.shape if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"flatten_forward: x must have shape (N, H, W, C) (or any (N, ...) of rank >= 2), got {shape}")
    return x.reshape(x.shape[0], int(np.prod(x.shape[1:]))), x.shape


def flatten_backward(dout, cache):
    """Flatten backward pass: reshape the gradient back to the input's shape.

    Args:
        dout: upstream gradient of shape (N, H*W*C).
        cache: the input shape (N, H, W, C) saved by :func:`flatten_forward`.

    Returns:
        dx of shape (N, H, W, C).
    """
    expected = (cache[0], int(np.prod(cache[1:])))
    if not isinstance(dout, np.ndarray) or dout.shape != expected:
        raise ValueError(f"flatten_backward: dout must have shape (N, H*W*C) = {expected}, got {getattr(dout, 'shape', type(dout).__name__)}")
    return dout.reshape(cache)


def flatten_channels_first(x_nchw):
    """Flatten a channels-first batch the way ``keras.layers.Flatten(data_format="channels_first")`` does.

    Keras first transposes (N, C, H, W) to channels-last (N, H, W, C) and then flattens, so the order of
    the features is the same as for the channels-last layout, and a Dense layer after it sees the same vector.

    Args:
        x_nchw: array of shape (N, C, H, W).

    Returns:
        out of shape (N, C*H*W) (a copy), element [n, (h*W + w)*C + c] = x_nchw[n, c, h, w].
    """
    _check_array("flatten_channels_first", "x_nchw", x_nchw, 4, "(N, C, H, W)")
    return np.transpose(x_nchw, (0, 2, 3, 1)).reshape(x_nchw.shape[0], -1)


# ---- from chapters/in_numpy/gap.ipynb -------------------------------------------------------------------------

def _check_keepdims(fn: str, keepdims) -> bool:
    if not isinstance(keepdims, bool | np.bool_):
        raise ValueError(f"{fn}: keepdims must be True or False, got {keepdims!r}")
    return bool(keepdims)


def _pooled_shape(fn: str, dout, x_shape, keepdims: bool) -> tuple[int, ...]:
    n, _, _, c = x_shape
    expected = (n, 1, 1, c) if keepdims else (n, c)
    if not isinstance(dout, np.ndarray) or dout.shape != expected:
        layout = "(N, 1, 1, C)" if keepdims else "(N, C)"
        raise ValueError(f"{fn}: dout must have shape {layout} = {expected}, got {getattr(dout, 'shape', type(dout).__name__)}")
    return expected


def gap_forward(x, keepdims=False):
    """GlobalAveragePooling2D forward pass: the mean of each channel over all H*W positions.

    Args:
        x: input of shape (N, H, W, C).
        keepdims: keep the pooled axes, giving (N, 1, 1, C) instead of (N, C).

    Returns:
        (out, cache): out of shape (N, C) (or (N, 1, 1, C)); cache is (x.shape, keepdims).
    """
    _check_array("gap_forward", "x", x, 4, "(N, H, W, C)")
    keepdims = _check_keepdims("gap_forward", keepdims)
    return x.mean(axis=(1, 2), keepdims=keepdims), (x.shape, keepdims)


def gap_backward(dout, cache):
    """GlobalAveragePooling2D backward pass: every position gets 1/(H*W) of its channel's gradient.

    Args:
        dout: upstream gradient of shape (N, C) (or (N, 1, 1, C) if the forward pass kept dims).
        cache: (x.shape, keepdims) from :func:`gap_forward`.

    Returns:
        dx of shape (N, H, W, C), dx[n, h, w, c] = dout[n, c] / (H*W).
    """
    x_shape, keepdims = cache
    n, h, w, c = x_shape
    _pooled_shape("gap_backward", dout, x_shape, keepdims)
    dx = np.empty(x_shape, dtype=dout.dtype)
    dx[...] = dout.reshape(n, 1, 1, c) / (h * w)
    return dx


def gmp_forward(x, keepdims=False):
    """GlobalMaxPooling2D forward pass: the largest value of each channel over all H*W positions.

    Args:
        x: input of shape (N, H, W, C).
        keepdims: keep the pooled axes, giving (N, 1, 1, C) instead of (N, C).

    Returns:
        (out, cache): out of shape (N, C) (or (N, 1, 1, C)); cache is (x, the maxima as (N, 1, 1, C), keepdims).
    """
    _check_array("gmp_forward", "x", x, 4, "(N, H, W, C)")
    keepdims = _check_keepdims("gmp_forward", keepdims)
    peak = x.max(axis=(1, 2), keepdims=True)
    return (peak if keepdims else peak[:, 0, 0, :]), (x, peak, keepdims)


def gmp_backward(dout, cache):
    """GlobalMaxPooling2D backward pass: each channel's gradient goes to the position of its maximum.

    When several positions tie for the maximum, the gradient is split evenly between them (what
    TensorFlow's ``reduce_max`` gradient does, and so what Keras's GlobalMaxPooling2D does).

    Args:
        dout: upstream gradient of shape (N, C) (or (N, 1, 1, C) if the forward pass kept dims).
        cache: (x, maxima, keepdims) from :func:`gmp_forward`.

    Returns:
        dx of shape (N, H, W, C): zero except at the maxima.
    """
    x, peak, keepdims = cache
    n, _, _, c = x.shape
    _pooled_shape("gmp_backward", dout, x.shape, keepdims)
    at_max = x == peak
    ties = at_max.sum(axis=(1, 2), keepdims=True)
    return at_max * (dout.reshape(n, 1, 1, c) / ties)


# ---- from chapters/in_numpy/dense_softmax.ipynb ---------------------------------------------------------------

def dense_forward(x, w, b):
    """Dense (fully connected) forward pass: x @ w + b.

    Args:
        x: input of shape (N, D), for example the output of Flatten (D = H*W*C) or of GAP (D = C).
        w: weights of shape (D, units).
        b: bias of shape (units,).

    Returns:
        (out, cache): out of shape (N, units); cache is (x, w).
    """
    _check_array("dense_forward", "x", x, 2, "(N, D)")
    _check_array("dense_forward", "w", w, 2, "(D, units)")
    _check_array("dense_forward", "b", b, 1, "(units,)")
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"dense_forward: w has D={w.shape[0]} inputs but x has D={x.shape[1]} features (x {x.shape}, w {w.shape})")
    if b.shape[0] != w.shape[1]:
        raise ValueError(f"dense_forward: b must have shape (units,) = ({w.shape[1]},) to match w {w.shape}, got {b.shape}")
    return x @ w + b, (x, w)


def dense_backward(dout, cache):
    """Dense backward pass.

    Args:
        dout: upstream gradient of shape (N, units).
        cache: (x, w) from :func:`dense_forward`.

    Returns:
        (dx, dw, db) of shapes (N, D), (D, units) and (units,).
    """
    x, w = cache
    expected = (x.shape[0], w.shape[1])
    if not isinstance(dout, np.ndarray) or dout.shape != expected:
        raise ValueError(f"dense_backward: dout must have shape (N, units) = {expected}, got {getattr(dout, 'shape', type(dout).__name__)}")
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def softmax(logits):
    """Row-wise softmax, computed stably (the row maximum is subtracted before exp, which changes nothing else).

    Args:
        logits: scores of shape (N, K).

    Returns:
        probs of shape (N, K): non-negative, each row sums to 1.
    """
    _check_array("softmax", "logits", logits, 2, "(N, K)")
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Mean softmax cross-entropy over the batch and its gradient, computed stably (log-sum-exp).

    Args:
        logits: scores of shape (N, K), N >= 1.
        labels: integer class labels of shape (N,), each in [0, K).

    Returns:
        (loss, dlogits): loss = mean over n of -log softmax(logits)[n, labels[n]], a Python float;
        dlogits of shape (N, K) = (softmax(logits) - one_hot(labels)) / N.
    """
    _check_array("softmax_cross_entropy", "logits", logits, 2, "(N, K)")
    _check_array("softmax_cross_entropy", "labels", labels, 1, "(N,)")
    n, k = logits.shape
    if n == 0:
        raise ValueError("softmax_cross_entropy: logits must hold at least one row (N >= 1), got shape (0, K)")
    if labels.shape[0] != n:
        raise ValueError(f"softmax_cross_entropy: labels must have shape (N,) = ({n},) to match logits {logits.shape}, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"softmax_cross_entropy: labels must be integers in [0, {k}), got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"softmax_cross_entropy: labels must be in [0, {k}), got values from {labels.min()} to {labels.max()}")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = -float(log_probs[rows, labels].mean())
    dlogits = np.exp(log_probs)
    dlogits[rows, labels] -= 1
    return loss, dlogits / n
