"""Unit tests of flatgap.cost: multiply-add and parameter counts against hand-computed answers."""

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow before Keras loads)
from flatgap.cost import (
    activation_bytes,
    conv2d_macs,
    count_macs,
    dense_macs,
    gap_ops,
    layer_costs,
    measure_latency,
    split_body_head,
)
from flatgap.models import build_classifier


def test_conv_and_dense_formulas_by_hand():
    # 6x6 output, 4 filters, each output a 3*3*2 dot product: 6*6*4*18 = 2592
    assert conv2d_macs(6, 6, 2, 4, 3) == 2592
    assert conv2d_macs(5, 4, 3, 2, (1, 2)) == 5 * 4 * 2 * 1 * 2 * 3
    # grouped: each of the 4 outputs sees 2 of the 4 input channels
    assert conv2d_macs(1, 1, 4, 4, 1, groups=2) == 8
    assert dense_macs(3136, 10) == 31360 and dense_macs(64, 10) == 640
    assert gap_ops(2, 2, 3) == 3 * 3 + 3


def test_layer_costs_of_a_flatten_model_by_hand():
    # 8x8x1 -> conv 3x3 same, 4 filters -> 8x8x4 -> Flatten 256 -> Dense 10
    model = build_classifier("flatten", input_shape=(8, 8, 1), filters=(4,))
    rows = {row["name"]: row for row in layer_costs(model)}
    assert rows["conv1"]["macs"] == 8 * 8 * 4 * 9 and rows["conv1"]["params"] == 9 * 4 + 4
    assert rows["head"]["macs"] == 0 and rows["head"]["params"] == 0 and rows["head"]["output_shape"] == (256,)
    assert rows["classifier"]["macs"] == 2560 and rows["classifier"]["params"] == 2570
    assert count_macs(model) == 2304 + 2560
    assert split_body_head(model) == {"body_params": 40, "head_params": 2570, "body_macs": 2304, "head_macs": 2560}
    # values held: input 64 + conv 256 + flatten 256 + classifier 10 = 586, float32, batch 2
    assert activation_bytes(model, batch_size=2) == 2 * 4 * 586
    # Flatten's output as a view of the conv output: 586 - 256 values
    assert activation_bytes(model, batch_size=2, count_reshapes=False) == 2 * 4 * 330


def test_gap_model_with_pooling_and_valid_padding_by_hand():
    # 10x10x1 -> conv 3x3 valid 2 filters -> 8x8x2 -> pool -> 4x4x2 -> conv 3x3 valid 3 filters -> 2x2x3 -> GAP 3 -> Dense 5
    model = build_classifier("gap", input_shape=(10, 10, 1), num_classes=5, filters=(2, 3), padding="valid", pool_every=1)
    costs = split_body_head(model)
    assert costs["body_macs"] == 8 * 8 * 2 * 9 + 2 * 2 * 3 * 9 * 2
    assert costs["head_macs"] == 3 * 5 and costs["head_params"] == 3 * 5 + 5
    assert costs["body_params"] + costs["head_params"] == model.count_params()
    assert activation_bytes(model) == 4 * (100 + 128 + 32 + 12 + 3 + 5)


def test_dense_on_feature_maps_counts_every_position():
    import keras

    inputs = keras.Input((3, 4, 5))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    assert count_macs(model) == 3 * 4 * 5 * 2


def test_measure_latency_reports_best_and_median():
    calls = []
    result = measure_latency(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5
    assert 0 <= result["best"] <= result["median"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: conv2d_macs(0, 4, 1, 1, 3), "out_height must be a positive integer"),
        (lambda: conv2d_macs(4, 4, 1, 1, (3, 3, 3)), r"kernel_size must be an int or a \(KH, KW\) pair"),
        (lambda: conv2d_macs(4, 4, 3, 4, 3, groups=2), "groups=2 must divide in_channels=3"),
        (lambda: dense_macs(10, 0), "units must be a positive integer"),
        (lambda: gap_ops(2, 2.0, 3), "width must be a positive integer"),
        (lambda: layer_costs("model"), "model must be a built keras.Model"),
        (lambda: activation_bytes(build_classifier("gap", (8, 8, 1), filters=(2,)), batch_size=0), "batch_size must be"),
        (lambda: split_body_head(build_classifier("gap", (8, 8, 1), filters=(2,)), "neck"), "model has no layer named 'neck'"),
        (lambda: activation_bytes(build_classifier("gap", (8, 8, 1), filters=(2,)), count_reshapes=1), "count_reshapes must be"),
        (lambda: measure_latency(3), "fn must be a callable"),
        (lambda: measure_latency(lambda: None, repeats=0), "repeats must be a positive integer"),
        (lambda: measure_latency(lambda: None, warmup=-1), "warmup must be a non-negative integer"),
    ],
)
def test_bad_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unknown_spatial_size_is_rejected_with_advice():
    model = build_classifier("gap", input_shape=(None, None, 1), filters=(2,))
    with pytest.raises(ValueError, match="build the model with a fixed input shape"):
        count_macs(model)


def test_counts_are_plain_ints():
    model = build_classifier("gap", input_shape=(8, 8, 1), filters=(2,))
    assert all(isinstance(row["macs"], int) and not isinstance(row["macs"], np.integer) for row in layer_costs(model))
