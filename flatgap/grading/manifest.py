"""The manifest: every graded question of the course, generated from the solutions, shipped in the package.

``make exercises`` (:mod:`flatgap.grading.generate`) reads ``solutions/exN_*.ipynb`` and writes
:mod:`flatgap.grading.manifest_data`, a plain Python module, so a ``pip install`` of the package carries it
(Colab, Binder). For each exercise it records its name, title and checker module, the score cell that
closes it, and for each question: its id, points, title, the student's function, the checker and the
expressions of its arguments, and the graded cell's source and id. The grader and the score cell take
questions and points from here only: cells of the student's notebook that are not in it earn nothing, and
no folder beside the notebook is needed.

A new exercise needs no change here: ``solutions/ex4_<topic>.ipynb`` plus ``flatgap/grading/ex4.py``
(its checkers, listed in ``__all__``), then ``make exercises``.
"""

from __future__ import annotations

import importlib
import pprint
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from flatgap.grading.notebooks import NotebookFormatError, graded_call, validate

QUESTION_HEADING = re.compile(r"^##\s+Question\s+\d+\s+[—-]+\s+(?P<title>.+?)\s*\((?P<points>\d+)\s+points?\)\s*$", re.MULTILINE)
SCORE_COMMENT = "# Your score: the questions, points and checks of `make grade`, run here in this kernel."


def score_cell_source(name: str) -> str:
    """The last cell of every exercise and solution: the per-question table and total, in the kernel."""
    return f'{SCORE_COMMENT}\nfrom flatgap.grading.inline import score\n\nscore("{name}")'


@dataclass(frozen=True)
class Question:
    """One graded question (see the module docstring)."""

    id: str
    points: int
    title: str
    function: str
    checker: str
    arguments: tuple[str, ...]
    source: str
    cell_id: str
    stub: str


@dataclass(frozen=True)
class Exercise:
    """One exercise notebook: ``name`` is its file name without ``.ipynb``, ``prefix`` its ``exN``."""

    name: str
    prefix: str
    title: str
    module: str
    score_source: str
    score_cell_id: str
    questions: tuple[Question, ...]

    @property
    def total(self) -> int:
        return sum(q.points for q in self.questions)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


def _exercise_from_record(record: dict) -> Exercise:
    questions = tuple(Question(**(q | {"arguments": tuple(q["arguments"])})) for q in record["questions"])
    return Exercise(**(record | {"questions": questions}))


def load() -> tuple[Exercise, ...]:
    """Every exercise of the manifest, in order."""
    from flatgap.grading.manifest_data import EXERCISES

    return tuple(_exercise_from_record(record) for record in EXERCISES)


def find(name: str, exercises: tuple[Exercise, ...] | None = None) -> Exercise:
    """The exercise called ``name`` (``"ex1_numpy_layers"``) or with that prefix (``"ex1"``).

    Raises:
        KeyError: with the names of the exercises there are.
    """
    exercises = load() if exercises is None else exercises
    for exercise in exercises:
        if name in (exercise.name, exercise.prefix):
            return exercise
    raise KeyError(f"no exercise {name!r}; the course's exercises are {', '.join(e.name for e in exercises)}")


def exercise_from_solution(notebook, name: str, where: str = "notebook") -> Exercise:
    """Read one solution notebook's questions into an :class:`Exercise`, checking the conventions.

    Raises:
        NotebookFormatError: a convention is broken; the message says where and how.
    """
    prefix = name.split("_", 1)[0]
    graded, found = validate(notebook, where, exercise=prefix)
    module_name = f"flatgap.grading.{prefix}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise NotebookFormatError(f"{where}: its checkers must live in {module_name.replace('.', '/')}.py (none found)") from None
    checkers = set(getattr(module, "__all__", ()))
    regions = {r.question: r for r in found}
    headings = {}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            for match in QUESTION_HEADING.finditer(cell.source):
                headings[index] = (match["title"], int(match["points"]))
    questions = []
    for cell in graded:
        here = f"{where}: graded cell {cell.index} ({cell.question})"
        checker, arguments = graded_call(cell.source, here)
        if checker not in checkers:
            raise NotebookFormatError(f"{here}: {checker} is not one of the checkers of {module_name} (its __all__: {sorted(checkers)})")
        region = regions[cell.question]
        if arguments[0] != region.function:
            raise NotebookFormatError(f"{here}: the checker's first argument must be {region.function}, the function holding the question's solution region")
        before = [i for i in headings if i < region.cell_index]
        title = ""
        if before:
            title, points = headings[max(before)]
            if points != cell.points:
                raise NotebookFormatError(f"{here}: its heading says {points} point{'s' if points != 1 else ''}, its graded cell {cell.points}")
        cell_id = notebook.cells[cell.index].get("id", "")
        questions.append(Question(cell.question, cell.points, title, region.function, checker, arguments, cell.source, cell_id, region.stub_message))
    expected = score_cell_source(name)
    last = notebook.cells[-1] if notebook.cells else None
    if last is None or last.cell_type != "code" or last.source != expected:
        raise NotebookFormatError(f"{where}: the last cell must be the score cell, exactly:\n{expected}")
    first_markdown = next((c.source for c in notebook.cells if c.cell_type == "markdown"), "")
    title = first_markdown.split("\n", 1)[0].lstrip("# ").removeprefix("Solutions: ").strip()
    return Exercise(name, prefix, title, module_name, expected, last.get("id", ""), tuple(questions))


def manifest_text(exercises) -> str:
    """The text of :mod:`flatgap.grading.manifest_data` for these exercises."""
    records = [asdict(exercise) for exercise in exercises]
    for record in records:
        record["questions"] = [q | {"arguments": list(q["arguments"])} for q in record["questions"]]
    body = pprint.pformat(records, width=120, sort_dicts=False)
    return (
        '"""The course\'s graded questions, generated from solutions/*.ipynb by `make exercises`.\n\n'
        "Do not edit: ``python -m flatgap.grading.generate`` writes this file, and tests/test_grading.py fails when it\n"
        'differs from what the solutions give (see :mod:`flatgap.grading.manifest`)."""\n\n'
        f"EXERCISES = {body}\n"
    )


MANIFEST_PATH = Path(__file__).with_name("manifest_data.py")
"""Where the generated manifest lives."""
