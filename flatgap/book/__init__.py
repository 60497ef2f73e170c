"""The book's own tooling inside the package: how every notebook of the project is read and written.

- :mod:`flatgap.book.notebooks` — the one notebook writer (sources as lines, stable cell ids), used by the
  chapters' tools, the exercise generator and the grader.
- :mod:`flatgap.book.kernels` — the kernel manager the book's build and CI start notebooks' kernels with (over IPC).
"""

from flatgap.book.notebooks import NotebookFormatError, notebook_text, read_notebook, write_notebook

__all__ = ["NotebookFormatError", "notebook_text", "read_notebook", "write_notebook"]
