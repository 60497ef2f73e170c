"""Unit tests of flatgap.experiments.stats: numbers over seeds and tables."""

from __future__ import annotations

import numpy as np
import pytest

from flatgap.experiments.stats import curve_band, format_table, mean_spread


def test_mean_spread():
    stats = mean_spread([1.0, 2.0, 3.0])
    assert stats["mean"] == 2.0 and stats["min"] == 1.0 and stats["max"] == 3.0
    assert stats["std"] == pytest.approx(np.std([1, 2, 3]))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        mean_spread([])


def test_curve_band():
    runs = [
        {"head": "gap", "history": {"accuracy": [0.1, 0.5]}},
        {"head": "gap", "history": {"accuracy": [0.3, 0.7]}},
        {"head": "flatten", "history": {"accuracy": [0.9, 0.9]}},
    ]
    mean, low, high = curve_band(runs, "gap", "accuracy")
    assert np.allclose(mean, [0.2, 0.6]) and np.allclose(low, [0.1, 0.5]) and np.allclose(high, [0.3, 0.7])
    with pytest.raises(ValueError, match="heads present"):
        curve_band(runs, "gmp", "accuracy")
    with pytest.raises(ValueError, match="val_accuracy"):
        curve_band(runs, "gap", "val_accuracy")


def test_format_table_aligns_columns():
    text = format_table(["head", "test"], [["gap", "0.9"], ["flatten", "0.97"]])
    lines = text.splitlines()
    assert lines[0] == "head     test"
    assert lines[2] == "gap       0.9"
    assert lines[3] == "flatten  0.97"
    with pytest.raises(ValueError, match="every row must have 2 cells"):
        format_table(["a", "b"], [["only one"]])
    with pytest.raises(ValueError, match="at least one column"):
        format_table([], [])


# ---- protocol v2: the sign-flip test, Holm's correction, a corrected family -------------------------------------

def test_sign_flip_is_exact_and_bounded_by_the_number_of_seeds():
    from flatgap.experiments.stats import sign_flip_p

    assert sign_flip_p([1.0] * 5) == 2 / 2**5  # five seeds can never reach p < 0.05
    assert sign_flip_p([1.0] * 10) == 2 / 2**10
    assert sign_flip_p([1.0, -1.0, 1.0, -1.0]) == 1.0
    big = sign_flip_p(np.linspace(0.5, 1.5, 20), draws=2000)
    assert 0 < big < 0.01  # Monte Carlo beyond 16 seeds, never exactly 0
    with pytest.raises(ValueError, match="at least two finite numbers"):
        sign_flip_p([1.0])


def test_holm_adjusts_step_down_and_keeps_the_order():
    from flatgap.experiments.stats import holm

    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5]), [0.5])
    assert holm([0.001] * 20).max() == pytest.approx(0.02)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        holm([1.5])


def test_a_family_says_beats_equivalent_or_inconclusive_at_the_corrected_strength():
    from flatgap.experiments.stats import family

    rng = np.random.default_rng(0)
    clear = 0.05 + 0.01 * rng.standard_normal(10)
    null = 0.004 * rng.standard_normal(10)
    wide = 0.05 * rng.standard_normal(10)
    out = family({("a", "b"): clear, ("c", "d"): null, ("e", "f"): wide}, margin=0.02)
    assert out["a", "b"].word == "beats" and out["a", "b"].sentence().startswith("a beats b")
    assert out["c", "d"].word == "equivalent" and "within ±2 points" in out["c", "d"].sentence()
    assert out["e", "f"].word == "inconclusive" and "wide" in out["e", "f"].sentence()
    # Holm's levels: the smallest p-value is tested at alpha / 3, the largest at alpha
    assert out["a", "b"].interval.confidence == pytest.approx(1 - 0.05 / 3)
    assert out["e", "f"].interval.confidence == pytest.approx(0.95)
    # a loser is named as such
    flipped = family({("a", "b"): -clear})
    assert flipped["a", "b"].sentence().startswith("b beats a")


def test_five_seeds_never_support_beats_however_clear():
    from flatgap.experiments.stats import family

    out = family({("a", "b"): [0.10, 0.11, 0.09, 0.10, 0.12]})
    assert out["a", "b"].word == "inconclusive" and out["a", "b"].p_sign == pytest.approx(0.0625)


def test_a_family_rejects_bad_arguments():
    from flatgap.experiments.stats import family

    with pytest.raises(ValueError, match="at least one"):
        family({})
    with pytest.raises(ValueError, match="margin"):
        family({("a", "b"): [0.1, 0.2]}, margin=-1)
    with pytest.raises(ValueError, match="alpha"):
        family({("a", "b"): [0.1, 0.2]}, alpha=0.9)
