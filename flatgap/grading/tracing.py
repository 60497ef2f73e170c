"""What a student's function does when it runs, measured by execution: Python lines run, library code called.

The checks of plain-data questions measure with :func:`flatgap.grading.kernelside.measured_call` (every line, every
thread, library code included); :func:`library_calls` remains for the checks of Keras models run in the kernel, and
:func:`count_lines` for the tests of the checkers.

Both measurements tell the student's own code (a notebook cell, a helper it defines, a file beside the
notebook) from library code (the standard library, installed packages, the ``flatgap`` package itself) by
the file each code object comes from.

- :func:`count_lines` counts the lines of the student's code that run during a call (``sys.settrace``).
  A vectorized function runs about the same number of lines whatever the size of its input; a loop over
  images, pixels or channels runs more lines for a larger input, wherever it hides: in a helper function,
  a comprehension, ``map`` over a Python function or one ``itertools.product`` loop.
- :func:`library_calls` lists the top-level packages among a chosen few (``keras``, ``tensorflow``) whose
  Python code ran during a call (``sys.setprofile``), so a checker can tell arithmetic from a built model.

Example:
    >>> def loops(n):
    ...     total = 0
    ...     for i in range(n):
    ...         total += i
    ...     return total
    >>> count_lines(loops, 10)[1] - count_lines(loops, 5)[1]
    10
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

__all__ = ["count_lines", "is_library", "library_calls", "library_dirs"]

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def library_dirs() -> tuple[str, ...]:
    """The folders whose code is not the student's: the standard library, site-packages and ``flatgap``."""
    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    dirs.update(p for p in sys.path if "site-packages" in p or "dist-packages" in p)
    resolved = {str(Path(d).resolve()) for d in dirs if d}
    resolved.add(_PACKAGE_DIR)
    return tuple(sorted(d.rstrip(os.sep) + os.sep for d in resolved))


_LIBRARIES = library_dirs()
_KNOWN: dict[str, bool] = {}


def is_library(filename: str) -> bool:
    """True for code of the standard library, an installed package or ``flatgap``; False for the student's."""
    known = _KNOWN.get(filename)
    if known is None:
        if filename.startswith("<frozen") or filename.startswith("<built-in"):
            known = True
        elif filename.startswith("<"):  # "<string>", "<stdin>": code the student compiled
            known = False
        else:
            try:
                path = str(Path(filename).resolve())
            except (OSError, RuntimeError):
                path = filename
            known = path.startswith(_LIBRARIES)
        _KNOWN[filename] = known
    return known


def count_lines(fn, *args):
    """Call ``fn(*args)`` and count the line events of the student's code while it runs.

    Returns:
        (the result, the number of lines of non-library code executed). Exceptions of ``fn`` propagate.
    """
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def global_trace(frame, event, arg):
        if event == "call" and not is_library(frame.f_code.co_filename):
            return local
        return None

    previous = sys.gettrace()
    sys.settrace(global_trace)
    try:
        result = fn(*args)
    finally:
        sys.settrace(previous)
    return result, count


def _package_of(filename: str, roots: dict[str, str]) -> str | None:
    for name, root in roots.items():
        if filename.startswith(root):
            return name
    return None


def library_calls(packages, fn, *args):
    """Call ``fn(*args)`` and list which of ``packages`` (top-level names such as ``"keras"``) ran Python code.

    Returns:
        (the result, the sorted names of the packages whose functions were called). A package that is not
        imported yet cannot run, and counts only if the call imports it.
    """
    roots: dict[str, str] = {}
    seen: set[str] = set()
    cache: dict[str, str | None] = {}

    def refresh_roots():
        for name in packages:
            module = sys.modules.get(name)
            if name not in roots and module is not None and getattr(module, "__file__", None):
                roots[name] = str(Path(module.__file__).resolve().parent) + os.sep

    refresh_roots()

    def profile(frame, event, arg):
        if event != "call":
            return
        filename = frame.f_code.co_filename
        if filename not in cache:
            refresh_roots()
            try:
                cache[filename] = _package_of(str(Path(filename).resolve()), roots) if not filename.startswith("<") else None
            except (OSError, RuntimeError):
                cache[filename] = None
        name = cache[filename]
        if name:
            seen.add(name)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = fn(*args)
    finally:
        sys.setprofile(previous)
    return result, sorted(seen)
