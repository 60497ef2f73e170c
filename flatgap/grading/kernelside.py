"""The student's side of a check: call the student's function on inputs the grader sends, return plain data.

The grader (:mod:`flatgap.grading.runner`) runs every checker in its own process. When a checker calls the
student's function, the grader sends the inputs to the notebook's kernel, where this module (loaded by its file
path before the notebook runs, so it imports only the standard library and NumPy) calls the function and sends
back what it returned, as plain data with exact types (:func:`encode`):

- ``None``, ``bool``, ``int``, ``str`` as they are; a ``float`` as its exact hexadecimal text;
- tuples, lists and dicts element by element;
- an array copied to a base-class ``ndarray`` and written in NumPy's ``.npy`` format without pickle; a NumPy
  scalar as a 0-d array of its own dtype;
- a Keras model as a ``.keras`` file (``model.save``, never a pickle) in the grader's scratch folder, under a name
  the grader chose for that call (:class:`ModelFiles`); the other side loads it with
  ``keras.saving.load_model(path, safe_mode=True, compile=False)``, after checking that every class in its
  architecture is one of Keras's own. Models travel both ways: the grader's own models (and the notebook's, once
  the grader has loaded them) go to the kernel as arguments, a model the student's function builds comes back;
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
import warnings
import zipfile

import numpy as np

__all__ = ["ModelFiles", "Unplain", "Unsaved", "call_function", "decode", "encode", "evaluate", "measured_call", "serve"]

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


class Unsaved(Unplain):
    """A Keras model that could not be saved to, or loaded from, a ``.keras`` file; the message is one line."""


def _first_line(error: BaseException, limit: int = 200) -> str:
    """'ValueError: <the first sentence of the message>', at most about ``limit`` characters."""
    text = " ".join(str(error).split())
    sentence = text.split(". ")[0].rstrip(".")
    if len(sentence) > limit:
        sentence = sentence[: limit - 3].rstrip() + "..."
    return f"{type(error).__name__}: {sentence}" if sentence else type(error).__name__


def _is_model(value) -> bool:
    """Is ``value`` a Keras model? (Without importing Keras: a process that never imported it holds none.)"""
    keras = sys.modules.get("keras")
    model = getattr(keras, "Model", None)
    return isinstance(model, type) and isinstance(value, model)


def _foreign_classes(config, found: list) -> list:
    """The (class name, module) of every object in a model's architecture that is not Keras's own."""
    if isinstance(config, dict):
        if "class_name" in config and "module" in config:
            module = config.get("module")
            if not (isinstance(module, str) and (module == "keras" or module.startswith("keras."))):
                found.append((str(config.get("class_name")), module))
        for key, value in config.items():
            if key != "compile_config":  # not read: models are loaded with compile=False
                _foreign_classes(value, found)
    elif isinstance(config, list):
        for value in config:
            _foreign_classes(value, found)
    return found


class ModelFiles:
    """The ``.keras`` files of one direction of one call: ``<prefix>-<n>.keras``, the prefix chosen by the grader.

    A value holds a model as ``{"m": n}``: the other side reads the file that the prefix it was given and ``n``
    name, never a path that came with the value. ``sources`` (shared by the files of several calls) remembers
    which file each loaded model came from: saving such a model again copies that very file.
    """

    MAX_BYTES = 512 * 2**20
    """The largest model file (and the most its parts may expand to) that is read (bytes)."""

    def __init__(self, prefix: str, sources: dict | None = None):
        self.prefix = str(prefix)
        self.count = 0
        self.sources: dict[int, tuple[object, str]] = {} if sources is None else sources  # id(model) -> (model, its file)

    def path(self, number: int) -> str:
        return f"{self.prefix}-{int(number)}.keras"

    def save(self, model) -> int:
        """Write ``model`` to the next file; its number. Raises :class:`Unsaved`."""
        import shutil

        number, self.count = self.count, self.count + 1
        path = self.path(number)
        source = self.sources.get(id(model))
        try:
            if os.path.lexists(path):  # never write through a link or over a file someone put there
                os.unlink(path)
            if source is not None and source[0] is model:  # a model loaded from a file goes on as that very file
                shutil.copyfile(source[1], path)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.save(path)
        except Exception as error:
            raise Unsaved(_first_line(error)) from None
        return number

    def load(self, number):
        """The model in file ``number``, loaded with ``safe_mode=True, compile=False``. Raises :class:`Unsaved`."""
        if type(number) is not int or number < 0:
            raise Unsaved("no such model file")
        path = self.path(number)
        if os.path.islink(path) or not os.path.isfile(path):
            raise Unsaved("the model file is missing")
        try:
            with zipfile.ZipFile(path) as archive:
                if os.path.getsize(path) > self.MAX_BYTES or sum(i.file_size for i in archive.infolist()) > self.MAX_BYTES:
                    raise Unsaved(f"the model is larger than the grader reads ({self.MAX_BYTES // 2**20} MiB)")
                config = json.loads(archive.read("config.json"))
        except Unsaved:
            raise
        except Exception as error:
            raise Unsaved(f"not a .keras file ({_first_line(error)})") from None
        foreign = _foreign_classes(config, [])
        if foreign:
            name, module = foreign[0]
            where = f"from {module}" if module else "a class of your own"
            raise Unsaved(f"it holds {name} ({where}), which is not one of Keras's own classes; use keras.layers and keras.Model only")
        import keras

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as error:
            raise Unsaved(_first_line(error)) from None
        if not isinstance(model, keras.Model):
            raise Unsaved(f"the file holds a {type(model).__name__}, not a keras.Model")
        self.sources[id(model)] = (model, path)
        return model


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


def encode(value, where: str = "the result", models: ModelFiles | None = None):
    """``value`` as JSON-ready plain data (see the module docstring); Keras models go to ``models``' files.
    Raises :class:`Unplain` (:class:`Unsaved` for a model that could not be saved)."""
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return value
    if kind is float:
        return {"f": float.hex(value)}
    if kind is str:
        return {"s": value}
    if kind is tuple or kind is list:
        return {"t" if kind is tuple else "l": [encode(v, f"{where}[{i}]", models) for i, v in enumerate(value)]}
    if kind is dict:
        return {"d": [[encode(k, f"a key of {where}", models), encode(v, f"{where}[{k!r}]", models)] for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        return {"a": _array_bytes(value)}
    if kind in _NUMPY_SCALARS:
        return {"n": _array_bytes(np.array(value))}
    if models is not None and _is_model(value):
        return {"m": models.save(value)}
    for base in (bool, int, float, str, tuple, list, dict, np.generic):
        if isinstance(value, base):
            raise Unplain(f"{where} is a {_type_name(value)}, a subclass of {base.__name__}; return a plain {base.__name__} (for example {base.__name__}(...))")
    raise Unplain(f"{where} is a {_type_name(value)}, which the grader cannot read; return numbers, arrays, tuples or lists")


def decode(data, models: ModelFiles | None = None):
    """The value :func:`encode` wrote (arrays read without pickle; models loaded from ``models``' files, in safe
    mode). Raises ValueError (:class:`Unsaved` for a model that could not be loaded)."""
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
        items = [decode(v, models) for v in body]
        return tuple(items) if tag == "t" else items
    if tag == "d":
        return {decode(k, models): decode(v, models) for k, v in body}
    if tag == "m":
        if models is None:
            raise ValueError("a Keras model where none was expected")
        return models.load(body)
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


def call_function(fn, encoded_args: list, measure: dict | None = None, libraries: tuple[str, ...] = (), models: dict | None = None) -> dict:
    """Call the student's ``fn`` on decoded arguments; the response, plain data (see the module docstring).

    Args:
        models: ``{"in": ModelFiles, "out": ModelFiles}``: where the Keras models among the arguments are read
            from, and where a model in the result is written (without it, a model is refused as not plain data).

    Returns:
        ``{"value": encoded result}`` or ``{"error": {"type", "message", "where", "read_only"}}`` or
        ``{"unplain": message, "type": the result's type name}`` or ``{"unsaved": message}`` (a model in the
        result that could not be saved), plus ``"changed"`` (indices of list or dict arguments the call changed),
        ``"shares"`` (indices of array arguments the result shares memory with), ``"names"`` (the parameter
        names) and ``"measured"`` when ``measure`` asked for it.
    """
    models = models or {}
    response: dict = {"names": _parameter_names(fn)}
    try:
        args = [decode(a, models.get("in")) for a in encoded_args]
    except (ValueError, Unplain) as error:  # Unsaved: the kernel's Keras could not load the grader's model
        response["error"] = {"type": "GraderError", "builtin": False, "message": f"the kernel could not read the grader's inputs ({error})", "where": ""}
        return response
    guarded = [_read_only(a) for a in args]
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
    response.update(_encoded(result, "the value returned", models.get("out")))
    return response


def _encoded(value, where: str, models: ModelFiles | None) -> dict:
    """``{"value": ...}``, or ``{"unsaved": ...}`` or ``{"unplain": ..., "type": ...}`` saying why not."""
    try:
        return {"value": encode(value, where, models)}
    except Unsaved as error:
        return {"unsaved": str(error)}
    except Unplain as error:
        return {"unplain": str(error), "type": type(value).__name__}
    except RecursionError:
        return {"unplain": f"{where} nests too deeply to be read", "type": type(value).__name__}


def evaluate(expression: str, namespace: dict, models: ModelFiles | None = None) -> dict:
    """The value of one of a graded cell's further arguments (``model``, ``split.x_test[:16]``), evaluated in the
    notebook's namespace: ``{"value": ...}`` as :func:`call_function` gives it, or ``{"error": {"type", "message",
    "name"}}``."""
    try:
        value = eval(expression, namespace)  # an expression of the course's manifest, never the student's
    except BaseException as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return {"error": {"type": type(error).__name__, "message": message, "name": getattr(error, "name", None)}}
    return _encoded(value, expression, models)


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
        request_path: a JSON file ``{"function": name, "args": [...], "measure": {...} or null, "describe": bool,
            "models": {"in": prefix, "out": prefix}}`` (the prefixes of :class:`ModelFiles`), or ``{"evaluate":
            expression, "models": {"out": prefix}}`` for a further argument of a graded cell.
        result_path: where the response goes (one line of JSON).
        restore: called first; returns notes (the grader's record of the modules the notebook rebound).
    """
    with open(request_path, encoding="utf-8") as file:
        request = json.load(file)
    notes = restore() if restore is not None else []
    models = {key: ModelFiles(prefix) for key, prefix in (request.get("models") or {}).items()}
    name = request.get("function")
    if "evaluate" in request:
        response = evaluate(request["evaluate"], namespace, models.get("out"))
    elif name not in namespace:
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
            response = call_function(fn, request["args"], request.get("measure"), libraries, models)
    response.pop("raised", None)
    response["notes"] = notes
    line = json.dumps(response)
    descriptor = os.open(result_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(descriptor, (line + "\n").encode("utf-8"))
    finally:
        os.close(descriptor)
