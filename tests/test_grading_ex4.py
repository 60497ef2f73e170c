"""The checkers of exercise 4 (between and beyond the two heads): correct answers pass, mistakes fail with a hint."""

from __future__ import annotations

import numpy as np
import pytest
from grading_support import failure

from flatgap.grading import ex4 as checks
from flatgap.reference import body, pooling


def reference_answers():
    """The package's own code, shaped as the exercise's functions."""
    return {
        checks.check_adaptive_avg_pool: lambda x, size: pooling.adaptive_avg_pool_forward(x, size)[0],
        checks.check_gem_pool: lambda x, p: pooling.gem_forward(x, p)[0],
        checks.check_attention_weights: pooling.attention_weights,
        checks.check_add_coords: body.add_coords,
        checks.check_binomial_kernel: body.binomial_kernel,
        checks.check_blur_downsample: body.blur_downsample,
    }


def test_ex4_checkers_pass_the_reference_code(capsys):
    for check, answer in reference_answers().items():
        check(answer)
    assert capsys.readouterr().out.count("✓") == len(checks.__all__) == 6


def per_pixel_loop(x, size):
    out = np.zeros((x.shape[0], *((size, size) if isinstance(size, int) else size), x.shape[3]))
    for n in range(x.shape[0]):
        out[n] = pooling.adaptive_avg_pool_forward(x[n : n + 1], size)[0][0]
    return out


def coords_from_zero(x, with_r=False):
    n, h, w, _ = x.shape
    rows, cols = np.meshgrid(np.arange(h) / max(h - 1, 1), np.arange(w) / max(w - 1, 1), indexing="ij")
    extra = [rows, cols] + ([np.sqrt(rows**2 + cols**2)] if with_r else [])
    return np.concatenate([x, np.broadcast_to(np.stack(extra, -1), (n, h, w, len(extra)))], axis=-1)


def naive_softmax(x, v):
    e = np.exp(x @ v)
    return e / e.sum(axis=(1, 2), keepdims=True)


def row_softmax(x, v):
    s = x @ v
    e = np.exp(s - s.max(axis=(1, 2), keepdims=True))
    return e / e.sum(axis=2, keepdims=True)


def linspace_coords(x, with_r=False):
    n, h, w, _ = x.shape
    rows, cols = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    extra = [rows, cols] + ([np.sqrt(rows**2 + cols**2)] if with_r else [])
    return np.concatenate([x, np.broadcast_to(np.stack(extra, -1), (n, h, w, len(extra)))], axis=-1)


def batch_max_softmax(x, v):
    s = x @ v
    e = np.exp(s - s.max())  # the batch's maximum, not each image's
    return e / e.sum(axis=(1, 2), keepdims=True)


MISTAKES = [
    (checks.check_adaptive_avg_pool, checks._floor_windows, "round the end UP"),
    (checks.check_adaptive_avg_pool, lambda x, size: pooling.adaptive_avg_pool_forward(x, size)[0].reshape(x.shape[0], -1), "return the grid (N, rows, cols, C)"),
    (checks.check_adaptive_avg_pool, per_pixel_loop, "expected a vectorized implementation"),
    (checks.check_gem_pool, lambda x, p: (np.maximum(x, 1e-6) ** p).mean(axis=(1, 2)), "take the 1/p-th root"),
    (checks.check_gem_pool, lambda x, p: (np.abs(x) ** p).mean(axis=(1, 2)) ** (1 / p), "do not take their absolute value"),
    (checks.check_gem_pool, lambda x, p: (x**p).mean(axis=(1, 2)) ** (1 / p), "clamp first"),
    (checks.check_attention_weights, naive_softmax, "subtract each image's largest score"),
    (checks.check_attention_weights, row_softmax, "not over each row"),
    (checks.check_attention_weights, lambda x, v: np.exp(x @ v - (x @ v).max(axis=(1, 2), keepdims=True)), "sum to 1"),
    (checks.check_add_coords, coords_from_zero, "not from 0 to 1"),
    (checks.check_add_coords, lambda x, with_r=False: body.add_coords(x, with_r)[..., x.shape[3]:], "keep x's channels"),
    (checks.check_add_coords, lambda x, with_r=False: body.add_coords(x, True), "only when with_r is True"),
    (checks.check_binomial_kernel, lambda size: body.binomial_kernel(size).astype(float) * 4.0 ** (size - 1), "sums to 1"),
    (checks.check_binomial_kernel, lambda size: np.full((size, size), 1 / size**2), "box blur"),
    (checks.check_binomial_kernel, lambda size: body.binomial_kernel(size).sum(axis=0), "the kernel is 2-D"),
    (checks.check_blur_downsample, lambda x, size, stride: x[:, ::stride, ::stride], "blur before you subsample"),
    (checks.check_blur_downsample, lambda x, size, stride: checks._blurred(x, size, stride, "constant"), "not with zeros"),
    (checks.check_blur_downsample, lambda x, size, stride: checks._blurred(x, size, stride, "symmetric"), "'symmetric' (SciPy's mode='reflect') repeats it"),
    (checks.check_blur_downsample, lambda x, size, stride: checks._blurred(x, size, stride, "edge"), "your padding repeats the edge pixel (mode 'edge' or 'symmetric', the same with a pad of 1)"),
    (checks.check_blur_downsample, lambda x, size, stride: checks._blurred(x, size, stride, "reflect", swap=True), "the pads before and after are swapped"),
    (checks.check_blur_downsample, lambda x, size, stride: checks._blurred(x, size, stride, "reflect", offset=1), "yours start at 1"),
    (checks.check_adaptive_avg_pool, checks._fixed_windows, "your windows all have the same size"),
    (checks.check_adaptive_avg_pool, checks._swapped_windows, "H and W are swapped"),
    (checks.check_gem_pool, lambda x, p: (np.maximum(x, 0) ** p).mean(axis=(1, 2)) ** (1 / p), "clamp at 1e-6, not at 0"),
    (checks.check_add_coords, linspace_coords, "an axis of length 1 has a single coordinate, its centre 0"),
    (checks.check_binomial_kernel, lambda size: body.binomial_kernel(size + 1), "your row of Pascal's triangle is one too long"),
    (checks.check_attention_weights, batch_max_softmax, "you subtracted the largest score of the whole batch"),
    (checks.check_blur_downsample, lambda x, size, stride: body.blur_downsample(x, size, 1), "keep every stride-th pixel"),
]


@pytest.mark.parametrize(("check", "answer", "hint"), MISTAKES, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(MISTAKES)])
def test_ex4_mistakes_fail_with_their_hint(check, answer, hint):
    message = failure(check, answer)
    assert hint in message, message
