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


def _step_seconds(config: dict, jit: bool):
    """(model, median seconds of one compiled training step of batch :data:`BATCH` on random data)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from flatgap.models import build_classifier

    keras.utils.set_random_seed(0)
    model = build_classifier(**config)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((BATCH, *config["input_shape"]), dtype=np.float32))
    y = tf.constant(rng.integers(0, model.output_shape[-1], BATCH), dtype=tf.int64)

    @tf.function(jit_compile=jit)
    def step(x, y):
        with tf.GradientTape() as tape:
            probs = model(x, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probs))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    step(x, y).numpy()  # trace (and compile)
    return model, _median_seconds(lambda: step(x, y).numpy(), repeat=7, number=20)


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
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [name for name in args.layouts if name not in LAYOUTS]
    if unknown:
        parser.error(f"unknown layouts {unknown}; known: {list(LAYOUTS)}")
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
