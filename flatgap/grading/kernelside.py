"""The student's side of a check: call the student's function on inputs the grader sends, return plain data.

The grader (:mod:`flatgap.grading.runner`) runs every checker in its own process. When a checker calls the
student's function, the grader sends the inputs to the notebook's kernel, where this module (loaded by its file
path before the notebook runs, so it imports only the standard library and NumPy) calls the function and sends
back what it returned, as plain data with exact types (:func:`encode`):

- ``None``, ``bool``, ``int``, ``str`` as they are; a ``float`` as its exact hexadecimal text;
- tuples, lists and dicts element by element;
- an array copied to a base-class ``ndarray`` and written in NumPy's ``.npy`` format without pickle; a NumPy
  scalar as a 0-d array of its own dtype;
- anything else (a subclass of ``int`` or ``float``, an object, a generator) is refused, and the message names it;
- or, when the function raised, the exception's type, message and the line of the student's code that raised it.

Nothing the kernel sends back is trusted beyond being data: the grader computes the expected values, compares
and decides in its own process. A forged answer is only as good as the numbers in it.

The function is called on read-only arrays (an in-place edit fails at the line that makes it) and copies of lists
and dicts (a change to them is reported). A call can also be *measured* (:func:`measured_call`): every Python line
executed in every thread, the student's and library code alike, and which of a few packages ran code.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import sys
import threading
import traceback

import numpy as np

__all__ = ["Unplain", "call_function", "decode", "encode", "measured_call", "serve"]

MAX_BYTES = 256 * 2**20
"""The largest array one answer may hold (bytes)."""

_NUMPY_SCALARS = frozenset(t for t in np.sctypeDict.values() if isinstance(t, type) and issubclass(t, np.generic))
_settrace, _gettrace, _setprofile = sys.settrace, sys.gettrace, sys.setprofile
_thread_settrace, _thread_setprofile = threading.settrace, threading.setprofile
_BOOTSTRAP = threading.Thread._bootstrap_inner.__code__
_KERNEL_THREAD_MODULES = ("ipykernel", "IPython", "jupyter_client", "zmq", "tornado", "debugpy", "comm")
"""Modules whose threads are the kernel's own (their CPU time is not the student's)."""


class Unplain(Exception):
    """A value that cannot travel as plain data; the message names it."""


def _array_bytes(array: np.ndarray) -> str:
    base = np.ndarray.view(array, np.ndarray)  # the data, without the subclass's methods
    if base.dtype.hasobject:
        raise Unplain("an array of Python objects (dtype object); return an array of numbers")
    if base.nbytes > MAX_BYTES:
        raise Unplain(f"an array of {base.nbytes} bytes, more than the grader reads ({MAX_BYTES})")
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(base, copy=True), allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _type_name(value) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ in ("builtins", "__main__") else f"{kind.__module__}.{kind.__qualname__}"


def encode(value, where: str = "the result"):
    """``value`` as JSON-ready plain data (see the module docstring). Raises :class:`Unplain`."""
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return value
    if kind is float:
        return {"f": float.hex(value)}
    if kind is str:
        return {"s": value}
    if kind is tuple or kind is list:
        return {"t" if kind is tuple else "l": [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if kind is dict:
        return {"d": [[encode(k, f"a key of {where}"), encode(v, f"{where}[{k!r}]")] for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        return {"a": _array_bytes(value)}
    if kind in _NUMPY_SCALARS:
        return {"n": _array_bytes(np.array(value))}
    for base in (bool, int, float, str, tuple, list, dict, np.generic):
        if isinstance(value, base):
            raise Unplain(f"{where} is a {_type_name(value)}, a subclass of {base.__name__}; return a plain {base.__name__} (for example {base.__name__}(...))")
    raise Unplain(f"{where} is a {_type_name(value)}, which the grader cannot read; return numbers, arrays, tuples or lists")


def decode(data):
    """The value :func:`encode` wrote (arrays read without pickle)."""
    if data is None or type(data) in (bool, int):
        return data
    if type(data) is not dict or len(data) != 1:
        raise ValueError(f"not plain data: {type(data).__name__}")
    (tag, body), = data.items()
    if tag == "f":
        return float.fromhex(body)
    if tag == "s":
        return str(body)
    if tag in ("t", "l"):
        items = [decode(v) for v in body]
        return tuple(items) if tag == "t" else items
    if tag == "d":
        return {decode(k): decode(v) for k, v in body}
    if tag in ("a", "n"):
        raw = base64.b64decode(body)
        if len(raw) > MAX_BYTES + 4096:
            raise ValueError("array too large")
        array = np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
        return array[()] if tag == "n" else array
    raise ValueError(f"unknown tag {tag!r}")


def _read_only(value):
    if isinstance(value, np.ndarray):
        value = value.copy()
        value.setflags(write=False)
        return value
    if isinstance(value, (list, dict)):
        return copy.deepcopy(value)
    return value


def _is_library(filename: str, libraries: tuple[str, ...]) -> bool:
    return filename.startswith("<frozen") or filename.startswith(libraries)


def _where(error: BaseException, libraries: tuple[str, ...]) -> str:
    """' (in gap_forward, line 7: x.mean(axis=5))': the last frame of the student's code that raised, or ''."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not _is_library(f.filename, libraries) and f.filename != __file__]
    if not frames:
        return ""
    frame = frames[-1]
    line = f": {frame.line.strip()}" if frame.line else ""
    return f" (in {frame.name}, line {frame.lineno}{line})"


def _parameter_names(fn) -> list[str]:
    import inspect

    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


def _thread_ticks() -> dict:
    """CPU ticks used so far by each Python thread that is not the kernel's own (Linux; {} elsewhere)."""
    ticks = {}
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.native_id is None:
            continue
        target = getattr(thread, "_target", None)
        module = getattr(target, "__module__", None) or type(thread).__module__
        if type(thread).__module__.startswith(_KERNEL_THREAD_MODULES) or (module or "").startswith(_KERNEL_THREAD_MODULES):
            continue
        try:
            with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks[thread.native_id] = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return ticks


def measured_call(fn, args, packages=(), roots=None):
    """Call ``fn(*args)`` while tracing every thread; return (result or exception, measurement).

    The measurement: ``lines`` (Python lines executed in every thread during the call, library code
    included), ``disabled`` (the call removed or replaced the tracer, or asked to), ``saw_call`` (the tracer
    saw ``fn``'s own code start), ``packages`` (which of ``packages`` ran Python code, in any thread),
    ``threads`` (threads the call ran code in), ``old_threads`` (threads that existed before the call and
    used the CPU during it: their lines cannot be counted).
    """
    roots = dict(roots or {})
    for name in packages:
        module = sys.modules.get(name)
        if name not in roots and getattr(module, "__file__", None):
            roots[name] = os.path.dirname(os.path.realpath(module.__file__)) + os.sep
    counts: dict[int, list] = {}
    seen: set[str] = set()
    state = {"saw_call": False, "disabled": False}
    target = getattr(fn, "__code__", None)
    files: dict[str, str | None] = {}

    def local(frame, event, arg):
        if event == "line":
            counts[threading.get_ident()][0] += 1
        return local

    def tracer(frame, event, arg):
        ident = threading.get_ident()
        if ident not in counts:
            counts[ident] = [0]
        if event == "call":
            code = frame.f_code
            if code is target:
                state["saw_call"] = True
            if roots:
                filename = code.co_filename
                if filename not in files:
                    try:
                        path = os.path.realpath(filename)
                    except (OSError, ValueError):
                        path = filename
                    files[filename] = next((name for name, root in roots.items() if path.startswith(root)), None)
                if files[filename]:
                    seen.add(files[filename])
        return local

    replaced = [(sys, "settrace"), (sys, "setprofile"), (threading, "settrace"), (threading, "setprofile")]
    saved = [(owner, name, owner.__dict__[name]) for owner, name in replaced]
    real = {"settrace": _settrace, "setprofile": _setprofile}

    def guard(name):
        def refuse(*args, **kwargs):  # sys.settrace and friends, while the call is measured
            if name.startswith("sys.") and sys._getframe(1).f_code is _BOOTSTRAP:  # a new thread installs the tracer
                return real[name[4:]](*args, **kwargs)
            state["disabled"] = True
        return refuse
    before = _thread_ticks()
    _thread_settrace(tracer)
    for owner, name in replaced:
        setattr(owner, name, guard(f"{owner.__name__}.{name}"))
    _settrace(tracer)
    try:
        result = fn(*args)
    except BaseException as error:  # handed back to the caller with the measurement
        result = error
    finally:
        still = _gettrace() is tracer and getattr(threading, "_trace_hook", tracer) is tracer
        _settrace(None)
        for owner, name, value in saved:
            setattr(owner, name, value)
        _thread_settrace(None)
    after = _thread_ticks()
    old = sorted(tid for tid, used in after.items() if tid in before and used > before[tid])
    measurement = {
        "lines": sum(c[0] for c in counts.values()),
        "disabled": state["disabled"] or not still,
        "saw_call": state["saw_call"] or target is None,
        "packages": sorted(seen),
        "threads": len(counts),
        "old_threads": len(old),
    }
    return result, measurement


def call_function(fn, encoded_args: list, measure: dict | None = None, libraries: tuple[str, ...] = ()) -> dict:
    """Call the student's ``fn`` on decoded arguments; the response, plain data (see the module docstring).

    Returns:
        ``{"value": encoded result}`` or ``{"error": {"type", "message", "where", "read_only"}}`` or
        ``{"unplain": message}``, plus ``"changed"`` (indices of list or dict arguments the call changed),
        ``"shares"`` (indices of array arguments the result shares memory with), ``"names"`` (the
        parameter names) and ``"measured"`` when ``measure`` asked for it.
    """
    args = [decode(a) for a in encoded_args]
    guarded = [_read_only(a) for a in args]
    response: dict = {"names": _parameter_names(fn)}
    if measure:
        result, response["measured"] = measured_call(fn, guarded, tuple(measure.get("packages", ())))
    else:
        try:
            result = fn(*guarded)
        except BaseException as error:
            result = error
    if isinstance(result, BaseException):
        message = str(result).strip().splitlines()[0] if str(result).strip() else ""
        response["error"] = {
            "type": type(result).__name__,
            "builtin": type(result).__module__ == "builtins",
            "message": message,
            "where": _where(result, libraries),
            "read_only": isinstance(result, ValueError) and "read-only" in str(result),
        }
        response["raised"] = result  # in process only: serve() sends the data above, never the object
        return response
    response["changed"] = [i for i, (a, g) in enumerate(zip(args, guarded, strict=True)) if isinstance(a, (np.ndarray, list, dict)) and not _same(a, g)]
    response["shares"] = [i for i, g in enumerate(guarded) if isinstance(g, np.ndarray) and any(np.shares_memory(r, g) for r in _arrays(result))]
    try:
        response["value"] = encode(result, "the value returned")
    except Unplain as error:
        response["unplain"] = str(error)
    except RecursionError:
        response["unplain"] = "the value returned nests too deeply to be read"
    return response


def _arrays(value):
    if isinstance(value, np.ndarray):
        yield value
    elif type(value) in (tuple, list):
        for item in value:
            yield from _arrays(item)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    try:
        return json.dumps(encode(a), sort_keys=True) == json.dumps(encode(b), sort_keys=True)
    except (Unplain, RecursionError, TypeError):
        return a is b


def serve(namespace: dict, request_path: str, result_path: str, libraries: tuple[str, ...] = (), restore=None) -> None:
    """The kernel's end of one call: read the request the grader wrote, call, write the response.

    Args:
        namespace: the notebook's globals (where the student's function is).
        request_path: a JSON file ``{"function": name, "args": [...], "measure": {...} or null, "describe": bool}``.
        result_path: where the response goes (one line of JSON).
        restore: called first; returns notes (the grader's record of the modules the notebook rebound).
    """
    with open(request_path, encoding="utf-8") as file:
        request = json.load(file)
    notes = restore() if restore is not None else []
    name = request["function"]
    if name not in namespace:
        response = {"missing": True}
    else:
        fn = namespace[name]
        if request.get("describe"):
            response = {"callable": callable(fn), "type": _type_name(fn) if fn is not None else "None", "value": None}
            if not callable(fn):
                try:
                    response["value"] = encode(fn)
                except (Unplain, RecursionError):
                    pass
        else:
            response = call_function(fn, request["args"], request.get("measure"), libraries)
    response.pop("raised", None)
    response["notes"] = notes
    line = json.dumps(response)
    descriptor = os.open(result_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(descriptor, (line + "\n").encode("utf-8"))
    finally:
        os.close(descriptor)
