"""Part IV's poolings: the NumPy references (flatgap.reference.pooling) against finite differences and against the Keras
layers (flatgap.models.pooling), the grid against Keras's own AdaptiveAveragePooling2D, the registry entries, and the
counting canvases."""

from __future__ import annotations

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow first)
from flatgap.data import make_counting_canvases
from flatgap.models.classifier import build_classifier, dense_param_count
from flatgap.models.heads import GRID_SIZES, HEADS
from flatgap.reference.gradcheck import numerical_gradient, relative_error
from flatgap.reference.layers import gap_forward, gmp_forward
from flatgap.reference.pooling import (
    adaptive_avg_pool_backward,
    adaptive_avg_pool_forward,
    adaptive_windows,
    attention_pool_backward,
    attention_pool_forward,
    attention_weights,
    gem_backward,
    gem_forward,
    global_avgmax_forward,
    global_sum_forward,
)

NEW_HEADS = [f"grid{k}" for k in GRID_SIZES] + ["catavgmax", "gem", "sum", "attention"]


def relu_maps(shape, seed=0):
    """Non-negative maps with exact zeros, as a ReLU body's last layer gives (float64)."""
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(size=shape), 0.0) + 0.05 * (rng.random(shape) < 0.5)


# ---- the grid: windows, forward, backward, Keras ----------------------------------------------------------------

@pytest.mark.parametrize(
    "size, cells, expected",
    [(6, 2, [(0, 3), (3, 6)]), (5, 2, [(0, 3), (2, 5)]), (7, 3, [(0, 3), (2, 5), (4, 7)]), (3, 1, [(0, 3)]),
     (2, 4, [(0, 1), (0, 1), (1, 2), (1, 2)])],
)
def test_adaptive_windows(size, cells, expected):
    assert adaptive_windows(size, cells) == expected


def test_adaptive_windows_cover_every_position_and_stay_in_range():
    for size in range(1, 20):
        for cells in range(1, 25):
            windows = adaptive_windows(size, cells)
            assert len(windows) == cells and all(0 <= a < b <= size for a, b in windows)
            assert set().union(*(range(a, b) for a, b in windows)) == set(range(size))


@pytest.mark.parametrize("args", [(0, 2), (4, 0), (4.0, 2), (True, 2)])
def test_adaptive_windows_rejects_bad_arguments(args):
    with pytest.raises(ValueError, match="must be a positive integer"):
        adaptive_windows(*args)


@pytest.mark.parametrize("grid", [(2, 3), 3, (6, 8), 1, (5, 7)])
def test_adaptive_avg_pool_backward_matches_finite_differences(grid):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 7, 3))
    out, cache = adaptive_avg_pool_forward(x, grid)
    dout = rng.normal(size=out.shape)
    numeric = numerical_gradient(lambda v: float(np.sum(adaptive_avg_pool_forward(v, grid)[0] * dout)), x)
    assert relative_error(adaptive_avg_pool_backward(dout, cache), numeric) < 1e-8


def test_adaptive_avg_pool_ends_of_the_family():
    x = relu_maps((2, 6, 6, 4))
    assert np.allclose(adaptive_avg_pool_forward(x, 1)[0][:, 0, 0], gap_forward(x)[0])
    assert np.array_equal(adaptive_avg_pool_forward(x, 6)[0], x)
    assert np.allclose(adaptive_avg_pool_forward(x, (1, 6))[0][:, 0], x.mean(axis=1))


@pytest.mark.parametrize("output_size", [0, (2,), (2, 0), 2.5, "2", (True, 2)])
def test_adaptive_avg_pool_forward_rejects_bad_output_sizes(output_size):
    with pytest.raises(ValueError, match="output_size must be"):
        adaptive_avg_pool_forward(np.zeros((1, 4, 4, 1)), output_size)


def test_adaptive_avg_pool_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        adaptive_avg_pool_forward(np.zeros((4, 4, 1)), 2)
    _, cache = adaptive_avg_pool_forward(np.zeros((1, 4, 4, 1)), 2)
    with pytest.raises(ValueError, match=r"dout must have shape \(1, 2, 2, 1\)"):
        adaptive_avg_pool_backward(np.zeros((1, 3, 2, 1)), cache)


def test_numpy_grid_equals_keras_adaptive_average_pooling_and_the_package_layer():
    import keras

    from flatgap.models.pooling import GridAveragePooling2D

    rng = np.random.default_rng(2)
    for height, width in ((1, 1), (5, 7), (8, 8), (9, 4), (13, 6)):
        for grid in ((1, 1), (2, 3), (3, 3), (4, 2), (7, 5)):
            x = rng.normal(size=(2, height, width, 3)).astype(np.float32)
            ours = adaptive_avg_pool_forward(x, grid)[0]
            np.testing.assert_allclose(np.asarray(keras.layers.AdaptiveAveragePooling2D(grid)(x)), ours, atol=1e-5)
            np.testing.assert_allclose(np.asarray(GridAveragePooling2D(grid)(x)), ours, atol=1e-5)


def test_grid_layer_runs_with_sizes_unknown_when_traced_and_its_gradient_is_the_numpy_backward():
    import tensorflow as tf

    from flatgap.models.pooling import GridAveragePooling2D

    layer = GridAveragePooling2D((2, 3))
    traced = tf.function(lambda t: layer(t), input_signature=[tf.TensorSpec([None, None, None, 2], tf.float32)])
    rng = np.random.default_rng(3)
    for size in ((5, 7), (12, 9), (3, 3)):
        x = rng.normal(size=(2, *size, 2)).astype(np.float32)
        np.testing.assert_allclose(np.asarray(traced(x)), adaptive_avg_pool_forward(x, (2, 3))[0], atol=1e-5)
    x = rng.normal(size=(2, 5, 7, 2)).astype(np.float32)
    dout = rng.normal(size=(2, 2, 3, 2)).astype(np.float32)
    tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        loss = tf.reduce_sum(layer(tensor) * dout)
    expected = adaptive_avg_pool_backward(dout, adaptive_avg_pool_forward(x, (2, 3))[1])
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, tensor)), expected, atol=1e-6)


def test_grid_layer_config_and_shapes():
    from flatgap.models.pooling import GridAveragePooling2D

    layer = GridAveragePooling2D((2, 3), name="g")
    assert GridAveragePooling2D.from_config(layer.get_config()).grid == (2, 3)
    assert layer.compute_output_shape((None, None, None, 8)) == (None, 2, 3, 8)
    with pytest.raises(ValueError, match="grid"):
        GridAveragePooling2D(0)


# ---- the global poolings ----------------------------------------------------------------------------------------

def test_global_sum_and_avgmax_references():
    x = relu_maps((3, 4, 5, 6))
    assert np.allclose(global_sum_forward(x), gap_forward(x)[0] * 20)
    both = global_avgmax_forward(x)
    assert both.shape == (3, 12)
    assert np.allclose(both[:, :6], gap_forward(x)[0]) and np.allclose(both[:, 6:], gmp_forward(x)[0])


@pytest.mark.parametrize("p", [1.0, 2.5, 3.0, 7.0])
def test_gem_backward_matches_finite_differences(p):
    x, dout = relu_maps((3, 4, 5, 6)), np.random.default_rng(4).normal(size=(3, 6))
    out, cache = gem_forward(x, p)
    dx, dp = gem_backward(dout, cache)
    assert relative_error(dx, numerical_gradient(lambda t: float(np.sum(gem_forward(t, p)[0] * dout)), x)) < 1e-7
    numeric_p = numerical_gradient(lambda q: float(np.sum(gem_forward(x, q[0])[0] * dout)), np.array([p]))
    assert relative_error(np.array([dp]), numeric_p) < 1e-7


def test_gem_limits():
    x = relu_maps((2, 4, 4, 3))
    assert np.allclose(gem_forward(x, 1.0)[0], gap_forward(x)[0], atol=1e-6)
    ratio = gem_forward(x, 300.0)[0] / gmp_forward(x)[0]
    assert 0.98 < ratio.min() and ratio.max() <= 1 + 1e-12
    for name, value in (("p", 0.0), ("p", -1.0)):
        with pytest.raises(ValueError, match=f"{name} must be a positive number"):
            gem_forward(x, value)


def test_attention_weights_and_backward():
    x, rng = relu_maps((3, 4, 5, 6)), np.random.default_rng(5)
    v, dout = rng.normal(size=6), rng.normal(size=(3, 6))
    a = attention_weights(x, v)
    assert a.shape == (3, 4, 5) and np.all(a > 0) and np.allclose(a.sum(axis=(1, 2)), 1)
    assert np.allclose(attention_weights(x, np.zeros(6)), 1 / 20)
    assert np.allclose(attention_pool_forward(x, np.zeros(6))[0], gap_forward(x)[0])
    assert np.allclose(attention_weights(x * 1000, v).sum(axis=(1, 2)), 1)  # no overflow
    out, cache = attention_pool_forward(x, v)
    dx, dv = attention_pool_backward(dout, cache)
    assert relative_error(dx, numerical_gradient(lambda t: float(np.sum(attention_pool_forward(t, v)[0] * dout)), x)) < 1e-7
    assert relative_error(dv, numerical_gradient(lambda w: float(np.sum(attention_pool_forward(x, w)[0] * dout)), v.copy())) < 1e-7
    with pytest.raises(ValueError, match=r"v must have shape \(6,\)"):
        attention_weights(x, np.zeros(5))


def test_keras_layers_equal_their_numpy_references_in_values_and_gradients():
    import tensorflow as tf

    from flatgap.models.pooling import AttentionPooling2D, GeMPooling2D, GlobalAvgMaxPooling2D, GlobalSumPooling2D

    x = relu_maps((3, 4, 5, 6))
    x32, rng = x.astype(np.float32), np.random.default_rng(6)
    v, dout = rng.normal(size=6), rng.normal(size=(3, 6))
    np.testing.assert_allclose(np.asarray(GlobalSumPooling2D()(x32)), global_sum_forward(x), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(GlobalAvgMaxPooling2D()(x32)), global_avgmax_forward(x), rtol=1e-5)
    gem, attention = GeMPooling2D(p=2.5), AttentionPooling2D()
    gem.build(x32.shape)
    attention.build(x32.shape)
    attention.set_weights([v.astype(np.float32)])
    np.testing.assert_allclose(np.asarray(gem(x32)), gem_forward(x, 2.5)[0], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(attention(x32)), attention_pool_forward(x, v)[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(attention.weights_of(x32)), attention_weights(x, v), rtol=1e-5, atol=1e-7)
    tensor = tf.constant(x32)
    for layer, reference in ((gem, gem_backward(dout, gem_forward(x, 2.5)[1])),
                             (attention, attention_pool_backward(dout, attention_pool_forward(x, v)[1]))):
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            loss = tf.reduce_sum(layer(tensor) * dout.astype(np.float32))
        dx, dparam = tape.gradient(loss, [tensor, layer.trainable_variables[0]])
        assert relative_error(np.asarray(dx), reference[0]) < 1e-4
        assert relative_error(np.asarray(dparam), reference[1]) < 1e-4


def test_keras_layers_accept_sizes_unknown_when_traced():
    import tensorflow as tf

    from flatgap.models import pooling

    spec = tf.TensorSpec([None, None, None, 3], tf.float32)
    x = relu_maps((2, 7, 5, 3)).astype(np.float32)
    for name, width in (("GlobalSumPooling2D", 3), ("GlobalAvgMaxPooling2D", 6), ("GeMPooling2D", 3), ("AttentionPooling2D", 3)):
        layer = getattr(pooling, name)()
        layer.build((None, None, None, 3))
        assert tf.function(lambda t, f=layer: f(t), input_signature=[spec])(x).shape == (2, width)


def test_gem_rejects_bad_arguments_and_round_trips_its_config():
    from flatgap.models.pooling import GeMPooling2D

    for kwargs in ({"p": 0}, {"p": -2.0}, {"eps": 0.0}, {"p": True}):
        with pytest.raises(ValueError, match="must be a positive number"):
            GeMPooling2D(**kwargs)
    config = GeMPooling2D(p=4.0, trainable_p=False).get_config()
    assert config["p"] == 4.0 and config["trainable_p"] is False


# ---- the registry -------------------------------------------------------------------------------------------------

def test_new_heads_dense_formulas():
    for k in GRID_SIZES:
        assert dense_param_count(f"grid{k}", 7, 7, 64, 10) == k * k * 64 * 10 + 10
    assert dense_param_count("catavgmax", 7, 7, 64, 10) == 2 * 64 * 10 + 10
    for head in ("gem", "sum", "attention"):
        assert dense_param_count(head, 7, 7, 64, 10) == dense_param_count("gap", 7, 7, 64, 10)
    assert HEADS["gem"].pool_params(64) == 1 and HEADS["attention"].pool_params(64) == 64
    assert len({HEADS[name].color for name in HEADS}) == len(HEADS)


@pytest.mark.parametrize("head", NEW_HEADS)
def test_new_heads_build_at_any_size_with_the_counted_parameters(head):
    import keras

    model = build_classifier(head, input_shape=(None, None, 1), filters=(4, 8), pool_every=1, num_classes=3)
    for size in ((6, 6), (9, 13)):
        assert model(np.zeros((2, *size, 1), np.float32)).shape == (2, 3)
    dense = sum(layer.count_params() for layer in model.layers if isinstance(layer, keras.layers.Dense))
    assert dense == dense_param_count(head, 5, 5, 8, 3)
    assert model.get_layer("head").count_params() == HEADS[head].pool_params(8)
    assert not HEADS[head].fixed_size


def test_grid_at_full_size_is_flatten():
    flat = build_classifier("flatten", input_shape=(12, 12, 1), filters=(4, 8), pool_every=1)
    grid = build_classifier("grid6", input_shape=(None, None, 1), filters=(4, 8), pool_every=1)
    grid.set_weights(flat.get_weights())
    x = np.random.default_rng(7).random((3, 12, 12, 1)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(flat(x)), np.asarray(grid(x)))


# ---- the counting canvases ---------------------------------------------------------------------------------------

def test_counting_canvases_hold_the_labelled_number_of_separate_squares():
    from scipy import ndimage

    images, labels = make_counting_canvases(60, (12, 15), counts=(1, 2, 3, 4), object_size=2, spacing=2, margin=1, seed=3)
    assert images.shape == (60, 12, 15, 1) and images.dtype == np.float32 and set(labels) <= {1, 2, 3, 4}
    for image, label in zip(images, labels, strict=True):
        blobs, count = ndimage.label(image[..., 0] > 0, structure=np.ones((3, 3)))
        assert count == label and image.sum() == 4 * label
        assert not image[0].any() and not image[-1].any() and not image[:, 0].any() and not image[:, -1].any()
    again, _ = make_counting_canvases(60, (12, 15), counts=(1, 2, 3, 4), object_size=2, spacing=2, margin=1, seed=3)
    assert np.array_equal(images, again)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"counts": ()}, "counts must be"), ({"counts": (1, 1)}, "counts must be"), ({"object_size": 0}, "object_size"),
     ({"canvas_size": 3}, "does not fit"), ({"counts": (9,), "canvas_size": 8}, "could not place")],
)
def test_counting_canvases_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_counting_canvases(4, **{"canvas_size": 12, **kwargs})
