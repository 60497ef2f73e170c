"""What a model costs: parameters, multiply-adds, activation memory and measured latency.

Counts are computed from layer shapes, not measured: :mod:`flatgap.costs.macs` gives the formulas and the rule for
each kind of layer (multiply-adds of convolutions and Dense layers, "MACs"; one "op" per value for the
element-wise and pooling layers; 0 for layers that only move data); this module applies them to a whole
model, layer by layer, with the layers of nested models (a ``Sequential`` stem inside a functional model, as
in ConvNeXt) counted one by one, in order.

Activation memory is the bytes needed to hold every layer's output for one forward pass (what training
keeps for the backward pass), input included; Flatten's output can be counted as a copy or as the view it
is. Latency is measured: best of N timed calls after warm-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from flatgap._validate import non_negative_int, positive_int
from flatgap.costs.macs import (  # noqa: F401  (the formulas are part of this module's interface too)
    conv2d_macs,
    conv_macs,
    count_layer,
    dense_macs,
    depthwise_conv_macs,
    gap_ops,
    output_shape,
    separable_conv_macs,
)


def _leaf_layers(model, top: bool = True) -> list:
    """The layers of ``model`` in order, with each nested model replaced by its own layers (its InputLayer dropped)."""
    leaves = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            leaves += _leaf_layers(layer, top=False)
        elif top or type(layer).__name__ != "InputLayer":
            leaves.append(layer)
    return leaves


def _check_model(model) -> list:
    if not hasattr(model, "layers") or not hasattr(model, "count_params"):
        raise ValueError(f"model must be a built keras.Model, got {type(model).__name__}")
    layers = _leaf_layers(model)
    for layer in layers:
        shape = tuple(layer.output.shape)
        if any(d is None for d in shape[1:]):
            raise ValueError(
                f"layer {layer.name!r} has output shape {shape} with an unknown size: build the model with a "
                "fixed input shape (H, W, C) to count its cost"
            )
    return layers


def layer_costs(model) -> list[dict]:
    """One row per layer of a Keras model: its kind, output shape, parameters, multiply-adds and other ops per image.

    Args:
        model: a ``keras.Model`` built with a fixed input shape (no ``None`` in H, W or C). Nested models are
            expanded into their layers.

    Returns:
        A list of dicts with keys ``name``, ``kind`` (the layer's class name), ``output_shape`` (without
        the batch axis), ``params``, ``macs`` (multiply-adds with weights) and ``ops`` (the other arithmetic, one
        per value; see :mod:`flatgap.costs.macs`).

    Example:
        >>> import keras
        >>> inputs = keras.Input((8, 8, 3))
        >>> x = keras.layers.DepthwiseConv2D(3, padding="same")(inputs)
        >>> x = keras.layers.BatchNormalization()(x)
        >>> model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
        >>> [(row["kind"], row["params"], row["macs"], row["ops"]) for row in layer_costs(model)]
        [('InputLayer', 0, 0, 0), ('DepthwiseConv2D', 30, 1728, 0), ('BatchNormalization', 12, 0, 192), ('GlobalAveragePooling2D', 0, 0, 192)]
    """
    rows = []
    for layer in _check_model(model):
        macs, ops = count_layer(layer)
        rows.append({"name": layer.name, "kind": type(layer).__name__, "output_shape": output_shape(layer.output),
                     "params": int(layer.count_params()), "macs": int(macs), "ops": int(ops)})
    return rows


def count_macs(model) -> int:
    """Total multiply-adds of ``model``'s layers with weights (convolutions, Dense) for one input."""
    return sum(row["macs"] for row in layer_costs(model))


RESHAPE_LAYERS = ("Flatten", "Reshape")
"""Layers whose output is the input's buffer with a new shape: a view, not new memory, for contiguous inputs."""


def activation_bytes(model, batch_size: int = 1, bytes_per_value: int = 4, count_reshapes: bool = True) -> int:
    """Bytes to hold every layer's output (the input included) for a batch, as training keeps them.

    Args:
        model: a ``keras.Model`` with fixed input shape.
        batch_size: images in the batch.
        bytes_per_value: 4 for float32.
        count_reshapes: count the outputs of Flatten and Reshape layers like any other (True), or as 0 bytes
            (False), since a reshape of a contiguous tensor is a view of its input's buffer, not a copy.

    Returns:
        ``batch_size * bytes_per_value * sum(prod(output_shape))`` over the layers counted (InputLayer included).

    Example:
        >>> from flatgap.models.classifier import build_classifier
        >>> model = build_classifier("flatten", input_shape=(8, 8, 1), filters=(4,))
        >>> activation_bytes(model), activation_bytes(model, count_reshapes=False)  # 4 * (64 + 256 + 256 + 10)
        (2344, 1320)
    """
    batch_size = positive_int("batch_size", batch_size)
    bytes_per_value = positive_int("bytes_per_value", bytes_per_value)
    if not isinstance(count_reshapes, bool):
        raise ValueError(f"count_reshapes must be True or False, got {count_reshapes!r}")
    values = sum(
        int(np.prod(row["output_shape"], dtype=np.int64))
        for row in layer_costs(model)
        if count_reshapes or row["kind"] not in RESHAPE_LAYERS
    )
    return batch_size * bytes_per_value * values


def find_head_layer(model) -> str:
    """The name of the layer where ``model``'s head starts, the layer that turns feature maps into one vector.

    That is the last global pooling after which no layer's output has more than one position (global
    poolings inside the body, in squeeze-and-excitation blocks, are followed by full-size maps; MobileNetV3's
    pooling is followed by 1x1 convolutions and a Flatten of (1, 1, classes), which are its head); failing
    that, the last Flatten (VGG's head). Pass the name to :func:`split_body_head`. When a head pools twice
    (average and max, concatenated), the head starts at the later one: name the earlier one yourself.

    Example:
        >>> from flatgap.models.classifier import build_classifier
        >>> find_head_layer(build_classifier("gap", (8, 8, 1), filters=(2,)))
        'head'
    """
    layers = _check_model(model)
    kinds = [type(layer).__name__ for layer in layers]
    many = [int(np.prod(layer.output.shape[1:-1], dtype=np.int64)) > 1 for layer in layers]
    for i in reversed(range(len(layers))):
        if kinds[i].startswith("Global") and "Pooling" in kinds[i] and not any(many[i + 1:]):
            return layers[i].name
    flattens = [layer.name for layer, kind in zip(layers, kinds, strict=True) if kind == "Flatten"]
    if not flattens:
        raise ValueError(f"model {model.name!r} has no global pooling or Flatten layer where a head could start")
    return flattens[-1]


def split_body_head(model, head_layer: str = "head") -> dict[str, int]:
    """Parameters, multiply-adds and other ops of the body (layers before ``head_layer``) and the head (from it on).

    The course's models (:func:`flatgap.models.classifier.build_classifier`) name the Flatten/GAP layer ``"head"``;
    everything from it to the output (a Dense classifier, maybe Dropout or a hidden Dense) is the head. For
    other models (``keras.applications``) pass ``head_layer=find_head_layer(model)``.

    Returns:
        ``{"body_params", "head_params", "body_macs", "head_macs", "body_ops", "head_ops"}`` (per image).
    """
    rows = layer_costs(model)
    names = [row["name"] for row in rows]
    if head_layer not in names:
        shown = names if len(names) <= 12 else names[:6] + ["..."] + names[-6:]
        raise ValueError(f"model has no layer named {head_layer!r}; its layers are {shown}")
    start = names.index(head_layer)
    parts = {"body": rows[:start], "head": rows[start:]}
    return {f"{part}_{key}": sum(r[key] for r in parts[part]) for key in ("params", "macs", "ops") for part in parts}


def measure_latency(fn: Callable[[], object], repeats: int = 5, warmup: int = 2) -> dict[str, float]:
    """Time a call: run it ``warmup`` times untimed, then ``repeats`` times, and report the best and the median.

    The best of N is the least disturbed by other work on the machine; it is still a property of this
    machine and this moment, not of the model alone.

    Args:
        fn: a function of no arguments, e.g. ``lambda: model.predict_on_batch(x)``.
        repeats: timed calls, >= 1.
        warmup: untimed calls first (tracing, memory allocation), >= 0.

    Returns:
        ``{"best": seconds, "median": seconds}``.
    """
    if not callable(fn):
        raise ValueError(f"fn must be a callable of no arguments, got {type(fn).__name__}")
    repeats, warmup = positive_int("repeats", repeats), non_negative_int("warmup", warmup)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"best": float(min(times)), "median": float(np.median(times))}
