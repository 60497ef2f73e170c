"""No stale results: a local build executes every notebook again when the package or the pins change.

A scratch book with one tiny notebook and its own tiny ``flatgap`` package (the kernel imports it from the
notebook's folder) is built three times with ``tools/build_book.py``, the builder of ``make book``: a cold build,
a rebuild with nothing changed (the cache is reused: nothing executed), and a build after the package changed
(the cache is not reused: the page shows the new value).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import build_book
import pytest

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "title", "metadata": {}, "source": ["# Scratch page"]},
        {"cell_type": "code", "execution_count": None, "id": "value", "metadata": {}, "outputs": [],
         "source": ["import flatgap\n", "print(f\"package value {flatgap.VALUE}\")"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                 "language_info": {"name": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def scratch_book(folder: Path) -> Path:
    (folder / "_config.yml").write_text(
        "title: Scratch\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: cache\n  timeout: 120\n"
        "sphinx:\n  config:\n    nb_execution_raise_on_error: true\n"
    )
    (folder / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (folder / "page.ipynb").write_text(json.dumps(NOTEBOOK, indent=1))
    (folder / "requirements.txt").write_text("numpy==2.4.6\n")
    (folder / "flatgap").mkdir()
    (folder / "flatgap" / "__init__.py").write_text("VALUE = 1\n")
    return folder


def build(folder: Path) -> dict:
    """Build with the real builder; return its record (seconds, notebooks_executed, status)."""
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py"), str(folder)], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((folder / "_build" / "build_times.json").read_text())[-1]


def shown(folder: Path) -> str:
    return (folder / "_build" / "html" / "page.html").read_text(encoding="utf-8")


@pytest.mark.notebooks
def test_a_change_of_the_package_executes_the_notebooks_again(tmp_path):
    book = scratch_book(tmp_path)
    assert build(book)["notebooks_executed"] == 1 and "package value 1" in shown(book)
    assert build(book)["notebooks_executed"] == 0, "nothing changed: the cache must be reused"

    (book / "flatgap" / "__init__.py").write_text("VALUE = 2\n")  # the notebook itself is unchanged
    record = build(book)
    assert record["notebooks_executed"] == 1, "the package changed: the cache must not be reused"
    assert "package value 2" in shown(book) and "package value 1" not in shown(book)


def test_the_environment_key_follows_the_package_and_the_pins(tmp_path):
    book = scratch_book(tmp_path)
    key = build_book.environment_key(book)
    assert build_book.environment_key(book) == key
    (book / "page.ipynb").write_text(json.dumps({**NOTEBOOK, "cells": NOTEBOOK["cells"][:1]}))
    assert build_book.environment_key(book) == key, "a notebook's own changes are the execution cache's business"
    for path, text in (("requirements.txt", "numpy==2.4.5\n"), ("flatgap/new.py", "X = 1\n"), ("pyproject.toml", "")):
        (book / path).write_text(text)
        assert build_book.environment_key(book) != key, path
        key = build_book.environment_key(book)


def test_a_cache_of_another_environment_is_emptied(tmp_path):
    book = scratch_book(tmp_path)
    cache = build_book.cache_dir(book)
    cache.mkdir(parents=True)
    (cache / "global.db").write_text("old")
    assert build_book.refresh_cache(book) is True and not (cache / "global.db").exists(), "a cache without a key is stale"
    (cache / "global.db").write_text("new")
    assert build_book.refresh_cache(book) is False and (cache / "global.db").exists()
    (book / "flatgap" / "__init__.py").write_text("VALUE = 3\n")
    assert build_book.refresh_cache(book) is True and not (cache / "global.db").exists()


def test_ci_cache_keys_hash_the_same_files_as_the_local_key():
    """One rule, two places: CI's cache key and tools/build_book.py's environment key name the same files."""
    import re

    for name in ("test.yml", "deploy-book.yml"):
        text = (ROOT / ".github" / "workflows" / name).read_text()
        environments = re.findall(r"key: book-\$\{\{ runner\.os \}\}-py3\.11-\$\{\{ hashFiles\(([^)]*)\) \}\}", text)
        assert environments, f"{name}: no execution-cache key"
        for files in environments:
            assert tuple(re.findall(r"'([^']+)'", files)) == build_book.ENVIRONMENT_FILES, f"{name}: {files}"


def test_light_notebooks_first_then_one_experiment_chapter_at_a_time():
    """Two experiment chapters sharing two cores each took twice as long and the build no less: never start a second;
    and an experiment chapter beside the light notebooks took up to twice its time alone: they go first."""
    pending = {True: ["e1", "e2"], False: ["l1"]}
    assert build_book._next_kind(pending, {}) is False, "the light notebooks go first"
    assert build_book._next_kind(pending, {"future": False}) is False
    assert build_book._next_kind({True: ["e1"], False: []}, {"future": False}) is True, "beside the last light one"
    assert build_book._next_kind({True: ["e2"], False: []}, {"future": True}) is None, "no second experiment chapter"
    assert build_book._next_kind({True: [], False: []}, {}) is None


def test_make_pdf_prints_the_root_page_of_the_single_page_build():
    root = Path(build_book.ROOT)
    assert build_book.singlehtml_page(root) == root / "_build" / "singlehtml" / "intro.html"
