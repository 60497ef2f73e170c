"""The browser the tests drive: Debian's Chromium through Playwright, a local server of the built book, and a tab that
keeps the page's console errors.

The fixtures that use these (``base_url``, ``browser``, ``context``) live in ``conftest.py``, so that every test
module shares one server, one Chromium and one browser context per session (Playwright's synchronous API allows one
instance per process). ``tests/test_browser.py`` says what the tests check; ``tests/test_explorables.py`` and
``tests/test_explorable_pages.py`` use the same browser.
"""

from __future__ import annotations

import http.server
import os
import re
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "install Debian's Chromium with `sudo apt-get install chromium` (Playwright drives /usr/bin/chromium)"
TIMEOUT_MS = 20_000

# Every URL that is not on 127.0.0.1: the tests abort these requests.
OTHER_HOSTS = re.compile(r"^(?!https?://127\.0\.0\.1[:/])[a-z][a-z0-9+.-]*://", re.I)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


# --- console errors --------------------------------------------------------------------------------------


def is_known_theme_error(text: str, url: str) -> bool:
    """Console errors that are not the book's fault; each one named, with the reason it is allowed."""
    # sphinx-thebe 0.3 adds its inline configuration script (`const THEBE_JS_URL = ...`) with
    # app.add_js_file() from the env-before-read-docs event, and Jupyter Book 1.0's build emits that script
    # twice on every page; the second copy throws this SyntaxError. Thebe (live code) is not enabled in this
    # book, so nothing uses THEBE_JS_URL, and the first copy defines it anyway. Upstream bug, not the book's.
    if text == "uncaught: Identifier 'THEBE_JS_URL' has already been declared":
        return True
    # pydata-sphinx-theme 0.17 reads the colour mode from localStorage; on the first page that a fresh
    # browser profile opens it finds none, logs this, and stores "auto". A reader's browser does the same once.
    if text == "Got invalid theme mode: . Resetting to auto." and "/_static/scripts/pydata-sphinx-theme.js" in url:
        return True
    return False


# --- the server and the browser (one of each per session) ------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the signature of the method it overrides
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a tab closed in the middle of a response (BrokenPipeError); the browser reports what matters


class Tab:
    """One browser tab that keeps the console errors of the page it shows (one tab is reused: it is faster)."""

    def __init__(self, context) -> None:
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._on_console)
        self.page.on("pageerror", self._on_page_error)

    def open(self, url: str):
        """Go to ``url``, wait until it has loaded; returns the response. ``errors`` starts empty."""
        self.errors = []
        return self.page.goto(url, wait_until="load")

    def close(self) -> None:
        self.page.close()

    def _on_console(self, message) -> None:
        where = message.location.get("url", "")
        if message.type == "error" and not is_known_theme_error(message.text, where):
            self.errors.append(f"console: {message.text} ({where})")

    def _on_page_error(self, error) -> None:
        text = f"uncaught: {error.message}"
        if not is_known_theme_error(text, ""):
            self.errors.append(text)


def file_only_page(browser, width: int = 1280, height: int = 900):
    """A new tab that may read ``file://`` only, as a page opened from disk without a network: every other request is
    aborted and its URL appended to the list returned with the tab. Returns (page, other_requests)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    other: list[str] = []

    def route(request_route):
        if request_route.request.url.startswith("file://"):
            request_route.continue_()
        else:
            other.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    return page, other
