"""The outcome of a grading run and the per-question table, the same for ``make grade`` and the score cell."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass, field

STATUSES = ("passed", "failed", "not attempted")
RESULT_WORDS = {"passed": "passed", "failed": "failed", "not attempted": "failed"}


@dataclass(frozen=True)
class Outcome:
    """What happened to one graded question.

    Attributes:
        question: question id (``"ex1-q3"``). points: what it is worth (from the manifest).
        status: one of ``STATUSES``.
        ename: the class name of the exception the check ended with (None when it passed).
        message: the checker's message, ``"<ename>: <evalue>"`` for other errors, or "" when it passed.
        cell: the code-cell number of the question's graded cell in the notebook (None when missing or unknown).
    """

    question: str
    points: int
    status: str
    ename: str | None
    message: str
    cell: int | None = None

    @property
    def earned(self) -> int:
        return self.points if self.status == "passed" else 0


def outcome_from_result(question, result: dict, cell: int | None = None) -> Outcome:
    """An :class:`Outcome` from the structured result of one check (see :mod:`flatgap.grading.checkrun`)."""
    status = result.get("status")
    if status not in STATUSES:
        status = "failed"
    message = "" if status == "passed" else str(result.get("message") or result.get("ename") or "failed")
    return Outcome(question.id, question.points, status, None if status == "passed" else result.get("ename"), message, cell)


@dataclass
class NotebookGrade:
    """The outcomes of one notebook, notes (repairs, errors in cells that are not graded), run time and seed."""

    name: str
    outcomes: list[Outcome]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    seed: int | None = None
    where: str = ""

    @property
    def score(self) -> int:
        return sum(o.earned for o in self.outcomes)

    @property
    def total(self) -> int:
        return sum(o.points for o in self.outcomes)

    def by_question(self) -> dict[str, Outcome]:
        return {o.question: o for o in self.outcomes}


def table_rows(grade: NotebookGrade, width: int) -> list[str]:
    """The table itself: one line (or a few, wrapped) per question, then the score."""
    rows = [("question", "points", "result", "message")]
    for o in grade.outcomes:
        message = f"not attempted: {o.message}" if o.status == "not attempted" else o.message
        rows.append((o.question, f"{o.earned} / {o.points}", RESULT_WORDS[o.status], message))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    indent = sum(widths) + 2 + 3 * 2
    lines = []
    for number, row in enumerate(rows):
        head = "  " + "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  "
        message_lines = []
        for paragraph in row[3].splitlines() or [""]:
            message_lines += textwrap.wrap(paragraph, max(30, width - indent)) or [""]
        lines.append((head + message_lines[0]).rstrip())
        lines += [" " * indent + extra for extra in message_lines[1:]]
        if number == 0:
            lines.append("  " + "  ".join("-" * w for w in widths) + "  " + "-" * 7)
    return lines + ["", f"  score: {grade.score} / {grade.total} points"]


def format_grade(grade: NotebookGrade, width: int | None = None) -> str:
    """The report of one notebook: a title line, the per-question table, the notes and the score."""
    width = width or max(80, min(shutil.get_terminal_size((120, 20)).columns, 160))
    seed = f"random cases from seed {grade.seed}" if grade.seed is not None else ""
    details = ", ".join(part for part in (grade.where, f"ran in {grade.seconds:.1f} s" if grade.seconds else "", seed) if part)
    lines = [f"{grade.name}  ({details})" if details else grade.name, ""]
    rows = table_rows(grade, width)
    lines += rows[:-2]
    for note in dict.fromkeys(grade.notes):
        lines += ["", textwrap.fill(f"note: {note}", width, subsequent_indent="      ")]
    return "\n".join(lines + rows[-2:])
