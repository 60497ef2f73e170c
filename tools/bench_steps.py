"""`make bench`, part 2: one training step of every model layout the book trains, against the machine's limit.

For each layout (the bodies of the experiment chapters, plus the 28×28 body a real-images study would train) and each
TensorFlow CPU backend, one run prints:

- **FLOPs per step**: 2 FLOPs per multiply-add, forward multiply-adds from the package's own cost counting
  (:func:`flatgap.costs.count_macs`), times 3 for forward + backward (the backward pass of a convolution or a Dense layer
  costs two forward passes: one for the input's gradient, one for the weights'), times the batch;
- the **step time** (median of repeated timings of a compiled training step, Adam, batch 64) and the **achieved
  GFLOP/s**;
- the same backend's **single-core float32 matmul** GFLOP/s (1024×1024 @ 1024×1024), the practical roofline of one
  core, and the **ratio** of the two.

Every backend runs in a fresh process with one thread (the experiments' worker processes train with one thread each,
two at a time): ``eigen`` (Eigen kernels, ``TF_ENABLE_ONEDNN_OPTS=0``), ``onednn``
(``TF_ENABLE_ONEDNN_OPTS=1``, what the book uses since it measured fastest on every layout) and ``xla`` (Eigen with ``jit_compile=True``).

    python tools/bench_steps.py                 # every layout, every backend
    python tools/bench_steps.py --backends eigen --layouts "8x8 narrow (16, 32), gap"
    python tools/bench_steps.py --json FILE     # also write the rows as JSON
    python tools/bench_steps.py --replicates 1 2 10 --layouts "12x12 pooled (16, 32), gap"

``--replicates R ...`` measures instead what training R seeds of a GAP layout *as one model* would cost: the R replicates
side by side in the channels (each convolution grouped, ``groups=R``; one classifier per replicate), one step of R
batches at once, against R separate steps. On TensorFlow's CPU kernels a grouped convolution is many times slower
per replicate than R separate ones (README, "Measured and not taken"), which is why the book trains seeds separately.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

LAYOUTS = {
    # name: (build_classifier arguments, the chapters that train it)
    "8x8 narrow (16, 32), gap": ({"head": "gap", "input_shape": (8, 8, 1), "filters": (16, 32)},
                                 "overfitting, training-set size"),
    "8x8 pooled (16, 32), flatten": ({"head": "flatten", "input_shape": (8, 8, 1), "filters": (16, 32), "pool_every": 1},
                                     "overfitting, training-set size"),
    "12x12 pooled (16, 32), gap": ({"head": "gap", "input_shape": (12, 12, 1), "filters": (16, 32), "pool_every": 1},
                                   "position as noise, variable size, pooling family, global poolings"),
    "16x16 pooled (16, 32, 32), flatten": ({"head": "flatten", "input_shape": (16, 16, 1), "filters": (16, 32, 32),
                                            "pool_every": 1}, "BlurPool"),
    "24x24 pooled (8, 16, 16), gap": ({"head": "gap", "input_shape": (24, 24, 1), "filters": (8, 16, 16), "pool_every": 1},
                                      "translation"),
    "24x24 pooled (16, 32, 64), gap": ({"head": "gap", "input_shape": (24, 24, 1), "filters": (16, 32, 64),
                                        "pool_every": 1}, "a wider canvas body (issue measurements)"),
    "28x28 pooled (32, 64, 128), gap": ({"head": "gap", "input_shape": (28, 28, 1), "filters": (32, 64, 128),
                                         "pool_every": 1}, "a real-images body (Fashion-MNIST scale)"),
}
BACKENDS = {"eigen": {"TF_ENABLE_ONEDNN_OPTS": "0"}, "onednn": {"TF_ENABLE_ONEDNN_OPTS": "1"},
            "xla": {"TF_ENABLE_ONEDNN_OPTS": "0"}}
BATCH = 64


def _median_seconds(fn, repeat: int, number: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return sorted(times)[len(times) // 2]


def _train_step_seconds(model, x, y, loss_scale: float = 1.0, from_logits: bool = False, jit: bool = False,
                        repeat: int = 7, number: int = 20) -> float:
    """Median seconds of one compiled training step (Adam, sparse cross-entropy times ``loss_scale``) of ``model``."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    @tf.function(jit_compile=jit)
    def step(x, y):
        with tf.GradientTape() as tape:
            outputs = model(x, training=True)
            loss = loss_scale * tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, outputs, from_logits=from_logits))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    step(x, y).numpy()  # trace (and compile)
    return _median_seconds(lambda: step(x, y).numpy(), repeat=repeat, number=number)


def _step_seconds(config: dict, jit: bool):
    """(model, median seconds of one compiled training step of batch :data:`BATCH` on random data)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from flatgap.models import build_classifier

    keras.utils.set_random_seed(0)
    model = build_classifier(**config)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((BATCH, *config["input_shape"]), dtype=np.float32))
    y = tf.constant(rng.integers(0, model.output_shape[-1], BATCH), dtype=tf.int64)
    return model, _train_step_seconds(model, x, y, jit=jit)


def grouped_model(config: dict, replicates: int):
    """R = ``replicates`` copies of a GAP layout as one Keras model: (B, H, W, R*C) in, (B, R, classes) logits out.

    Every convolution is grouped (``groups=R``: replicate r sees only its own channels), the 2x2 poolings and the global
    average act per channel, and an ``EinsumDense`` gives each replicate its own classifier; so the model holds exactly
    R times the weights of one (tested) and the R replicates never mix.
    """
    import keras

    if config.get("head") != "gap" or "input_shape" not in config:
        raise ValueError(f"grouped_model takes a GAP layout with a fixed input_shape, got {config!r}")
    height, width, channels = config["input_shape"]
    filters, pool_every = config["filters"], config.get("pool_every", 0)
    x = inputs = keras.Input((height, width, channels * replicates))
    for i, count in enumerate(filters, start=1):
        x = keras.layers.Conv2D(count * replicates, 3, padding="same", activation="relu", groups=replicates)(x)
        if pool_every and i % pool_every == 0 and i < len(filters):
            x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Reshape((replicates, filters[-1]))(keras.layers.GlobalAveragePooling2D()(x))
    classes = config.get("num_classes", 10)
    outputs = keras.layers.EinsumDense("brf,rfk->brk", output_shape=(replicates, classes), bias_axes="rk")(x)
    return keras.Model(inputs, outputs)


def grouped_step_seconds(config: dict, replicates: int) -> float:
    """Median seconds of one training step (Adam, batch :data:`BATCH` per replicate) of :func:`grouped_model`."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = grouped_model(config, replicates)
    rng = np.random.default_rng(0)
    height, width, channels = config["input_shape"]
    x = tf.constant(rng.random((BATCH, height, width, channels * replicates), dtype=np.float32))
    y = tf.constant(rng.integers(0, model.output_shape[-1], (BATCH, replicates)), dtype=tf.int64)
    # the sum of the replicates' mean losses: each replicate gets its own gradient
    return _train_step_seconds(model, x, y, loss_scale=replicates, from_logits=True, repeat=5, number=10)


def measure(backend: str, layouts: list[str]) -> list[dict]:
    """Run in a fresh process whose environment selects ``backend``: one row per layout, then the matmul row."""
    # isort: off
    import flatgap  # noqa: F401  (first: quiets TensorFlow before it loads)
    import numpy as np
    import tensorflow as tf

    # isort: on

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from flatgap.costs import count_macs

    jit = backend == "xla"
    rows = []
    for name in layouts:
        config = dict(LAYOUTS[name][0])
        model, seconds = _step_seconds(config, jit)
        flops = 2 * 3 * count_macs(model) * BATCH
        rows.append({"layout": name, "backend": backend, "flops": flops, "ms": seconds * 1e3,
                     "gflops": flops / seconds / 1e9, "params": int(model.count_params())})
    a = tf.constant(np.random.default_rng(1).random((1024, 1024), dtype=np.float32))
    matmul = tf.function(lambda a: tf.matmul(a, a), jit_compile=jit)
    matmul(a).numpy()
    seconds = _median_seconds(lambda: matmul(a).numpy(), repeat=5, number=5)
    rows.append({"layout": "matmul 1024", "backend": backend, "flops": 2 * 1024**3, "ms": seconds * 1e3,
                 "gflops": 2 * 1024**3 / seconds / 1e9, "params": 0})
    return rows


def replicates_table(layouts: list[str], counts: list[int]) -> int:
    """Print, per GAP layout and R, the step time of R replicates as one grouped model and its time per replicate."""
    if any(r < 1 for r in counts):
        raise SystemExit(f"--replicates: every R must be a positive integer, got {counts}")
    layouts = [name for name in layouts if LAYOUTS[name][0]["head"] == "gap"]
    if not layouts:
        raise SystemExit("--replicates: choose at least one GAP layout")
    os.environ.update(BACKENDS["onednn"], OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    # isort: off
    import flatgap  # noqa: F401  (first: quiets TensorFlow before it loads)
    import tensorflow as tf

    # isort: on
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    print(f"R replicates of a GAP layout as one grouped model: one training step (Adam, batch {BATCH} per replicate), "
          f"one thread, oneDNN, on {cpu_model()}")
    print(f"{'layout':<32}  {'R':>3}  {'ms/step':>8}  {'ms per replicate':>16}")
    for name in layouts:
        for replicates in counts:
            seconds = grouped_step_seconds(LAYOUTS[name][0], replicates)
            print(f"{name:<32}  {replicates:3d}  {seconds * 1e3:8.2f}  {seconds * 1e3 / replicates:16.2f}", flush=True)
    return 0


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=list(BACKENDS))
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), help="layout names (default: all)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--replicates", nargs="+", type=int, metavar="R",
                        help="instead: one step of R replicates of each GAP layout trained as one grouped model (oneDNN)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [name for name in args.layouts if name not in LAYOUTS]
    if unknown:
        parser.error(f"unknown layouts {unknown}; known: {list(LAYOUTS)}")
    if args.replicates:
        return replicates_table(args.layouts, args.replicates)
    if args.worker:
        print(json.dumps(measure(args.worker, args.layouts)))
        return 0
    rows = []
    for backend in args.backends:
        env = {**os.environ, **BACKENDS[backend], "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
        out = subprocess.run([sys.executable, __file__, "--worker", backend, "--layouts", *args.layouts],
                             env=env, capture_output=True, text=True)
        if out.returncode:
            print(f"{backend}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            return 1
        rows += json.loads(out.stdout.strip().splitlines()[-1])
    roof = {r["backend"]: r["gflops"] for r in rows if r["layout"] == "matmul 1024"}
    print(f"One training step (Adam, batch {BATCH}), one thread, on {cpu_model()} ({os.cpu_count()} cores)")
    width = max(len(name) for name in args.layouts)
    print(f"{'layout':<{width}}  {'backend':<7}  {'MFLOP/step':>10}  {'ms/step':>8}  {'GFLOP/s':>8}  "
          f"{'matmul GFLOP/s':>14}  {'of matmul':>9}")
    for name in [*args.layouts, "matmul 1024"]:
        for row in (r for r in rows if r["layout"] == name):
            print(f"{name:<{width}}  {row['backend']:<7}  {row['flops'] / 1e6:10.1f}  {row['ms']:8.2f}  "
                  f"{row['gflops']:8.1f}  {roof[row['backend']]:14.1f}  {row['gflops'] / roof[row['backend']]:9.0%}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"cpu": cpu_model(), "rows": rows}, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
