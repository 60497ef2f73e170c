"""Weight conversions that show two heads are convolutions in disguise, and class activation maps.

Two identities, both exact (up to float rounding):

1. **Flatten + Dense is a convolution.** A Dense layer with kernel ``W`` of shape (H*W*C, K) after a
   channels-last Flatten computes ``sum_{i,j,c} x[i, j, c] * W[(i*W + j)*C + c, k]``. A Conv2D with
   ``padding="valid"`` and a kernel of shape (H, W, C, K) applied to an (H, W, C) input computes the same
   sum at its single output position, so ``W.reshape(H, W, C, K)`` *is* that kernel. On a larger input
   the convolution slides, giving one vector of class scores per (H, W) window: the "fully
   convolutional" trick.
2. **GAP + Dense is a 1x1 convolution followed by GAP.** Averaging and a linear map commute:
   ``mean_ij(x[i, j]) @ W + b == mean_ij(x[i, j] @ W + b)``. The map ``x[i, j] @ W[:, k] + b[k]`` before the
   average is the class activation map of class ``k`` (Zhou et al., 2016).

The array functions use NumPy only; :func:`fully_convolutional_from_flatten` builds a Keras model.
"""

from __future__ import annotations

import numpy as np

from flatgap._validate import nhwc, positive_int


def _dense_weights(dense_kernel, dense_bias) -> tuple[np.ndarray, np.ndarray]:
    """Check a Dense layer's (D, K) kernel and (K,) bias; return them as float arrays."""
    kernel, bias = np.asarray(dense_kernel), np.asarray(dense_bias)
    if kernel.ndim != 2 or kernel.shape[0] < 1 or kernel.shape[1] < 1:
        raise ValueError(f"dense_kernel must have shape (inputs, units), got shape {kernel.shape}")
    if bias.shape != (kernel.shape[1],):
        raise ValueError(
            f"dense_bias must have shape (units,) = ({kernel.shape[1]},) to match dense_kernel {kernel.shape}, "
            f"got shape {bias.shape}"
        )
    return kernel, bias


def flatten_dense_to_conv(dense_kernel, dense_bias, height: int, width: int, channels: int):
    """Turn the Dense layer after a channels-last Flatten into an equivalent ``valid`` Conv2D.

    Args:
        dense_kernel: (H*W*C, K) kernel of the Dense layer.
        dense_bias: (K,) bias of the Dense layer.
        height, width, channels: shape (H, W, C) of the feature maps that entered the Flatten.

    Returns:
        ``(conv_kernel, conv_bias)``: (H, W, C, K) and (K,) arrays for
        ``keras.layers.Conv2D(K, (H, W), padding="valid")``. On an (N, H, W, C) input that convolution
        returns (N, 1, 1, K), equal to the Dense output (N, K); on a larger (N, H2, W2, C) input it
        returns (N, H2 - H + 1, W2 - W + 1, K): the Dense output for every (H, W) window.

    Example:
        >>> kernel, bias = flatten_dense_to_conv(np.zeros((2 * 3 * 4, 5)), np.zeros(5), 2, 3, 4)
        >>> kernel.shape, bias.shape
        ((2, 3, 4, 5), (5,))
    """
    kernel, bias = _dense_weights(dense_kernel, dense_bias)
    height, width = positive_int("height", height), positive_int("width", width)
    channels = positive_int("channels", channels)
    if kernel.shape[0] != height * width * channels:
        raise ValueError(
            f"dense_kernel has {kernel.shape[0]} input rows, but a Flatten of ({height}, {width}, {channels}) "
            f"feature maps gives height*width*channels = {height * width * channels}"
        )
    # Flatten (channels-last) orders its output as (i, j, c) with c fastest: exactly C-order reshape.
    return kernel.reshape(height, width, channels, kernel.shape[1]).copy(), bias.copy()


def gap_dense_to_conv1x1(dense_kernel, dense_bias):
    """Turn the Dense layer after GlobalAveragePooling2D into a 1x1 Conv2D to apply *before* the average.

    Args:
        dense_kernel: (C, K) kernel of the Dense layer.
        dense_bias: (K,) bias of the Dense layer.

    Returns:
        ``(conv_kernel, conv_bias)``: (1, 1, C, K) and (K,) arrays for ``keras.layers.Conv2D(K, 1)``.
        ``GAP(Conv2D_1x1(x))`` equals ``Dense(GAP(x))`` for any (N, H, W, C) input ``x``.

    Example:
        >>> kernel, bias = gap_dense_to_conv1x1(np.zeros((64, 10)), np.zeros(10))
        >>> kernel.shape, bias.shape
        ((1, 1, 64, 10), (10,))
    """
    kernel, bias = _dense_weights(dense_kernel, dense_bias)
    return kernel.reshape(1, 1, *kernel.shape).copy(), bias.copy()


def class_activation_maps(feature_maps, dense_kernel, dense_bias, class_index: int) -> np.ndarray:
    """Class activation maps: the GAP head's Dense layer applied at every position, for one class.

    ``cam[n, i, j] = feature_maps[n, i, j, :] @ dense_kernel[:, k] + dense_bias[k]`` with ``k = class_index``.
    The bias is included so that the mean of each map over (H, W) is exactly the class's logit (the
    input of the softmax). Zhou et al. (2016) leave the bias out; that shifts every position of a map
    by the same constant and changes nothing about where it is large.

    Args:
        feature_maps: (N, H, W, C) output of the last convolution (the input of the GAP layer).
        dense_kernel: (C, K) kernel of the Dense layer after the GAP.
        dense_bias: (K,) bias of that Dense layer.
        class_index: which class, 0 <= class_index < K.

    Returns:
        (N, H, W) float array, one map per image.

    Example:
        >>> maps = class_activation_maps(np.ones((2, 3, 4, 5)), np.ones((5, 10)), np.zeros(10), 7)
        >>> maps.shape, float(maps[0, 0, 0])
        ((2, 3, 4), 5.0)
    """
    kernel, bias = _dense_weights(dense_kernel, dense_bias)
    features = nhwc("feature_maps", feature_maps, channels=kernel.shape[0])
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
        raise ValueError(f"class_index must be an int, got {class_index!r}")
    if not 0 <= class_index < kernel.shape[1]:
        raise ValueError(f"class_index must be in [0, {kernel.shape[1]}), got {class_index}")
    return features @ kernel[:, class_index] + bias[class_index]


def fully_convolutional_from_flatten(model, name: str | None = None):
    """Rebuild a Flatten-head classifier as a fully convolutional model that accepts any input size.

    The model must be a chain ``Input -> (Conv2D | pooling | activation | ...)* -> Flatten -> [Dropout]
    -> Dense`` as made by ``flatgap.models.classifier.build_classifier("flatten" | "flatten+dropout", ...)``. The new
    model has an ``Input`` of shape (None, None, C), copies of the body's layers with the same weights,
    and in place of Flatten + Dense a ``Conv2D(K, (H, W), padding="valid")`` carrying the Dense weights
    (see :func:`flatten_dense_to_conv`) with the Dense's activation (softmax acts on the channel axis).
    Dropout is left out: it is the identity at inference.

    Args:
        model: a built ``keras.Model`` whose Flatten sees (H, W, C) feature maps.
        name: name of the new model (default: the old name + ``"_fully_conv"``).

    Returns:
        A ``keras.Model`` mapping (N, H2, W2, C_in) images to (N, H2', W2', K) score maps, where
        (H2', W2') is the body's output size minus (H - 1, W - 1). At the training size it returns
        (N, 1, 1, K), equal to the original model's (N, K) output.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    flatten_at = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Flatten)]
    if len(flatten_at) != 1:
        raise ValueError(f"model must contain exactly one Flatten layer, found {len(flatten_at)}")
    body, head = layers[: flatten_at[0]], layers[flatten_at[0] + 1 :]
    head = [layer for layer in head if not isinstance(layer, keras.layers.Dropout)]
    if len(head) != 1 or not isinstance(head[0], keras.layers.Dense):
        raise ValueError(
            "model must end in Flatten -> [Dropout] -> Dense, found after Flatten: "
            + ", ".join(type(layer).__name__ for layer in layers[flatten_at[0] + 1 :])
        )
    flatten, dense = layers[flatten_at[0]], head[0]
    if flatten.data_format != "channels_last":
        raise ValueError("the Flatten layer must use data_format='channels_last'")
    feature_shape = tuple(flatten.input.shape[1:])
    if len(feature_shape) != 3 or None in feature_shape:
        raise ValueError(f"the Flatten layer must see fixed (H, W, C) feature maps, got {feature_shape}")
    kernel, bias = flatten_dense_to_conv(*dense.get_weights(), *feature_shape)

    inputs = keras.Input(shape=(None, None, model.input_shape[-1]), name="image")
    x = inputs
    for layer in body:
        clone = layer.__class__.from_config(layer.get_config())
        x = clone(x)
        clone.set_weights(layer.get_weights())
    conv = keras.layers.Conv2D(
        kernel.shape[-1],
        kernel.shape[:2],
        padding="valid",
        activation=dense.get_config()["activation"],
        name="classifier_conv",
    )
    outputs = conv(x)
    conv.set_weights([kernel, bias])
    return keras.Model(inputs, outputs, name=name or f"{model.name}_fully_conv")
