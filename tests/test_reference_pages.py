"""The reference pages: every link of the questions page (and of the three reference notebooks) resolves.

A link resolves when it names a page of the table of contents (``[](../experiments/variable_input_size.ipynb)``,
``{doc}`../verdict/verdict```), a label that some page of the book defines (``{ref}`ref-sequences-mask``` for a
``(ref-sequences-mask)=`` target), or a key of ``references.bib`` (``{cite}`zhang2019shift```). These checks read
the sources, so they need no built book; ``tests/test_html.py`` checks the built pages' links and anchors as well.
The ``test_checker_*`` tests prove on small hand-written pages that each check can fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

import pytest
import toc

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "chapters" / "reference" / "questions.md"
REFERENCE_NOTEBOOKS = ["reference/real_networks", "reference/from_pytorch", "reference/sequences"]

MARKDOWN_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
ROLE = re.compile(r"\{(doc|ref|cite|numref)\}`([^`]*)`")
LABEL = re.compile(r"^\((?P<label>[A-Za-z0-9_.:-]+)\)=\s*$", re.M)
BIB_KEY = re.compile(r"^@\w+\{([^,\s]+),", re.M)


def page_text(path: Path) -> str:
    """The Markdown of a page: the file itself, or the Markdown cells of a notebook."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


def book_pages(root: Path = ROOT) -> dict[str, Path]:
    """docname -> source file of every page of the table of contents."""
    pages = {}
    for name in toc.docnames(root):
        for suffix in (".md", ".ipynb"):
            if (root / f"{name}{suffix}").exists():
                pages[name] = root / f"{name}{suffix}"
    return pages


def labels(pages: dict[str, Path]) -> dict[str, str]:
    """label -> docname of every ``(label)=`` target in the book."""
    found = {}
    for name, path in pages.items():
        for match in LABEL.finditer(page_text(path)):
            found[match.group("label")] = name
    return found


def bib_keys(root: Path = ROOT) -> set[str]:
    return set(BIB_KEY.findall((root / "references.bib").read_text(encoding="utf-8")))


def _docname(page: str, target: str) -> str:
    """The docname a link from ``page`` (a docname) to ``target`` (a relative path, maybe with a suffix) names."""
    path = PurePosixPath(target[1:]) if target.startswith("/") else PurePosixPath(page).parent / target
    parts = []
    for part in path.with_suffix("").parts if path.suffix in (".md", ".ipynb") else path.parts:
        if part == "..":
            parts = parts[:-1]
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def broken_links(page: str, text: str, pages: dict[str, Path], known_labels: dict[str, str], keys: set[str]) -> list[str]:
    """Every link, reference and citation of ``text`` (the page ``page``) that resolves to nothing."""
    problems = []
    for target in MARKDOWN_LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto: are outside the book
            continue
        path, _, anchor = target.partition("#")
        name = _docname(page, path) if path else page
        if name not in pages:
            problems.append(f"[]({target}): no page {name!r} in _toc.yml")
        elif anchor and known_labels.get(anchor) != name:
            problems.append(f"[]({target}): no label {anchor!r} in {name}")
    for role, content in ROLE.findall(text):
        target = content.rsplit("<", 1)[1].rstrip(">").strip() if content.endswith(">") else content.strip()
        if role == "doc" and _docname(page, target) not in pages:
            problems.append(f"{{doc}}`{content}`: no page {_docname(page, target)!r} in _toc.yml")
        elif role in ("ref", "numref") and target not in known_labels:
            problems.append(f"{{{role}}}`{content}`: no label {target!r} in the book")
        elif role == "cite":
            problems += [f"{{cite}}`{content}`: no key {key!r} in references.bib"
                         for key in (k.strip() for k in target.split(",")) if key not in keys]
    return problems


def sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of every level-2 section of a Markdown page."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return list(zip(parts[1::2], parts[2::2], strict=True))


@pytest.fixture(scope="module")
def book():
    pages = book_pages()
    return pages, labels(pages), bib_keys()


@pytest.mark.parametrize("name", ["chapters/reference/questions"] + [f"chapters/{n}" for n in REFERENCE_NOTEBOOKS])
def test_every_link_of_the_reference_pages_resolves(book, name):
    pages, known_labels, keys = book
    assert name in pages, f"{name} is not in _toc.yml"
    problems = broken_links(name, page_text(pages[name]), pages, known_labels, keys)
    assert not problems, f"{name}: links that resolve to nothing:\n" + "\n".join(problems)


def test_every_question_links_to_the_evidence(book):
    pages, known_labels, _ = book
    text = page_text(QUESTIONS)
    questions = sections(text)
    assert len(questions) >= 15, f"expected the 15 questions of the issue, found {len(questions)}"
    unlinked = [heading for heading, body in questions if not (MARKDOWN_LINK.search(body) or re.search(r"\{(doc|ref)\}", body))]
    assert not unlinked, f"questions without a link to the page that settles them: {unlinked}"
    # each question has its own label, so that other pages can link to it
    assert len(LABEL.findall(text)) == len(questions)


def test_the_reference_pages_are_in_the_reference_part():
    reference = dict(toc.parts())["Reference"]
    ours = [f"chapters/{n}" for n in REFERENCE_NOTEBOOKS] + ["chapters/reference/questions"]
    assert reference[: len(ours)] == ours and reference.index("bibliography") == len(ours)


# --- the checkers can fail ---------------------------------------------------------------------------------


def test_checker_reports_missing_pages_labels_and_keys():
    pages = {"chapters/a": Path("a.md"), "chapters/b": Path("b.ipynb"), "intro": Path("intro.md")}
    known = {"sec-b": "chapters/b"}
    keys = {"zhang2019shift"}
    good = "[](b.ipynb) [](b.ipynb#sec-b) {doc}`b` {doc}`the intro </intro>` {ref}`sec-b` {cite}`zhang2019shift` [x](https://e.org)"
    assert broken_links("chapters/a", good, pages, known, keys) == []
    bad = "[](c.ipynb) [](a.md#sec-b) {doc}`c` {ref}`sec-c` {ref}`text <sec-d>` {cite}`zhang2019shift,nobody2020`"
    problems = broken_links("chapters/a", bad, pages, known, keys)
    assert len(problems) == 6, problems
    assert any("'chapters/c'" in p for p in problems) and any("no label 'sec-b' in chapters/a" in p for p in problems)
    assert any("'nobody2020'" in p for p in problems) and any("'sec-d'" in p for p in problems)


def test_checker_finds_a_question_without_a_link():
    text = "# Q\n\n(q-a)=\n## A?\n\nSee [](x.ipynb).\n\n(q-b)=\n## B?\n\nNo link here.\n"
    found = sections(text)
    assert [h for h, body in found if not MARKDOWN_LINK.search(body)] == ["B?"]
