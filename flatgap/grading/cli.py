"""Grade exercise notebooks locally: ``python -m flatgap.grading.cli NOTEBOOK...`` (``make grade``).

Each notebook is run top to bottom in a fresh kernel (your file is not modified); then the grader runs
every question's check itself, with the course's checkers and fresh random inputs drawn from a seed it
prints (``--seed`` repeats a run). A table lists every question of the course's manifest: its points,
whether it passed, and the checker's message when it did not. The exit status is 0 whenever the notebooks
could be run, whatever the score (the table is a report); it is 2 when a notebook could not be run at
all, and the reason is printed in one sentence.

``flatgap-grade class SUBMISSIONS --exercise exN`` grades a whole class (:mod:`flatgap.grading.batch`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from flatgap.grading.report import format_grade
from flatgap.grading.runner import CannotRun, grade_notebook


def main(argv: list[str] | None = None) -> int:
    from flatgap.grading.harness import new_seed

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["class"]:  # flatgap-grade class SUBMISSIONS --exercise exN: a whole class (flatgap.grading.batch)
        from flatgap.grading.batch import main as grade_class

        return grade_class(argv[1:])

    parser = argparse.ArgumentParser(
        prog="python -m flatgap.grading.cli",
        description="Run exercise notebooks top to bottom, check every graded question, and print a per-question score table.",
    )
    parser.add_argument("notebooks", nargs="+", type=Path, help="the notebooks to grade, e.g. exercises/ex1_numpy_layers.ipynb")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one cell or one check may run (default 300)")
    parser.add_argument("--limit", type=float, help="seconds the whole run of one notebook may take (default: 4 x --timeout, at least 600)")
    parser.add_argument("--seed", type=int, help="seed of the random cases (default: a new one, printed)")
    parser.add_argument("--exercise", help="which exercise the notebooks are (default: told from the file name and cells)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    seed = new_seed() if args.seed is None else args.seed
    print(f"random cases from seed {seed} (repeat this run with --seed {seed}, or make grade SEED={seed})", flush=True)
    grades, failures = [], []
    for path in args.notebooks:
        print(f"grading {path} ...", flush=True)
        try:
            grade = grade_notebook(path, timeout=args.timeout, seed=seed, exercise=args.exercise, limit=args.limit)
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
                "seed": g.seed,
                "notes": g.notes,
                "questions": [asdict(o) | {"earned": o.earned} for o in g.outcomes],
            }
            for g in grades
        ]
        args.json.write_text(json.dumps({"seed": seed, "notebooks": record, "could_not_run": failures}, indent=1) + "\n")
    if failures:
        print(f"could not run: {', '.join(failures)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
