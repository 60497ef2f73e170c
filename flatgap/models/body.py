"""Keras layers for the body: coordinate channels (CoordConv) and anti-aliased downsampling (BlurPool).

- :class:`AddCoords` appends the row and column coordinates to a feature map, so that the next convolution can
  see where it is (Liu et al. 2018, "An intriguing failing of convolutional neural networks and the CoordConv
  solution");
- :class:`BlurPool2D` blurs every channel with a binomial kernel before it subsamples (Zhang 2019, "Making
  convolutional networks shift-invariant again");
- :class:`MaxBlurPool2D` replaces ``MaxPooling2D(2)``: a 2x2 max at every position, then a blurred stride-2 step.

Each layer equals its NumPy reference of :mod:`flatgap.reference.body` (generated from the chapters that teach
them), and ``tests/test_body_layers.py`` checks that. Channels-last throughout: (N, H, W, C) in and out. Layers
that change the receptive field say how in ``receptive_steps``, a list of (kernel, stride) pairs that
:func:`flatgap.models.classifier.receptive_field` reads.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from flatgap.reference.body import _blur_pads, binomial_kernel


def _ceil_div(length, stride: int):
    return None if length is None else -(-length // stride)


@keras.saving.register_keras_serializable(package="flatgap")
class AddCoords(keras.layers.Layer):
    """Appends coordinate channels to a feature map: CoordConv's ``AddCoords``.

    The row channel holds -1 + 2 i / (H - 1) at row i, the column channel -1 + 2 j / (W - 1) at column j: both
    run from -1 at the first pixel to +1 at the last (0 along an axis of length 1). A convolution after this layer
    is a *CoordConv*: its output can depend on where it is, which a plain convolution's cannot. The layer has no
    weights and works for any spatial size (H and W may be ``None``).

    Args:
        with_r: also append the distance from the centre, sqrt(row**2 + col**2).
        **kwargs: base layer keyword arguments, such as ``name``.

    Input shape:
        4D tensor with shape ``(batch_size, height, width, channels)``.

    Output shape:
        4D tensor with shape ``(batch_size, height, width, channels + 2)`` (``channels + 3`` with ``with_r``):
        the input channels first, then the rows, the columns (and the radius).

    Example:

    >>> x = np.zeros((1, 3, 5, 1), "float32")
    >>> y = AddCoords()(x)
    >>> tuple(y.shape)
    (1, 3, 5, 3)
    >>> keras.ops.convert_to_numpy(y)[0, :, 0, 1].tolist(), keras.ops.convert_to_numpy(y)[0, 0, :, 2].tolist()
    ([-1.0, 0.0, 1.0], [-1.0, -0.5, 0.0, 0.5, 1.0])
    """

    def __init__(self, with_r: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(with_r, bool):
            raise ValueError(f"AddCoords: with_r must be True or False, got {with_r!r}")
        self.with_r = with_r

    @staticmethod
    def _axis(length):
        """(2 i - (n - 1)) / max(n - 1, 1) for i = 0 .. n - 1 (length n may be a symbolic size)."""
        steps = ops.cast(length - 1, "float32")
        return (2.0 * ops.cast(ops.arange(length), "float32") - steps) / ops.maximum(steps, 1.0)

    def call(self, inputs):
        shape = ops.shape(inputs)
        ones = ops.ones_like(inputs[..., :1])
        rows = ones * ops.reshape(self._axis(shape[1]), (1, -1, 1, 1))
        cols = ones * ops.reshape(self._axis(shape[2]), (1, 1, -1, 1))
        extra = [rows, cols] + ([ops.sqrt(rows * rows + cols * cols)] if self.with_r else [])
        return ops.concatenate([inputs] + extra, axis=-1)

    def compute_output_shape(self, input_shape):
        *rest, channels = input_shape
        return (*rest, None if channels is None else channels + (3 if self.with_r else 2))

    def get_config(self):
        return {**super().get_config(), "with_r": self.with_r}


def _check_blur(cls: str, size, padding) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{cls}: size must be a positive integer, got {size!r}")
    if padding not in ("reflect", "zero"):
        raise ValueError(f"{cls}: padding must be 'reflect' or 'zero', got {padding!r}")


@keras.saving.register_keras_serializable(package="flatgap")
class BlurPool2D(keras.layers.Layer):
    """Anti-aliased subsampling: blur every channel with a binomial kernel, then keep every ``strides``-th pixel.

    Zhang (2019) puts this blur in front of every strided step of a network: subsampling a map that still holds
    detail finer than the new grid aliases it, so a one-pixel shift of the input changes the output by more
    than a shift. The kernel (:func:`flatgap.reference.body.binomial_kernel`) is fixed, not learned: the layer has no
    weights. Each spatial axis is padded by ((size - 1) // 2, size // 2) first, so H becomes ceil(H / strides).

    Args:
        size: side of the binomial kernel: 2 ([1, 1]), 3 ([1, 2, 1], the default), 5 ([1, 4, 6, 4, 1]), ...
        strides: subsampling step (2 halves H and W).
        padding: ``"reflect"`` (mirror the map, as Zhang's code does) or ``"zero"``.
        **kwargs: base layer keyword arguments, such as ``name``.

    Input shape:
        4D tensor with shape ``(batch_size, height, width, channels)``; channels must be known.

    Output shape:
        4D tensor with shape ``(batch_size, ceil(height / strides), ceil(width / strides), channels)``.

    Example:

    A single bright pixel at an odd position is shared by two output pixels along each axis:

    >>> x = np.zeros((1, 6, 6, 1), "float32"); x[0, 3, 3, 0] = 16.0
    >>> y = keras.ops.convert_to_numpy(BlurPool2D()(x))
    >>> y.shape, y[0, :, :, 0].tolist()
    ((1, 3, 3, 1), [[0.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    """

    receptive_steps: list

    def __init__(self, size: int = 3, strides: int = 2, padding: str = "reflect", **kwargs):
        super().__init__(**kwargs)
        _check_blur("BlurPool2D", size, padding)
        if isinstance(strides, bool) or not isinstance(strides, int) or strides < 1:
            raise ValueError(f"BlurPool2D: strides must be a positive integer, got {strides!r}")
        self.size, self.strides, self.padding = size, strides, padding
        self.receptive_steps = [(size, strides)]

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("BlurPool2D: the number of channels must be known")
        kernel = np.tile(binomial_kernel(self.size)[:, :, None, None], (1, 1, channels, 1))
        self._kernel = kernel.astype("float32")  # (size, size, C, 1): a constant, not a weight

    def call(self, inputs):
        before, after = _blur_pads(self.size)
        pads = [[0, 0], [before, after], [before, after], [0, 0]]
        padded = ops.pad(inputs, pads, mode="reflect" if self.padding == "reflect" else "constant")
        return ops.depthwise_conv(padded, ops.convert_to_tensor(self._kernel, dtype=inputs.dtype),
                                  strides=self.strides, padding="valid")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, _ceil_div(height, self.strides), _ceil_div(width, self.strides), channels)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "strides": self.strides, "padding": self.padding}


@keras.saving.register_keras_serializable(package="flatgap")
class MaxBlurPool2D(keras.layers.Layer):
    """Anti-aliased max pooling (Zhang 2019): a 2x2 max at every position (stride 1), then a blurred stride-2 step.

    ``MaxPooling2D(2)`` evaluates the max and subsamples in one go. Zhang splits the two: the max is computed
    densely, which does not alias, and only the blurred result is subsampled (:class:`BlurPool2D`). It is a
    drop-in replacement: for even H and W the output has the shape of ``MaxPooling2D(2)``'s. No weights.

    Args:
        size: side of the binomial blur kernel (3: [1, 2, 1]).
        padding: of the blur, ``"reflect"`` or ``"zero"`` (the dense max itself is unpadded).
        **kwargs: base layer keyword arguments, such as ``name``.

    Input shape:
        4D tensor with shape ``(batch_size, height, width, channels)``, height and width at least 2.

    Output shape:
        4D tensor with shape ``(batch_size, ceil((height - 1) / 2), ceil((width - 1) / 2), channels)``:
        ``(batch_size, height // 2, width // 2, channels)`` when height and width are even.

    Example:

    >>> x = np.zeros((2, 8, 8, 3), "float32")
    >>> MaxBlurPool2D()(x).shape == keras.layers.MaxPooling2D(2)(x).shape == (2, 4, 4, 3)
    True
    """

    receptive_steps: list

    def __init__(self, size: int = 3, padding: str = "reflect", **kwargs):
        super().__init__(**kwargs)
        _check_blur("MaxBlurPool2D", size, padding)
        self.size, self.padding = size, padding
        self.dense_max = keras.layers.MaxPooling2D(2, strides=1, padding="valid")
        self.blur = BlurPool2D(size, 2, padding)
        self.receptive_steps = [(2, 1), (size, 2)]

    def build(self, input_shape):
        batch, height, width, channels = input_shape
        self.blur.build((batch, None if height is None else height - 1, None if width is None else width - 1, channels))

    def call(self, inputs):
        return self.blur(self.dense_max(inputs))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, _ceil_div(None if height is None else height - 1, 2),
                _ceil_div(None if width is None else width - 1, 2), channels)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "padding": self.padding}
