"""Unit tests of flatgap.repro."""

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow first)
from flatgap.repro import seed_everything


def test_seed_everything_makes_numpy_and_keras_repeatable():
    import keras

    seed_everything(3)
    first = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    seed_everything(3)
    second = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        seed_everything(-2)
