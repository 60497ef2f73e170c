"""Reproducibility: one call seeds Python, NumPy and Keras and makes TensorFlow's ops deterministic; and the line that
says which kernels and processor produced a run's numbers (they differ between processor families)."""

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


def machine_description() -> str:
    """The kernels and the processor that produced a chapter's numbers, in one line.

    Training is deterministic on one machine, but TensorFlow's float32 arithmetic differs in its last bits between
    processor families and instruction sets (and between its Eigen and oneDNN kernels), which moves trained weights
    like a new draw of seeds. The book's numbers are the build machine's; this line says which machine that was.

    Example:
        >>> machine_description().startswith("TensorFlow ")
        True
    """
    import os
    import platform

    import tensorflow as tf

    # TensorFlow reads the variable as a boolean: "0" or "false" (any case) turns oneDNN off
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() not in ("0", "false")
    kernels = "oneDNN" if onednn else "Eigen (oneDNN off)"
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key.strip() in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:  # not Linux: the platform's own description
        pass
    isa = [name for name, flag in (("AVX-512", "avx512f"), ("AMX", "amx_tile"), ("AVX2", "avx2"), ("FMA", "fma"),
                                   ("NEON", "asimd")) if flag in flags]
    return (f"TensorFlow {tf.__version__}, {kernels} kernels, {os.cpu_count()} CPU cores: {model}"
            + (f" ({', '.join(isa)})" if isa else ""))

