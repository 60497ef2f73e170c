"""The table of contents, parsed once: every tool and test that needs the book's pages or parts asks here.

``_toc.yml`` is Jupyter Book 1.x's format: a ``root`` page and ``parts``, each with a ``caption`` and
``chapters`` (entries with a ``file`` and, possibly, nested ``sections``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _files(entries: list[dict]) -> list[str]:
    """The files of toc entries and of their nested sections, in reading order."""
    names = []
    for entry in entries:
        if "file" in entry:
            names.append(entry["file"])
        names += _files(entry.get("sections", []))
    return names


def load(root: Path = ROOT) -> dict:
    """The parsed ``_toc.yml`` of the book in ``root``."""
    return yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8"))


def parts(root: Path = ROOT) -> list[tuple[str, list[str]]]:
    """(caption, [docname, ...]) of every part, in reading order; one part with no caption when the toc has none."""
    toc = load(root)
    listed = toc.get("parts") or [{"caption": "", "chapters": toc.get("chapters", [])}]
    return [(part.get("caption", ""), _files(part.get("chapters", []))) for part in listed]


def docnames(root: Path = ROOT) -> list[str]:
    """Every page in reading order, as Sphinx docnames (``"intro"``, ``"chapters/in_numpy/tensors_and_layout"``)."""
    return [load(root)["root"]] + [name for _, names in parts(root) for name in names]


def notebooks(folder: str, root: Path = ROOT) -> list[Path]:
    """The notebooks of the table of contents under ``folder`` (``"chapters"``, ``"solutions"``), in reading order."""
    paths = [Path(root) / f"{name}.ipynb" for name in docnames(root) if name.split("/")[0] == folder]
    return [path for path in paths if path.exists()]


EXPERIMENT_PARTS = ("Part III", "Part IV")
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
