"""Unit tests of flatgap.data: shapes, ranges, determinism, and clear errors for bad arguments."""

import numpy as np
import pytest

from flatgap.data import (
    SHAPE_NAMES,
    draw_shape,
    load_digits_nhwc,
    make_canvases,
    place_at_random,
    quadrant_labels,
    stratified_subset,
    upscale,
)


def test_digits_are_nhwc_float32_in_unit_range_with_fixed_stratified_split():
    split = load_digits_nhwc()
    assert split.x_train.shape == (1347, 8, 8, 1) and split.x_test.shape == (450, 8, 8, 1)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64
    assert 0.0 == split.x_train.min() and split.x_train.max() == 1.0
    # stratified: every class sends the same share (a quarter) of its images to the test set, within one image
    test_counts = np.bincount(split.y_test, minlength=10)
    all_counts = test_counts + np.bincount(split.y_train, minlength=10)
    assert np.all(np.abs(test_counts - 0.25 * all_counts) <= 1)
    again = load_digits_nhwc()
    np.testing.assert_array_equal(split.x_test, again.x_test)
    np.testing.assert_array_equal(split.y_train, again.y_train)


def test_digits_upscale_repeats_pixels():
    small, big = load_digits_nhwc(), load_digits_nhwc(upscale_factor=3)
    assert big.x_train.shape == (1347, 24, 24, 1)
    np.testing.assert_array_equal(big.x_train[:, ::3, ::3], small.x_train)
    np.testing.assert_array_equal(big.x_train[:, 2::3, 1::3], small.x_train)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"upscale_factor": 0}, "upscale_factor must be a positive integer"),
        ({"upscale_factor": 1.5}, "upscale_factor must be a positive integer"),
        ({"test_fraction": 1.0}, "test_fraction must be a number strictly between 0 and 1"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_digits_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_digits_nhwc(**kwargs)


def test_upscale_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"shape \(N, H, W, C\)"):
        upscale(np.zeros((8, 8)), 2)


@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_shapes_are_distinct_binary_patches(name):
    patch = draw_shape(name, 16)
    assert patch.shape == (16, 16) and set(np.unique(patch)) <= {0.0, 1.0}
    assert 0.15 < patch.mean() < 0.8
    others = [draw_shape(other, 16) for other in SHAPE_NAMES if other != name]
    assert all(np.abs(patch - other).sum() > 10 for other in others)


def test_draw_shape_rejects_unknown_name_and_tiny_size():
    with pytest.raises(ValueError, match="name must be one of"):
        draw_shape("star", 8)
    with pytest.raises(ValueError, match="at least 4 pixels"):
        draw_shape("disk", 3)


def test_canvases_place_the_object_inside_its_box_only():
    data = make_canvases(20, canvas_size=(20, 30), seed=3)
    assert data.images.shape == (20, 20, 30, 1) and data.labels.shape == (20,) and data.boxes.shape == (20, 4)
    for image, (top, left, bottom, right) in zip(data.images[..., 0], data.boxes, strict=True):
        assert bottom - top == 8 and right - left == 8
        outside = image.copy()
        outside[top:bottom, left:right] = 0
        assert outside.max() == 0 and image[top:bottom, left:right].max() > 0


def test_canvases_are_deterministic_and_seed_dependent():
    a, b, c = make_canvases(10, seed=1), make_canvases(10, seed=1), make_canvases(10, seed=2)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.boxes, c.boxes)


def test_canvas_margin_keeps_objects_away_from_borders():
    data = make_canvases(200, canvas_size=32, kind="shape", object_scale=1, margin=6, seed=0)
    assert data.boxes[:, :2].min() >= 6 and data.boxes[:, 2:].max() <= 32 - 6
    assert set(data.labels) <= set(range(len(SHAPE_NAMES)))


def test_canvas_fixed_positions_and_scaled_objects():
    data = make_canvases(3, canvas_size=40, positions=(5, 7), object_scale=2, seed=0)
    np.testing.assert_array_equal(data.boxes, [[5, 7, 21, 23]] * 3)
    corners = np.array([[0, 0], [24, 24], [10, 3]])
    data = make_canvases(3, canvas_size=40, positions=corners, object_scale=2)
    np.testing.assert_array_equal(data.boxes[:, :2], corners)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 0}, "n must be a positive integer"),
        ({"canvas_size": 6}, "too small for a 8x8 object"),
        ({"canvas_size": (20, 20, 1)}, r"canvas_size must be an int or a \(height, width\) pair"),
        ({"kind": "letter"}, "kind must be 'digit' or 'shape'"),
        ({"positions": (30, 0)}, "outside a 32x32 canvas"),
        ({"positions": np.zeros((3, 2), dtype=int)}, r"positions must be None, one \(top, left\) pair or an \(5, 2\)"),
        ({"margin": 13}, "with margin 13"),
        ({"source": "validation"}, "source must be 'train' or 'test'"),
    ],
)
def test_canvases_reject_bad_arguments(kwargs, message):
    arguments = {"n": 5, "canvas_size": 32} | kwargs
    with pytest.raises(ValueError, match=message):
        make_canvases(**arguments)


def test_quadrant_labels():
    boxes = np.array([[0, 0, 8, 8], [0, 24, 8, 32], [24, 0, 32, 8], [24, 24, 32, 32], [12, 12, 20, 20]])
    np.testing.assert_array_equal(quadrant_labels(boxes, 32), [0, 1, 2, 3, 3])
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, 4\)"):
        quadrant_labels(np.zeros((3, 2)), 32)


def labelled(n_per_class=6, classes=3):
    y = np.repeat(np.arange(classes), n_per_class)
    x = np.arange(len(y), dtype=np.float32).reshape(-1, 1)
    return x, y


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


def test_place_at_random_keeps_every_image_once_and_inside_its_box():
    split = load_digits_nhwc()
    placed = place_at_random(split.x_train[:40], split.y_train[:40], (12, 14), seed=3, margin=1)
    assert placed.images.shape == (40, 12, 14, 1) and np.array_equal(placed.labels, split.y_train[:40])
    for image, box, digit in zip(placed.images, placed.boxes, split.x_train[:40], strict=True):
        top, left, bottom, right = box
        assert top >= 1 and left >= 1 and bottom <= 11 and right <= 13
        assert np.array_equal(image[top:bottom, left:right], digit) and image.sum() == pytest.approx(digit.sum())
    assert not np.array_equal(placed.boxes, place_at_random(split.x_train[:40], split.y_train[:40], (12, 14), seed=4, margin=1).boxes)
    with pytest.raises(ValueError, match="too small"):
        place_at_random(split.x_train[:2], split.y_train[:2], 9, margin=1)
    with pytest.raises(ValueError, match="one label each"):
        place_at_random(split.x_train[:2], split.y_train[:3], 12)
