"""Unit tests of the grading machinery, in process (no kernels): notebook conventions, generator, grader core, table."""

from __future__ import annotations

import re

import nbformat
import pytest

from flatgap.grading import GRADED_TAG
from flatgap.grading.cli import format_grade
from flatgap.grading.generate import (
    exercise_from_solution,
    expect_stub_errors,
    replace_regions,
    stub_lines,
    trivial_variant,
)
from flatgap.grading.notebooks import NotebookFormatError, graded_cells, regions, validate
from flatgap.grading.runner import NotebookGrade, Outcome, outcomes, restore_graded_cells
from flatgap.nbfiles import notebook_text


def solution_notebook(extra_cells=()):
    code = nbformat.v4.new_code_cell
    cells = [
        nbformat.v4.new_markdown_cell("# Solutions: Exercise 9 — test"),
        code("import numpy as np"),
        code(
            "@staticmethod\ndef f(x, *rest, scale=2, **options):\n    \"\"\"Doc.\"\"\"\n    y = x\n"
            "    ### BEGIN SOLUTION [ex9-q1] Scale it.\n    out = y * scale\n    return out\n    ### END SOLUTION\n\n\n"
            "def g(a):\n    if a:\n        ### BEGIN SOLUTION [ex9-q2] Negate it.\n        return -a\n        ### END SOLUTION\n    return 0"
        ),
        code("# graded: ex9-q1 (2 points)\nassert f.__func__(3) == 6", metadata={"tags": [GRADED_TAG]}),
        code("# graded: ex9-q2 (1 point)\nassert g(1) == -1", metadata={"tags": [GRADED_TAG]}),
        *extra_cells,
    ]
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index}"
    return nbformat.v4.new_notebook(cells=cells)


def test_regions_and_graded_cells_are_parsed():
    notebook = solution_notebook()
    graded, found = validate(notebook, "test", exercise="ex9")
    assert [(g.question, g.points) for g in graded] == [("ex9-q1", 2), ("ex9-q2", 1)]
    first, second = found
    assert (first.function, first.function_start, first.hint, first.indent) == ("f", 0, "Scale it.", "    ")
    assert first.params == (("positional", "x"), ("varargs", "rest"), ("keyword", "scale"), ("varkw", "options"))
    assert (second.function, second.indent, second.stub_message) == ("g", "        ", "ex9-q2: Negate it.")


def test_the_exercise_gets_stubs_keeps_the_rest_and_drops_solution_only_cells():
    extra = [nbformat.v4.new_code_cell("print(f(1))", metadata={"tags": ["solution-only"]})]
    exercise = exercise_from_solution(solution_notebook(extra))
    assert exercise.cells[0].source == "# Exercise 9 — test"
    assert len(exercise.cells) == 5
    source = exercise.cells[2].source
    assert '    y = x\n    # YOUR CODE HERE\n    raise NotImplementedError("ex9-q1: Scale it.")\n\n\ndef g(a):' in source
    assert '        # YOUR CODE HERE\n        raise NotImplementedError("ex9-q2: Negate it.")\n    return 0' in source
    compile(source, "exercise", "exec")
    assert notebook_text(exercise) == notebook_text(exercise_from_solution(solution_notebook(extra)))
    assert [cell["id"] for cell in exercise.cells] == [f"cell-{i}" for i in range(5)], "exercise cells keep the solution's ids"

    expected = expect_stub_errors(exercise)
    graded = expected.cells[3]
    assert "raises-exception" in graded.metadata.tags and graded.execution_count == 1
    assert (graded.outputs[0].ename, graded.outputs[0].evalue) == ("NotImplementedError", "ex9-q1: Scale it.")
    assert expected.cells[2].execution_count is None


def test_trivial_variants_run():
    for kind, expected_f, expected_g in [("none", None, None), ("identity", 3, 1), ("zeros", 0, 0)]:
        source = trivial_variant(solution_notebook(), kind).cells[2].source
        namespace: dict = {}
        exec(compile(source, kind, "exec"), namespace)
        assert namespace["f"].__func__(3) == expected_f, (kind, source)
        assert namespace["g"](1) == expected_g
    assert "def _flatgap_solution_f(" in trivial_variant(solution_notebook(), "zeros").cells[2].source
    patched = replace_regions(solution_notebook(), lambda region: ["return 42"], questions={"ex9-q2"})
    assert "return 42" in patched.cells[2].source and "BEGIN SOLUTION [ex9-q1]" in patched.cells[2].source
    assert stub_lines(regions(solution_notebook())[0])[0] == "# YOUR CODE HERE"


G_REGION = "def g(a):\n    ### BEGIN SOLUTION [ex9-q2] h\n    return a\n    ### END SOLUTION\n\n\n"


@pytest.mark.parametrize(
    "source, problem",
    [
        ("x = 1\n### BEGIN SOLUTION [ex9-q1] hint\ny = 2\n### END SOLUTION", "inside the body of a top-level function"),
        ("def f():\n    ### BEGIN SOLUTION [ex9-q1] hint\n    return 1", "never closed"),
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", "write '### BEGIN SOLUTION [exN-qM] <hint"),
        ("def f():\n    ### BEGIN SOLUTION [ex9-q1] hint\n    # nothing\n    ### END SOLUTION\n    return 1", "holds no code"),
        ("def f():\n    ### BEGIN SOLUTION [ex9-q1] hint\n    return 1\n  ### END SOLUTION", "the same indentation"),
        (
            "def f():\n    ### BEGIN SOLUTION [ex9-q1] hint\n    return 1\n    ### END SOLUTION\n\n\n"
            "def h():\n    ### BEGIN SOLUTION [ex9-q7] hint\n    return 1\n    ### END SOLUTION",
            "without a graded cell: ['ex9-q7']",
        ),
    ],
)
def test_malformed_regions_are_rejected_with_a_clear_message(source, problem):
    notebook = solution_notebook()
    notebook.cells[2].source = G_REGION + source
    with pytest.raises(NotebookFormatError, match=re.escape(problem)):
        validate(notebook, "test")


def test_a_graded_cell_needs_its_tag_and_header():
    notebook = solution_notebook()
    notebook.cells[3].metadata = {}
    with pytest.raises(NotebookFormatError, match="lacks the 'graded' tag"):
        graded_cells(notebook)
    notebook = solution_notebook()
    notebook.cells[3].source = "# graded ex9-q1\nassert True"
    with pytest.raises(NotebookFormatError, match="must start with '# graded: exN-qM"):
        graded_cells(notebook)


def executed(errors: dict[int, tuple[str, str]]):
    """The test solution notebook as if executed, with error outputs in the given cells."""
    notebook = solution_notebook()
    for index, (ename, evalue) in errors.items():
        notebook.cells[index].outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[])]
    return notebook


def test_outcomes_of_an_executed_notebook_and_the_table():
    results, notes = outcomes(executed({3: ("NotImplementedError", "ex9-q1: Scale it."), 4: ("AssertionError", "g(1): expected -1, got 1")}))
    assert [(o.question, o.status, o.earned, o.cell) for o in results] == [("ex9-q1", "not attempted", 0, 3), ("ex9-q2", "failed", 0, 4)]
    assert notes == []
    results, notes = outcomes(executed({2: ("SyntaxError", "invalid syntax"), 4: ("NameError", "name 'g' is not defined")}))
    assert [(o.status, o.message) for o in results] == [("passed", ""), ("failed", "NameError: name 'g' is not defined")]
    assert notes and notes[0].startswith("code cell 2 (not graded) raised SyntaxError: invalid syntax")
    table = format_grade(NotebookGrade("ex9.ipynb", results, notes, 1.0), width=100)
    assert "  ex9-q1    2 / 2   passed" in table and "score: 2 / 3 points" in table
    assert "not attempted" not in table
    grade = NotebookGrade("x", [Outcome("ex9-q1", 2, "not attempted", "NotImplementedError", "NotImplementedError: ex9-q1: hint", 3)])
    assert "failed  not attempted: NotImplementedError: ex9-q1: hint" in format_grade(grade)


def test_edited_and_missing_graded_cells_are_restored_or_reported():
    student = solution_notebook()
    student.cells[3].source = "# graded: ex9-q1 (2 points)\npass  # no more check"
    del student.cells[4]
    restored, missing = restore_graded_cells(student, solution_notebook())
    assert restored.cells[3].source == solution_notebook().cells[3].source
    assert missing == ["ex9-q2"]
    results, _ = outcomes(restored, canonical=solution_notebook())
    assert [(o.question, o.status) for o in results] == [("ex9-q1", "passed"), ("ex9-q2", "missing")]
