"""Small notebook tools for authors.

* ``setup_cell_source()`` — the first code cell every notebook carries: on Colab it installs the helper
  package, the release the book was built from (the tag ``v<flatgap.__version__>`` of the repository named in
  ``_config.yml``, the one place the URL is set); locally and on Binder the package is already installed and
  nothing happens. The cell carries the tag ``remove-cell`` (:data:`SETUP_TAG`): it runs everywhere but is not
  shown in the HTML book.
* ``python tools/nbtools.py new SOURCE.py NOTEBOOK.ipynb`` — write a notebook (without outputs) from a
  percent-format script: cells start at ``# %%`` (code) or ``# %% [markdown]`` (markdown, each line
  prefixed with ``# ``); ``# %% tags=["graded"]`` sets cell tags, and ``metadata={...}`` (JSON, on the same line,
  after the tags if any) sets more cell metadata, e.g. a figure's ``{"mystnb": {"image": {"alt": "..."}}}``. The set-up cell is inserted after the
  first markdown cell unless the script already has it.
* ``python tools/nbtools.py setup-cells [NOTEBOOK ...]`` — rewrite the set-up cell (source and tag) of the given
  notebooks, or of every notebook, after the URL or the package's version changed.
* ``python tools/nbtools.py format [--check]`` — rewrite every committed notebook as the project's one writer
  (:mod:`flatgap.book.notebooks`) writes it; ``--check`` writes nothing and exits 1 naming the files that differ.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
SETUP_MARK = "# Set-up for Colab and Binder"
SETUP_TAG = "remove-cell"
"""The set-up cell's tag: Jupyter Book (myst-nb) executes the cell but leaves it out of the page."""
NOTEBOOK_DIRS = ("chapters", "exercises", "solutions")


def repository_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def package_version() -> str:
    """The helper package's version, read from ``flatgap/__init__.py`` (the one place it is set)."""
    text = (ROOT / "flatgap" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def setup_cell_source() -> str:
    """The set-up cell: installs the release ``v<version>`` of the package from the book's repository when missing."""
    return (
        f"{SETUP_MARK}: on Colab, installs the course's helper package, the release this book was built with\n"
        "# (locally and on Binder it is installed already, and this cell does nothing).\n"
        "import importlib.util\n"
        "\n"
        'if importlib.util.find_spec("flatgap") is None:\n'
        f'    %pip install --quiet "flatgap @ git+{repository_url()}@v{package_version()}"'
    )


def setup_cell() -> nbformat.NotebookNode:
    """A new set-up cell (source and tag)."""
    cell = nbformat.v4.new_code_cell(setup_cell_source())
    cell.metadata["tags"] = [SETUP_TAG]
    return cell


def is_setup_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.source.startswith(SETUP_MARK)


def notebook_from_percent(text: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    header = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*?\]))?(?: metadata=(?P<meta>\{.*\}))?\s*$")
    cells: list[tuple[str, list[str], list[str], dict]] = []
    for line in text.splitlines():
        match = header.match(line)
        if match:
            kind = "markdown" if match.group("md") else "code"
            cells.append((kind, json.loads(match.group("tags") or "[]"), [], json.loads(match.group("meta") or "{}")))
        elif cells:
            cells[-1][2].append(line)
    for kind, tags, lines, meta in cells:
        if kind == "markdown":
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines]
        source = "\n".join(lines).strip("\n")
        if not source:
            continue
        cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        cell.metadata.update(meta)
        if tags:
            cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    if not any(is_setup_cell(c) for c in notebook.cells):
        first_markdown = next((i for i, c in enumerate(notebook.cells) if c.cell_type == "markdown"), -1)
        notebook.cells.insert(first_markdown + 1, setup_cell())
    return notebook


def write_notebook(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write as every notebook of the project is written (:mod:`flatgap.book.notebooks`): sources as lines, ids kept."""
    from flatgap.book.notebooks import write_notebook as write

    write(notebook, path)


def rewrite_setup_cells(paths: list[Path] | None = None) -> None:
    """Give the set-up cell of each notebook in ``paths`` (default: every notebook) its current source and tag."""
    for path in paths or all_notebooks():
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if is_setup_cell(cell):
                cell.source = setup_cell_source()
                tags = cell.metadata.setdefault("tags", [])
                if SETUP_TAG not in tags:
                    tags.append(SETUP_TAG)
        write_notebook(notebook, path)


def all_notebooks() -> list[Path]:
    """Every notebook of the book's folders, in path order."""
    return sorted(path for folder in NOTEBOOK_DIRS for path in (ROOT / folder).rglob("*.ipynb"))


def format_notebooks(check: bool = False) -> int:
    """Rewrite (or, with ``check``, only compare) every notebook as :func:`flatgap.book.notebooks.notebook_text` writes it."""
    from flatgap.book.notebooks import notebook_text, read_notebook

    differ = []
    for path in all_notebooks():
        text = notebook_text(read_notebook(path))
        if path.read_text(encoding="utf-8") != text:
            differ.append(path.relative_to(ROOT))
            if not check:
                path.write_text(text, encoding="utf-8")
    for name in differ:
        print(f"{'differs from the writer' if check else 'rewrote'}: {name}")
    return 1 if check and differ else 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "new":
        write_notebook(notebook_from_percent(Path(argv[1]).read_text()), Path(argv[2]))
        return 0
    if argv[:1] == ["setup-cells"]:
        rewrite_setup_cells([Path(name).resolve() for name in argv[1:]])
        return 0
    if argv in (["format"], ["format", "--check"]):
        return format_notebooks(check="--check" in argv)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
