"""Grading where nothing the student's code can reach decides the grade (issue 23).

Seven notebooks (``tests/grading_tricks.py``) hold the tricks of the issue, each on its own question, so that one
kernel run grades several; four of them target the three questions whose functions take or return Keras models.
Each trick earns 0 for its question and costs nothing elsewhere, and the controls (``np.einsum``, helper functions,
extra cells, type hints) still pass. The unit tests below prove the pieces in process: plain data with exact types,
Keras models as ``.keras`` files loaded in safe mode, and a line count that sees every thread, library code, and a
tracer switched off.
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


@pytest.mark.notebooks
@pytest.mark.parametrize("key", ["ex2", "ex2b"])
def test_exercise_2_keras_tricks_earn_nothing_now_that_models_are_judged_in_the_graders_process(key, tmp_path):
    result = grade_tricks(key, tmp_path)
    by_question = result.by_question()
    earned = {q: o.earned for q, o in by_question.items()}
    assert earned == {"ex2-q1": 0, "ex2-q2": 2, "ex2-q3": 2, "ex2-q4": 1, "ex2-q5": 0}, {q: o.message for q, o in by_question.items()}
    assert set(trick_questions(key)) == {"ex2-q1", "ex2-q5"}
    q1, q5 = by_question["ex2-q1"].message, by_question["ex2-q5"].message
    if key == "ex2":  # GMP under GAP's name does not reload; the patched keras.Model.__call__ stays in the kernel
        assert "build_gap_model must return a keras.Model built from keras.layers; it could not be saved and reloaded: it holds GlobalAveragePooling2D (a class of your own)" in q1
        assert "every value you returned is 0" in q5
    else:  # np.allclose rebound in the kernel is not the grader's; the poisoned importer cache reaches no checker
        assert "use Dense(num_classes, activation='softmax')" in q1
        assert "leave the bias out" in q5
    assert "Traceback" not in q1 + q5


@pytest.mark.notebooks
@pytest.mark.parametrize("key", ["ex3", "ex3b"])
def test_exercise_3_keras_tricks_earn_nothing_now_that_models_are_judged_in_the_graders_process(key, tmp_path):
    result = grade_tricks(key, tmp_path)
    by_question = result.by_question()
    earned = {q: o.earned for q, o in by_question.items()}
    assert earned == {"ex3-q1": 2, "ex3-q2": 0, "ex3-q3": 2, "ex3-q4": 2, "ex3-q5": 1}, {q: o.message for q, o in by_question.items()}
    message = by_question["ex3-q2"].message
    assert message.startswith("fraction_unchanged(model, images, ") and ": expected " in message and "Traceback" not in message
    got = "got 1" if key == "ex3" else "got 0.5"  # the kernel's patched predict or np.mean changed the answer, not the expected value
    assert got in message, message


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


def test_models_cross_as_keras_files_loaded_in_safe_mode_and_only_under_the_names_this_side_chose(tmp_path):
    import keras

    from flatgap.models.classifier import build_classifier

    model = build_classifier("gap", (8, 8, 1), 3, filters=(4,))
    files = kernelside.ModelFiles(str(tmp_path / "call-out"))
    value = kernelside.encode((model, 1.5), models=files)
    assert value == {"t": [{"m": 0}, {"f": (1.5).hex()}]} and (tmp_path / "call-out-0.keras").is_file()
    reader = kernelside.ModelFiles(str(tmp_path / "call-out"))
    copy, number = kernelside.decode(value, reader)
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    assert isinstance(copy, keras.Model) and copy is not model and number == 1.5 and np.array_equal(np.asarray(copy(x)), np.asarray(model(x)))
    again = kernelside.ModelFiles(str(tmp_path / "next-in"), reader.sources)
    assert kernelside.encode(copy, models=again) == {"m": 0}  # a loaded model goes on as the very file it came from
    assert (tmp_path / "next-in-0.keras").read_bytes() == (tmp_path / "call-out-0.keras").read_bytes()

    with pytest.raises(ValueError, match="a Keras model where none was expected"):
        kernelside.decode({"m": 0})
    with pytest.raises(kernelside.Unplain, match="which the grader cannot read"):
        kernelside.encode(model)  # no model files for this call: a model is not plain data
    for bad in ("../../etc/passwd", -1, 7, 0.0):
        with pytest.raises(kernelside.Unsaved):
            reader.load(bad)  # a number of this side's files, never a path that came with the value
    (tmp_path / "call-out-1.keras").symlink_to(tmp_path / "call-out-0.keras")
    with pytest.raises(kernelside.Unsaved, match="missing"):
        reader.load(1)

    class GlobalAveragePooling2D(keras.layers.GlobalMaxPooling2D):  # a class of its own, under a Keras name
        pass

    inputs = keras.Input((None, None, 1))
    custom = keras.Model(inputs, keras.layers.Dense(2)(GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))))
    assert kernelside.encode(custom, models=kernelside.ModelFiles(str(tmp_path / "custom"))) == {"m": 0}
    with pytest.raises(kernelside.Unsaved, match=r"it holds GlobalAveragePooling2D \(from test_grading_isolation\), which is not one of Keras's own classes"):
        kernelside.ModelFiles(str(tmp_path / "custom")).load(0)  # checked in the file's config, before Keras reads it


def test_a_model_that_cannot_cross_gets_one_sentence():
    import keras
    from grading_support import failure

    from flatgap.grading import ex2

    def with_lambda(channels, classes):
        inputs = keras.Input((None, None, channels))
        x = keras.layers.Lambda(lambda t: t * 2)(keras.layers.Conv2D(4, 3, padding="same")(inputs))
        return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x)))

    message = failure(ex2.check_gap_model, with_lambda)
    assert message.startswith("build_gap_model(channels=1, num_classes=10): build_gap_model must return a keras.Model built from keras.layers; it could not be saved and reloaded: ValueError: Requested the deserialization of a `Lambda` layer")
    assert "\n" not in message
    assert failure(ex2.check_gap_model, lambda channels, classes: keras.layers.Dense(classes)) == (
        "build_gap_model(channels=1, num_classes=10): expected a keras.Model, got a Dense — return the keras.Model you built"
    )
