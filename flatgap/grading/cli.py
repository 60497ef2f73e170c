"""Grade exercise notebooks locally: ``python -m flatgap.grading.cli NOTEBOOK...`` (``make grade``).

Each notebook is run top to bottom in a fresh kernel (your file is not modified), and a table lists every
graded question: its points, whether it passed, and the checker's message when it did not. The exit status
is 0 whenever the notebooks could be run, whatever the score (the table is a report); it is 2 when a
notebook could not be run at all, and the reason is printed in one sentence.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

from flatgap.grading.runner import CannotRun, NotebookGrade, grade_notebook

RESULT_WORDS = {"passed": "passed", "failed": "failed", "not attempted": "failed", "missing": "failed"}


def format_grade(grade: NotebookGrade, width: int | None = None) -> str:
    """The per-question table of one notebook, with its score."""
    width = width or max(80, min(shutil.get_terminal_size((120, 20)).columns, 160))
    rows = [("question", "points", "result", "message")]
    for o in grade.outcomes:
        message = o.message
        if o.status in ("not attempted", "missing"):
            message = f"{o.status}: {o.message}"
        rows.append((o.question, f"{o.earned} / {o.points}", RESULT_WORDS[o.status], message))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    indent = sum(widths) + 2 + 3 * 2
    lines = [f"{grade.name}  (ran in {grade.seconds:.1f} s)", ""]
    for number, row in enumerate(rows):
        head = "  " + "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  "
        message_lines = []
        for paragraph in row[3].splitlines() or [""]:
            message_lines += textwrap.wrap(paragraph, max(30, width - indent)) or [""]
        lines.append((head + message_lines[0]).rstrip())
        lines += [" " * indent + extra for extra in message_lines[1:]]
        if number == 0:
            lines.append("  " + "  ".join("-" * w for w in widths) + "  " + "-" * 7)
    for note in grade.notes:
        lines += ["", textwrap.fill(f"note: {note}", width, subsequent_indent="      ")]
    lines += ["", f"  score: {grade.score} / {grade.total} points"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flatgap.grading.cli",
        description="Run exercise notebooks top to bottom and print a per-question score table.",
    )
    parser.add_argument("notebooks", nargs="+", type=Path, help="the notebooks to grade, e.g. exercises/ex1_numpy_layers.ipynb")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one cell may run (default 300)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--no-restore", action="store_true", help="grade the graded cells as they are in the notebook, not the course's copies"
    )
    args = parser.parse_args(argv)
    grades, failures = [], []
    for path in args.notebooks:
        print(f"grading {path} ...", flush=True)
        try:
            grade = grade_notebook(path, timeout=args.timeout, restore=not args.no_restore)
        except CannotRun as error:
            failures.append(str(path))
            print(f"cannot grade {path}: {error}\n", flush=True)
            continue
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        grades.append(grade)
        print(format_grade(grade) + "\n", flush=True)
    if len(grades) > 1:
        score, total = sum(g.score for g in grades), sum(g.total for g in grades)
        print(f"total: {score} / {total} points over {len(grades)} notebooks")
    if args.json:
        record = [
            {
                "notebook": g.name,
                "score": g.score,
                "total": g.total,
                "seconds": round(g.seconds, 2),
                "notes": g.notes,
                "questions": [asdict(o) | {"earned": o.earned} for o in g.outcomes],
            }
            for g in grades
        ]
        args.json.write_text(json.dumps({"notebooks": record, "could_not_run": failures}, indent=1) + "\n")
    if failures:
        print(f"could not run: {', '.join(failures)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
