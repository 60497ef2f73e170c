"""The front page opens with the answer: its verdicts and short decision guide are the verdict chapter's (tools/front_page.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import front_page  # noqa: E402


def run_check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "front_page.py"), "--check", "--root", str(root)],
                          capture_output=True, text=True, timeout=60)


def copy_project(tmp_path: Path) -> Path:
    (tmp_path / "chapters" / "verdict").mkdir(parents=True)
    shutil.copy(ROOT / front_page.VERDICT, tmp_path / front_page.VERDICT)
    shutil.copy(ROOT / front_page.FRONT, tmp_path / front_page.FRONT)
    return tmp_path


def test_front_page_equals_the_verdict_chapter():
    result = run_check(ROOT)
    assert result.returncode == 0, f"intro.md differs from the verdict chapter; run `make front-page`:\n{result.stdout}"


def test_front_page_opens_with_every_claim_and_the_guide():
    text = (ROOT / "intro.md").read_text()
    answer = text[text.index(front_page.BEGIN): text.index(front_page.END)]
    assert text.index(front_page.BEGIN) < text.index("## How the book is organised"), "the answer comes before the tour"
    rows = [line for line in answer.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split(" | ")[0] for row in rows] == [f"| {n}" for n in range(1, 10)]
    assert all("**" in row.split(" | ")[2] and "{doc}`chapters/" in row.split(" | ")[3] for row in rows)
    assert "| If … | then | measured in |" in answer
    for role in answer.split("{doc}`")[1:]:
        target = role.split("`")[0]
        assert (ROOT / f"{target}.ipynb").exists() or (ROOT / f"{target}.md").exists(), target


def test_an_edited_verdict_is_caught(tmp_path):
    root = copy_project(tmp_path)
    assert run_check(root).returncode == 0
    path = root / front_page.VERDICT
    notebook = json.loads(path.read_text())
    cell = next(c for c in notebook["cells"] if "## The claims audit" in "".join(c["source"]))
    cell["source"] = "".join(cell["source"]).replace("| **Only approximately** |", "| **True** |")
    path.write_text(json.dumps(notebook))
    result = run_check(root)
    assert result.returncode == 1 and "+| 9 | GAP makes a network translation invariant. | **True** |" in result.stdout


def test_an_edited_front_page_is_caught(tmp_path):
    root = copy_project(tmp_path)
    page = root / front_page.FRONT
    page.write_text(page.read_text().replace("**Only approximately**", "**Yes**"))
    result = run_check(root)
    assert result.returncode == 1 and "-| 9 |" in result.stdout


def test_missing_markers_and_sections_get_a_clear_message(tmp_path):
    root = copy_project(tmp_path)
    page = root / front_page.FRONT
    page.write_text(page.read_text().replace(front_page.END, ""))
    result = run_check(root)
    assert result.returncode == 1 and "needs exactly one pair of marker lines" in result.stdout
    shutil.copy(ROOT / front_page.FRONT, page)
    path = root / front_page.VERDICT
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        cell["source"] = "".join(cell["source"]).replace("## A decision guide", "## Guide")
    path.write_text(json.dumps(notebook))
    result = run_check(root)
    assert result.returncode == 1 and "'## A decision guide' section" in result.stdout


def test_links_resolve_relative_to_the_chapter():
    text = "see [](../experiments/cost.ipynb) and [](../beyond_two_heads/blurpool.ipynb); the cell above"
    assert front_page._links(text, "chapters/verdict") == "{doc}`chapters/experiments/cost`, {doc}`chapters/beyond_two_heads/blurpool`"
