"""Grading a class (issue 25): ``flatgap-grade class`` over an LMS's zip, into a gradebook, feedback and a summary.

The class is generated: Canvas-named copies of the exercise 1 solution (NumPy only: a kernel starts in seconds),
of honest-mistake variants of it (``test_grading_trust.WRONG``), of trivial answers and of the shipped exercise,
plus a duplicate, a notebook that hangs, a corrupt file, an empty notebook, a text file and macOS's zip metadata.
One run grades it with two workers (a module fixture); every test reads that run. The fast tests at the end
check the pieces (student ids, reasons, limits) without a kernel.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from test_grading_trust import WRONG, insert_after, solution, table_lines

from flatgap import __version__
from flatgap.book.notebooks import notebook_text
from flatgap.grading import batch
from flatgap.grading.generate import replace_regions, trivial_variant
from flatgap.grading.notebooks import read_notebook

ROOT = Path(__file__).resolve().parent.parent
NAME = "ex1_numpy_layers"
SEED = 2525
LIMIT = 120  # seconds per notebook: a solution takes 15 to 40 s on two busy cores; the hanging one is killed at this
QUESTIONS = [f"ex1-q{i}" for i in range(1, 10)]
POINTS = {"ex1-q1": 1, "ex1-q2": 1, "ex1-q3": 1, "ex1-q4": 2, "ex1-q5": 2, "ex1-q6": 3, "ex1-q7": 2, "ex1-q8": 1, "ex1-q9": 1}


def wrong(*questions):
    return replace_regions(solution(), lambda region: WRONG[region.question], questions=set(questions))


def with_cell(source: str):
    notebook = solution()
    insert_after(notebook, "from flatgap.grading.ex1 import", source)
    return notebook


def canvas_name(name: str, user: int, submission: int, late: bool = False, file: str = f"{NAME}.ipynb") -> str:
    return f"{name}{'_LATE' if late else ''}_{user}_{submission}_{file}"


def class_members():
    """{file name in the zip: (bytes, student id, expected status, {question: points} or None)}."""
    full = dict(POINTS)
    nothing = dict.fromkeys(POINTS, 0)

    def without(*questions):
        return full | dict.fromkeys(questions, 0)

    graded = {  # (name, user id, notebook, expected points, late)
        1001: ("adamsann", solution(), full, False),
        1002: ("bakerben", wrong("ex1-q1"), without("ex1-q1"), False),
        1003: ("clarkcara", wrong("ex1-q3"), without("ex1-q3"), False),
        1004: ("davisdan", wrong("ex1-q4"), without("ex1-q4"), True),
        1005: ("evanseve", wrong("ex1-q5"), without("ex1-q5"), False),
        1006: ("fosterfay", wrong("ex1-q8", "ex1-q9"), without("ex1-q8", "ex1-q9"), False),
        1007: ("garciagus", trivial_variant(solution(), "none"), nothing, False),
        1008: ("hallhana", trivial_variant(solution(), "zeros"), nothing, False),
        1009: ("ibarraivo", read_notebook(ROOT / "exercises" / f"{NAME}.ipynb"), nothing, False),
        1010: ("jonesjan", with_cell("print(1 / 0)  # a cell that raises"), full, False),
    }
    members = {}
    for user, (name, notebook, points, late) in graded.items():
        members[canvas_name(name, user, user + 4000, late)] = (notebook_text(notebook).encode(), str(user), "graded", points)
    # One student, two notebooks (Canvas numbers a second file of the same name): both graded, both flagged.
    members[canvas_name("kimkai", 1011, 5011)] = (notebook_text(solution()).encode(), "1011", "duplicate", full)
    members[canvas_name("kimkai", 1011, 5011, file=f"{NAME}-1.ipynb")] = (notebook_text(wrong("ex1-q2")).encode(), "1011", "duplicate", without("ex1-q2"))
    hang = with_cell("while True:  # never ends\n    pass")
    members[canvas_name("hughharry", 1000, 5000)] = (notebook_text(hang).encode(), "1000", "not graded", None)
    members[canvas_name("morenomo", 1013, 5013)] = (notebook_text(solution()).encode()[:5000], "1013", "not graded", None)
    members[canvas_name("nguyenno", 1014, 5014)] = (notebook_text(nbformat.v4.new_notebook()).encode(), "1014", "not graded", None)
    members[canvas_name("owensoli", 1015, 5015, file="notes.txt")] = (b"I could not finish question 6.\n", "1015", "ignored", None)
    members[f"__MACOSX/._{canvas_name('adamsann', 1001, 5001)}"] = (b"\0\5\26\7", "", "ignored", None)
    return members


def run_class(submissions: Path, out: Path, workers: int = 2) -> tuple[subprocess.CompletedProcess, float]:
    command = [sys.executable, "-m", "flatgap.grading.cli", "class", str(submissions), "--exercise", "ex1", "--out", str(out),
               "--seed", str(SEED), "--limit", str(LIMIT), "--timeout", "300", "--workers", str(workers)]
    start = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True, timeout=1200, env=dict(os.environ, COLUMNS="110"))
    return process, time.perf_counter() - start


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    members = class_members()
    archive = folder / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name, (content, *_) in members.items():
            bundle.writestr(name, content)
    out = folder / "grades"
    process, seconds = run_class(archive, out)
    assert process.returncode == 0, process.stdout + process.stderr
    print(f"\nthe class of {len(members)} files took {seconds:.0f} s with 2 workers")
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {"folder": folder, "archive": archive, "out": out, "members": members, "rows": rows, "stdout": process.stdout, "seconds": seconds}


@pytest.mark.notebooks
def test_every_file_has_one_row_with_its_points_status_and_reason(graded_class):
    rows = {row["file"]: row for row in graded_class["rows"]}
    members = graded_class["members"]
    assert sorted(rows) == sorted(members), "every input file appears once in the gradebook, nothing else does"
    for file, (_, student, status, points) in members.items():
        row = rows[file]
        assert (row["ID"], row["status"]) == (student, status), row
        assert (row["seed"], row["version"]) == (str(SEED), __version__)
        if points is None:
            assert row["ex1_numpy_layers"] == "" and all(row[q] == "" for q in QUESTIONS) and row["reason"], row
        else:
            assert {q: int(row[q]) for q in QUESTIONS} == points, (file, row)
            assert int(row["ex1_numpy_layers"]) == sum(points.values())
    by_student = {row["ID"]: row for row in graded_class["rows"] if row["file"].endswith(f"{NAME}.ipynb")}
    assert by_student["1001"]["Student"] == "adamsann" and by_student["1004"]["late"] == "late"
    assert "stopped after 120 s, the limit for one notebook" in by_student["1000"]["reason"]
    assert "not valid notebook JSON (line" in by_student["1013"]["reason"]
    assert by_student["1014"]["reason"] == "the notebook is empty: it has no cells"
    assert "has 2 notebooks (also " in by_student["1011"]["reason"]
    notes = rows[canvas_name("owensoli", 1015, 5015, file="notes.txt")]["reason"]
    assert notes.startswith("not a Jupyter notebook (.ipynb)")
    assert "macOS" in rows[f"__MACOSX/._{canvas_name('adamsann', 1001, 5001)}"]["reason"]


@pytest.mark.notebooks
def test_canvas_csv_holds_one_score_per_graded_student_and_no_one_else(graded_class):
    with (graded_class["out"] / "canvas.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ex1_numpy_layers"]
        scores = {row["ID"]: int(row["ex1_numpy_layers"]) for row in reader}
    expected = {student: sum(points.values()) for content, student, status, points in graded_class["members"].values() if status == "graded"}
    assert scores == expected


@pytest.mark.notebooks
def test_a_students_feedback_and_row_are_what_make_grade_prints_for_that_notebook_alone(graded_class, tmp_path):
    file = canvas_name("fosterfay", 1006, 5006)
    path = tmp_path / file
    path.write_bytes(graded_class["members"][file][0])
    command = [sys.executable, "-m", "flatgap.grading.cli", str(path), "--seed", str(SEED), "--json", str(tmp_path / "alone.json")]
    process = subprocess.run(command, capture_output=True, text=True, timeout=600, env=dict(os.environ, COLUMNS="110"))
    assert process.returncode == 0, process.stdout + process.stderr
    feedback = (graded_class["out"] / "feedback" / "1006.md").read_text()
    assert table_lines(feedback.split("```text", 1)[1].split("```", 1)[0]) == table_lines(process.stdout), feedback + process.stdout
    alone = json.loads((tmp_path / "alone.json").read_text())["notebooks"][0]
    row = next(row for row in graded_class["rows"] if row["file"] == file)
    assert {q["question"]: q["earned"] for q in alone["questions"]} == {q: int(row[q]) for q in QUESTIONS}
    assert alone["score"] == int(row["ex1_numpy_layers"]) == 12


@pytest.mark.notebooks
def test_feedback_says_why_for_files_that_were_not_graded(graded_class):
    feedback = graded_class["out"] / "feedback"
    assert {path.stem for path in feedback.glob("*.md")} == {student for _, student, _, _ in graded_class["members"].values() if student}
    assert "**Not graded**: stopped after 120 s" in (feedback / "1000.md").read_text()
    both = (feedback / "1011.md").read_text()
    assert both.count("```text") == 2 and "**More than one notebook**" in both and "score: 14 / 14 points" in both and "score: 13 / 14 points" in both
    assert "**Ignored**: not a Jupyter notebook" in (feedback / "1015.md").read_text()


@pytest.mark.notebooks
def test_the_summary_gives_pass_rates_frequent_messages_and_what_was_not_graded(graded_class):
    summary = (graded_class["out"] / "summary.md").read_text()
    members = graded_class["members"].values()
    statuses = [status for _, _, status, _ in members]
    students = {student for _, student, status, _ in members if status != "ignored"}
    assert (f"- {len(statuses)} files: {statuses.count('graded')} graded, {statuses.count('duplicate')} graded but duplicates, "
            f"{statuses.count('not graded')} could not be graded, {statuses.count('ignored')} ignored; {len(students)} students") in summary
    rates = {line.split("|")[1].strip(): line.split("|")[3].strip() for line in summary.splitlines() if line.startswith("| ex1-q")}
    graded = [points for _, _, _, points in members if points is not None]
    for question in QUESTIONS:
        passed = sum(points[question] > 0 for points in graded)
        assert rates[question] == f"{passed} / {len(graded)} ({100 * passed / len(graded):.0f} %)", (question, rates[question])
    q3 = next(line for line in summary.splitlines() if line.startswith("| ex1-q3 "))
    assert "you summed; GAP takes the mean (divide by H*W) (1)" in q3, q3  # the honest mistake's hint, counted
    ungraded = summary.split("## Could not be graded", 1)[1].split("## Duplicates", 1)[0]
    assert all(f"(student {student})" in ungraded for student in ("1000", "1013", "1014"))


@pytest.mark.notebooks
def test_a_rerun_reuses_every_stored_result(graded_class):
    before = (graded_class["out"] / "gradebook.csv").read_text()
    process, seconds = run_class(graded_class["archive"], graded_class["out"])
    assert process.returncode == 0, process.stderr
    graded_lines = [line for line in process.stdout.splitlines() if ".ipynb: " in line]
    assert len(graded_lines) == 13 and all(line.endswith("(stored result reused)") for line in graded_lines), process.stdout
    assert (graded_class["out"] / "gradebook.csv").read_text() == before
    assert "- this run: 0 notebooks graded, 13 stored results reused" in (graded_class["out"] / "summary.md").read_text()
    assert seconds < 60, f"a re-run with nothing new took {seconds:.0f} s"


# ---------------------------------------------------------------------------------------- the pieces, no kernel


@pytest.mark.parametrize(
    ("path", "student", "name", "late"),
    [
        (("smithjane_4321_98765_ex1_numpy_layers.ipynb",), "4321", "smithjane", False),
        (("smithjane_LATE_4321_98765_ex1_numpy_layers-2.ipynb",), "4321", "smithjane", True),
        (("Jane Smith_12345_assignsubmission_file_", "ex1_numpy_layers.ipynb"), "12345", "Jane Smith", False),
        (("jsmith", "work", "ex1.ipynb"), "jsmith", "", False),
        (("jsmith.ipynb",), "jsmith", "", False),
    ],
)
def test_student_ids_follow_canvas_moodle_folder_and_file_names(path, student, name, late):
    assert batch._student_of(path) == (student, name, late)


def test_unreadable_notebooks_get_a_reason_and_good_ones_none(tmp_path):
    limits = batch.Limits(max_bytes=10**6)
    cases = {
        "empty.ipynb": (b"", "the file is empty (0 bytes)"),
        "binary.ipynb": (b"\xff\xfe\x00PK", "not text (not UTF-8)"),
        "cut.ipynb": (b'{"cells": [', "not valid notebook JSON (line 1, column 12"),
        "list.ipynb": (b"[1, 2]", "JSON but not a Jupyter notebook"),
        "blank.ipynb": (notebook_text(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi")])).encode(), "no code in any cell"),
        "huge.ipynb": (b" " * (10**6 + 1), "over the limit of 1 MB"),
        "good.ipynb": ((ROOT / "solutions" / f"{NAME}.ipynb").read_bytes(), ""),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        found = batch.unreadable_because(tmp_path / name, limits)
        assert (reason in found) if reason else found == "", (name, found)


def test_a_zip_with_unsafe_paths_and_folders_is_collected_without_losing_a_file(tmp_path):
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("Jane Smith_12345_assignsubmission_file_/ex1_numpy_layers.ipynb", "{}")
        bundle.writestr("Jane Smith_12345_assignsubmission_file_/.ipynb_checkpoints/ex1_numpy_layers-checkpoint.ipynb", "{}")
        bundle.writestr("Jane Smith_12345_assignsubmission_file_/ex1 (1).ipynb", "{}")
        bundle.writestr("Bo Li_777_assignsubmission_file_/answers.zip", "PK")
        bundle.writestr("../escape.ipynb", "{}")
    rows = batch.collect(archive, tmp_path / "work", batch.Limits())
    assert not (tmp_path / "escape.ipynb").exists()
    found = {row.file: (row.student, row.status) for row in rows}
    assert found == {
        "../escape.ipynb": ("escape", "ignored"),
        "Bo Li_777_assignsubmission_file_/answers.zip": ("777", "ignored"),
        "Jane Smith_12345_assignsubmission_file_/.ipynb_checkpoints/ex1_numpy_layers-checkpoint.ipynb": ("12345", "ignored"),
        "Jane Smith_12345_assignsubmission_file_/ex1 (1).ipynb": ("12345", "graded"),
        "Jane Smith_12345_assignsubmission_file_/ex1_numpy_layers.ipynb": ("12345", "graded"),
    }
    batch.mark_duplicates(rows)
    assert [row.status for row in rows if row.student == "12345" and row.file.endswith(").ipynb")] == ["duplicate"]
    assert "unzip it first" in next(row.reason for row in rows if row.student == "777")
    (tmp_path / "grades.txt").write_text("not a zip")
    with pytest.raises(ValueError, match="neither a folder nor a zip file"):
        batch.collect(tmp_path / "grades.txt", tmp_path / "work", batch.Limits())


def test_the_wall_clock_limit_ends_the_child_and_a_process_it_started_in_its_own_session(tmp_path):
    started = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
        f"open({str(started)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(600)\n"
    )
    start = time.perf_counter()
    status, _, _ = batch.run_limited([sys.executable, "-c", code], tmp_path, batch.Limits(seconds=3, memory_bytes=0))
    assert status is None and time.perf_counter() - start < 30
    grandchild = int(started.read_text())
    time.sleep(0.5)
    assert not Path(f"/proc/{grandchild}").exists() or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split()[2], "the grandchild in its own session was not ended"


def test_the_memory_cap_applies_to_the_child(tmp_path):
    code = "try:\n    bytearray(2 * 2**30)\nexcept MemoryError:\n    raise SystemExit(42)\n"
    status, _, stderr = batch.run_limited([sys.executable, "-c", code], tmp_path, batch.Limits(seconds=60, memory_bytes=1 * 2**30))
    assert status == 42, stderr
