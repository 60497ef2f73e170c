"""The one notebook writer (flatgap.book.notebooks): every committed notebook is as it writes it, ids stay, edits diff by line."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import nbformat
import pytest

from flatgap.book.notebooks import NotebookFormatError, notebook_text, read_notebook, write_notebook

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(p for folder in ("chapters", "exercises", "solutions") for p in (ROOT / folder).rglob("*.ipynb"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_committed_notebook_validates_and_is_what_the_writer_writes(path):
    notebook = read_notebook(path)
    nbformat.validate(notebook)
    assert path.read_text(encoding="utf-8") == notebook_text(notebook), (
        f"{path.relative_to(ROOT)} is not written as the project writes notebooks: run `python tools/nbtools.py format`"
    )
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert all(isinstance(cell["source"], list) for cell in cells), "each cell's source must be a list of lines"


def two_cells():
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\nOne line of prose.\nA second line of prose."),
        nbformat.v4.new_code_cell("x = 1\nprint(x)"),
    ]
    notebook.cells[0]["id"], notebook.cells[1]["id"] = "title", "first-code"
    return notebook


def test_a_one_word_edit_is_a_one_line_diff_and_ids_stay(tmp_path):
    path = tmp_path / "n.ipynb"
    notebook = two_cells()
    write_notebook(notebook, path)
    before = path.read_text().splitlines()
    edited = read_notebook(path)
    edited.cells[0].source = edited.cells[0].source.replace("second", "2nd")
    edited.cells.insert(1, nbformat.v4.new_markdown_cell("A new cell."))
    del edited.cells[1]["id"]
    write_notebook(edited, path)
    after = path.read_text().splitlines()
    changed = [line for line in difflib.unified_diff(before, after, lineterm="", n=0) if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed[:2] == ['-    "A second line of prose."', '+    "A 2nd line of prose."'], changed
    assert [c["id"] for c in read_notebook(path).cells][::2] == ["title", "first-code"]
    new_id = read_notebook(path).cells[1]["id"]
    assert new_id not in ("title", "first-code")
    assert path.read_text().endswith("}\n")


def test_outputs_are_cleared_and_duplicate_or_missing_ids_replaced():
    notebook = two_cells()
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    notebook.cells[1].execution_count = 3
    notebook.cells.append(nbformat.v4.new_code_cell("y = 2"))
    notebook.cells[2]["id"] = "first-code"
    text = notebook_text(notebook)
    cells = json.loads(text)["cells"]
    assert cells[1]["outputs"] == [] and cells[1]["execution_count"] is None
    assert cells[2]["id"] != "first-code" and len({c["id"] for c in cells}) == 3
    assert notebook.cells[1].outputs, "the notebook passed in is not modified"
    assert notebook_text(json.loads(text)) == text, "writing what the writer wrote changes nothing"


def test_an_invalid_notebook_is_refused_with_a_clear_message(tmp_path):
    notebook = two_cells()
    notebook.cells[0]["cell_type"] = "picture"
    with pytest.raises(NotebookFormatError, match="does not validate"):
        notebook_text(notebook)
    (tmp_path / "bad.ipynb").write_text("{not json")
    with pytest.raises(NotebookFormatError, match="bad.ipynb is not a readable Jupyter notebook"):
        read_notebook(tmp_path / "bad.ipynb")
