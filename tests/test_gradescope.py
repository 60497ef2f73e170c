"""The Gradescope autograder (issue 25): the zip's layout, and ``run_autograder`` run locally on a correct and a
wrong submission in a scratch folder laid out like Gradescope's ``/autograder``, its ``results.json`` checked
against Gradescope's documented schema (gradescope-autograders.readthedocs.io, "Autograder Specifications").

``setup.sh`` is not run here: it installs the learner's pins from PyPI (the tests run offline). ``run_autograder``
runs with this environment's Python (``FLATGAP_AUTOGRADER_PYTHON``), in place of the venv setup.sh makes.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_grading_trust import WRONG, solution

from flatgap.book.notebooks import write_notebook
from flatgap.grading.generate import replace_regions
from flatgap.grading.gradescope import build_zip
from flatgap.grading.manifest import find

ROOT = Path(__file__).resolve().parent.parent
NAME = "ex1_numpy_layers"
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags", "visibility", "extra_data"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    """The zip, built with a stand-in for the wheel (building the real one needs PyPI: `make gradescope` does it)."""
    folder = tmp_path_factory.mktemp("gradescope")
    wheel = folder / "flatgap-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as stand_in:
        stand_in.writestr("flatgap/__init__.py", "")
    return build_zip("ex1", folder / "zip", wheel=wheel, limit=300, timeout=120, memory_gb=8)


def test_the_zip_holds_setup_run_autograder_the_pins_and_the_wheel_at_its_root(autograder):
    with zipfile.ZipFile(autograder) as bundle:
        names = set(bundle.namelist())
        assert names == {"setup.sh", "run_autograder", "autograder.json", "learner.txt", "flatgap-0.0.0-py3-none-any.whl"}
        for script in ("setup.sh", "run_autograder"):
            assert stat.S_IMODE(bundle.getinfo(script).external_attr >> 16) & 0o111, f"{script} is not executable"
            assert bundle.read(script).startswith(b"#!/usr/bin/env bash\n")
        assert bundle.read("learner.txt") == (ROOT / "requirements" / "learner.txt").read_bytes()
        assert json.loads(bundle.read("autograder.json")) == {"exercise": NAME, "limit": 300, "timeout": 120, "memory_gb": 8}
        setup = bundle.read("setup.sh").decode()
    assert "pip install --quiet -r learner.txt" in setup and "pip install --quiet --no-deps ./flatgap-*.whl" in setup
    for script in ("setup.sh", "run_autograder"):
        syntax = subprocess.run(["bash", "-n", "/dev/stdin"], input=zipfile.ZipFile(autograder).read(script), capture_output=True)
        assert syntax.returncode == 0, syntax.stderr


def test_a_bad_exercise_or_wheel_is_refused_in_one_sentence(tmp_path):
    with pytest.raises(ValueError, match="no exercise 'ex99'"):
        build_zip("ex99", tmp_path, wheel=tmp_path / "x.whl")
    (tmp_path / "other.whl").write_text("")
    with pytest.raises(ValueError, match="is not a flatgap wheel"):
        build_zip("ex1", tmp_path, wheel=tmp_path / "other.whl")


def run_autograder(autograder: Path, scratch: Path, submission: dict[str, object]) -> dict:
    """Lay out ``scratch`` like Gradescope's /autograder, put ``submission`` ({file: notebook or bytes}) in it, run
    ``run_autograder`` and return results.json."""
    (scratch / "source").mkdir(parents=True)
    (scratch / "submission").mkdir()
    (scratch / "results").mkdir()
    with zipfile.ZipFile(autograder) as bundle:
        bundle.extractall(scratch / "source")
    for name, content in submission.items():
        if isinstance(content, bytes):
            (scratch / "submission" / name).write_bytes(content)
        else:
            write_notebook(content, scratch / "submission" / name)
    env = dict(os.environ, FLATGAP_AUTOGRADER_ROOT=str(scratch), FLATGAP_AUTOGRADER_PYTHON=sys.executable, FLATGAP_GRADING_SEED="2526")
    process = subprocess.run(["bash", str(scratch / "source" / "run_autograder")], capture_output=True, text=True, timeout=600, env=env)
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads((scratch / "results" / "results.json").read_text())


def check_schema(results: dict) -> None:
    """``results`` follows Gradescope's results.json schema, with one test per question of exercise 1."""
    assert set(results) <= TOP_KEYS and results["visibility"] in VISIBILITIES and results["stdout_visibility"] in VISIBILITIES
    assert isinstance(results["execution_time"], int) and isinstance(results["output"], str)
    questions = find("ex1").questions
    assert len(results["tests"]) == len(questions)
    for test, question in zip(results["tests"], questions, strict=True):
        assert set(test) <= TEST_KEYS and {"score", "max_score", "name", "output", "visibility"} <= set(test)
        assert test["name"].startswith(f"{question.id}: ") and test["max_score"] == question.points
        assert test["status"] in {"passed", "failed"} and test["visibility"] in VISIBILITIES
        assert test["score"] == (question.points if test["status"] == "passed" else 0)
    assert results["score"] == sum(test["score"] for test in results["tests"])


@pytest.mark.notebooks
def test_run_autograder_gives_full_marks_to_the_solution(autograder, tmp_path):
    results = run_autograder(autograder, tmp_path, {f"{NAME}.ipynb": solution()})
    check_schema(results)
    assert results["score"] == 14 and all(test["output"] == "passed" for test in results["tests"])
    assert "score: 14 / 14 points" in results["output"] and "seed 2526" in results["output"]


@pytest.mark.notebooks
def test_run_autograder_gives_a_wrong_answer_no_credit_and_the_checkers_message(autograder, tmp_path):
    wrong = replace_regions(solution(), lambda region: WRONG[region.question], questions={"ex1-q3"})
    results = run_autograder(autograder, tmp_path, {"my answers.ipynb": wrong, "notes.txt": b"see the notebook"})
    check_schema(results)
    by_name = {test["name"].split(":")[0]: test for test in results["tests"]}
    assert results["score"] == 13 and by_name["ex1-q3"]["score"] == 0
    assert by_name["ex1-q3"]["output"].startswith("gap_forward(x) with x of shape") and "you summed; GAP takes the mean" in by_name["ex1-q3"]["output"]
    assert "score: 13 / 14 points" in results["output"]


def test_run_autograder_explains_a_submission_it_cannot_grade(autograder, tmp_path):
    results = run_autograder(autograder, tmp_path, {"answers.txt": b"I wrote it in a text file"})
    check_schema(results)
    assert results["score"] == 0 and "no notebook (.ipynb) was submitted: upload ex1_numpy_layers.ipynb" in results["output"]
    assert all(test["output"].startswith("not graded: no notebook") for test in results["tests"])
