"""Grading where nothing the student's code can reach decides the grade (issue 23).

Three notebooks (``tests/grading_tricks.py``) hold the tricks of the issue, each on its own question, so that one
kernel run grades several: each trick earns 0 for its question and costs nothing elsewhere, and the controls
(``np.einsum``, helper functions, extra cells, type hints) still pass. The unit tests below prove the pieces in
process: plain data with exact types, and a line count that sees every thread, library code, and a tracer switched off.
"""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grading_tricks as tricks  # noqa: E402

from flatgap.grading import kernelside  # noqa: E402
from flatgap.grading.harness import Check, LocalFunction  # noqa: E402

SEED = 23


def grade_tricks(key: str, tmp_path, **kwargs):
    from flatgap.grading.runner import grade

    name, build = tricks.NOTEBOOKS[key]
    notebook = build(**kwargs) if kwargs else build()
    return grade(notebook, tmp_path, f"{name}.ipynb", seed=SEED, timeout=kwargs.get("slow", 2) * 2 + 2 if kwargs else 20)


def trick_questions(key: str) -> dict[str, str]:
    return {question: trick for trick, where, question in tricks.TRICKS if where == key}


@pytest.mark.notebooks
def test_exercise_1_every_crafted_trick_and_the_thread_pool_earn_nothing(tmp_path):
    result = grade_tricks("ex1", tmp_path)
    by_question = result.by_question()
    assert result.score == 0, {q: (o.earned, o.message) for q, o in by_question.items()}
    assert set(trick_questions("ex1")) == set(by_question)
    messages = {q: o.message for q, o in by_question.items()}
    assert "every value you returned is 0" in messages["ex1-q1"]  # the lying subclass arrived as a plain array of zeros
    assert "you summed" in messages["ex1-q3"]  # the numpy proxy changed nothing in the grader
    assert "threads do not vectorize a loop" in messages["ex1-q6"]  # the honest thread pool, traced in its threads
    assert "Peek, a subclass of int; return a plain int" in messages["ex1-q8"]  # the frame peeker refused and named
    assert "expected 31370, got 0" in messages["ex1-q9"]  # the poisoned importer cache did not reach the checker


@pytest.mark.notebooks
def test_exercise_4_vectorization_tricks_a_table_and_a_thread_pool_earn_nothing_and_controls_pass(tmp_path):
    result = grade_tricks("ex4", tmp_path)
    by_question = result.by_question()
    earned = {q: o.earned for q, o in by_question.items()}
    assert earned == {"ex4-q1": 0, "ex4-q2": 0, "ex4-q3": 1, "ex4-q4": 1, "ex4-q5": 0, "ex4-q6": 0}, {q: o.message for q, o in by_question.items()}
    assert "tracing was disabled by your code" in by_question["ex4-q1"].message
    assert "expected a vectorized implementation" in by_question["ex4-q2"].message  # the busy loop diluted nothing
    assert re.match(r"binomial_kernel\((1\d|20)\) \(random case, seed 23\)", by_question["ex4-q5"].message)  # a size of 10 to 20
    assert "threads do not vectorize a loop" in by_question["ex4-q6"].message


@pytest.mark.notebooks
def test_spoofed_files_library_loops_an_endless_cell_a_redefinition_and_a_slow_answer(tmp_path):
    result = grade_tricks("ex4b", tmp_path, slow=1.0)
    by_question = result.by_question()
    earned = {q: o.earned for q, o in by_question.items()}
    assert earned == {"ex4-q1": 0, "ex4-q2": 0, "ex4-q3": 1, "ex4-q4": 0, "ex4-q5": 0, "ex4-q6": 0}, {q: o.message for q, o in by_question.items()}
    assert "expected a vectorized implementation" in by_question["ex4-q1"].message  # co_filename spoofed: every line counts
    assert "expected a vectorized implementation" in by_question["ex4-q2"].message  # the loop ran in map and np.mean
    assert "took longer than 4 s, the limit of one check" in by_question["ex4-q4"].message and "--timeout" in by_question["ex4-q4"].message
    redefined = by_question["ex4-q5"].message
    assert "box blur" in redefined and "after the graded cell (code cell" in redefined and "defines binomial_kernel again" in redefined
    assert "blur_downsample is not defined" in by_question["ex4-q6"].message  # graded without the endless cell
    notes = "\n".join(result.notes)
    assert "did not stop when interrupted, so the grader stopped its kernel" in notes and "again without that cell" in notes


def test_plain_data_keeps_exact_types_and_refuses_subclasses():
    values = [None, True, 3, 2**70, 0.1, float("nan"), "text", (1, 2.5), [np.float32(1.5), np.int64(7)], {"a": np.arange(6).reshape(2, 3)}]
    for value in values:
        back = kernelside.decode(kernelside.encode(value))
        assert type(back) is type(value) or (value != value)
        assert repr(back) == repr(value) or isinstance(value, dict)
    array = kernelside.decode(kernelside.encode(np.arange(4.0).reshape(2, 2)[:, ::-1]))
    assert type(array) is np.ndarray and array.tolist() == [[1.0, 0.0], [3.0, 2.0]]

    class Liar(np.ndarray):
        def __array_function__(self, *args, **kwargs):
            return True

    assert type(kernelside.decode(kernelside.encode(np.zeros(3).view(Liar)))) is np.ndarray  # copied to the base class
    for sneaky, name in [(type("Peek", (int,), {})(0), "Peek, a subclass of int"), (type("F", (float,), {})(1.0), "F, a subclass of float"), (type("N", (np.float64,), {})(1.0), "N, a subclass of float")]:
        with pytest.raises(kernelside.Unplain, match=name):
            kernelside.encode(sneaky)
    with pytest.raises(kernelside.Unplain, match="dtype object"):
        kernelside.encode(np.array([object()]))
    with pytest.raises(ValueError):
        kernelside.decode({"a": "not an array"})


def loop_in_threads(n):
    from concurrent.futures import ThreadPoolExecutor

    out = np.zeros(n)

    def one(i):
        out[i] = i

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, range(n)))
    return out


def switched_off(n):
    sys.settrace(None)
    for _ in range(n):
        pass
    return n


def busy_then_loop(n):
    for _ in range(5000):
        pass
    return [np.mean(np.ones(3)) for _ in range(n)]


SPOOF = compile("def spoofed(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n", np.__file__, "exec")
exec(SPOOF)  # defines spoofed(), whose code claims to be numpy's own file


def test_the_line_count_sees_every_thread_library_code_and_a_tracer_switched_off():
    small, large = (kernelside.measured_call(loop_in_threads, (n,))[1] for n in (3, 60))
    assert large["lines"] - small["lines"] > 100 and large["threads"] > 1
    assert kernelside.measured_call(switched_off, (3,))[1]["disabled"]
    counts = [kernelside.measured_call(busy_then_loop, (n,))[1]["lines"] for n in (1, 20)]
    assert counts[1] - counts[0] > 100  # a difference: the busy loop dilutes nothing
    counts = [kernelside.measured_call(spoofed, (n,))[1]["lines"] for n in (1, 20)]  # noqa: F821
    assert counts[1] - counts[0] >= 38
    assert sys.gettrace() is None and threading.gettrace() is None


def test_forbidden_packages_are_seen_in_every_thread():
    import json

    def in_a_thread():
        worker = threading.Thread(target=lambda: json.dumps({"a": 1}))
        worker.start()
        worker.join()
        return 0

    assert kernelside.measured_call(in_a_thread, (), ("json",))[1]["packages"] == ["json"]


def test_a_check_of_a_switched_off_tracer_gives_no_credit():
    check = Check(LocalFunction(lambda x: switched_off(3) and x), "f")
    with pytest.raises(AssertionError, match="tracing was disabled by your code"):
        check.vectorized(("small", (np.zeros(2),)), ("large", (np.zeros(20),)), "no loop", "vectorize")
