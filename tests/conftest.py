"""Fixtures shared by the test modules: where the book's sources and its built HTML are.

The built book is read from ``_build/html`` of the repository (``make test`` builds it first). Set
``FLATGAP_HTML_DIR`` to test another build, for example a scratch copy of the book:
``FLATGAP_HTML_DIR=/tmp/copy/_build/html pytest tests/test_html.py``. Jupyter Book always builds into
``<book>/_build/html``, so the sources (``_toc.yml``) of that build are read from two folders up.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))  # the authoring tools (toc, nbtools) are importable by every test

import toc  # noqa: E402
from browser_support import (  # noqa: E402
    CHROMIUM,
    INSTALL_HINT,
    LAUNCH_ARGS,
    OTHER_HOSTS,
    TIMEOUT_MS,
    QuietHandler,
    QuietServer,
    in_ci,
)


def pytest_configure(config):
    # Tests that read the built book. `make test` builds it first; `pytest -m "not book"` leaves them out.
    # (Registered here so that the marker works before pyproject.toml lists it; listing it twice is harmless.)
    config.addinivalue_line("markers", "book: reads the built book in _build/html (run `make book` first)")


def _html_dir() -> Path:
    return Path(os.environ.get("FLATGAP_HTML_DIR") or ROOT / "_build" / "html").resolve()


@pytest.fixture(scope="session")
def html_dir() -> Path:
    """The built HTML book; fails (never skips) with a clear message when it has not been built."""
    path = _html_dir()
    if not (path / "index.html").is_file():
        pytest.fail(f"no built book at {path}: run `make book` first (`make test` does it for you)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def book_dir(html_dir: Path) -> Path:
    """The sources of the book that was built into ``html_dir`` (the folder holding ``_toc.yml``)."""
    return html_dir.parent.parent


@pytest.fixture(scope="session")
def toc_parts(book_dir: Path) -> list[tuple[str, list[str]]]:
    """The parts of the built book's ``_toc.yml``: (caption, [docname, ...]) in reading order."""
    return toc.parts(book_dir)


@pytest.fixture(scope="session")
def toc_docnames(book_dir: Path) -> list[str]:
    """Every page of the built book's table of contents in reading order, as Sphinx docnames."""
    return toc.docnames(book_dir)


# --- the browser (tests/browser_support.py): one server, one Chromium, one context per session ----------------

@pytest.fixture(scope="session")
def base_url(html_dir):
    """``_build/html`` served on a free port of 127.0.0.1 while the session lasts."""
    handler = functools.partial(QuietHandler, directory=str(html_dir))
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright package is missing (it is pinned in requirements.txt: run `make venv`)"
    if problem is None and not CHROMIUM.is_file():
        problem = f"no Chromium at {CHROMIUM}: {INSTALL_HINT}"
    if problem:
        if in_ci():
            pytest.fail(f"browser tests must run in CI, but {problem}", pytrace=False)
        pytest.skip(f"browser tests skipped: {problem}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def context(browser):
    """One browser context (like one browser profile) that never leaves 127.0.0.1."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, service_workers="block")
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.other_hosts = []  # every request to another host, aborted and counted (test_no_page_asks_another_host)

    def abort(route):
        ctx.other_hosts.append(route.request.url)
        route.abort()

    ctx.route(OTHER_HOSTS, abort)
    yield ctx
    ctx.close()


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Skipped tests end the run with one line per reason: how many, where, and why (e.g. no Chromium installed).

    A wrapper, so that the line comes after pytest's own summary, just above the final count.
    """
    result = yield
    skipped = terminalreporter.stats.get("skipped", [])
    reasons: dict[tuple[str, str], int] = {}
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        module = report.nodeid.split("::")[0]
        reasons[module, reason.removeprefix("Skipped: ")] = reasons.get((module, reason.removeprefix("Skipped: ")), 0) + 1
    for (module, reason), count in sorted(reasons.items()):
        terminalreporter.write_line(f"SKIPPED {count} test{'s' if count != 1 else ''} of {module}: {reason}", yellow=True)
    return result
