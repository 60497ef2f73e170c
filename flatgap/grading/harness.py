"""The machinery every checker shares: calling the student's function, comparing results, readable messages.

A checker (in :mod:`flatgap.grading.ex1`, :mod:`~flatgap.grading.ex2`, ...) makes one :class:`Check` for the
student's function, calls it through :meth:`Check.call` on each case, and compares what comes back with
:meth:`Check.array`, :meth:`Check.number` or :meth:`Check.pair`. Two rules hold for every checker:

- a ``NotImplementedError`` raised by the student's function (the exercise's stub) propagates unchanged;
- any other exception raised by the student's function becomes an ``AssertionError`` that names the call,
  the exception and the line of the student's code that raised it. The checkers themselves never fail
  with anything but ``AssertionError``.

Keras is imported only by :func:`keras_module`, so exercise 1 (NumPy) needs no TensorFlow.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import traceback

import numpy as np

SEED = 2024
"""Base seed of the checkers' fixed random cases."""


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


def case_rng(offset: int = 0) -> np.random.Generator:
    """The fixed random generator of one checker's cases (``offset`` keeps checkers' inputs apart)."""
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


def keras_module():
    """Keras, imported only when a checker of a Keras exercise runs (exercise 1 needs no TensorFlow)."""
    import keras  # flatgap/__init__.py, already imported, has quieted TensorFlow
    return keras


def model_layers(model) -> list:
    """Every layer of ``model``, nested models' layers included, in order."""
    keras = keras_module()
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
