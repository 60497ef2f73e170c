"""The checkers of exercise 3 (experiments): correct answers pass, mistakes fail with a hint."""

from __future__ import annotations

import numpy as np
from grading_support import failure

from flatgap.grading import ex3 as checks


def test_ex3_checkers(capsys):
    from flatgap.experiments.shift import shift_images

    checks.check_shift_images(shift_images)
    checks.check_pad_to(lambda x, h, w: np.pad(x, ((0, 0), ((h - x.shape[1]) // 2, h - x.shape[1] - (h - x.shape[1]) // 2), ((w - x.shape[2]) // 2, w - x.shape[2] - (w - x.shape[2]) // 2), (0, 0))))
    checks.check_gap_dilution(lambda h, w, nh, nw: h * w / (nh * nw))

    def gap(runs, head):
        gaps = [r["train_accuracy"] - r["test_accuracy"] for r in runs if r["head"] == head]
        return np.mean(gaps), np.std(gaps)

    checks.check_generalization_gap(gap)
    assert capsys.readouterr().out.count("✓") == 4

    assert "np.roll wraps around" in failure(checks.check_shift_images, lambda x, dy, dx: np.roll(x, (dy, dx), axis=(1, 2)))
    assert "ddof=0" in failure(checks.check_generalization_gap, lambda runs, head: (gap(runs, head)[0], np.std([r["train_accuracy"] - r["test_accuracy"] for r in runs if r["head"] == head], ddof=1)))
    assert "MINUS" in failure(checks.check_generalization_gap, lambda runs, head: (-gap(runs, head)[0], gap(runs, head)[1]))
    assert "centre the maps" in failure(checks.check_pad_to, lambda x, h, w: np.pad(x, ((0, 0), (0, h - x.shape[1]), (0, w - x.shape[2]), (0, 0))))
    assert "upside down" in failure(checks.check_gap_dilution, lambda h, w, nh, nw: nh * nw / (h * w))
    assert "no square root" in failure(checks.check_gap_dilution, lambda h, w, nh, nw: (h * w / (nh * nw)) ** 0.5)


def test_shift_images_returns_a_new_array_and_counts_are_ints():
    from flatgap.experiments.shift import shift_images

    def lazy(images, dy, dx):
        return images if dy == dx == 0 else shift_images(images, dy, dx)

    assert "expected a new array, got the input array itself" in failure(checks.check_shift_images, lazy)
    from flatgap.grading import ex1

    assert "return an int" in failure(ex1.check_conv2d_param_count, lambda kh, kw, c, f: float(kh * kw * c * f + f))
