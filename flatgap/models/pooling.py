"""Keras pooling layers of Part IV: the grid between Flatten and GAP, and the other global poolings practice uses.

Each layer maps channels-last feature maps (N, H, W, C) to one vector (or one small grid) per image, for any H
and W, including sizes unknown until the layer is called (``keras.Input(shape=(None, None, C))``):

- :class:`GridAveragePooling2D` — adaptive average pooling to a ``rows x cols`` grid (the windows of
  ``keras.layers.AdaptiveAveragePooling2D``): 1x1 is GAP, HxW is the identity (then Flatten is plain Flatten);
- :class:`GlobalSumPooling2D` — the sum over positions (GAP times H*W);
- :class:`GlobalAvgMaxPooling2D` — the average and the maximum of each channel, concatenated (fastai's
  ``AdaptiveConcatPool2d``, timm's ``catavgmax``);
- :class:`GeMPooling2D` — generalized mean, ``(mean x^p)^(1/p)`` with a learned exponent p (Radenović et al.);
- :class:`AttentionPooling2D` — a weighted mean whose weights are a softmax over positions of a learned score.

Their NumPy references (forward and, where a layer has parameters, backward passes) are in
:mod:`flatgap.reference.pooling`, generated from the Part IV chapters; ``tests/test_pooling.py`` checks each layer
against its reference, and the grid against Keras's own ``AdaptiveAveragePooling2D``.
"""

from __future__ import annotations

import keras
from keras import ops

from flatgap._validate import positive_int, size_pair


def _check_rank4(layer: str, input_shape) -> None:
    if len(input_shape) != 4:
        raise ValueError(f"{layer} expects inputs of shape (batch, height, width, channels), got shape {tuple(input_shape)}")


def window_matrix(size, cells: int, dtype="float32"):
    """The (cells, size) matrix that averages each of ``cells`` adaptive windows along an axis of ``size`` positions.

    Window ``i`` covers positions ``floor(i * size / cells)`` to ``ceil((i + 1) * size / cells) - 1``, as in
    ``keras.layers.AdaptiveAveragePooling2D`` and PyTorch's ``AdaptiveAvgPool2d``; row ``i`` holds
    ``1 / window length`` on those positions and 0 elsewhere. ``size`` may be a tensor (an unknown size).

    Example:
        >>> import numpy as np
        >>> np.asarray(window_matrix(5, 2, "float64")).round(3).tolist()
        [[0.333, 0.333, 0.333, 0.0, 0.0], [0.0, 0.0, 0.333, 0.333, 0.333]]
    """
    cells = positive_int("cells", cells)
    size = ops.cast(size, "int32")
    index = ops.arange(cells, dtype="int32")
    start = (index * size) // cells
    stop = ((index + 1) * size + cells - 1) // cells
    position = ops.arange(size, dtype="int32")
    inside = ops.logical_and(position[None, :] >= start[:, None], position[None, :] < stop[:, None])
    inside = ops.cast(inside, dtype)
    return inside / ops.sum(inside, axis=1, keepdims=True)


class _PoolingToChannels(keras.layers.Layer):
    """A pooling over all positions with one output per channel: (batch, height, width, channels) -> (batch, channels)."""

    def compute_output_shape(self, input_shape):
        _check_rank4(type(self).__name__, input_shape)
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="flatgap")
class GridAveragePooling2D(keras.layers.Layer):
    """Adaptive average pooling to a fixed grid of cells, for any input size.

    Cell (i, j) of the output is the mean of rows ``floor(i*H/rows)`` to ``ceil((i+1)*H/rows) - 1`` and of
    columns ``floor(j*W/cols)`` to ``ceil((j+1)*W/cols) - 1``: the windows of
    ``keras.layers.AdaptiveAveragePooling2D`` (neighbouring windows share a row when ``rows`` does not divide
    H). Unlike that layer, H and W need not be known when the model is built. ``grid=1`` is
    ``GlobalAveragePooling2D`` with ``keepdims=True``; ``grid=(H, W)`` on an (H, W) input returns it unchanged.
    Followed by ``Flatten``, it is the family between a GAP head and a Flatten head.

    Args:
        grid: int or (rows, cols): the output's spatial size.

    Input shape:
        4D tensor ``(batch_size, height, width, channels)``.

    Output shape:
        4D tensor ``(batch_size, rows, cols, channels)``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(5 * 4, dtype="float32").reshape(1, 5, 4, 1)
        >>> y = GridAveragePooling2D(2)(x)
        >>> y.shape
        TensorShape([1, 2, 2, 1])
        >>> np.asarray(y)[0, :, :, 0].tolist()  # rows 0-2 and 2-4, columns 0-1 and 2-3
        [[4.5, 6.5], [12.5, 14.5]]
    """

    def __init__(self, grid=2, **kwargs):
        super().__init__(**kwargs)
        self.grid = size_pair("grid", grid)

    def call(self, inputs):
        shape = ops.shape(inputs)
        rows = window_matrix(shape[1], self.grid[0], inputs.dtype)
        cols = window_matrix(shape[2], self.grid[1], inputs.dtype)
        return ops.einsum("jw,niwc->nijc", cols, ops.einsum("ih,nhwc->niwc", rows, inputs))

    def compute_output_shape(self, input_shape):
        _check_rank4("GridAveragePooling2D", input_shape)
        return (input_shape[0], *self.grid, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "grid": self.grid}


@keras.saving.register_keras_serializable(package="flatgap")
class GlobalSumPooling2D(_PoolingToChannels):
    """Global sum pooling: the sum of each channel over all positions (GAP times H*W).

    The sum grows with the number of objects on the canvas, wherever they are and whatever the canvas size; the
    mean divides it by the area.

    Input shape:
        4D tensor ``(batch_size, height, width, channels)``.

    Output shape:
        2D tensor ``(batch_size, channels)``.

    Example:
        >>> import numpy as np
        >>> GlobalSumPooling2D()(np.ones((2, 3, 4, 5), "float32")).numpy()[0].tolist()
        [12.0, 12.0, 12.0, 12.0, 12.0]
    """

    def call(self, inputs):
        return ops.sum(inputs, axis=(1, 2))


@keras.saving.register_keras_serializable(package="flatgap")
class GlobalAvgMaxPooling2D(keras.layers.Layer):
    """The average and the maximum of each channel over all positions, concatenated.

    fastai's ``AdaptiveConcatPool2d`` and timm's ``catavgmax``: the next layer sees both how much of a feature
    the image holds on average and how strongly it fires at its best position.

    Input shape:
        4D tensor ``(batch_size, height, width, channels)``.

    Output shape:
        2D tensor ``(batch_size, 2 * channels)``: the C averages, then the C maxima.

    Example:
        >>> import numpy as np
        >>> x = np.array([0.0, 1.0, 2.0, 5.0], "float32").reshape(1, 2, 2, 1)
        >>> GlobalAvgMaxPooling2D()(x).numpy().tolist()
        [[2.0, 5.0]]
    """

    def call(self, inputs):
        return ops.concatenate([ops.mean(inputs, axis=(1, 2)), ops.max(inputs, axis=(1, 2))], axis=-1)

    def compute_output_shape(self, input_shape):
        _check_rank4("GlobalAvgMaxPooling2D", input_shape)
        return (input_shape[0], None if input_shape[-1] is None else 2 * input_shape[-1])


@keras.saving.register_keras_serializable(package="flatgap")
class GeMPooling2D(_PoolingToChannels):
    """Generalized-mean (GeM) pooling with a learned exponent (Radenović et al., 2018).

    ``y[c] = (mean over positions of max(x, eps)^p)^(1/p)``: p = 1 is the average, p -> infinity the maximum; p
    is one weight, shared by every channel, learned with the rest of the network. Inputs are clamped at ``eps``
    because a fractional power of a negative number is undefined (after a ReLU, only the zeros change).

    Args:
        p: initial exponent (Radenović et al. start at 3), > 0.
        eps: lower clamp of the inputs, > 0.
        trainable_p: learn p (True) or keep it fixed.

    Input shape:
        4D tensor ``(batch_size, height, width, channels)``.

    Output shape:
        2D tensor ``(batch_size, channels)``.

    Example:
        >>> import numpy as np
        >>> x = np.array([1.0, 1.0, 1.0, 5.0], "float32").reshape(1, 2, 2, 1)
        >>> [round(float(GeMPooling2D(p=p)(x)[0, 0]), 3) for p in (1.0, 3.0, 50.0)]
        [2.0, 3.175, 4.863]
    """

    def __init__(self, p: float = 3.0, eps: float = 1e-6, trainable_p: bool = True, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("p", p), ("eps", eps)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        self.initial_p, self.eps, self.trainable_p = float(p), float(eps), bool(trainable_p)

    def build(self, input_shape):
        _check_rank4("GeMPooling2D", input_shape)
        self.p = self.add_weight(name="p", shape=(), initializer=keras.initializers.Constant(self.initial_p),
                                 trainable=self.trainable_p)

    def call(self, inputs):
        powered = ops.power(ops.maximum(inputs, self.eps), self.p)
        return ops.power(ops.mean(powered, axis=(1, 2)), 1.0 / self.p)

    def get_config(self):
        return {**super().get_config(), "p": self.initial_p, "eps": self.eps, "trainable_p": self.trainable_p}


@keras.saving.register_keras_serializable(package="flatgap")
class AttentionPooling2D(_PoolingToChannels):
    """Attention pooling: a weighted mean over positions, the weights a softmax of a learned score.

    ``s[h, w] = x[h, w, :] . v`` (one learned vector v of C weights), ``a = softmax(s)`` over all H*W positions,
    ``y[c] = sum over positions of a[h, w] * x[h, w, c]``. The weights are positive and sum to 1, so y is a
    mean that can favour the positions whose features score high; with ``v = 0`` (the initial value) it is
    GAP. The weights themselves are returned by :meth:`weights_of`.

    Input shape:
        4D tensor ``(batch_size, height, width, channels)``.

    Output shape:
        2D tensor ``(batch_size, channels)``.

    Example:
        >>> import numpy as np
        >>> x = np.array([0.0, 1.0, 2.0, 5.0], "float32").reshape(1, 2, 2, 1)
        >>> layer = AttentionPooling2D()
        >>> float(layer(x)[0, 0])  # v = 0: equal weights, the mean
        2.0
        >>> layer.set_weights([np.array([1.0], "float32")])
        >>> np.asarray(layer.weights_of(x), dtype=float)[0].round(3).tolist()  # softmax of the scores 0, 1, 2, 5
        [[0.006, 0.017], [0.046, 0.93]]
    """

    def build(self, input_shape):
        _check_rank4("AttentionPooling2D", input_shape)
        if input_shape[-1] is None:
            raise ValueError("AttentionPooling2D needs the number of channels to be known")
        self.score = self.add_weight(name="score", shape=(input_shape[-1],), initializer="zeros")

    def weights_of(self, inputs):
        """The attention weights (batch_size, height, width): positive, summing to 1 over each image's positions."""
        scores = ops.einsum("nhwc,c->nhw", inputs, self.score)
        scores = scores - ops.max(scores, axis=(1, 2), keepdims=True)
        exp = ops.exp(scores)
        return exp / ops.sum(exp, axis=(1, 2), keepdims=True)

    def call(self, inputs):
        return ops.einsum("nhw,nhwc->nc", self.weights_of(inputs), inputs)
