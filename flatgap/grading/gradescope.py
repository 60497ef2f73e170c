"""A Gradescope autograder built from the course's own checks (``make gradescope EX=exN``).

``python -m flatgap.grading.gradescope build --exercise exN`` writes ``_build/gradescope/<exercise>_autograder.zip``
with, at its root (Gradescope's autograder specification):

- ``setup.sh``: run once by Gradescope when it builds the image; makes ``/autograder/venv`` with Python 3.11 or
  newer, installs the learner's pins (``learner.txt``, a copy of ``requirements/learner.txt``) and then the
  package's wheel (``--no-deps``, as the course's own environments do);
- ``run_autograder``: run for each submission; grades the notebook of ``/autograder/submission`` and writes
  ``/autograder/results/results.json``;
- ``autograder.json``: the exercise and the limits; the wheel.

Grading a submission is the class grader's (:func:`flatgap.grading.batch.grade_file`): the single-notebook
grader in a child process, with a wall-clock limit and a memory cap, and fresh random cases from a new seed for
each submission (printed in the output, so that ``make grade SEED=...`` repeats the run). ``results.json`` has one
test per question of the manifest: its ``score``, ``max_score``, ``status``, and the checker's message as
``output``; the submission's ``output`` is the table ``make grade`` prints.

For a local test, ``FLATGAP_AUTOGRADER_ROOT`` replaces ``/autograder`` and ``FLATGAP_AUTOGRADER_PYTHON`` the
Python that ``run_autograder`` runs (default ``/autograder/venv/bin/python``).
"""

from __future__ import annotations

import argparse
import json
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT_VARIABLE = "FLATGAP_AUTOGRADER_ROOT"
PYTHON_VARIABLE = "FLATGAP_AUTOGRADER_PYTHON"
REPOSITORY = Path(__file__).resolve().parents[2]

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (the zip is in /autograder/source).
# It makes /autograder/venv with Python 3.11 or newer, installs the course's learner pins, then the flatgap wheel.
set -euo pipefail
cd /autograder/source
PYTHON=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PYTHON="$candidate"
        break
    fi
done
if [ -z "$PYTHON" ]; then  # an image whose Python is older (Ubuntu 22.04): its python3.11 package
    apt-get update
    apt-get install -y python3.11 python3.11-venv
    PYTHON=python3.11
fi
"$PYTHON" -m venv /autograder/venv || { apt-get update && apt-get install -y "$PYTHON-venv" python3-venv && "$PYTHON" -m venv /autograder/venv; }
/autograder/venv/bin/python -m pip install --quiet --upgrade pip
/autograder/venv/bin/python -m pip install --quiet -r learner.txt
/autograder/venv/bin/python -m pip install --quiet --no-deps ./flatgap-*.whl
/autograder/venv/bin/python -c "import flatgap.grading.gradescope"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission: grade /autograder/submission into /autograder/results/results.json.
# FLATGAP_AUTOGRADER_ROOT and FLATGAP_AUTOGRADER_PYTHON replace /autograder and its venv's Python (local tests).
set -u
ROOT="${FLATGAP_AUTOGRADER_ROOT:-/autograder}"
PYTHON="${FLATGAP_AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT"
exec "$PYTHON" -m flatgap.grading.gradescope run --root "$ROOT"
"""

VISIBILITY = "visible"
"""Gradescope's visibility of every test and of the output: the course's messages are meant for the student."""


def build_wheel(outdir: Path) -> Path:
    """Build the package's wheel with ``python -m build`` (as ``make dist`` does) into ``outdir``; its path.

    The sdist is built first and the wheel from it, outside the source tree (no ``build/`` folder is left in it).
    """
    process = subprocess.run([sys.executable, "-m", "build", "--outdir", str(outdir), str(REPOSITORY)], capture_output=True, text=True)
    wheels = sorted(outdir.glob("flatgap-*.whl"))
    if process.returncode != 0 or not wheels:
        raise ValueError(f"python -m build could not build the wheel: {(process.stderr or process.stdout).strip().splitlines()[-1:]}")
    return wheels[-1]


def build_zip(exercise: str, out: Path, wheel: Path | None = None, limit: float = 600, timeout: float = 300, memory_gb: float = 8) -> Path:
    """Write the autograder zip of ``exercise`` into folder ``out``; its path.

    Args:
        exercise: the exercise's name or prefix (``"ex1"``).
        out: the folder to write ``<exercise>_autograder.zip`` into.
        wheel: the package's wheel; None builds one with ``python -m build``.
        limit, timeout, memory_gb: seconds per notebook, seconds per cell or check, memory cap (GiB).

    Raises:
        ValueError: no such exercise, or the wheel could not be built or found.
    """
    from flatgap.grading.manifest import find

    try:
        chosen = find(exercise)
    except KeyError as error:
        raise ValueError(str(error.args[0])) from None
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{chosen.name}_autograder.zip"
    with tempfile.TemporaryDirectory() as folder:
        wheel = build_wheel(Path(folder)) if wheel is None else Path(wheel)
        if not wheel.is_file() or not wheel.name.startswith("flatgap-") or wheel.suffix != ".whl":
            raise ValueError(f"{wheel} is not a flatgap wheel (flatgap-*.whl); `make dist` builds one")
        config = {"exercise": chosen.name, "limit": limit, "timeout": timeout, "memory_gb": memory_gb}
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFREG | 0o755) << 16
                bundle.writestr(info, text)
            bundle.writestr("autograder.json", json.dumps(config, indent=1) + "\n")
            bundle.write(REPOSITORY / "requirements" / "learner.txt", "learner.txt")
            bundle.write(wheel, wheel.name)
    return path


def _submitted_notebook(submission: Path, name: str) -> tuple[Path | None, str]:
    """The notebook to grade in Gradescope's submission folder, or None and why there is none to grade."""
    notebooks = sorted(p for p in submission.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and "__MACOSX" not in p.parts)
    exact = [p for p in notebooks if p.name == f"{name}.ipynb"]
    if len(exact) == 1 or len(notebooks) == 1:
        return (exact or notebooks)[0], ""
    if not notebooks:
        return None, f"no notebook (.ipynb) was submitted: upload {name}.ipynb"
    listed = ", ".join(p.relative_to(submission).as_posix() for p in notebooks)
    return None, f"{len(notebooks)} notebooks were submitted ({listed}): upload only {name}.ipynb"


def results(exercise, record: dict | None, reason: str, seconds: float, seed: int) -> dict:
    """Gradescope's ``results.json`` for one submission: one test per question of ``exercise`` (the manifest's)."""
    from flatgap import __version__
    from flatgap.grading.gradebook import grade_of
    from flatgap.grading.report import format_grade

    earned = {q["question"]: q for q in record["questions"]} if record else {}
    tests = []
    for number, question in enumerate(exercise.questions, start=1):
        outcome = earned.get(question.id)
        if outcome is None:
            score, status, output = 0, "failed", f"not graded: {reason}" if reason else "not checked"
        else:
            passed = outcome["status"] == "passed"
            score, status = (question.points if passed else 0), ("passed" if passed else "failed")
            output = "passed" if passed else ("not attempted: " if outcome["status"] == "not attempted" else "") + outcome["message"]
        tests.append({"name": f"{question.id}: {question.title}", "number": str(number), "score": score, "max_score": question.points,
                      "status": status, "output": output, "visibility": VISIBILITY})
    summary = format_grade(grade_of(record), width=100) if record else f"Your notebook was not graded: {reason}."
    return {
        "score": sum(test["score"] for test in tests),
        "execution_time": round(seconds),
        "output": f"{summary}\n\nRandom cases from seed {seed}: `make grade SEED={seed}` repeats this run on your computer.",
        "visibility": VISIBILITY,
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"exercise": exercise.name, "seed": seed, "flatgap": __version__},
    }


def run(root: Path) -> dict:
    """Grade the submission in ``root/submission`` and write ``root/results/results.json``; the results.

    The settings are read from ``root/source/autograder.json`` (written by :func:`build_zip`).
    """
    from flatgap.grading.batch import Limits, grade_file, unreadable_because
    from flatgap.grading.harness import new_seed
    from flatgap.grading.manifest import find

    config = json.loads((root / "source" / "autograder.json").read_text())
    exercise = find(config["exercise"])
    limits = Limits(float(config["limit"]), int(float(config["memory_gb"]) * 2**30), float(config["timeout"]))
    seed = new_seed()
    start = time.perf_counter()
    notebook, reason = _submitted_notebook(root / "submission", exercise.name)
    record = None
    if notebook is not None:
        reason = unreadable_because(notebook, limits)
        if not reason:
            record, reason, _ = grade_file(notebook, exercise.name, seed, limits)
    outcome = results(exercise, record, reason, time.perf_counter() - start, seed)
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(json.dumps(outcome, indent=1) + "\n")
    print(outcome["output"])
    return outcome


def main(argv: list[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(prog="python -m flatgap.grading.gradescope", description="Build or run the course's Gradescope autograder.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write <exercise>_autograder.zip (make gradescope EX=exN)")
    build.add_argument("--exercise", required=True, help="the exercise, e.g. ex1 or ex1_numpy_layers")
    build.add_argument("--out", type=Path, default=REPOSITORY / "_build" / "gradescope", help="folder of the zip (default _build/gradescope)")
    build.add_argument("--wheel", type=Path, help="ship this wheel instead of building one with python -m build")
    build.add_argument("--limit", type=float, default=600, help="seconds one notebook may take in all (default 600)")
    build.add_argument("--timeout", type=float, default=300, help="seconds one cell or check may run (default 300)")
    build.add_argument("--memory-gb", type=float, default=8, help="memory cap of the grading processes in GiB (default 8)")
    grade = commands.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json (run_autograder calls it)")
    grade.add_argument("--root", type=Path, default=Path(os.environ.get(ROOT_VARIABLE, "/autograder")), help="Gradescope's folder (default /autograder)")
    args = parser.parse_args(argv)
    if args.command == "build":
        try:
            path = build_zip(args.exercise, args.out, args.wheel, args.limit, args.timeout, args.memory_gb)
        except ValueError as error:
            print(f"cannot build the autograder: {error}", file=sys.stderr)
            return 2
        print(f"wrote {path}: upload it as the assignment's autograder (Gradescope: Configure Autograder, zip file upload)")
        return 0
    run(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
