"""The answer first: the front page's verdicts and decision guide, copied from the verdict chapter.

The verdict chapter (``chapters/verdict/verdict.ipynb``) is the one place where the book's answers are written: its
claims audit (a table with a *Verdict* and an *Evidence* column) and the short table that opens its decision guide.
The front page (``intro.md``) opens with both, between two marker lines, so that a reader who asks "Flatten or GAP?"
gets the answer on the first page. This tool writes that block from the chapter, so the two cannot drift apart:

    python tools/front_page.py --write   # regenerate the block in intro.md (make front-page)
    python tools/front_page.py --check   # exit 1 and show a diff when intro.md differs (the tests do this)

Links are rewritten from the chapter's relative MyST links (``[](../experiments/cost.ipynb)``) to the front page's
``{doc}`` roles (``{doc}`chapters/experiments/cost```).
"""

from __future__ import annotations

import argparse
import difflib
import json
import posixpath
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERDICT = Path("chapters/verdict/verdict.ipynb")
FRONT = Path("intro.md")
BEGIN = "<!-- begin: the short answer, written by tools/front_page.py from the verdict chapter; edit that chapter, then run make front-page -->"
END = "<!-- end: the short answer -->"
LINK = re.compile(r"\[\]\(((?:\.\./)?[\w/]+)\.(?:ipynb|md)\)")


class FrontPageError(ValueError):
    """The verdict chapter or the front page is not shaped as this tool expects (the message says how)."""


def _markdown_cells(path: Path) -> list[str]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"]


def _first_table(text: str, after: str, where: str) -> list[list[str]]:
    """The rows (cells stripped; header first, the rule left out) of the first Markdown table after ``after``."""
    start = text.find(after)
    if start < 0:
        raise FrontPageError(f"{where}: no line {after!r} found")
    rows, seen = [], False
    for line in text[start:].splitlines():
        if line.startswith("|"):
            seen = True
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            if not all(set(cell) <= set("-: ") for cell in cells):
                rows.append(cells)
        elif seen:
            break
    if len(rows) < 2:
        raise FrontPageError(f"{where}: no table with a header and rows after {after!r}")
    return rows


def _column(header: list[str], name: str, where: str) -> int:
    if name not in header:
        raise FrontPageError(f"{where}: the table has no column {name!r} (its columns: {header})")
    return header.index(name)


def _links(text: str, chapter_dir: str) -> str:
    """The chapter's relative links as ``{doc}`` roles; text that is not a link is left out."""
    roles = ["{doc}`" + posixpath.normpath(posixpath.join(chapter_dir, target)) + "`" for target in LINK.findall(text)]
    return ", ".join(roles)


def block(root: Path = ROOT) -> str:
    """The front page's block (marker lines included), from the verdict chapter in ``root``."""
    path = root / VERDICT
    cells = _markdown_cells(path)
    chapter_dir = str(VERDICT.parent)
    audit_cell = next((c for c in cells if "## The claims audit" in c), None)
    guide_cell = next((c for c in cells if "## A decision guide" in c), None)
    if audit_cell is None or guide_cell is None:
        raise FrontPageError(f"{VERDICT}: needs a '## The claims audit' section and a '## A decision guide' section")
    audit = _first_table(audit_cell, "## The claims audit", str(VERDICT))
    header = audit[0]
    number, claim, verdict, evidence = (_column(header, name, str(VERDICT)) for name in ("#", "Claim", "Verdict", "Evidence"))
    lines = [
        BEGIN,
        "## The short answer",
        "",
        "Each claim with its verdict in a few words and the chapters whose computed evidence settles it. The closing",
        "chapter, {doc}`" + str(VERDICT.with_suffix("")) + "`, gives each verdict's condition, regime and scale, and what",
        "is known at CIFAR or ImageNet scale.",
        "",
        "| # | The claim | Verdict | Settled in |",
        "| --- | --- | --- | --- |",
    ]
    for row in audit[1:]:
        if len(row) != len(header):
            raise FrontPageError(f"{VERDICT}: an audit row has {len(row)} cells, the header {len(header)}: {row[:2]}")
        links = _links(row[evidence], chapter_dir)
        if not links:
            raise FrontPageError(f"{VERDICT}: claim {row[number]} links no chapter in its Evidence column")
        lines.append(f"| {row[number]} | {row[claim]} | {row[verdict]} | {links} |")
    guide = _first_table(guide_cell, "## A decision guide", str(VERDICT))
    lines += [
        "",
        "**Which head, in short** (the decision guide of {doc}`" + str(VERDICT.with_suffix("")) + "`, step by step there):",
        "",
        "| " + " | ".join(guide[0]) + " |",
        "| " + " | ".join("---" for _ in guide[0]) + " |",
    ]
    for row in guide[1:]:
        cells = row[:-1] + [_links(row[-1], chapter_dir) or row[-1]]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(END)
    return "\n".join(lines)


def front_page(root: Path = ROOT) -> tuple[str, str]:
    """(the front page as it is, the front page with its block regenerated)."""
    path = root / FRONT
    text = path.read_text(encoding="utf-8")
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise FrontPageError(f"{FRONT}: needs exactly one pair of marker lines, {BEGIN!r} then {END!r}")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return text, head + block(root) + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the block in intro.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when intro.md differs from the verdict chapter")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        current, wanted = front_page(args.root)
    except FrontPageError as error:
        print(f"front page: {error}")
        return 1
    if args.write:
        if current != wanted:
            (args.root / FRONT).write_text(wanted, encoding="utf-8")
            print(f"{FRONT}: the short answer rewritten from {VERDICT}")
        return 0
    if current != wanted:
        diff = difflib.unified_diff(current.splitlines(), wanted.splitlines(), str(FRONT), f"{FRONT} from {VERDICT}", lineterm="")
        print(f"{FRONT} differs from the verdict chapter (run `make front-page`):")
        print("\n".join(diff))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
