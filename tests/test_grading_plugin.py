"""A new exercise plugs in with a solution notebook and a checker module, and no change to the grader.

The recipe of ``exercises/README.md``, followed on a copy of the package: add ``flatgap/grading/ex9.py`` and
``solutions/ex9_demo.ipynb``, run the generator, grade. The grader's own modules are the repository's, unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from flatgap.book.notebooks import write_notebook
from flatgap.grading import GRADED_TAG
from flatgap.grading.manifest import score_cell_source

ROOT = Path(__file__).resolve().parent.parent

CHECKERS = '''"""Checkers of exercise 9, a demo of the plug-in recipe: GeM pooling forward."""

from __future__ import annotations

from flatgap.grading.harness import Check, case_rng

__all__ = ["check_gem_forward"]


def check_gem_forward(gem_forward) -> None:
    """``gem_forward(x, p) -> (N, C)``: the generalized mean (mean of x**p over H and W) ** (1/p)."""
    __tracebackhide__ = True
    check = Check(gem_forward, "gem_forward")
    cases = [((2, 4, 4, 3), 3.0, case_rng(900), lambda text: text)]
    cases += [((1, int(check.fresh.integers(1, 9)), 5, 2), float(check.fresh.uniform(1, 6)), check.fresh, check.random)]
    for shape, p, rng, name in cases:
        x = rng.random(shape) + 0.1
        text = name(f"gem_forward(x, {p:.3g}) with x of shape {shape}")
        got = check.call(text, x, p)
        check.array(text, got, ((x**p).mean(axis=(1, 2))) ** (1 / p), "out", value_hints=[(x.mean(axis=(1, 2)), "raise x to the power p before averaging")])
    check.passed()
'''


def demo_solution():
    code, markdown = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    cells = [
        markdown("# Solutions: Exercise 9 — GeM pooling\n\nWhen you are done you will be able to:\n\n- pool with a generalized mean;\n- grade it.\n\n`make grade EX=ex9_demo`, [solutions](../solutions/ex9_demo.ipynb)."),
        code("import numpy as np\n\nfrom flatgap.grading.ex9 import check_gem_forward"),
        markdown("## Question 1 — GeM, forward (2 points)\n\nThe mean of x**p over H and W, to the power 1/p."),
        code('def gem_forward(x, p):\n    """(N, H, W, C) -> (N, C)."""\n    ### BEGIN SOLUTION [ex9-q1] Average x**p over axes 1 and 2, then take the p-th root.\n    return (x**p).mean(axis=(1, 2)) ** (1 / p)\n    ### END SOLUTION'),
        code("# graded: ex9-q1 (2 points)\ncheck_gem_forward(gem_forward)", metadata={"tags": [GRADED_TAG]}),
        markdown("## Your score"),
        code(score_cell_source("ex9_demo")),
    ]
    return nbformat.v4.new_notebook(cells=cells)


@pytest.mark.notebooks
def test_a_fourth_exercise_plugs_in_with_a_notebook_and_a_checker_module(tmp_path):
    package = tmp_path / "package"
    shutil.copytree(ROOT / "flatgap", package / "flatgap", ignore=shutil.ignore_patterns("__pycache__"))
    (package / "flatgap" / "grading" / "ex9.py").write_text(CHECKERS)
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    write_notebook(demo_solution(), course / "solutions" / "ex9_demo.ipynb")
    env = dict(os.environ, PYTHONPATH=str(package), COLUMNS="110")

    def run(*args):
        return subprocess.run([sys.executable, *args], cwd=course, capture_output=True, text=True, timeout=300, env=env)

    generated = run("-m", "flatgap.grading.generate", "--solutions", "solutions", "--exercises", "exercises")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    manifest = (package / "flatgap" / "grading" / "manifest_data.py").read_text()
    assert "'checker': 'check_gem_forward'" in manifest and "'module': 'flatgap.grading.ex9'" in manifest
    exercise = nbformat.read(course / "exercises" / "ex9_demo.ipynb", as_version=4)
    assert any('raise NotImplementedError("ex9-q1: Average x**p' in cell.source for cell in exercise.cells)

    graded = run("-m", "flatgap.grading.cli", "solutions/ex9_demo.ipynb", "exercises/ex9_demo.ipynb", "--json", "grade.json")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    report = json.loads((course / "grade.json").read_text())
    assert [(n["score"], n["total"]) for n in report["notebooks"]] == [(2, 2), (0, 2)], graded.stdout
    assert report["notebooks"][1]["questions"][0]["status"] == "not attempted"
