"""The book's structure: the table of contents, the notebooks' form, the pins, and nothing downloaded at run time."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbtools
import pytest
import toc
import yaml

ROOT = Path(__file__).resolve().parent.parent


def all_notebooks() -> list[Path]:
    return nbtools.all_notebooks()


def test_every_toc_entry_exists():
    missing = [name for name in toc.docnames() if not any((ROOT / f"{name}{ext}").exists() for ext in (".ipynb", ".md"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_every_notebook_is_in_the_toc():
    listed = set(toc.docnames())
    unlisted = [str(p.relative_to(ROOT)) for p in all_notebooks() if str(p.relative_to(ROOT).with_suffix("")) not in listed]
    assert not unlisted, f"notebooks missing from _toc.yml (only_build_toc_files would drop them): {unlisted}"


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_form(path):
    notebook = json.loads(path.read_text())
    name = path.relative_to(ROOT)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3", f"{name}: kernelspec must be python3"
    dirty = [i for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{name}: cells {dirty} carry outputs or execution counts; commit notebooks without outputs (nbstripout)"
    first_code = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    expected = nbtools.setup_cell_source()
    assert "".join(first_code["source"]) == expected, (
        f"{name}: the first code cell must be the Colab/Binder set-up cell for the repository in _config.yml "
        "(run `python tools/nbtools.py setup-cells`)"
    )
    first = notebook["cells"][0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# "), f"{name}: must open with a '# Title' markdown cell"


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_chapter_opens_with_goals_and_closes_with_summary_and_self_check(path):
    markdown = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
    assert re.search(r"^#+ .*Summary", markdown, re.M | re.I), f"{path.name}: no Summary section"
    assert re.search(r"^#+ .*Self-check", markdown, re.M | re.I), f"{path.name}: no Self-check questions section"
    opening = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
    goals = re.search(r"^After this chapter you will be able to:\n\n((?:(?:- |  ).*(?:\n|$))+)", "".join(opening["source"]), re.M)
    assert goals and len(re.findall(r"^- ", goals.group(1), re.M)) >= 2, (
        f"{path.name}: the first cell must say 'After this chapter you will be able to:' followed by a list of at least two goals"
    )


TYPED_NUMBER = re.compile(r"\b[Cc]hapters?\s+\d+\b|\b[Pp]arts?\s+(?:I{1,3}|IV|VI?|V?I{1,3})\b")
"""A chapter or part named by a number typed in the text ("chapter 14", "Part III")."""


def book_texts() -> list[tuple[str, str]]:
    """(where, text) of every cell of every notebook and of every Markdown page of the book."""
    texts = [(f"{p.relative_to(ROOT)} cell {i}", "".join(c["source"]))
             for p in all_notebooks() for i, c in enumerate(json.loads(p.read_text())["cells"])]
    texts += [(name, (ROOT / f"{name}.md").read_text()) for name in toc.docnames() if (ROOT / f"{name}.md").exists()]
    return texts


def test_chapters_and_parts_are_named_by_link_never_by_a_typed_number():
    typed = [f"{where}: {match.group(0)!r}" for where, text in book_texts() for match in TYPED_NUMBER.finditer(text)]
    assert not typed, (
        "link to the page instead of typing its number, e.g. [](14_where_flatten_wins.ipynb), which renders the number "
        "and title from _toc.yml:\n" + "\n".join(typed)
    )


def test_the_typed_number_rule_can_fail():
    assert TYPED_NUMBER.search("as chapter 14 shows") and TYPED_NUMBER.search("Part III measures it")
    assert TYPED_NUMBER.search("(chapters 9 and 13)") and not TYPED_NUMBER.search("see [](14_where_flatten_wins.ipynb)")
    assert not TYPED_NUMBER.search("claim 6, in particular") and not TYPED_NUMBER.search("a partial result")


DOWNLOADS = re.compile(r"keras\.datasets|get_file\(|urlopen|urlretrieve|requests\.get|hub\.load|from_pretrained|tensorflow_datasets")


def test_nothing_is_downloaded_at_run_time():
    sources = [(p, "".join(c["source"])) for p in all_notebooks() for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code"]
    sources += [(p, p.read_text()) for p in (ROOT / "flatgap").rglob("*.py")]
    offenders = sorted({str(p.relative_to(ROOT)) for p, text in sources if DOWNLOADS.search(text)})
    assert not offenders, f"these files fetch data or models from the network at run time: {offenders}"


def test_dependencies_are_pinned_and_jupyter_book_is_below_2():
    requirements = [ln.split("#")[0].strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    requirements = [ln for ln in requirements if ln]
    unpinned = [ln for ln in requirements if "==" not in ln]
    assert not unpinned, f"unpinned requirements: {unpinned}"
    book = next(ln for ln in requirements if ln.lower().startswith("jupyter-book"))
    assert int(book.split("==")[1].split(".")[0]) < 2, "jupyter-book 2.x ignores _config.yml/_toc.yml"
    from importlib.metadata import version

    assert int(version("jupyter-book").split(".")[0]) < 2


def test_config_sets_what_the_build_relies_on():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["only_build_toc_files"] is True
    assert config["execute"]["execute_notebooks"] == "cache"
    assert config["execute"]["exclude_patterns"] == ["exercises/*"], "exercise stubs must never be executed by the build"
    assert config["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert config["repository"]["url"].startswith("https://github.com/")
    assert (ROOT / "references.bib").exists()
