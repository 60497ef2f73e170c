"""Reproducibility: one call seeds Python, NumPy and Keras and makes TensorFlow's ops deterministic."""

from __future__ import annotations

import random

import numpy as np

from flatgap._validate import non_negative_int


def seed_everything(seed: int = 0, deterministic_ops: bool = True) -> int:
    """Seed Python's ``random``, NumPy's global generator, Keras and TensorFlow.

    Args:
        seed: a non-negative integer.
        deterministic_ops: also call ``tf.config.experimental.enable_op_determinism()`` so that a
            rerun on the same machine gives the same numbers (a little slower; on by default).

    Returns:
        The seed, so a notebook can print what it used.

    Example:
        >>> from flatgap.repro import seed_everything
        >>> seed_everything(0)
        0
    """
    seed = non_negative_int("seed", seed)
    random.seed(seed)
    np.random.seed(seed)
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()
    return seed
