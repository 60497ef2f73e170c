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
