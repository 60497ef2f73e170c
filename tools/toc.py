"""The table of contents, parsed once: every tool and test that needs the book's pages or parts asks here.

``_toc.yml`` is Jupyter Book 1.x's format (``format: jb-book``: a ``root`` page and ``parts``, each with a
``caption`` and ``chapters``). It is parsed by ``sphinx_external_toc`` (``parse_toc_yaml``), the parser Jupyter
Book itself builds the book with, so the tools read exactly the table of contents the build reads; this module only
keeps the small API the tools and tests use.
"""

from __future__ import annotations

from pathlib import Path

from sphinx_external_toc.parsing import SiteMap, parse_toc_yaml

ROOT = Path(__file__).resolve().parent.parent


def load(root: Path = ROOT) -> SiteMap:
    """The parsed ``_toc.yml`` of the book in ``root`` (``sphinx_external_toc``'s site map)."""
    return parse_toc_yaml(Path(root) / "_toc.yml")


def _files(site_map: SiteMap, docname: str) -> list[str]:
    """The docnames listed under ``docname`` (its subtrees, nested sections included), in reading order."""
    names = []
    for tree in site_map[docname].subtrees:
        for item in tree.items:
            if isinstance(item, str):  # a document (globs and URLs are no files of the book)
                names += [item] + _files(site_map, item)
    return names


def parts(root: Path = ROOT) -> list[tuple[str, list[str]]]:
    """(caption, [docname, ...]) of every part, in reading order; one part with no caption when the toc has none."""
    site_map = load(root)
    result = []
    for tree in site_map[site_map.root.docname].subtrees:
        names = []
        for item in tree.items:
            if isinstance(item, str):
                names += [item] + _files(site_map, item)
        result.append((tree.caption or "", names))
    return result


def docnames(root: Path = ROOT) -> list[str]:
    """Every page in reading order, as Sphinx docnames (``"intro"``, ``"chapters/in_numpy/tensors_and_layout"``)."""
    return [load(root).root.docname] + [name for _, names in parts(root) for name in names]


def notebooks(folder: str, root: Path = ROOT) -> list[Path]:
    """The notebooks of the table of contents under ``folder`` (``"chapters"``, ``"solutions"``), in reading order."""
    paths = [Path(root) / f"{name}.ipynb" for name in docnames(root) if name.split("/")[0] == folder]
    return [path for path in paths if path.exists()]


EXPERIMENT_PARTS = ("Part III", "Part IV", "Part V")
"""Captions of the parts whose chapters are experiments (about 90 s each, 120 s at most, instead of about 60 s)."""


def experiment_chapters(root: Path = ROOT) -> list[str]:
    """Docnames of the chapters of the experiment parts, in reading order."""
    return [name for caption, names in parts(root) if caption.startswith(EXPERIMENT_PARTS) for name in names]


def part_of(docname: str, root: Path = ROOT) -> str:
    """The caption of the part that lists ``docname`` (a ValueError when none does)."""
    for caption, names in parts(root):
        if docname in names:
            return caption
    raise ValueError(f"{docname!r} is in no part of _toc.yml")
