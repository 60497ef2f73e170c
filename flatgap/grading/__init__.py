"""Graded exercises: one source of truth, generated stubs, a manifest, checkers, a grader, a score cell.

The pieces, and the conventions they share (``exercises/README.md`` tells students and maintainers the same):

- ``solutions/exN_*.ipynb`` are written by hand. Inside a function body, solution code sits between
  ``### BEGIN SOLUTION [exN-qM] <hint>`` and ``### END SOLUTION``. Every graded question has exactly
  one such region, and every region belongs to one graded question.
- A *graded cell* carries the cell tag ``graded`` and starts with ``# graded: exN-qM (P points)``. It is
  one call of a checker, e.g. ``check_gap_forward(gap_forward)``. The last cell of every notebook is the
  score cell, ``score("exN_<topic>")`` (:mod:`flatgap.grading.inline`).
- :mod:`flatgap.grading.notebooks` reads and validates those conventions (notebook files themselves are
  read and written by :mod:`flatgap.book.notebooks`, the project's one writer).
- :mod:`flatgap.grading.generate` (``make exercises``) turns each region into a stub that raises
  ``NotImplementedError("exN-qM: <hint>")``, writes ``exercises/``, and writes the manifest
  :mod:`flatgap.grading.manifest_data` (read through :mod:`flatgap.grading.manifest`): every question's id,
  points, graded cell and checker, shipped in the package. The same region machinery produces the "trivial
  answer" variants (return ``None``, zeros of the right shape, the input unchanged) that CI grades.
- :mod:`flatgap.grading.ex1`, :mod:`~flatgap.grading.ex2`, :mod:`~flatgap.grading.ex3` hold the checkers of
  each exercise (a new exercise adds ``exN.py`` and its solution notebook, nothing else). Each compares the
  student's function with the package's reference on fixed and fresh random cases and raises
  ``AssertionError`` with a message that says what was called, what was expected, what came back, and a
  hint. :mod:`flatgap.grading.harness` is the machinery they share (a stub's ``NotImplementedError``
  passes through unchanged; inputs are read-only copies; the grading seed) and
  :mod:`flatgap.grading.tracing` measures what code does when it runs (lines executed, libraries called).
- The grader (``make grade``, :mod:`flatgap.grading.cli`): :mod:`flatgap.grading.submission` reads a
  student's notebook once and matches its cells to the manifest; :mod:`flatgap.grading.runner` runs it once
  in a fresh kernel, then runs every question's checker in its own process: the kernel only calls the student's
  function on the inputs the grader sends and returns plain data (:mod:`flatgap.grading.kernelside`; Keras
  models as ``.keras`` files, loaded in safe mode), so nothing in the notebook takes part in judging;
  :mod:`flatgap.grading.report` prints the table, the same one the score cell prints (the score cell runs the
  checkers in the kernel, through :mod:`flatgap.grading.checkrun`).
"""

GRADED_TAG = "graded"
"""Cell tag of a graded cell."""

SOLUTION_ONLY_TAG = "solution-only"
"""Cell tag of a cell that the exercise version leaves out (for example a demo that calls a solution)."""
