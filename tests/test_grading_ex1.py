"""The checkers of exercise 1 (NumPy layers): correct answers pass, mistakes fail with a hint, and the harness's rules."""

from __future__ import annotations

import re

import numpy as np
import pytest
from grading_support import failure

from flatgap.grading import ex1 as checks
from flatgap.grading.harness import grading_seed
from flatgap.grading.tracing import count_lines
from flatgap.grading.trivial import zeros_like
from flatgap.reference import layers

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
    from flatgap.models.classifier import dense_param_count

    checks.check_dense_param_count(dense_param_count)
    printed = capsys.readouterr().out
    assert printed.count("✓") == 9 and "gap_forward: all 6 checks passed (3 on random inputs, seed " in printed


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

    assert "an input array was changed in place (in in_place, line" in failure(checks.check_softmax_cross_entropy, in_place)

    def writable_again(logits, labels):
        logits.setflags(write=True)
        logits -= 1
        return layers.softmax_cross_entropy(logits, labels)

    assert "changed its input logits in place" in failure(checks.check_softmax_cross_entropy, writable_again)
    assert "not a Python list" in failure(checks.check_flatten_backward, lambda dout, cache: dout.reshape(cache).tolist())
    assert "did you forget the return statement?" in failure(checks.check_gap_backward, lambda dout, cache: None)
    assert "should be a function" in failure(checks.check_gap_forward, 3)


def loops_over_pixels(x, w, b):
    out = np.zeros((x.shape[0], x.shape[1] - w.shape[0] + 1, x.shape[2] - w.shape[1] + 1, w.shape[3]))
    for n in range(out.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                window = x[n, i : i + w.shape[0], j : j + w.shape[1], :, None]
                out[n, i, j] = (window * w).sum(axis=(0, 1, 2)) + b
    return out, (x, w, b)


def _four_loops(x, w, b, out):
    for n in range(out.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                for f in range(out.shape[3]):
                    out[n, i, j, f] = (x[n, i : i + w.shape[0], j : j + w.shape[1], :] * w[..., f]).sum() + b[f]


def loops_in_a_helper(x, w, b):
    out = np.zeros((x.shape[0], x.shape[1] - w.shape[0] + 1, x.shape[2] - w.shape[1] + 1, w.shape[3]))
    _four_loops(x, w, b, out)
    return out, (x, w, b)


def one_product_loop(x, w, b):
    import itertools

    out = np.zeros((x.shape[0], x.shape[1] - w.shape[0] + 1, x.shape[2] - w.shape[1] + 1, w.shape[3]))
    for n, i, j, f in itertools.product(*map(range, out.shape)):
        out[n, i, j, f] = (x[n, i : i + w.shape[0], j : j + w.shape[1], :] * w[..., f]).sum() + b[f]
    return out, (x, w, b)


def loops_over_kernel_offsets(x, w, b):
    kh, kw, _, f = w.shape
    oh, ow = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros((x.shape[0], oh, ow, f))
    for i in range(kh):
        for j in range(kw):
            out += x[:, i : i + oh, j : j + ow, :] @ w[i, j]
    return out + b, (x, w, b)


@pytest.mark.parametrize("answer", [loops_over_pixels, loops_in_a_helper, one_product_loop])
def test_loops_over_the_data_are_caught_wherever_they_hide(answer):
    message = failure(checks.check_conv2d_forward, answer)
    assert message.startswith("conv2d_forward: expected a vectorized implementation"), message
    assert "hidden in a helper function or in itertools.product" in message


def test_vectorized_convolutions_pass_and_run_as_many_lines_at_both_sizes(capsys):
    checks.check_conv2d_forward(loops_over_kernel_offsets)
    checks.check_conv2d_forward(conv2d_forward)
    assert "vectorized" in capsys.readouterr().out
    small = np.ones((1, 6, 6, 1)), np.ones((2, 3, 1, 1)), np.ones(1)
    large = np.ones((4, 14, 13, 5)), np.ones((2, 3, 5, 6)), np.ones(6)
    assert count_lines(loops_over_kernel_offsets, *small)[1] == count_lines(loops_over_kernel_offsets, *large)[1]
    assert count_lines(loops_in_a_helper, *large)[1] > 10 * count_lines(loops_in_a_helper, *small)[1]


def test_the_convolution_cache_is_checked():
    assert "cache == (x, w, b)" in failure(checks.check_conv2d_forward, lambda x, w, b: (layers.conv2d_forward(x, w, b)[0], None))


def test_gmp_ties_split_the_gradient():
    def full_gradient_to_every_tie(dout, x):
        return (x == x.max(axis=(1, 2), keepdims=True)) * dout[:, None, None, :]

    message = failure(checks.check_gmp_backward, full_gradient_to_every_tie)
    assert "(with tied maxima)" in message and "split dout[n, c] evenly" in message

    def first_maximum_only(dout, x):
        n, h, w, c = x.shape
        first = x.reshape(n, h * w, c).argmax(axis=1)
        dx = np.zeros((n, h * w, c))
        dx[np.arange(n)[:, None], first, np.arange(c)[None, :]] = dout
        return dx.reshape(x.shape)

    assert "split dout[n, c] evenly" in failure(checks.check_gmp_backward, first_maximum_only)


def test_an_answer_keyed_on_the_fixed_inputs_fails_on_the_random_ones():
    """A lookup table of the checker's fixed inputs (they are readable) earns nothing."""
    table = {}

    def recorder(x):
        table[x.tobytes()] = gap_forward(x)
        return table[x.tobytes()]

    with grading_seed(1):
        checks.check_gap_forward(recorder)

    def lookup(x):
        return table.get(x.tobytes(), (np.zeros((x.shape[0], x.shape[3])), x.shape))

    with grading_seed(2):
        message = failure(checks.check_gap_forward, lookup)
    assert "(random case, seed 2)" in message


def test_random_cases_are_reproducible_from_their_seed():
    def right_on_the_fixed_shapes_only(x):
        return (x.mean(axis=(1, 2)) if x.shape in checks.MAP_SHAPES else x.sum(axis=(1, 2))), x.shape

    with grading_seed(7):
        first = failure(checks.check_gap_forward, right_on_the_fixed_shapes_only)
    with grading_seed(7):
        assert failure(checks.check_gap_forward, right_on_the_fixed_shapes_only) == first
    assert "(random case, seed 7)" in first and "you summed" in first


def test_an_in_place_edit_is_blamed_on_the_function_that_made_it():
    def stabilize(values):
        values -= values.max(axis=1, keepdims=True)
        return values

    def softmax_cross_entropy(logits, labels):
        return layers.softmax_cross_entropy(stabilize(logits), labels)

    message = failure(checks.check_softmax_cross_entropy, softmax_cross_entropy)
    assert re.search(r"an input array was changed in place \(in stabilize, line \d+: values -= values.max\(axis=1, keepdims=True\)\)", message), message


def test_an_unknown_head_must_raise_a_value_error_naming_the_heads():
    def vague(head, h, w, c, units):
        if head not in ("flatten", "gap", "gmp"):
            raise ValueError("unknown head")
        return (h * w * c if head == "flatten" else c) * units + units

    assert "names the heads you accept" in failure(checks.check_dense_param_count, vague)


def test_zeros_like():
    out = zeros_like((np.ones((2, 3), np.float32), (2, 3), 1.5, [True], {"a": np.int64(4)}, "s", object()))
    assert out[0].dtype == np.float32 and not out[0].any() and out[0].shape == (2, 3)
    assert out[1:6] == ((0, 0), 0.0, [False], {"a": 0}, "") and out[6] is None

