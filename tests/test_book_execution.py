"""Every executed notebook of the book ran to the end without error, in its current form.

`make test` builds the book first (`make book`, warnings as errors), which executes each chapter and
solution notebook once and caches the result in `_build/.jupyter_cache`; a notebook whose cell raised
(a failed `assert` included) is not cached. So a cache record that matches the notebook's current
content proves that this exact notebook ran top to bottom — the same proof as `pytest --nbval-lax`
(`make nbval` runs that too), without executing every notebook a second time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import toc

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / ".jupyter_cache"


def executed_notebooks() -> list[Path]:
    return toc.notebooks("chapters") + toc.notebooks("solutions")


@pytest.fixture(scope="module")
def cache():
    if not CACHE.exists():
        pytest.fail("no execution cache: run `make book` (or `make test`, which builds first)")
    from jupyter_cache import get_cache

    return get_cache(CACHE)


@pytest.mark.parametrize("path", executed_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_executed_without_error_in_its_current_form(cache, path):
    try:
        record = cache.match_cache_file(str(path))
    except KeyError:
        pytest.fail(
            f"{path.relative_to(ROOT)} has no successful execution matching its current content: it failed in the "
            "last build or was changed after it (see _build/html/reports/ and run `make book`)"
        )
    seconds = (record.data or {}).get("execution_seconds")
    assert seconds is not None and seconds > 0


REPRODUCED = "chapters/beyond_two_heads/global_poolings.ipynb"
"""One experiment chapter executed again, with every run trained (no run store): its text outputs must equal the
build's, so the build's chapter outputs are reproducible on the machine, and a run the build took from the store
(:mod:`flatgap.experiments.store`, when another chapter or an earlier build trained it first) changes no number."""

TIMING = [
    (r"\d+(\.\d+)?\s*(s|ms|µs|seconds|CPU-seconds)\b", "<time>"),  # durations, however they are printed
    (r"\b\d+(\.\d+)?(x|×) (faster|slower)", "<ratio>"),
]


def text_outputs(notebook) -> list[tuple[str, str]]:
    """``(cell id, text)`` of every stream and text/plain output, with durations masked (they are the only outputs
    that may differ between two runs on one machine). Consecutive chunks of one stream in a cell count as one output:
    how the kernel splits printed text into chunks depends on timing, not on what was printed."""
    import re

    out, last_stream = [], None
    for cell in notebook.cells:
        last_stream = None
        for output in cell.get("outputs", []):
            stream = output.get("name") if output.get("output_type") == "stream" else None
            text = output.get("text") if stream else output.get("data", {}).get("text/plain")
            if not text:
                continue
            text = "".join(text) if isinstance(text, list) else text
            if stream and stream == last_stream:
                out[-1] = (out[-1][0], out[-1][1] + text)
            else:
                out.append((cell.get("id"), text))
            last_stream = stream
    masked = []
    for cell_id, text in out:
        for pattern, mask in TIMING:
            text = re.sub(pattern, mask, text)
        masked.append((cell_id, text))
    return masked


@pytest.mark.notebooks
def test_re_executing_an_experiment_chapter_reproduces_every_text_output(cache, monkeypatch):
    """On one machine the numbers are exact: a second run prints what the build printed, to the last digit."""
    monkeypatch.delenv("FLATGAP_RUN_STORE", raising=False)  # train every run again
    import nbformat
    from nbclient import NotebookClient

    from flatgap.book.kernels import kernel_manager_class

    path = ROOT / REPRODUCED
    try:
        record = cache.match_cache_file(str(path))
    except KeyError:
        pytest.fail(f"{REPRODUCED} has no cached execution: run `make book` first")
    built = cache.get_cache_bundle(record.pk).nb
    again = nbformat.read(path, as_version=4)
    NotebookClient(again, timeout=600, kernel_name="python3", kernel_manager_class=kernel_manager_class(),
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    first, second = text_outputs(built), text_outputs(again)
    assert len(first) == len(second) > 10
    differing = [(a[0], a[1][:300], b[1][:300]) for a, b in zip(first, second, strict=True) if a != b]
    assert not differing, f"outputs that changed on a second run: {differing}"
