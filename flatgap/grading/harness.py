"""The machinery every checker shares: calling the student's function, comparing results, readable messages.

A checker (in :mod:`flatgap.grading.ex1`, :mod:`~flatgap.grading.ex2`, ...) makes one :class:`Check` for the
student's function, calls it through :meth:`Check.call` on each case, and compares what comes back with
:meth:`Check.array`, :meth:`Check.number` or :meth:`Check.pair`. The rules every checker follows:

- a ``NotImplementedError`` raised by the student's function (the exercise's stub) propagates unchanged;
- any other exception raised by the student's function becomes an ``AssertionError`` that names the call,
  the exception and the function and line of the student's code that raised it. The checkers themselves
  never fail with anything but ``AssertionError``;
- the student's function gets read-only copies of the input arrays (and copies of lists and dicts), so an
  in-place edit fails at the line that makes it, and the message names the function that made it;
- Keras models cross between the checker and the student's function as ``.keras`` files, both ways
  (:class:`flatgap.grading.kernelside.ModelFiles`): the checker gets a model the student's function built as a
  copy loaded in safe mode (:meth:`Check.model`), and the student's function gets a copy of the model the checker
  passes, loaded from the file that holds it;
- cases are fixed ones (:func:`case_rng`, the same on every run) plus fresh random ones
  (:attr:`Check.fresh`) drawn from the *grading seed*: the grader draws one per run and prints it
  (:func:`grading_seed`); without one, each check draws its own, or reads ``FLATGAP_GRADING_SEED``. The
  message of a failed random case names its seed, so the failure can be reproduced.

Keras is imported only by :func:`keras_module`, so exercise 1 (NumPy) needs no TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import zlib

import numpy as np

from flatgap.grading.kernelside import Unsaved

SEED = 2024
"""Base seed of the checkers' fixed cases."""

SEED_VARIABLE = "FLATGAP_GRADING_SEED"
"""Environment variable that fixes the grading seed of checks run without one (graded cells, the score cell)."""

_seed: int | None = None


def new_seed() -> int:
    """A fresh grading seed: ``FLATGAP_GRADING_SEED`` when it is set, else a random one."""
    value = os.environ.get(SEED_VARIABLE, "").strip()
    if value:
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{SEED_VARIABLE} must be a whole number, got {value!r}") from None
    return secrets.randbelow(2**31)


@contextlib.contextmanager
def grading_seed(seed: int):
    """Within the block, every check draws its random cases from ``seed`` (the grader's seed)."""
    global _seed
    previous, _seed = _seed, int(seed)
    try:
        yield
    finally:
        _seed = previous


def current_seed() -> int:
    """The grading seed in force, or a new one (see :func:`new_seed`)."""
    return _seed if _seed is not None else new_seed()


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


LINE_ALLOWANCE = 8
"""How many more Python lines a vectorized function may run on the large input than on the small one."""


class StudentFunction:
    """How a :class:`Check` reaches the student's function; the grader's subclass calls it in the notebook's kernel.

    ``call(args, measure)`` returns the response of :func:`flatgap.grading.kernelside.call_function`, with
    ``"models"`` set to the :class:`~flatgap.grading.kernelside.ModelFiles` that the Keras models in its value are
    read from (on this side: the response itself never names a file); ``describe()`` returns ``{"callable", "type",
    "value"}`` (see :func:`flatgap.grading.kernelside.serve`).
    """

    timeout: float | None = None

    def call(self, args: tuple, measure: dict | None = None) -> dict:
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError


class LocalFunction(StudentFunction):
    """The student's function in this very process (the score cell, the checkers' unit tests): the same plain-data
    round trip as the grader's, Keras models through ``.keras`` files in a temporary folder, so that both give the
    same rows."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = 0
        self._folder = None

    def call(self, args, measure=None):
        import tempfile

        from flatgap.grading import kernelside
        from flatgap.grading.tracing import library_dirs

        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="flatgap-models-")  # removed with this object
        prefix = f"{self._folder.name}/call{self.calls}"
        self.calls += 1
        inputs, outputs = kernelside.ModelFiles(f"{prefix}-in"), kernelside.ModelFiles(f"{prefix}-out")
        response = kernelside.call_function(self.fn, [kernelside.encode(a, models=inputs) for a in args], measure, library_dirs(), {"in": inputs, "out": outputs})
        response["models"] = outputs
        return response

    def describe(self):
        return {"callable": callable(self.fn), "type": type(self.fn).__name__, "direct": self.fn}


class StudentRaised(Exception):
    """An exception the student's function raised, rebuilt from its type name and message (not a built-in type)."""

    def __init__(self, type_name: str, message: str):
        super().__init__(message)
        self.type_name = type_name


class Check:
    """Calls a student's function and fails with readable messages; one per checker run.

    The student's function is reached through a :class:`StudentFunction`: in the grader, one that calls it in the
    notebook's kernel and gets back plain data (see :mod:`flatgap.grading.kernelside`); in the score cell and the
    unit tests, one that makes the same round trip in process. Every comparison happens here, in the checker's process.

    Attributes:
        seed: the grading seed of this run's random cases. fresh: the generator of those cases.
        cases: number of cases that passed so far. random_cases: how many of them were random.
        shares: indices of the arguments of the last call whose memory the result shares.
    """

    def __init__(self, fn, name: str):
        __tracebackhide__ = True
        self.name = name
        self.cases = 0
        self.random_cases = 0
        self.inputs: list = []
        self.shares: list[int] = []
        self.seed = current_seed()
        self.fresh = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
        self.student = fn if isinstance(fn, StudentFunction) else LocalFunction(fn)
        self.fn = fn
        about = self.student.describe()
        if not about.get("callable"):
            value = about.get("direct") if "direct" in about else _decoded(about.get("value"))
            shown = describe(value) if value is not None or about.get("type") == "None" else f"a {about.get('type')}"
            raise AssertionError(f"{name} should be a function, got {shown} — did you assign something else to the name {name}?")

    def random(self, text: str) -> str:
        """The description of one random case (counted as such): ``text`` plus the seed that reproduces it."""
        self.random_cases += 1
        return f"{text} (random case, seed {self.seed})"

    def _too_slow(self, text: str) -> str:
        timeout = getattr(self.student, "timeout", None)
        if timeout:
            return (
                f"{text} did not return within {timeout:g} s, the limit of one check: if your code is correct but slow, raise "
                "the limit with --timeout (python -m flatgap.grading.cli NOTEBOOK --timeout 600); otherwise look for an endless loop"
            )
        return f"{text} was interrupted before it returned: it ran too long (an endless loop, or code much slower than it needs to be?)"

    def _answer(self, text: str, response: dict, args, error_hint: str | None = None, model: bool = False):
        """The decoded value of a call's response, or the AssertionError that says what went wrong (``model``: the
        function must return a Keras model)."""
        __tracebackhide__ = True
        error = response.get("error")
        if error:
            kind, message, where = error["type"], error["message"], error.get("where", "")
            if kind == "NotImplementedError":
                raised = response.get("raised")  # the stub's own error, when the call ran in this process
                raise raised if isinstance(raised, NotImplementedError) else NotImplementedError(message)
            if kind == "KeyboardInterrupt":
                raise AssertionError(self._too_slow(text))
            if error.get("read_only"):
                raise AssertionError(
                    f"{text}: an input array was changed in place{where or ' (in ' + self.name + ')'} — work on a new array "
                    "instead (for example `x = x - m` rather than `x -= m`, or start from x.copy())"
                )
            hint = f" — {error_hint}" if error_hint else ""
            raise AssertionError(f"{text} raised {kind}: {message}{where}{hint}")
        if response.get("unsaved"):
            raise AssertionError(self._unsaved(text, response["unsaved"], model))
        if response.get("unplain"):
            if model:
                self.fail(text, "a keras.Model", f"a {response.get('type', 'value the grader cannot read')}", "return the keras.Model you built")
            raise AssertionError(f"{text}: {response['unplain']}")
        names = response.get("names", [])
        for i in response.get("changed", []):
            what = f"its input {names[i]}" if i < len(names) else f"argument {i + 1}"
            raise AssertionError(
                f"{text} changed {what} in place; work on a new array or list instead "
                "(for example `x = x - m` rather than `x -= m`, or start from x.copy())"
            )
        self.shares = list(response.get("shares", []))
        try:
            return _decoded(response.get("value"), response.get("models"))
        except Unsaved as bad:
            raise AssertionError(self._unsaved(text, str(bad), model)) from None
        except ValueError as bad:
            raise AssertionError(f"{text}: the grader could not read the value returned ({bad})") from None

    def _unsaved(self, text: str, why: str, model: bool) -> str:
        if model:
            return f"{text}: {self.name} must return a keras.Model built from keras.layers; it could not be saved and reloaded: {why}"
        return f"{text}: the value returned holds a keras.Model that could not be saved and reloaded: {why}"

    def call(self, text: str, *args, error_hint: str | None = None):
        """Call the student's function; ``text`` describes the call for messages.

        Args:
            error_hint: appended to the message when the function raises (for example the shapes it
                should have seen).
        """
        __tracebackhide__ = True
        self.inputs = list(args)
        value = self._answer(text, self.student.call(args), args, error_hint)
        self.cases += 1
        return value

    def model(self, text: str, *args):
        """Call a student's function that builds a Keras model; the model, a copy loaded in safe mode.

        The model crosses as a ``.keras`` file (the notebook's kernel saves it, this process loads it with
        ``safe_mode=True, compile=False``), so every check of it runs here: a model that cannot be saved and
        reloaded (a Lambda or custom layer) fails in one sentence that says so.
        """
        __tracebackhide__ = True
        keras = keras_module()
        self.inputs = list(args)
        value = self._answer(text, self.student.call(args), args, model=True)
        if not isinstance(value, keras.Model):
            hint = "did you forget the return statement?" if value is None else "return the keras.Model you built"
            self.fail(text, "a keras.Model", describe(value), hint)
        self.cases += 1
        return value

    def invoke(self, *args):
        """Call the student's function and return its value, or raise what it raised (a built-in exception type
        rebuilt with its message, else :class:`StudentRaised`); for checks of the errors a function raises."""
        __tracebackhide__ = True
        response = self.student.call(args)
        error = response.get("error")
        if error and isinstance(response.get("raised"), Exception):
            raise response["raised"]
        if error:
            kind = error["type"]
            builtin = getattr(__import__("builtins"), kind, None) if error.get("builtin") else None
            if isinstance(builtin, type) and issubclass(builtin, Exception):
                raise builtin(error["message"])
            if kind == "NotImplementedError":
                raise NotImplementedError(error["message"])
            raise StudentRaised(kind, error["message"])
        return self._answer(f"{self.name}{args!r}", response, args)

    def fail(self, text: str, expected: str, got: str, hint: str | None = None):
        __tracebackhide__ = True
        raise AssertionError(f"{text}: expected {expected}, got {got}" + (f" — {hint}" if hint else ""))

    def cache_is_shape(self, text: str, cache, shape: tuple) -> None:
        """Fail unless the forward pass returned the input's shape as its cache."""
        __tracebackhide__ = True
        if not isinstance(cache, (tuple, list)) or tuple(cache) != shape:
            self.fail(text, f"cache == x.shape == {shape}", describe(cache), "the backward pass only needs the input's shape: cache = x.shape")

    def _measured(self, text: str, args, packages=()) -> tuple[object, dict]:
        """Call the student's function with every thread traced; (value, measurement) — see
        :func:`flatgap.grading.kernelside.measured_call`. Fails when the code switched the tracing off."""
        __tracebackhide__ = True
        response = self.student.call(args, {"packages": list(packages)})
        value = self._answer(text, response, args)
        measured = response.get("measured") or {}
        if measured.get("disabled") or not measured.get("saw_call", False):
            raise AssertionError(
                f"{text}: tracing was disabled by your code (sys.settrace, threading.settrace or sys.setprofile during the call): "
                "the grader cannot see what it runs, so it gives no credit — remove that call"
            )
        if measured.get("old_threads"):
            raise AssertionError(
                f"{text}: a thread started before the call (in another cell: a thread pool, a background loop) used the CPU while "
                "it ran; the grader cannot count what such a thread runs, so it cannot tell whether your code is vectorized — stop "
                "that thread, and do the work with NumPy operations on whole arrays"
            )
        return value, measured

    def vectorized(self, small: tuple[str, tuple], large: tuple[str, tuple], rule: str, hint: str) -> None:
        """Fail when the student's code runs more Python lines on the larger input (a loop over the data).

        Every Python line counts, the student's and library code alike, in every thread the call runs code in;
        the two counts may differ by at most :data:`LINE_ALLOWANCE` lines (a difference, so that a fixed amount
        of extra work dilutes nothing).

        Args:
            small, large: (description, arguments) of two calls that differ only in the sizes that a
                vectorized implementation hands to NumPy.
            rule: what "vectorized" means here, for the message. hint: how to vectorize.
        """
        __tracebackhide__ = True
        counts, threads = [], 1
        for text, args in (small, large):
            _, measured = self._measured(f"{self.name}(...) with {text}", args)
            counts.append(int(measured.get("lines", 0)))
            threads = max(threads, int(measured.get("threads", 1)))
        if counts[1] - counts[0] > LINE_ALLOWANCE:
            pool = f"; your code ran in {threads} threads, and threads do not vectorize a loop" if threads > 1 else ""
            raise AssertionError(
                f"{self.name}: expected a vectorized implementation ({rule}), but {counts[0]} Python lines ran for {small[0]} "
                f"and {counts[1]} for {large[0]} (library code and every thread included){pool} — a loop over the data (also one "
                f"hidden in a helper function or in itertools.product, in map over a NumPy function, or in a thread pool) runs "
                f"more often for a larger input; {hint}"
            )

    def without_libraries(self, text: str, packages: tuple[str, ...], rule: str, *args):
        """Call the student's function and fail if any of ``packages`` ran code during the call, in any thread."""
        __tracebackhide__ = True
        result, measured = self._measured(text, args, packages)
        used = measured.get("packages", [])
        self.cases += 1
        if used:
            raise AssertionError(f"{text}: {rule}, but the call ran code of {', '.join(used)}")
        return result

    def passed(self, extra: str = "") -> None:
        random = f" ({self.random_cases} on random inputs, seed {self.seed})" if self.random_cases else ""
        print(f"✓ {self.name}: all {self.cases} checks passed{random}" + (f"; {extra}" if extra else ""))

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
        if integer and isinstance(got, (float, np.floating)):
            self.fail(text, f"an int ({int(expected)})", f"the float {float(got)!r}", "return an int: use integer arithmetic (// rather than /) or int(...)")
        if not np.isfinite(float(got)):
            self.fail(text, f"{what} ({expected:.6g})", describe(got), "look for a division by zero or an overflow in np.exp")
        if np.isclose(float(got), expected, rtol=rtol, atol=atol):
            return got
        hint = next((h for candidate, h in hints if np.isclose(float(got), candidate, rtol=rtol, atol=atol)), None)
        shown = f"{int(expected)}" if integer else f"{expected:.6g}"
        self.fail(text, shown, describe(got), hint)


def _decoded(data, models=None):
    from flatgap.grading.kernelside import decode

    return decode(data, models)


def case_rng(offset: int = 0) -> np.random.Generator:
    """The fixed random generator of one checker's fixed cases (``offset`` keeps checkers' inputs apart)."""
    return np.random.default_rng(SEED + offset)


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
