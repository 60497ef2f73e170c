"""Checkers of exercise 2, the Keras APIs: each ``check_<name>(fn, ...)`` grades the student's ``<name>``."""

from __future__ import annotations

import numpy as np

from flatgap.grading.harness import Check, case_rng, keras_module, model_layers
from flatgap.models.heads import get_head

__all__ = [
    "check_gap_model",
    "check_param_count_prediction",
    "check_flatten_dense_to_conv",
    "check_class_activation_map",
    "check_model_cam",
]


def check_gap_model(build_gap_model) -> None:
    """``build_gap_model(channels, num_classes)``: a keras.Model with a conv body and a GAP head for any input size.

    The model comes back from the notebook's kernel as a ``.keras`` file (:meth:`Check.model`): its layers, input
    shape and outputs are checked here, on a copy loaded in safe mode.
    """
    __tracebackhide__ = True
    check = Check(build_gap_model, "build_gap_model")
    rng = check.fresh
    configs = [((1, 10), False), ((3, 4), False), ((int(rng.integers(1, 5)), int(rng.integers(2, 13))), True)]
    for case, ((channels, classes), random) in enumerate(configs):
        text = f"build_gap_model(channels={channels}, num_classes={classes})"
        text = check.random(text) if random else text
        model = check.model(text, channels, classes)
        kinds = [type(layer).__name__ for layer in model_layers(model)]
        if "Flatten" in kinds:
            check.fail(text, "a model without Flatten", f"layers {kinds}", "a Flatten head fixes the input size (its Dense layer needs H*W*C inputs); use GlobalAveragePooling2D")
        if "GlobalAveragePooling2D" not in kinds:
            check.fail(text, "a GlobalAveragePooling2D layer", f"layers {kinds}", "put keras.layers.GlobalAveragePooling2D() between the body and the Dense classifier")
        if "Conv2D" not in kinds:
            check.fail(text, "a convolutional body (at least one Conv2D)", f"layers {kinds}")
        try:
            input_shape = tuple(model.input_shape)
        except Exception:  # a model without a defined input
            input_shape = None
        if input_shape != (None, None, None, channels):
            check.fail(text, f"model.input_shape == (None, None, None, {channels})", str(input_shape), f"start from keras.Input(shape=(None, None, {channels})): None lets H and W vary")
        sizes = [(1, 8, 8), (2, 13, 17), (1, 32, 24), (int(rng.integers(1, 4)), int(rng.integers(8, 41)), int(rng.integers(8, 41)))]
        for size_case, (n, h, w) in enumerate(sizes):
            source = rng if size_case == len(sizes) - 1 else case_rng(100 + 10 * case + size_case)
            x = source.random((n, h, w, channels)).astype("float32")
            call = f"{text}(x) with x of shape {(n, h, w, channels)}"
            try:
                y = np.asarray(model(x, training=False))
            except Exception as error:
                raise AssertionError(
                    f"{call} raised {type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''} — "
                    "the model must accept any input size of at least 8x8 (use padding='same' in the body)"
                ) from error
            if y.shape != (n, classes):
                check.fail(call, f"output of shape {(n, classes)}", f"shape {y.shape}", f"end with GlobalAveragePooling2D and Dense({classes})")
            if not np.allclose(y.sum(axis=1), 1.0, atol=1e-4) or (y < 0).any():
                check.fail(call, "class probabilities (each row sums to 1)", f"rows summing to {np.round(y.sum(axis=1), 3).tolist()}", "use Dense(num_classes, activation='softmax')")
            check.cases += 1
    check.passed()


def check_param_count_prediction(predict_param_count) -> None:
    """``predict_param_count(input_shape, filters, kernel_size, padding, head, num_classes) -> int``,
    equal to ``flatgap.models.classifier.build_classifier(...).count_params()`` (no pooling in the body)."""
    __tracebackhide__ = True
    from flatgap.models.classifier import build_classifier

    check = Check(predict_param_count, "predict_param_count")
    cases = [
        ((8, 8, 1), (16, 32), 3, "same", "flatten", 10),
        ((8, 8, 1), (16, 32), 3, "valid", "flatten", 10),
        ((28, 20, 3), (8,), 5, "valid", "gap", 4),
        ((16, 16, 1), (4, 8, 16), 3, "same", "gmp", 10),
        ((12, 10, 2), (6,), 3, "same", "flatten+dropout", 3),
    ]
    fixed = len(cases)
    rng = check.fresh
    for _ in range(2):
        depth, k = int(rng.integers(1, 4)), int(rng.choice([1, 3, 5]))
        shape = (int(rng.integers(8, 25)), int(rng.integers(8, 25)), int(rng.integers(1, 4)))
        padding = str(rng.choice(["same", "valid"])) if min(shape[:2]) - depth * (k - 1) >= 1 else "same"
        filters = tuple(int(v) for v in rng.integers(2, 17, size=depth))
        cases.append((shape, filters, k, padding, str(rng.choice(["flatten", "flatten+dropout", "gap", "gmp"])), int(rng.integers(2, 13))))
    for i, args in enumerate(cases):
        shape, filters, k, padding, head, classes = args
        text = f"predict_param_count{args}"
        text = text if i < fixed else check.random(text)
        got = check.without_libraries(text, ("keras", "tensorflow"), "compute the count with arithmetic only, without building a model", *args)
        expected = build_classifier(head, shape, classes, filters, k, padding).count_params()
        channels = [shape[2], *filters]
        conv = sum(k * k * a * b + b for a, b in zip(channels[:-1], filters, strict=True))
        h, w = shape[:2]
        if padding == "valid":
            h, w = h - len(filters) * (k - 1), w - len(filters) * (k - 1)
        fixed_size = get_head(head).fixed_size
        features = get_head(head).features(h, w, filters[-1])
        hints = [
            (expected - sum(filters), "each Conv2D also has one bias per filter"),
            (expected - classes, "the Dense classifier also has one bias per class"),
            (conv, "add the Dense classifier's parameters"),
            (features * classes + classes, "add the convolutions' parameters"),
        ]
        if padding == "valid":
            hints.append((conv + shape[0] * shape[1] * filters[-1] * classes + classes, "with padding='valid' each k x k convolution shrinks H and W by k - 1"))
        if fixed_size:
            hints.append((conv + filters[-1] * classes + classes, "Flatten feeds H*W*C numbers to the Dense layer, not C"))
        else:
            hints.append((conv + h * w * filters[-1] * classes + classes, "global pooling feeds C numbers to the Dense layer, not H*W*C"))
        check.number(text, got, expected, integer=True, hints=hints)
    check.passed()


def check_flatten_dense_to_conv(flatten_dense_to_conv) -> None:
    """``flatten_dense_to_conv(kernel, bias, height, width, channels) -> (conv_kernel, conv_bias)``."""
    __tracebackhide__ = True
    from flatgap.models.equivalences import flatten_dense_to_conv as reference

    check = Check(flatten_dense_to_conv, "flatten_dense_to_conv")
    fixed = [((3, 4, 2), 5), ((1, 1, 6), 3), ((2, 2, 1), 1)]
    random = [(tuple(int(v) for v in check.fresh.integers(1, 7, size=3)), int(check.fresh.integers(1, 9))) for _ in range(2)]
    for i, ((h, w, c), units) in enumerate(fixed + random):
        rng = case_rng(200 + i) if i < len(fixed) else check.fresh
        kernel, bias = rng.standard_normal((h * w * c, units)), rng.standard_normal(units)
        text = f"flatten_dense_to_conv(kernel, bias, {h}, {w}, {c}) with kernel of shape {kernel.shape}"
        text = text if i < len(fixed) else check.random(text)
        got_kernel, got_bias = check.pair(text, check.call(text, kernel, bias, h, w, c), "(conv_kernel, conv_bias)")
        ref_kernel, ref_bias = reference(kernel, bias, h, w, c)
        check.array(
            text + " — conv_kernel",
            got_kernel,
            ref_kernel,
            "conv_kernel",
            shape_hints={(units, h, w, c): "keep units last: Conv2D kernels are (KH, KW, C, filters)", (h * w * c, units): "reshape the kernel to (H, W, C, units)"},
            value_hints=[
                (kernel.reshape(c, h, w, units).transpose(1, 2, 0, 3), "that is the channels-first order; a channels-last Flatten walks H, then W, then C, so kernel.reshape(H, W, C, units) is enough"),
                (kernel.reshape(w, h, c, units).transpose(1, 0, 2, 3), "Flatten walks H before W: reshape to (H, W, C, units) directly"),
            ],
        )
        check.array(text + " — conv_bias", got_bias, ref_bias, "conv_bias", shape_hints={(1, 1, units): "return the bias as it is, shape (units,)"})
    # The point of the identity, shown on Keras's own Conv2D: the kernel reproduces the Dense outputs.
    keras = keras_module()
    h, w, c, units = 3, 4, 2, 5
    rng = case_rng(210)
    kernel, bias = rng.standard_normal((h * w * c, units)).astype("float32"), rng.standard_normal(units).astype("float32")
    x = rng.standard_normal((2, h, w, c)).astype("float32")
    text = f"flatten_dense_to_conv(kernel, bias, {h}, {w}, {c})"
    got_kernel, got_bias = check.pair(text, check.call(text, kernel, bias, h, w, c), "(conv_kernel, conv_bias)")
    conv = keras.layers.Conv2D(units, (h, w), padding="valid")
    conv.build((None, h, w, c))
    conv.set_weights([np.asarray(got_kernel, dtype="float32"), np.asarray(got_bias, dtype="float32")])
    difference = float(np.abs(np.asarray(conv(x))[:, 0, 0, :] - (x.reshape(2, -1) @ kernel + bias)).max())
    if difference > 1e-4:
        raise AssertionError(f"flatten_dense_to_conv: a keras Conv2D with your weights differs from Flatten + Dense by {difference:.3g}")
    check.passed(f"a keras Conv2D with your kernel reproduces Flatten + Dense (largest difference {difference:.1e})")


def check_class_activation_map(class_activation_map) -> None:
    """``class_activation_map(feature_maps, weights, class_index) -> (H, W)``: sum_c weights[c, k] * A[:, :, c]."""
    __tracebackhide__ = True
    from flatgap.models.equivalences import class_activation_maps

    check = Check(class_activation_map, "class_activation_map")
    fixed = [((5, 4, 3), 10, 2), ((7, 7, 1), 4, 0), ((3, 6, 4), 4, 3), ((1, 1, 5), 2, 1)]
    rng = check.fresh
    random = []
    for _ in range(2):
        classes = int(rng.integers(2, 11))
        random.append((tuple(int(v) for v in rng.integers(1, 9, size=3)), classes, int(rng.integers(0, classes))))
    for i, ((h, w, c), classes, k) in enumerate(fixed + random):
        source = case_rng(300 + i) if i < len(fixed) else rng
        maps, weights = source.random((h, w, c)), source.standard_normal((c, classes))
        text = f"class_activation_map(feature_maps, weights, {k}) with feature_maps of shape {(h, w, c)} and weights of shape {(c, classes)}"
        text = text if i < len(fixed) else check.random(text)
        shapes = (
            f"feature_maps has shape (H, W, C) = {(h, w, c)} and weights (C, num_classes) = {(c, classes)}; the class's weights "
            f"are the column weights[:, class_index], shape ({c},), and feature_maps @ weights[:, class_index] gives the ({h}, {w}) map"
        )
        got = check.call(text, maps, weights, k, error_hint=shapes)
        expected = class_activation_maps(maps[None], weights, np.zeros(classes), k)[0]
        hints = [
            (expected / c, "the CAM is a weighted SUM over the channels, not a mean"),
            (maps.sum(axis=2), "weight each channel c by weights[c, class_index]"),
            (np.maximum(expected, 0), "do not clip the map at 0; return the weighted sum as it is"),
        ]
        if c == classes:
            hints.insert(0, (maps @ weights[k], "weights has shape (C, num_classes): the class's weights are the column weights[:, class_index], not the row"))
        check.array(
            text,
            got,
            expected,
            "a map",
            shape_hints={(h, w, c): "sum over the channel axis (axis 2)", (h, w, classes): "use only the column of class_index: weights[:, class_index]", (h, w, 1): "return an (H, W) map"},
            value_hints=hints,
        )
    check.passed()


def _random_gap_model(rng):
    """A small GAP classifier with random weights, its conv layer's name and images for it (fresh cases)."""
    from flatgap.models.classifier import build_classifier

    depth = int(rng.integers(1, 4))
    h, w, c = int(rng.integers(8, 17)), int(rng.integers(8, 17)), int(rng.integers(1, 4))
    classes = int(rng.integers(2, 8))
    model = build_classifier("gap", (h, w, c), classes, tuple(int(v) for v in rng.integers(3, 13, size=depth)), pool_every=int(rng.integers(0, 2)))
    model.set_weights([(rng.standard_normal(weight.shape) * 0.5).astype("float32") for weight in model.get_weights()])
    images = rng.random((int(rng.integers(2, 7)), h, w, c)).astype("float32")
    return model, images, f"conv{depth}"


def check_model_cam(model_cam, model, images, conv_layer: str) -> None:
    """``model_cam(model, images, class_index, conv_layer) -> (N, H', W')``: the CAMs of a GAP model.

    ``model`` comes from ``flatgap.models.classifier.build_classifier("gap", ...)``: ``conv_layer`` names its last
    convolution and its Dense layer is ``model.get_layer("classifier")``. The checker also runs
    ``model_cam`` on a GAP model of its own, with random weights, size and depth. The expected maps are computed
    here; ``model_cam`` runs where the student's code lives, on a copy of each model loaded from a ``.keras`` file.
    """
    __tracebackhide__ = True
    keras = keras_module()
    check = Check(model_cam, "model_cam")
    own_model, own_images, own_layer = _random_gap_model(check.fresh)
    cases = []
    for this_model, this_images, layer, random in [(model, np.asarray(images), conv_layer, False), (own_model, own_images, own_layer, True)]:
        features = np.asarray(keras.Model(this_model.input, this_model.get_layer(layer).output)(this_images, training=False))
        kernel, bias = this_model.get_layer("classifier").get_weights()
        classes = kernel.shape[1]
        batches = [(this_images, 0), (this_images[:1], classes // 2), (this_images, classes - 1)]
        if random:
            batches = [(this_images, int(check.fresh.integers(0, classes)))]
        cases += [(this_model, batch, k, layer, features[: len(batch)], kernel, bias, random) for batch, k in batches]
    for this_model, batch, k, layer, maps, kernel, bias, random in cases:
        text = f"model_cam(model, images, {k}, {layer!r}) with images of shape {batch.shape}"
        text = check.random(text + " on a GAP model with random weights") if random else text
        expected = maps @ kernel[:, k]
        shapes = (
            f"the output of layer {layer!r} has shape {maps.shape} (N, H', W', C) and the classifier's kernel {kernel.shape} "
            f"(C, num_classes): features @ kernel[:, class_index] gives the {expected.shape} maps"
        )
        got = check.call(text, this_model, batch, k, layer, error_hint=shapes)
        check.array(
            text,
            got,
            expected,
            "CAMs",
            shape_hints=lambda got, batch=batch, maps=maps, layer=layer, shapes=shapes: (
                f"return the maps at the resolution of layer {layer!r}, {maps.shape[1:3]}; do not resize them to the image"
                if tuple(got[1:3]) == batch.shape[1:3] and got[1:3] != maps.shape[1:3]
                else f"one (H', W') map per image: {shapes}"
            ),
            value_hints=[
                (expected + bias[k], "leave the bias out: CAM = sum_c kernel[c, k] * A[..., c] (Zhou et al., 2016)"),
                (expected / maps.shape[-1], "the CAM is a weighted SUM over the channels, not a mean"),
            ],
            rtol=1e-4,
            atol=1e-5,
        )
    features = cases[0][4]
    kernel, bias = cases[0][5], cases[0][6]
    logits = features.mean(axis=(1, 2)) @ kernel + bias
    cam_means = (features @ kernel).mean(axis=(1, 2)) + bias
    identity = float(np.abs(logits - cam_means).max())
    check.passed(f"mean of each CAM + bias = the class's logit (largest difference {identity:.1e})")
