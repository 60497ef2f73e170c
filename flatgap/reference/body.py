"""flatgap.reference.body: code shown in the chapters.

GENERATED FILE — do not edit. Each block below is a ``#@save reference.body`` cell of the chapter named above
it; edit the chapter, then run ``make sync`` (``python tools/sync_saved.py --write``).
"""


# ---- from chapters/beyond_two_heads/coordconv.ipynb -----------------------------------------------------------

import numpy as np

from flatgap.reference.layers import _check_array


def coordinate_channels(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The two coordinate channels of CoordConv for one (height, width) map.

    Row i holds (2 i - (height - 1)) / (height - 1) = -1 + 2 i / (height - 1), column j the same in j: both run
    from -1 at the first pixel to +1 at the last (0 along an axis of length 1), as in Liu et al.'s AddCoords.

    Args:
        height, width: positive ints, the spatial size of the map.

    Returns:
        ``(rows, cols)``, each (height, width) float32: ``rows[i, j]`` depends on i only, ``cols[i, j]`` on j only.
    """
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"coordinate_channels: {name} must be a positive integer, got {value!r}")

    def axis(n):  # (2 i - (n - 1)) / (n - 1): -1 ... +1, and 0 when n == 1
        return ((2 * np.arange(n) - (n - 1)) / max(n - 1, 1)).astype(np.float32)

    rows, cols = np.meshgrid(axis(height), axis(width), indexing="ij")
    return rows, cols


def add_coords(x: np.ndarray, with_r: bool = False) -> np.ndarray:
    """CoordConv's AddCoords: append the row and column coordinate channels (and optionally the radius) to x.

    Args:
        x: (N, H, W, C) feature maps (or images).
        with_r: also append r = sqrt(row**2 + col**2), the distance from the centre.

    Returns:
        (N, H, W, C + 2) (C + 3 with ``with_r``): x's channels first, then rows, cols [, r]; float32, or float64
        for a float64 x.
    """
    _check_array("add_coords", "x", x, 4, "(N, H, W, C)")
    n, height, width, _ = x.shape
    dtype = np.result_type(x.dtype, np.float32)
    rows, cols = coordinate_channels(height, width)
    extra = [rows, cols] + ([np.sqrt(rows**2 + cols**2)] if with_r else [])
    coords = np.broadcast_to(np.stack(extra, axis=-1).astype(dtype), (n, height, width, len(extra)))
    return np.concatenate([x.astype(dtype), coords], axis=-1)


def add_coords_backward(dout: np.ndarray, channels: int) -> np.ndarray:
    """Gradient of add_coords with respect to x: the coordinates are constants, so x's channels pass dout through.

    Args:
        dout: (N, H, W, C + 2 [+ 1]) upstream gradient. channels: C, the channels of x.

    Returns:
        (N, H, W, C): ``dout[..., :channels]``.
    """
    _check_array("add_coords_backward", "dout", dout, 4, "(N, H, W, C + 2)")
    if not 1 <= channels <= dout.shape[-1] - 2:
        raise ValueError(f"add_coords_backward: channels must be between 1 and {dout.shape[-1] - 2}, got {channels!r}")
    return dout[..., :channels]


# ---- from chapters/beyond_two_heads/blurpool.ipynb ------------------------------------------------------------

def binomial_kernel(size: int = 3) -> np.ndarray:
    """The 2-D binomial blur kernel of BlurPool: the outer product of a row of Pascal's triangle, summing to 1.

    size 2: [1, 1] (a box, "Rect-2"), size 3: [1, 2, 1] ("Tri-3"), size 5: [1, 4, 6, 4, 1] ("Bin-5"),
    the filters of Zhang (2019).

    Args:
        size: side of the kernel, >= 1 (size 1 is the identity: no blur).

    Returns:
        (size, size) float32, non-negative, symmetric, summing to 1.
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"binomial_kernel: size must be a positive integer, got {size!r}")
    row = np.ones(1)
    for _ in range(size - 1):
        row = np.convolve(row, [1.0, 1.0])  # the next row of Pascal's triangle
    kernel = np.outer(row, row)
    return (kernel / kernel.sum()).astype(np.float32)


def _blur_pads(size: int) -> tuple[int, int]:
    """Padding before and after an axis so that a size-k blur keeps the length (the odd pixel after)."""
    return (size - 1) // 2, size // 2


def blur_downsample(x: np.ndarray, size: int = 3, stride: int = 2, padding: str = "reflect") -> np.ndarray:
    """BlurPool: blur every channel with the binomial kernel, then keep every ``stride``-th pixel.

    The same kernel is applied to each channel separately (a depthwise convolution). The map is padded by
    ((size - 1) // 2, size // 2) pixels on each spatial axis first, so an H-pixel axis becomes ceil(H / stride).

    Args:
        x: (N, H, W, C) feature maps.
        size: side of the binomial kernel (:func:`binomial_kernel`).
        stride: subsampling step, >= 1.
        padding: ``"reflect"`` (mirror the map without repeating the edge, as Zhang's code does) or ``"zero"``.

    Returns:
        (N, ceil(H / stride), ceil(W / stride), C): float32, or float64 for a float64 x.
    """
    _check_array("blur_downsample", "x", x, 4, "(N, H, W, C)")
    kernel = binomial_kernel(size)
    if isinstance(stride, bool) or not isinstance(stride, int | np.integer) or stride < 1:
        raise ValueError(f"blur_downsample: stride must be a positive integer, got {stride!r}")
    if padding not in ("reflect", "zero"):
        raise ValueError(f"blur_downsample: padding must be 'reflect' or 'zero', got {padding!r}")
    before, after = _blur_pads(size)
    if padding == "reflect" and min(x.shape[1:3]) <= after:
        raise ValueError(f"blur_downsample: reflect padding by {after} needs H and W above {after}, got x {x.shape}")
    mode = "reflect" if padding == "reflect" else "constant"
    dtype = np.result_type(x.dtype, np.float32)
    padded = np.pad(x.astype(dtype), ((0, 0), (before, after), (before, after), (0, 0)), mode=mode)
    kernel = kernel.astype(dtype)
    out_h, out_w = -(-x.shape[1] // stride), -(-x.shape[2] // stride)
    out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]), dtype)
    for a in range(size):
        for b in range(size):
            out += kernel[a, b] * padded[:, a : a + stride * out_h : stride, b : b + stride * out_w : stride]
    return out


def blur_downsample_backward(dout: np.ndarray, x_shape, size: int = 3, stride: int = 2, padding: str = "reflect") -> np.ndarray:
    """Gradient of :func:`blur_downsample` with respect to x (it is linear: the transposed operation).

    Each output pixel spreads its gradient back over the ``size`` x ``size`` window it was computed from, with
    the kernel's weights; the gradient that lands on padded pixels goes to the pixels they copied (reflect) or is
    dropped (zero).

    Args:
        dout: (N, ceil(H / stride), ceil(W / stride), C) upstream gradient.
        x_shape: (N, H, W, C), the shape of the forward input. size, stride, padding: as in the forward pass.

    Returns:
        (N, H, W, C), in dout's float dtype.
    """
    _check_array("blur_downsample_backward", "dout", dout, 4, "(N, OH, OW, C)")
    n, height, width, channels = x_shape
    kernel = binomial_kernel(size)
    if dout.shape != (n, -(-height // stride), -(-width // stride), channels):
        raise ValueError(f"blur_downsample_backward: dout must have shape (N, ceil(H/stride), ceil(W/stride), C) for "
                         f"x_shape {tuple(x_shape)} and stride {stride}, got {dout.shape}")
    before, after = _blur_pads(size)
    dtype = np.result_type(dout.dtype, np.float32)
    kernel = kernel.astype(dtype)
    out_h, out_w = dout.shape[1:3]
    dpadded = np.zeros((n, height + before + after, width + before + after, channels), dtype)
    for a in range(size):
        for b in range(size):
            dpadded[:, a : a + stride * out_h : stride, b : b + stride * out_w : stride] += kernel[a, b] * dout
    if padding == "zero":
        return dpadded[:, before : before + height, before : before + width]
    # reflect: padded pixel p copied pixel source[p]; its gradient goes back there
    rows = np.pad(np.arange(height), (before, after), mode="reflect")
    cols = np.pad(np.arange(width), (before, after), mode="reflect")
    dx = np.zeros((n, height, width, channels), dtype)
    np.add.at(dx, (slice(None), rows[:, None], cols[None, :]), dpadded)
    return dx


def max_blur_pool(x: np.ndarray, size: int = 3, padding: str = "reflect") -> np.ndarray:
    """MaxBlurPool: a 2x2 max at every position (stride 1), then :func:`blur_downsample` by 2.

    It replaces ``MaxPooling2D(2)``: the max is evaluated densely, and only the blurred map is subsampled.

    Args:
        x: (N, H, W, C) feature maps, H and W >= 2.
        size, padding: of the blur (:func:`blur_downsample`).

    Returns:
        (N, ceil((H - 1) / 2), ceil((W - 1) / 2), C); that is H // 2 when H is even, like ``MaxPooling2D(2)``.
    """
    _check_array("max_blur_pool", "x", x, 4, "(N, H, W, C)")
    if min(x.shape[1:3]) < 2:
        raise ValueError(f"max_blur_pool: H and W must be at least 2 for a 2x2 max, got x {x.shape}")
    dense = np.maximum(np.maximum(x[:, :-1, :-1], x[:, 1:, :-1]), np.maximum(x[:, :-1, 1:], x[:, 1:, 1:]))
    return blur_downsample(dense, size, 2, padding)
