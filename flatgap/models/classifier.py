"""Keras models with one convolutional body and a choice of head, the parameter formula, and the receptive field.

The body is the same for every head, so that any difference in a comparison comes from the head alone:
``Conv2D -> ReLU [-> MaxPool] -> ... -> Conv2D -> ReLU`` with ``padding`` and ``filters`` chosen by the
caller. The heads are those of the registry :data:`flatgap.models.heads.HEADS` (``"flatten"``, ``"gap"``, ...).

Layer names are fixed (``conv1``, ``conv2``, ..., ``pool1``, ..., ``head``, ``classifier``) so that
chapters can reach the last feature maps (``model.get_layer(f"conv{len(filters)}")``) and the classifier
weights (``model.get_layer("classifier")``).
"""

from __future__ import annotations

from flatgap._validate import non_negative_int, positive_int
from flatgap.models.heads import get_head


def dense_param_count(head: str, height: int, width: int, channels: int, units: int, hidden_units: int = 64) -> int:
    """Trainable parameters of the Dense layer(s) that follow the head.

    Flatten feeds the Dense layer H*W*C numbers, so it has H*W*C*units + units parameters; GAP and GMP feed it C,
    so it has C*units + units. (Flatten, GAP and GMP themselves have no parameters.) Every head of
    :data:`flatgap.models.heads.HEADS` is accepted; a head with a hidden Dense layer counts both Dense layers.

    Args:
        head: a registered head name (``"flatten"``, ``"gap"``, ``"gmp"``, ...).
        height, width, channels: shape (H, W, C) of the feature maps entering the head.
        units: outputs of the last Dense layer. hidden_units: width of a hidden Dense layer, if the head has one.

    Returns:
        The parameter count, an int.

    Example:
        >>> dense_param_count("flatten", 7, 7, 64, 10), dense_param_count("gap", 7, 7, 64, 10)
        (31370, 650)
    """
    spec = get_head(head)
    height, width = positive_int("height", height), positive_int("width", width)
    channels, units = positive_int("channels", channels), positive_int("units", units)
    return spec.dense_params(height, width, channels, units, positive_int("hidden_units", hidden_units))


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
    head_channels: int = 32,
    use_bias: bool = True,
    random_shift: int = 0,
    name: str | None = None,
    coords=(),
    blur: int = 0,
    batch_norm: bool = False,
    body_weights: BodyWeights | None = None,
    frozen_blocks: int = 0,
    freeze_batch_norm: bool = False,
):
    """One convolutional body with the chosen head, softmax outputs.

    Args:
        head: a head of the registry :data:`flatgap.models.heads.HEADS`.
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
        head_channels: output channels of the 1x1 ``mixer`` convolution of ``"flatten+bottleneck"`` and
            ``"gap+wide"`` (the knob that matches their classifier's parameters to another head's).
        use_bias: ``False`` builds every convolution of the body, and the classifier, without biases (then an
            all-zero region of the input stays zero through the body).
        random_shift: shift every training image by a random whole number of pixels, up to this many in each
            direction, zeros coming in (a ``RandomTranslation`` layer named ``random_shift``, active in training
            only: data augmentation); needs a fixed input size.
        name: model name (default: ``f"{head}_model"``).
        coords: 1-based indices of the convolutions whose input gets two coordinate channels first (an
            :class:`~flatgap.models.body.AddCoords` layer named ``coords{i}``: CoordConv); ``(1,)`` adds them to
            the image, ``(len(filters),)`` to the last feature maps; ``()`` (default): none.
        blur: side of the binomial kernel of anti-aliased pooling: every 2x2 max pooling becomes a
            :class:`~flatgap.models.body.MaxBlurPool2D` (same name ``pool{k}``); 0 (default): plain max pooling.
        batch_norm: ``True`` puts a BatchNormalization (``bn{i}``) between every convolution and its ReLU
            (``relu{i}``), with a momentum of 0.9 (PyTorch's default; Keras's 0.99 needs more steps than the course's
            short runs take before its moving statistics, used in inference mode, settle).
        body_weights: a :class:`BodyWeights` (e.g. of a model trained on another task): its layers' weights
            replace the new body's, layer by layer and by name (the head and classifier keep their initial weights).
        frozen_blocks: the first ``frozen_blocks`` blocks of the body (a block: a convolution with its
            coordinates, BatchNormalization and ReLU) are not trainable (``trainable=False``; a frozen
            BatchNormalization also runs in inference mode, its statistics fixed). ``len(filters)`` freezes the
            whole body, ``len(filters) - 1`` leaves the last block to fine-tune.
        freeze_batch_norm: ``True`` freezes every BatchNormalization layer, also in the trainable blocks.

    Returns:
        An uncompiled ``keras.Model`` mapping (N, H, W, C) to (N, num_classes) probabilities.

    Example:
        >>> model = build_classifier("gap", input_shape=(None, None, 1))
        >>> model.output_shape
        (None, 10)
    """
    import keras

    spec = get_head(head)
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (H, W, C), got {input_shape!r}")
    if spec.fixed_size and (input_shape[0] is None or input_shape[1] is None):
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
    options = {"dropout": dropout, "hidden_units": positive_int("hidden_units", hidden_units),
               "head_channels": positive_int("head_channels", head_channels)}
    if not isinstance(use_bias, bool):
        raise ValueError(f"use_bias must be True or False, got {use_bias!r}")
    random_shift = non_negative_int("random_shift", random_shift)
    if random_shift and (input_shape[0] is None or input_shape[1] is None):
        raise ValueError(f"random_shift needs a fixed input size (it is a fraction of H and W), got input_shape {tuple(input_shape)}")

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    if random_shift:
        x = keras.layers.RandomTranslation(
            random_shift / input_shape[0], random_shift / input_shape[1], fill_mode="constant", fill_value=0.0,
            interpolation="nearest", name="random_shift")(x)
    body = _body_options(filters, pool_every, coords, blur, batch_norm, body_weights, frozen_blocks, freeze_batch_norm)
    pools = 0
    for index, count in enumerate(filters, start=1):
        if index in body["coords"]:
            from flatgap.models.body import AddCoords

            x = AddCoords(name=f"coords{index}")(x)
        x = keras.layers.Conv2D(count, kernel_size, padding=padding, activation=None if batch_norm else "relu",
                                use_bias=use_bias, name=f"conv{index}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{index}")(x)
            x = keras.layers.Activation("relu", name=f"relu{index}")(x)
        if pool_every and index % pool_every == 0 and index < len(filters):
            pools += 1
            if blur:
                from flatgap.models.body import MaxBlurPool2D

                x = MaxBlurPool2D(blur, name=f"pool{pools}")(x)
            else:
                x = keras.layers.MaxPooling2D(2, name=f"pool{pools}")(x)
    x = spec.add(x, options)
    outputs = keras.layers.Dense(num_classes, activation="softmax", use_bias=use_bias, name="classifier")(x)
    model = keras.Model(inputs, outputs, name=name or f"{head.replace('+', '_')}_model")
    _pretrain_and_freeze(model, len(filters), body_weights, frozen_blocks, freeze_batch_norm)
    return model


def _body_options(filters, pool_every, coords, blur, batch_norm, body_weights, frozen_blocks, freeze_batch_norm) -> dict:
    """Check the body options of :func:`build_classifier`; return the coordinate positions as a set."""
    depth = len(filters)
    if isinstance(coords, (str, bytes)) or not hasattr(coords, "__iter__"):
        raise ValueError(f"coords must be a sequence of convolution indices (1 to {depth}), got {coords!r}")
    coords = list(coords)
    if any(isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= depth for i in coords) or len(set(coords)) < len(coords):
        raise ValueError(f"coords must hold distinct convolution indices from 1 to {depth}, got {coords!r}")
    blur = non_negative_int("blur", blur)
    if blur and not pool_every:
        raise ValueError("blur replaces the body's max poolings by MaxBlurPool2D, so it needs pool_every > 0")
    for flag, value in (("batch_norm", batch_norm), ("freeze_batch_norm", freeze_batch_norm)):
        if not isinstance(value, bool):
            raise ValueError(f"{flag} must be True or False, got {value!r}")
    if freeze_batch_norm and not batch_norm:
        raise ValueError("freeze_batch_norm needs batch_norm=True (there is no BatchNormalization to freeze)")
    frozen_blocks = non_negative_int("frozen_blocks", frozen_blocks)
    if frozen_blocks > depth:
        raise ValueError(f"frozen_blocks must be between 0 and the number of convolutions ({depth}), got {frozen_blocks}")
    if body_weights is not None and not isinstance(body_weights, BodyWeights):
        raise ValueError(f"body_weights must be a BodyWeights (BodyWeights.of(model)), got {type(body_weights).__name__}")
    return {"coords": set(coords)}


def _block_of(layer_name: str) -> int | None:
    """The block a body layer belongs to (``conv2``, ``bn2``, ``coords2`` -> 2), None for any other layer."""
    for prefix in ("conv", "bn", "coords"):
        if layer_name.startswith(prefix) and layer_name[len(prefix):].isdigit():
            return int(layer_name[len(prefix):])
    return None


def _pretrain_and_freeze(model, depth: int, body_weights, frozen_blocks: int, freeze_batch_norm: bool) -> None:
    if body_weights is not None:
        body = {layer.name: layer for layer in model.layers if _block_of(layer.name) is not None and layer.weights}
        if set(body_weights.layers) != set(body):
            raise ValueError(f"body_weights holds layers {sorted(body_weights.layers)}, but this body has {sorted(body)}")
        for layer_name, arrays in body_weights.layers.items():
            expected = [tuple(w.shape) for w in body[layer_name].weights]
            if [a.shape for a in arrays] != expected:
                raise ValueError(f"body_weights of {layer_name!r} have shapes {[a.shape for a in arrays]}, the layer {expected}")
            body[layer_name].set_weights(list(arrays))
    for layer in model.layers:
        block = _block_of(layer.name)
        if block is not None and (block <= frozen_blocks or (freeze_batch_norm and layer.name.startswith("bn"))):
            layer.trainable = False


class BodyWeights:
    """The weights of a body's layers (``conv{i}``, ``bn{i}``), by layer name, to build another model on.

    A :class:`BodyWeights` is what :func:`build_classifier`'s ``body_weights`` takes: the arrays travel with the
    model's arguments to the worker processes of :func:`flatgap.experiments.protocol.run_experiment`, which rebuild the model
    from them. ``str()`` gives a fingerprint of the arrays (the runner tells models apart by their arguments'
    text), so two different bodies never share a traced model.

    Example:
        >>> body = BodyWeights.of(build_classifier("gap", filters=(4, 8)))
        >>> sorted(body.layers), [a.shape for a in body.layers["conv1"]]
        (['conv1', 'conv2'], [(3, 3, 1, 4), (4,)])
        >>> str(body) == str(BodyWeights(body.layers)) and str(body).startswith("BodyWeights(sha256:")
        True
    """

    def __init__(self, layers):
        import numpy as np

        self.layers = {str(k): tuple(np.array(a, dtype=np.float32) for a in v) for k, v in dict(layers).items()}
        if not self.layers:
            raise ValueError("BodyWeights needs the weights of at least one layer")

    @classmethod
    def of(cls, model) -> BodyWeights:
        """The body weights of a model built by :func:`build_classifier` (its ``conv{i}`` and ``bn{i}`` layers)."""
        return cls({layer.name: layer.get_weights() for layer in model.layers if _block_of(layer.name) is not None and layer.weights})

    def __str__(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        for layer_name in sorted(self.layers):
            for array in self.layers[layer_name]:
                digest.update(f"{layer_name}{array.shape}".encode())
                digest.update(array.tobytes())
        return f"BodyWeights(sha256:{digest.hexdigest()[:16]})"

    __repr__ = __str__


def receptive_field(model) -> list[dict]:
    """Receptive field of every convolution and pooling layer of a Keras model.

    For each layer with kernel size k and stride s (dilation d for convolutions), the receptive field
    grows by ``(k_eff - 1) * jump`` where ``k_eff = d * (k - 1) + 1`` and ``jump`` is the product of the
    strides before it; then ``jump *= s``. Other layers (activations, Flatten, global pooling, Dense)
    are skipped: global pooling and Dense see everything.

    Args:
        model: a ``keras.Model`` (only its Conv2D, MaxPooling2D and AveragePooling2D layers count).

    A layer with a ``receptive_steps`` list of (kernel, stride) pairs (:class:`~flatgap.models.body.MaxBlurPool2D`:
    a dense 2x2 max, then a blur of stride 2) counts as those steps in turn, in one row (the last step's kernel and
    stride).

    Returns:
        One dict per counted layer, in order: ``name``, ``kernel``, ``stride``, ``rf`` (side of the square
        input window one output unit sees, in input pixels) and ``jump`` (input pixels between
        neighbouring output units).
    """
    import keras

    rows, rf, jump = [], 1, 1
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, stride, dilation = layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0]
            if layer.kernel_size[0] != layer.kernel_size[1] or layer.strides[0] != layer.strides[1]:
                raise ValueError(f"layer {layer.name!r} is not square; receptive_field handles square kernels only")
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            kernel, stride, dilation = layer.pool_size[0], layer.strides[0], 1
        elif getattr(layer, "receptive_steps", None):  # e.g. MaxBlurPool2D: a dense 2x2 max, then a blurred stride 2
            for kernel, stride in layer.receptive_steps:
                rf += (kernel - 1) * jump
                jump *= stride
            rows.append({"name": layer.name, "kernel": int(layer.receptive_steps[-1][0]), "stride": int(layer.receptive_steps[-1][1]),
                         "rf": int(rf), "jump": int(jump)})
            continue
        else:
            continue
        rf += dilation * (kernel - 1) * jump
        jump *= stride
        rows.append({"name": layer.name, "kernel": int(kernel), "stride": int(stride), "rf": int(rf), "jump": int(jump)})
    if not rows:
        raise ValueError("model has no Conv2D or pooling layer, so it has no receptive field to compute")
    return rows
