"""Checks of the built HTML book (``_build/html``), run after ``make book`` in ``make test``.

* every page of the table of contents was built;
* every local link (``href``), anchor (``#id`` exists in the target page) and image (``src``) resolves;
* no notebook failed: no ``reports/*.err.log``, and no error output (traceback, stderr) shown in the pages
  of the executed notebooks (chapters and solutions; exercise notebooks are not executed, so they have no outputs);
* no page shows the Colab/Binder set-up cell (its ``remove-cell`` tag keeps it in the notebook, out of the page).

That the build log is free of warnings is not tested here: ``make book`` builds with ``-W`` (warnings are
errors) and ``-n`` (nitpicky references), so a build with a warning already fails before these tests run.

The checkers are plain functions over HTML text; the ``test_checker_*`` tests at the end prove on small
hand-written pages that each one catches what it is meant to catch.
"""

from __future__ import annotations

import functools
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from nbtools import SETUP_MARK

# Attributes that load or link to another file, per tag.
URL_ATTRIBUTES = {
    "a": ("href",),
    "area": ("href",),
    "link": ("href",),
    "img": ("src",),
    "script": ("src",),
    "iframe": ("src",),
    "source": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
}
IMAGE_TAGS = {"img", "video", "source"}
EXECUTED_FOLDERS = ("chapters", "solutions")  # exercises/* is excluded from execution in _config.yml


class Page(HTMLParser):
    """What the checks need from one HTML page: its ids, the URLs it refers to, and error outputs."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.urls: list[tuple[str, str]] = []  # (tag, url)
        self.error_outputs: list[str] = []  # class attribute of each error output block
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name in ("id", "name") if tag == "a" else ("id",):
            if values.get(name):
                self.ids.add(values[name])
        for name in URL_ATTRIBUTES.get(tag, ()):
            if name in values:
                self.urls.append((tag, values[name].strip()))
        classes = set(values.get("class", "").split())
        # myst-nb renders an error output as "output traceback" and a stderr stream as "output stderr";
        # nbsphinx/nbconvert call them "output_error" and "output_stderr".
        if classes & {"traceback", "output_error", "output_stderr"} or {"output", "stderr"} <= classes:
            self.error_outputs.append(values["class"])

    handle_startendtag = handle_starttag


@functools.cache
def parse(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def built_pages(html_dir: Path) -> list[Path]:
    """Every HTML page of the build (the theme's template snippets under _static/ are not pages)."""
    return sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.relative_to(html_dir).parts)


def local_target(page: Path, url: str) -> tuple[Path, str] | None:
    """The file and fragment a local URL refers to; None for external URLs (http:, mailto:, data:, //host)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not (parts.path or parts.fragment):
        return None
    target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    if parts.path.endswith("/"):
        target = target / "index.html"
    return target, unquote(parts.fragment)


def broken_references(page: Path, html_root: Path) -> list[str]:
    """Each local URL of ``page`` whose file does not exist, or whose #fragment is no id of the target page."""
    problems = []
    for tag, url in parse(page).urls:
        resolved = local_target(page, url)
        if resolved is None:
            continue
        target, fragment = resolved
        where = f"{page.relative_to(html_root)}: <{tag}> {url}"
        if not target.is_relative_to(html_root):
            problems.append(f"{where} points outside the book")
        elif not target.is_file():
            problems.append(f"{where} -> missing file {target.relative_to(html_root)}")
        elif fragment and target.suffix == ".html" and fragment not in parse(target).ids:
            problems.append(f"{where} -> no id {fragment!r} in {target.relative_to(html_root)}")
    return problems


def toc_html(html_dir: Path, docname: str) -> Path:
    return html_dir / f"{docname}.html"


# --- the checks over the build ---------------------------------------------------------------------------


@pytest.mark.book
def test_every_toc_page_was_built(html_dir, toc_docnames):
    missing = [name for name in toc_docnames if not toc_html(html_dir, name).is_file()]
    assert not missing, f"pages listed in _toc.yml that the build did not produce: {missing}"


@pytest.mark.book
def test_every_local_link_anchor_and_image_resolves(html_dir):
    pages = built_pages(html_dir)
    assert len(pages) > 3, f"only {len(pages)} HTML pages in {html_dir}"
    problems = [problem for page in pages for problem in broken_references(page, html_dir)]
    assert not problems, f"{len(problems)} broken local references:\n" + "\n".join(problems)


@pytest.mark.book
def test_no_image_is_loaded_from_another_host(html_dir):
    """Figures are files of the build (checked above); none is fetched from the network."""
    images = [(page, url) for page in built_pages(html_dir) for tag, url in parse(page).urls if tag in IMAGE_TAGS]
    external = [f"{page.relative_to(html_dir)}: {url}" for page, url in images
                if urlsplit(url).scheme in ("http", "https") or url.startswith("//")]
    assert not external, "images loaded from other hosts (the book must work offline):\n" + "\n".join(external)


@pytest.mark.book
def test_no_notebook_failed_during_the_build(html_dir):
    reports = sorted(str(p.relative_to(html_dir)) for p in (html_dir / "reports").rglob("*.err.log"))
    assert not reports, f"notebooks failed during the build; read these execution reports: {reports}"


@pytest.mark.book
def test_executed_pages_show_no_error_output(html_dir, toc_docnames):
    executed = [n for n in toc_docnames if n.split("/")[0] in EXECUTED_FOLDERS and toc_html(html_dir, n).is_file()]
    shown = {name: parse(toc_html(html_dir, name)).error_outputs for name in executed}
    shown = {name: classes for name, classes in shown.items() if classes}
    assert not shown, (
        "executed pages show tracebacks or stderr output (a 'raises-exception' cell or a warning); to show an "
        f"expected error, catch it and print its message: {shown}"
    )


@pytest.mark.book
def test_no_page_shows_the_setup_cell(html_dir, toc_docnames):
    shown = [name for name in toc_docnames if toc_html(html_dir, name).is_file()
             and SETUP_MARK in toc_html(html_dir, name).read_text(encoding="utf-8")]
    assert not shown, f"pages that show the Colab/Binder set-up cell (tag it with `python tools/nbtools.py setup-cells`): {shown}"


# --- the checkers catch what they should (no build needed) -----------------------------------------------

GOOD = """<html><body><a href="#top" id="top">top</a><a href="other.html#sec">other</a><a href="https://x.org/a">x</a>
<img src="_images/fig.png"><a href="mailto:a@b.c">mail</a><a href="#">here</a><script src="s.js?v=1"></script>
<link href="style.css?digest=1" rel="stylesheet"></body></html>"""


@pytest.fixture
def tiny_book(tmp_path):
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "fig.png").write_bytes(b"\x89PNG")
    (tmp_path / "s.js").write_text("")
    (tmp_path / "style.css").write_text("")
    (tmp_path / "other.html").write_text('<section id="sec"><h1>Other</h1></section>')
    return tmp_path


def check_text(book: Path, text: str) -> list[str]:
    page = book / "page.html"
    page.write_text(text)
    return broken_references(page, book)


def test_checker_accepts_a_good_page(tiny_book):
    assert check_text(tiny_book, GOOD) == []


@pytest.mark.parametrize(
    "html, expected",
    [
        ('<a href="gone.html">x</a>', "missing file gone.html"),
        ('<a href="other.html#nosuch">x</a>', "no id 'nosuch' in other.html"),
        ('<a href="#nosuch">x</a>', "no id 'nosuch'"),
        ('<img src="_images/missing.png">', "missing file _images/missing.png"),
        ('<a href="../../etc/passwd">x</a>', "points outside the book"),
    ],
)
def test_checker_reports_broken_references(tiny_book, html, expected):
    problems = check_text(tiny_book, html)
    assert len(problems) == 1 and expected in problems[0], problems


def test_checker_finds_error_outputs():
    traceback = '<div class="cell_output"><div class="output traceback highlight-ipythontb">ValueError</div></div>'
    stderr = '<div class="output stderr highlight-myst-ansi">warning</div>'
    clean = '<div class="output stream highlight-myst-ansi">ok</div><div class="output text_plain">1</div>'
    assert len(Page(traceback).error_outputs) == 1
    assert len(Page(stderr).error_outputs) == 1
    assert Page(clean).error_outputs == []
