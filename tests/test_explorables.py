"""The explorable figures (flatgap.plotting.explorable, flatgap.plotting.explorables) on small made-up arrays.

* every builder rejects bad arguments with a ValueError that says what is wrong;
* the HTML of a figure loads nothing from another host: in the book's ``static`` mode it carries no BokehJS (the
  page loads it from ``_static``), in a notebook's ``inline`` mode it carries the installed bundles;
* in a real browser (Debian's Chromium), a page made of the four figures in ``inline`` mode, opened from
  ``file://`` with every other request aborted and counted, draws each figure; moving each control with the
  keyboard (sliders) or the mouse (selects) changes the readout to the sentence of that state; no request is
  attempted and no console error is raised. That is what a notebook cell (JupyterLab, Colab) shows.

The book's own figures, over the chapters' arrays, are tested in ``tests/test_browser.py`` and
``tests/test_explorable_pages.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from browser_support import file_only_page

from flatgap.experiments import interval
from flatgap.plotting import explorable
from flatgap.plotting.explorables import (
    cam_explorer,
    pooling_grid_explorer,
    training_size_explorer,
    translation_explorer,
)

SHIFTS = list(range(-2, 3))
SIZES = [50, 150, 400]
BODIES = ["narrow", "pooled"]


def _probabilities(rng, *shape):
    p = rng.random(shape)
    return p / p.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def parts():
    """The arguments of the four builders, made up but of the right shapes."""
    rng = np.random.default_rng(0)
    differences = {(b, s): rng.normal(0.02, 0.03, 5) for b in BODIES for s in SIZES}
    intervals = {pair: interval(v) for pair, v in differences.items()}
    accuracy = {f: interval(rng.uniform(0.7, 0.9, 5)) for f in range(4)}
    return {
        "translation": dict(images=rng.random((2, 10, 10, 1)), labels=np.array([3, 5]), shifts=SHIFTS,
                            probabilities={"Flatten": _probabilities(rng, 2, 5, 5, 10),
                                           "GAP": _probabilities(rng, 2, 5, 5, 10)}),
        "size": dict(sizes=SIZES, bodies=BODIES, panels={"test accuracy, Flatten minus GAP": (differences, intervals)}),
        "cam": dict(images=rng.random((3, 12, 12, 1)), labels=np.array([1, 2, 3]),
                    boxes=np.array([[2, 2, 10, 10]] * 3), cams=rng.normal(size=(3, 10, 6, 6)),
                    probabilities=_probabilities(rng, 3, 10)),
        "pooling": dict(image=rng.random((12, 12, 1)), grids=[1, 2, 6],
                        received={k: rng.random((k, k)) for k in (1, 2, 6)}, params={1: 330, 2: 1290, 6: 11530},
                        accuracy={"task 1": {1: accuracy[0], 2: accuracy[1], 6: accuracy[2]},
                                  "task 2": {1: accuracy[3]}}),
    }


BUILDERS = {"translation": translation_explorer, "size": training_size_explorer, "cam": cam_explorer,
            "pooling": pooling_grid_explorer}


@pytest.fixture(scope="module")
def figures(parts):
    return {name: BUILDERS[name](**parts[name]) for name in BUILDERS}


# --- bad arguments ----------------------------------------------------------------------------------------


def _with(parts, name, **changes):
    return {**parts[name], **changes}


@pytest.mark.parametrize(("name", "changes", "message"), [
    ("translation", {"images": np.zeros((2, 10, 10))}, "shape (N, H, W, 1)"),
    ("translation", {"labels": np.array([3])}, "2 integer classes"),
    ("translation", {"shifts": [0, 2, 4, 6, 8]}, "consecutive integers that include 0"),
    ("translation", {"shifts": [1, 2, 3, 4, 5]}, "consecutive integers that include 0"),
    ("translation", {"probabilities": {}}, "at least one head"),
    ("translation", {"probabilities": {"GAP": np.full((2, 5, 5, 10), 0.5)}}, "summing to 1"),
    ("translation", {"probabilities": {"GAP": np.full((2, 4, 5, 10), 0.1)}}, "must have shape (2, 5, 5, K)"),
    ("size", {"sizes": [150, 50, 400]}, "distinct and increasing"),
    ("size", {"sizes": [50, 150, 400, 800]}, "no differences or interval for ('narrow', 800)"),
    ("size", {"panels": {}}, "at least one body and one panel"),
    ("cam", {"boxes": np.zeros((3, 3))}, "boxes must have shape (3, 4)"),
    ("cam", {"cams": np.zeros((3, 10, 5, 5))}, "h dividing 12"),
    ("cam", {"probabilities": np.full((3, 9), 0.1)}, "probabilities must have shape (3, 10)"),
    ("pooling", {"grids": [2, 1, 6]}, "increasing"),
    ("pooling", {"received": {1: np.zeros((1, 1)), 2: np.zeros((3, 3)), 6: np.zeros((6, 6))}},
     "received[2] must have shape (2, 2)"),
    ("pooling", {"params": {1: 330, 2: 1290}}, "no count for k = 6"),
])
def test_bad_arguments_get_a_clear_value_error(parts, name, changes, message):
    with pytest.raises(ValueError, match=None) as caught:
        BUILDERS[name](**_with(parts, name, **changes))
    assert message in str(caught.value)


def test_js_mode_and_ids_reject_bad_values(monkeypatch):
    monkeypatch.setenv(explorable.JS_MODE_VARIABLE, "cdn")
    with pytest.raises(ValueError, match="FLATGAP_EXPLORABLE_JS must be one of"):
        explorable.js_mode()
    monkeypatch.setenv(explorable.JS_MODE_VARIABLE, " Static ")
    assert explorable.js_mode() == "static"
    monkeypatch.delenv(explorable.JS_MODE_VARIABLE)
    assert explorable.js_mode() == "inline"
    with pytest.raises(ValueError, match="non-empty title"):
        explorable.element_id("  ")
    assert explorable.element_id("a title") == explorable.element_id("a title") != explorable.element_id("another")


# --- the HTML --------------------------------------------------------------------------------------------


def test_static_html_leaves_bokehjs_to_the_page_and_inline_html_carries_it(figures):
    figure = figures["size"]
    static, inline = figure.to_html("static"), figure.to_html("inline")
    assert 'class="flatgap-explorable"' in static and figure.readout in static
    bundle_tag = '<script type="text/plain" data-flatgap-bokehjs='
    assert bundle_tag not in static and len(static) < 100_000
    bundles = [path.read_text(encoding="utf-8") for _, path in explorable.bokeh_bundles()]
    assert inline.count(bundle_tag) == len(bundles) and len(inline) > sum(map(len, bundles))
    for html in (static, inline):
        assert ' src="http' not in html and " href=\"http" not in html  # nothing loaded from another host
    with pytest.raises(ValueError, match="mode must be one of"):
        figure.to_html("cdn")


def test_the_first_readout_is_the_first_state(figures, parts):
    assert figures["translation"].readout == figures["translation"].data["readout"](0, 0, 0)
    assert figures["size"].readout == figures["size"].data["readouts"][0]
    predicted = int(parts["cam"]["probabilities"][0].argmax())
    assert figures["cam"].readout == figures["cam"].data["readouts"][0][predicted]
    assert figures["pooling"].readout == figures["pooling"].data["readouts"][0]
    assert "task 2: no model with this grid" in figures["pooling"].data["readouts"][1]


def test_the_translation_readout_names_each_heads_most_probable_class(figures, parts):
    p = parts["translation"]["probabilities"]
    text = figures["translation"].data["readout"](1, 2, -1)  # digit 1, dx = +2, dy = -1
    assert text.startswith("Digit 1 (label 5) shifted by dx = +2, dy = -1 px: ")
    for name, values in p.items():
        row = values[1, SHIFTS.index(-1), SHIFTS.index(2)]
        assert f"{name} predicts {row.argmax()} (p = {np.rint(row.max() * 1000) / 1000:.3f})" in text


# --- in a browser, as a notebook shows it ------------------------------------------------------------------


@pytest.fixture(scope="module")
def notebook_page(figures, tmp_path_factory):
    """The four figures as one notebook would show them (inline mode), saved as a file."""
    path = tmp_path_factory.mktemp("explorables") / "figures.html"
    body = "\n<hr>\n".join(figures[name].to_html("inline") for name in BUILDERS)
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>figures</title></head>"
                    f"<body style='width: 760px'>{body}</body></html>", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def file_tab(browser, notebook_page):
    """The page in a tab that may read ``file://`` only: every other request is aborted and counted."""
    page, other = file_only_page(browser)
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(notebook_page.as_uri(), wait_until="load")
    wait_until_drawn(page, len(BUILDERS))
    yield page, other, errors
    page.close()


def wait_until_drawn(page, count: int) -> None:
    """Wait until ``count`` explorable figures are drawn (Bokeh draws into shadow roots: Playwright's locators
    look inside them, ``document.querySelectorAll`` does not)."""
    page.wait_for_function(f"window.Bokeh && window.Bokeh.documents.length >= {count}")
    figures = page.locator("figure.flatgap-explorable")
    assert figures.count() == count
    for index in range(count):
        figures.nth(index).locator("canvas").first.wait_for()


def _readout(page, index: int) -> str:
    return page.locator("figure.flatgap-explorable").nth(index).locator(".flatgap-explorable-readout").text_content()


def _press(page, figure_index: int, handle_index: int, key: str, times: int) -> None:
    handle = page.locator("figure.flatgap-explorable").nth(figure_index).locator(".noUi-handle").nth(handle_index)
    handle.focus()
    for _ in range(times):
        page.keyboard.press(key)


def test_in_a_notebook_each_control_moves_its_figure_to_the_right_state(file_tab, figures, parts):
    page, other, errors = file_tab
    # translation: dx slider right twice, dy slider left once
    assert _readout(page, 0) == figures["translation"].readout
    _press(page, 0, 0, "ArrowRight", 2)
    _press(page, 0, 1, "ArrowLeft", 1)
    assert _readout(page, 0) == figures["translation"].data["readout"](0, 2, -1)
    page.locator("figure.flatgap-explorable").nth(0).locator("select").select_option(index=1)
    assert _readout(page, 0) == figures["translation"].data["readout"](1, 2, -1)
    # training-set size: the slider's last stop
    _press(page, 1, 0, "End", 1)
    assert _readout(page, 1) == figures["size"].data["readouts"][-1]
    # class activation maps: canvas 2 shows its predicted class first, then class 4 on request
    cam = page.locator("figure.flatgap-explorable").nth(2).locator("select")
    cam.nth(0).select_option(index=2)
    predicted = int(parts["cam"]["probabilities"][2].argmax())
    assert _readout(page, 2) == figures["cam"].data["readouts"][2][predicted]
    cam.nth(1).select_option(index=4)
    assert _readout(page, 2) == figures["cam"].data["readouts"][2][4]
    # pooling grid: one step right
    _press(page, 3, 0, "ArrowRight", 1)
    assert _readout(page, 3) == figures["pooling"].data["readouts"][1]
    assert other == [], f"requests to other hosts: {other}"
    assert errors == [], f"console errors: {errors}"


# How JupyterLab shows a trusted text/html output (@jupyterlab/rendermime, renderHTML): the HTML goes into the output's
# node with innerHTML, every <script> is replaced by a fresh copy (attributes and text) so that it can run, and the
# node is attached to the page, possibly later.
JUPYTERLAB_RENDER = """html => new Promise(done => {
    const host = document.createElement('div');
    host.innerHTML = html;
    for (const old of Array.from(host.getElementsByTagName('script'))) {
        const fresh = document.createElement('script');
        for (const attribute of Array.from(old.attributes)) fresh.setAttribute(attribute.name, attribute.value);
        fresh.textContent = old.textContent;
        old.parentNode.replaceChild(fresh, old);
    }
    setTimeout(() => { document.body.appendChild(host); done(); }, 200);
})"""


def test_a_jupyterlab_output_shows_and_moves_the_same_figure(browser, figures):
    page, other = file_only_page(browser)
    try:
        page.set_content("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body></body></html>")
        page.evaluate(JUPYTERLAB_RENDER, figures["size"].to_html("inline"))
        wait_until_drawn(page, 1)
        _press(page, 0, 0, "ArrowRight", 2)
        assert _readout(page, 0) == figures["size"].data["readouts"][2]
    finally:
        page.close()
    assert other == [], f"requests to other hosts: {other}"
