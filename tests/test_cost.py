"""Unit tests of flatgap.costs.model_costs: multiply-add and parameter counts against hand-computed answers."""

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow before Keras loads)
from flatgap.costs.model_costs import (
    activation_bytes,
    conv2d_macs,
    conv_macs,
    count_macs,
    dense_macs,
    depthwise_conv_macs,
    find_head_layer,
    gap_ops,
    layer_costs,
    measure_latency,
    separable_conv_macs,
    split_body_head,
)
from flatgap.models.classifier import build_classifier


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
    # ops: conv1's ReLU on its 256 outputs; the classifier's softmax on its 10
    assert split_body_head(model) == {"body_params": 40, "head_params": 2570, "body_macs": 2304, "head_macs": 2560,
                                      "body_ops": 256, "head_ops": 10}
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
        (lambda: conv_macs((4, 4, 4, 4), 1, 1, 3), "out_spatial must be a tuple of 1 to 3"),
        (lambda: conv_macs((4,), 1, 1, (3, 3)), r"kernel_size must be an int or a \(K,\) tuple"),
        (lambda: depthwise_conv_macs((4, 4), 2, 3, depth_multiplier=0), "depth_multiplier must be a positive integer"),
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


def test_conv_depthwise_and_separable_formulas_by_hand():
    assert conv_macs((10,), 4, 8, 3) == 10 * 8 * 3 * 4
    assert conv_macs((2, 3, 3), 1, 2, (1, 3, 3)) == 18 * 2 * 9
    assert conv_macs((5, 4), 3, 2, (1, 2)) == conv2d_macs(5, 4, 3, 2, (1, 2))
    # depthwise: each of the 8 channels (times 2, the depth multiplier) sees only its own 3x3 window
    assert depthwise_conv_macs((4, 4), 8, 3, depth_multiplier=2) == 4 * 4 * 16 * 9
    assert separable_conv_macs((4, 4), 8, 16, 3) == 4 * 4 * 8 * 9 + 4 * 4 * 8 * 16


def _model(inputs, outputs):
    import keras

    return keras.Model(inputs, outputs)


def test_every_kind_of_layer_of_the_applications_is_counted_by_hand():
    import keras

    layers = keras.layers
    inputs = keras.Input((8, 8, 3))
    x = layers.Rescaling(1 / 255)(inputs)  # 192 ops
    x = layers.ZeroPadding2D(1)(x)  # 10x10x3, moves data only
    x = layers.Conv2D(4, 3, use_bias=False)(x)  # 8x8x4: 8*8*4*27 MACs
    x = layers.BatchNormalization()(x)  # 256 ops, 16 parameters
    y = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)  # 8*8*4*9 MACs, 256 ops (ReLU)
    x = layers.Add()([x, y])  # 256 ops
    s = layers.GlobalAveragePooling2D(keepdims=True)(x)  # a squeeze-and-excitation block: reads 256 values
    s = layers.Conv2D(4, 1, activation="sigmoid")(s)  # 4*4 MACs, 4 ops
    x = layers.Multiply()([x, s])  # 256 ops
    x = layers.SeparableConv2D(6, 3, padding="same")(x)  # 8*8*4*9 + 8*8*4*6 MACs
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)  # 4x4x6 outputs, 9 reads each
    x = layers.LayerNormalization()(x)  # 96 ops
    x = layers.Activation("linear")(x)  # identity: 0
    x = layers.GlobalAveragePooling2D(name="pool")(x)  # reads 96 values
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(5, activation="softmax")(x)  # 30 MACs, 5 ops
    model = _model(inputs, outputs)
    rows = layer_costs(model)
    assert sum(r["params"] for r in rows) == model.count_params()
    macs = 8 * 8 * 4 * 27 + 8 * 8 * 4 * 9 + 4 * 4 + 8 * 8 * 4 * 9 + 8 * 8 * 4 * 6 + 6 * 5
    assert count_macs(model) == macs
    ops = 192 + 256 + 256 + 256 + 256 + 4 + 256 + 4 * 4 * 6 * 9 + 96 + 96 + 5
    assert sum(r["ops"] for r in rows) == ops
    assert {r["kind"]: r["ops"] for r in rows}["ZeroPadding2D"] == 0
    assert find_head_layer(model) == "pool"  # the SE block's pooling comes earlier
    costs = split_body_head(model, "pool")
    assert costs["head_macs"] == 30 and costs["head_ops"] == 96 + 5 and costs["head_params"] == 6 * 5 + 5


def test_one_and_three_dimensional_layers_by_hand():
    import keras

    inputs = keras.Input((20, 3))
    x = keras.layers.Conv1D(8, 5, padding="valid")(inputs)  # 16x8: 16*8*5*3 MACs
    outputs = keras.layers.Dense(2)(keras.layers.GlobalMaxPooling1D()(x))
    assert count_macs(_model(inputs, outputs)) == 16 * 8 * 15 + 16
    volume = keras.Input((4, 6, 6, 2))
    y = keras.layers.Conv3D(3, 3, padding="same")(volume)  # 4x6x6x3, 27*2 per output
    y = keras.layers.Conv2DTranspose(2, 2, strides=2)(keras.layers.Reshape((4 * 6, 6, 3))(y))  # input 24x6x3
    model = _model(volume, y)
    assert count_macs(model) == 4 * 6 * 6 * 3 * 54 + 24 * 6 * 4 * 3 * 2


def test_nested_models_are_expanded_into_their_layers():
    import keras

    stem = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, padding="same"),
                             keras.layers.LayerNormalization()], name="stem")
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(3)(keras.layers.Flatten(name="head")(stem(inputs)))
    model = _model(inputs, outputs)
    rows = layer_costs(model)
    assert [r["kind"] for r in rows] == ["InputLayer", "Conv2D", "LayerNormalization", "Flatten", "Dense"]
    assert sum(r["params"] for r in rows) == model.count_params()
    assert count_macs(model) == 8 * 8 * 2 * 9 + 128 * 3
    assert activation_bytes(model) == 4 * (64 + 128 + 128 + 128 + 3)


def test_a_keras_application_is_counted_layer_by_layer():
    import keras

    model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35, classes=10)
    rows = layer_costs(model)
    assert sum(r["params"] for r in rows) == model.count_params()
    head = find_head_layer(model)
    assert type(model.get_layer(head)).__name__ == "GlobalAveragePooling2D"
    costs = split_body_head(model, head)
    channels = model.get_layer(head).input.shape[-1]
    assert costs["head_params"] == channels * 10 + 10 and costs["head_macs"] == channels * 10
    assert {r["kind"] for r in rows} >= {"DepthwiseConv2D", "BatchNormalization", "ReLU", "Add", "ZeroPadding2D"}


def test_a_weighted_layer_without_a_rule_is_refused():
    import keras

    inputs = keras.Input((4, 3))
    outputs = keras.layers.LSTM(2)(inputs)
    with pytest.raises(ValueError, match="LSTM has 48 parameters but flatgap.costs.macs has no rule"):
        layer_costs(_model(inputs, outputs))


def test_find_head_layer_takes_the_pooling_before_a_head_of_1x1_convolutions():
    import keras

    inputs = keras.Input((4, 4, 2))
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="pool")(inputs)
    x = keras.layers.Conv2D(3, 1)(x)
    model = _model(inputs, keras.layers.Flatten()(x))  # MobileNetV3's ending: the Flatten reduces nothing
    assert find_head_layer(model) == "pool"
    with pytest.raises(ValueError, match="has no global pooling or Flatten layer"):
        find_head_layer(_model(inputs, keras.layers.Conv2D(2, 1)(inputs)))


def test_find_head_layer_falls_back_to_the_last_flatten():
    import keras

    inputs = keras.Input((2, 2, 3))
    x = keras.layers.MaxPooling2D(2)(inputs)  # 1x1x3, as VGG16's body leaves a 32x32 image
    model = _model(inputs, keras.layers.Dense(2)(keras.layers.Flatten(name="flat")(x)))
    assert find_head_layer(model) == "flat"
