"""Small notebook tools for authors.

* ``setup_cell_source()`` — the first code cell every notebook carries: on Colab it installs the helper
  package, the exact release the book was built from (``flatgap==<version>`` from PyPI, or the tag ``v<version>`` of
  the repository named in ``_config.yml``: :mod:`repository`, the one setting), then checks that it imports and is that
  version; on failure it raises one error saying what failed and what to do. Locally and on Binder the package is
  installed, and the cell only checks it. The cell carries the tag ``remove-cell`` (:data:`SETUP_TAG`): it runs
  everywhere but is not shown in the HTML book.
* ``python tools/nbtools.py new SOURCE.py NOTEBOOK.ipynb`` — write a notebook (without outputs) from a
  percent-format script: cells start at ``# %%`` (code) or ``# %% [markdown]`` (markdown, each line
  prefixed with ``# ``); ``# %% tags=["graded"]`` sets cell tags, and ``metadata={...}`` (JSON, on the same line,
  after the tags if any) sets more cell metadata, e.g. a figure's ``{"mystnb": {"image": {"alt": "..."}}}``. The set-up cell is inserted after the
  first markdown cell unless the script already has it.
* ``python tools/nbtools.py setup-cells [NOTEBOOK ...]`` — rewrite the set-up cell (source and tag) of the given
  notebooks, or of every notebook (``python tools/repository.py sync`` does it, with the rest of what derives from the
  repository and the version).
* ``python tools/nbtools.py format [--check]`` — rewrite every committed notebook as the project's one writer
  (:mod:`flatgap.book.notebooks`) writes it; ``--check`` writes nothing and exits 1 naming the files that differ.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import repository  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SETUP_MARK = "# Set-up for Colab and Binder"
SETUP_TAG = "remove-cell"
"""The set-up cell's tag: Jupyter Book (myst-nb) executes the cell but leaves it out of the page."""
NOTEBOOK_DIRS = ("chapters", "exercises", "solutions")


def repository_url() -> str:
    return repository.setting(ROOT).url


def package_version() -> str:
    """The helper package's version, read from ``flatgap/__init__.py`` (the one place it is set)."""
    return repository.package_version(ROOT)


SETUP_TEMPLATE = """\
{mark}: on Colab, installs the course's helper package, the release this book was built with
# (locally and on Binder it is installed already). Fails loudly, saying what to do, when it cannot.
def _set_up(requirement={requirement!r}, version={version!r}):
    import importlib
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("flatgap") is None:
        print(f"Installing {{requirement}} ...")
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", requirement], capture_output=True, text=True)
        if pip.returncode != 0:
            said = "\\n".join((pip.stderr or pip.stdout).strip().splitlines()[-12:])
            raise RuntimeError(
                f"The set-up cell could not install the course's helper package: pip install {{requirement!r}} failed.\\n"
                f"pip said:\\n{{said}}\\n"
                "What to do: check that this runtime can reach the internet (on Colab: Runtime > Restart session, then run "
                "this cell again). If it can, that release may not exist: open this notebook from the book's own launch "
                "button, or install the package by hand in a cell: %pip install '<the release you want>'."
            ) from None
        importlib.invalidate_caches()
    try:
        import flatgap
    except Exception as error:
        raise RuntimeError(
            f"The course's helper package is installed but cannot be imported ({{type(error).__name__}}: {{error}}). "
            "Restart the kernel (on Colab: Runtime > Restart session) and run this cell again."
        ) from None
    if flatgap.__version__ != version:
        raise RuntimeError(
            f"This notebook needs flatgap {{version}}, but this kernel has flatgap {{flatgap.__version__}} "
            f"(from {{flatgap.__file__}}). Install the right one: %pip install {{requirement!r}}, then restart the kernel."
        )


_set_up()
del _set_up"""


def setup_cell_source(setting: repository.Setting | None = None) -> str:
    """The set-up cell: installs the exact release (``setting.requirement``) when ``flatgap`` is missing, then checks
    that it imports and is that version; raises one ``RuntimeError`` saying what failed and what to do otherwise.

    Plain Python (``subprocess`` runs ``python -m pip``, as ``%pip`` does), so that the exit status of pip is seen.
    """
    setting = setting or repository.setting(ROOT)
    return SETUP_TEMPLATE.format(mark=SETUP_MARK, requirement=setting.requirement, version=setting.version)


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


def notebook_with_setup_cell(path: Path, setting: repository.Setting | None = None) -> str:
    """The text of the notebook at ``path`` with its set-up cell's source and tag as ``setting`` says."""
    from flatgap.book.notebooks import notebook_text

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if is_setup_cell(cell):
            cell.source = setup_cell_source(setting)
            tags = cell.metadata.setdefault("tags", [])
            if SETUP_TAG not in tags:
                tags.append(SETUP_TAG)
    return notebook_text(notebook)


def rewrite_setup_cells(paths: list[Path] | None = None) -> None:
    """Give the set-up cell of each notebook in ``paths`` (default: every notebook) its current source and tag."""
    for path in paths or all_notebooks():
        text = notebook_with_setup_cell(path)
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def all_notebooks(root: Path = ROOT) -> list[Path]:
    """Every notebook of the book's folders, in path order."""
    return sorted(path for folder in NOTEBOOK_DIRS for path in (Path(root) / folder).rglob("*.ipynb"))


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
