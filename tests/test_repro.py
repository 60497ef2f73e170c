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


def test_importing_tensorflow_after_flatgap_writes_nothing_to_stderr():
    """TensorFlow's C++ start-up lines (oneDNN's notice) would land in every notebook; flatgap's import hook keeps
    them off file descriptor 2, and lets them through when TF_CPP_MIN_LOG_LEVEL=0 asks for every log line."""
    import os
    import platform
    import subprocess
    import sys

    code = "import flatgap, keras, tensorflow as tf; print(tf.constant(2).numpy() + 1)"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_")}
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert quiet.stdout.strip() == "3"
    assert quiet.stderr == ""
    loud = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "0"})
    if platform.machine() in ("x86_64", "AMD64"):  # where TensorFlow turns oneDNN on and says so
        assert "oneDNN" in loud.stderr


def test_machine_description_names_the_kernels_tensorflow_will_use(monkeypatch):
    from flatgap.repro import machine_description

    for off in ("0", "false", "False"):
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", off)
        assert "Eigen (oneDNN off) kernels" in machine_description()
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    assert "oneDNN kernels" in machine_description() and "Eigen" not in machine_description()
