"""Figures: one style for the book's static figures, and explorable figures a reader can move.

* :mod:`flatgap.plotting.static` — the Matplotlib style, head colours and helpers that draw images, feature maps
  and paired differences (every page's static figures; the PDF prints these).
* :mod:`flatgap.plotting.explorable` — how an explorable figure reaches a page or a notebook: a Bokeh layout with
  its data and its JavaScript callbacks, embedded offline (BokehJS from the book's ``_static``, or inline in a
  notebook).
* :mod:`flatgap.plotting.explorables` — the book's explorable figures, each over arrays its chapter computes and
  asserts.
"""

from flatgap.plotting.static import HEAD_COLORS, STYLE, plot_paired, show_feature_maps, show_images, use_style

__all__ = ["HEAD_COLORS", "STYLE", "plot_paired", "show_feature_maps", "show_images", "use_style"]
