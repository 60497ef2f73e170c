"""Keras models with one convolutional body and a choice of head.

The body is the same for every head, so that any difference in a comparison comes from the head alone:
``Conv2D -> ReLU [-> MaxPool] -> ... -> Conv2D -> ReLU`` with ``padding`` and ``filters`` chosen by the
caller. The heads:

=================  =====================================================================
``"flatten"``      Flatten -> Dense(num_classes)
``"flatten+dropout"`` Flatten -> Dropout(rate) -> Dense(num_classes)
``"gap"``          GlobalAveragePooling2D -> Dense(num_classes)
``"gap+dense"``    GlobalAveragePooling2D -> Dense(hidden) -> ReLU -> Dense(num_classes)
``"gmp"``          GlobalMaxPooling2D -> Dense(num_classes)
=================  =====================================================================

Layer names are fixed (``conv1``, ``conv2``, ..., ``pool1``, ..., ``head``, ``classifier``) so that
chapters can reach the last feature maps (``model.get_layer(f"conv{len(filters)}")``) and the classifier
weights (``model.get_layer("classifier")``).
"""

from __future__ import annotations

from flatgap._validate import positive_int

HEADS = ("flatten", "flatten+dropout", "gap", "gap+dense", "gmp")


def dense_param_count(head: str, height: int, width: int, channels: int, units: int) -> int:
    """Trainable parameters of the Dense layer that follows the head.

    Flatten feeds it H*W*C numbers, so it has H*W*C*units + units parameters; GAP and GMP feed it C,
    so it has C*units + units. (Flatten, GAP and GMP themselves have no parameters.)

    Args:
        head: ``"flatten"``, ``"gap"`` or ``"gmp"``.
        height, width, channels: shape (H, W, C) of the feature maps entering the head.
        units: outputs of the Dense layer.

    Returns:
        The parameter count, an int.

    Example:
        >>> dense_param_count("flatten", 7, 7, 64, 10), dense_param_count("gap", 7, 7, 64, 10)
        (31370, 650)
    """
    height, width = positive_int("height", height), positive_int("width", width)
    channels, units = positive_int("channels", channels), positive_int("units", units)
    if head == "flatten":
        return height * width * channels * units + units
    if head in ("gap", "gmp"):
        return channels * units + units
    raise ValueError(f"head must be 'flatten', 'gap' or 'gmp', got {head!r}")


def build_classifier(
    head: str,
    input_shape=(8, 8, 1),
    num_classes: int = 10,
    filters=(16, 32),
    kernel_size: int = 3,
    padding: str = "same",
    pool_every: int = 0,
    dropout: float = 0.5,
    hidden_units: int = 64,
    name: str | None = None,
):
    """One convolutional body with the chosen head, softmax outputs.

    Args:
        head: one of ``HEADS``.
        input_shape: (H, W, C) of one image; H and W may be ``None`` (any size) for the global-pooling
            heads, never for the Flatten heads, whose Dense layer needs H*W*C fixed.
        num_classes: outputs of the classifier.
        filters: number of filters of each Conv2D in the body (its length is the body's depth).
        kernel_size: side of every convolution kernel.
        padding: ``"same"`` or ``"valid"`` for every convolution.
        pool_every: insert a 2x2 MaxPooling2D after every ``pool_every``-th convolution except the last
            (0: no pooling).
        dropout: rate of the Dropout layer of ``"flatten+dropout"``.
        hidden_units: width of the hidden Dense layer of ``"gap+dense"``.
        name: model name (default: ``f"{head}_model"``).

    Returns:
        An uncompiled ``keras.Model`` mapping (N, H, W, C) to (N, num_classes) probabilities.

    Example:
        >>> model = build_classifier("gap", input_shape=(None, None, 1))
        >>> model.output_shape
        (None, 10)
    """
    import keras

    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (H, W, C), got {input_shape!r}")
    if head.startswith("flatten") and (input_shape[0] is None or input_shape[1] is None):
        raise ValueError(
            f"a {head!r} head needs a fixed input size (its Dense layer has H*W*C inputs), got input_shape {tuple(input_shape)}"
        )
    num_classes = positive_int("num_classes", num_classes)
    if not filters or any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in filters):
        raise ValueError(f"filters must be a non-empty sequence of positive ints, got {filters!r}")
    if not 0 <= pool_every <= len(filters):
        raise ValueError(f"pool_every must be between 0 and {len(filters)}, got {pool_every!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    pools = 0
    for index, count in enumerate(filters, start=1):
        x = keras.layers.Conv2D(count, kernel_size, padding=padding, activation="relu", name=f"conv{index}")(x)
        if pool_every and index % pool_every == 0 and index < len(filters):
            pools += 1
            x = keras.layers.MaxPooling2D(2, name=f"pool{pools}")(x)
    if head.startswith("flatten"):
        x = keras.layers.Flatten(name="head")(x)
        if head == "flatten+dropout":
            x = keras.layers.Dropout(dropout, name="dropout")(x)
    elif head.startswith("gap"):
        x = keras.layers.GlobalAveragePooling2D(name="head")(x)
        if head == "gap+dense":
            x = keras.layers.Dense(positive_int("hidden_units", hidden_units), activation="relu", name="hidden")(x)
    else:
        x = keras.layers.GlobalMaxPooling2D(name="head")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=name or f"{head.replace('+', '_')}_model")
