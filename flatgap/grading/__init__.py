"""Graded exercises: one source of truth, generated stubs, checkers, a local grader.

The pieces, and the conventions they share:

- ``solutions/exN_*.ipynb`` are written by hand. Inside a function body, solution code sits between
  ``### BEGIN SOLUTION [exN-qM] <hint>`` and ``### END SOLUTION``. Every graded question has exactly
  one such region, and every region belongs to one graded question.
- A *graded cell* carries the cell tag ``graded`` and starts with ``# graded: exN-qM (P points)``. It is
  a plain call to a checker, e.g. ``check_gap_forward(gap_forward)``.
- :mod:`flatgap.grading.notebooks` reads and validates those conventions (notebook files themselves are
  read and written by :mod:`flatgap.nbfiles`, the project's one writer).
- :mod:`flatgap.grading.generate` turns each region into a stub that raises
  ``NotImplementedError("exN-qM: <hint>")`` and writes ``exercises/`` (``make exercises``). The same
  region machinery produces the "trivial answer" variants (return ``None``, zeros of the right shape, the
  input unchanged) that CI runs to prove that the checkers reject them.
- :mod:`flatgap.grading.ex1`, :mod:`~flatgap.grading.ex2`, :mod:`~flatgap.grading.ex3` hold the checkers of
  each exercise: each compares the student's function with a reference on several inputs and raises
  ``AssertionError`` with a message that says what was called, what was expected, what came back, and a
  hint. :mod:`flatgap.grading.harness` is the machinery they share: a stub's ``NotImplementedError``
  passes through unchanged; any other exception the student's code raises becomes an ``AssertionError``
  that names it.
- :mod:`flatgap.grading.runner` executes a notebook top to bottom (nbclient) and collects one outcome
  per graded cell; :mod:`flatgap.grading.cli` prints them as a table with a score (``make grade``).
"""

GRADED_TAG = "graded"
"""Cell tag of a graded cell."""

SOLUTION_ONLY_TAG = "solution-only"
"""Cell tag of a cell that the exercise version leaves out (for example a demo that calls a solution)."""
