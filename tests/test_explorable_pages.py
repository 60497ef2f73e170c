"""The book's four explorable figures, in the built pages, against what their notebooks printed.

Each figure displays only arrays its notebook computed and asserted; the cell that draws it also prints those values
(a table of states). These tests read the executed notebook (``_build/jupyter_execute``) and the built page:

* **embedded = printed**: the page holds the very figure the notebook output (the same JSON), loads BokehJS once
  from its own ``_static``, and the values embedded in it (probabilities, intervals, maps, accuracies) equal the
  values the notebook printed: the CAM of canvas 0 and its class, each head's probabilities at each printed shift,
  the intervals at each training-set size, the accuracies and parameter counts at each grid size;
* **in a browser** (Debian's Chromium; every request to another host aborted and counted): each page is opened,
  each control moved with the keyboard (sliders) or the mouse (selects), and the readout must then state the
  values the notebook printed for that state; no request may leave 127.0.0.1. Screenshots of each figure before
  and after the move go to ``_build/screenshots/explorables/``;
* **from ``file://``**: the same pages opened from disk, every request that is not ``file://`` aborted and counted,
  draw their figure, move it, and typeset their maths (MathJax from ``_static``, its fonts included).
"""

from __future__ import annotations

import json
import re

import pytest
from browser_support import Tab, file_only_page
from test_explorables import wait_until_drawn

pytestmark = [pytest.mark.browser, pytest.mark.book]


PAGES = {
    "translation": "chapters/experiments/shift_one_digit",
    "size": "chapters/experiments/training_set_size",
    "cam": "chapters/experiments/class_activation_maps",
    "pooling": "chapters/beyond_two_heads/pooling_family",
}
ITEM = re.compile(r'<script type="application/json" id="(fx-[0-9a-f]{10})-item">(.*?)</script>', re.S)


# --- reading the executed notebook and the page -------------------------------------------------------------


def _decode(value):
    """Bokeh's serialized values as plain Python: maps as dicts, special numbers as floats."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if value.get("type") == "map":
            return {_decode(k): _decode(v) for k, v in value.get("entries", [])}
        if value.get("type") == "number":
            return float(value["value"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def callback_args(item: dict) -> dict:
    """Every ``CustomJS`` argument of an embedded Bokeh document that is data (not a model), merged by name."""
    found = {}

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") == "CustomJS":
                args = _decode(node["attributes"]["args"])
                found.update({k: v for k, v in args.items() if not (isinstance(v, dict) and "id" in v)})
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(item)
    return found


class Figure:
    """One chapter's explorable figure: the notebook's printed text in that cell, and the embedded data."""

    def __init__(self, html_dir, docname: str) -> None:
        from jupyter_cache import get_cache

        book = html_dir.parent.parent
        try:
            cache = get_cache(html_dir.parent / ".jupyter_cache")
            record = cache.match_cache_file(str(book / f"{docname}.ipynb"))
        except KeyError:
            pytest.fail(f"{docname} has no cached execution: run `make book` first", pytrace=False)
        notebook = cache.get_cache_bundle(record.pk).nb
        cells = [c for c in notebook.cells if c.cell_type == "code"
                 and any("flatgap-explorable" in o.get("data", {}).get("text/html", "") for o in c.get("outputs", []))]
        assert len(cells) == 1, f"{docname}: {len(cells)} cells output an explorable figure, expected 1"
        self.notebook = notebook
        outputs = cells[0].outputs
        self.printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        html = "".join(o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {}))
        self.page = (html_dir / f"{docname}.html").read_text(encoding="utf-8")
        (self.id, notebook_json), = ITEM.findall(html)
        page_items = dict(ITEM.findall(self.page))
        assert page_items == {self.id: notebook_json}, f"{docname}: the page's figure is not the notebook's"
        self.args = callback_args(json.loads(notebook_json))

    def printed_elsewhere(self) -> str:
        return "".join(o.get("text", "") for c in self.notebook.cells if c.cell_type == "code"
                       for o in c.get("outputs", []) if o.output_type == "stream")


@pytest.fixture(scope="module")
def figures(html_dir):
    return {name: Figure(html_dir, docname) for name, docname in PAGES.items()}


# --- what each notebook printed ------------------------------------------------------------------------------

TRANSLATION_ROW = re.compile(r"^\((\d+), ([+-]\d+), ([+-]\d+)\)\s+(.+?)\s+(\d)\s+(\d\.\d{3})\s*$", re.M)
SIZE_ROW = re.compile(r"^\s*(\w+) n=(\d+)\s+test accuracy, Flatten minus GAP (.+?)\s+gap, Flatten minus GAP (.+?)\s*$", re.M)
CAM_ROW = re.compile(r"^\s*(\d+)\s+(\d)\s+(\d)\s+(\d\.\d{3})\s+\(([\d.]+), ([\d.]+)\)\s*$", re.M)
POOLING_ROW = re.compile(r"^\s*(\d+)\s+([\d,]+)\s+(.*?)\s*$", re.M)
INTERVAL = re.compile(r"\d\.\d{3} \[-?\d\.\d{3}, \d\.\d{3}\]|—")


def translation_rows(figure) -> dict:
    """(digit, dx, dy) -> {head: (predicted class, probability)} as printed."""
    rows = {}
    for d, dx, dy, head, k, p in TRANSLATION_ROW.findall(figure.printed):
        rows.setdefault((int(d), int(dx), int(dy)), {})[head] = (int(k), float(p))
    assert len(rows) >= 3, f"the translation cell printed {len(rows)} states"
    return rows


def size_rows(figure) -> dict:
    """(body, size) -> (test accuracy interval text, gap interval text), as the paired-differences cell printed."""
    rows = {(body, int(n)): (t, g) for body, n, t, g in SIZE_ROW.findall(figure.printed_elsewhere())}
    bodies = {body for body, _ in rows}
    assert bodies and len(rows) == 3 * len(bodies), f"expected 3 sizes of printed intervals per body, found {sorted(rows)}"
    return rows


def pooling_rows(figure) -> dict:
    """k -> (Dense parameters, [interval text or '—' per regime])."""
    rows = {}
    for k, params, rest in POOLING_ROW.findall(figure.printed):
        cells = INTERVAL.findall(rest)
        if len(cells) == 3:
            rows[int(k)] = (params, cells)
    assert sorted(rows) == [1, 2, 3, 6], f"printed grid rows: {sorted(rows)}"
    return rows


# --- embedded = printed ---------------------------------------------------------------------------------------


def test_each_page_loads_bokehjs_once_from_its_own_static(figures):
    for name, figure in figures.items():
        scripts = re.findall(r'<script[^>]+src="([^"]*bokeh[^"]*)"', figure.page)
        assert len(scripts) == 2 and all("_static/bokeh/" in s and "://" not in s for s in scripts), (name, scripts)


def test_translation_probabilities_embedded_are_the_printed_ones(figures):
    figure = figures["translation"]
    a = figure.args
    names, size, classes, first = a["names"], a["S"], a["K"], a["first"]
    assert names == ["Flatten", "Flatten + shifts", "GAP", "GAP + blur"]
    for (d, dx, dy), heads in translation_rows(figure).items():
        base = ((d * size + dy - first) * size + dx - first) * classes
        for h, name in enumerate(names):
            row = a["probs"][h][base : base + classes]
            k, p = heads[name]
            assert row.index(max(row)) == k and abs(max(row) / 1000 - p) <= 0.0011, ((d, dx, dy), name, row, heads[name])


def test_training_size_intervals_embedded_are_the_printed_ones(figures):
    figure = figures["size"]
    readouts = figure.args["readouts"]
    for (body, n), (test, gap) in size_rows(figure).items():
        index = [50, 150, 400].index(n)
        expected = f"{body} body: test accuracy, Flatten minus GAP {test}; train − test gap, Flatten minus GAP {gap}."
        assert expected in readouts[index], (expected, readouts[index])


def test_cams_embedded_are_the_printed_ones(figures):
    figure = figures["cam"]
    cams, predicted = figure.args["cams"], figure.args["predicted"]
    rows = CAM_ROW.findall(figure.printed)
    assert len(rows) == len(predicted) == 8
    for canvas, _, k, _, row, col in rows:
        i, k = int(canvas), int(k)
        assert predicted[i] == k
        values = cams[i][k]
        r, c = divmod(values.index(max(values)), 6)
        assert (r * 4 + 1.5, c * 4 + 1.5) == (float(row), float(col)), (i, r, c, row, col)
    grid_text = figure.printed.split("(rows of the 6×6 map):", 1)[1].split()
    printed_map = [float(v) for v in grid_text[:36]]
    embedded = cams[0][predicted[0]]
    assert all(abs(p - e) <= 0.0051 for p, e in zip(printed_map, embedded, strict=True)), (printed_map, embedded)


def test_pooling_accuracies_embedded_are_the_printed_ones(figures):
    figure = figures["pooling"]
    readouts = figure.args["readouts"]
    for index, (k, (params, cells)) in enumerate(sorted(pooling_rows(figure).items())):
        assert readouts[index].startswith(f"k = {k}: ") and f"Dense parameters {params}." in readouts[index]
        for regime_cell in cells:
            expected = "no model with this grid" if regime_cell == "—" else regime_cell
            assert expected in readouts[index], (k, expected, readouts[index])


# --- in the browser -------------------------------------------------------------------------------------------


def _figure(page):
    return page.locator("figure.flatgap-explorable").first


def _readout(page) -> str:
    return _figure(page).locator(".flatgap-explorable-readout").text_content()


def _press(page, handle: int, key: str, times: int) -> None:
    _figure(page).locator(".noUi-handle").nth(handle).focus()
    for _ in range(times):
        page.keyboard.press(key)


@pytest.fixture(scope="module")
def shots(html_dir):
    folder = html_dir.parent / "screenshots" / "explorables"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture
def opened(context, base_url, shots):
    """Open a chapter, wait for its figure, screenshot it before and after the test moves it; no other host asked."""
    tabs = []

    def open_(name: str):
        tab = Tab(context)
        tabs.append((name, tab, len(context.other_hosts)))
        tab.open(f"{base_url}{PAGES[name]}.html")
        wait_until_drawn(tab.page, 1)
        plot = _figure(tab.page).locator(".flatgap-explorable-plot")
        width, room = plot.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert width <= room + 1, f"{name}: the figure is {width} px wide, the column {room} px: it runs past the edge"
        _figure(tab.page).scroll_into_view_if_needed()
        _figure(tab.page).screenshot(path=str(shots / f"{name}_before.png"))
        return tab.page

    yield open_
    for name, tab, attempted in tabs:
        _figure(tab.page).screenshot(path=str(shots / f"{name}_after.png"))
        asked, errors = context.other_hosts[attempted:], tab.errors
        tab.close()
        assert not asked, f"{name}: requests to other hosts: {asked}"
        assert not errors, f"{name}: console errors: {errors}"
        assert (shots / f"{name}_after.png").stat().st_size > 5_000


PREDICTION = re.compile(r"(Flatten \+ shifts|Flatten|GAP \+ blur|GAP) predicts (\d) \(p = (\d\.\d{3})\)")


def test_translation_figure_moves_to_the_printed_probabilities(opened, figures):
    rows = translation_rows(figures["translation"])
    page = opened("translation")
    _press(page, 0, "ArrowRight", 4)  # dx from 0 to +4
    text = _readout(page)
    assert text.startswith("Digit 0 (label ") and "shifted by dx = +4, dy = +0 px" in text, text
    shown = {name: (int(k), float(p)) for name, k, p in PREDICTION.findall(text)}
    for name, (k, p) in rows[0, 4, 0].items():
        assert shown[name][0] == k and abs(shown[name][1] - p) <= 0.0011, (name, shown[name], (k, p))


def test_training_size_figure_moves_to_the_printed_intervals(opened, figures):
    rows = size_rows(figures["size"])
    page = opened("size")
    _press(page, 0, "ArrowRight", 1)  # 50 -> 150 images
    text = _readout(page)
    assert text.startswith("n = 150 training images."), text
    for body in sorted({body for body, _ in rows}):
        test, gap = rows[body, 150]
        assert f"{body} body: test accuracy, Flatten minus GAP {test}; train − test gap, Flatten minus GAP {gap}." in text


def test_cam_figure_moves_to_the_printed_prediction_and_class(opened, figures):
    rows = {int(i): (int(k), p) for i, _, k, p, _, _ in CAM_ROW.findall(figures["cam"].printed)}
    page = opened("cam")
    selects = _figure(page).locator("select")
    selects.nth(0).select_option(index=3)
    k, p = rows[3]
    assert "Image 3 (label " in _readout(page) and f"the model predicts {k} with probability {p}." in _readout(page)
    assert f"Map of class {k}:" in _readout(page)
    other = (k + 1) % 10
    selects.nth(1).select_option(index=other)
    assert f"Map of class {other}:" in _readout(page) and f"the model predicts {k} with probability {p}." in _readout(page)


def test_pooling_figure_moves_to_the_printed_grid(opened, figures):
    rows = pooling_rows(figures["pooling"])
    page = opened("pooling")
    handle = _figure(page).locator(".noUi-handle").first
    # in the keyboard's tab order, announced as a slider
    assert handle.get_attribute("tabindex") == "0" and handle.get_attribute("role") == "slider"
    _press(page, 0, "ArrowRight", 2)  # k = 1 -> 3
    text = _readout(page)
    params, cells = rows[3]
    assert text.startswith("k = 3: ") and f"Dense parameters {params}." in text, text
    assert all(("no model with this grid" if cell == "—" else cell) in text for cell in cells), (cells, text)


def test_the_pages_work_opened_from_disk(browser, html_dir):
    page, other = file_only_page(browser)
    maths = {}
    try:
        for name, docname in PAGES.items():
            page.goto((html_dir / f"{docname}.html").as_uri(), wait_until="load")
            wait_until_drawn(page, 1)
            before = _readout(page)
            if name == "cam":
                _figure(page).locator("select").nth(1).select_option(index=0 if "Map of class 0:" not in before else 1)
            else:
                _press(page, 0, "End", 1)
            assert _readout(page) != before, f"{name}: the readout did not move when opened from disk"
            maths[name] = page.evaluate(MATH_FROM_DISK)
    finally:
        page.close()
    assert not other, f"requests to other hosts from file:// pages: {other}"
    with_maths = {name: m for name, m in maths.items() if m["formulas"]}
    assert with_maths, "none of the four pages has maths any more: test MathJax from disk on another page"
    for name, m in with_maths.items():
        assert m["typeset"] >= m["formulas"], f"{name}: {m['formulas']} formulas, {m['typeset']} typeset from disk"
        assert m["fonts"] and "error" not in m["fonts"], f"{name}: MathJax's fonts from disk: {m['fonts']}"


# Maths on a page opened from disk: formulas, those MathJax drew, and the state of MathJax's own web fonts.
MATH_FROM_DISK = """async () => {
    const formulas = document.querySelectorAll('article .math').length;
    if (formulas && window.MathJax && MathJax.startup) await MathJax.startup.promise;
    await document.fonts.ready;
    return {formulas: formulas, typeset: document.querySelectorAll('article mjx-container').length,
            fonts: Array.from(document.fonts).filter(f => f.family.replace(/["']/g, '').startsWith('MJX'))
                       .map(f => f.status)};
}"""
