"""Unit tests of flatgap.experiments (the helpers of the Part III chapters)."""

from __future__ import annotations

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow before Keras loads)
from flatgap.experiments import (
    curve_band,
    format_table,
    group_by_size,
    mean_spread,
    predict_by_size,
    predict_direct,
    receptive_field,
    repeat_to_length,
    resize_images,
    run_size_sweep,
    stratified_subset,
)


def labelled(n_per_class=6, classes=3):
    y = np.repeat(np.arange(classes), n_per_class)
    x = np.arange(len(y), dtype=np.float32).reshape(-1, 1)
    return x, y


# --- stratified_subset -------------------------------------------------------------------------


def test_stratified_subset_balances_classes_and_keeps_pairs():
    x, y = labelled()
    xs, ys = stratified_subset(x, y, 6, seed=3)
    assert xs.shape == (6, 1)
    assert np.bincount(ys).tolist() == [2, 2, 2]
    # each kept example keeps its own label
    assert np.array_equal(y[xs[:, 0].astype(int)], ys)


def test_stratified_subset_is_seeded():
    x, y = labelled()
    a = stratified_subset(x, y, 6, seed=1)[0]
    b = stratified_subset(x, y, 6, seed=1)[0]
    c = stratified_subset(x, y, 6, seed=2)[0]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "n, message",
    [(5, "multiple of the number of classes"), (21, "rarest class has only 6"), (0, "positive integer")],
)
def test_stratified_subset_rejects_bad_sizes(n, message):
    x, y = labelled()
    with pytest.raises(ValueError, match=message):
        stratified_subset(x, y, n)


def test_stratified_subset_rejects_mismatched_labels():
    x, y = labelled()
    with pytest.raises(ValueError, match="one label per example"):
        stratified_subset(x, y[:-1], 3)


# --- repeat_to_length --------------------------------------------------------------------------


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


# --- mean_spread, curve_band, format_table ------------------------------------------------------


def test_mean_spread():
    stats = mean_spread([1.0, 2.0, 3.0])
    assert stats["mean"] == 2.0 and stats["min"] == 1.0 and stats["max"] == 3.0
    assert stats["std"] == pytest.approx(np.std([1, 2, 3]))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        mean_spread([])


def test_curve_band():
    runs = [
        {"head": "gap", "history": {"accuracy": [0.1, 0.5]}},
        {"head": "gap", "history": {"accuracy": [0.3, 0.7]}},
        {"head": "flatten", "history": {"accuracy": [0.9, 0.9]}},
    ]
    mean, low, high = curve_band(runs, "gap", "accuracy")
    assert np.allclose(mean, [0.2, 0.6]) and np.allclose(low, [0.1, 0.5]) and np.allclose(high, [0.3, 0.7])
    with pytest.raises(ValueError, match="heads present"):
        curve_band(runs, "gmp", "accuracy")
    with pytest.raises(ValueError, match="val_accuracy"):
        curve_band(runs, "gap", "val_accuracy")


def test_format_table_aligns_columns():
    text = format_table(["head", "test"], [["gap", "0.9"], ["flatten", "0.97"]])
    lines = text.splitlines()
    assert lines[0] == "head     test"
    assert lines[2] == "gap       0.9"
    assert lines[3] == "flatten  0.97"
    with pytest.raises(ValueError, match="every row must have 2 cells"):
        format_table(["a", "b"], [["only one"]])
    with pytest.raises(ValueError, match="at least one column"):
        format_table([], [])


# --- receptive_field ---------------------------------------------------------------------------


def test_receptive_field_of_the_course_bodies():
    from flatgap.models import build_classifier

    plain = receptive_field(build_classifier("gap", input_shape=(8, 8, 1), filters=(16, 32)))
    assert [r["rf"] for r in plain] == [3, 5]
    pooled = receptive_field(build_classifier("gap", input_shape=(16, 16, 1), filters=(16, 32, 64), pool_every=1))
    assert [(r["name"], r["rf"], r["jump"]) for r in pooled] == [
        ("conv1", 3, 1),
        ("pool1", 4, 2),
        ("conv2", 8, 2),
        ("pool2", 10, 4),
        ("conv3", 18, 4),
    ]


def test_receptive_field_counts_strides_and_dilation():
    import keras

    inputs = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(2, 5, strides=2)(inputs)
    x = keras.layers.Conv2D(2, 3, dilation_rate=2)(x)
    model = keras.Model(inputs, x)
    rows = receptive_field(model)
    assert [(r["rf"], r["jump"]) for r in rows] == [(5, 2), (13, 2)]


def test_receptive_field_needs_a_conv_or_pool_layer():
    import keras

    inputs = keras.Input((4,))
    with pytest.raises(ValueError, match="no Conv2D or pooling layer"):
        receptive_field(keras.Model(inputs, keras.layers.Dense(2)(inputs)))


# --- resize, grouping and mixed-size prediction --------------------------------------------------


def test_resize_images_shapes_and_constant_images():
    images = np.full((2, 8, 8, 1), 0.5, dtype=np.float32)
    out = resize_images(images, (4, 6))
    assert out.shape == (2, 4, 6, 1) and out.dtype == np.float32
    assert np.allclose(out, 0.5)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        resize_images(images[0], 4)
    with pytest.raises(ValueError, match="size"):
        resize_images(images, 0)


def test_group_by_size():
    images = [np.zeros((4, 4, 1)), np.zeros((6, 6, 1)), np.zeros((4, 4, 1))]
    groups = group_by_size(images)
    assert list(groups) == [(4, 4), (6, 6)]
    assert groups[(4, 4)].tolist() == [0, 2] and groups[(6, 6)].tolist() == [1]
    with pytest.raises(ValueError, match="empty"):
        group_by_size([])
    with pytest.raises(ValueError, match=r"image 1 has shape \(4, 4\)"):
        group_by_size([np.zeros((4, 4, 1)), np.zeros((4, 4))])


def test_predict_by_size_matches_one_image_at_a_time():
    from flatgap.models import build_classifier
    from flatgap.repro import seed_everything

    seed_everything(0)
    model = build_classifier("gap", input_shape=(None, None, 1), filters=(4,))
    rng = np.random.default_rng(0)
    images = [rng.random((s, s, 1), dtype=np.float32) for s in (8, 12, 8, 10, 12)]
    mixed = predict_by_size(model, images)
    single = np.concatenate([model.predict(im[None], verbose=0) for im in images])
    assert mixed.shape == (5, 10)
    assert np.allclose(mixed, single, atol=1e-6)
    # small batches give the same answers
    assert np.allclose(predict_by_size(model, images, batch_size=1), single, atol=1e-6)


def test_predict_direct_matches_predict_and_checks_shapes():
    from flatgap.models import build_classifier
    from flatgap.repro import seed_everything

    seed_everything(0)
    model = build_classifier("gap", input_shape=(None, None, 1), filters=(4,))
    images = np.random.default_rng(1).random((7, 9, 9, 1), dtype=np.float32)
    direct = predict_direct(model, images, batch_size=3)
    assert direct.shape == (7, 10) and direct.dtype == np.float32
    assert np.allclose(direct, model.predict(images, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        predict_direct(model, images[0])


# --- run_size_sweep ------------------------------------------------------------------------------


def test_run_size_sweep_runs_and_reports():
    from flatgap.data import load_digits_nhwc
    from flatgap.models import build_classifier
    from flatgap.repro import seed_everything

    seed_everything(0)
    split = load_digits_nhwc()
    runs = run_size_sweep(
        lambda head: build_classifier(head, filters=(4,)),
        ["gap"],
        [20],
        [0],
        (split.x_train, split.y_train),
        (split.x_test[:50], split.y_test[:50]),
        steps=20,
        batch_size=16,
        verbose=False,
    )
    assert len(runs) == 1
    run = runs[0]
    assert run["size"] == 20 and run["steps"] >= 20
    assert run["gap"] == pytest.approx(run["train_accuracy"] - run["test_accuracy"])
    with pytest.raises(ValueError, match="at least one entry"):
        run_size_sweep(lambda h: None, [], [20], [0], (split.x_train, split.y_train), (split.x_test, split.y_test), 5)


def test_run_size_sweep_gives_each_head_its_own_step_budget():
    from flatgap.data import load_digits_nhwc
    from flatgap.models import build_classifier

    split = load_digits_nhwc()
    args = (lambda head: build_classifier(head, filters=(4,)), ["flatten", "gap"], [20], [0],
            (split.x_train, split.y_train), (split.x_test[:20], split.y_test[:20]))
    runs = run_size_sweep(*args, steps={"flatten": 8, "gap": 24}, batch_size=16, steps_per_epoch=4, verbose=False)
    # 20 images repeated to >= 4 * 16 make 80, epochs of 5 steps: 8 steps round up to 2 epochs, 24 to 5
    assert {r["head"]: r["steps"] for r in runs} == {"flatten": 10, "gap": 25}
    with pytest.raises(ValueError, match=r"no budget for the heads \['gap'\]"):
        run_size_sweep(*args, steps={"flatten": 8}, verbose=False)
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer"):
        run_size_sweep(*args, steps=8, steps_per_epoch=0, verbose=False)
