"""A Sphinx extension for the single-page build (``make pdf``): every node an extension renders in HTML renders there too.

Sphinx looks up the handlers of extension nodes by builder name and falls back to the format ("html") only when no
extension registered any handler for that name. sphinx-exercise registers its nodes for ``singlehtml``, so every
other extension's HTML nodes (myst-nb's collapsed code cells among them) have no handler in a ``singlehtml`` build,
which then stops. This copies the missing ``html`` handlers to ``singlehtml`` once all extensions are set up. It
changes nothing in the ordinary ``html`` build.
"""

from __future__ import annotations


def _inherit_html_handlers(app) -> None:
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for name, pair in handlers.get("html", {}).items():
        single.setdefault(name, pair)


def setup(app):
    app.connect("builder-inited", _inherit_html_handlers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
