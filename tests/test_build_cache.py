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
import toc

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


def _niceness() -> int:
    import os

    return os.nice(0)


def test_the_light_notebooks_run_at_the_lowest_priority_and_only_training_and_timing_chapters_run_alone(tmp_path):
    """An experiment chapter leaves a core idle while its kernel imports, prepares data and draws; the light notebooks,
    at the lowest priority, take only that idle time, so the chapter runs at nearly its speed alone. A notebook that
    times code runs alone too: a time taken beside the training workers is not the time its sentence means."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=build_book._lower_priority) as light:
        assert light.submit(_niceness).result() == build_book.LIGHT_NICENESS == 19
    trains, draws = tmp_path / "trains.ipynb", tmp_path / "draws.ipynb"
    trains.write_text('{"cells": [{"source": ["pool.start()  # the workers load TensorFlow"]}]}')
    draws.write_text('{"cells": [{"source": ["plt.show()"]}]}')
    assert build_book._trains(trains) and not build_book._trains(draws)
    experiments = [ROOT / f"{name}.ipynb" for name in toc.experiment_chapters(ROOT)]
    assert {path.stem for path in experiments if not build_book._trains(path)} == {"protocol", "cost"}
    timed = tmp_path / "timed.ipynb"
    timed.write_text('{"cells": [{"source": ["from flatgap.reference import speed\\n", "speed.gap_vs_copy()"]}]}')
    assert build_book._times_code(timed) and not build_book._times_code(trains) and not build_book._times_code(draws)
    notebooks = [ROOT / f"{name}.ipynb" for name in toc.docnames(ROOT) if (ROOT / f"{name}.ipynb").is_file()]
    assert {path.stem for path in notebooks if build_book._times_code(path)} == {"conv2d", "flatten", "gap", "cost"}


def test_make_pdf_prints_the_root_page_of_the_single_page_build():
    root = Path(build_book.ROOT)
    assert build_book.singlehtml_page(root) == root / "_build" / "singlehtml" / "intro.html"
