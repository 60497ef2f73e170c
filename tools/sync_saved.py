"""Keep the package and the chapters identical, d2l-style.

A chapter cell whose first line is ``#@save <module>`` (for example ``#@save reference.layers``) is package
code: the chapter shows it and runs it, and ``flatgap/<module>.py`` is generated from all such cells,
in table-of-contents order. So the function a chapter teaches *is* the function later chapters import.

    python tools/sync_saved.py --write   # regenerate the modules (make sync)
    python tools/sync_saved.py --check   # exit 1 and show a diff when a module differs (tests do this)
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

import toc

ROOT = Path(__file__).resolve().parent.parent
MARK = re.compile(r"^#@save\s+([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\s*$")
HEADER = '''"""{title}

GENERATED FILE — do not edit. Each block below is a ``#@save {module}`` cell of the chapter named above
it; edit the chapter, then run ``make sync`` (``python tools/sync_saved.py --write``).
"""
'''


def toc_notebooks() -> list[Path]:
    """Chapter notebooks in table-of-contents order."""
    return toc.notebooks("chapters", ROOT)


def saved_cells() -> dict[str, list[tuple[str, str]]]:
    """Map each module name to [(chapter path, cell body without the marker line), ...]."""
    modules: dict[str, list[tuple[str, str]]] = {}
    for path in toc_notebooks():
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            first, _, body = source.partition("\n")
            match = MARK.match(first)
            if match:
                modules.setdefault(match.group(1), []).append((str(path.relative_to(ROOT)), body.strip("\n")))
    return modules


def render(module: str, blocks: list[tuple[str, str]]) -> str:
    title = {
        "reference.layers": "NumPy layers of Part I: Conv2D, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Dense, softmax.",
    }.get(module, f"flatgap.{module}: code shown in the chapters.")
    parts = [HEADER.format(title=title, module=module)]
    current = None
    for chapter, body in blocks:
        if chapter != current:
            parts.append(f"# ---- from {chapter} " + "-" * max(0, 100 - len(chapter)))
            current = chapter
        parts.append(body + "\n")
    return "\n\n".join(parts).rstrip("\n") + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args()
    status = 0
    for module, blocks in saved_cells().items():
        target = ROOT / "flatgap" / f"{module.replace('.', '/')}.py"
        text = render(module, blocks)
        current = target.read_text() if target.exists() else ""
        if text == current:
            continue
        if args.write:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)}")
        else:
            status = 1
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(target.relative_to(ROOT)), "from the chapters", lineterm="")
            print(f"{target.relative_to(ROOT)} differs from the chapters' #@save cells (run `make sync`):")
            print("\n".join(list(diff)[:60]))
    return status


if __name__ == "__main__":
    sys.exit(main())
