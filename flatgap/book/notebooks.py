"""Read and write notebook files the way Jupyter writes them: one writer for every notebook the project writes.

Chapters, solutions, generated exercises and the authoring tools all go through :func:`notebook_text`, so a
file reads the same whoever wrote it, and a one-word edit of a cell is a one-line diff. The text itself is
``nbformat``'s: ``nbformat.writes`` (indent 1, keys sorted, UTF-8, each cell's source a list of lines) and
``nbformat.write`` (which adds the final newline); what this module adds is only what nbformat does not do:

- outputs and execution counts cleared (the book executes the notebooks; ``nbstripout`` strips by hand);
- cell ids kept, and new ones only where needed: a cell that has a valid id keeps it through edits and
  regeneration; a cell without one, with a malformed one, or with the id of an earlier cell gets a new random id
  that no other cell of the notebook has. nbformat's own repair (``nbformat.validator.normalize``) covers only
  missing and duplicate ids, warns each time, may draw an id a later cell already has, and leaves a malformed id to
  fail validation; so the ids are settled here, before nbformat validates and writes.

Example:
    >>> import nbformat
    >>> notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title\\n\\nText.")])
    >>> notebook.cells[0]["id"] = "title"
    >>> print(notebook_text(notebook).splitlines()[3:9])
    ['   "cell_type": "markdown",', '   "id": "title",', '   "metadata": {},', '   "source": [', '    "# Title\\\\n",', '    "\\\\n",']
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
"""What nbformat 4.5 accepts as a cell id."""


class NotebookFormatError(ValueError):
    """A file is not a valid notebook, or breaks one of the course's notebook conventions; the message says where."""


def read_notebook(path) -> nbformat.NotebookNode:
    """Read a notebook (format 4), raising :class:`NotebookFormatError` with the path when it is not one."""
    path = Path(path)
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise
    except Exception as error:  # nbformat raises several kinds (JSON errors, validation errors)
        raise NotebookFormatError(f"{path} is not a readable Jupyter notebook ({type(error).__name__}: {error})") from None


def _settled(notebook) -> nbformat.NotebookNode:
    """A copy of ``notebook`` as the project writes it: format 4.5, ids settled, outputs cleared, validated."""
    notebook = nbformat.from_dict(copy.deepcopy(dict(notebook)))
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    taken = {cell.get("id") for cell in notebook.cells if isinstance(cell.get("id"), str)}
    seen: set[str] = set()
    for cell in notebook.cells:
        if not isinstance(cell.get("id"), str) or not CELL_ID.match(cell["id"]) or cell["id"] in seen:
            cell["id"] = _new_id(taken | seen)
        seen.add(cell["id"])
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as error:
        raise NotebookFormatError(f"the notebook does not validate: {error.message}") from None
    return notebook


def notebook_text(notebook) -> str:
    """The exact text of ``notebook`` as the project writes it (``nbformat.writes`` and the final newline
    ``nbformat.write`` adds); ``notebook`` itself is not modified.

    Raises:
        NotebookFormatError: the notebook does not validate against nbformat's schema.
    """
    return nbformat.writes(_settled(notebook)) + "\n"


def write_notebook(notebook, path) -> None:
    """Write ``notebook`` to ``path`` with ``nbformat.write``, after the ids are settled: :func:`notebook_text`'s text."""
    nbformat.write(_settled(notebook), str(path))


def _new_id(taken: set[str]) -> str:
    while (cell_id := nbformat.v4.new_code_cell()["id"]) in taken:
        pass
    return cell_id
