"""The checkers of exercise 2 (Keras): correct answers pass, mistakes fail with a hint."""

from __future__ import annotations

import numpy as np
from grading_support import failure

from flatgap.grading import ex2 as checks


def test_ex2_array_checkers(capsys):
    from flatgap.models.equivalences import flatten_dense_to_conv

    checks.check_flatten_dense_to_conv(flatten_dense_to_conv)
    checks.check_class_activation_map(lambda maps, w, k: maps @ w[:, k])
    assert capsys.readouterr().out.count("✓") == 2
    assert "channels-first order" in failure(checks.check_flatten_dense_to_conv, lambda k, b, h, w, c: (k.reshape(c, h, w, -1).transpose(1, 2, 0, 3), b))
    assert "SUM over the channels" in failure(checks.check_class_activation_map, lambda maps, w, k: maps @ w[:, k] / maps.shape[-1])


def test_ex2_model_checkers():
    import keras

    from flatgap.models.classifier import build_classifier

    checks.check_gap_model(lambda channels, classes: build_classifier("gap", (None, None, channels), classes, filters=(4,)))
    message = failure(checks.check_gap_model, lambda channels, classes: build_classifier("flatten", (8, 8, channels), classes, filters=(4,)))
    assert "use GlobalAveragePooling2D" in message
    def arithmetic(shape, filters, k, padding, head, classes):
        h, w, c = shape
        total = 0
        for count in filters:
            total += k * k * c * count + count
            c = count
            h, w = (h - k + 1, w - k + 1) if padding == "valid" else (h, w)
        return total + (h * w * c if head.startswith("flatten") else c) * classes + classes

    checks.check_param_count_prediction(arithmetic)
    built = failure(checks.check_param_count_prediction, lambda shape, filters, k, padding, head, classes: build_classifier(head, shape, classes, filters, k, padding).count_params())
    assert "compute the count with arithmetic only, without building a model, but the call ran code of keras" in built
    keras.utils.set_random_seed(0)
    model = build_classifier("gap", (8, 8, 1), 10, filters=(4, 6), pool_every=1)
    classifier = model.get_layer("classifier")
    classifier.set_weights([classifier.get_weights()[0], np.linspace(-1, 1, 10).astype("float32")])
    images = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")

    def cam(model, images, k, layer):
        maps = np.asarray(keras.Model(model.input, model.get_layer(layer).output)(images))
        return maps @ model.get_layer("classifier").get_weights()[0][:, k]

    checks.check_model_cam(cam, model, images, "conv2")
    assert "leave the bias out" in failure(checks.check_model_cam, lambda *a: cam(*a) + model.get_layer("classifier").get_weights()[1][a[2]], model, images, "conv2")
    probs = model.predict(images, verbose=0)
    assert probs.shape == (6, 10)


def test_a_shape_error_in_the_cam_code_comes_with_the_shapes_it_should_have_seen():
    message = failure(checks.check_class_activation_map, lambda maps, w, k: maps @ w[k])  # a row of weights, not the column
    assert message.startswith("class_activation_map(feature_maps, weights, 2) with feature_maps of shape (5, 4, 3) and weights of shape (3, 10) raised ValueError: matmul")
    assert "— feature_maps has shape (H, W, C) = (5, 4, 3) and weights (C, num_classes) = (3, 10); the class's weights are the column weights[:, class_index], shape (3,)" in message


def test_model_cam_on_the_checkers_own_model_and_its_shape_errors():
    import keras

    from flatgap.models.classifier import build_classifier

    keras.utils.set_random_seed(1)
    model = build_classifier("gap", (8, 8, 1), 10, filters=(4, 6), pool_every=1)
    images = np.random.default_rng(1).random((5, 8, 8, 1)).astype("float32")

    notebook_kernel = model.get_layer("classifier").get_weights()[0]

    def keyed_on_the_notebooks_model(model, images, k, layer):  # it gets a copy of each model: keyed on the weights
        kernel = model.get_layer("classifier").get_weights()[0]
        if kernel.shape != notebook_kernel.shape or not np.array_equal(kernel, notebook_kernel):
            return np.zeros((len(images), 4, 4))
        maps = np.asarray(keras.Model(model.input, model.get_layer(layer).output)(images))
        return maps @ model.get_layer("classifier").get_weights()[0][:, k]

    message = failure(checks.check_model_cam, keyed_on_the_notebooks_model, model, images, "conv2")
    assert "on a GAP model with random weights" in message and "(random case, seed" in message

    def rows(model, images, k, layer):
        maps = np.asarray(keras.Model(model.input, model.get_layer(layer).output)(images))
        return maps @ model.get_layer("classifier").get_weights()[0][k]

    message = failure(checks.check_model_cam, rows, model, images, "conv2")
    assert "raised ValueError: matmul" in message
    assert "— the output of layer 'conv2' has shape (5, 4, 4, 6) (N, H', W', C) and the classifier's kernel (6, 10) (C, num_classes): features @ kernel[:, class_index] gives the (5, 4, 4) maps" in message
