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
