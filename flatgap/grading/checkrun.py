"""Run graded questions' checkers inside the student's kernel, on a freshly imported copy of the checking code.

Used by the score cell only (:mod:`flatgap.grading.inline`): the grader checks every question in its own process
(:mod:`flatgap.grading.runner`), and uses :class:`Grader`'s record here only to put back what the notebook rebound
before each call of the student's function.

This module is loaded by its file path — by the grader (:mod:`flatgap.grading.runner`), before the
notebook's first cell runs, and by the score cell (:mod:`flatgap.grading.inline`) — so it imports only the
standard library at the top. For each question the score cell asks for, it:

1. imports ``flatgap`` afresh from the package's folder, with the kernel's own ``flatgap`` modules set
   aside (:func:`fresh_package`): a checker or helper that the notebook rebound or patched is not the one
   that runs, and the student's copies are put back afterwards;
2. evaluates the checker's arguments (the student's function, the notebook's model ...) in the notebook's
   namespace, and calls the checker with the grading seed in force, its printed output captured;
3. returns a structured result: ``{"question", "status", "ename", "message", "seed"}`` with status
   ``passed``, ``failed`` or ``not attempted``.

In the grader, before the notebook runs, :func:`install` records the functions of the standard modules the
student's code relies on (``builtins``, ``numpy``, ``sys`` ...); what the notebook rebinds there is put back
before each call, and said in a note, so that the student's code runs as written. Code in the kernel that sets out
to defeat the score cell can: that is why the grader judges every question in its own process, and why ``make
grade`` is the one to trust when the two differ.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import sys
import types

PACKAGE = "flatgap"
GUARDED_MODULES = ("builtins", "sys", "os", "io", "json", "math", "contextlib", "importlib", "importlib.util", "traceback", "inspect", "copy", "zlib", "secrets", "numpy", "numpy.random")
"""Modules whose functions and classes :func:`install` records and each check puts back."""

GUARDED_SYS = ("settrace", "gettrace", "setprofile", "getprofile", "_getframe", "exc_info", "exception")
"""The functions of ``sys`` the checks use (its hooks, which IPython swaps around every cell, are left alone)."""

def _is_ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


@contextlib.contextmanager
def fresh_package(root: str, meta_path=None):
    """Inside the block, ``import flatgap...`` gives fresh modules loaded from ``root``.

    Args:
        root: the folder of the ``flatgap`` package.
        meta_path: the import finders to use inside the block (default: those in place).
    """
    saved = {name: sys.modules.pop(name) for name in [n for n in sys.modules if _is_ours(n)]}
    finders = sys.meta_path[:]
    if meta_path is not None:
        sys.meta_path[:] = list(meta_path)
    try:
        spec = importlib.util.spec_from_file_location(PACKAGE, os.path.join(root, "__init__.py"), submodule_search_locations=[root])
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
        yield package
    finally:
        for name in [n for n in sys.modules if _is_ours(n)]:
            del sys.modules[name]
        sys.modules.update(saved)
        sys.meta_path[:] = finders


def _message(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_question(namespace: dict, question: dict, seed: int, root: str) -> dict:
    """Run one question's checker on the student's objects in ``namespace``; never raises.

    Args:
        question: ``{"id", "module", "checker", "arguments", "function"}`` (from the manifest).
        seed: the grading seed of the random cases.
    """
    result = {"question": question["id"], "status": "failed", "ename": None, "message": "", "seed": seed}
    output = io.StringIO()
    try:
        with fresh_package(root):
            harness = importlib.import_module(f"{PACKAGE}.grading.harness")
            checker = getattr(importlib.import_module(question["module"]), question["checker"])
            arguments = []
            for expression in question["arguments"]:
                try:
                    arguments.append(eval(expression, namespace))  # the notebook's own objects
                except NameError as error:
                    missing = getattr(error, "name", None) or expression
                    result |= {"ename": "NameError", "message": f"{missing} is not defined — run the cell that defines it (did it raise an error?)"}
                    return result
                except Exception as error:
                    result |= {"ename": type(error).__name__, "message": f"could not evaluate {expression}: {_message(error)}"}
                    return result
            with harness.grading_seed(seed), contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                checker(*arguments)
    except NotImplementedError as error:
        result |= {"status": "not attempted", "ename": "NotImplementedError", "message": _message(error)}
    except AssertionError as error:
        result |= {"ename": "AssertionError", "message": str(error).strip() or "AssertionError"}
    except KeyboardInterrupt:
        result |= {"ename": "KeyboardInterrupt", "message": f"the check of {question['function']} was stopped: it ran longer than the grader allows (an endless loop?)"}
    except BaseException as error:  # SystemExit from the student's code, a bug in a checker ...
        result |= {"ename": type(error).__name__, "message": _message(error)}
    else:
        result |= {"status": "passed", "printed": output.getvalue().strip()}
    return result


def run_exercise(namespace: dict, name: str, seed: int, root: str) -> tuple[object, list[dict]]:
    """Run every question of exercise ``name`` (the score cell); return (the fresh manifest entry, results)."""
    with fresh_package(root):
        manifest = importlib.import_module(f"{PACKAGE}.grading.manifest")
        exercise = manifest.find(name)
    results = [run_question(namespace, question_request(exercise, q), seed, root) for q in exercise.questions]
    return exercise, results


def question_request(exercise, question) -> dict:
    """What :func:`run_question` needs to know about one question of the manifest."""
    return {"id": question.id, "module": exercise.module, "checker": question.checker, "arguments": list(question.arguments), "function": question.function}


# --- the grader's side: one copy of this module installed before the notebook runs ------------------------


def _record(name: str) -> dict:
    module = sys.modules.get(name)
    if module is None:
        return {}
    if name == "sys":
        return {key: getattr(sys, key) for key in GUARDED_SYS if hasattr(sys, key)}
    if name == "builtins":  # only Python's own: IPython adds get_ipython, display, exit ... around every cell
        return {key: value for key, value in vars(module).items() if isinstance(value, (types.BuiltinFunctionType, type))}
    return {key: value for key, value in vars(module).items() if callable(value)}


class Grader:
    """The grader's record in the kernel: registered under a token-named module before the notebook runs."""

    def __init__(self, root: str, token: str):
        import numpy  # noqa: F401  (recorded below, before the notebook can rebind anything in it)

        self.root, self.token = root, token
        self.records = {name: (sys.modules[name], _record(name)) for name in GUARDED_MODULES if name in sys.modules}

    def restore(self) -> list[str]:
        """Put back what the notebook rebound in the guarded modules; one note per module."""
        notes = []
        for name, (module, recorded) in self.records.items():
            changed = sorted(key for key, value in recorded.items() if vars(module).get(key) is not value)
            for key in changed:
                setattr(module, key, recorded[key])
            if changed:
                shown = ", ".join(f"{name}.{key}" for key in changed[:5]) + (" ..." if len(changed) > 5 else "")
                notes.append(f"your notebook rebinds {shown}; the grader put the original back for its checks")
        return notes


def install(root: str, token: str) -> None:
    """Register a :class:`Grader` as the module ``_flatgap_grader_<token>`` (the grader's first request)."""
    module = types.ModuleType(f"_flatgap_grader_{token}")
    module.grader = Grader(root, token)
    sys.modules[module.__name__] = module
