"""The built book in a real browser: Debian's Chromium, headless, driven by Playwright.

``_build/html`` is served on 127.0.0.1 (a free port) and every page of the table of contents is opened once
in one browser (the ``visits`` fixture); the tests then check what a reader sees:

* each page loads, shows its title heading (h1) and raises no console error;
* every figure of a notebook page is a loaded image, and each experiment chapter shows at least one plot;
* every image has alt text that says what it shows: not empty, not a file name (myst-nb's default), a few words
  (:func:`alt_text_problem`; a notebook sets it in the figure cell's metadata, ``mystnb: {image: {alt: ...}}``);
* a collapsed self-check answer opens when its title is clicked;
* the search page finds "GlobalAveragePooling2D";
* an exercise page's launch buttons (Colab, Binder) and its download link give the exercise notebook,
  never the solution;
* screenshots of the front page and of the first page of each part go to ``_build/screenshots/`` for people
  to look at;
* no page asks for anything from another host: every such request is aborted *and counted*, and the count must be
  zero (MathJax and BokehJS come from the book's own ``_static``); every page with maths shows it typeset by MathJax;
* at a 1280-px window no code cell runs past the text column (``_static/code.css`` wraps long lines).

The browser never goes online: requests to other hosts are aborted, so the tests are the same with or
without a network.
Playwright drives ``/usr/bin/chromium``; it never downloads a browser. Without Chromium the tests are
skipped, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import toc
import yaml
from browser_support import Tab, is_known_theme_error

pytestmark = [pytest.mark.browser, pytest.mark.book]

# --- one visit per page ----------------------------------------------------------------------------------


@dataclass
class Visit:
    docname: str
    status: int | None
    title: str = ""
    h1: str = ""
    errors: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)  # {src, alt, width (natural, 0 = not loaded), plot}
    other_hosts: list[str] = field(default_factory=list)  # requests to other hosts the page attempted
    math: dict = field(default_factory=dict)  # {source: maths in the page's HTML, typeset: MathJax's elements}
    wide_code: list[str] = field(default_factory=list)  # code cells wider than the column (their first line)


# Waits for every image of the article (lazy ones included), then reports each one.
LOAD_IMAGES = """async () => {
    const images = Array.from(document.querySelectorAll('article.bd-article img'));
    await Promise.all(images.map(img => {
        img.loading = 'eager';
        return img.complete ? null : new Promise(done => { img.onload = img.onerror = done; });
    }));
    return images.map(img => ({src: img.getAttribute('src'), alt: img.getAttribute('alt'), width: img.naturalWidth,
                               plot: img.closest('.cell_output') !== null}));
}"""


# After MathJax has typeset the page (or at once when the page has no maths): how much maths the page holds and how
# much MathJax drew. Sphinx marks maths with class "math"; MathJax 3 draws each formula as an <mjx-container>.
MATH = """async () => {
    const source = document.querySelectorAll('article.bd-article .math').length;
    if (source && window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
    return {source: source, typeset: document.querySelectorAll('article.bd-article mjx-container').length};
}"""

# Code cells (their <pre>) wider than the box that shows them: a line cut off at the column's edge.
WIDE_CODE = """() => Array.from(document.querySelectorAll('article.bd-article div.cell_input pre'))
    .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => pre.textContent.split('\\n').find(line => line.length > 70) || pre.textContent.slice(0, 80))"""


def screenshot_plan(toc_docnames, toc_parts) -> dict[str, str]:
    """docname -> screenshot file name: the front page, and the first page of each part."""
    plan = {toc_docnames[0]: "00_front_page.png"}
    for index, (caption, names) in enumerate(toc_parts, start=1):
        if names:
            slug = re.sub(r"[^a-z0-9]+", "_", caption.lower()).strip("_") or "part"
            plan.setdefault(names[0], f"{index:02d}_{slug}.png")
    return plan


@pytest.fixture(scope="session")
def screenshot_dir(html_dir) -> Path:
    folder = html_dir.parent / "screenshots"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture(scope="session")
def visits(context, base_url, toc_docnames, toc_parts, screenshot_dir) -> dict[str, Visit]:
    """Open every page of the table of contents once, record what the checks need, take the screenshots."""
    shots = screenshot_plan(toc_docnames, toc_parts)
    records = {}
    tab = Tab(context)
    page = tab.page
    for docname in toc_docnames:
        attempted = len(context.other_hosts)
        response = tab.open(f"{base_url}{docname}.html")
        visit = Visit(docname, response.status if response else None)
        if visit.status == 200:
            visit.title = page.title()
            heading = page.locator("article.bd-article h1").first
            visit.h1 = heading.text_content().replace("#", "").strip() if heading.count() else ""
            visit.images = page.evaluate(LOAD_IMAGES)
            visit.math = page.evaluate(MATH)
            visit.wide_code = page.evaluate(WIDE_CODE)
            if docname in shots:
                page.screenshot(path=str(screenshot_dir / shots[docname]))
            page.wait_for_timeout(50)  # a script the page started late would ask now
        visit.other_hosts = context.other_hosts[attempted:]
        visit.errors = tab.errors
        records[docname] = visit
    tab.close()
    return records


def notebook_pages(book_dir: Path, docnames) -> list[str]:
    return [name for name in docnames if (book_dir / f"{name}.ipynb").is_file()]


# --- the tests -------------------------------------------------------------------------------------------


def test_every_toc_page_loads_with_its_title_heading(visits):
    problems = []
    for name, visit in visits.items():
        if visit.status != 200:
            problems.append(f"{name}: HTTP status {visit.status}")
        elif not visit.h1:
            problems.append(f"{name}: no title heading (h1) in the article")
        elif not visit.title.startswith(visit.h1):
            problems.append(f"{name}: the h1 {visit.h1!r} does not start the window title {visit.title!r}")
    assert not problems, "\n".join(problems)


def test_no_page_raises_a_console_error(visits):
    errors = [f"{name}: {error}" for name, visit in visits.items() for error in visit.errors]
    assert not errors, "console errors:\n" + "\n".join(errors)


def test_every_figure_of_a_notebook_page_is_a_loaded_image(visits, book_dir):
    broken = [f"{name}: {image['src']}" for name in notebook_pages(book_dir, visits)
              for image in visits[name].images if image["width"] == 0]
    assert not broken, "images that did not load (naturalWidth 0):\n" + "\n".join(broken)


def test_every_experiment_chapter_shows_a_plot(visits, book_dir):
    experiments = [name for name in toc.experiment_chapters(book_dir) if name in visits]
    assert experiments, f"no chapter of the parts {toc.EXPERIMENT_PARTS} in the table of contents"
    without = [name for name in experiments if not any(i["plot"] and i["width"] > 0 for i in visits[name].images)]
    assert not without, f"experiment chapters without a plot (an image in a cell output): {without}"


IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|svg|webp|pdf)\b|^_images/|^[0-9a-f]{16,}", re.I)
"""What a file name looks like: myst-nb names an output image by its SHA-256 and, without alt text, the page uses it."""
MIN_ALT_WORDS = 3


def alt_text_problem(alt: str | None, src: str) -> str | None:
    """Why ``alt`` does not say what the image shows (None when it may): empty, a file name, or a word or two."""
    text = (alt or "").strip()
    if not text:
        return "no alt text"
    if text == src or text == src.rsplit("/", 1)[-1] or IMAGE_FILE.search(text):
        return f"the alt text is a file name ({text!r})"
    if len(text.split()) < MIN_ALT_WORDS:
        return f"the alt text {text!r} is too short to say what the image shows"
    return None


def test_every_image_has_alt_text_that_says_what_it_shows(visits):
    images = [(name, image) for name, visit in visits.items() for image in visit.images]
    problems = [f"{name}: {image['src']}: {problem}" for name, image in images
                if (problem := alt_text_problem(image["alt"], image["src"] or ""))]
    assert not problems, (
        f"{len(problems)} of {len(images)} images lack alt text that says what they show; in the figure cell's metadata "
        'write mystnb: {"image": {"alt": "what the figure shows"}} (see README, "Pages that read well"):\n' + "\n".join(problems)
    )


def test_the_alt_text_rule_can_fail():
    src = "../_images/3f2a9c0b1d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4.png"
    assert alt_text_problem(None, src) == "no alt text" and alt_text_problem("  ", src) == "no alt text"
    assert "file name" in alt_text_problem(src, src)
    assert "file name" in alt_text_problem("3f2a9c0b1d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4.png", src)
    assert "file name" in alt_text_problem("figure.png", "figure.png")
    assert "too short" in alt_text_problem("a plot", src)
    assert alt_text_problem("Accuracy against epoch for the two heads: Flatten near 1, GAP far lower.", src) is None


DROPDOWN = re.compile(r'class="(?=[^"]*\bdropdown\b)(?=[^"]*\badmonition\b)[^"]*"')


def test_a_collapsed_answer_opens_when_clicked(context, base_url, html_dir, toc_docnames):
    pages = [html_dir / f"{name}.html" for name in toc_docnames]
    with_dropdown = [p for p in pages if p.is_file() and DROPDOWN.search(p.read_text(encoding="utf-8"))]
    assert with_dropdown, "no page has a collapsed answer (an {admonition} with :class: dropdown)"
    name = with_dropdown[0].relative_to(html_dir).as_posix()
    tab = Tab(context)
    tab.open(f"{base_url}{name}")
    page = tab.page
    dropdown = page.locator("article.bd-article .admonition.dropdown").first
    body = dropdown.locator(":scope > :not(.admonition-title)").first
    body.wait_for(state="hidden")  # the toggle script collapses it when the page loads
    dropdown.locator(".admonition-title").click()
    body.wait_for(state="visible")
    assert body.text_content().strip(), f"{name}: the opened answer is empty"
    assert not tab.errors, tab.errors
    tab.close()


def test_search_finds_globalaveragepooling2d(context, base_url):
    tab = Tab(context)
    tab.open(f"{base_url}search.html?q=GlobalAveragePooling2D")
    # Sphinx's search fills in its summary ("Search finished, found N page(s) ...") when it is done.
    tab.page.wait_for_function("() => document.querySelector('#search-results .search-summary')?.innerText.trim()")
    hits = tab.page.locator("#search-results ul.search li")
    assert hits.count() >= 1, "the search found nothing for GlobalAveragePooling2D"
    assert not tab.errors, tab.errors
    tab.close()


def test_exercise_pages_launch_and_download_the_exercise_notebook(context, base_url, book_dir, toc_docnames):
    exercises = [n for n in notebook_pages(book_dir, toc_docnames) if n.startswith("exercises/")]
    assert exercises, "no exercise notebook in the table of contents"
    repository = urlsplit(yaml.safe_load((book_dir / "_config.yml").read_text())["repository"]["url"]).path.strip("/")
    problems = []
    tab = Tab(context)
    page = tab.page
    for name in exercises:
        tab.open(f"{base_url}{name}.html")
        launch = page.eval_on_selector_all(".dropdown-launch-buttons a", "links => links.map(a => a.href)")
        download = page.eval_on_selector_all(".btn-download-source-button", "links => links.map(a => a.href)")
        if len(launch) < 2:
            problems.append(f"{name}: expected Colab and Binder launch buttons, found {launch}")
        for url in launch:
            if repository not in url or f"{name}.ipynb" not in url or "solutions" in url:
                problems.append(f"{name}: launch link {url} does not open {repository}'s {name}.ipynb")
        if len(download) != 1 or not download[0].endswith(f"_sources/{name}.ipynb"):
            problems.append(f"{name}: download links {download}, expected one to _sources/{name}.ipynb")
        elif json.loads(page.request.get(download[0]).body()) != json.loads((book_dir / f"{name}.ipynb").read_bytes()):
            problems.append(f"{name}: the downloaded notebook is not {name}.ipynb")
    tab.close()
    assert not problems, "\n".join(problems)


def test_screenshots_of_the_front_page_and_each_part(visits, screenshot_dir, toc_docnames, toc_parts):
    expected = sorted(screenshot_plan(toc_docnames, toc_parts).values())
    written = sorted(p.name for p in screenshot_dir.glob("*.png"))
    assert written == expected, f"screenshots in {screenshot_dir}: {written}, expected {expected}"
    small = [name for name in written if (screenshot_dir / name).stat().st_size < 10_000]
    assert not small, f"screenshots that look empty (under 10 kB): {small}"


def test_no_page_asks_another_host(visits):
    asked = [f"{name}: {url}" for name, visit in visits.items() for url in visit.other_hosts]
    assert not asked, f"{len(asked)} requests to other hosts (each aborted): the book must work offline:\n" + "\n".join(asked)


def test_every_page_with_maths_shows_it_typeset(visits):
    with_maths = {name: visit.math for name, visit in visits.items() if visit.math.get("source")}
    assert len(with_maths) >= 10, f"only {len(with_maths)} pages with maths: is Sphinx's math markup still class='math'?"
    untypeset = [f"{name}: {math['source']} formulas, {math['typeset']} typeset" for name, math in with_maths.items()
                 if math["typeset"] < math["source"]]
    assert not untypeset, "maths left as TeX source (MathJax did not load from _static?):\n" + "\n".join(untypeset)


def test_no_code_cell_runs_past_the_column(visits):
    wide = [f"{name}: {line!r}" for name, visit in visits.items() for line in visit.wide_code]
    assert not wide, "code cells cut off at the column's edge in a 1280-px window:\n" + "\n".join(wide)


def test_only_the_named_theme_errors_are_allowed():
    """The allow-list is narrow: the same messages from anywhere else are errors."""
    local = "http://127.0.0.1:8000/_images/figure.png"
    failed = "Failed to load resource: net::ERR_FAILED"
    assert not is_known_theme_error(failed, "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js")
    assert not is_known_theme_error(failed, "https://example.org/figure.png")
    assert not is_known_theme_error(failed, local)
    assert not is_known_theme_error("Failed to load resource: the server responded with a status of 404", local)
    assert is_known_theme_error("uncaught: Identifier 'THEBE_JS_URL' has already been declared", "")
    assert not is_known_theme_error("uncaught: Identifier 'model' has already been declared", "")
    assert not is_known_theme_error("Got invalid theme mode: . Resetting to auto.", "http://127.0.0.1:8000/intro.html")
