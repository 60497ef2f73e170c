"""What class grading writes: a gradebook CSV, a Canvas import CSV, one feedback file per student and a summary.

**gradebook.csv**, one row per input file (see :mod:`flatgap.grading.batch`), columns in this order: Canvas's
identity columns ``Student, ID, SIS User ID, SIS Login ID, Section`` (the layout of a Canvas gradebook export,
which its import matches students by: ``ID`` is the Canvas user id when the files came from Canvas's download,
else the folder or file name; the SIS columns are left empty for the instructor's own list), then the exercise's
total (named by the assignment), the points of every question of the manifest (``ex1-q1`` ...), ``status``,
``reason``, ``file``, ``late``, ``seed``, ``version`` and ``seconds``. A row that was not graded has empty points.

**canvas.csv** is what Canvas's *Import* of the gradebook takes as it is: the five identity columns and one
assignment column (``--assignment``, by default the exercise's name; Canvas matches it to the assignment of that
name or offers to create one), with one row per graded student, and none for a student whose notebooks are
duplicates or could not be graded (the summary lists them, to be settled by hand).

**feedback/<student>.md**: for each of the student's files, the table and notes ``make grade`` prints for that
notebook (:func:`flatgap.grading.report.format_grade`), or the reason it was not graded or was ignored.

**summary.md**: per question, how many graded notebooks passed it and its most frequent messages; then the
notebooks that could not be graded, the duplicates and the ignored files.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections import Counter
from pathlib import Path

from flatgap.grading.batch import DUPLICATE, GRADED, IGNORED, NOT_GRADED, Row
from flatgap.grading.report import NotebookGrade, Outcome, format_grade

IDENTITY_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
"""The first columns of a Canvas gradebook export, by which Canvas's import finds each student."""

FEEDBACK_WIDTH = 110
"""Characters per line of the tables in the feedback files."""


def grade_of(record: dict) -> NotebookGrade:
    """The :class:`~flatgap.grading.report.NotebookGrade` of one notebook's JSON record (``--json``'s
    ``notebooks[i]``), so that its table is printed by the same function as ``make grade``'s."""
    fields = {field.name for field in dataclasses.fields(Outcome)}
    outcomes = [Outcome(**{key: value for key, value in question.items() if key in fields}) for question in record["questions"]]
    return NotebookGrade(record["notebook"], outcomes, list(record.get("notes", [])), record.get("seconds", 0.0), record.get("seed"))


def points_of(row: Row) -> dict[str, int]:
    """{question id: points earned} of a graded row ({} for a row that was not graded)."""
    return {question["question"]: question["earned"] for question in row.record["questions"]} if row.graded else {}


def gradebook_rows(rows: list[Row], exercise, seed: int, version: str, assignment: str) -> list[dict]:
    """The rows of ``gradebook.csv`` as dictionaries, in the column order of :func:`gradebook_columns`."""
    table = []
    for row in rows:
        points = points_of(row)
        record = {"Student": row.name, "ID": row.student, "SIS User ID": "", "SIS Login ID": "", "Section": ""}
        record[assignment] = row.record["score"] if row.graded else ""
        record |= {question.id: points.get(question.id, "") for question in exercise.questions}
        record |= {"status": row.status, "reason": row.reason, "file": row.file, "late": "late" if row.late else "",
                   "seed": seed, "version": version, "seconds": f"{row.seconds:.1f}" if row.seconds else ""}
        table.append(record)
    return table


def gradebook_columns(exercise, assignment: str) -> list[str]:
    return [*IDENTITY_COLUMNS, assignment, *(q.id for q in exercise.questions), "status", "reason", "file", "late", "seed", "version", "seconds"]


def _write_csv(path: Path, columns: list[str], records: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)


def _feedback_file_name(student: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip(".") or "student"


def feedback_text(student: str, rows: list[Row], exercise, seed: int) -> str:
    """The Markdown feedback of one student: for each of their files, the table ``make grade`` prints, or why not."""
    name = next((row.name for row in rows if row.name), "")
    lines = [f"# {exercise.title}: feedback for {name + ' (' + student + ')' if name else student}", ""]
    lines += [f"Graded with random cases from seed {seed}: `make grade SEED={seed}` on your notebook repeats this run.", ""]
    for row in rows:
        lines += [f"## {row.file}", ""]
        if row.status == DUPLICATE:
            lines += [f"**More than one notebook**: {row.reason}.", ""]
        if row.graded:
            lines += ["```text", format_grade(grade_of(row.record), width=FEEDBACK_WIDTH), "```", ""]
        elif row.status == NOT_GRADED:
            lines += [f"**Not graded**: {row.reason}.", ""]
        else:
            lines += [f"**Ignored**: {row.reason}.", ""]
    return "\n".join(lines)


def _message_key(message: str) -> str:
    """What messages of one kind share: the hint after the last dash when there is one, else the first line."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    hint = first.rsplit(" — ", 1)[-1] if " — " in first else first
    return hint if len(hint) <= 160 else hint[:157] + "..."


def _cell(text: str) -> str:
    """``text`` made safe for a cell of a Markdown table."""
    return text.replace("|", "\\|")


def summary_text(rows: list[Row], exercise, seed: int, version: str, seconds: float, workers: int, top: int = 3) -> str:
    """The instructor's Markdown summary: pass rates, frequent messages per question, what was not graded."""
    graded = [row for row in rows if row.graded]
    counts = Counter(row.status for row in rows)
    students = {row.student for row in rows if row.status != IGNORED}
    fresh = [row for row in rows if row.seconds and not row.reused]
    per_notebook = f"; {sum(row.seconds for row in fresh) / len(fresh):.1f} s per notebook graded" if fresh else ""
    lines = [f"# {exercise.title}: class summary", ""]
    lines += [f"- {len(rows)} files: {counts[GRADED]} graded, {counts[DUPLICATE]} graded but duplicates, "
              f"{counts[NOT_GRADED]} could not be graded, {counts[IGNORED]} ignored; {len(students)} students",
              f"- random cases from seed {seed}; flatgap {version}",
              f"- this run: {len(fresh)} notebooks graded, {sum(row.reused for row in rows)} stored results reused, "
              f"{seconds:.0f} s with {workers} workers{per_notebook}", ""]
    if graded:
        mean = sum(row.record["score"] for row in graded) / len(graded)
        lines += [f"Mean score of the graded notebooks: {mean:.1f} / {exercise.total} points.", ""]
    lines += ["## Per question", "", "| question | points | passed | most frequent messages (count) |", "| --- | --- | --- | --- |"]
    for question in exercise.questions:
        outcomes = [next(q for q in row.record["questions"] if q["question"] == question.id) for row in graded]
        passed = sum(outcome["status"] == "passed" for outcome in outcomes)
        rate = f"{passed} / {len(outcomes)} ({100 * passed / len(outcomes):.0f} %)" if outcomes else "—"
        messages = Counter(_message_key(o["message"]) for o in outcomes if o["status"] != "passed")
        common = "<br>".join(f"{_cell(text)} ({count})" for text, count in messages.most_common(top))
        lines.append(f"| {question.id} | {question.points} | {rate} | {common} |")
    for title, status in (("Could not be graded", NOT_GRADED), ("Duplicates (pick one per student)", DUPLICATE), ("Ignored files", IGNORED)):
        chosen = [row for row in rows if row.status == status]
        lines += ["", f"## {title}", ""]
        lines += [f"- `{row.file}` ({'student ' + row.student if row.student else 'no student'}): {row.reason}" for row in chosen] or ["None."]
    return "\n".join(lines) + "\n"


def write_all(rows: list[Row], exercise, seed: int, version: str, out: Path, assignment: str, seconds: float, workers: int) -> list[Path]:
    """Write ``gradebook.csv``, ``canvas.csv``, ``summary.md`` and ``feedback/*.md`` into ``out``; their paths."""
    out = Path(out)
    written = [out / "gradebook.csv", out / "canvas.csv", out / "summary.md"]
    _write_csv(written[0], gradebook_columns(exercise, assignment), gradebook_rows(rows, exercise, seed, version, assignment))
    canvas = [{"Student": row.name, "ID": row.student, "SIS User ID": "", "SIS Login ID": "", "Section": "", assignment: row.record["score"]}
              for row in rows if row.status == GRADED]
    _write_csv(written[1], [*IDENTITY_COLUMNS, assignment], canvas)
    written[2].write_text(summary_text(rows, exercise, seed, version, seconds, workers), encoding="utf-8")
    feedback = out / "feedback"
    feedback.mkdir(exist_ok=True)
    by_student: dict[str, list[Row]] = {}
    for row in rows:
        by_student.setdefault(row.student, []).append(row)
    for student, own in by_student.items():
        if not student:  # macOS's zip metadata: no student to write to
            continue
        path = feedback / f"{_feedback_file_name(student)}.md"
        path.write_text(feedback_text(student, own, exercise, seed), encoding="utf-8")
        written.append(path)
    return written[:3] + [feedback]
