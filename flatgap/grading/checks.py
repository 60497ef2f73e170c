"""Checkers for the graded cells of the exercises.

Each ``check_<name>(fn, ...)`` calls the student's function ``fn`` on several inputs (non-square maps,
a batch of one, a single channel, random values from a fixed seed) and compares what comes back with the
course's reference implementation (:mod:`flatgap.numpy_layers`, :mod:`flatgap.models`,
:mod:`flatgap.equivalences`, :mod:`flatgap.shift`). On the first mismatch it raises ``AssertionError``
with a message a student can act on: the call, what was expected, what came back, and — when the answer
matches a common mistake (wrong axes, wrong order, a sum instead of a mean, a missing bias, an edit of the
input in place, a list instead of an array, ``None``) — a hint. When every case passes it prints one line.

Two rules hold for every checker:

- a ``NotImplementedError`` raised by the student's function (the exercise's stub) propagates unchanged;
- any other exception raised by the student's function becomes an ``AssertionError`` that names the call,
  the exception and the line of the student's code that raised it. The checkers themselves never fail
  with anything but ``AssertionError``.

Exercise 1 (NumPy) needs no TensorFlow: Keras is imported only by the checkers of exercises 2 and 3.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import traceback

import numpy as np

from flatgap import numpy_layers as layers

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
    "check_gap_model",
    "check_param_count_prediction",
    "check_flatten_dense_to_conv",
    "check_class_activation_map",
    "check_model_cam",
    "check_shift_images",
    "check_fraction_unchanged",
    "check_generalization_gap",
    "check_pad_to",
    "check_gap_dilution",
]

SEED = 2024


# ---------------------------------------------------------------------------------------------------------
# Shared machinery
# ---------------------------------------------------------------------------------------------------------


def describe(value) -> str:
    """A short description of a value for messages: its type and, for arrays, its shape."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}" if value.ndim else f"a 0-d array ({value.item()!r})"
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, str):
        return repr(value if len(value) < 40 else value[:37] + "...")
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def shape_text(shape) -> str:
    return str(tuple(int(s) if s is not None else None for s in shape))


def _library_dirs() -> tuple[str, ...]:
    import sysconfig
    from pathlib import Path

    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    dirs.add(str(Path(__file__).resolve().parents[1]))  # the flatgap package itself
    return tuple(str(Path(d).resolve()) for d in dirs)


def _student_frame(error: BaseException) -> str:
    """' (in gap_forward, line 7: x.mean(axis=5))': the last frame of the student's own code, or ''."""
    from pathlib import Path

    libraries = _library_dirs()
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if not str(Path(f.filename).resolve()).startswith(libraries) and not f.filename.startswith("<frozen")
    ]
    if not frames:
        return ""
    frame = frames[-1]
    line = f": {frame.line.strip()}" if frame.line else ""
    return f" (in {frame.name}, line {frame.lineno}{line})"


class Check:
    """Calls a student's function and fails with readable messages; one per checker run."""

    def __init__(self, fn, name: str):
        __tracebackhide__ = True
        self.name = name
        self.fn = fn
        self.cases = 0
        if not callable(fn):
            raise AssertionError(f"{name} should be a function, got {describe(fn)} — did you assign something else to the name {name}?")

    def call(self, text: str, *args, **kwargs):
        """Call the student's function; ``text`` describes the call for messages."""
        __tracebackhide__ = True
        snapshots = [(i, a.copy()) for i, a in enumerate(args) if isinstance(a, np.ndarray)]
        try:
            result = self.fn(*args, **kwargs)
        except NotImplementedError:
            raise
        except Exception as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise AssertionError(f"{text} raised {type(error).__name__}: {message}{_student_frame(error)}") from error
        for i, before in snapshots:
            if args[i].shape != before.shape or not np.array_equal(args[i], before, equal_nan=True):
                raise AssertionError(
                    f"{text} changed its input in place (argument {i + 1}); work on a new array instead "
                    "(for example `x = x - m` rather than `x -= m`, or start from x.copy())"
                )
        self.cases += 1
        return result

    def fail(self, text: str, expected: str, got: str, hint: str | None = None):
        __tracebackhide__ = True
        raise AssertionError(f"{text}: expected {expected}, got {got}" + (f" — {hint}" if hint else ""))

    def cache_is_shape(self, text: str, cache, shape: tuple) -> None:
        """Fail unless the forward pass returned the input's shape as its cache."""
        __tracebackhide__ = True
        if not isinstance(cache, (tuple, list)) or tuple(cache) != shape:
            self.fail(text, f"cache == x.shape == {shape}", describe(cache), "the backward pass only needs the input's shape: cache = x.shape")

    def passed(self, extra: str = "") -> None:
        print(f"✓ {self.name}: all {self.cases} checks passed" + (f"; {extra}" if extra else ""))

    # --- result types -----------------------------------------------------------------------------------

    def pair(self, text: str, got, names: str = "(out, cache)"):
        """Unpack a 2-tuple result."""
        __tracebackhide__ = True
        if isinstance(got, tuple) and len(got) == 2:
            return got
        hint = "return both values: `return out, cache`" if names == "(out, cache)" else f"return {names}"
        if got is None:
            hint = "did you forget the return statement?"
        self.fail(text, f"a tuple {names}", describe(got), hint)

    def array(self, text: str, got, expected: np.ndarray, what: str = "an array", shape_hints=None, value_hints=(), rtol=1e-5, atol=1e-7):
        """Compare an array result with ``expected``.

        Args:
            shape_hints: {wrong shape: hint} (a callable(shape) -> hint or None also works).
            value_hints: [(candidate array, hint)]: when the result matches a candidate, show its hint.
        """
        __tracebackhide__ = True
        want = f"{what} of shape {shape_text(expected.shape)}"
        if got is None:
            self.fail(text, want, "None", "did you forget the return statement?")
        if isinstance(got, (list, tuple)):
            self.fail(text, want, describe(got), "return a NumPy array, not a Python list (use NumPy operations or np.asarray)")
        if not isinstance(got, np.ndarray):
            self.fail(text, want, describe(got))
        if got.shape != expected.shape:
            hint = None
            if callable(shape_hints):
                hint = shape_hints(got.shape)
            elif shape_hints:
                hint = shape_hints.get(tuple(got.shape))
            self.fail(text, want, f"shape {shape_text(got.shape)}", hint)
        if not np.issubdtype(got.dtype, np.number) and got.dtype != np.bool_:
            self.fail(text, f"{want} holding numbers", f"dtype {got.dtype}")
        got_f, want_f = got.astype(np.float64), expected.astype(np.float64)
        if not np.all(np.isfinite(got_f)) and np.all(np.isfinite(want_f)):
            self.fail(text, "finite values", "nan or inf", "look for a division by zero or an overflow in np.exp")
        if np.allclose(got_f, want_f, rtol=rtol, atol=atol):
            return got
        hint = None
        for candidate, candidate_hint in value_hints:
            candidate = np.asarray(candidate, dtype=np.float64)
            if candidate.shape == got.shape and np.allclose(got_f, candidate, rtol=rtol, atol=atol):
                hint = candidate_hint
                break
        if hint is None and not np.any(got_f) and np.any(want_f):
            hint = "every value you returned is 0"
        index = np.unravel_index(np.argmax(np.abs(got_f - want_f)), got.shape)
        at = f"[{', '.join(str(int(i)) for i in index)}]"
        self.fail(text, f"value {want_f[index]:.6g} at {at}", f"{got_f[index]:.6g}", hint)

    def number(self, text: str, got, expected: float, what: str = "a number", hints=(), rtol=1e-6, atol=1e-9, integer=False):
        """Compare a scalar result with ``expected``; ``hints``: [(candidate value, hint)]."""
        __tracebackhide__ = True
        if got is None:
            self.fail(text, f"{what} ({expected:.6g})", "None", "did you forget the return statement?")
        if isinstance(got, np.ndarray) and got.ndim == 0:
            got = got.item()
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.integer, np.floating)):
            hint = None
            if isinstance(got, np.ndarray):
                hint = "reduce it to a single number (for example with .mean() or float(...))"
            self.fail(text, f"{what} ({expected:.6g})", describe(got), hint)
        if integer and not float(got).is_integer():
            self.fail(text, f"an integer ({int(expected)})", describe(got), "parameter counts are whole numbers; use integer arithmetic")
        if not np.isfinite(float(got)):
            self.fail(text, f"{what} ({expected:.6g})", describe(got), "look for a division by zero or an overflow in np.exp")
        if np.isclose(float(got), expected, rtol=rtol, atol=atol):
            return got
        hint = next((h for candidate, h in hints if np.isclose(float(got), candidate, rtol=rtol, atol=atol)), None)
        shown = f"{int(expected)}" if integer else f"{expected:.6g}"
        self.fail(text, shown, describe(got), hint)


def _rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(SEED + offset)


def loop_depth(fn) -> int | None:
    """How deeply ``for``/``while`` loops and comprehensions nest in ``fn``'s source (None: no source)."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    loops = (ast.For, ast.While, ast.comprehension, ast.AsyncFor)

    def depth(node, level=0) -> int:
        best = level
        for child in ast.iter_child_nodes(node):
            deeper = level + 1 if isinstance(child, loops) else level
            best = max(best, depth(child, deeper))
        return best

    return depth(tree.body[0]) if tree.body else 0


# ---------------------------------------------------------------------------------------------------------
# Exercise 1: NumPy layers
# ---------------------------------------------------------------------------------------------------------

MAP_SHAPES = [(2, 7, 7, 64), (1, 5, 3, 4), (3, 4, 6, 1)]
"""Feature-map shapes the layer checkers use: square with many channels, a batch of one (non-square), C = 1."""


def check_flatten_forward(flatten_forward) -> None:
    """``flatten_forward(x) -> (out, cache)``: out (N, H*W*C) in channels-last (C order), cache = x.shape."""
    __tracebackhide__ = True
    check = Check(flatten_forward, "flatten_forward")
    for i, shape in enumerate(MAP_SHAPES):
        x = _rng(i).standard_normal(shape)
        n, h, w, c = shape
        text = f"flatten_forward(x) with x of shape {shape}"
        out, cache = check.pair(text, check.call(text, x))
        expected, _ = layers.flatten_forward(x)
        check.array(
            text,
            out,
            expected,
            "out",
            shape_hints={
                (n * h * w * c,): "keep the batch axis: reshape to (N, H*W*C), e.g. x.reshape(N, -1)",
                shape: "Flatten must turn each (H, W, C) map into one row: reshape to (N, H*W*C)",
                (h * w * c, n): "the batch axis comes first: reshape to (N, -1), not (-1, N)",
            },
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
    for i, shape in enumerate(MAP_SHAPES):
        n, h, w, c = shape
        dout = _rng(10 + i).standard_normal((n, h * w * c))
        text = f"flatten_backward(dout, cache) with dout of shape {dout.shape} and cache = {shape}"
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
    for i, shape in enumerate(MAP_SHAPES):
        x = _rng(20 + i).standard_normal(shape)
        n, h, w, c = shape
        text = f"gap_forward(x) with x of shape {shape}"
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
    for i, shape in enumerate(MAP_SHAPES):
        n, h, w, c = shape
        dout = _rng(30 + i).standard_normal((n, c))
        text = f"gap_backward(dout, cache) with dout of shape {dout.shape} and cache = {shape}"
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


def check_gmp_backward(gmp_backward) -> None:
    """``gmp_backward(dout, cache) -> dx`` with cache = x: dout[n, c] goes to the maximum of channel c."""
    __tracebackhide__ = True
    check = Check(gmp_backward, "gmp_backward")
    for i, shape in enumerate([(2, 5, 4, 3), (1, 3, 3, 2), (3, 6, 2, 1)]):
        n, h, w, c = shape
        x = _rng(40 + i).standard_normal(shape)  # continuous values: no ties
        dout = _rng(50 + i).standard_normal((n, c))
        text = f"gmp_backward(dout, cache) with dout of shape {dout.shape} and cache = x of shape {shape}"
        dx = check.call(text, dout, x)
        _, cache = layers.gmp_forward(x)
        at_max = x == x.max(axis=(1, 2), keepdims=True)
        check.array(
            text,
            dx,
            layers.gmp_backward(dout, cache),
            "dx",
            shape_hints={dout.shape: "dx must have the input's shape (N, H, W, C)"},
            value_hints=[
                (np.broadcast_to(dout[:, None, None, :] / (h * w), shape), "that is the average-pooling gradient; max pooling sends all of dout[n, c] to the position of the maximum and 0 elsewhere"),
                (at_max.astype(float), "multiply the mask of maxima by dout"),
                (x * at_max * dout[:, None, None, :], "the gradient at the maximum is dout[n, c] itself, not x * dout"),
            ],
        )
    check.passed()


def check_conv2d_forward(conv2d_forward) -> None:
    """``conv2d_forward(x, w, b) -> (out, cache)``: valid padding, stride 1, vectorized."""
    __tracebackhide__ = True
    check = Check(conv2d_forward, "conv2d_forward")
    cases = [((2, 7, 5, 3), (3, 2, 3, 4)), ((1, 4, 4, 1), (1, 1, 1, 2)), ((3, 6, 6, 2), (3, 3, 2, 1))]
    for i, (xs, ws) in enumerate(cases):
        rng = _rng(60 + i)
        x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[3])
        n, h, wd, _ = xs
        kh, kw, _, f = ws
        text = f"conv2d_forward(x, w, b) with x {xs}, w {ws}, b {b.shape}"
        out, _ = check.pair(text, check.call(text, x, w, b))
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
    depth = loop_depth(conv2d_forward)
    if depth is not None and depth > 2:
        raise AssertionError(
            f"conv2d_forward: expected a vectorized implementation (loops at most over the kernel offsets), got loops nested "
            f"{depth} deep — loop over (kh, kw) at most and let NumPy handle N, H, W, C and F at once "
            "(for example out += x[:, i:i+OH, j:j+OW, :] @ w[i, j])"
        )
    check.passed()


def check_softmax_cross_entropy(softmax_cross_entropy) -> None:
    """``softmax_cross_entropy(logits, labels) -> (loss, dlogits)``: mean over the batch, stable."""
    __tracebackhide__ = True
    check = Check(softmax_cross_entropy, "softmax_cross_entropy")
    cases = [((4, 10), 3.0, 0.0), ((1, 3), 1.0, 0.0), ((5, 2), 2.0, 1000.0)]
    for i, (shape, scale, offset) in enumerate(cases):
        rng = _rng(70 + i)
        logits = rng.standard_normal(shape) * scale + offset
        labels = rng.integers(0, shape[1], size=shape[0])
        n = shape[0]
        text = f"softmax_cross_entropy(logits, labels) with logits of shape {shape}" + (f" (values near {offset:g})" if offset else "")
        loss, dlogits = check.pair(text, check.call(text, logits, labels), "(loss, dlogits)")
        ref_loss, ref_grad = layers.softmax_cross_entropy(logits, labels)
        probs = layers.softmax(logits)
        if offset and isinstance(loss, (float, np.floating, np.ndarray)) and not np.all(np.isfinite(np.asarray(loss, dtype=float))):
            check.fail(text, f"loss {ref_loss:.6g}", describe(loss), "numerically unstable: subtract each row's maximum before np.exp (it does not change the softmax)")
        check.number(text + " — the loss", loss, ref_loss, "the mean loss", hints=[(ref_loss * n, "average the loss over the batch (divide by N)")], rtol=1e-6)
        onehot = np.eye(shape[1])[labels]
        check.array(
            text + " — dlogits",
            dlogits,
            ref_grad,
            "dlogits",
            value_hints=[
                (ref_grad * n, "dlogits is N times too large: the loss is a mean over the batch, so divide by N"),
                (probs / n, "subtract 1 at the true class: dlogits = (softmax(logits) - one_hot(labels)) / N"),
                (-ref_grad, "the sign is flipped: dlogits = (softmax - one_hot) / N"),
                ((onehot - probs) * n, "the sign is flipped and the batch mean is missing"),
            ],
        )
    check.passed()


def check_conv2d_param_count(conv2d_param_count) -> None:
    """``conv2d_param_count(kernel_h, kernel_w, in_channels, filters) -> int`` (weights + biases)."""
    __tracebackhide__ = True
    check = Check(conv2d_param_count, "conv2d_param_count")
    for args in [(3, 3, 1, 16), (5, 3, 8, 4), (1, 1, 64, 10), (3, 3, 32, 64)]:
        kh, kw, c, f = args
        text = f"conv2d_param_count{args}"
        got = check.call(text, *args)
        check.number(
            text,
            got,
            kh * kw * c * f + f,
            integer=True,
            hints=[
                (kh * kw * c * f, "each filter also has one bias: add filters"),
                (kh * kw * f + f, "each filter spans all in_channels: kernel_h * kernel_w * in_channels weights per filter"),
                (kh * kw * c * f + c, "there is one bias per filter (output channel), not per input channel"),
            ],
        )
    check.passed()


def check_dense_param_count(dense_param_count) -> None:
    """``dense_param_count(head, height, width, channels, units) -> int``; ValueError for an unknown head."""
    __tracebackhide__ = True
    from flatgap.models import dense_param_count as reference

    check = Check(dense_param_count, "dense_param_count")
    for args in [("flatten", 7, 7, 64, 10), ("gap", 7, 7, 64, 10), ("gmp", 5, 3, 8, 4), ("flatten", 5, 3, 8, 4), ("flatten", 1, 1, 3, 2), ("gap", 9, 9, 1, 1)]:
        head, h, w, c, units = args
        text = f"dense_param_count{args}"
        got = check.call(text, *args)
        flat, pooled = h * w * c * units + units, c * units + units
        if head == "flatten":
            hints = [(flat - units, "the Dense layer also has one bias per unit: add units"), (pooled, "Flatten passes H*W*C numbers to the Dense layer, not C")]
        else:
            hints = [(pooled - units, "the Dense layer also has one bias per unit: add units"), (flat, "global pooling leaves C numbers per image, so the Dense layer has C*units + units parameters")]
        check.number(text, got, reference(*args), integer=True, hints=hints)
    text = "dense_param_count('avg', 7, 7, 64, 10)"
    try:
        got = dense_param_count("avg", 7, 7, 64, 10)
    except NotImplementedError:
        raise
    except ValueError:
        check.cases += 1
    except Exception as error:
        raise AssertionError(f"{text}: expected ValueError for an unknown head, got {type(error).__name__}: {error}") from error
    else:
        check.fail(text, "a ValueError (the head must be 'flatten', 'gap' or 'gmp')", describe(got), "raise ValueError(...) for any other head")
    check.passed()


# ---------------------------------------------------------------------------------------------------------
# Exercise 2: Keras
# ---------------------------------------------------------------------------------------------------------


def _keras():
    import keras  # flatgap/__init__.py, already imported, has quieted TensorFlow
    return keras


def _model_layers(model):
    keras = _keras()
    seen, out = set(), []

    def walk(layer):
        for sub in getattr(layer, "layers", []):
            if id(sub) not in seen:
                seen.add(id(sub))
                out.append(sub)
                if isinstance(sub, keras.Model):
                    walk(sub)

    walk(model)
    return out


def check_gap_model(build_gap_model) -> None:
    """``build_gap_model(channels, num_classes)``: a keras.Model with a conv body and a GAP head for any input size."""
    __tracebackhide__ = True
    keras = _keras()
    check = Check(build_gap_model, "build_gap_model")
    for case, (channels, classes) in enumerate([(1, 10), (3, 4)]):
        text = f"build_gap_model(channels={channels}, num_classes={classes})"
        model = check.call(text, channels, classes)
        if not isinstance(model, keras.Model):
            hint = "did you forget the return statement?" if model is None else "return the keras.Model you built"
            check.fail(text, "a keras.Model", describe(model), hint)
        kinds = [type(layer).__name__ for layer in _model_layers(model)]
        if "Flatten" in kinds:
            check.fail(text, "a model without Flatten", f"layers {kinds}", "a Flatten head fixes the input size (its Dense layer needs H*W*C inputs); use GlobalAveragePooling2D")
        if "GlobalAveragePooling2D" not in kinds:
            check.fail(text, "a GlobalAveragePooling2D layer", f"layers {kinds}", "put keras.layers.GlobalAveragePooling2D() between the body and the Dense classifier")
        if "Conv2D" not in kinds:
            check.fail(text, "a convolutional body (at least one Conv2D)", f"layers {kinds}")
        try:
            input_shape = tuple(model.input_shape)
        except Exception:  # a model without a defined input
            input_shape = None
        if input_shape != (None, None, None, channels):
            check.fail(text, f"model.input_shape == (None, None, None, {channels})", str(input_shape), f"start from keras.Input(shape=(None, None, {channels})): None lets H and W vary")
        for size_case, (n, h, w) in enumerate([(1, 8, 8), (2, 13, 17), (1, 32, 24)]):
            x = _rng(100 + 10 * case + size_case).random((n, h, w, channels)).astype("float32")
            call = f"{text}(x) with x of shape {(n, h, w, channels)}"
            try:
                y = np.asarray(model(x, training=False))
            except Exception as error:
                raise AssertionError(
                    f"{call} raised {type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''} — "
                    "the model must accept any input size of at least 8x8 (use padding='same' in the body)"
                ) from error
            if y.shape != (n, classes):
                check.fail(call, f"output of shape {(n, classes)}", f"shape {y.shape}", f"end with GlobalAveragePooling2D and Dense({classes})")
            if not np.allclose(y.sum(axis=1), 1.0, atol=1e-4) or (y < 0).any():
                check.fail(call, "class probabilities (each row sums to 1)", f"rows summing to {np.round(y.sum(axis=1), 3).tolist()}", "use Dense(num_classes, activation='softmax')")
            check.cases += 1
    check.passed()


def check_param_count_prediction(predict_param_count) -> None:
    """``predict_param_count(input_shape, filters, kernel_size, padding, head, num_classes) -> int``,
    equal to ``flatgap.models.build_classifier(...).count_params()`` (no pooling in the body)."""
    __tracebackhide__ = True
    from flatgap.models import build_classifier

    check = Check(predict_param_count, "predict_param_count")
    cases = [
        ((8, 8, 1), (16, 32), 3, "same", "flatten", 10),
        ((8, 8, 1), (16, 32), 3, "valid", "flatten", 10),
        ((28, 20, 3), (8,), 5, "valid", "gap", 4),
        ((16, 16, 1), (4, 8, 16), 3, "same", "gmp", 10),
        ((12, 10, 2), (6,), 3, "same", "flatten+dropout", 3),
    ]
    for args in cases:
        shape, filters, k, padding, head, classes = args
        text = f"predict_param_count{args}"
        got = check.call(text, *args)
        expected = build_classifier(head, shape, classes, filters, k, padding).count_params()
        channels = [shape[2], *filters]
        conv = sum(k * k * a * b + b for a, b in zip(channels[:-1], filters, strict=True))
        h, w = shape[:2]
        if padding == "valid":
            h, w = h - len(filters) * (k - 1), w - len(filters) * (k - 1)
        features = h * w * filters[-1] if head.startswith("flatten") else filters[-1]
        hints = [
            (expected - sum(filters), "each Conv2D also has one bias per filter"),
            (expected - classes, "the Dense classifier also has one bias per class"),
            (conv, "add the Dense classifier's parameters"),
            (features * classes + classes, "add the convolutions' parameters"),
        ]
        if padding == "valid":
            hints.append((conv + shape[0] * shape[1] * filters[-1] * classes + classes, "with padding='valid' each k x k convolution shrinks H and W by k - 1"))
        if head.startswith("flatten"):
            hints.append((conv + filters[-1] * classes + classes, "Flatten feeds H*W*C numbers to the Dense layer, not C"))
        else:
            hints.append((conv + h * w * filters[-1] * classes + classes, "global pooling feeds C numbers to the Dense layer, not H*W*C"))
        check.number(text, got, expected, integer=True, hints=hints)
    check.passed()


def check_flatten_dense_to_conv(flatten_dense_to_conv) -> None:
    """``flatten_dense_to_conv(kernel, bias, height, width, channels) -> (conv_kernel, conv_bias)``."""
    __tracebackhide__ = True
    from flatgap.equivalences import flatten_dense_to_conv as reference

    check = Check(flatten_dense_to_conv, "flatten_dense_to_conv")
    for i, ((h, w, c), units) in enumerate([((3, 4, 2), 5), ((1, 1, 6), 3), ((2, 2, 1), 1)]):
        rng = _rng(200 + i)
        kernel, bias = rng.standard_normal((h * w * c, units)), rng.standard_normal(units)
        text = f"flatten_dense_to_conv(kernel, bias, {h}, {w}, {c}) with kernel of shape {kernel.shape}"
        got_kernel, got_bias = check.pair(text, check.call(text, kernel, bias, h, w, c), "(conv_kernel, conv_bias)")
        ref_kernel, ref_bias = reference(kernel, bias, h, w, c)
        check.array(
            text + " — conv_kernel",
            got_kernel,
            ref_kernel,
            "conv_kernel",
            shape_hints={(units, h, w, c): "keep units last: Conv2D kernels are (KH, KW, C, filters)", (h * w * c, units): "reshape the kernel to (H, W, C, units)"},
            value_hints=[
                (kernel.reshape(c, h, w, units).transpose(1, 2, 0, 3), "that is the channels-first order; a channels-last Flatten walks H, then W, then C, so kernel.reshape(H, W, C, units) is enough"),
                (kernel.reshape(w, h, c, units).transpose(1, 0, 2, 3), "Flatten walks H before W: reshape to (H, W, C, units) directly"),
            ],
        )
        check.array(text + " — conv_bias", got_bias, ref_bias, "conv_bias", shape_hints={(1, 1, units): "return the bias as it is, shape (units,)"})
    # The point of the identity, shown on Keras's own Conv2D: the kernel reproduces the Dense outputs.
    keras = _keras()
    h, w, c, units = 3, 4, 2, 5
    rng = _rng(210)
    kernel, bias = rng.standard_normal((h * w * c, units)).astype("float32"), rng.standard_normal(units).astype("float32")
    x = rng.standard_normal((2, h, w, c)).astype("float32")
    text = f"flatten_dense_to_conv(kernel, bias, {h}, {w}, {c})"
    got_kernel, got_bias = check.pair(text, check.call(text, kernel, bias, h, w, c), "(conv_kernel, conv_bias)")
    conv = keras.layers.Conv2D(units, (h, w), padding="valid")
    conv.build((None, h, w, c))
    conv.set_weights([np.asarray(got_kernel, dtype="float32"), np.asarray(got_bias, dtype="float32")])
    difference = float(np.abs(np.asarray(conv(x))[:, 0, 0, :] - (x.reshape(2, -1) @ kernel + bias)).max())
    if difference > 1e-4:
        raise AssertionError(f"flatten_dense_to_conv: a keras Conv2D with your weights differs from Flatten + Dense by {difference:.3g}")
    check.passed(f"a keras Conv2D with your kernel reproduces Flatten + Dense (largest difference {difference:.1e})")


def check_class_activation_map(class_activation_map) -> None:
    """``class_activation_map(feature_maps, weights, class_index) -> (H, W)``: sum_c weights[c, k] * A[:, :, c]."""
    __tracebackhide__ = True
    from flatgap.equivalences import class_activation_maps

    check = Check(class_activation_map, "class_activation_map")
    for i, ((h, w, c), classes, k) in enumerate([((5, 4, 3), 10, 2), ((7, 7, 1), 4, 0), ((3, 6, 4), 4, 3), ((1, 1, 5), 2, 1)]):
        rng = _rng(300 + i)
        maps, weights = rng.random((h, w, c)), rng.standard_normal((c, classes))
        text = f"class_activation_map(feature_maps, weights, {k}) with feature_maps of shape {(h, w, c)} and weights of shape {(c, classes)}"
        got = check.call(text, maps, weights, k)
        expected = class_activation_maps(maps[None], weights, np.zeros(classes), k)[0]
        hints = [
            (expected / c, "the CAM is a weighted SUM over the channels, not a mean"),
            (maps.sum(axis=2), "weight each channel c by weights[c, class_index]"),
            (np.maximum(expected, 0), "do not clip the map at 0; return the weighted sum as it is"),
        ]
        if c == classes:
            hints.insert(0, (maps @ weights[k], "weights has shape (C, num_classes): the class's weights are the column weights[:, class_index], not the row"))
        check.array(
            text,
            got,
            expected,
            "a map",
            shape_hints={(h, w, c): "sum over the channel axis (axis 2)", (h, w, classes): "use only the column of class_index: weights[:, class_index]", (h, w, 1): "return an (H, W) map"},
            value_hints=hints,
        )
    check.passed()


def check_model_cam(model_cam, model, images, conv_layer: str) -> None:
    """``model_cam(model, images, class_index, conv_layer) -> (N, H', W')``: the CAMs of a GAP model.

    ``model`` comes from ``flatgap.models.build_classifier("gap", ...)``: ``conv_layer`` names its last
    convolution and its Dense layer is ``model.get_layer("classifier")``.
    """
    __tracebackhide__ = True
    keras = _keras()
    check = Check(model_cam, "model_cam")
    features = np.asarray(keras.Model(model.input, model.get_layer(conv_layer).output)(images, training=False))
    kernel, bias = model.get_layer("classifier").get_weights()
    classes = kernel.shape[1]
    images = np.asarray(images)
    for batch, k in [(images, 0), (images[:1], classes // 2), (images, classes - 1)]:
        text = f"model_cam(model, images, {k}, {conv_layer!r}) with images of shape {batch.shape}"
        got = check.call(text, model, batch, k, conv_layer)
        maps = features[: len(batch)]
        expected = maps @ kernel[:, k]
        check.array(
            text,
            got,
            expected,
            "CAMs",
            shape_hints=lambda got, batch=batch, maps=maps: (
                f"return the maps at the resolution of layer {conv_layer!r}, {maps.shape[1:3]}; do not resize them to the image"
                if tuple(got[1:3]) == batch.shape[1:3] and got[1:3] != maps.shape[1:3]
                else f"one (H', W') map per image: feature maps of {conv_layer!r} @ kernel[:, class_index]"
            ),
            value_hints=[
                (expected + bias[k], "leave the bias out: CAM = sum_c kernel[c, k] * A[..., c] (Zhou et al., 2016)"),
                (expected / maps.shape[-1], "the CAM is a weighted SUM over the channels, not a mean"),
            ],
            rtol=1e-4,
            atol=1e-5,
        )
    logits = features.mean(axis=(1, 2)) @ kernel + bias
    cam_means = (features @ kernel).mean(axis=(1, 2)) + bias
    identity = float(np.abs(logits - cam_means).max())
    check.passed(f"mean of each CAM + bias = the class's logit (largest difference {identity:.1e})")


# ---------------------------------------------------------------------------------------------------------
# Exercise 3: experiments
# ---------------------------------------------------------------------------------------------------------


def check_shift_images(shift_images) -> None:
    """``shift_images(images, dy, dx)``: move content down by dy and right by dx, zero fill, no wrap-around."""
    __tracebackhide__ = True
    from flatgap.shift import shift_images as reference

    check = Check(shift_images, "shift_images")
    square = _rng(400).random((2, 8, 8, 1)) + 0.5
    wide = _rng(401).random((1, 5, 7, 3)) + 0.5
    for images, dy, dx in [(square, 1, 0), (square, 0, -2), (square, 3, 2), (square, -1, -1), (square, 0, 0), (square, 8, 0), (wide, 2, 3), (wide, 0, -6)]:
        text = f"shift_images(images, dy={dy}, dx={dx}) with images of shape {images.shape}"
        got = check.call(text, images, dy, dx)
        expected = reference(images, dy, dx)
        hints = [(np.roll(images, (dy, dx), axis=(1, 2)), "pixels that leave the image must not come back on the other side (np.roll wraps around): fill the vacated pixels with zeros")]
        if images.shape[1] == images.shape[2] and dy != dx:
            hints.append((reference(images, dx, dy), "dy moves rows (axis 1, down when positive), dx moves columns (axis 2, right when positive)"))
        if (dy, dx) != (0, 0):
            hints.append((reference(images, -dy, -dx), "positive dy moves the content DOWN and positive dx moves it RIGHT"))
            hints.append((images, "the images came back unshifted"))
        check.array(text, got, expected, "images", shape_hints={}, value_hints=hints)
    check.passed()


def check_fraction_unchanged(fraction_unchanged, model, images) -> None:
    """``fraction_unchanged(model, images, k) -> float``: share of images whose predicted class stays the
    same when the images are shifted right by k pixels with zero fill."""
    __tracebackhide__ = True
    from flatgap.shift import shift_images

    check = Check(fraction_unchanged, "fraction_unchanged")
    images = np.asarray(images)
    n = len(images)
    probs = model.predict(images, verbose=0, batch_size=512)
    before = probs.argmax(axis=1)
    results = {}
    for batch, k in [(images, 1), (images, 0), (images, 2), (images, 3), (images[:1], 2)]:
        text = f"fraction_unchanged(model, images, {k}) with images of shape {batch.shape}"
        got = check.call(text, model, batch, k)
        shifted = model.predict(shift_images(batch, 0, k), verbose=0, batch_size=512)
        expected = float(np.mean(shifted.argmax(axis=1) == before[: len(batch)]))
        rolled = model.predict(np.roll(batch, k, axis=2), verbose=0, batch_size=512).argmax(axis=1)
        down = model.predict(shift_images(batch, k, 0), verbose=0, batch_size=512).argmax(axis=1)
        hints = [
            (1 - expected, "that is the fraction of predictions that CHANGED; return the fraction unchanged"),
            (float(np.mean(rolled == before[: len(batch)])), "use zero fill, not np.roll (which wraps the pixels around)"),
            (float(np.mean(down == before[: len(batch)])), "shift to the right (along the width, axis 2), not down"),
            (float(np.mean(np.all(shifted == probs[: len(batch)], axis=1))), "compare the predicted classes (argmax over the last axis), not the probability vectors"),
        ]
        # On a large batch, allow one prediction to flip on a near-tie (a different batch size in predict
        # can change the last bits of the probabilities); a batch of one must match exactly.
        slack = 1.01 / len(batch) if len(batch) >= 50 else 1e-9
        check.number(text, got, expected, "a fraction between 0 and 1", hints=[h for h in hints if abs(h[0] - expected) > 2 * slack], atol=slack, rtol=0)
        if len(batch) == n:
            results[k] = expected
    shown = ", ".join(f"{results[k]:.2f} (k={k})" for k in sorted(results))
    check.passed(f"on this model, the fraction of unchanged predictions is {shown}")


def check_generalization_gap(generalization_gap) -> None:
    """``generalization_gap(runs, head) -> (mean, std)`` of train minus test accuracy over that head's runs
    (population standard deviation, ``np.std``)."""
    __tracebackhide__ = True
    check = Check(generalization_gap, "generalization_gap")
    rng = _rng(500)
    runs = []
    for head, seeds, base in [("flatten", 3, 0.88), ("gap", 4, 0.93), ("gmp", 1, 0.90)]:
        for seed in range(seeds):
            train = float(min(1.0, 0.99 + 0.01 * rng.random()))
            runs.append({"head": head, "seed": seed, "train_accuracy": train, "test_accuracy": float(base + 0.04 * rng.random())})
    for head in ("flatten", "gap", "gmp"):
        text = f"generalization_gap(runs, {head!r}) with {len(runs)} runs ({sum(r['head'] == head for r in runs)} of head {head!r})"
        got = check.call(text, runs, head)
        gaps = np.array([r["train_accuracy"] - r["test_accuracy"] for r in runs if r["head"] == head])
        all_gaps = np.array([r["train_accuracy"] - r["test_accuracy"] for r in runs])
        mean, std = check.pair(text, got, "(mean, std)")
        check.number(
            text + " — the mean",
            mean,
            float(gaps.mean()),
            "the mean gap",
            hints=[(-gaps.mean(), "the gap is train accuracy MINUS test accuracy"), (all_gaps.mean(), "use only the runs of the given head"), (gaps.std(), "return (mean, std) in that order")],
        )
        std_hints = [(all_gaps.std(), "use only the runs of the given head"), (gaps.mean(), "return (mean, std) in that order")]
        if len(gaps) > 1:
            std_hints.insert(0, (gaps.std(ddof=1), "use the population standard deviation, np.std (ddof=0), as the course's tables do"))
        check.number(text + " — the standard deviation", std, float(gaps.std()), "the standard deviation", hints=std_hints)
    check.passed()


def check_pad_to(pad_to) -> None:
    """``pad_to(x, height, width)``: zero-pad (N, H, W, C) maps to (N, height, width, C), centred, the odd
    row or column going to the bottom or right."""
    __tracebackhide__ = True
    check = Check(pad_to, "pad_to")
    for i, (shape, (height, width)) in enumerate([((2, 4, 4, 3), (8, 8)), ((1, 5, 3, 1), (8, 6)), ((3, 2, 7, 2), (2, 9)), ((1, 3, 3, 2), (3, 3))]):
        x = _rng(600 + i).random(shape) + 0.5
        n, h, w, c = shape
        top, left = (height - h) // 2, (width - w) // 2
        bottom, right = height - h - top, width - w - left
        text = f"pad_to(x, {height}, {width}) with x of shape {shape}"
        got = check.call(text, x, height, width)
        expected = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
        check.array(
            text,
            got,
            expected,
            "padded maps",
            shape_hints=lambda got, n=n, c=c: "pad only axes 1 and 2 (H and W); N and C stay as they are" if got[0] != n or got[-1] != c else None,
            value_hints=[
                (np.pad(x, ((0, 0), (0, height - h), (0, width - w), (0, 0))), "centre the maps: (height - H) // 2 rows of zeros on top, the rest below"),
                (np.pad(x, ((0, 0), (bottom, top), (right, left), (0, 0))), "when the padding is odd, the extra row goes to the bottom and the extra column to the right"),
                (np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), mode="edge"), "pad with zeros, not by repeating the border"),
            ],
        )
    check.passed()


def check_gap_dilution(gap_dilution) -> None:
    """``gap_dilution(height, width, new_height, new_width) -> float``: GAP(padded) / GAP(original) = H*W / (H'*W')."""
    __tracebackhide__ = True
    check = Check(gap_dilution, "gap_dilution")
    for args in [(4, 4, 8, 8), (5, 3, 8, 6), (7, 7, 7, 7), (1, 1, 3, 5), (7, 7, 9, 9)]:
        h, w, nh, nw = args
        text = f"gap_dilution{args}"
        got = check.call(text, *args)
        check.number(
            text,
            got,
            h * w / (nh * nw),
            "the factor H*W / (H'*W')",
            hints=[(nh * nw / (h * w), "the ratio is upside down: the padded map averages the same sum over MORE positions, so the factor is below 1"), (h / nh, "both axes grow: H*W / (H'*W')")],
        )
    # The identity the factor expresses, on random maps: GAP of the zero-padded maps = GAP of the maps x factor.
    x = _rng(700).random((2, 7, 7, 3))
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ratio = padded.mean(axis=(1, 2)) / x.mean(axis=(1, 2))
    if not np.allclose(ratio, 49 / 81):
        raise AssertionError(f"gap_dilution: internal check failed: padding 7x7 maps to 9x9 scaled GAP by {ratio.ravel()}")
    check.passed(f"zero-padding 7x7 maps to 9x9 multiplies their global average by {float(ratio.mean()):.4f} = 7*7 / (9*9)")
