"""Unit tests of flatgap.models.equivalences: the weight conversions against Keras layers, CAMs, bad arguments."""

import os
import tempfile

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow first)
from flatgap.models.classifier import build_classifier
from flatgap.models.equivalences import (
    class_activation_maps,
    flatten_dense_to_conv,
    fully_convolutional_from_flatten,
    gap_dense_to_conv1x1,
)

SHAPES = [(7, 7, 64, 10), (3, 5, 2, 4), (5, 3, 1, 3), (1, 1, 1, 1), (4, 6, 1, 7), (2, 9, 3, 1)]
"""(H, W, C, units): square, non-square both ways, C = 1, units = 1, the 1x1 corner case."""


def _weights(rng, inputs, units):
    return rng.normal(size=(inputs, units)).astype("float32"), rng.normal(size=units).astype("float32")


@pytest.mark.parametrize("height, width, channels, units", SHAPES)
def test_flatten_dense_equals_a_valid_conv_with_an_hw_kernel(height, width, channels, units):
    import keras

    rng = np.random.default_rng(height * 100 + width * 10 + channels)
    x = rng.normal(size=(3, height, width, channels)).astype("float32")
    kernel, bias = _weights(rng, height * width * channels, units)

    flatten, dense = keras.layers.Flatten(), keras.layers.Dense(units)
    dense.build((None, height * width * channels))
    dense.set_weights([kernel, bias])
    expected = np.asarray(dense(flatten(x)))

    conv_kernel, conv_bias = flatten_dense_to_conv(kernel, bias, height, width, channels)
    assert conv_kernel.shape == (height, width, channels, units) and conv_bias.shape == (units,)
    conv = keras.layers.Conv2D(units, (height, width), padding="valid")
    conv.build(x.shape)
    conv.set_weights([conv_kernel, conv_bias])
    got = np.asarray(conv(x))
    assert got.shape == (3, 1, 1, units)
    np.testing.assert_allclose(got[:, 0, 0, :], expected, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("height, width, channels, units", [(3, 5, 2, 4), (4, 4, 1, 3)])
def test_converted_conv_slides_over_a_larger_input_window_by_window(height, width, channels, units):
    import keras

    rng = np.random.default_rng(7)
    big = rng.normal(size=(2, height + 3, width + 2, channels)).astype("float32")
    kernel, bias = _weights(rng, height * width * channels, units)
    conv = keras.layers.Conv2D(units, (height, width), padding="valid")
    conv.build(big.shape)
    conv.set_weights(list(flatten_dense_to_conv(kernel, bias, height, width, channels)))
    maps = np.asarray(conv(big))
    assert maps.shape == (2, 4, 3, units)
    for i in range(4):
        for j in range(3):
            window = big[:, i : i + height, j : j + width, :]
            np.testing.assert_allclose(maps[:, i, j], window.reshape(2, -1) @ kernel + bias, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("height, width, channels, units", SHAPES)
def test_gap_dense_equals_conv1x1_then_gap(height, width, channels, units):
    import keras

    rng = np.random.default_rng(height + width + channels + units)
    x = rng.normal(size=(4, height, width, channels)).astype("float32")
    kernel, bias = _weights(rng, channels, units)
    dense = keras.layers.Dense(units)
    dense.build((None, channels))
    dense.set_weights([kernel, bias])
    expected = np.asarray(dense(keras.layers.GlobalAveragePooling2D()(x)))

    conv_kernel, conv_bias = gap_dense_to_conv1x1(kernel, bias)
    assert conv_kernel.shape == (1, 1, channels, units)
    conv = keras.layers.Conv2D(units, 1)
    conv.build(x.shape)
    conv.set_weights([conv_kernel, conv_bias])
    got = np.asarray(keras.layers.GlobalAveragePooling2D()(conv(x)))
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("height, width, channels, units", SHAPES)
def test_class_activation_maps_average_to_the_logits(height, width, channels, units):
    rng = np.random.default_rng(3)
    features = rng.normal(size=(2, height, width, channels))
    kernel, bias = _weights(rng, channels, units)
    logits = features.mean(axis=(1, 2)) @ kernel + bias
    for k in range(units):
        maps = class_activation_maps(features, kernel, bias, k)
        assert maps.shape == (2, height, width)
        np.testing.assert_allclose(maps.mean(axis=(1, 2)), logits[:, k], atol=1e-5)
        # position by position: the Dense layer applied to the feature vector there
        np.testing.assert_allclose(maps[1, height - 1, 0], features[1, height - 1, 0] @ kernel[:, k] + bias[k], atol=1e-5)


def test_class_activation_maps_are_the_conv1x1_channels():
    import keras

    rng = np.random.default_rng(11)
    features = rng.normal(size=(2, 4, 6, 3)).astype("float32")
    kernel, bias = _weights(rng, 3, 5)
    conv = keras.layers.Conv2D(5, 1)
    conv.build(features.shape)
    conv.set_weights(list(gap_dense_to_conv1x1(kernel, bias)))
    scores = np.asarray(conv(features))
    for k in range(5):
        np.testing.assert_allclose(class_activation_maps(features, kernel, bias, k), scores[..., k], atol=1e-5)


# Saving calls np.array on TensorFlow variables, whose __array__ predates NumPy 2's copy keyword:
# a Keras/TensorFlow-internal DeprecationWarning, nothing this code can change.
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
@pytest.mark.parametrize("head, padding", [("flatten", "valid"), ("flatten+dropout", "same")])
def test_fully_convolutional_model_matches_the_original_and_survives_saving(head, padding):
    import keras

    keras.utils.set_random_seed(0)
    model = build_classifier(head, input_shape=(8, 6, 1), filters=(4, 6), padding=padding, num_classes=3)
    fcn = fully_convolutional_from_flatten(model)
    rng = np.random.default_rng(0)
    x = rng.random((5, 8, 6, 1)).astype("float32")
    same_size = fcn.predict(x, verbose=0)
    assert same_size.shape == (5, 1, 1, 3)
    np.testing.assert_allclose(same_size[:, 0, 0], model.predict(x, verbose=0), atol=1e-5)

    big = rng.random((2, 13, 11, 1)).astype("float32")
    maps = fcn.predict(big, verbose=0)
    # valid body: 13x11 -> 9x7 maps, kernel 4x2; same body: 13x11 maps, kernel 8x6. Either way 6x6 windows.
    assert maps.shape == (2, 6, 6, 3)
    if padding == "valid":  # a valid body: every output position is the original model on one window
        windows = np.stack([big[:, i : i + 8, j : j + 6] for i in range(6) for j in range(6)], axis=1)
        expected = model.predict(windows.reshape(-1, 8, 6, 1), verbose=0).reshape(2, 6, 6, 3)
        np.testing.assert_allclose(maps, expected, atol=1e-5)

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fcn.keras")
        fcn.save(path)
        loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(big, verbose=0), maps, atol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: flatten_dense_to_conv(np.zeros((24, 5)), np.zeros(5), 2, 3, 5), "height\\*width\\*channels = 30"),
        (lambda: flatten_dense_to_conv(np.zeros((24, 5)), np.zeros(4), 2, 3, 4), r"dense_bias must have shape \(units,\)"),
        (lambda: flatten_dense_to_conv(np.zeros(24), np.zeros(1), 2, 3, 4), r"dense_kernel must have shape \(inputs, units\)"),
        (lambda: flatten_dense_to_conv(np.zeros((24, 5)), np.zeros(5), 0, 3, 4), "height must be a positive integer"),
        (lambda: gap_dense_to_conv1x1(np.zeros((4, 5, 1)), np.zeros(5)), r"dense_kernel must have shape"),
        (lambda: gap_dense_to_conv1x1(np.zeros((4, 5)), np.zeros((1, 5))), "dense_bias must have shape"),
        (lambda: class_activation_maps(np.zeros((2, 3, 3, 4)), np.zeros((5, 2)), np.zeros(2), 0), "must have 5 channel"),
        (lambda: class_activation_maps(np.zeros((3, 3, 5)), np.zeros((5, 2)), np.zeros(2), 0), r"\(N, H, W, C\)"),
        (lambda: class_activation_maps(np.zeros((1, 3, 3, 5)), np.zeros((5, 2)), np.zeros(2), 2), r"class_index must be in \[0, 2\)"),
        (lambda: class_activation_maps(np.zeros((1, 3, 3, 5)), np.zeros((5, 2)), np.zeros(2), 1.0), "class_index must be an int"),
        (lambda: fully_convolutional_from_flatten("model"), "model must be a keras.Model"),
        (lambda: fully_convolutional_from_flatten(build_classifier("gap", filters=(4,))), "exactly one Flatten"),
    ],
)
def test_equivalences_reject_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_fully_convolutional_rejects_a_flatten_not_followed_by_dense():
    import keras

    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Flatten()(keras.layers.Conv2D(2, 3)(inputs))
    outputs = keras.layers.Dense(3)(keras.layers.Dense(4)(x))
    with pytest.raises(ValueError, match="must end in Flatten -> \\[Dropout\\] -> Dense, found after Flatten: Dense, Dense"):
        fully_convolutional_from_flatten(keras.Model(inputs, outputs))
