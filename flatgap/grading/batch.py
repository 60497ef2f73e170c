"""Grade a whole class: ``flatgap-grade class SUBMISSIONS --exercise exN`` (``make grade-class``).

``SUBMISSIONS`` is a folder of notebooks, a folder of per-student folders, or the zip an LMS downloads. Every
file in it becomes one row of the gradebook: a graded notebook, a notebook that could not be graded (with the
reason), or a file that was ignored (with the reason). Nothing is merged and nothing is left out.

Each notebook is graded by the single-notebook grader, ``python -m flatgap.grading.cli NOTEBOOK --seed S
--exercise exN --json FILE``, in its own child process, on a private copy of the file in a private folder, with
the same manifest, checks and seed for the whole class. A small pool of workers runs several at once. Each child
runs under a wall-clock limit (on expiry the child, its kernel and whatever they started are killed) and a memory
cap (``RLIMIT_AS``, inherited by the kernel), so a crashing, hanging or huge notebook gets a row saying what
happened and never stops the batch.

**The student id** (the ``ID`` column) is taken from the names the LMS gives:

- a file at the top of the submissions named as Canvas's "Download Submissions" names them,
  ``<name>_<userid>_<submissionid>_<file>`` (or ``<name>_LATE_<userid>_...``): the Canvas user id, and the name;
- a folder named as Moodle's assignment download names them, ``<Full Name>_<number>_assignsubmission_file_``:
  the number (Moodle's participant id), and the full name;
- any other per-student folder: the folder's name; any other file at the top: its name without ``.ipynb``.

Two notebooks with one student id are both graded and both marked ``duplicate``: the instructor picks.

**Resuming.** Each result is stored in ``OUT/results/`` under a key made of the notebook's bytes (SHA-256) and file
name, the exercise, the seed, the package version and the limits; a re-run (the seed is kept in ``OUT/class.json``) reuses
every stored result and grades only what is new or changed (``--retry`` also grades again what could not be graded).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

CANVAS_FILE = re.compile(r"^(?P<name>[^_]+?)(?P<late>_LATE)?_(?P<id>\d+)_(?P<submission>\d+)_(?P<file>.+)$")
"""A file of Canvas's submissions download: ``<name>[_LATE]_<userid>_<submissionid>_<original file name>``."""

MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_[a-z]+_?$")
"""A folder of Moodle's assignment download: ``<Full Name>_<participant id>_assignsubmission_file_``."""

PROCESS_MARK = "FLATGAP_CLASS_PROCESS"
"""Environment variable that marks every process a grading child starts (its kernel too), to end them all."""

GRADED, DUPLICATE, NOT_GRADED, IGNORED = "graded", "duplicate", "not graded", "ignored"
"""The statuses of a gradebook row: graded; graded, but the student has another notebook; a notebook that could
not be graded (the reason says why); a file that is not a submission (the reason says why)."""


@dataclasses.dataclass
class Row:
    """One input file and what became of it.

    Attributes:
        file: the file's path inside the submissions (POSIX, as the zip or folder names it).
        student: the student id (see the module docstring). name: the student's name when the LMS gives one.
        status: one of ``GRADED``, ``DUPLICATE``, ``NOT_GRADED``, ``IGNORED``. reason: why, for the last three.
        record: the grader's JSON record of the notebook (``--json``'s ``notebooks[0]``) when it was graded.
        seconds: wall-clock seconds its grading took (0 when it was not run).
        late: Canvas marked the submission late. reused: the result was stored by an earlier run.
    """

    file: str
    student: str
    name: str = ""
    status: str = IGNORED
    reason: str = ""
    record: dict | None = None
    seconds: float = 0.0
    late: bool = False
    reused: bool = False
    source: Path | None = dataclasses.field(default=None, repr=False)

    @property
    def graded(self) -> bool:
        return self.record is not None


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one notebook may use: ``seconds`` of wall-clock time for the whole grading (the kernel's start, every
    cell and every check), ``memory_bytes`` of address space per process (0: no cap), ``cell_seconds`` for one
    cell or check (the single grader's ``--timeout``), and ``max_bytes`` for the notebook file itself."""

    seconds: float = 600.0
    memory_bytes: int = 8 * 2**30
    cell_seconds: float = 300.0
    max_bytes: int = 100 * 2**20

    def key(self) -> str:
        return f"{self.seconds:g}s-{self.memory_bytes}b-{self.cell_seconds:g}c"


# ---------------------------------------------------------------------------------------------- finding the files


def _student_of(parts: tuple[str, ...]) -> tuple[str, str, bool]:
    """(student id, name, late) of a file at ``parts`` inside the submissions (see the module docstring); the id is
    "" for macOS's zip metadata."""
    if parts[0] == "__MACOSX":
        return "", "", False
    if len(parts) > 1:
        match = MOODLE_FOLDER.match(parts[0])
        return (match["id"], match["name"], False) if match else (parts[0], "", False)
    match = CANVAS_FILE.match(parts[0])
    if match:
        return match["id"], match["name"], bool(match["late"])
    return PurePosixPath(parts[0]).stem, "", False


def _ignored_because(parts: tuple[str, ...]) -> str:
    """Why the file at ``parts`` is not a submission, or "" when it is a notebook to grade."""
    if parts[0] == "__MACOSX":
        return "macOS's zip metadata (__MACOSX), not a submission"
    if ".ipynb_checkpoints" in parts:
        return "a Jupyter autosave checkpoint (.ipynb_checkpoints), not the submitted notebook"
    if parts[-1].startswith("."):
        return "a hidden system file, not a submission"
    if not parts[-1].endswith(".ipynb"):
        return f"not a Jupyter notebook (.ipynb): only notebooks are graded{' — unzip it first' if parts[-1].endswith('.zip') else ''}"
    return ""


def _unzip(archive: Path, into: Path, limits: Limits) -> list[Row]:
    """Extract the notebooks of ``archive`` into ``into``; rows for the members that are not extracted."""
    rows = []
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                if member.is_dir():
                    continue
                parts = PurePosixPath(member.filename).parts
                if not parts or member.filename.startswith("/") or ".." in parts:
                    student, name, late = _student_of(parts[-1:]) if parts else ("", "", False)
                    rows.append(Row(member.filename, student, name, IGNORED, "a path outside the zip's folder, not extracted", late=late))
                    continue
                student, name, late = _student_of(parts)
                if _ignored_because(parts):
                    rows.append(Row(member.filename, student, name, IGNORED, _ignored_because(parts), late=late))
                elif member.file_size > limits.max_bytes:
                    rows.append(Row(member.filename, student, name, NOT_GRADED, _too_large(member.file_size, limits), late=late))
                else:
                    bundle.extract(member, into)
    except zipfile.BadZipFile as error:
        raise ValueError(f"{archive} is not a readable zip file ({error}).") from None
    return rows


def _too_large(size: int, limits: Limits) -> str:
    return f"the file is {size / 2**20:.0f} MB, over the limit of {limits.max_bytes / 2**20:.0f} MB for one notebook (--max-megabytes)"


def collect(submissions: Path, workdir: Path, limits: Limits) -> list[Row]:
    """Every file of ``submissions`` (a folder or a zip) as a row; a zip is extracted into ``workdir``.

    Returns rows sorted by file; notebooks to grade have ``status == GRADED`` for now and ``source`` set.

    Raises:
        ValueError: ``submissions`` is neither a folder nor a zip file.
    """
    submissions = Path(submissions)
    rows: list[Row] = []
    if submissions.is_file() and zipfile.is_zipfile(submissions):
        root = workdir / "unzipped"
        root.mkdir(parents=True, exist_ok=True)
        rows += _unzip(submissions, root, limits)
    elif submissions.is_dir():
        root = submissions
    elif submissions.exists():
        raise ValueError(f"{submissions} is neither a folder nor a zip file; give the folder or the zip the LMS downloaded.")
    else:
        raise ValueError(f"{submissions} does not exist.")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        parts = path.relative_to(root).parts
        student, name, late = _student_of(parts)
        row = Row(PurePosixPath(*parts).as_posix(), student, name, GRADED, late=late, source=path)
        reason = _ignored_because(parts)
        if reason:
            row.status, row.reason, row.source = IGNORED, reason, None
        rows.append(row)
    return sorted(rows, key=lambda row: (row.student, row.file))


def unreadable_because(path: Path, limits: Limits) -> str:
    """Why the notebook at ``path`` cannot be graded before it is run (empty, damaged, too large), or ""."""
    import nbformat

    size = path.stat().st_size
    if size == 0:
        return "the file is empty (0 bytes): it was saved or uploaded before it held anything"
    if size > limits.max_bytes:
        return _too_large(size, limits)
    try:
        content = json.loads(path.read_bytes())
    except UnicodeDecodeError:
        return "the file is not text (not UTF-8): it is not a notebook saved by Jupyter, or it was damaged"
    except json.JSONDecodeError as error:
        return f"the file is not valid notebook JSON (line {error.lineno}, column {error.colno}: {error.msg}): it was damaged or is not a saved notebook"
    if not isinstance(content, dict) or "cells" not in content:
        return "the file is JSON but not a Jupyter notebook (it has no cells list)"
    try:
        notebook = nbformat.reads(json.dumps(content), as_version=4)
    except Exception as error:  # nbformat raises several kinds (validation, versions)
        return f"the file is not a valid Jupyter notebook ({type(error).__name__}: {str(error).splitlines()[0]})"
    if not notebook.cells:
        return "the notebook is empty: it has no cells"
    if not any(cell.cell_type == "code" and cell.source.strip() for cell in notebook.cells):
        return "the notebook has no code in any cell: nothing to grade"
    return ""


def mark_duplicates(rows: list[Row]) -> None:
    """Mark every notebook of a student who has more than one as ``DUPLICATE`` (all are still graded)."""
    by_student: dict[str, list[Row]] = {}
    for row in rows:
        if row.status == GRADED:
            by_student.setdefault(row.student, []).append(row)
    for group in by_student.values():
        if len(group) > 1:
            for row in group:
                others = ", ".join(other.file for other in group if other is not row)
                row.status = DUPLICATE
                row.reason = f"student {row.student} has {len(group)} notebooks (also {others}); each is graded, none is chosen: pick one"


# ------------------------------------------------------------------------------------------ grading one notebook


def _end_marked_processes(mark: str) -> None:
    """Kill every process whose environment carries ``PROCESS_MARK=mark`` (a kernel runs in its own session, so
    killing the child's process group alone would leave it running). Linux: read from ``/proc``; elsewhere only
    the process group is ended."""
    wanted = f"{PROCESS_MARK}={mark}".encode()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):  # gone meanwhile, or not ours to read
            continue


def run_limited(command: list[str], cwd: Path, limits: Limits, env: dict | None = None) -> tuple[int | None, str, str]:
    """Run ``command`` in ``cwd`` under ``limits`` (wall clock and memory); end everything it started afterwards.

    Returns:
        (exit status, or None when it ran past ``limits.seconds`` and was killed; its stdout; its stderr)
    """
    mark = secrets.token_hex(8)
    env = dict(os.environ if env is None else env, **{PROCESS_MARK: mark})
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    if limits.memory_bytes and hasattr(__import__("resource"), "prlimit"):
        import resource

        try:  # set on the running child, inherited by the kernel it starts (thread-safe, unlike a preexec_fn)
            resource.prlimit(process.pid, resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        except (ProcessLookupError, PermissionError):
            pass
    try:
        stdout, stderr = process.communicate(timeout=limits.seconds)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        code = None
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _end_marked_processes(mark)
        stdout, stderr = process.communicate()
    _end_marked_processes(mark)  # a kernel or a background process left behind
    return code, stdout, stderr


def _cannot_grade_reason(stdout: str, stderr: str, name: str) -> str:
    """The grader's one sentence for a notebook it could not run (``cannot grade NAME: <reason>``)."""
    for line in stdout.splitlines():
        if line.startswith(f"cannot grade {name}: "):
            return line.removeprefix(f"cannot grade {name}: ").strip()
    lines = [line for line in stderr.splitlines() if line.strip()]
    return f"the grader stopped with an error ({lines[-1].strip()})" if lines else "the grader stopped without a result"


def grade_file(path: Path, exercise: str, seed: int, limits: Limits) -> tuple[dict | None, str, float]:
    """Grade one notebook file in a child process, on a copy in a private folder.

    Returns:
        (the grader's JSON record of the notebook, or None; the reason when there is no record; seconds taken)
    """
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="flatgap-class-") as folder:
        name = path.name if path.suffix == ".ipynb" else "submission.ipynb"
        shutil.copyfile(path, Path(folder) / name)
        result = Path(folder) / "grade.json"
        command = [sys.executable, "-m", "flatgap.grading.cli", name, "--seed", str(seed), "--exercise", exercise,
                   "--timeout", f"{min(limits.cell_seconds, limits.seconds):g}", "--json", str(result)]
        env = dict(os.environ, COLUMNS=os.environ.get("COLUMNS", "110"), TF_CPP_MIN_LOG_LEVEL="3")
        code, stdout, stderr = run_limited(command, Path(folder), limits, env)
        seconds = time.perf_counter() - start
        if code is None:
            return None, (f"stopped after {limits.seconds:g} s, the limit for one notebook (--limit): a cell or a check "
                          "that never ends (an endless loop, a wait for input) or a very slow one"), seconds
        record = json.loads(result.read_text()) if result.exists() else None
        if record and record["notebooks"]:
            return record["notebooks"][0], "", seconds
        if code < 0:
            try:
                how = signal.Signals(-code).name
            except ValueError:
                how = f"signal {-code}"
            return None, f"the grader's process was killed ({how}){' — likely over the memory cap (--memory-gb)' if -code == signal.SIGKILL else ''}", seconds
        if "MemoryError" in stderr:
            return None, f"the grader ran out of memory under the cap of {limits.memory_bytes / 2**30:g} GiB (--memory-gb)", seconds
        return None, _cannot_grade_reason(stdout, stderr, name), seconds


# ------------------------------------------------------------------------------------------------------- the class


def _version() -> str:
    from flatgap import __version__

    return __version__


def result_key(path: Path, file: str, exercise: str, seed: int, limits: Limits) -> str:
    """The key of a stored result: the notebook's bytes and its ``file`` name in the submissions (two students'
    identical copies are two results, each titled by its own file), the exercise, the seed, the package version and
    the limits."""
    digest = hashlib.sha256(path.read_bytes())
    digest.update(f"|{file}|{exercise}|{seed}|{_version()}|{limits.key()}".encode())
    return digest.hexdigest()[:32]


def grade_class(submissions: Path, out: Path, exercise: str, seed: int, limits: Limits = Limits(), workers: int = 2,
                progress=print, retry: bool = False) -> list[Row]:
    """Grade every notebook of ``submissions`` into rows, storing each result under ``out/results``.

    Args:
        submissions: a folder of notebooks, a folder of per-student folders, or an LMS's zip.
        out: the output folder (results are stored in ``out/results`` and reused by a re-run).
        exercise: the exercise's name or prefix (``"ex1"``). seed: the grading seed of the whole class.
        limits: what one notebook may use. workers: notebooks graded at once.
        progress: called with one line per notebook as it is done.
        retry: grade again the notebooks whose stored result is "not graded" (a time limit, a crash).

    Returns:
        One :class:`Row` per input file, sorted by student id then file.
    """
    store = out / "results"
    store.mkdir(parents=True, exist_ok=True)
    printing = threading.Lock()  # one worker's line at a time
    with tempfile.TemporaryDirectory(prefix="flatgap-class-") as workdir:
        rows = collect(submissions, Path(workdir), limits)
        to_grade = []
        for row in rows:
            if row.status == GRADED:
                row.reason = unreadable_because(row.source, limits)
                if row.reason:
                    row.status = NOT_GRADED
                else:
                    to_grade.append(row)
        mark_duplicates(rows)

        def grade_row(row: Row) -> None:
            stored = store / f"{result_key(row.source, row.file, exercise, seed, limits)}.json"
            kept = json.loads(stored.read_text()) if stored.exists() else None
            if kept is not None and not (retry and kept["record"] is None):
                row.record, problem, row.seconds, row.reused = kept["record"], kept["reason"], kept["seconds"], True
                again = " (stored result reused)"
            else:
                row.record, problem, row.seconds = grade_file(row.source, exercise, seed, limits)
                stored.write_text(json.dumps({"file": row.file, "record": row.record, "reason": problem, "seconds": row.seconds}, indent=1) + "\n")
                again = ""
            if row.record is None:
                row.status, row.reason = NOT_GRADED, problem
            score = f"{row.record['score']} / {row.record['total']} points" if row.record else f"not graded: {problem}"
            with printing:
                progress(f"{row.file}: {score} ({row.seconds:.1f} s){again}")

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(grade_row, to_grade))
    for row in rows:
        row.source = None
    return rows


def class_seed(out: Path, exercise: str, seed: int | None) -> int:
    """The class's grading seed: ``seed`` when given, else the one ``out/class.json`` kept, else a new one."""
    from flatgap.grading.harness import new_seed

    settings = out / "class.json"
    if seed is None and settings.exists():
        kept = json.loads(settings.read_text())
        if kept.get("exercise") == exercise:
            return int(kept["seed"])
    return new_seed() if seed is None else seed


def main(argv: list[str] | None = None) -> int:
    """``flatgap-grade class SUBMISSIONS --exercise exN [--out OUT] [--seed S] [--workers N] [--limit T] ...``."""
    from flatgap.grading import gradebook
    from flatgap.grading.manifest import find

    parser = argparse.ArgumentParser(
        prog="flatgap-grade class",
        description="Grade a class: every notebook of a folder, of per-student folders or of an LMS's zip, into a "
        "gradebook CSV, one feedback file per student and a summary per question.",
    )
    parser.add_argument("submissions", type=Path, help="a folder of notebooks, a folder of per-student folders, or the zip the LMS downloads")
    parser.add_argument("--exercise", required=True, help="which exercise every notebook is, e.g. ex1 or ex1_numpy_layers")
    parser.add_argument("--out", type=Path, help="output folder (default: grades/<exercise>)")
    parser.add_argument("--seed", type=int, help="seed of the random cases, the same for the whole class (default: the one OUT/class.json kept, else a new one)")
    parser.add_argument("--workers", type=int, default=2, help="notebooks graded at once (default 2)")
    parser.add_argument("--limit", type=float, default=600, help="seconds one notebook may take in all (default 600)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one cell or one check may run (default 300)")
    parser.add_argument("--memory-gb", type=float, default=8, help="memory cap of each grading process, in GiB (default 8; 0: none)")
    parser.add_argument("--max-megabytes", type=float, default=100, help="largest notebook file graded, in MB (default 100)")
    parser.add_argument("--retry", action="store_true", help="grade again the notebooks a previous run could not grade (stored results are reused otherwise)")
    parser.add_argument("--assignment", help="the Canvas assignment column of canvas.csv (default: the exercise's name)")
    args = parser.parse_args(argv)
    try:
        exercise = find(args.exercise)
    except KeyError as error:
        print(f"cannot grade the class: {error.args[0]}", file=sys.stderr)
        return 2
    for option in ("workers", "limit", "timeout"):
        if getattr(args, option) <= 0:
            print(f"cannot grade the class: --{option} must be a positive number, got {getattr(args, option)}", file=sys.stderr)
            return 2
    out = args.out or Path("grades") / exercise.name
    out.mkdir(parents=True, exist_ok=True)
    seed = class_seed(out, exercise.name, args.seed)
    limits = Limits(args.limit, int(args.memory_gb * 2**30), args.timeout, int(args.max_megabytes * 2**20))
    (out / "class.json").write_text(json.dumps({"exercise": exercise.name, "seed": seed, "version": _version()}, indent=1) + "\n")
    print(f"grading {args.submissions} as {exercise.name}, random cases from seed {seed} "
          f"(a re-run reuses it and skips what is graded; --seed {seed} repeats it elsewhere)", flush=True)
    start = time.perf_counter()
    try:
        rows = grade_class(args.submissions, out, exercise.name, seed, limits, args.workers, lambda line: print(line, flush=True), args.retry)
    except ValueError as error:
        print(f"cannot grade the class: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    written = gradebook.write_all(rows, exercise, seed, _version(), out, args.assignment or exercise.name, seconds, args.workers)
    print("\n".join(f"wrote {path}" for path in written))
    return 0
