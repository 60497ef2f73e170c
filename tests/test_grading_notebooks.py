"""Unit tests of the grading machinery, in process (no kernels): notebook conventions, generator, manifest,
the one pass that matches a student's notebook to the manifest, and the table."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest

from flatgap.book.notebooks import notebook_text
from flatgap.grading import GRADED_TAG
from flatgap.grading.generate import (
    exercise_from_solution,
    expect_stub_errors,
    replace_regions,
    stub_lines,
    trivial_variant,
)
from flatgap.grading.manifest import find, load, score_cell_source
from flatgap.grading.notebooks import NotebookFormatError, graded_call, graded_cells, read_notebook, regions, validate
from flatgap.grading.report import NotebookGrade, Outcome, format_grade
from flatgap.grading.runner import _blame, _calls_exit, _Death, _how_it_stopped
from flatgap.grading.submission import CodeCell, read_submission

ROOT = Path(__file__).resolve().parent.parent


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


def test_a_graded_cell_is_one_checker_call():
    assert graded_call("# graded: ex2-q5 (2 points)\ncheck_model_cam(model_cam, model, split.x_test[:16], 'conv3')") == (
        "check_model_cam",
        ("model_cam", "model", "split.x_test[:16]", "'conv3'"),
    )
    for body in ["x = 1", "check(f)\ncheck(g)", "check(f, seed=1)", "check(*args)", "check()"]:
        with pytest.raises(NotebookFormatError):
            graded_call(f"# graded: ex9-q1 (1 point)\n{body}")


def test_the_manifest_holds_every_question_with_its_checker_and_points():
    exercises = load()
    assert [e.name for e in exercises][:3] == ["ex1_numpy_layers", "ex2_keras", "ex3_experiments"]
    ex1 = find("ex1")
    assert ex1 is find("ex1_numpy_layers") or ex1 == find("ex1_numpy_layers")
    assert ex1.total == 14 and ex1.module == "flatgap.grading.ex1"
    q3 = ex1.question("ex1-q3")
    assert (q3.points, q3.function, q3.checker, q3.arguments, q3.title) == (1, "gap_forward", "check_gap_forward", ("gap_forward",), "GlobalAveragePooling2D, forward")
    assert ex1.score_source == score_cell_source("ex1_numpy_layers")
    with pytest.raises(KeyError, match="ex1_numpy_layers"):
        find("ex9")


def student(name="ex1_numpy_layers"):
    return read_notebook(ROOT / "solutions" / f"{name}.ipynb")


def code_cell(notebook, question):
    return next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(f"# graded: {question} "))


def test_the_solution_matches_the_manifest_without_notes():
    submission = read_submission(student(), "solutions/ex1_numpy_layers.ipynb")
    assert submission.exercise.name == "ex1_numpy_layers" and submission.notes == []
    roles = [c.role for c in submission.cells]
    assert roles.count("graded") == 9 and roles.count("score") == 1 and roles[-1] == "score"
    assert all(c.role == "code" for c in submission.to_run())


def test_lost_tags_duplicates_and_claims_are_repaired_or_ignored_with_a_note():
    notebook = student()
    code_cell(notebook, "ex1-q1").metadata = {}  # an editor dropped the tag
    duplicate = copy.deepcopy(code_cell(notebook, "ex1-q2"))
    duplicate["id"] = "duplicate"
    notebook.cells.insert(notebook.cells.index(code_cell(notebook, "ex1-q2")) + 1, duplicate)
    q4 = code_cell(notebook, "ex1-q4")
    q4.source = q4.source.split("\n", 1)[1]  # the header is gone, the call is still there
    notebook.cells.remove(code_cell(notebook, "ex1-q5"))
    code_cell(notebook, "ex1-q6").source = "# graded: ex1-q6 (3 points)\npass"
    code_cell(notebook, "ex1-q7").source = code_cell(notebook, "ex1-q7").source.replace("(2 points)", "(20 points)")
    q8 = code_cell(notebook, "ex1-q8")
    definition = next(c for c in notebook.cells if c.source.startswith("def conv2d_param_count"))
    q8.source = definition.source + "\n\n\n" + q8.source.replace("# graded: ex1-q8 (1 point)\n", "")
    q8.source = "# graded: ex1-q8 (1 point)\n" + q8.source  # two cells merged under the graded header
    notebook.cells.remove(definition)
    notebook.cells.append(nbformat.v4.new_code_cell("# graded: ex1-q10 (50 points)\nprint('full marks')", metadata={"tags": [GRADED_TAG]}))
    notebook.cells.append(nbformat.v4.new_code_cell("print('tagged')", metadata={"tags": [GRADED_TAG]}))
    submission = read_submission(notebook, "Copy of ex1_numpy_layers (2).ipynb")
    notes = "\n".join(submission.notes)
    assert submission.exercise.name == "ex1_numpy_layers"
    assert "(the graded cell of ex1-q1) lost its 'graded' tag; the grader restored it" in notes
    assert "repeats the graded cell of ex1-q2" in notes and "the copy is ignored" in notes
    assert "is the graded cell of ex1-q4 without its header" in notes
    assert "the graded cell of ex1-q5 is missing from the notebook; the grader checked gmp_backward anyway" in notes
    assert "differs from the course's; the grader runs the course's check of conv2d_forward instead" in notes
    assert "claims 20 points for ex1-q7; the course gives it 2" in notes
    assert "(the graded cell of ex1-q8) differs from the course's; the grader runs the course's check of conv2d_param_count instead; it also holds other code, which the grader runs" in notes
    assert "claims to be graded question ex1-q10 (50 points), which is not a question of ex1_numpy_layers: it earns nothing" in notes
    assert "is tagged 'graded' but is not one of the course's graded cells: it earns nothing" in notes
    assert sorted(c.question for c in submission.cells if c.role == "graded") == [f"ex1-q{i}" for i in (1, 2, 3, 4, 6, 7, 8, 9)]
    ran = [c.source for c in submission.to_run()]
    assert "# graded: ex1-q10 (50 points)\nprint('full marks')" in ran and not any(s.startswith("# graded: ex1-q2") for s in ran)
    assert any(s.startswith("# graded: ex1-q8") for s in ran) and not any(s.startswith("# graded: ex1-q6") for s in ran)


def test_the_exercise_is_told_from_the_cells_when_the_file_was_renamed():
    assert read_submission(student("ex2_keras"), "untitled.ipynb").exercise.name == "ex2_keras"
    with pytest.raises(ValueError, match="not one of the course's exercises"):
        read_submission(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), "mine.ipynb")


def test_the_table_and_its_notes():
    grade = NotebookGrade(
        "ex9.ipynb",
        [Outcome("ex9-q1", 2, "passed", None, ""), Outcome("ex9-q2", 1, "not attempted", "NotImplementedError", "NotImplementedError: ex9-q2: hint")],
        ["code cell 2 raised SyntaxError: invalid syntax"],
        1.0,
        seed=42,
    )
    table = format_grade(grade, width=100)
    assert table.splitlines()[0] == "ex9.ipynb  (ran in 1.0 s, random cases from seed 42)"
    assert "  ex9-q1    2 / 2   passed" in table and "score: 2 / 3 points" in table
    assert "failed  not attempted: NotImplementedError: ex9-q2: hint" in table
    assert "note: code cell 2 raised SyntaxError" in table


def test_a_stopped_kernel_is_blamed_on_what_stopped_it_and_not_on_memory():
    exit_cell, crash_cell = CodeCell(3, "print(1)\nexit()", "code"), CodeCell(4, "import os\nos._exit(3)", "code")
    assert _calls_exit(exit_cell.source) and not _calls_exit(crash_cell.source) and _calls_exit("%time exit()")
    assert _blame(_Death(0, CodeCell(5, "x = 1", "code"), None), [exit_cell]) == (exit_cell, True)
    assert _blame(_Death(3, crash_cell, None), [exit_cell]) == (crash_cell, False)
    assert _blame(_Death(3, None, "ex1-q8"), [exit_cell]) == (None, False)
    assert _how_it_stopped(0, True) == "calls exit(), which ends the notebook's Python kernel"
    assert "exit status 3" in _how_it_stopped(3, False) and "memory" not in _how_it_stopped(3, False)
    assert "SIGSEGV" in _how_it_stopped(-11, False) and "memory" not in _how_it_stopped(-11, False)
    assert "SIGKILL" in _how_it_stopped(-9, False) and "memory" in _how_it_stopped(-9, False)
