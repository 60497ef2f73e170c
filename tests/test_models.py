"""Unit tests of flatgap.models.classifier: the parameter formulas against the models Keras builds, and bad arguments."""

import re

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow first)
from flatgap.models.classifier import build_classifier, dense_param_count, receptive_field
from flatgap.models.heads import HEADS


@pytest.mark.parametrize(
    "height, width, channels, units",
    [(7, 7, 64, 10), (1, 1, 1, 1), (3, 5, 2, 4), (8, 8, 32, 10), (224, 224, 512, 1000), (5, 2, 1, 3)],
)
def test_dense_param_count_matches_the_formulas(height, width, channels, units):
    assert dense_param_count("flatten", height, width, channels, units) == height * width * channels * units + units
    for head in ("gap", "gmp"):
        assert dense_param_count(head, height, width, channels, units) == channels * units + units


def test_dense_param_count_of_the_books_example():
    assert dense_param_count("flatten", 7, 7, 64, 10) == 31370
    assert dense_param_count("gap", 7, 7, 64, 10) == 650


def test_gap_count_does_not_depend_on_the_spatial_size():
    counts = {dense_param_count("gap", s, s, 16, 10) for s in (1, 4, 32, 300)}
    assert counts == {16 * 10 + 10}
    flatten = [dense_param_count("flatten", s, s, 16, 10) for s in (1, 4, 32, 300)]
    assert flatten == sorted(flatten) and len(set(flatten)) == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (("flatten", 0, 7, 64, 10), "height must be a positive integer, got 0"),
        (("flatten", 7, -1, 64, 10), "width must be a positive integer, got -1"),
        (("gap", 7, 7, 2.5, 10), "channels must be a positive integer, got 2.5"),
        (("gap", 7, 7, 64, True), "units must be a positive integer, got True"),
        (("dense", 7, 7, 64, 10), f"head must be one of {tuple(HEADS)}, got 'dense'"),
        (("flatten", None, 7, 64, 10), "height must be a positive integer, got None"),
    ],
)
def test_dense_param_count_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        dense_param_count(*args)


def _head_input_shape(model):
    return tuple(model.get_layer("head").input.shape[1:])


@pytest.mark.parametrize(
    "input_shape, filters, padding, pool_every, num_classes",
    [
        ((8, 8, 1), (16, 32), "same", 0, 10),
        ((8, 8, 1), (4, 8), "valid", 0, 10),
        ((28, 20, 3), (8, 16, 16), "same", 1, 5),
        ((12, 9, 1), (6,), "valid", 0, 2),
        ((16, 16, 1), (4, 8, 8), "valid", 2, 7),
    ],
)
def test_build_classifier_dense_counts_equal_the_formula(input_shape, filters, padding, pool_every, num_classes):
    import keras

    for head in HEADS:
        model = build_classifier(
            head, input_shape=input_shape, num_classes=num_classes, filters=filters, padding=padding,
            pool_every=pool_every, hidden_units=12, head_channels=12,
        )
        height, width, channels = _head_input_shape(model)
        assert channels == (12 if HEADS[head].mixer else filters[-1])
        dense = sum(layer.count_params() for layer in model.layers if isinstance(layer, keras.layers.Dense))
        assert dense == dense_param_count(head, height, width, channels, num_classes, hidden_units=12), head
        assert model.get_layer("head").count_params() == HEADS[head].pool_params(channels), head
        assert model.output_shape == (None, num_classes)


def test_build_classifier_feature_size_follows_padding_and_pooling():
    same = build_classifier("flatten", input_shape=(8, 8, 1), filters=(16, 32), padding="same")
    valid = build_classifier("flatten", input_shape=(8, 8, 1), filters=(16, 32), padding="valid")
    pooled = build_classifier("flatten", input_shape=(16, 12, 1), filters=(4, 8, 8), padding="same", pool_every=1)
    assert _head_input_shape(same) == (8, 8, 32)
    assert _head_input_shape(valid) == (4, 4, 32)  # two 3x3 valid convolutions: 8 -> 6 -> 4
    assert _head_input_shape(pooled) == (4, 3, 8)  # two 2x2 poolings: 16x12 -> 8x6 -> 4x3


def test_build_classifier_gap_dense_hidden_layer_count():
    model = build_classifier("gap+dense", input_shape=(8, 8, 1), filters=(16, 32), hidden_units=20)
    assert model.get_layer("hidden").count_params() == dense_param_count("gap", 8, 8, 32, 20)
    assert model.get_layer("classifier").count_params() == 20 * 10 + 10


def test_build_classifier_bodies_are_identical_across_heads():
    counts = {}
    for head in HEADS:
        model = build_classifier(head, input_shape=(10, 10, 1), filters=(8, 16))
        counts[head] = [model.get_layer(f"conv{i}").count_params() for i in (1, 2)]
    assert len({tuple(c) for c in counts.values()}) == 1
    assert counts["gap"] == [3 * 3 * 1 * 8 + 8, 3 * 3 * 8 * 16 + 16]


def test_build_classifier_gap_accepts_any_size_but_flatten_does_not():
    model = build_classifier("gap", input_shape=(None, None, 1), filters=(4,))
    for size in (5, 8, 13):
        assert model.predict(np.zeros((2, size, size + 1, 1), "float32"), verbose=0).shape == (2, 10)
    with pytest.raises(ValueError, match="needs a fixed input size"):
        build_classifier("flatten", input_shape=(None, None, 1))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"head": "dense"}, "head must be one of"),
        ({"head": "gap", "padding": "full"}, "padding must be 'same' or 'valid'"),
        ({"head": "gap", "input_shape": (8, 8)}, r"input_shape must be \(H, W, C\)"),
        ({"head": "flatten+dropout", "input_shape": (8, None, 1)}, "needs a fixed input size"),
        ({"head": "gap", "num_classes": 0}, "num_classes must be a positive integer"),
        ({"head": "gap", "filters": ()}, "filters must be a non-empty sequence of positive ints"),
        ({"head": "gap", "filters": (8, 0)}, "filters must be a non-empty sequence of positive ints"),
        ({"head": "gap", "pool_every": 3}, "pool_every must be between 0 and 2"),
        ({"head": "flatten+dropout", "dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"head": "gap+dense", "hidden_units": -4}, "hidden_units must be a positive integer"),
    ],
)
def test_build_classifier_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_classifier(**kwargs)


def test_receptive_field_of_the_course_bodies():
    from flatgap.models.classifier import build_classifier

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
