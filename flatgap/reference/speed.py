"""How fast is our NumPy? Timings of the Part I layers, reported as ratios measured in one run.

Chapter 02 calls these functions (it shows the numbers; the timing code lives only here), and
``make bench`` prints them through :func:`main`. Every time is the best of ``repeat`` runs measured
with ``time.perf_counter`` (the best run is the one least disturbed by other processes), so ratios
are more stable than the seconds themselves; still, expect them to move by tens of percent from run
to run on a shared machine.

Example:
    >>> from flatgap.reference import speed
    >>> result = speed.conv_loops_vs_vectorized(repeat=1)
    >>> result["loops_s"] > result["vectorized_s"]
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from flatgap._validate import positive_int
from flatgap.reference import layers as L


def best_time(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """Best-of-``repeat`` seconds per call of ``fn`` (each measurement averages ``number`` calls); one warm-up call first."""
    repeat, number = positive_int("repeat", repeat), positive_int("number", number)
    if not callable(fn):
        raise ValueError(f"fn must be a function of no arguments, got {type(fn).__name__}")
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def _conv_inputs(shape, filters: int, kernel: int, seed: int = 0):
    if not isinstance(shape, (tuple, list)) or len(shape) != 4:
        raise ValueError(f"shape must be (N, H, W, C), got {shape!r}")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=tuple(shape)).astype(np.float32)
    w = (rng.normal(size=(kernel, kernel, shape[3], filters)) / np.sqrt(kernel * kernel * shape[3])).astype(np.float32)
    b = rng.normal(size=filters).astype(np.float32)
    return x, w, b


def conv_loops_vs_vectorized(shape=(2, 8, 8, 3), filters: int = 4, kernel: int = 3, repeat: int = 3) -> dict:
    """Time :func:`conv2d_forward_loops` against the vectorized :func:`conv2d_forward` ("same" padding, stride 1).

    Args:
        shape: input shape (N, H, W, C); keep it small, the loops run N*H*W*F NumPy calls.
        filters, kernel: number of filters F and kernel side.
        repeat: timing runs (best kept).

    Returns:
        {"shape", "loops_s", "vectorized_s", "speedup"}: seconds per forward pass and loops_s / vectorized_s.
    """
    x, w, b = _conv_inputs(shape, positive_int("filters", filters), positive_int("kernel", kernel))
    loops = best_time(lambda: L.conv2d_forward_loops(x, w, b, padding="same"), repeat)
    vectorized = best_time(lambda: L.conv2d_forward(x, w, b, padding="same"), repeat, number=10)
    return {"shape": tuple(shape), "loops_s": loops, "vectorized_s": vectorized, "speedup": loops / vectorized}


def conv_numpy_vs_keras(shape=(64, 32, 32, 16), filters: int = 32, kernel: int = 3, repeat: int = 7) -> dict:
    """Time the vectorized NumPy Conv2D against ``keras.layers.Conv2D`` with the same float32 weights and input.

    Keras gets the input as a TensorFlow tensor made once beforehand and returns a NumPy array (on a
    CPU, TensorFlow runs eagerly and synchronously, so the call's wall time is the work done).

    Args:
        shape: input shape (N, H, W, C). filters, kernel: F and the kernel side ("same" padding, stride 1).
        repeat: timing runs (best kept).

    Returns:
        {"shape", "filters", "numpy_s", "keras_s", "ratio", "max_abs_diff"}: ratio = numpy_s / keras_s
        (below 1: NumPy faster); max_abs_diff between the two outputs.
    """
    import keras
    import tensorflow as tf

    x, w, b = _conv_inputs(shape, positive_int("filters", filters), positive_int("kernel", kernel))
    layer = keras.layers.Conv2D(filters, kernel, padding="same")
    layer.build(x.shape)
    layer.set_weights([w, b])
    x_tensor = tf.convert_to_tensor(x)
    numpy_s = best_time(lambda: L.conv2d_forward(x, w, b, padding="same"), repeat)
    keras_s = best_time(lambda: np.asarray(layer(x_tensor)), repeat)
    diff = float(np.max(np.abs(L.conv2d_forward(x, w, b, padding="same")[0] - np.asarray(layer(x_tensor)))))
    return {"shape": tuple(shape), "filters": filters, "numpy_s": numpy_s, "keras_s": keras_s, "ratio": numpy_s / keras_s, "max_abs_diff": diff}


def gap_vs_copy(shape=(64, 32, 32, 64), repeat: int = 7) -> dict:
    """Time GAP's forward pass against a plain copy of the same bytes (how close to memory bandwidth it runs).

    GAP reads every input byte once and writes almost nothing; a copy reads and writes every byte.

    Args:
        shape: input shape (N, H, W, C), float32. repeat: timing runs (best kept).

    Returns:
        {"shape", "megabytes", "gap_s", "copy_s", "ratio", "gap_read_gb_s", "copy_gb_s"}: ratio = gap_s / copy_s;
        gap_read_gb_s = bytes read by GAP per second; copy_gb_s = bytes read plus written by the copy per second.
    """
    if not isinstance(shape, (tuple, list)) or len(shape) != 4:
        raise ValueError(f"shape must be (N, H, W, C), got {shape!r}")
    x = np.random.default_rng(0).random(tuple(shape), dtype=np.float32)
    target = np.empty_like(x)
    gap_s = best_time(lambda: L.gap_forward(x), repeat)
    copy_s = best_time(lambda: np.copyto(target, x), repeat)
    return {
        "shape": tuple(shape),
        "megabytes": x.nbytes / 1e6,
        "gap_s": gap_s,
        "copy_s": copy_s,
        "ratio": gap_s / copy_s,
        "gap_read_gb_s": x.nbytes / gap_s / 1e9,
        "copy_gb_s": 2 * x.nbytes / copy_s / 1e9,
    }


def flatten_scaling(sides=(8, 32, 128, 256), batch: int = 16, channels: int = 8, repeat: int = 5) -> list[dict]:
    """Time Flatten's forward pass (a view) and the channels-first Flatten (a transposing copy) at growing sizes.

    Args:
        sides: spatial sides S of inputs (batch, S, S, channels), float32.
        batch, channels: N and C. repeat: timing runs (best kept).

    Returns:
        One dict per side: {"side", "megabytes", "flatten_s", "channels_first_s"}.
    """
    batch, channels = positive_int("batch", batch), positive_int("channels", channels)
    rows = []
    for side in sides:
        side = positive_int("side", side)
        x = np.ones((batch, side, side, channels), dtype=np.float32)
        x_nchw = np.ones((batch, channels, side, side), dtype=np.float32)
        rows.append(
            {
                "side": side,
                "megabytes": x.nbytes / 1e6,
                "flatten_s": best_time(lambda x=x: L.flatten_forward(x), repeat, number=200),
                "channels_first_s": best_time(lambda x_nchw=x_nchw: L.flatten_channels_first(x_nchw), repeat),
            }
        )
    return rows


def main() -> None:
    """Print every measurement of this module (``make bench`` calls it)."""
    print("How fast is our NumPy? (best-of-N wall times; ratios measured in this run)")
    loops = conv_loops_vs_vectorized()
    print(
        f"  Conv2D loops vs vectorized, input {loops['shape']}: loops {loops['loops_s'] * 1e3:.1f} ms, "
        f"vectorized {loops['vectorized_s'] * 1e3:.3f} ms -> vectorized {loops['speedup']:.0f}x faster"
    )
    conv = conv_numpy_vs_keras()
    print(
        f"  Conv2D NumPy vs Keras, input {conv['shape']}, {conv['filters']} 3x3 filters: NumPy {conv['numpy_s'] * 1e3:.1f} ms, "
        f"Keras {conv['keras_s'] * 1e3:.1f} ms -> NumPy takes {conv['ratio']:.2f}x Keras's time (max abs diff {conv['max_abs_diff']:.1e})"
    )
    gap = gap_vs_copy()
    print(
        f"  GAP forward vs copy of the same {gap['megabytes']:.0f} MB: GAP {gap['gap_s'] * 1e3:.2f} ms "
        f"({gap['gap_read_gb_s']:.1f} GB/s read), copy {gap['copy_s'] * 1e3:.2f} ms ({gap['copy_gb_s']:.1f} GB/s read+write) "
        f"-> GAP takes {gap['ratio']:.2f}x the copy's time"
    )
    print("  Flatten forward at growing sizes (a view: constant time) vs channels-first Flatten (a copy):")
    for row in flatten_scaling():
        print(
            f"    side {row['side']:4d} ({row['megabytes']:7.2f} MB): flatten {row['flatten_s'] * 1e6:6.2f} us, "
            f"channels-first {row['channels_first_s'] * 1e3:8.3f} ms"
        )


if __name__ == "__main__":
    main()
