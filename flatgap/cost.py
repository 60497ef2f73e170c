"""What a model costs: parameters, multiply-adds, activation memory and measured latency.

Counts are computed from layer shapes, not measured:

- a Conv2D layer with a (KH, KW) kernel, C_in input and C_out output channels, producing an
  (H_out, W_out) map, does ``H_out * W_out * C_out * KH * KW * C_in / groups`` multiply-adds (MACs)
  per image (bias additions not counted);
- a Dense layer with D inputs and U units does ``D * U`` MACs per input vector (times the leading
  dimensions if its input has more than two axes);
- Flatten, GlobalAveragePooling2D, pooling and activations are counted as 0 MACs (GAP does
  H*W*C additions and C divisions, see :func:`gap_ops`, which is tiny next to any convolution).

Activation memory is the bytes needed to hold every layer's output for one forward pass (what training
keeps for the backward pass), input included; Flatten's output can be counted as a copy or as the view it is. Latency is measured: best of N timed calls after warm-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from flatgap._validate import non_negative_int, positive_int


def conv2d_macs(out_height: int, out_width: int, in_channels: int, out_channels: int, kernel_size, groups: int = 1) -> int:
    """Multiply-adds of one Conv2D layer for one image.

    Args:
        out_height, out_width: spatial size (H_out, W_out) of the layer's output.
        in_channels, out_channels: C_in and C_out.
        kernel_size: int or (KH, KW).
        groups: channel groups (1 for an ordinary convolution); must divide both channel counts.

    Returns:
        ``H_out * W_out * C_out * KH * KW * C_in // groups``.

    Example:
        >>> conv2d_macs(8, 8, 1, 16, 3)  # 8*8*16 outputs, each a 3*3*1 dot product
        9216
    """
    out_height, out_width = positive_int("out_height", out_height), positive_int("out_width", out_width)
    in_channels, out_channels = positive_int("in_channels", in_channels), positive_int("out_channels", out_channels)
    groups = positive_int("groups", groups)
    if isinstance(kernel_size, (int, np.integer)) and not isinstance(kernel_size, bool):
        kernel_size = (kernel_size, kernel_size)
    if not isinstance(kernel_size, (tuple, list)) or len(kernel_size) != 2:
        raise ValueError(f"kernel_size must be an int or a (KH, KW) pair, got {kernel_size!r}")
    kh, kw = positive_int("kernel_size[0]", kernel_size[0]), positive_int("kernel_size[1]", kernel_size[1])
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
    return out_height * out_width * out_channels * kh * kw * (in_channels // groups)


def dense_macs(in_features: int, units: int) -> int:
    """Multiply-adds of one Dense layer for one input vector: ``in_features * units``.

    Example:
        >>> dense_macs(7 * 7 * 64, 10), dense_macs(64, 10)
        (31360, 640)
    """
    return positive_int("in_features", in_features) * positive_int("units", units)


def gap_ops(height: int, width: int, channels: int) -> int:
    """Arithmetic operations of GlobalAveragePooling2D for one image: (H*W - 1)*C additions plus C divisions.

    Example:
        >>> gap_ops(7, 7, 64)
        3136
    """
    height, width, channels = positive_int("height", height), positive_int("width", width), positive_int("channels", channels)
    return (height * width - 1) * channels + channels


def _check_model(model) -> None:
    if not hasattr(model, "layers") or not hasattr(model, "count_params"):
        raise ValueError(f"model must be a built keras.Model, got {type(model).__name__}")
    for layer in model.layers:
        shape = tuple(layer.output.shape)
        if any(d is None for d in shape[1:]):
            raise ValueError(
                f"layer {layer.name!r} has output shape {shape} with an unknown size: build the model with a "
                "fixed input shape (H, W, C) to count its cost"
            )


def layer_costs(model) -> list[dict]:
    """One row per layer of a Keras model: its kind, output shape, parameters and multiply-adds per image.

    Args:
        model: a ``keras.Model`` built with a fixed input shape (no ``None`` in H, W or C).

    Returns:
        A list of dicts with keys ``name``, ``kind`` (the layer's class name), ``output_shape`` (without
        the batch axis), ``params`` and ``macs`` (0 for layers other than Conv2D and Dense).
    """
    _check_model(model)
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        out_shape = tuple(int(d) for d in layer.output.shape[1:])
        macs = 0
        if kind == "Conv2D":
            if layer.data_format != "channels_last":
                raise ValueError(f"layer {layer.name!r}: only channels_last Conv2D layers are counted")
            in_channels = int(layer.input.shape[-1])
            macs = conv2d_macs(out_shape[0], out_shape[1], in_channels, layer.filters, layer.kernel_size, layer.groups)
        elif kind == "Dense":
            in_shape = tuple(int(d) for d in layer.input.shape[1:])
            macs = int(np.prod(in_shape[:-1], dtype=np.int64)) * dense_macs(in_shape[-1], layer.units)
        rows.append(
            {"name": layer.name, "kind": kind, "output_shape": out_shape, "params": int(layer.count_params()), "macs": int(macs)}
        )
    return rows


def count_macs(model) -> int:
    """Total multiply-adds of the Conv2D and Dense layers of ``model`` for one image."""
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
        >>> from flatgap.models import build_classifier
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


def split_body_head(model, head_layer: str = "head") -> dict[str, int]:
    """Parameters and multiply-adds of the body (layers before ``head_layer``) and the head (from it on).

    The course's models (:func:`flatgap.models.build_classifier`) name the Flatten/GAP layer ``"head"``;
    everything from it to the output (a Dense classifier, maybe Dropout or a hidden Dense) is the head.

    Returns:
        ``{"body_params", "head_params", "body_macs", "head_macs"}`` (per image).
    """
    rows = layer_costs(model)
    names = [row["name"] for row in rows]
    if head_layer not in names:
        raise ValueError(f"model has no layer named {head_layer!r}; its layers are {names}")
    start = names.index(head_layer)
    body, head = rows[:start], rows[start:]
    return {
        "body_params": sum(r["params"] for r in body),
        "head_params": sum(r["params"] for r in head),
        "body_macs": sum(r["macs"] for r in body),
        "head_macs": sum(r["macs"] for r in head),
    }


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
