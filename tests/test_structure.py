"""The book's structure: the table of contents, the notebooks' form, the pins, and nothing downloaded at run time."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIRS = ("chapters", "exercises", "solutions")


def _load_nbtools():
    spec = importlib.util.spec_from_file_location("nbtools", ROOT / "tools" / "nbtools.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for part in toc["parts"] for entry in part["chapters"]]


def all_notebooks() -> list[Path]:
    return sorted(p for folder in NOTEBOOK_DIRS for p in (ROOT / folder).glob("*.ipynb"))


def test_every_toc_entry_exists():
    missing = [name for name in toc_files() if not any((ROOT / f"{name}{ext}").exists() for ext in (".ipynb", ".md"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_every_notebook_is_in_the_toc():
    listed = set(toc_files())
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
    expected = _load_nbtools().setup_cell_source()
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
    assert re.search(r"you will be able to|you will|by the end", markdown[:3000], re.I), f"{path.name}: the opening must say what the reader will be able to do"


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
