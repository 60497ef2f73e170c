"""A student's notebook, read once into one structure matched to the manifest.

:func:`read_submission` goes through the notebook's cells once and gives each code cell a role:

- ``graded``: the course's graded cell of a question, found by its header ``# graded: exN-qM ...`` (with or
  without its tag: some editors drop cell metadata) or by its code (when the header was lost). The grader
  does not run it: it runs the question's check itself, after the notebook, with the course's checker
  (unless the cell also defines or imports something, say after two cells were merged: then it runs too);
- ``copy``: a second cell matching a question already found (a cell duplicated by accident): not run;
- ``score``: the score cell (the notebook's own table): not run, the grader prints its own;
- ``code``: everything else, run in order. A cell that claims a question the manifest does not have, or
  points the manifest does not give, is run as ordinary code and earns nothing.

Each of those repairs comes with a note for the report. Questions and points come from the manifest only.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from flatgap.grading import GRADED_TAG
from flatgap.grading.manifest import Exercise, load
from flatgap.grading.notebooks import HEADER_RE, cell_tags, graded_body

__all__ = ["CodeCell", "Submission", "identify", "read_submission"]


@dataclass(frozen=True)
class CodeCell:
    """One code cell: ``number`` counts the notebook's code cells from 1; ``role`` as in the module docstring."""

    number: int
    source: str
    role: str
    question: str | None = None
    cell_id: str = ""
    runs: bool = False


@dataclass
class Submission:
    """The notebook matched to its exercise in the manifest."""

    name: str
    exercise: Exercise
    cells: list[CodeCell]
    notes: list[str] = field(default_factory=list)

    def to_run(self) -> list[CodeCell]:
        """The cells the grader runs, in order."""
        return [cell for cell in self.cells if cell.role == "code" or cell.runs]

    def graded_cell(self, question: str) -> int | None:
        """The code-cell number of a question's graded cell (None when it is missing)."""
        return next((c.number for c in self.cells if c.role == "graded" and c.question == question), None)


@dataclass(frozen=True)
class _Parsed:
    number: int
    source: str
    tags: tuple[str, ...]
    cell_id: str
    header: tuple[str, int] | None
    body: str


def _parse(notebook) -> list[_Parsed]:
    parsed = []
    for cell in notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        first = source.lstrip().split("\n", 1)[0] if source.strip() else ""
        match = HEADER_RE.match(first.strip())
        header = (match["question"], int(match["points"])) if match else None
        parsed.append(_Parsed(len(parsed) + 1, source, tuple(cell_tags(cell)), str(cell.get("id", "")), header, graded_body(source)))
    return parsed


def _defines_something(source: str) -> bool:
    """Does this code define a function or class, assign a name or import (so that later code may need it)?"""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Import, ast.ImportFrom)
    return any(isinstance(node, kinds) for node in tree.body)


def _is_score_cell(cell: _Parsed, exercise: Exercise) -> bool:
    return cell.body == graded_body(exercise.score_source) or (cell.cell_id == exercise.score_cell_id and "score(" in cell.source)


def identify(name: str, parsed: list[_Parsed], exercises: tuple[Exercise, ...]) -> Exercise | None:
    """The exercise a notebook is, from its file name and its cells (None when nothing matches)."""
    stem = Path(name).stem
    best, best_score = None, 0
    for exercise in exercises:
        score = 100 if stem == exercise.name else 50 if exercise.name in stem or stem.startswith(exercise.prefix + "_") else 0
        bodies = {graded_body(q.source) for q in exercise.questions}
        ids = {q.cell_id for q in exercise.questions}
        for cell in parsed:
            score += 10 * bool(cell.header and exercise.question(cell.header[0]))
            score += 10 * (cell.body in bodies) + 10 * _is_score_cell(cell, exercise) + (cell.cell_id in ids)
        if score > best_score:
            best, best_score = exercise, score
    return best


def read_submission(notebook, name: str, exercise: str | None = None, exercises: tuple[Exercise, ...] | None = None) -> Submission:
    """Match an in-memory notebook to the manifest (see the module docstring).

    Args:
        name: the notebook's file name or path (it helps to tell which exercise it is).
        exercise: the exercise's name or prefix, when the caller knows it.

    Raises:
        ValueError: the notebook is not one of the course's exercises.
    """
    exercises = load() if exercises is None else exercises
    parsed = _parse(notebook)
    if exercise is not None:
        chosen = next((e for e in exercises if exercise in (e.name, e.prefix)), None)
        if chosen is None:
            raise ValueError(f"no exercise {exercise!r}; the course's exercises are {', '.join(e.name for e in exercises)}")
    else:
        chosen = identify(name, parsed, exercises)
        if chosen is None:
            raise ValueError(f"{name} is not one of the course's exercises ({', '.join(e.name for e in exercises)}); keep its file name, or pass --exercise")
    by_body = {graded_body(q.source): q for q in chosen.questions}
    cells, notes, found = [], [], {}
    for cell in parsed:
        where = f"code cell {cell.number}"
        question = None
        if _is_score_cell(cell, chosen):
            cells.append(CodeCell(cell.number, cell.source, "score", None, cell.cell_id))
            continue
        if cell.header and chosen.question(cell.header[0]):
            question = chosen.question(cell.header[0])
        elif cell.header is None and cell.body in by_body:
            question = by_body[cell.body]
            notes.append(f"{where} is the graded cell of {question.id} without its header; the grader uses the course's")
        elif cell.header:
            claimed, points = cell.header
            notes.append(f"{where} claims to be graded question {claimed} ({points} point{'s' if points != 1 else ''}), which is not a question of {chosen.name}: it earns nothing (the grader runs it as ordinary code)")
        elif GRADED_TAG in cell.tags:
            notes.append(f"{where} is tagged {GRADED_TAG!r} but is not one of the course's graded cells: it earns nothing (the grader runs it as ordinary code)")
        if question is None:
            cells.append(CodeCell(cell.number, cell.source, "code", None, cell.cell_id))
            continue
        if question.id in found:
            notes.append(f"{where} repeats the graded cell of {question.id} (code cell {found[question.id]}); the copy is ignored")
            cells.append(CodeCell(cell.number, cell.source, "copy", question.id, cell.cell_id))
            continue
        found[question.id] = cell.number
        if GRADED_TAG not in cell.tags:
            notes.append(f"{where} (the graded cell of {question.id}) lost its {GRADED_TAG!r} tag; the grader restored it")
        if cell.header and cell.header[1] != question.points:
            notes.append(f"{where} claims {cell.header[1]} point{'s' if cell.header[1] != 1 else ''} for {question.id}; the course gives it {question.points}")
        runs = False
        if cell.body != graded_body(question.source):
            runs = _defines_something(cell.source)
            also = "; it also holds other code, which the grader runs" if runs else ""
            notes.append(f"{where} (the graded cell of {question.id}) differs from the course's; the grader runs the course's check of {question.function} instead{also}")
        cells.append(CodeCell(cell.number, cell.source, "graded", question.id, cell.cell_id, runs))
    for question in chosen.questions:
        if question.id not in found:
            notes.append(f"the graded cell of {question.id} is missing from the notebook; the grader checked {question.function} anyway")
    return Submission(str(name), chosen, cells, notes)
