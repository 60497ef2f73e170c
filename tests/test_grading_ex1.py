"""The checkers of exercise 1 (NumPy layers): correct answers pass, mistakes fail with a hint, and the harness's rules."""

from __future__ import annotations

import numpy as np
import pytest
from grading_support import failure

from flatgap import numpy_layers as layers
from flatgap.grading import ex1 as checks
from flatgap.grading.harness import loop_depth
from flatgap.grading.trivial import zeros_like

# --- reference answers, written as a student would -----------------------------------------------------------


def flatten_forward(x):
    return x.reshape(x.shape[0], -1), x.shape


def gap_forward(x):
    return x.mean(axis=(1, 2)), x.shape


def gap_backward(dout, cache):
    return layers.gap_backward(dout, (cache, False))


def gmp_backward(dout, cache):
    return layers.gmp_backward(dout, layers.gmp_forward(cache)[1])


def conv2d_forward(x, w, b):
    out, _ = layers.conv2d_forward(x, w, b)
    return out, (x, w, b)


def test_ex1_checkers_accept_correct_answers(capsys):
    checks.check_flatten_forward(flatten_forward)
    checks.check_flatten_backward(lambda dout, cache: dout.reshape(cache))
    checks.check_gap_forward(gap_forward)
    checks.check_gap_backward(gap_backward)
    checks.check_gmp_backward(gmp_backward)
    checks.check_conv2d_forward(conv2d_forward)
    checks.check_softmax_cross_entropy(layers.softmax_cross_entropy)
    checks.check_conv2d_param_count(lambda kh, kw, c, f: kh * kw * c * f + f)
    from flatgap.models import dense_param_count

    checks.check_dense_param_count(dense_param_count)
    printed = capsys.readouterr().out
    assert printed.count("✓") == 9 and "gap_forward: all 3 checks passed" in printed


def test_the_stubs_error_passes_through_unchanged():
    error = NotImplementedError("ex1-q3: a hint")

    def stub(x):
        raise error

    with pytest.raises(NotImplementedError) as info:
        checks.check_gap_forward(stub)
    assert info.value is error


def test_other_exceptions_become_an_assertion_naming_the_call_and_the_line():
    def broken(x):
        return x.mean(axis=5), x.shape

    message = failure(checks.check_gap_forward, broken)
    assert message.startswith("gap_forward(x) with x of shape (2, 7, 7, 64) raised AxisError: ")
    assert "(in broken, line" in message and "x.mean(axis=5)" in message


def test_common_mistakes_get_a_hint():
    assert failure(checks.check_gap_forward, lambda x: (x, x.shape)) == (
        "gap_forward(x) with x of shape (2, 7, 7, 64): expected out of shape (2, 64), got shape (2, 7, 7, 64) — "
        "did you average over axes 1 and 2 (H and W)?"
    )
    assert "you summed; GAP takes the mean" in failure(checks.check_gap_forward, lambda x: (x.sum(axis=(1, 2)), x.shape))
    assert "channels-first order" in failure(checks.check_flatten_forward, lambda x: (x.transpose(0, 3, 1, 2).reshape(len(x), -1), x.shape))
    assert "keep the batch axis" in failure(checks.check_flatten_forward, lambda x: (x.reshape(-1), x.shape))
    assert "cache = x.shape" in failure(checks.check_flatten_forward, lambda x: (x.reshape(len(x), -1), x))
    assert "divide by H*W" in failure(checks.check_gap_backward, lambda dout, cache: np.broadcast_to(dout[:, None, None, :], cache).copy())
    assert "average-pooling gradient" in failure(checks.check_gmp_backward, lambda dout, x: gap_backward(dout, x.shape))
    assert "the bias is missing" in failure(checks.check_conv2d_forward, lambda x, w, b: (layers.conv2d_forward(x, w, b)[0] - b, None))
    assert "one bias" in failure(checks.check_conv2d_param_count, lambda kh, kw, c, f: kh * kw * c * f)
    assert "ValueError" in failure(checks.check_dense_param_count, lambda head, h, w, c, u: (h * w * c if head == "flatten" else c) * u + u)


def test_sum_instead_of_mean_in_place_edits_lists_and_none_are_caught():
    def summed(logits, labels):
        loss, grad = layers.softmax_cross_entropy(logits, labels)
        return loss * len(logits), grad * len(logits)

    assert "average the loss over the batch" in failure(checks.check_softmax_cross_entropy, summed)

    def in_place(logits, labels):
        logits -= logits.max(axis=1, keepdims=True)
        return layers.softmax_cross_entropy(logits, labels)

    assert "changed its input in place" in failure(checks.check_softmax_cross_entropy, in_place)
    assert "not a Python list" in failure(checks.check_flatten_backward, lambda dout, cache: dout.reshape(cache).tolist())
    assert "did you forget the return statement?" in failure(checks.check_gap_backward, lambda dout, cache: None)
    assert "should be a function" in failure(checks.check_gap_forward, 3)


def test_a_convolution_with_loops_over_pixels_is_not_vectorized():
    def loops(x, w, b):
        out = np.zeros((x.shape[0], x.shape[1] - w.shape[0] + 1, x.shape[2] - w.shape[1] + 1, w.shape[3]))
        for n in range(out.shape[0]):
            for i in range(out.shape[1]):
                for j in range(out.shape[2]):
                    window = x[n, i : i + w.shape[0], j : j + w.shape[1], :, None]
                    out[n, i, j] = (window * w).sum(axis=(0, 1, 2)) + b
        return out, None

    assert "nested 3 deep" in failure(checks.check_conv2d_forward, loops)
    assert loop_depth(loops) == 3 and loop_depth(conv2d_forward) == 0



def test_zeros_like():
    out = zeros_like((np.ones((2, 3), np.float32), (2, 3), 1.5, [True], {"a": np.int64(4)}, "s", object()))
    assert out[0].dtype == np.float32 and not out[0].any() and out[0].shape == (2, 3)
    assert out[1:6] == ((0, 0), 0.0, [False], {"a": 0}, "") and out[6] is None

