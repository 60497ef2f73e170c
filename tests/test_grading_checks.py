"""Unit tests of the grading machinery, in process (no kernels): checkers, generator, grader core, table."""

from __future__ import annotations

import json
import re

import nbformat
import numpy as np
import pytest

from flatgap import numpy_layers as layers
from flatgap.grading import GRADED_TAG, checks
from flatgap.grading.cli import format_grade
from flatgap.grading.generate import (
    exercise_from_solution,
    expect_stub_errors,
    replace_regions,
    stub_lines,
    trivial_variant,
)
from flatgap.grading.notebooks import NotebookFormatError, graded_cells, notebook_text, regions, validate
from flatgap.grading.runner import NotebookGrade, Outcome, outcomes, restore_graded_cells
from flatgap.grading.trivial import zeros_like


def failure(check, *args) -> str:
    """The message of the AssertionError a checker raises."""
    with pytest.raises(AssertionError) as info:
        check(*args)
    return str(info.value)


# --- reference answers, written as a student would -----------------------------------------------------------


def flatten_forward(x):
    return x.reshape(x.shape[0], -1), x.shape


def gap_forward(x):
    return x.mean(axis=(1, 2)), x.shape


def gap_backward(dout, cache):
    return layers.gap_backward(dout, (cache, False))


def gmp_backward(dout, cache):
    return layers.gmp_backward(dout, layers.gmp_forward(cache)[1])


def conv2d_forward(x, w, b):
    out, _ = layers.conv2d_forward(x, w, b)
    return out, (x, w, b)


def test_ex1_checkers_accept_correct_answers(capsys):
    checks.check_flatten_forward(flatten_forward)
    checks.check_flatten_backward(lambda dout, cache: dout.reshape(cache))
    checks.check_gap_forward(gap_forward)
    checks.check_gap_backward(gap_backward)
    checks.check_gmp_backward(gmp_backward)
    checks.check_conv2d_forward(conv2d_forward)
    checks.check_softmax_cross_entropy(layers.softmax_cross_entropy)
    checks.check_conv2d_param_count(lambda kh, kw, c, f: kh * kw * c * f + f)
    from flatgap.models import dense_param_count

    checks.check_dense_param_count(dense_param_count)
    printed = capsys.readouterr().out
    assert printed.count("✓") == 9 and "gap_forward: all 3 checks passed" in printed


def test_the_stubs_error_passes_through_unchanged():
    error = NotImplementedError("ex1-q3: a hint")

    def stub(x):
        raise error

    with pytest.raises(NotImplementedError) as info:
        checks.check_gap_forward(stub)
    assert info.value is error


def test_other_exceptions_become_an_assertion_naming_the_call_and_the_line():
    def broken(x):
        return x.mean(axis=5), x.shape

    message = failure(checks.check_gap_forward, broken)
    assert message.startswith("gap_forward(x) with x of shape (2, 7, 7, 64) raised AxisError: ")
    assert "(in broken, line" in message and "x.mean(axis=5)" in message


def test_common_mistakes_get_a_hint():
    assert failure(checks.check_gap_forward, lambda x: (x, x.shape)) == (
        "gap_forward(x) with x of shape (2, 7, 7, 64): expected out of shape (2, 64), got shape (2, 7, 7, 64) — "
        "did you average over axes 1 and 2 (H and W)?"
    )
    assert "you summed; GAP takes the mean" in failure(checks.check_gap_forward, lambda x: (x.sum(axis=(1, 2)), x.shape))
    assert "channels-first order" in failure(checks.check_flatten_forward, lambda x: (x.transpose(0, 3, 1, 2).reshape(len(x), -1), x.shape))
    assert "keep the batch axis" in failure(checks.check_flatten_forward, lambda x: (x.reshape(-1), x.shape))
    assert "cache = x.shape" in failure(checks.check_flatten_forward, lambda x: (x.reshape(len(x), -1), x))
    assert "divide by H*W" in failure(checks.check_gap_backward, lambda dout, cache: np.broadcast_to(dout[:, None, None, :], cache).copy())
    assert "average-pooling gradient" in failure(checks.check_gmp_backward, lambda dout, x: gap_backward(dout, x.shape))
    assert "the bias is missing" in failure(checks.check_conv2d_forward, lambda x, w, b: (layers.conv2d_forward(x, w, b)[0] - b, None))
    assert "one bias" in failure(checks.check_conv2d_param_count, lambda kh, kw, c, f: kh * kw * c * f)
    assert "ValueError" in failure(checks.check_dense_param_count, lambda head, h, w, c, u: (h * w * c if head == "flatten" else c) * u + u)


def test_sum_instead_of_mean_in_place_edits_lists_and_none_are_caught():
    def summed(logits, labels):
        loss, grad = layers.softmax_cross_entropy(logits, labels)
        return loss * len(logits), grad * len(logits)

    assert "average the loss over the batch" in failure(checks.check_softmax_cross_entropy, summed)

    def in_place(logits, labels):
        logits -= logits.max(axis=1, keepdims=True)
        return layers.softmax_cross_entropy(logits, labels)

    assert "changed its input in place" in failure(checks.check_softmax_cross_entropy, in_place)
    assert "not a Python list" in failure(checks.check_flatten_backward, lambda dout, cache: dout.reshape(cache).tolist())
    assert "did you forget the return statement?" in failure(checks.check_gap_backward, lambda dout, cache: None)
    assert "should be a function" in failure(checks.check_gap_forward, 3)


def test_a_convolution_with_loops_over_pixels_is_not_vectorized():
    def loops(x, w, b):
        out = np.zeros((x.shape[0], x.shape[1] - w.shape[0] + 1, x.shape[2] - w.shape[1] + 1, w.shape[3]))
        for n in range(out.shape[0]):
            for i in range(out.shape[1]):
                for j in range(out.shape[2]):
                    window = x[n, i : i + w.shape[0], j : j + w.shape[1], :, None]
                    out[n, i, j] = (window * w).sum(axis=(0, 1, 2)) + b
        return out, None

    assert "nested 3 deep" in failure(checks.check_conv2d_forward, loops)
    assert checks.loop_depth(loops) == 3 and checks.loop_depth(conv2d_forward) == 0


def test_ex2_and_ex3_array_checkers(capsys):
    from flatgap.equivalences import flatten_dense_to_conv
    from flatgap.shift import shift_images

    checks.check_flatten_dense_to_conv(flatten_dense_to_conv)
    checks.check_class_activation_map(lambda maps, w, k: maps @ w[:, k])
    checks.check_shift_images(shift_images)
    checks.check_pad_to(lambda x, h, w: np.pad(x, ((0, 0), ((h - x.shape[1]) // 2, h - x.shape[1] - (h - x.shape[1]) // 2), ((w - x.shape[2]) // 2, w - x.shape[2] - (w - x.shape[2]) // 2), (0, 0))))
    checks.check_gap_dilution(lambda h, w, nh, nw: h * w / (nh * nw))

    def gap(runs, head):
        gaps = [r["train_accuracy"] - r["test_accuracy"] for r in runs if r["head"] == head]
        return np.mean(gaps), np.std(gaps)

    checks.check_generalization_gap(gap)
    assert capsys.readouterr().out.count("✓") == 6

    assert "channels-first order" in failure(checks.check_flatten_dense_to_conv, lambda k, b, h, w, c: (k.reshape(c, h, w, -1).transpose(1, 2, 0, 3), b))
    assert "SUM over the channels" in failure(checks.check_class_activation_map, lambda maps, w, k: maps @ w[:, k] / maps.shape[-1])
    assert "np.roll wraps around" in failure(checks.check_shift_images, lambda x, dy, dx: np.roll(x, (dy, dx), axis=(1, 2)))
    assert "ddof=0" in failure(checks.check_generalization_gap, lambda runs, head: (gap(runs, head)[0], np.std([r["train_accuracy"] - r["test_accuracy"] for r in runs if r["head"] == head], ddof=1)))
    assert "MINUS" in failure(checks.check_generalization_gap, lambda runs, head: (-gap(runs, head)[0], gap(runs, head)[1]))
    assert "centre the maps" in failure(checks.check_pad_to, lambda x, h, w: np.pad(x, ((0, 0), (0, h - x.shape[1]), (0, w - x.shape[2]), (0, 0))))
    assert "upside down" in failure(checks.check_gap_dilution, lambda h, w, nh, nw: nh * nw / (h * w))


def test_ex2_model_checkers():
    import keras

    from flatgap.models import build_classifier

    checks.check_gap_model(lambda channels, classes: build_classifier("gap", (None, None, channels), classes, filters=(4,)))
    message = failure(checks.check_gap_model, lambda channels, classes: build_classifier("flatten", (8, 8, channels), classes, filters=(4,)))
    assert "use GlobalAveragePooling2D" in message
    checks.check_param_count_prediction(lambda shape, filters, k, padding, head, classes: build_classifier(head, shape, classes, filters, k, padding).count_params())
    keras.utils.set_random_seed(0)
    model = build_classifier("gap", (8, 8, 1), 10, filters=(4, 6), pool_every=1)
    classifier = model.get_layer("classifier")
    classifier.set_weights([classifier.get_weights()[0], np.linspace(-1, 1, 10).astype("float32")])
    images = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")

    def cam(model, images, k, layer):
        maps = np.asarray(keras.Model(model.input, model.get_layer(layer).output)(images))
        return maps @ model.get_layer("classifier").get_weights()[0][:, k]

    checks.check_model_cam(cam, model, images, "conv2")
    assert "leave the bias out" in failure(checks.check_model_cam, lambda *a: cam(*a) + model.get_layer("classifier").get_weights()[1][a[2]], model, images, "conv2")
    probs = model.predict(images, verbose=0)
    assert probs.shape == (6, 10)


def test_zeros_like():
    out = zeros_like((np.ones((2, 3), np.float32), (2, 3), 1.5, [True], {"a": np.int64(4)}, "s", object()))
    assert out[0].dtype == np.float32 and not out[0].any() and out[0].shape == (2, 3)
    assert out[1:6] == ((0, 0), 0.0, [False], {"a": 0}, "") and out[6] is None


# --- notebooks, generator, grader core ------------------------------------------------------------------------


def solution_notebook(extra_cells=()):
    code = nbformat.v4.new_code_cell
    cells = [
        nbformat.v4.new_markdown_cell("# Solutions: Exercise 9 — test"),
        code("import numpy as np"),
        code(
            "@staticmethod\ndef f(x, *rest, scale=2, **options):\n    \"\"\"Doc.\"\"\"\n    y = x\n"
            "    ### BEGIN SOLUTION [ex9-q1] Scale it.\n    out = y * scale\n    return out\n    ### END SOLUTION\n\n\n"
            "def g(a):\n    if a:\n        ### BEGIN SOLUTION [ex9-q2] Negate it.\n        return -a\n        ### END SOLUTION\n    return 0"
        ),
        code("# graded: ex9-q1 (2 points)\nassert f.__func__(3) == 6", metadata={"tags": [GRADED_TAG]}),
        code("# graded: ex9-q2 (1 point)\nassert g(1) == -1", metadata={"tags": [GRADED_TAG]}),
        *extra_cells,
    ]
    return nbformat.v4.new_notebook(cells=cells)


def test_regions_and_graded_cells_are_parsed():
    notebook = solution_notebook()
    graded, found = validate(notebook, "test", exercise="ex9")
    assert [(g.question, g.points) for g in graded] == [("ex9-q1", 2), ("ex9-q2", 1)]
    first, second = found
    assert (first.function, first.function_start, first.hint, first.indent) == ("f", 0, "Scale it.", "    ")
    assert first.params == (("positional", "x"), ("varargs", "rest"), ("keyword", "scale"), ("varkw", "options"))
    assert (second.function, second.indent, second.stub_message) == ("g", "        ", "ex9-q2: Negate it.")


def test_the_exercise_gets_stubs_keeps_the_rest_and_drops_solution_only_cells():
    extra = [nbformat.v4.new_code_cell("print(f(1))", metadata={"tags": ["solution-only"]})]
    exercise = exercise_from_solution(solution_notebook(extra))
    assert exercise.cells[0].source == "# Exercise 9 — test"
    assert len(exercise.cells) == 5
    source = exercise.cells[2].source
    assert '    y = x\n    # YOUR CODE HERE\n    raise NotImplementedError("ex9-q1: Scale it.")\n\n\ndef g(a):' in source
    assert '        # YOUR CODE HERE\n        raise NotImplementedError("ex9-q2: Negate it.")\n    return 0' in source
    compile(source, "exercise", "exec")
    assert notebook_text(exercise, "ex9_test") == notebook_text(exercise_from_solution(solution_notebook(extra)), "ex9_test")

    expected = expect_stub_errors(exercise)
    graded = expected.cells[3]
    assert "raises-exception" in graded.metadata.tags and graded.execution_count == 1
    assert (graded.outputs[0].ename, graded.outputs[0].evalue) == ("NotImplementedError", "ex9-q1: Scale it.")
    assert expected.cells[2].execution_count is None


def test_trivial_variants_run():
    for kind, expected_f, expected_g in [("none", None, None), ("identity", 3, 1), ("zeros", 0, 0)]:
        source = trivial_variant(solution_notebook(), kind).cells[2].source
        namespace: dict = {}
        exec(compile(source, kind, "exec"), namespace)
        assert namespace["f"].__func__(3) == expected_f, (kind, source)
        assert namespace["g"](1) == expected_g
    assert "def _flatgap_solution_f(" in trivial_variant(solution_notebook(), "zeros").cells[2].source
    patched = replace_regions(solution_notebook(), lambda region: ["return 42"], questions={"ex9-q2"})
    assert "return 42" in patched.cells[2].source and "BEGIN SOLUTION [ex9-q1]" in patched.cells[2].source
    assert stub_lines(regions(solution_notebook())[0])[0] == "# YOUR CODE HERE"


G_REGION = "def g(a):\n    ### BEGIN SOLUTION [ex9-q2] h\n    return a\n    ### END SOLUTION\n\n\n"


@pytest.mark.parametrize(
    "source, problem",
    [
        ("x = 1\n### BEGIN SOLUTION [ex9-q1] hint\ny = 2\n### END SOLUTION", "inside the body of a top-level function"),
        ("def f():\n    ### BEGIN SOLUTION [ex9-q1] hint\n    return 1", "never closed"),
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", "write '### BEGIN SOLUTION [exN-qM] <hint"),
        ("def f():\n    ### BEGIN SOLUTION [ex9-q1] hint\n    # nothing\n    ### END SOLUTION\n    return 1", "holds no code"),
        ("def f():\n    ### BEGIN SOLUTION [ex9-q1] hint\n    return 1\n  ### END SOLUTION", "the same indentation"),
        (
            "def f():\n    ### BEGIN SOLUTION [ex9-q1] hint\n    return 1\n    ### END SOLUTION\n\n\n"
            "def h():\n    ### BEGIN SOLUTION [ex9-q7] hint\n    return 1\n    ### END SOLUTION",
            "without a graded cell: ['ex9-q7']",
        ),
    ],
)
def test_malformed_regions_are_rejected_with_a_clear_message(source, problem):
    notebook = solution_notebook()
    notebook.cells[2].source = G_REGION + source
    with pytest.raises(NotebookFormatError, match=re.escape(problem)):
        validate(notebook, "test")


def test_a_graded_cell_needs_its_tag_and_header():
    notebook = solution_notebook()
    notebook.cells[3].metadata = {}
    with pytest.raises(NotebookFormatError, match="lacks the 'graded' tag"):
        graded_cells(notebook)
    notebook = solution_notebook()
    notebook.cells[3].source = "# graded ex9-q1\nassert True"
    with pytest.raises(NotebookFormatError, match="must start with '# graded: exN-qM"):
        graded_cells(notebook)


def executed(errors: dict[int, tuple[str, str]]):
    """The test solution notebook as if executed, with error outputs in the given cells."""
    notebook = solution_notebook()
    for index, (ename, evalue) in errors.items():
        notebook.cells[index].outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[])]
    return notebook


def test_outcomes_of_an_executed_notebook_and_the_table():
    results, notes = outcomes(executed({3: ("NotImplementedError", "ex9-q1: Scale it."), 4: ("AssertionError", "g(1): expected -1, got 1")}))
    assert [(o.question, o.status, o.earned, o.cell) for o in results] == [("ex9-q1", "not attempted", 0, 3), ("ex9-q2", "failed", 0, 4)]
    assert notes == []
    results, notes = outcomes(executed({2: ("SyntaxError", "invalid syntax"), 4: ("NameError", "name 'g' is not defined")}))
    assert [(o.status, o.message) for o in results] == [("passed", ""), ("failed", "NameError: name 'g' is not defined")]
    assert notes and notes[0].startswith("code cell 2 (not graded) raised SyntaxError: invalid syntax")
    table = format_grade(NotebookGrade("ex9.ipynb", results, notes, 1.0), width=100)
    assert "  ex9-q1    2 / 2   passed" in table and "score: 2 / 3 points" in table
    assert "not attempted" not in table
    grade = NotebookGrade("x", [Outcome("ex9-q1", 2, "not attempted", "NotImplementedError", "NotImplementedError: ex9-q1: hint", 3)])
    assert "failed  not attempted: NotImplementedError: ex9-q1: hint" in format_grade(grade)


def test_edited_and_missing_graded_cells_are_restored_or_reported():
    student = solution_notebook()
    student.cells[3].source = "# graded: ex9-q1 (2 points)\npass  # no more check"
    del student.cells[4]
    restored, missing = restore_graded_cells(student, solution_notebook())
    assert restored.cells[3].source == solution_notebook().cells[3].source
    assert missing == ["ex9-q2"]
    results, _ = outcomes(restored, canonical=solution_notebook())
    assert [(o.question, o.status) for o in results] == [("ex9-q1", "passed"), ("ex9-q2", "missing")]


def test_the_exercises_json_is_stable():
    text = notebook_text(solution_notebook(), "ex9_test")
    assert json.loads(text)["cells"][0]["id"] == "ex9-test-000"
    assert text.endswith("}\n")
