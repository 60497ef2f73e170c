"""The body layers of flatgap.models.body against their NumPy references (flatgap.reference.body), the references'
backward passes against numerical gradients, and the body options of build_classifier."""

import re

import flatgap  # noqa: F401  (quiet TensorFlow before Keras loads)

# isort: split
import keras
import numpy as np
import pytest

from flatgap.models.body import AddCoords, BlurPool2D, MaxBlurPool2D
from flatgap.reference.body import (
    add_coords,
    add_coords_backward,
    binomial_kernel,
    blur_downsample,
    blur_downsample_backward,
    coordinate_channels,
    max_blur_pool,
)
from flatgap.reference.gradcheck import numerical_gradient, relative_error

GRAD_TOL = 1e-7
RNG = np.random.default_rng(0)


def _np(tensor):
    return keras.ops.convert_to_numpy(tensor)


# ---- coordinate channels ------------------------------------------------------------------------------------

def test_coordinate_channels_run_from_minus_one_to_one():
    rows, cols = coordinate_channels(3, 5)
    assert rows.shape == cols.shape == (3, 5) and rows.dtype == np.float32
    assert rows[:, 0].tolist() == [-1.0, 0.0, 1.0] and np.all(rows == rows[:, :1])
    assert cols[0].tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0] and np.all(cols == cols[:1])
    one_rows, one_cols = coordinate_channels(1, 1)
    assert one_rows.tolist() == [[0.0]] and one_cols.tolist() == [[0.0]]


@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (1, 1, 4, 1), (3, 8, 8, 2), (1, 2, 1, 5)])
@pytest.mark.parametrize("with_r", [False, True])
def test_add_coords_equals_the_numpy_reference(shape, with_r):
    x = RNG.normal(size=shape).astype(np.float32)
    expected = add_coords(x, with_r=with_r)
    assert expected.shape == shape[:3] + (shape[3] + (3 if with_r else 2),)
    np.testing.assert_array_equal(expected[..., : shape[3]], x)
    np.testing.assert_allclose(_np(AddCoords(with_r=with_r)(x)), expected, atol=1e-6)


def test_add_coords_works_on_any_input_size():
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, AddCoords()(inputs))
    assert model.output_shape == (None, None, None, 4)
    for size in ((4, 6), (9, 3)):
        x = RNG.normal(size=(2, *size, 2)).astype(np.float32)
        np.testing.assert_allclose(model.predict(x, verbose=0), add_coords(x), atol=1e-6)


def test_add_coords_backward_passes_the_gradient_of_x_only():
    x = RNG.normal(size=(2, 3, 4, 2))
    dout = RNG.normal(size=(2, 3, 4, 5))
    numeric = numerical_gradient(lambda v: float(np.sum(add_coords(v, with_r=True) * dout)), x)
    analytic = add_coords_backward(dout, channels=2)
    assert analytic.shape == x.shape and relative_error(numeric, analytic) < GRAD_TOL


def test_add_coords_rejects_bad_arguments():
    with pytest.raises(ValueError, match=re.escape("add_coords: x must have shape (N, H, W, C), got (3, 4)")):
        add_coords(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="height must be a positive integer, got 0"):
        coordinate_channels(0, 3)
    with pytest.raises(ValueError, match="channels must be between 1 and 2"):
        add_coords_backward(np.zeros((1, 2, 2, 4)), 3)
    with pytest.raises(ValueError, match="with_r must be True or False"):
        AddCoords(with_r="yes")


# ---- the binomial kernel and the blurred subsampling ----------------------------------------------------------

def test_binomial_kernels_are_rows_of_pascals_triangle():
    assert binomial_kernel(1).tolist() == [[1.0]]
    np.testing.assert_array_equal(binomial_kernel(2), np.full((2, 2), 0.25, np.float32))
    np.testing.assert_array_equal(binomial_kernel(3), np.outer([1, 2, 1], [1, 2, 1]) / 16)
    np.testing.assert_array_equal(binomial_kernel(5), np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256)
    for size in range(1, 8):
        kernel = binomial_kernel(size)
        assert kernel.shape == (size, size) and kernel.sum() == pytest.approx(1.0)
        np.testing.assert_array_equal(kernel, kernel.T)
        np.testing.assert_array_equal(kernel, kernel[::-1, ::-1])
    with pytest.raises(ValueError, match="size must be a positive integer, got 0"):
        binomial_kernel(0)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", ["reflect", "zero"])
@pytest.mark.parametrize("shape", [(2, 8, 8, 3), (1, 7, 10, 2)])
def test_blur_pool_equals_the_numpy_reference(size, stride, padding, shape):
    x = RNG.normal(size=shape).astype(np.float32)
    expected = blur_downsample(x, size, stride, padding)
    assert expected.shape == (shape[0], -(-shape[1] // stride), -(-shape[2] // stride), shape[3])
    layer = BlurPool2D(size, stride, padding)
    np.testing.assert_allclose(_np(layer(x)), expected, atol=1e-5)
    assert layer.compute_output_shape(shape) == expected.shape and not layer.weights


def test_blur_downsample_with_size_one_and_stride_two_is_plain_subsampling():
    x = RNG.normal(size=(2, 6, 6, 3)).astype(np.float32)
    np.testing.assert_array_equal(blur_downsample(x, 1, 2), x[:, ::2, ::2])


def test_blur_downsample_keeps_a_constant_map_constant():
    x = np.full((1, 9, 6, 2), 3.0, np.float32)
    np.testing.assert_allclose(blur_downsample(x, 3, 2, "reflect"), 3.0, rtol=1e-6)
    zero = blur_downsample(x, 3, 2, "zero")
    assert zero[0, 0, 0, 0] < 3.0 and zero[0, 2, 1, 0] == pytest.approx(3.0)  # zeros come in at the border only


@pytest.mark.parametrize("size, stride, padding", [(3, 2, "reflect"), (3, 2, "zero"), (4, 2, "reflect"),
                                                   (5, 3, "reflect"), (2, 2, "zero"), (3, 1, "reflect")])
def test_blur_downsample_backward_matches_numerical_gradient(size, stride, padding):
    x = RNG.normal(size=(2, 7, 6, 2))
    out = blur_downsample(x, size, stride, padding)
    assert out.dtype == np.float64
    dout = RNG.normal(size=out.shape)
    numeric = numerical_gradient(lambda v: float(np.sum(blur_downsample(v, size, stride, padding) * dout)), x)
    analytic = blur_downsample_backward(dout, x.shape, size, stride, padding)
    assert relative_error(numeric, analytic) < GRAD_TOL


def test_blur_downsample_backward_equals_the_keras_gradient():
    import tensorflow as tf

    x = tf.constant(RNG.normal(size=(2, 8, 8, 3)).astype(np.float32))
    dout = RNG.normal(size=(2, 4, 4, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(BlurPool2D()(x) * dout)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), blur_downsample_backward(dout, x.shape), atol=1e-5)


def test_blur_downsample_rejects_bad_arguments():
    with pytest.raises(ValueError, match="stride must be a positive integer, got 0"):
        blur_downsample(np.zeros((1, 4, 4, 1)), 3, 0)
    with pytest.raises(ValueError, match="padding must be 'reflect' or 'zero', got 'same'"):
        blur_downsample(np.zeros((1, 4, 4, 1)), 3, 2, "same")
    with pytest.raises(ValueError, match="reflect padding by 2 needs H and W above 2"):
        blur_downsample(np.zeros((1, 2, 4, 1)), 5, 2)
    with pytest.raises(ValueError, match=re.escape("dout must have shape (N, ceil(H/stride), ceil(W/stride), C)")):
        blur_downsample_backward(np.zeros((1, 3, 3, 1)), (1, 8, 8, 1))
    with pytest.raises(ValueError, match="BlurPool2D: strides must be a positive integer"):
        BlurPool2D(3, 0)
    with pytest.raises(ValueError, match="MaxBlurPool2D: size must be a positive integer"):
        MaxBlurPool2D(0)


# ---- max-blur-pool --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 8, 8, 3), (1, 9, 6, 2), (3, 14, 14, 4)])
@pytest.mark.parametrize("size", [2, 3, 5])
def test_max_blur_pool_equals_the_numpy_reference(shape, size):
    x = RNG.normal(size=shape).astype(np.float32)
    expected = max_blur_pool(x, size)
    assert expected.shape == (shape[0], -(-(shape[1] - 1) // 2), -(-(shape[2] - 1) // 2), shape[3])
    layer = MaxBlurPool2D(size)
    np.testing.assert_allclose(_np(layer(x)), expected, atol=1e-5)
    assert layer.compute_output_shape(shape) == expected.shape and not layer.weights


def test_max_blur_pool_has_max_poolings_shape_for_even_sizes_and_any_size_symbolically():
    for side in (4, 8, 14, 28):
        x = np.zeros((1, side, side, 2), np.float32)
        assert MaxBlurPool2D()(x).shape == keras.layers.MaxPooling2D(2)(x).shape
    inputs = keras.Input((None, None, 3))
    assert keras.Model(inputs, MaxBlurPool2D()(inputs)).output_shape == (None, None, None, 3)


def test_max_blur_pool_is_more_shift_consistent_than_max_pool():
    """A 1-pixel shift of a random map changes the (re-aligned) blurred output less than plain max pooling's."""
    x = RNG.uniform(size=(64, 17, 17, 1)).astype(np.float32)
    a, b = x[:, :16, :16], x[:, 1:, 1:]  # b is a shifted by one pixel diagonally
    plain = lambda v: v.reshape(len(v), 8, 2, 8, 2, 1).max(axis=(2, 4))  # noqa: E731
    # compare the halves of the maps that stay away from the borders
    change_plain = np.abs(plain(a)[:, 2:6, 2:6] - plain(b)[:, 2:6, 2:6]).mean()
    change_blur = np.abs(max_blur_pool(a)[:, 2:6, 2:6] - max_blur_pool(b)[:, 2:6, 2:6]).mean()
    assert change_blur < 0.7 * change_plain


# ---- the body options of build_classifier ---------------------------------------------------------------------

def test_coords_adds_coordinate_channels_before_the_chosen_convolutions():
    from flatgap.models.classifier import build_classifier

    plain = build_classifier("gap", filters=(4, 8), pool_every=1)
    model = build_classifier("gap", filters=(4, 8), pool_every=1, coords=(1, 2))
    assert isinstance(model.get_layer("coords1"), AddCoords) and isinstance(model.get_layer("coords2"), AddCoords)
    assert model.get_layer("conv1").kernel.shape == (3, 3, 3, 4) and model.get_layer("conv2").kernel.shape == (3, 3, 6, 8)
    assert model.count_params() == plain.count_params() + 2 * 9 * 4 + 2 * 9 * 8  # two more input channels of each 3x3 kernel
    gap_any = build_classifier("gap", input_shape=(None, None, 1), filters=(4, 8), coords=(1,))
    assert gap_any.predict(np.zeros((2, 11, 5, 1), np.float32), verbose=0).shape == (2, 10)


def test_blur_replaces_every_max_pooling_and_keeps_the_shapes():
    from flatgap.models.classifier import build_classifier, receptive_field

    plain = build_classifier("flatten", input_shape=(28, 28, 1), filters=(4, 8, 8), pool_every=1)
    blurred = build_classifier("flatten", input_shape=(28, 28, 1), filters=(4, 8, 8), pool_every=1, blur=3)
    assert [type(blurred.get_layer(f"pool{k}")).__name__ for k in (1, 2)] == ["MaxBlurPool2D"] * 2
    assert blurred.get_layer("head").input.shape == plain.get_layer("head").input.shape
    assert blurred.count_params() == plain.count_params()
    rows = {r["name"]: r for r in receptive_field(blurred)}
    # conv1 3; pool1: dense max +1 (jump 1), blur 3 +2, jump 2 -> 6; conv2 +4 -> 10; pool2 +2 +4 (jump 4) -> 16; conv3 +8
    assert [rows[n]["rf"] for n in ("conv1", "pool1", "conv2", "pool2", "conv3")] == [3, 6, 10, 16, 24]
    assert rows["conv3"]["jump"] == 4 == receptive_field(plain)[-1]["jump"]


def test_batch_norm_body_and_frozen_blocks():
    from flatgap.models.classifier import build_classifier

    model = build_classifier("gap", filters=(4, 8, 8), pool_every=1, batch_norm=True, frozen_blocks=2)
    assert [layer.name for layer in model.layers if layer.name.startswith(("conv", "bn", "relu"))] == [
        "conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3", "relu3"]
    assert model.get_layer("conv1").activation.__name__ == "linear" and model.get_layer("bn1").momentum == 0.9
    frozen = {layer.name for layer in model.layers if layer.weights and not layer.trainable}
    assert frozen == {"conv1", "bn1", "conv2", "bn2"}
    trainable = {v.path.split("/")[0] for v in model.trainable_variables}
    assert trainable == {"conv3", "bn3", "classifier"}
    also_bn = build_classifier("gap", filters=(4, 8, 8), pool_every=1, batch_norm=True, frozen_blocks=2, freeze_batch_norm=True)
    assert {v.path.split("/")[0] for v in also_bn.trainable_variables} == {"conv3", "classifier"}


def test_body_weights_are_copied_layer_by_layer_and_fingerprinted():
    from flatgap.models.classifier import BodyWeights, build_classifier

    keras.utils.set_random_seed(1)
    source = build_classifier("gap", num_classes=5, filters=(4, 8), pool_every=1, batch_norm=True)
    body = BodyWeights.of(source)
    assert sorted(body.layers) == ["bn1", "bn2", "conv1", "conv2"] and len(body.layers["bn1"]) == 4
    keras.utils.set_random_seed(2)
    target = build_classifier("flatten", num_classes=3, filters=(4, 8), pool_every=1, batch_norm=True, body_weights=body)
    for name in body.layers:
        for a, b in zip(source.get_layer(name).get_weights(), target.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    other = BodyWeights({k: [a + 1 for a in v] for k, v in body.layers.items()})
    assert str(other) != str(body) and str(BodyWeights(body.layers)) == str(body)
    with pytest.raises(ValueError, match=re.escape("body_weights holds layers ['bn1', 'bn2', 'conv1', 'conv2'], but this body has ['conv1', 'conv2']")):
        build_classifier("gap", filters=(4, 8), pool_every=1, body_weights=body)
    with pytest.raises(ValueError, match=re.escape("body_weights of 'conv2' have shapes")):
        build_classifier("gap", filters=(4, 9), pool_every=1, batch_norm=True, body_weights=body)


def test_a_frozen_pretrained_body_stays_as_it_was_through_a_training_run():
    from flatgap.experiments.runs import train_run
    from flatgap.models.classifier import BodyWeights, build_classifier

    keras.utils.set_random_seed(0)
    body = BodyWeights.of(build_classifier("gap", input_shape=(8, 8, 1), filters=(4, 8), pool_every=1, batch_norm=True))
    config = {"head": "gap", "input_shape": (8, 8, 1), "num_classes": 2, "filters": (4, 8), "pool_every": 1,
              "batch_norm": True, "body_weights": body, "frozen_blocks": 2}
    x = RNG.uniform(size=(40, 8, 8, 1)).astype(np.float32)
    y = np.repeat([0, 1], 20)
    out = train_run(config, (x, y), (x[:10], y[:10]), seed=0, learning_rate=1e-2, max_epochs=3, patience=3, batch_size=8)
    trained = build_classifier(**config)
    trained.set_weights(out["weights"])
    for name, arrays in body.layers.items():  # BatchNormalization's moving statistics included
        for a, b in zip(arrays, trained.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(trained.get_layer("classifier").get_weights()[0], build_classifier(**config).get_layer("classifier").get_weights()[0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"coords": (0,)}, "coords must hold distinct convolution indices from 1 to 2, got [0]"),
        ({"coords": (1, 1)}, "coords must hold distinct convolution indices from 1 to 2, got [1, 1]"),
        ({"coords": "input"}, "coords must be a sequence of convolution indices (1 to 2), got 'input'"),
        ({"blur": 3}, "blur replaces the body's max poolings by MaxBlurPool2D, so it needs pool_every > 0"),
        ({"blur": -1, "pool_every": 1}, "blur must be a non-negative integer, got -1"),
        ({"batch_norm": 1}, "batch_norm must be True or False, got 1"),
        ({"freeze_batch_norm": True}, "freeze_batch_norm needs batch_norm=True"),
        ({"frozen_blocks": 3}, "frozen_blocks must be between 0 and the number of convolutions (2), got 3"),
        ({"body_weights": [np.zeros(3)]}, "body_weights must be a BodyWeights (BodyWeights.of(model)), got list"),
    ],
)
def test_body_options_reject_bad_arguments(kwargs, message):
    from flatgap.models.classifier import build_classifier

    with pytest.raises(ValueError, match=re.escape(message)):
        build_classifier("gap", filters=(4, 8), **kwargs)
