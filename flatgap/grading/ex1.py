"""Checkers of exercise 1, NumPy layers: each ``check_<name>(fn)`` grades the student's ``<name>``.

Every checker runs fixed cases (the same on every run) and fresh random ones drawn from the grading seed
(see :mod:`flatgap.grading.harness`).
"""

from __future__ import annotations

import numpy as np

from flatgap.grading.harness import Check, case_rng, describe
from flatgap.reference import layers

__all__ = [
    "check_flatten_forward",
    "check_flatten_backward",
    "check_gap_forward",
    "check_gap_backward",
    "check_gmp_backward",
    "check_conv2d_forward",
    "check_softmax_cross_entropy",
    "check_conv2d_param_count",
    "check_dense_param_count",
]

MAP_SHAPES = [(2, 7, 7, 64), (1, 5, 3, 4), (3, 4, 6, 1)]
"""Fixed feature-map shapes: square with many channels, a batch of one (non-square), C = 1."""

RANDOM_CASES = 3
"""Random cases per checker, on top of the fixed ones."""


def random_map_shape(rng) -> tuple[int, int, int, int]:
    """A random (N, H, W, C): batches of 1 to 4, sides of 1 to 9, 1 to 6 channels."""
    return tuple(int(v) for v in (rng.integers(1, 5), rng.integers(1, 10), rng.integers(1, 10), rng.integers(1, 7)))


def map_cases(check: Check, offset: int, shapes=MAP_SHAPES):
    """(shape, generator, describe) for the fixed shapes, then the random ones; describe(text) names the case."""
    for i, shape in enumerate(shapes):
        yield shape, case_rng(offset + i), lambda text: text
    for _ in range(RANDOM_CASES):
        yield random_map_shape(check.fresh), check.fresh, check.random


def check_flatten_forward(flatten_forward) -> None:
    """``flatten_forward(x) -> (out, cache)``: out (N, H*W*C) in channels-last (C order), cache = x.shape."""
    __tracebackhide__ = True
    check = Check(flatten_forward, "flatten_forward")
    for shape, rng, name in map_cases(check, 0):
        x = rng.standard_normal(shape)
        n, h, w, c = shape
        text = name(f"flatten_forward(x) with x of shape {shape}")
        out, cache = check.pair(text, check.call(text, x))
        expected, _ = layers.flatten_forward(x)
        shape_hints = {
            (n * h * w * c,): "keep the batch axis: reshape to (N, H*W*C), e.g. x.reshape(N, -1)",
            shape: "Flatten must turn each (H, W, C) map into one row: reshape to (N, H*W*C)",
        }
        if n > 1:
            shape_hints[(h * w * c, n)] = "the batch axis comes first: reshape to (N, -1), not (-1, N)"
        check.array(
            text,
            out,
            expected,
            "out",
            shape_hints=shape_hints,
            value_hints=[
                (x.transpose(0, 3, 1, 2).reshape(n, -1), "you flattened in channels-first order (C, H, W); a channels-last Flatten walks H, then W, then C (C fastest), which is plain x.reshape(N, -1)"),
                (x.transpose(0, 2, 1, 3).reshape(n, -1), "you walked W before H; x.reshape(N, -1) keeps NumPy's (C) order: H, then W, then C"),
                (x.reshape((n, -1), order="F"), "use NumPy's default C order, not order='F'"),
            ],
        )
        check.cache_is_shape(text, cache, shape)
    check.passed()


def check_flatten_backward(flatten_backward) -> None:
    """``flatten_backward(dout, cache) -> dx`` with cache = x.shape: dx = dout reshaped to x.shape."""
    __tracebackhide__ = True
    check = Check(flatten_backward, "flatten_backward")
    for shape, rng, name in map_cases(check, 10):
        n, h, w, c = shape
        dout = rng.standard_normal((n, h * w * c))
        text = name(f"flatten_backward(dout, cache) with dout of shape {dout.shape} and cache = {shape}")
        dx = check.call(text, dout, shape)
        check.array(
            text,
            dx,
            layers.flatten_backward(dout, shape),
            "dx",
            shape_hints={dout.shape: "reshape dout back to the cached input shape: dout.reshape(cache)", (n, c, h, w): "the input was channels-last (N, H, W, C)"},
            value_hints=[(dout.reshape(n, c, h, w).transpose(0, 2, 3, 1), "you undid a channels-first flatten; the forward pass used C order, so dout.reshape(cache) undoes it")],
        )
    check.passed()


def check_gap_forward(gap_forward) -> None:
    """``gap_forward(x) -> (out, cache)``: out (N, C) = mean over H and W, cache = x.shape."""
    __tracebackhide__ = True
    check = Check(gap_forward, "gap_forward")
    for shape, rng, name in map_cases(check, 20):
        x = rng.standard_normal(shape)
        n, h, w, c = shape
        text = name(f"gap_forward(x) with x of shape {shape}")
        out, cache = check.pair(text, check.call(text, x))
        expected, _ = layers.gap_forward(x)

        def shape_hint(got, shape=shape, n=n, c=c):
            if got == shape:
                return "did you average over axes 1 and 2 (H and W)?"
            if got == (n, 1, 1, c):
                return "that is keepdims=True; return (N, C)"
            return "average over axes 1 and 2 (H and W) only: x.mean(axis=(1, 2)) keeps N and C"

        check.array(
            text,
            out,
            expected,
            "out",
            shape_hints=shape_hint,
            value_hints=[
                (x.sum(axis=(1, 2)), "you summed; GAP takes the mean (divide by H*W)"),
                (x.max(axis=(1, 2)), "that is global MAX pooling; GAP averages"),
                (x.mean(axis=(1, 2)) * c, "divide by H*W only, not by H*W*C"),
            ],
        )
        check.cache_is_shape(text, cache, shape)
    check.passed()


def check_gap_backward(gap_backward) -> None:
    """``gap_backward(dout, cache) -> dx`` with cache = x.shape: dx[n, h, w, c] = dout[n, c] / (H*W)."""
    __tracebackhide__ = True
    check = Check(gap_backward, "gap_backward")
    for shape, rng, name in map_cases(check, 30):
        n, h, w, c = shape
        dout = rng.standard_normal((n, c))
        text = name(f"gap_backward(dout, cache) with dout of shape {dout.shape} and cache = {shape}")
        dx = check.call(text, dout, shape)
        spread = np.broadcast_to(dout[:, None, None, :], shape)
        check.array(
            text,
            dx,
            layers.gap_backward(dout, (shape, False)),
            "dx",
            shape_hints=lambda got, dout=dout: (
                "dx must have the input's shape (N, H, W, C): every position gets a share of dout[n, c]"
                if got == dout.shape
                else "dx has the input's shape (N, H, W, C)"
            ),
            value_hints=[
                (spread, "each position gets 1/(H*W) of the gradient: divide by H*W"),
                (spread / (h * w * c), "divide by H*W (the number of positions averaged), not by H*W*C"),
                (spread / n / (h * w), "divide by H*W only; the batch size plays no part here"),
            ],
        )
    check.passed()


def _first_maximum_only(dout, x):
    """The gradient that gives all of dout[n, c] to the first maximum of each channel (wrong on ties)."""
    n, h, w, c = x.shape
    first = x.reshape(n, h * w, c).argmax(axis=1)
    dx = np.zeros((n, h * w, c))
    dx[np.arange(n)[:, None], first, np.arange(c)[None, :]] = dout
    return dx.reshape(x.shape)


def check_gmp_backward(gmp_backward) -> None:
    """``gmp_backward(dout, cache) -> dx`` with cache = x: dout[n, c] goes to the maximum of channel c,
    split evenly when several positions tie (the checker's inputs include ties)."""
    __tracebackhide__ = True
    check = Check(gmp_backward, "gmp_backward")
    for i, (shape, rng, name) in enumerate(map_cases(check, 40, [(2, 5, 4, 3), (1, 3, 3, 2), (3, 6, 2, 1), (2, 4, 4, 3)])):
        n, h, w, c = shape
        ties = i % 2 == 1  # every other case holds small integers: many channels have tied maxima
        x = rng.integers(0, 3, size=shape).astype(float) if ties else rng.standard_normal(shape)
        dout = rng.standard_normal((n, c))
        at_max = x == x.max(axis=(1, 2), keepdims=True)
        tied = bool((at_max.sum(axis=(1, 2)) > 1).any())
        text = name(f"gmp_backward(dout, cache) with dout of shape {dout.shape} and cache = x of shape {shape}" + (" (with tied maxima)" if tied else ""))
        dx = check.call(text, dout, x)
        _, cache = layers.gmp_forward(x)
        check.array(
            text,
            dx,
            layers.gmp_backward(dout, cache),
            "dx",
            shape_hints={dout.shape: "dx must have the input's shape (N, H, W, C)"},
            value_hints=[
                (at_max * dout[:, None, None, :], "several positions tie for the maximum of a channel here: split dout[n, c] evenly between them (divide by how many there are), as TensorFlow does"),
                (_first_maximum_only(dout, x), "several positions tie for the maximum of a channel here: split dout[n, c] evenly between them rather than giving it all to one"),
                (np.broadcast_to(dout[:, None, None, :] / (h * w), shape), "that is the average-pooling gradient; max pooling sends all of dout[n, c] to the position of the maximum and 0 elsewhere"),
                (at_max.astype(float), "multiply the mask of maxima by dout"),
                (x * at_max * dout[:, None, None, :], "the gradient at the maximum is dout[n, c] itself, not x * dout"),
            ],
        )
    check.passed()


def _conv_cases(check: Check):
    fixed = [((2, 7, 5, 3), (3, 2, 3, 4)), ((1, 4, 4, 1), (1, 1, 1, 2)), ((3, 6, 6, 2), (3, 3, 2, 1)), ((2, 3, 4, 2), (3, 4, 2, 3))]
    for i, (xs, ws) in enumerate(fixed):
        rng = case_rng(60 + i)
        yield rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[3]), lambda text: text
    rng = check.fresh
    for _ in range(RANDOM_CASES):
        n, h, w, c, f = (int(v) for v in (rng.integers(1, 4), rng.integers(1, 9), rng.integers(1, 9), rng.integers(1, 5), rng.integers(1, 5)))
        kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        yield rng.standard_normal((n, h, w, c)), rng.standard_normal((kh, kw, c, f)), rng.standard_normal(f), check.random


def check_conv2d_forward(conv2d_forward) -> None:
    """``conv2d_forward(x, w, b) -> (out, (x, w, b))``: valid padding, stride 1, vectorized (measured)."""
    __tracebackhide__ = True
    check = Check(conv2d_forward, "conv2d_forward")
    for x, w, b, name in _conv_cases(check):
        n, h, wd, _ = x.shape
        kh, kw, _, f = w.shape
        text = name(f"conv2d_forward(x, w, b) with x {x.shape}, w {w.shape}, b {b.shape}")
        out, cache = check.pair(text, check.call(text, x, w, b))
        expected, _ = layers.conv2d_forward(x, w, b)
        check.array(
            text,
            out,
            expected,
            "out",
            shape_hints={
                (n, h, wd, f): "padding is 'valid': the output is (N, H - KH + 1, W - KW + 1, F)",
                (n, wd - kw + 1, h - kh + 1, f): "H and W are swapped: the output is (N, H - KH + 1, W - KW + 1, F)",
            },
            value_hints=[
                (expected - b, "the bias is missing: add b[f] to every output of filter f"),
                (layers.conv2d_forward(x, w[::-1, ::-1].copy(), b)[0], "do not flip the kernel: Keras's Conv2D (like the course's) is a cross-correlation"),
            ],
        )
        if not (isinstance(cache, (tuple, list)) and len(cache) == 3 and all(isinstance(a, np.ndarray) and a.shape == e.shape and np.array_equal(a, e) for a, e in zip(cache, (x, w, b), strict=True))):
            check.fail(text, "cache == (x, w, b)", describe(cache), "return out, (x, w, b): the backward pass needs the input, the kernel and the bias")
    rng = case_rng(69)
    small = (1, 6, 6, 1), (2, 3, 1, 1)
    large = (4, 14, 13, 5), (2, 3, 5, 6)
    calls = [
        (f"x {xs} and w {ws}", (rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[3])))
        for xs, ws in (small, large)
    ]
    check.vectorized(
        *calls,
        "loops at most over the KH*KW kernel offsets, never over images, pixels, channels or filters",
        "loop over (kh, kw) at most and let NumPy handle N, H, W, C and F at once (for example out += x[:, i:i+OH, j:j+OW, :] @ w[i, j])",
    )
    check.passed("vectorized: your code ran as many Python lines on a large input as on a small one")


def check_softmax_cross_entropy(softmax_cross_entropy) -> None:
    """``softmax_cross_entropy(logits, labels) -> (loss, dlogits)``: mean over the batch, stable, no in-place edit."""
    __tracebackhide__ = True
    check = Check(softmax_cross_entropy, "softmax_cross_entropy")
    rng = check.fresh
    fixed = [((4, 10), 3.0, 0.0), ((1, 3), 1.0, 0.0), ((5, 2), 2.0, 1000.0)]
    random = [((int(rng.integers(1, 7)), int(rng.integers(2, 13))), float(rng.uniform(0.5, 5)), float(rng.choice([0.0, -800.0, 900.0]))) for _ in range(RANDOM_CASES)]
    for i, (shape, scale, offset) in enumerate(fixed + random):
        source = case_rng(70 + i) if i < len(fixed) else check.fresh
        logits = source.standard_normal(shape) * scale + offset
        labels = source.integers(0, shape[1], size=shape[0])
        n = shape[0]
        text = f"softmax_cross_entropy(logits, labels) with logits of shape {shape}" + (f" (values near {offset:g})" if offset else "")
        text = text if i < len(fixed) else check.random(text)
        loss, dlogits = check.pair(text, check.call(text, logits, labels), "(loss, dlogits)")
        ref_loss, ref_grad = layers.softmax_cross_entropy(logits, labels)
        probs = layers.softmax(logits)
        if offset and isinstance(loss, (float, np.floating, np.ndarray)) and not np.all(np.isfinite(np.asarray(loss, dtype=float))):
            check.fail(text, f"loss {ref_loss:.6g}", describe(loss), "numerically unstable: subtract each row's maximum before np.exp (it does not change the softmax)")
        check.number(text + " — the loss", loss, ref_loss, "the mean loss", hints=[(ref_loss * n, "average the loss over the batch (divide by N)")] if n > 1 else [], rtol=1e-6)
        onehot = np.eye(shape[1])[labels]
        hints = [
            (probs / n, "subtract 1 at the true class: dlogits = (softmax(logits) - one_hot(labels)) / N"),
            (-ref_grad, "the sign is flipped: dlogits = (softmax - one_hot) / N"),
            ((onehot - probs) * n, "the sign is flipped and the batch mean is missing"),
        ]
        if n > 1:
            hints.insert(0, (ref_grad * n, "dlogits is N times too large: the loss is a mean over the batch, so divide by N"))
        check.array(text + " — dlogits", dlogits, ref_grad, "dlogits", value_hints=hints)
    check.passed()


def check_conv2d_param_count(conv2d_param_count) -> None:
    """``conv2d_param_count(kernel_h, kernel_w, in_channels, filters) -> int`` (weights + biases)."""
    __tracebackhide__ = True
    check = Check(conv2d_param_count, "conv2d_param_count")
    rng = check.fresh
    fixed = [(3, 3, 1, 16), (5, 3, 8, 4), (1, 1, 64, 10), (3, 3, 32, 64)]
    random = [tuple(int(v) for v in (rng.integers(1, 8), rng.integers(1, 8), rng.integers(1, 129), rng.integers(1, 257))) for _ in range(RANDOM_CASES)]
    for i, args in enumerate(fixed + random):
        kh, kw, c, f = args
        text = f"conv2d_param_count{args}"
        text = text if i < len(fixed) else check.random(text)
        got = check.call(text, *args)
        hints = [
            (kh * kw * c * f, "each filter also has one bias: add filters"),
            (kh * kw * f + f, "each filter spans all in_channels: kernel_h * kernel_w * in_channels weights per filter"),
            (kh * kw * c * f + c, "there is one bias per filter (output channel), not per input channel"),
        ]
        check.number(text, got, kh * kw * c * f + f, integer=True, hints=hints)
    check.passed()


def check_dense_param_count(dense_param_count) -> None:
    """``dense_param_count(head, height, width, channels, units) -> int``; ValueError naming the heads for an unknown head."""
    __tracebackhide__ = True
    from flatgap.models.classifier import dense_param_count as reference

    check = Check(dense_param_count, "dense_param_count")
    rng = check.fresh
    fixed = [("flatten", 7, 7, 64, 10), ("gap", 7, 7, 64, 10), ("gmp", 5, 3, 8, 4), ("flatten", 5, 3, 8, 4), ("flatten", 1, 1, 3, 2), ("gap", 9, 9, 1, 1)]
    random = [(str(rng.choice(["flatten", "gap", "gmp"])), *(int(v) for v in (rng.integers(1, 15), rng.integers(1, 15), rng.integers(1, 129), rng.integers(1, 101)))) for _ in range(RANDOM_CASES)]
    for i, args in enumerate(fixed + random):
        head, h, w, c, units = args
        text = f"dense_param_count{args}"
        text = text if i < len(fixed) else check.random(text)
        got = check.call(text, *args)
        flat, pooled = h * w * c * units + units, c * units + units
        if head == "flatten":
            hints = [(flat - units, "the Dense layer also has one bias per unit: add units"), (pooled, "Flatten passes H*W*C numbers to the Dense layer, not C")]
        else:
            hints = [(pooled - units, "the Dense layer also has one bias per unit: add units"), (flat, "global pooling leaves C numbers per image, so the Dense layer has C*units + units parameters")]
        check.number(text, got, reference(*args), integer=True, hints=[hint for hint in hints if hint[0] != reference(*args)])
    for head in ("avg", str(rng.choice(["max", "mean", "dense", "pool", "avg_pool"]))):
        text = f"dense_param_count({head!r}, 7, 7, 64, 10)"
        try:
            got = check.invoke(head, 7, 7, 64, 10)
        except NotImplementedError:
            raise
        except ValueError as error:
            missing = [name for name in ("flatten", "gap", "gmp") if name not in str(error)]
            if missing:
                check.fail(text, "a ValueError whose message names the heads you accept ('flatten', 'gap', 'gmp')", f"ValueError({str(error)!r})", f"add {', '.join(map(repr, missing))} to the message")
            check.cases += 1
        except Exception as error:
            raise AssertionError(f"{text}: expected ValueError for an unknown head, got {type(error).__name__}: {error}") from error
        else:
            check.fail(text, "a ValueError (the head must be 'flatten', 'gap' or 'gmp')", describe(got), "raise ValueError(...) for any other head")
    check.passed()
