"""Unit tests of flatgap.experiments.training: one model's fit, the one runner, and the record selection."""

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow first)
from flatgap.data import load_digits_nhwc, make_canvases
from flatgap.experiments.training import (
    accuracy_of,
    compile_classifier,
    fit_quietly,
    repeat_to_length,
    select,
    train_heads,
)
from flatgap.models.classifier import build_classifier
from flatgap.repro import seed_everything


def test_fit_quietly_learns_a_trivial_task_and_reports_curves(capsys):
    seed_everything(0)
    data = make_canvases(64, canvas_size=12, kind="shape", seed=0)
    model = compile_classifier(build_classifier("gap", input_shape=(12, 12, 1), num_classes=4, filters=(8,)))
    history = fit_quietly(model, data.images, data.labels, epochs=2, batch_size=32)
    assert len(history["loss"]) == 2 and history["seconds"] > 0
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="one label per image"):
        fit_quietly(model, data.images, data.labels[:3], epochs=1)


def test_accuracy_of_matches_keras_evaluate_in_chunks():
    seed_everything(0)
    data = make_canvases(70, canvas_size=12, kind="shape", seed=2)
    model = compile_classifier(build_classifier("gap", input_shape=(12, 12, 1), num_classes=4, filters=(8,)))
    fit_quietly(model, data.images, data.labels, epochs=2, batch_size=16,
                validation_data=(data.images[:30], data.labels[:30]))
    expected = float(model.evaluate(data.images, data.labels, verbose=0)[1])
    assert accuracy_of(model, data.images, data.labels, batch_size=32) == pytest.approx(expected)  # 3 chunks
    assert accuracy_of(model, data.images, data.labels) == pytest.approx(expected)  # one chunk
    with pytest.raises(ValueError, match="one label|y \\(N,\\) labels"):
        accuracy_of(model, data.images, data.labels[:-1])
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        accuracy_of(model, data.images, data.labels, batch_size=0)


def test_fresh_model_reuse_gives_the_same_numbers_as_a_new_model():
    from flatgap.experiments.training import fresh_model

    data = make_canvases(48, canvas_size=12, kind="shape", seed=3)

    def build(head):
        return build_classifier(head, input_shape=(12, 12, 1), num_classes=4, filters=(4,))

    def train_once(seed, reuse):
        model = fresh_model(build, "flatten+dropout", seed, 3e-3, reuse)  # dropout: a seed generator state too
        history = fit_quietly(model, data.images, data.labels, epochs=2, batch_size=16, seed=seed)
        return model, history["loss"], model.predict(data.images, verbose=0)

    reuse = {}
    first, _, _ = train_once(0, reuse)
    reused, reused_loss, reused_out = train_once(1, reuse)  # the seed-0 model, reset to seed 1's start
    new, new_loss, new_out = train_once(1, None)  # a new model compiled for seed 1
    assert reused is first and new is not first
    assert reused_loss == new_loss and np.array_equal(reused_out, new_out)
    assert float(reused.optimizer.learning_rate) == pytest.approx(3e-3)
    wider = fresh_model(lambda head: build_classifier(head, input_shape=(12, 12, 1), num_classes=4, filters=(6,)),
                        "flatten+dropout", 0, 1e-3, reuse)  # another layout: compiled anew, and kept instead
    assert wider is not first and reuse["flatten+dropout"] is wider

def labelled(n_per_class=6, classes=3):
    y = np.repeat(np.arange(classes), n_per_class)
    x = np.arange(len(y), dtype=np.float32).reshape(-1, 1)
    return x, y


def test_repeat_to_length_makes_whole_copies():
    x, y = labelled(2, 2)
    xr, yr = repeat_to_length(x, y, 10)
    assert len(xr) == 12 and len(yr) == 12
    assert np.array_equal(xr[4:8], x) and np.array_equal(yr[8:], y)


def test_repeat_to_length_leaves_large_sets_alone():
    x, y = labelled()
    xr, yr = repeat_to_length(x, y, 5)
    assert xr is x and yr is y


def test_repeat_to_length_rejects_empty():
    with pytest.raises(ValueError, match="non-empty"):
        repeat_to_length(np.zeros((0, 1)), np.zeros(0), 4)


def shapes_task():
    data = make_canvases(48, canvas_size=12, kind="shape", seed=1)
    return (data.images, data.labels)


def small_model(head):
    return build_classifier(head, input_shape=(12, 12, 1), num_classes=4, filters=(4,))


def test_train_heads_runs_every_head_and_seed_and_select_picks_values():
    task = shapes_task()
    runs = train_heads(small_model, ["flatten", "gap"], [0, 1], task, task, epochs={"flatten": 1, "gap": 2},
                       learning_rate={"flatten": 1e-3, "gap": 3e-3}, validation=task, verbose=False)
    assert [(r["head"], r["seed"]) for r in runs] == [("flatten", 0), ("gap", 0), ("flatten", 1), ("gap", 1)]
    assert [r["epochs"] for r in runs] == [1, 2, 1, 2] and [r["learning_rate"] for r in runs] == [1e-3, 3e-3] * 2
    assert len(runs[1]["history"]["val_accuracy"]) == 2 and runs[0]["size"] is None
    assert runs[0]["gap"] == pytest.approx(runs[0]["train_accuracy"] - runs[0]["test_accuracy"])
    assert select(runs, "seed", head="gap").tolist() == [0, 1]
    assert select(runs, "test_accuracy", head="flatten", seed=1).shape == (1,)
    with pytest.raises(ValueError, match="no run has"):
        select(runs, "seed", head="gmp")
    with pytest.raises(ValueError, match="runs have no field 'accuracy'"):
        select(runs, "accuracy")
    with pytest.raises(ValueError, match="at least one entry"):
        train_heads(small_model, [], [0], task, task, epochs=1)
    with pytest.raises(ValueError, match="exactly one of epochs and steps"):
        train_heads(small_model, ["gap"], [0], task, task, epochs=1, steps=4)
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        train_heads(small_model, ["gap"], [0], task, task, epochs=1, learning_rate=0)


def test_train_heads_on_subsets_runs_each_size_and_reports():
    split = load_digits_nhwc()
    runs = train_heads(lambda head: build_classifier(head, filters=(4,)), ["gap"], [0], (split.x_train, split.y_train),
                       (split.x_test[:50], split.y_test[:50]), sizes=[20], steps=20, batch_size=16, verbose=False)
    assert len(runs) == 1
    run = runs[0]
    assert run["size"] == 20 and run["steps"] >= 20
    assert run["gap"] == pytest.approx(run["train_accuracy"] - run["test_accuracy"])


def test_train_heads_gives_each_head_its_own_step_budget():
    split = load_digits_nhwc()
    args = (lambda head: build_classifier(head, filters=(4,)), ["flatten", "gap"], [0],
            (split.x_train, split.y_train), (split.x_test[:20], split.y_test[:20]))
    runs = train_heads(*args, sizes=[20], steps={"flatten": 8, "gap": 24}, batch_size=16, steps_per_epoch=4,
                       verbose=False)
    # 20 images repeated to >= 4 * 16 make 80, epochs of 5 steps: 8 steps round up to 2 epochs, 24 to 5
    assert {r["head"]: r["steps"] for r in runs} == {"flatten": 10, "gap": 25}
    with pytest.raises(ValueError, match=r"steps gives no value for the heads \['gap'\]"):
        train_heads(*args, sizes=[20], steps={"flatten": 8}, verbose=False)
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer"):
        train_heads(*args, sizes=[20], steps=8, steps_per_epoch=0, verbose=False)
