"""CI proves that the grading works (issue 6).

The four proofs, each on the real notebooks:

1. every solution notebook runs under nbval (``--nbval-lax``) with every graded cell passing;
2. every shipped exercise fails every graded cell *because of its stub*: nbval runs, in strict ``--nbval``
   mode, a copy of the exercise in which each graded cell carries the expected error output —
   ``NotImplementedError("exN-qM: <hint>")`` of its own question — and the ``raises-exception`` tag
   (:func:`flatgap.grading.generate.expect_stub_errors`). nbval then compares ``ename`` and ``evalue``, so a
   ``NameError``, a crash, a wrong-answer ``AssertionError``, another question's stub or no error at all fails
   the run. A control run on a small synthetic notebook shows that this comparison does catch each of those;
3. trivial answers — every solution region returning ``None``, zeros of the right shape, or its input
   unchanged — fail every graded cell with the checker's ``AssertionError`` (the grader core runs them);
4. no graded cell of a solution carries a skip or raises-exception marker.

Plus: the committed exercises and the manifest are byte-for-byte what the generator writes; a deliberately
broken solution fails with the checker's readable message; ``make grade`` prints a score table. The false
credit the grader refuses, and the agreement of ``make grade`` with the score cell, are in
``tests/test_grading_trust.py``.

The nbval runs are subprocesses (``python -m pytest --nbval ... --nbval-current-env -p no:cacheprovider``)
on copies in a temporary folder, each notebook variant executed once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
import toc
import yaml

from flatgap.book.notebooks import write_notebook
from flatgap.grading import GRADED_TAG
from flatgap.grading.generate import (
    TRIVIAL_KINDS,
    exercise_from_solution,
    expect_stub_errors,
    generated_exercises,
    generated_files,
    replace_regions,
    trivial_variant,
)
from flatgap.grading.manifest import MANIFEST_PATH, load, score_cell_source
from flatgap.grading.notebooks import graded_cells, read_notebook, regions, validate
from flatgap.grading.runner import grade

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("ex*.ipynb"))
NAMES = [path.stem for path in SOLUTIONS]
SKIP_MARKERS = ("nbval-skip", "raises-exception", "NBVAL_SKIP", "NBVAL_RAISES_EXCEPTION")


def solution(name: str):
    return read_notebook(ROOT / "solutions" / f"{name}.ipynb")


def code_cell_numbers(notebook) -> dict[int, int]:
    """nbval's item number ("Cell N", counting code cells from 0) of each code cell index."""
    numbers, count = {}, 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            numbers[index] = count
            count += 1
    return numbers


def run_nbval(tmp_path: Path, notebooks: dict[str, object], strict: bool) -> tuple[subprocess.CompletedProcess, dict]:
    """Write ``notebooks`` ({file name: notebook}) into ``tmp_path`` and run nbval on them in a subprocess.

    Returns:
        (the finished process, {(file name, cell number): (outcome, message)}) from nbval's JUnit report,
        outcome being "passed", "failed", "error" or "skipped".
    """
    for name, notebook in notebooks.items():
        (tmp_path / name).write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # keeps the repository's pytest configuration out
    junit = tmp_path / "nbval-junit.xml"
    command = [
        sys.executable, "-m", "pytest", "--nbval" if strict else "--nbval-lax", "--nbval-current-env",
        "-p", "no:cacheprovider", "--color=no", "-q", "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path),
        f"--junitxml={junit}", *notebooks,
    ]  # fmt: skip
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0", MPLBACKEND="Agg")
    process = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1200, env=env)
    results = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            outcome, message = "passed", ""
            for kind in ("failure", "error", "skipped"):
                element = case.find(kind)
                if element is not None:
                    outcome = {"failure": "failed"}.get(kind, kind)
                    message = (element.get("message") or "") + "\n" + (element.text or "")
            results[(case.get("classname"), int(case.get("name").split()[-1]))] = (outcome, message)
    return process, results


ANSI = re.compile(r"(\x1b|#x1B)\[[0-9;]*m")  # colour codes (JUnit XML spells ESC as #x1B)


def report(process: subprocess.CompletedProcess, results: dict | None = None) -> str:
    """nbval's outcome for a failing assertion: one line per failed cell (its last error line), then the log."""
    lines = [f"nbval exit status {process.returncode}"]
    for (file, number), (outcome, message) in sorted((results or {}).items()):
        if outcome != "passed":
            text = [ln.strip() for ln in ANSI.sub("", message).splitlines() if ln.strip()]
            error = next((ln for ln in reversed(text) if re.match(r"^[A-Za-z]*(Error|Exception)\b|^Missing output|^'", ln)), text[-1] if text else "")
            lines.append(f"  {file} Cell {number}: {outcome}: {error}")
    return "\n".join(lines) + "\n\n" + ANSI.sub("", process.stdout[-6000:] + "\n" + process.stderr[-2000:])


# --------------------------------------------------------------------------------------------------------
# Fast checks: the notebooks' structure
# --------------------------------------------------------------------------------------------------------


def test_every_solution_notebook_has_checkers_and_at_least_15_graded_questions_in_all():
    assert NAMES[:3] == ["ex1_numpy_layers", "ex2_keras", "ex3_experiments"]
    assert [e.name for e in load()] == NAMES, "the manifest lists every solution notebook, in order"
    questions = []
    for path in SOLUTIONS:
        graded, found = validate(read_notebook(path), str(path), exercise=path.stem.split("_")[0])
        assert graded, f"{path.name} has no graded cells"
        assert all(g.points >= 1 for g in graded)
        questions += [g.question for g in graded]
        # every question: short instructions (a markdown cell) before its function and its graded cell
        notebook = read_notebook(path)
        for region in found:
            before = [c for c in notebook.cells[: region.cell_index] if c.cell_type == "markdown"]
            assert before, f"{region.question}: no instructions before it"
    assert len(questions) >= 15, questions


def test_committed_exercises_and_the_manifest_are_what_the_generator_writes():
    generated = generated_files(ROOT / "solutions", ROOT / "exercises")
    assert sorted(p.name for p in generated if p.suffix == ".ipynb") == sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    assert MANIFEST_PATH in generated and MANIFEST_PATH.parent == ROOT / "flatgap" / "grading"
    stale = [str(path.relative_to(ROOT)) for path, text in generated.items() if not path.exists() or path.read_bytes() != text.encode("utf-8")]
    assert not stale, f"out of date: {stale} — run `make exercises` (python -m flatgap.grading.generate)"
    assert sorted(generated_exercises(ROOT / "solutions")) == [f"{name}.ipynb" for name in NAMES]


def test_the_manifest_ships_in_the_package_as_a_module():
    import flatgap.grading.manifest_data as data

    assert Path(data.__file__).resolve() == MANIFEST_PATH
    assert [record["name"] for record in data.EXERCISES] == NAMES


def test_exercises_hold_stubs_and_no_solution_code():
    for name in NAMES:
        exercise = read_notebook(ROOT / "exercises" / f"{name}.ipynb")
        text = json.dumps(exercise.cells)
        assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text
        stubs = [c for c in exercise.cells if c.cell_type == "code" and "raise NotImplementedError(" in c.source]
        assert len(stubs) == len(regions(solution(name)))
        assert all("# YOUR CODE HERE" in c.source for c in stubs)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in exercise.cells if c.cell_type == "code")
        assert [g.question for g in graded_cells(exercise)] == [g.question for g in graded_cells(solution(name))]
        assert exercise.cells[-1].source == score_cell_source(name), "the last cell of every exercise is its score cell"


def test_proof4_no_graded_solution_cell_is_skipped_or_allowed_to_raise():
    from nbval.plugin import find_comment_markers, find_metadata_tags

    for name in NAMES:
        for graded in graded_cells(solution(name)):
            cell = solution(name).cells[graded.index]
            options = dict(find_metadata_tags(cell.metadata)) | dict(find_comment_markers(cell.source))
            assert not options.get("skip") and not options.get("check_exception"), f"{name} {graded.question}: {options}"
            words = [m for m in SKIP_MARKERS if m in cell.source or m in cell.metadata.get("tags", [])]
            assert not words, f"{name} {graded.question} carries {words}"


def test_each_exercise_says_how_to_grade_it_and_where_the_solutions_are():
    for name in NAMES:
        exercise = read_notebook(ROOT / "exercises" / f"{name}.ipynb")
        intro = next(c for c in exercise.cells if c.cell_type == "markdown").source
        assert intro.startswith("# Exercise ")
        assert f"make grade EX={name}" in intro
        assert f"../solutions/{name}.ipynb" in intro
        assert "you will be able to" in intro


def test_the_book_lists_exercises_and_solutions_and_never_executes_the_exercises():
    files = set(toc.docnames())
    assert "exercises/README" in files and (ROOT / "exercises" / "README.md").exists()
    for name in NAMES:
        assert f"exercises/{name}" in files and f"solutions/{name}" in files
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "exercises/*" in config["execute"]["exclude_patterns"]


# --------------------------------------------------------------------------------------------------------
# The proofs that execute notebooks
# --------------------------------------------------------------------------------------------------------


@pytest.mark.notebooks
def test_proof1_every_solution_passes_every_graded_cell_under_nbval(tmp_path):
    notebooks = {f"{name}.ipynb": solution(name) for name in NAMES}
    process, results = run_nbval(tmp_path, notebooks, strict=False)
    failed = {key: message for key, (outcome, message) in results.items() if outcome != "passed"}
    assert process.returncode == 0 and not failed, report(process, results)
    for file, notebook in notebooks.items():
        numbers = code_cell_numbers(notebook)
        assert len([k for k in results if k[0] == file]) == len(numbers), f"nbval did not run every cell of {file}"
        for graded in graded_cells(notebook):
            assert results[(file, numbers[graded.index])][0] == "passed", graded.question


@pytest.mark.notebooks
def test_proof2_every_exercise_fails_every_graded_cell_with_its_stub_under_nbval(tmp_path):
    exercises = {f"{name}.ipynb": read_notebook(ROOT / "exercises" / f"{name}.ipynb") for name in NAMES}
    expected = {file: expect_stub_errors(notebook, file) for file, notebook in exercises.items()}
    process, results = run_nbval(tmp_path, expected, strict=True)
    failed = {key: message for key, (outcome, message) in results.items() if outcome != "passed"}
    assert process.returncode == 0 and not failed, report(process, results)
    checked = 0
    for file, notebook in expected.items():
        numbers = code_cell_numbers(notebook)
        assert len([k for k in results if k[0] == file]) == len(numbers)
        for graded in graded_cells(notebook):
            cell = notebook.cells[graded.index]
            (error,) = cell.outputs
            assert error.ename == "NotImplementedError" and error.evalue.startswith(f"{graded.question}: ")
            assert results[(file, numbers[graded.index])][0] == "passed"
            checked += 1
    assert checked >= 15


@pytest.mark.notebooks
def test_proof2_control_the_strict_comparison_rejects_every_other_outcome(tmp_path):
    """A small exercise whose graded cells do the wrong things: nbval must fail exactly those."""
    code = nbformat.v4.new_code_cell
    cells = [
        nbformat.v4.new_markdown_cell("# Solutions: Exercise 9 — control"),
        code("def f(x):\n    ### BEGIN SOLUTION [ex9-q1] Double it.\n    return 2 * x\n    ### END SOLUTION"),
        code("def g(x):\n    ### BEGIN SOLUTION [ex9-q2] Halve it.\n    return x / 2\n    ### END SOLUTION"),
    ]
    graded = {  # question: graded cell body in the control exercise
        "ex9-q1": "f(1)",  # the stub's own NotImplementedError: passes
        "ex9-q2": "g(1)",  # its own stub: passes
    }
    for question, body in graded.items():
        cells.append(code(f"# graded: {question} (1 point)\n{body}", metadata={"tags": [GRADED_TAG]}))
    control = exercise_from_solution(nbformat.v4.new_notebook(cells=cells))
    expected = expect_stub_errors(control)
    good = json.loads(json.dumps(expected))
    variants = {
        "good.ipynb": good,
        "name_error.ipynb": ("ex9-q2", "# graded: ex9-q2 (1 point)\nundefined_name"),
        "wrong_answer.ipynb": ("ex9-q2", "# graded: ex9-q2 (1 point)\nassert 1 == 2, 'wrong answer'"),
        "other_stub.ipynb": ("ex9-q2", "# graded: ex9-q2 (1 point)\nf(1)"),
        "no_error.ipynb": ("ex9-q2", "# graded: ex9-q2 (1 point)\n1 + 1"),
        "prints_first.ipynb": ("ex9-q2", "# graded: ex9-q2 (1 point)\nprint('hello')\ng(1)"),
    }
    notebooks = {}
    for file, change in variants.items():
        notebook = json.loads(json.dumps(expected))
        if isinstance(change, tuple):
            question, source = change
            index = next(g.index for g in graded_cells(nbformat.from_dict(notebook)) if g.question == question)
            notebook["cells"][index]["source"] = source
        notebooks[file] = notebook
    process, results = run_nbval(tmp_path, notebooks, strict=True)
    graded_number = code_cell_numbers(nbformat.from_dict(expected))[next(g.index for g in graded_cells(expected) if g.question == "ex9-q2")]
    outcomes = {file: results[(file, graded_number)][0] for file in notebooks}
    assert outcomes == {
        "good.ipynb": "passed",
        "name_error.ipynb": "failed",
        "wrong_answer.ipynb": "failed",
        "other_stub.ipynb": "failed",
        "no_error.ipynb": "failed",
        "prints_first.ipynb": "failed",
    }, report(process, results)
    assert all(outcome == "passed" for (file, number), (outcome, _) in results.items() if number != graded_number), report(process, results)


@pytest.mark.notebooks
@pytest.mark.parametrize("kind", TRIVIAL_KINDS)
@pytest.mark.parametrize("name", NAMES)
def test_proof3_trivial_answers_fail_every_graded_cell(name, kind, tmp_path):
    variant = trivial_variant(solution(name), kind, name)
    write_notebook(variant, tmp_path / f"{name}.ipynb")  # kept for inspection when the test fails
    result = grade(variant, tmp_path, f"{name} [{kind}]")
    assert len(result.outcomes) == len(graded_cells(solution(name)))
    wrong = {o.question: f"{o.status}: {o.message}" for o in result.outcomes if o.status != "failed" or o.ename != "AssertionError"}
    assert not wrong, f"with every region returning the '{kind}' answer, these graded cells did not fail with the checker's AssertionError: {wrong}"
    assert all(o.message for o in result.outcomes)


@pytest.mark.notebooks
def test_a_broken_solution_fails_with_the_checkers_readable_message(tmp_path):
    broken = replace_regions(solution("ex1_numpy_layers"), lambda region: ["return x.mean(axis=(2, 3)), x.shape  # wrong axes"], questions={"ex1-q3"})
    result = grade(broken, tmp_path, "broken ex1")
    by_question = result.by_question()
    assert by_question["ex1-q3"].status == "failed"
    assert by_question["ex1-q3"].message == (
        "gap_forward(x) with x of shape (2, 7, 7, 64): expected out of shape (2, 64), got shape (2, 7) — "
        "average over axes 1 and 2 (H and W) only: x.mean(axis=(1, 2)) keeps N and C"
    )
    assert all(o.status == "passed" for q, o in by_question.items() if q != "ex1-q3")
    assert result.score == result.total - by_question["ex1-q3"].points


@pytest.mark.notebooks
def test_make_grade_prints_a_table_and_a_score(tmp_path):
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")  # and no solutions folder beside it
    command = [sys.executable, "-m", "flatgap.grading.cli", "exercises/ex1_numpy_layers.ipynb", "--json", "report.json"]
    process = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stdout + process.stderr
    total = sum(g.points for g in graded_cells(solution("ex1_numpy_layers")))
    assert f"score: 0 / {total} points" in process.stdout
    assert "not attempted: NotImplementedError: ex1-q1:" in process.stdout
    seed = re.search(r"^random cases from seed (\d+) \(repeat this run with --seed \1", process.stdout, re.MULTILINE)
    assert seed, process.stdout
    assert "Traceback" not in process.stdout + process.stderr
    record = json.loads((tmp_path / "report.json").read_text())
    assert [q["status"] for q in record["notebooks"][0]["questions"]] == ["not attempted"] * len(graded_cells(solution("ex1_numpy_layers")))
    assert record["seed"] == int(seed.group(1)) == record["notebooks"][0]["seed"]

    missing = subprocess.run([sys.executable, "-m", "flatgap.grading.cli", "exercises/ex9_nothing.ipynb"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2
    assert "cannot grade exercises/ex9_nothing.ipynb: exercises/ex9_nothing.ipynb does not exist" in missing.stdout
    assert "Traceback" not in missing.stdout + missing.stderr


@pytest.mark.notebooks
def test_a_kernel_that_dies_at_its_start_is_started_again_and_the_submission_graded(tmp_path, monkeypatch):
    # Two kernels started at once can be given the same ports; the second dies "before replying to kernel_info".
    from nbclient import NotebookClient

    real_start, starts = NotebookClient.async_start_new_kernel_client, []

    async def dies_the_first_time(self):
        starts.append(1)
        if len(starts) == 1:
            await self._async_cleanup_kernel()
            raise RuntimeError("Kernel died before replying to kernel_info")
        return await real_start(self)

    monkeypatch.setattr(NotebookClient, "async_start_new_kernel_client", dies_the_first_time)
    result = grade(solution("ex1_numpy_layers"), tmp_path, "ex1, first kernel dies")
    assert len(starts) == 2 and result.score == result.total > 0


def test_a_kernel_that_never_starts_is_reported_after_three_tries(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    from flatgap.grading.runner import KERNEL_STARTS, CannotRun

    starts = []

    async def always_dies(self):
        starts.append(1)
        await self._async_cleanup_kernel()
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(NotebookClient, "async_start_new_kernel_client", always_dies)
    with pytest.raises(CannotRun, match=r"could not start a Python kernel, 3 tries \(RuntimeError: Kernel died"):
        grade(solution("ex1_numpy_layers"), tmp_path, "ex1, no kernel")
    assert len(starts) == KERNEL_STARTS == 3
