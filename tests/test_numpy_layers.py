"""The NumPy layers of Part I (flatgap.reference.layers): gradients, agreement with Keras, argument checks.

Each backward pass is compared with a centred finite difference in float64 (relative error < 1e-7; the
inputs of ReLU and max pooling are drawn away from their kinks and ties), and each forward pass with the
matching Keras layer holding the same weights (max abs difference < 1e-5 in float32).
"""

from __future__ import annotations

import flatgap  # noqa: F401  (quiet TensorFlow before Keras loads)

# isort: split
import keras
import numpy as np
import pytest

from flatgap.models.classifier import build_classifier
from flatgap.reference import layers as L
from flatgap.reference.gradcheck import numerical_gradient, relative_error

GRAD_TOL = 1e-7
KERAS_TOL = 1e-5


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def check_layer_gradient(forward, backward_grads, inputs, dout):
    """Compare each analytic gradient with the numerical one of sum(forward(*inputs) * dout)."""
    for array, analytic in zip(inputs, backward_grads, strict=True):
        numeric = numerical_gradient(lambda _: float(np.sum(forward(*inputs) * dout)), array)
        assert relative_error(numeric, analytic) < GRAD_TOL


def max_abs_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


# --------------------------------------------------------------------------------------------- Conv2D
CONV_CASES = [
    # (x shape, kernel size, filters, stride, padding)
    ((2, 7, 5, 3), 3, 4, 1, "valid"),
    ((2, 7, 5, 3), 3, 4, 1, "same"),
    ((2, 7, 5, 3), 3, 4, 2, "valid"),
    ((2, 7, 5, 3), 3, 4, 2, "same"),
    ((1, 6, 9, 1), 2, 2, 2, "same"),
    ((1, 6, 9, 1), 2, 2, 1, "valid"),
    ((1, 8, 8, 1), 3, 3, 3, "same"),
]


@pytest.mark.parametrize(("shape", "k", "f", "stride", "padding"), CONV_CASES)
def test_conv2d_matches_keras_and_loops(shape, k, f, stride, padding):
    g = rng(1)
    x = g.normal(size=shape).astype(np.float32)
    w = g.normal(size=(k, k, shape[3], f)).astype(np.float32)
    b = g.normal(size=f).astype(np.float32)
    layer = keras.layers.Conv2D(f, k, strides=stride, padding=padding)
    layer.build(shape)
    layer.set_weights([w, b])
    expected = np.asarray(layer(x))
    out, _ = L.conv2d_forward(x, w, b, stride=stride, padding=padding)
    assert out.shape == expected.shape
    assert out.dtype == np.float32
    assert max_abs_diff(out, expected) < KERAS_TOL
    assert max_abs_diff(L.conv2d_forward_loops(x, w, b, stride=stride, padding=padding), expected) < KERAS_TOL


@pytest.mark.parametrize(("shape", "k", "f", "stride", "padding"), CONV_CASES)
def test_conv2d_gradients(shape, k, f, stride, padding):
    g = rng(2)
    x, w, b = g.normal(size=shape), g.normal(size=(k, k, shape[3], f)), g.normal(size=f)
    out, cache = L.conv2d_forward(x, w, b, stride, padding)
    dout = g.normal(size=out.shape)
    dx, dw, db = L.conv2d_backward(dout, cache)
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
    check_layer_gradient(lambda x_, w_, b_: L.conv2d_forward(x_, w_, b_, stride, padding)[0], (dx, dw, db), (x, w, b), dout)


@pytest.mark.parametrize(("size", "k", "s", "expected"), [(7, 3, 2, (4, 1, 1)), (8, 3, 2, (4, 0, 1)), (6, 2, 2, (3, 0, 0)), (5, 1, 3, (2, 0, 0))])
def test_same_padding_follows_keras_rule(size, k, s, expected):
    # pad_total = max((ceil(H/s) - 1) * s + k - H, 0), the odd pixel at the bottom/right
    assert L.conv_output_length(size, k, s, "same") == expected


def test_conv2d_rejects_bad_arguments():
    x = np.zeros((2, 5, 5, 3), np.float32)
    w = np.zeros((3, 3, 3, 4), np.float32)
    b = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=r"conv2d_forward: x must have shape \(N, H, W, C\), got \(8, 8\)"):
        L.conv2d_forward(np.zeros((8, 8)), w, b)
    with pytest.raises(ValueError, match="kernel has C=3 input channels but x has C=1"):
        L.conv2d_forward(np.zeros((2, 5, 5, 1)), w, b)
    with pytest.raises(ValueError, match=r"w must have shape \(KH, KW, C, F\)"):
        L.conv2d_forward(x, w[0], b)
    with pytest.raises(ValueError, match=r"b must have shape \(F,\) = \(4,\)"):
        L.conv2d_forward(x, w, np.zeros(3))
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        L.conv2d_forward(x, w, b, stride=0)
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        L.conv2d_forward(x, w, b, padding="full")
    with pytest.raises(ValueError, match=r"conv2d_forward: the 3x3 kernel does not fit the 2x5 input with padding='valid'"):
        L.conv2d_forward(np.zeros((1, 2, 5, 3)), w, b)
    with pytest.raises(ValueError, match="conv_output_length: padding must be 'valid' or 'same'"):
        L.conv_output_length(8, 3, 1, "causal")
    with pytest.raises(ValueError, match="conv2d_forward_loops: x must have shape"):
        L.conv2d_forward_loops(np.zeros((5, 5, 3)), w, b)
    out, cache = L.conv2d_forward(x, w, b)
    with pytest.raises(ValueError, match=r"conv2d_backward: dout must have the forward output's shape"):
        L.conv2d_backward(np.zeros((2, 5, 5, 4)), cache)


# --------------------------------------------------------------------------------------------- ReLU
def test_relu_forward_backward():
    g = rng(3)
    x = g.normal(size=(2, 4, 3, 2))
    x[np.abs(x) < 0.05] += 0.1  # keep every input away from the kink at 0, where ReLU has no derivative
    out, cache = L.relu_forward(x)
    assert np.array_equal(out, np.maximum(x, 0))
    dout = g.normal(size=x.shape)
    check_layer_gradient(lambda x_: L.relu_forward(x_)[0], (L.relu_backward(dout, cache),), (x,), dout)
    with pytest.raises(ValueError, match="relu_backward: dout must have the input's shape"):
        L.relu_backward(dout[:1], cache)
    with pytest.raises(ValueError, match="relu_forward: x must be a NumPy array"):
        L.relu_forward([1.0, -1.0])


# --------------------------------------------------------------------------------------------- Flatten
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (1, 4, 2, 1)])
def test_flatten_matches_keras_both_formats(shape):
    x = rng(4).normal(size=shape).astype(np.float32)
    out, cache = L.flatten_forward(x)
    assert out.shape == (shape[0], shape[1] * shape[2] * shape[3])
    assert np.shares_memory(out, x)  # a view: C-contiguous input, no copy
    assert max_abs_diff(out, keras.layers.Flatten()(x)) == 0.0
    x_nchw = np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))
    keras_cf = np.asarray(keras.layers.Flatten(data_format="channels_first")(x_nchw))
    assert max_abs_diff(L.flatten_channels_first(x_nchw), keras_cf) == 0.0
    # Keras's channels-first Flatten transposes to channels-last first: the same vector as the NHWC flatten
    assert np.array_equal(keras_cf, out)
    if shape[3] > 1:  # with one channel both orders coincide; with more, a plain reshape of NCHW differs
        assert not np.array_equal(keras_cf, x_nchw.reshape(shape[0], -1))


def test_flatten_backward_and_gradient():
    g = rng(5)
    x = g.normal(size=(2, 3, 2, 4))
    out, cache = L.flatten_forward(x)
    dout = g.normal(size=out.shape)
    dx = L.flatten_backward(dout, cache)
    assert dx.shape == x.shape
    check_layer_gradient(lambda x_: L.flatten_forward(x_)[0], (dx,), (x,), dout)


def test_flatten_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"flatten_forward: x must have shape \(N, H, W, C\)"):
        L.flatten_forward(np.zeros(5))
    _, cache = L.flatten_forward(np.zeros((2, 3, 3, 2)))
    with pytest.raises(ValueError, match=r"flatten_backward: dout must have shape \(N, H\*W\*C\) = \(2, 18\)"):
        L.flatten_backward(np.zeros((2, 17)), cache)
    with pytest.raises(ValueError, match=r"flatten_channels_first: x_nchw must have shape \(N, C, H, W\)"):
        L.flatten_channels_first(np.zeros((2, 3, 4)))


# --------------------------------------------------------------------------------------------- GAP / GMP
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (1, 4, 2, 1)])
def test_global_pooling_matches_keras(shape, keepdims):
    x = rng(6).normal(size=shape).astype(np.float32)
    gap, _ = L.gap_forward(x, keepdims=keepdims)
    gmp, _ = L.gmp_forward(x, keepdims=keepdims)
    expected_shape = (shape[0], 1, 1, shape[3]) if keepdims else (shape[0], shape[3])
    assert gap.shape == gmp.shape == expected_shape
    assert max_abs_diff(gap, keras.layers.GlobalAveragePooling2D(keepdims=keepdims)(x)) < KERAS_TOL
    assert max_abs_diff(gmp, keras.layers.GlobalMaxPooling2D(keepdims=keepdims)(x)) < KERAS_TOL


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_gradients(keepdims):
    g = rng(7)
    x = g.normal(size=(2, 3, 4, 3))
    dout = g.normal(size=(2, 1, 1, 3) if keepdims else (2, 3))
    out, cache = L.gap_forward(x, keepdims)
    dx = L.gap_backward(dout, cache)
    assert np.allclose(dx, np.broadcast_to(dout.reshape(2, 1, 1, 3) / 12, x.shape))  # 1/(H*W) everywhere
    check_layer_gradient(lambda x_: L.gap_forward(x_, keepdims)[0], (dx,), (x,), dout)
    # max pooling: distinct values (no ties) and the maximum of each channel at least 0.1 above the runner-up
    x = g.permutation(np.arange(72.0)).reshape(x.shape) / 10
    out, cache = L.gmp_forward(x, keepdims)
    dx = L.gmp_backward(dout, cache)
    assert np.count_nonzero(dx) == dout.size  # one position per (n, c)
    check_layer_gradient(lambda x_: L.gmp_forward(x_, keepdims)[0], (dx,), (x,), dout)


def test_gmp_splits_ties_like_tensorflow():
    import tensorflow as tf

    x = np.array([[[[1.0], [3.0]], [[3.0], [0.0]]]], dtype=np.float32)  # two positions tie for the maximum
    _, cache = L.gmp_forward(x)
    dx = L.gmp_backward(np.ones((1, 1), np.float32), cache)
    tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        y = keras.layers.GlobalMaxPooling2D()(tensor)
    assert np.array_equal(dx, tape.gradient(y, tensor).numpy())
    assert np.array_equal(dx.ravel(), [0.0, 0.5, 0.5, 0.0])


def test_global_pooling_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"gap_forward: x must have shape \(N, H, W, C\), got \(3, 4\)"):
        L.gap_forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="gmp_forward: x must have shape"):
        L.gmp_forward(np.zeros((3, 4, 5)))
    with pytest.raises(ValueError, match="keepdims must be True or False"):
        L.gap_forward(np.zeros((1, 2, 2, 1)), keepdims=1)
    _, cache = L.gap_forward(np.zeros((2, 3, 3, 4)))
    with pytest.raises(ValueError, match=r"gap_backward: dout must have shape \(N, C\) = \(2, 4\)"):
        L.gap_backward(np.zeros((2, 1, 1, 4)), cache)
    _, cache = L.gmp_forward(np.zeros((2, 3, 3, 4)), keepdims=True)
    with pytest.raises(ValueError, match=r"gmp_backward: dout must have shape \(N, 1, 1, C\)"):
        L.gmp_backward(np.zeros((2, 4)), cache)


# --------------------------------------------------------------------------------------------- Dense, softmax
@pytest.mark.parametrize(("n", "d", "units"), [(3, 7, 4), (1, 1, 2)])
def test_dense_matches_keras_and_gradients(n, d, units):
    g = rng(8)
    x, w, b = g.normal(size=(n, d)).astype(np.float32), g.normal(size=(d, units)).astype(np.float32), g.normal(size=units).astype(np.float32)
    layer = keras.layers.Dense(units)
    layer.build((None, d))
    layer.set_weights([w, b])
    assert max_abs_diff(L.dense_forward(x, w, b)[0], layer(x)) < KERAS_TOL
    x, w, b = x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)
    out, cache = L.dense_forward(x, w, b)
    dout = g.normal(size=out.shape)
    check_layer_gradient(lambda x_, w_, b_: L.dense_forward(x_, w_, b_)[0], L.dense_backward(dout, cache), (x, w, b), dout)


def test_softmax_and_cross_entropy():
    g = rng(9)
    logits = g.normal(size=(5, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2])
    probs = L.softmax(logits)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert np.allclose(probs, np.asarray(keras.activations.softmax(logits)))
    loss, dlogits = L.softmax_cross_entropy(logits, labels)
    keras_loss = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits))
    assert abs(loss - keras_loss) < 1e-5
    numeric = numerical_gradient(lambda z: L.softmax_cross_entropy(z, labels)[0], logits)
    assert relative_error(numeric, dlogits) < GRAD_TOL
    # stable where the naive formula overflows: logits of 1000 give exp(1000) = inf in float64
    big = np.array([[1000.0, 0.0, -1000.0]])
    assert np.allclose(L.softmax(big), [[1.0, 0.0, 0.0]])
    loss, _ = L.softmax_cross_entropy(big, np.array([1]))
    assert np.isfinite(loss) and abs(loss - 1000.0) < 1e-9


def test_dense_and_softmax_reject_bad_arguments():
    w, b = np.zeros((6, 3)), np.zeros(3)
    with pytest.raises(ValueError, match=r"dense_forward: x must have shape \(N, D\), got \(2, 3, 2\)"):
        L.dense_forward(np.zeros((2, 3, 2)), w, b)
    with pytest.raises(ValueError, match="w has D=6 inputs but x has D=5 features"):
        L.dense_forward(np.zeros((2, 5)), w, b)
    with pytest.raises(ValueError, match=r"b must have shape \(units,\) = \(3,\)"):
        L.dense_forward(np.zeros((2, 6)), w, np.zeros(4))
    _, cache = L.dense_forward(np.zeros((2, 6)), w, b)
    with pytest.raises(ValueError, match=r"dense_backward: dout must have shape \(N, units\) = \(2, 3\)"):
        L.dense_backward(np.zeros((3, 2)), cache)
    with pytest.raises(ValueError, match=r"softmax: logits must have shape \(N, K\)"):
        L.softmax(np.zeros(3))
    with pytest.raises(ValueError, match=r"labels must have shape \(N,\) = \(2,\)"):
        L.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        L.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="labels must be integers"):
        L.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))


# --------------------------------------------------------------------------------------------- a whole CNN
@pytest.mark.parametrize("head", ["flatten", "gap"])
def test_numpy_cnn_forward_equals_keras_model(head):
    model = build_classifier(head, input_shape=(6, 7, 1), num_classes=4, filters=(3,), padding="same")
    g = rng(10)
    weights = [g.normal(size=v.shape).astype(np.float32) * 0.5 for v in model.get_weights()]
    model.set_weights(weights)
    wc, bc, wd, bd = weights
    x = g.normal(size=(3, 6, 7, 1)).astype(np.float32)
    h, _ = L.conv2d_forward(x, wc, bc, padding="same")
    h, _ = L.relu_forward(h)
    h, _ = L.flatten_forward(h) if head == "flatten" else L.gap_forward(h)
    logits, _ = L.dense_forward(h, wd, bd)
    assert max_abs_diff(L.softmax(logits), model.predict(x, verbose=0)) < KERAS_TOL
