"""Unit tests of flatgap.repro, flatgap.plotting and flatgap.training."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow first)
from flatgap import plotting
from flatgap.data import make_canvases
from flatgap.models import build_classifier
from flatgap.repro import seed_everything
from flatgap.training import accuracy_of, compile_classifier, fit_quietly, run_over_seeds, summarize


def test_seed_everything_makes_numpy_and_keras_repeatable():
    import keras

    seed_everything(3)
    first = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    seed_everything(3)
    second = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        seed_everything(-2)


def test_show_images_draws_one_axis_per_image_with_boxes():
    import matplotlib.pyplot as plt

    data = make_canvases(5, canvas_size=16, seed=0)
    fig = plotting.show_images(data.images, labels=data.labels, boxes=data.boxes, ncols=3, title="t")
    visible = [ax for ax in fig.axes if ax.images]
    assert len(visible) == 5 and fig._suptitle.get_text() == "t"
    assert all(len(ax.patches) == 1 for ax in visible)
    plt.close(fig)


def test_show_feature_maps_draws_each_channel():
    import matplotlib.pyplot as plt

    fig = plotting.show_feature_maps(np.random.rand(1, 6, 5, 10), ncols=4, max_maps=8)
    assert sum(bool(ax.images) for ax in fig.axes) == 8
    plt.close(fig)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plotting.show_images(np.zeros((2, 4, 4, 3))), "one channel"),
        (lambda: plotting.show_images(np.zeros((2, 4, 4)), labels=[1]), "labels has 1 entries but there are 2 images"),
        (lambda: plotting.show_images(np.zeros((0, 4, 4))), "images is empty"),
        (lambda: plotting.show_feature_maps(np.zeros((2, 4, 4, 3))), r"\(H, W, C\)"),
        (lambda: plotting.show_feature_maps(np.zeros((4, 4, 3)), ncols=0), "ncols must be a positive integer"),
    ],
)
def test_plotting_rejects_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_use_style_sets_the_course_style():
    plotting.use_style()
    assert matplotlib.rcParams["axes.spines.top"] is False


def test_fit_quietly_learns_a_trivial_task_and_reports_curves(capsys):
    seed_everything(0)
    data = make_canvases(64, canvas_size=12, kind="shape", seed=0)
    model = compile_classifier(build_classifier("gap", input_shape=(12, 12, 1), num_classes=4, filters=(8,)))
    history = fit_quietly(model, data.images, data.labels, epochs=2, batch_size=32)
    assert len(history["loss"]) == 2 and history["seconds"] > 0
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="one label per image"):
        fit_quietly(model, data.images, data.labels[:3], epochs=1)


def test_run_over_seeds_and_summarize():
    data = make_canvases(48, canvas_size=12, kind="shape", seed=1)
    runs = run_over_seeds(
        lambda head: build_classifier(head, input_shape=(12, 12, 1), num_classes=4, filters=(4,)),
        ["flatten", "gap"],
        [0, 1],
        (data.images, data.labels),
        (data.images, data.labels),
        epochs=1,
        verbose=False,
    )
    assert [(r["head"], r["seed"]) for r in runs] == [("flatten", 0), ("flatten", 1), ("gap", 0), ("gap", 1)]
    summary = summarize(runs, "test_accuracy")
    assert set(summary) == {"flatten", "gap"} and all(0 <= m <= 1 and s >= 0 for m, s in summary.values())
    with pytest.raises(ValueError, match="key must be one of"):
        summarize(runs, "accuracy")
    with pytest.raises(ValueError, match="heads and seeds"):
        run_over_seeds(lambda h: None, [], [0], (data.images, data.labels), (data.images, data.labels), epochs=1)


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
    from flatgap.training import fresh_model

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
