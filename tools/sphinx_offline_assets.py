"""A Sphinx extension that makes every page work offline: MathJax and BokehJS served from the book's own ``_static``.

No built page may load anything from another host (a reader offline, ``file://``, ``make pdf`` without a network).
Two scripts used to come from a CDN or would have:

* **MathJax 3** (Sphinx's math extension adds it to every page with maths). Its files come from the pinned PyPI
  package ``django-static-mathjax`` (MathJax 3.2.2's own ``es5`` build, no dependencies; only its static files are
  used). ``mathjax_path`` points at ``_static/mathjax/tex-mml-chtml.js``; the fonts, the TeX extensions that
  MathJax loads on demand (``autoload``), the menu and the accessibility components are copied beside it.
* **BokehJS** (the explorable figures, :mod:`flatgap.plotting.explorable`). The files ship inside the ``bokeh``
  package; they are copied to ``_static/bokeh/`` with the version in their names and added, once, to the pages
  whose body holds an explorable figure (``class="flatgap-explorable"``), nowhere else.

The copy happens when the build finishes (html and singlehtml builders), so it costs a warm rebuild well under a
second when nothing changed (files already equal are skipped).
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

MATHJAX_ENTRY = "tex-mml-chtml.js"
# Beside the combined file: what it loads at run time (fonts for CHTML output, TeX packages through autoload,
# the context menu, the accessibility extensions and the speech-rule engine they use).
MATHJAX_FOLDERS = ("output/chtml/fonts/woff-v2", "input/tex/extensions", "input/mml/extensions", "ui", "a11y", "sre",
                   "adaptors")
EXPLORABLE_MARKER = 'class="flatgap-explorable"'


def mathjax_source() -> Path:
    """The ``es5`` folder of the installed MathJax 3 files."""
    try:
        import mathjax
    except ImportError as error:  # pragma: no cover - a broken environment
        raise RuntimeError("MathJax's files are missing: `pip install -r requirements.txt` installs "
                           "django-static-mathjax (MathJax 3.2.2), which the book serves from its own _static") from error
    folder = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (folder / MATHJAX_ENTRY).is_file():
        raise RuntimeError(f"MathJax's {MATHJAX_ENTRY} is not in {folder}: reinstall django-static-mathjax")
    return folder


def bokeh_files() -> dict[str, Path]:
    """``_static``-relative name -> installed BokehJS file, for the two bundles the explorable figures use."""
    from flatgap.plotting.explorable import bokeh_bundles

    return {f"bokeh/{path.name.replace('.min.js', '')}-{version}.min.js": path for version, path in bokeh_bundles()}


def _copy_file(source: Path, target: Path) -> None:
    if target.is_file() and filecmp.cmp(source, target, shallow=False):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _copy_tree(source: Path, target: Path) -> None:
    for path in source.rglob("*"):
        if path.is_file():
            _copy_file(path, target / path.relative_to(source))


def copy_assets(static: Path) -> None:
    """Copy MathJax's and BokehJS's files into a build's ``_static`` folder."""
    es5 = mathjax_source()
    _copy_file(es5 / MATHJAX_ENTRY, static / "mathjax" / MATHJAX_ENTRY)
    for folder in MATHJAX_FOLDERS:
        if (es5 / folder).is_dir():
            _copy_tree(es5 / folder, static / "mathjax" / folder)
    for name, path in bokeh_files().items():
        _copy_file(path, static / name)


def _set_mathjax_path(app, config) -> None:
    config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"  # relative: Sphinx serves it from the page's _static


def _add_bokeh_where_needed(app, pagename, templatename, context, doctree) -> None:
    if EXPLORABLE_MARKER in (context.get("body") or ""):
        for name in bokeh_files():
            app.add_js_file(name)  # in html-page-context: this page only


def _copy_when_finished(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        copy_assets(Path(app.outdir) / "_static")


def setup(app):
    app.connect("config-inited", _set_mathjax_path)
    app.connect("html-page-context", _add_bokeh_where_needed)
    app.connect("build-finished", _copy_when_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
