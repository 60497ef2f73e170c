"""Checkers of exercise 4, between and beyond the two heads: each ``check_<name>(fn)`` grades the student's ``<name>``.

The references are the package's own NumPy code of Part IV: :mod:`flatgap.reference.pooling` (adaptive average
pooling, GeM, attention pooling) and :mod:`flatgap.reference.body` (CoordConv's coordinates, BlurPool's kernel and
blurred downsampling). Every checker runs fixed cases (the same on every run) and fresh random ones drawn from the
grading seed (see :mod:`flatgap.grading.harness`).
"""

from __future__ import annotations

import numpy as np

from flatgap.grading.harness import Check, case_rng
from flatgap.reference import body, pooling

__all__ = [
    "check_adaptive_avg_pool",
    "check_gem_pool",
    "check_attention_weights",
    "check_add_coords",
    "check_binomial_kernel",
    "check_blur_downsample",
]

RANDOM_CASES = 3
"""Random cases per checker, on top of the fixed ones."""


def _cases(check: Check, offset: int, fixed: list, draw):
    """``(x, *arguments, describe)`` for each case: the fixed ones, ``(shape, *arguments)`` with x drawn from
    ``case_rng(offset + i)``, then ``RANDOM_CASES`` drawn from the grading seed by ``draw(rng) -> (shape, *arguments)``;
    ``describe(text)`` names the case in messages (with the seed for a random one). x is standard normal, (N, H, W, C)."""
    for i, (shape, *arguments) in enumerate(fixed):
        yield (case_rng(offset + i).standard_normal(shape), *arguments, lambda text: text)
    for _ in range(RANDOM_CASES):
        shape, *arguments = draw(check.fresh)
        yield (check.fresh.standard_normal(shape), *arguments, check.random)


def _random_shape(rng, side: tuple[int, int], channels: int) -> tuple[int, int, int, int]:
    """A random (N, H, W, C): 1 to 3 images, sides in [side[0], side[1]), 1 to channels - 1 channels."""
    return tuple(int(v) for v in (rng.integers(1, 4), rng.integers(*side), rng.integers(*side), rng.integers(1, channels)))


def _grid_pair(output_size) -> tuple[int, int]:
    return (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)


def _floor_windows(x: np.ndarray, output_size) -> np.ndarray:
    """The common mistake: windows i*H//k to (i+1)*H//k (no overlap, the last window too short or too long)."""
    rows, cols = _grid_pair(output_size)
    n, h, w, c = x.shape
    out = np.zeros((n, rows, cols, c))
    for i in range(rows):
        for j in range(cols):
            r0, r1 = i * h // rows, max((i + 1) * h // rows, i * h // rows + 1)
            c0, c1 = j * w // cols, max((j + 1) * w // cols, j * w // cols + 1)
            out[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    return out


def _fixed_windows(x: np.ndarray, output_size) -> np.ndarray:
    """The mistake of fixed-size windows: k windows of H // k positions each, H // k apart (the remainder left out)."""
    rows, cols = _grid_pair(output_size)
    n, h, w, c = x.shape
    sh, sw = max(h // rows, 1), max(w // cols, 1)
    out = np.full((n, rows, cols, c), np.nan)
    for i in range(rows):
        for j in range(cols):
            window = x[:, i * sh : i * sh + sh, j * sw : j * sw + sw]
            if window.size:
                out[:, i, j] = window.mean(axis=(1, 2))
    return out


def _swapped_windows(x: np.ndarray, output_size) -> np.ndarray:
    """The mistake of taking the rows' windows from W and the columns' from H."""
    rows, cols = _grid_pair(output_size)
    n, h, w, c = x.shape
    out = np.full((n, rows, cols, c), np.nan)
    for i, (r0, r1) in enumerate(pooling.adaptive_windows(w, rows)):
        for j, (c0, c1) in enumerate(pooling.adaptive_windows(h, cols)):
            window = x[:, r0:r1, c0:c1]
            if window.size:
                out[:, i, j] = window.mean(axis=(1, 2))
    return out


def check_adaptive_avg_pool(adaptive_avg_pool) -> None:
    """``adaptive_avg_pool(x, output_size) -> (N, rows, cols, C)``: PyTorch's and Keras's windows, loops only over cells."""
    __tracebackhide__ = True
    check = Check(adaptive_avg_pool, "adaptive_avg_pool")
    fixed = [((2, 6, 6, 3), 2), ((1, 5, 7, 4), (2, 3)), ((3, 4, 4, 1), 6), ((2, 7, 7, 8), 1), ((1, 3, 5, 2), (3, 5)), ((2, 9, 4, 2), (4, 3))]

    def draw(rng):
        return _random_shape(rng, (1, 12), 5), (int(rng.integers(1, 7)), int(rng.integers(1, 7)))

    for x, size, name in _cases(check, 800, fixed, draw):
        n, h, w, c = x.shape
        rows, cols = _grid_pair(size)
        text = name(f"adaptive_avg_pool(x, {size!r}) with x of shape {x.shape}")
        got = check.call(text, x, size, error_hint=f"x is (N, H, W, C) = {x.shape}; the output is (N, rows, cols, C) = {(n, rows, cols, c)}")
        expected, _ = pooling.adaptive_avg_pool_forward(x, size)
        shape_hints = {(n, c): "keep the grid axes: return (N, rows, cols, C), even for a 1x1 grid", (n, rows * cols * c): "return the grid (N, rows, cols, C); the head flattens it afterwards"}
        if rows != cols:
            shape_hints[(n, cols, rows, c)] = "rows and cols are swapped: output_size is (rows, cols), rows along H (axis 1)"
        sums = np.stack([np.stack([x[:, a:b, d:e].sum(axis=(1, 2)) for d, e in pooling.adaptive_windows(w, cols)], axis=1) for a, b in pooling.adaptive_windows(h, rows)], axis=1)
        fixed_size, floor = _fixed_windows(x, size), _floor_windows(x, size)
        hints = []
        if not np.allclose(fixed_size, floor, equal_nan=True):
            hints.append((fixed_size, "your windows all have the same size (like AveragePooling2D with pool = strides = H // k); adaptive windows run from floor(i*H/k) to ceil((i+1)*H/k) - 1, so their sizes differ when k does not divide H"))
        hints += [
            (floor, "the windows run from floor(i*H/k) to ceil((i+1)*H/k) - 1: round the end UP, so that neighbouring windows overlap when k does not divide H"),
            (sums, "average each window (divide by its number of positions), do not sum it"),
        ]
        if h != w:
            hints.append((_swapped_windows(x, size), "H and W are swapped: the rows' windows come from H (axis 1) and the columns' from W (axis 2)"))
        check.array(text, got, expected, "out", shape_hints=shape_hints, value_hints=hints)
    rng = case_rng(809)
    calls = [(f"x of shape {shape} pooled to (2, 3)", (rng.standard_normal(shape), (2, 3))) for shape in ((1, 6, 6, 1), (4, 18, 17, 5))]
    check.vectorized(*calls, "loops at most over the rows x cols output cells, never over images, pixels or channels",
                     "loop over the cells (i, j) at most and average each window with x[:, r0:r1, c0:c1, :].mean(axis=(1, 2))")
    check.passed("vectorized: your code ran as many Python lines on a large input as on a small one")


def check_gem_pool(gem_pool) -> None:
    """``gem_pool(x, p) -> (N, C)``: (mean over positions of max(x, 1e-6)^p)^(1/p), vectorized."""
    __tracebackhide__ = True
    check = Check(gem_pool, "gem_pool")
    fixed = [((2, 4, 4, 3), 3.0), ((1, 5, 3, 2), 1.0), ((3, 2, 6, 1), 0.5), ((2, 3, 3, 4), 10.0), ((1, 1, 1, 3), 2.0)]

    def draw(rng):
        return _random_shape(rng, (1, 8), 6), float(rng.uniform(0.5, 8))

    for x, p, name in _cases(check, 820, fixed, draw):
        n, h, w, c = x.shape
        text = name(f"gem_pool(x, p={p:g}) with x of shape {x.shape} (about half of its values negative)")
        got = check.call(text, x, p, error_hint=f"x is (N, H, W, C) = {x.shape}; the output is (N, C) = {(n, c)}")
        expected, _ = pooling.gem_forward(x, p)
        if isinstance(got, np.ndarray) and got.shape == expected.shape and not np.all(np.isfinite(got)):
            check.fail(text, "finite values", "nan or inf", "a fractional power of a negative number is undefined: clamp first, z = np.maximum(x, 1e-6)")
        z = np.maximum(x, 1e-6)
        hints = [
            ((z**p).mean(axis=(1, 2)), "take the 1/p-th root of the mean: (mean of z**p) ** (1 / p)"),
            (z.mean(axis=(1, 2)), "that is the mean of the clamped input: raise to p, average, then take the root"),
            ((np.abs(x) ** p).mean(axis=(1, 2)) ** (1 / p), "clamp negative values to 1e-6 (np.maximum(x, 1e-6)); do not take their absolute value"),
            ((np.maximum(x, 0) ** p).mean(axis=(1, 2)) ** (1 / p), "clamp at 1e-6, not at 0: np.maximum(x, 1e-6) (the two differ after the power, most for small p)"),
            ((z**p).sum(axis=(1, 2)) ** (1 / p), "average over the H*W positions (mean), do not sum"),
        ]
        check.array(text, got, expected, "out", shape_hints={x.shape: "pool over H and W (axes 1 and 2): the output is (N, C)", (n, 1, 1, c): "return (N, C), without keepdims"}, value_hints=hints)
    rng = case_rng(829)
    calls = [(f"x of shape {shape}", (rng.standard_normal(shape), 3.0)) for shape in ((1, 3, 3, 1), (4, 9, 8, 6))]
    check.vectorized(*calls, "no Python loop over images, positions or channels", "use np.maximum, ** and .mean(axis=(1, 2)) on the whole array")
    check.passed("vectorized: your code ran as many Python lines on a large input as on a small one")


def check_attention_weights(attention_weights) -> None:
    """``attention_weights(x, v) -> (N, H, W)``: per image, a softmax over all H*W positions of x[n, h, w, :] . v."""
    __tracebackhide__ = True
    check = Check(attention_weights, "attention_weights")
    fixed = [((2, 4, 5, 3), 1.0, False), ((1, 3, 3, 2), 1.0, True), ((2, 3, 4, 2), 300.0, False), ((3, 1, 1, 4), 1.0, False), ((2, 5, 2, 1), 2.0, False)]
    cases = []
    for i, (shape, scale, zero) in enumerate(fixed):
        rng = case_rng(840 + i)
        cases.append((rng.standard_normal(shape) * scale, np.zeros(shape[3]) if zero else rng.standard_normal(shape[3]), lambda text: text))
    apart = case_rng(849).standard_normal((2, 3, 3, 2))
    apart[0] += 400.0  # image 0 scores near 800, image 1 near 0: a shift by the batch's maximum underflows image 1 to 0/0
    cases.append((apart, np.ones(2), lambda text: text + " (one image's scores far below the other's)"))
    rng = check.fresh
    for _ in range(RANDOM_CASES):
        shape = tuple(int(v) for v in (rng.integers(1, 4), rng.integers(1, 7), rng.integers(1, 7), rng.integers(1, 5)))
        cases.append((rng.standard_normal(shape) * float(rng.choice([1.0, 100.0])), rng.standard_normal(shape[3]), check.random))
    for x, v, name in cases:
        n, h, w, c = x.shape
        large = float(np.abs(np.einsum("nhwc,c->nhw", x, v)).max()) > 300
        text = name(f"attention_weights(x, v) with x of shape {x.shape}, v of shape {v.shape}" + (", v = 0" if not v.any() else "") + (" (scores in the hundreds)" if large else ""))
        got = check.call(text, x, v, error_hint=f"x is (N, H, W, C) = {x.shape}, v is (C,) = {v.shape}; the weights are (N, H, W) = {(n, h, w)}")
        expected = pooling.attention_weights(x, v)
        scores = np.einsum("nhwc,c->nhw", x, v)
        if isinstance(got, np.ndarray) and got.shape == expected.shape and not np.all(np.isfinite(got)):
            with np.errstate(all="ignore"):
                batch_shift = np.exp(scores - scores.max())
                batch_shift = batch_shift / batch_shift.sum(axis=(1, 2), keepdims=True)
            if np.array_equal(np.isfinite(got), np.isfinite(batch_shift)):
                check.fail(text, "finite weights", "nan or inf", "you subtracted the largest score of the whole batch; an image whose scores all lie far below it underflows to 0/0 — subtract each image's own largest score (max over axes 1 and 2, keepdims=True)")
            check.fail(text, "finite weights", "nan or inf", "np.exp overflows for large scores: subtract each image's largest score first (the softmax does not change)")
        with np.errstate(all="ignore"):
            hints = _attention_mistakes(scores)
        check.array(text, got, expected, "weights", shape_hints={x.shape: "one weight per position: the score of position (h, w) is x[n, h, w, :] @ v, so the weights are (N, H, W)", (n, h * w): "return the weights as (N, H, W)"}, value_hints=hints)
    check.passed()


def _attention_mistakes(scores: np.ndarray) -> list:
    """(candidate, hint) pairs for the common mistakes of attention_weights, from the (N, H, W) scores."""
    shifted = np.exp(scores - scores.max(axis=(1, 2), keepdims=True))
    whole_batch = np.exp(scores - scores.max())
    return [
        (shifted / shifted.sum(axis=2, keepdims=True), "normalise over all H*W positions of an image (axes 1 and 2 together), not over each row"),
        (shifted / shifted.sum(axis=1, keepdims=True), "normalise over all H*W positions of an image (axes 1 and 2 together), not over each column"),
        (whole_batch / whole_batch.sum(), "normalise each image separately: its weights sum to 1"),
        (scores / scores.sum(axis=(1, 2), keepdims=True), "exponentiate the scores first: a softmax is exp(score) / sum of exp(score)"),
        (shifted, "divide by the sum over the image's positions so that the weights sum to 1"),
    ]


def check_add_coords(add_coords) -> None:
    """``add_coords(x, with_r) -> (N, H, W, C + 2 or 3)``: x's channels, then rows and cols in [-1, 1] [, radius]."""
    __tracebackhide__ = True
    check = Check(add_coords, "add_coords")
    fixed = [((2, 4, 5, 3), False), ((1, 1, 6, 2), False), ((3, 5, 5, 1), True), ((1, 7, 3, 2), False), ((2, 6, 1, 1), True)]

    def draw(rng):
        return _random_shape(rng, (1, 9), 4), bool(rng.integers(0, 2))

    for x, with_r, name in _cases(check, 860, fixed, draw):
        n, h, w, c = x.shape
        extra = 3 if with_r else 2
        text = name(f"add_coords(x, with_r={with_r}) with x of shape {x.shape}")
        got = check.call(text, x, with_r, error_hint=f"x is (N, H, W, C) = {x.shape}; the output is (N, H, W, C + {extra}) = {(n, h, w, c + extra)}")
        expected = body.add_coords(x, with_r=with_r)
        if isinstance(got, np.ndarray) and got.shape == expected.shape and not np.all(np.isfinite(got)):
            check.fail(text, "finite values", "nan or inf", "an axis of length 1 has a single coordinate, 0: divide by max(n - 1, 1)")
        shape_hints = {
            (n, h, w, c + 3): "add the radius channel only when with_r is True" if not with_r else None,
            (n, h, w, c + 2): "with_r=True adds a third channel, r = sqrt(rows**2 + cols**2)" if with_r else None,
            (n, h, w, extra): "keep x's channels and append the coordinates after them: np.concatenate([x, coords], axis=-1)",
        }
        rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")

        def variant(row, col, radius=None, first=False, x=x, n=n, with_r=with_r):
            channels = [row, col] + ([np.sqrt(row**2 + col**2) if radius is None else radius] if with_r else [])
            coords = np.broadcast_to(np.stack(channels, axis=-1), (n, *row.shape, len(channels)))
            return np.concatenate([coords, x] if first else [x, coords], axis=-1)

        unit_r, unit_c = expected[0, ..., c], expected[0, ..., c + 1]
        hints = [
            (variant(unit_r, unit_c, first=True), "put x's channels first and the coordinate channels after them"),
            (variant(unit_c, unit_r), "the first coordinate channel holds the ROW (it changes along H, axis 1), the second the column"),
            (variant(rows / max(h - 1, 1), cols / max(w - 1, 1)), "the coordinates run from -1 to +1, not from 0 to 1: 2 * i / (n - 1) - 1"),
            (variant(rows.astype(float), cols.astype(float)), "scale the pixel indices to run from -1 at the first pixel to +1 at the last: 2 * i / (n - 1) - 1"),
            (variant(unit_r, unit_c, unit_r**2 + unit_c**2), "the radius is the distance from the centre: take the square root of rows**2 + cols**2"),
        ]
        if h == 1 or w == 1:
            lin_r, lin_c = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
            hints.insert(0, (variant(lin_r, lin_c), "an axis of length 1 has a single coordinate, its centre 0 (np.linspace(-1, 1, 1) gives -1): use (2 * i - (n - 1)) / max(n - 1, 1)"))
        check.array(text, got, expected, "out", shape_hints={k: v for k, v in shape_hints.items() if v}, value_hints=hints, atol=1e-6)
    check.passed()


def check_binomial_kernel(binomial_kernel) -> None:
    """``binomial_kernel(size) -> (size, size)``: the outer product of a row of Pascal's triangle, summing to 1."""
    __tracebackhide__ = True
    check = Check(binomial_kernel, "binomial_kernel")
    fixed = [3, 1, 2, 5, 4, 7]
    # fresh sizes from 10 to 20 as well: beyond any table of the rows a student might type in
    sizes = fixed + [int(check.fresh.integers(2, 10)), *(int(s) for s in check.fresh.integers(10, 21, size=RANDOM_CASES - 1))]
    for i, size in enumerate(sizes):
        text = f"binomial_kernel({size})"
        text = text if i < len(fixed) else check.random(text)
        got = check.call(text, size)
        expected = body.binomial_kernel(size).astype(np.float64)
        row = np.array([float(np.prod(range(size - k, size)) / np.prod(range(1, k + 1))) for k in range(size)])
        check.array(
            text, got, expected, "kernel",
            shape_hints={
                (size,): "the kernel is 2-D: the outer product np.outer(row, row) of the 1-D row",
                (size + 1, size + 1): f"your row of Pascal's triangle is one too long: binomial_kernel({size}) uses the row with {size} entries (1, 2, 1 for size 3)",
                (size - 1, size - 1): f"your row of Pascal's triangle is one too short: binomial_kernel({size}) uses the row with {size} entries (1, 2, 1 for size 3)",
            },
            value_hints=[
                (np.outer(row, row), "normalise the kernel so that it sums to 1 (a blur must keep the mean brightness)"),
                (np.full((size, size), 1 / size**2), "that is a box blur; the weights are a row of Pascal's triangle (1, 2, 1 for size 3), outer product with itself"),
                (np.outer(row, row) / row.sum(), "normalise the 2-D kernel: divide np.outer(row, row) by its own sum (that is row.sum() ** 2)"),
            ],
            atol=1e-6,
        )
    check.passed()


def _blurred(x: np.ndarray, size: int, stride: int, mode: str, swap: bool = False, offset: int = 0) -> np.ndarray:
    """The blurred downsampling with the common mistakes: ``np.pad``'s ``mode`` instead of "reflect", the pads before
    and after swapped, the subsampling started at ``offset`` instead of 0: (N, ceil(H/stride), ceil(W/stride), C)
    (NaN where an offset runs past the map)."""
    before, after = body._blur_pads(size)
    if swap:
        before, after = after, before
    kernel = body.binomial_kernel(size).astype(np.float64)
    padded = np.pad(x, ((0, 0), (before, after), (before, after), (0, 0)), mode=mode)
    full = sum(kernel[a, b] * padded[:, a : a + x.shape[1], b : b + x.shape[2]] for a in range(size) for b in range(size))
    out_h, out_w = -(-x.shape[1] // stride), -(-x.shape[2] // stride)
    out = np.full((x.shape[0], out_h, out_w, x.shape[3]), np.nan)
    kept = full[:, offset::stride, offset::stride][:, :out_h, :out_w]
    out[:, : kept.shape[1], : kept.shape[2]] = kept
    return out


def check_blur_downsample(blur_downsample) -> None:
    """``blur_downsample(x, size, stride) -> (N, ceil(H/stride), ceil(W/stride), C)``: reflect pad, binomial blur, subsample."""
    __tracebackhide__ = True
    check = Check(blur_downsample, "blur_downsample")
    fixed = [((2, 8, 8, 3), 3, 2), ((1, 7, 5, 2), 3, 2), ((1, 9, 9, 1), 5, 2), ((2, 6, 7, 2), 2, 2), ((1, 6, 6, 3), 3, 1), ((1, 10, 10, 1), 4, 3)]

    def draw(rng):
        size, stride = int(rng.integers(1, 10)), int(rng.integers(1, 4))  # kernels up to 9: larger than any fixed case
        return _random_shape(rng, (size // 2 + 1, 12), 4), size, stride

    for x, size, stride, name in _cases(check, 880, fixed, draw):
        n, h, w, c = x.shape
        out_h, out_w = -(-h // stride), -(-w // stride)
        before, after = body._blur_pads(size)
        text = name(f"blur_downsample(x, size={size}, stride={stride}) with x of shape {x.shape}")
        got = check.call(text, x, size, stride, error_hint=f"x is (N, H, W, C) = {x.shape}; pad by {(before, after)} pixels on H and W, the output is {(n, out_h, out_w, c)}")
        expected = body.blur_downsample(x, size, stride)
        hints = []
        if stride > 1 and size > 1:
            hints.append((x[:, ::stride, ::stride], "blur before you subsample: that is plain subsampling, which aliases"))
        if size > 1:
            symmetric, edge = _blurred(x, size, stride, "symmetric"), _blurred(x, size, stride, "edge")
            repeats = (
                "NumPy's mode='reflect' (SciPy's mode='mirror') mirrors the map without repeating the edge pixel; "
                "NumPy's 'symmetric' (SciPy's mode='reflect') repeats it"
            )
            hints.append((_blurred(x, size, stride, "constant"), "pad by reflection (np.pad(..., mode='reflect')), not with zeros: zeros darken the border"))
            if np.allclose(symmetric, edge, equal_nan=True):  # a pad of 1: the two modes give the same values
                hints.append((edge, f"your padding repeats the edge pixel (mode 'edge' or 'symmetric', the same with a pad of {before}); {repeats}"))
            else:
                hints += [(symmetric, repeats), (edge, "pad by reflection (mode='reflect'), not by repeating the edge pixel (mode='edge')")]
            if before != after:
                swapped = f"the pads before and after are swapped: pad {before} before and {after} after each axis (the odd pixel goes after; SciPy's convolve centres an even kernel the other way)"
                hints += [(_blurred(x, size, stride, "reflect", swap=True), swapped), (_blurred(x, size, stride, "symmetric", swap=True), swapped + f"; and {repeats}")]
        if stride > 1:
            hints += [(_blurred(x, size, stride, "reflect", offset=k), f"keep rows and columns 0, stride, 2*stride, ... of the blurred map: yours start at {k}") for k in range(1, stride)]
        check.array(
            text, got, expected, "out",
            shape_hints={
                (n, h, w, c): "keep every stride-th pixel of the blurred map (rows and columns 0, stride, 2*stride, ...)" if stride > 1 else None,
                (n, (h - size) // stride + 1, (w - size) // stride + 1, c): f"pad first, by {(before, after)} pixels on each spatial axis, so that the output has ceil(H/stride) rows",
            },
            value_hints=hints,
        )
    rng = case_rng(889)
    calls = [(f"x of shape {shape}, size 3, stride 2", (rng.standard_normal(shape), 3, 2)) for shape in ((1, 6, 6, 1), (4, 16, 15, 5))]
    check.vectorized(*calls, "loops at most over the size x size taps of the kernel, never over images, pixels or channels",
                     "pad once with np.pad, then add kernel[a, b] * padded[:, a::stride, b::stride] (cut to the output size) for each tap (a, b)")
    check.passed("vectorized: your code ran as many Python lines on a large input as on a small one")
