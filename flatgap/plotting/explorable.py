"""How an explorable figure reaches a reader: a Bokeh layout embedded offline, in a book page or a notebook cell.

An :class:`Explorable` is what a notebook cell returns: a Bokeh layout (plots and widgets whose JavaScript
callbacks pick among states the notebook computed), a title, a text description of what the figure shows, and a
live readout that states in words what the figure shows now. Its HTML (``_repr_html_``) is a ``<figure
class="flatgap-explorable">`` holding the description, the plot's target, the readout (``aria-live``) and the
layout as JSON, plus a few lines that embed it with BokehJS. No request leaves the page:

* in the **book**, the build sets ``FLATGAP_EXPLORABLE_JS=static``: the page loads BokehJS once from its own
  ``_static`` (``tools/sphinx_offline_assets.py`` copies the installed bundles there and adds them to the pages that
  hold an explorable figure), so each figure adds only its JSON;
* in a **notebook** (JupyterLab, Colab, a page saved to disk), the default ``inline`` mode puts the installed
  BokehJS bundles inside the output, loaded once per document.

Readers without JavaScript, and the PDF, keep the static Matplotlib figure that each explorable figure sits
beside (``_static/print.css`` leaves the explorable figure out of print).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from pathlib import Path

BUNDLES = ("bokeh", "bokeh-widgets")
JS_MODE_VARIABLE = "FLATGAP_EXPLORABLE_JS"
JS_MODES = ("inline", "static")


def bokeh_bundles() -> list[tuple[str, Path]]:
    """(version, file) of the BokehJS bundles the explorable figures need, as installed with the ``bokeh`` package."""
    import bokeh
    from bokeh.util.paths import bokehjs_path

    folder = bokehjs_path() / "js"
    return [(bokeh.__version__, folder / f"{name}.min.js") for name in BUNDLES]


def js_mode() -> str:
    """``"static"`` (the page loads BokehJS from ``_static``) or ``"inline"`` (the output carries it): the value of
    ``FLATGAP_EXPLORABLE_JS``, ``inline`` when unset.

    Raises:
        ValueError: for any other value.
    """
    mode = os.environ.get(JS_MODE_VARIABLE, "").strip().lower() or "inline"
    if mode not in JS_MODES:
        raise ValueError(f"{JS_MODE_VARIABLE} must be one of {JS_MODES}, got {os.environ[JS_MODE_VARIABLE]!r}")
    return mode


def element_id(title: str) -> str:
    """A stable HTML id for a figure (the same on every build): ``fx-`` and 10 hex digits of the title's hash."""
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"an explorable figure needs a non-empty title, got {title!r}")
    return "fx-" + hashlib.sha1(title.encode()).hexdigest()[:10]


def _json_in_script(text: str) -> str:
    """JSON that is safe inside a ``<script>`` element: ``</`` (which could close it) written ``<\\/``."""
    return text.replace("</", "<\\/")


def _code_in_script(text: str) -> str:
    """JavaScript source that is safe inside a ``<script>`` element.

    Only ``</script`` and ``<!--`` can end or confuse the element, and BokehJS holds neither; a blind ``</`` to
    ``<\\/`` would break its regular expressions (``/</g``), so only those two are escaped, should they appear.
    """
    text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)
    return text.replace("<!--", "<\\!--")


# Runs where the figure is: waits for BokehJS (already there in the book; loaded from the output in a notebook),
# then draws the layout into its target. If BokehJS never arrives, the target says so in words.
_EMBED = """<script>
(function () {{
  var id = "{id}", inline = {inline};
  function load() {{
    if (window.Bokeh && window.Bokeh.embed) return;
    var parts = document.querySelectorAll('script[data-flatgap-bokehjs="' + id + '"]');
    for (var i = 0; i < parts.length; i++) {{
      var s = document.createElement("script");
      s.text = parts[i].textContent;
      document.head.appendChild(s);
    }}
  }}
  function draw() {{
    var target = document.getElementById(id + "-plot");
    if (!(window.Bokeh && window.Bokeh.embed)) {{
      target.textContent = "The interactive figure needs BokehJS, which did not load; the static figure shows the same results.";
      return;
    }}
    var item = JSON.parse(document.getElementById(id + "-item").textContent);
    window.Bokeh.embed.embed_item(item, id + "-plot");
  }}
  if (inline) load();
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
}})();
</script>"""


class Explorable:
    """An interactive figure over arrays a notebook computed: shown by a notebook cell and by the book's page.

    Args:
        figure_id: the figure's HTML id (:func:`element_id`); the layout's callbacks write the readout into the
            element ``figure_id + "-readout"``.
        layout: the Bokeh layout (plots and widgets with their ``CustomJS`` callbacks).
        title: one line, shown above the figure.
        description: what the figure shows and how to operate it, in words (for every reader, screen readers too).
        readout: the sentence the readout shows in the initial state.
        data: the arrays (and strings) the figure embeds, by name: what the book's tests compare with the
            notebook's own outputs.
    """

    def __init__(self, figure_id: str, layout, title: str, description: str, readout: str, data: dict) -> None:
        for name, value in (("title", title), ("description", description), ("readout", readout)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"an explorable figure needs a non-empty {name}, got {value!r}")
        self.figure_id = figure_id
        self.layout = layout
        self.title = title
        self.description = description
        self.readout = readout
        self.data = dict(data)

    @property
    def readout_id(self) -> str:
        return f"{self.figure_id}-readout"

    def __repr__(self) -> str:
        return f"<explorable figure: {self.title}>"

    def to_html(self, mode: str | None = None) -> str:
        """The figure's HTML. ``mode``: ``"static"`` or ``"inline"`` (default: :func:`js_mode`)."""
        from bokeh.embed import json_item

        mode = js_mode() if mode is None else mode
        if mode not in JS_MODES:
            raise ValueError(f"mode must be one of {JS_MODES}, got {mode!r}")
        fid = self.figure_id
        item = json.dumps(json_item(self.layout, f"{fid}-plot"), separators=(",", ":"))
        parts = [
            f'<figure class="flatgap-explorable" id="{fid}" aria-labelledby="{fid}-title" '
            f'aria-describedby="{fid}-description">',
            f'<figcaption id="{fid}-title"><strong>Explore: {html.escape(self.title)}</strong></figcaption>',
            f'<p class="flatgap-explorable-description" id="{fid}-description">{html.escape(self.description)}</p>',
            f'<div class="flatgap-explorable-plot" id="{fid}-plot"></div>',
            f'<p class="flatgap-explorable-readout" id="{self.readout_id}" aria-live="polite">'
            f"{html.escape(self.readout)}</p>",
            "<noscript><p>This figure needs JavaScript; the static figure above shows the same results.</p></noscript>",
            "</figure>",
            f'<script type="application/json" id="{fid}-item">{_json_in_script(item)}</script>',
        ]
        if mode == "inline":
            for _, path in bokeh_bundles():
                parts.append(f'<script type="text/plain" data-flatgap-bokehjs="{fid}">'
                             f"{_code_in_script(path.read_text(encoding='utf-8'))}</script>")
        parts.append(_EMBED.format(id=fid, inline="true" if mode == "inline" else "false"))
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()
