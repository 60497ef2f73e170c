"""Which code is the student's, and how many of its lines a call runs.

The checks measure with :func:`flatgap.grading.kernelside.measured_call` (every line, every thread, library code
included, and which packages ran). This module keeps what that needs from the grader's side, :func:`library_dirs`
(the folders whose code is not the student's, also used to point a failure at the student's line), and
:func:`count_lines` for the tests of the checkers.

- :func:`is_library` tells the student's own code (a notebook cell, a helper it defines, a file beside the
  notebook) from library code (the standard library, installed packages, the ``flatgap`` package itself) by
  the file each code object comes from.
- :func:`count_lines` counts the lines of the student's code that run during a call (``sys.settrace``).
  A vectorized function runs about the same number of lines whatever the size of its input; a loop over
  images, pixels or channels runs more lines for a larger input, wherever it hides: in a helper function,
  a comprehension, ``map`` over a Python function or one ``itertools.product`` loop.

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

__all__ = ["count_lines", "is_library", "library_dirs"]

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
