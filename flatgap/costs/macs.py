"""Multiply-adds and other operations, layer by layer: the formulas, and how each kind of Keras layer is counted.

Two kinds of arithmetic are counted per input (one image, one sequence), from shapes alone:

- **multiply-adds (MACs)** of the layers that multiply activations by a weight tensor, the number papers
  quote as "FLOPs" or "mult-adds" (bias additions not counted). A convolution (1-D, 2-D or 3-D) producing
  an output of spatial size S_out with C_out channels, a kernel of K positions and C_in input channels does
  ``S_out * C_out * K * C_in / groups``; a depthwise convolution ``S_out * C_in * depth_multiplier * K``; a
  separable one its depthwise part plus a 1x1 convolution; a transposed convolution
  ``S_in * K * C_in * C_out``; a Dense layer with D inputs and U units ``D * U`` per input vector (times
  the leading dimensions when its input has more than two axes, as in ConvNeXt's pointwise layers);
- **other operations** (``ops``), a rough count of everything else, one operation per value: for
  element-wise layers (activations, Add, Multiply, Rescaling, normalizations and their scales, ...) one per
  output value (``inputs - 1`` per value for a merge of several inputs); for a pooling layer one per value
  it reads (``output values * pool size``; a global or adaptive pooling reads every input value once: GAP
  does H*W*C additions, see :func:`gap_ops`). Layers that only move data (Flatten, Reshape, padding,
  cropping, Concatenate, Dropout at inference, Embedding look-ups) count 0. A sigmoid costs more than a
  ReLU; ``ops`` does not say so. It is an order of magnitude, to show what the MACs leave out, not a FLOP
  count.

A layer with weights whose kind is not known here raises a ValueError rather than being counted as free;
a parameter-free layer of an unknown kind is counted as element-wise. Only channels-last layers are counted.
:mod:`flatgap.costs.model_costs` applies these rules to whole models.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flatgap._validate import positive_int


def _kernel(kernel_size, ndim: int = 2) -> tuple[int, ...]:
    if isinstance(kernel_size, (int, np.integer)) and not isinstance(kernel_size, bool):
        kernel_size = (kernel_size,) * ndim
    if not isinstance(kernel_size, (tuple, list)) or len(kernel_size) != ndim:
        names = {1: "(K,)", 2: "(KH, KW)", 3: "(KD, KH, KW)"}.get(ndim, f"{ndim}-tuple")
        raise ValueError(f"kernel_size must be an int or a {names} {'pair' if ndim == 2 else 'tuple'}, got {kernel_size!r}")
    return tuple(positive_int(f"kernel_size[{i}]", k) for i, k in enumerate(kernel_size))


def conv_macs(out_spatial, in_channels: int, out_channels: int, kernel_size, groups: int = 1) -> int:
    """Multiply-adds of one convolution (1-D, 2-D or 3-D) for one input.

    Args:
        out_spatial: spatial size of the output, ``(T_out,)``, ``(H_out, W_out)`` or ``(D_out, H_out, W_out)``.
        in_channels, out_channels: C_in and C_out.
        kernel_size: an int (the same along every spatial axis) or a tuple with one size per spatial axis.
        groups: channel groups (1 for an ordinary convolution, C_in for a depthwise one); must divide both
            channel counts.

    Returns:
        ``prod(out_spatial) * C_out * prod(kernel_size) * C_in // groups``.

    Example:
        >>> conv_macs((10,), 4, 8, 3), conv_macs((2, 3, 3), 1, 2, 3)  # 10*8*3*4, 18*2*27*1
        (960, 972)
    """
    if not isinstance(out_spatial, (tuple, list)) or not 1 <= len(out_spatial) <= 3:
        raise ValueError(f"out_spatial must be a tuple of 1 to 3 output sizes, got {out_spatial!r}")
    sizes = [positive_int(f"out_spatial[{i}]", s) for i, s in enumerate(out_spatial)]
    in_channels, out_channels = positive_int("in_channels", in_channels), positive_int("out_channels", out_channels)
    groups = positive_int("groups", groups)
    kernel = _kernel(kernel_size, len(sizes))
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
    return int(np.prod(sizes, dtype=np.int64) * out_channels * np.prod(kernel, dtype=np.int64) * (in_channels // groups))


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
    return conv_macs((out_height, out_width), in_channels, out_channels, kernel_size, groups)


def depthwise_conv_macs(out_spatial, in_channels: int, kernel_size, depth_multiplier: int = 1) -> int:
    """Multiply-adds of one depthwise convolution (each channel filtered on its own) for one input.

    Returns:
        ``prod(out_spatial) * C_in * depth_multiplier * prod(kernel_size)``: a convolution with
        ``groups = C_in`` and ``C_in * depth_multiplier`` outputs.

    Example:
        >>> depthwise_conv_macs((112, 112), 32, 3)  # MobileNet's first depthwise layer
        3612672
    """
    in_channels = positive_int("in_channels", in_channels)
    outputs = in_channels * positive_int("depth_multiplier", depth_multiplier)
    return conv_macs(out_spatial, in_channels, outputs, kernel_size, groups=in_channels)


def separable_conv_macs(out_spatial, in_channels: int, out_channels: int, kernel_size, depth_multiplier: int = 1) -> int:
    """Multiply-adds of a separable convolution: a depthwise convolution, then a 1x1 convolution to C_out.

    Example:
        >>> separable_conv_macs((4, 4), 8, 16, 3) == depthwise_conv_macs((4, 4), 8, 3) + conv_macs((4, 4), 8, 16, 1)
        True
    """
    depthwise = depthwise_conv_macs(out_spatial, in_channels, kernel_size, depth_multiplier)
    return depthwise + conv_macs(out_spatial, in_channels * depth_multiplier, out_channels, 1)


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


# --- how each kind of layer is counted ------------------------------------------------------------------

def _channels_last(layer) -> None:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"layer {layer.name!r}: only channels_last layers are counted, got {layer.data_format!r}")


def _conv(layer, in_shape, out_shape) -> int:
    _channels_last(layer)
    return conv_macs(out_shape[:-1], in_shape[-1], out_shape[-1], layer.kernel_size, getattr(layer, "groups", 1))


def _conv_transpose(layer, in_shape, out_shape) -> int:
    _channels_last(layer)
    return int(np.prod(in_shape[:-1], dtype=np.int64)) * int(np.prod(layer.kernel_size)) * in_shape[-1] * out_shape[-1]


def _depthwise(layer, in_shape, out_shape) -> int:
    _channels_last(layer)
    return depthwise_conv_macs(out_shape[:-1], in_shape[-1], layer.kernel_size, layer.depth_multiplier)


def _separable(layer, in_shape, out_shape) -> int:
    _channels_last(layer)
    return separable_conv_macs(out_shape[:-1], in_shape[-1], out_shape[-1], layer.kernel_size, layer.depth_multiplier)


def _dense(layer, in_shape, out_shape) -> int:
    return int(np.prod(in_shape[:-1], dtype=np.int64)) * dense_macs(in_shape[-1], layer.units)


MAC_LAYERS: dict[str, Callable] = {
    **dict.fromkeys(("Conv1D", "Conv2D", "Conv3D"), _conv),
    **dict.fromkeys(("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"), _conv_transpose),
    **dict.fromkeys(("DepthwiseConv1D", "DepthwiseConv2D"), _depthwise),
    **dict.fromkeys(("SeparableConv1D", "SeparableConv2D"), _separable),
    "Dense": _dense,
}
"""Layer kinds that do multiply-adds: ``kind -> rule(layer, input_shape, output_shape)``, shapes without the batch axis."""

MOVE_LAYERS = frozenset({
    "InputLayer", "Flatten", "Reshape", "Permute", "RepeatVector", "Concatenate", "Embedding", "Masking", "Identity",
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout", "GaussianNoise",
    "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
})
"""Layer kinds that only move or select data at inference: 0 MACs, 0 ops (Embedding is a look-up)."""

ELEMENTWISE_WEIGHTED = frozenset({
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "Normalization", "LayerScale", "PReLU",
})
"""Layer kinds with weights (scales, shifts, statistics) that act value by value: 0 MACs, one op per output value."""


def _pool_ops(layer, kind, in_shape, out_shape) -> int | None:
    """One op per value a pooling layer reads; None when ``kind`` is not a pooling layer."""
    if kind.startswith(("Global", "Adaptive")) and "Pooling" in kind:
        return int(np.prod(in_shape, dtype=np.int64))
    if kind.endswith(("Pooling1D", "Pooling2D", "Pooling3D")):
        return int(np.prod(out_shape, dtype=np.int64)) * int(np.prod(layer.pool_size))
    return None


def output_shape(tensor) -> tuple[int, ...]:
    """The shape of a Keras tensor without its batch axis, as ints."""
    return tuple(int(d) for d in tensor.shape[1:])


def _is_linear(layer) -> bool:
    """True when the layer applies no activation of its own (``activation=None`` or ``"linear"``)."""
    return getattr(getattr(layer, "activation", None), "__name__", "linear") == "linear"


def count_layer(layer) -> tuple[int, int]:
    """(MACs, ops) of one built Keras layer for one input, by the rules above.

    A convolution's or Dense layer's own ``activation`` counts one op per output value. Raises a ValueError
    for a layer with weights whose kind has no rule here.
    """
    kind, out_shape = type(layer).__name__, output_shape(layer.output)
    values = int(np.prod(out_shape, dtype=np.int64))
    if kind == "InputLayer":
        return 0, 0
    inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    in_shape = output_shape(inputs[0])
    if kind in MAC_LAYERS:
        return int(MAC_LAYERS[kind](layer, in_shape, out_shape)), 0 if _is_linear(layer) else values
    if kind in MOVE_LAYERS or (kind == "Activation" and _is_linear(layer)):
        return 0, 0
    pooled = _pool_ops(layer, kind, in_shape, out_shape)
    if pooled is not None:
        return 0, pooled
    if layer.count_params() and kind not in ELEMENTWISE_WEIGHTED:
        raise ValueError(
            f"layer {layer.name!r} of kind {kind} has {layer.count_params():,} parameters but flatgap.costs.macs has no rule "
            "for its arithmetic; add one to MAC_LAYERS (multiply-adds) or to ELEMENTWISE_WEIGHTED"
        )
    return 0, values * max(1, len(inputs) - 1)
