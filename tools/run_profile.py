"""`make bench`, part 3: where one training run's time goes, inside :func:`flatgap.experiments.runs.train_run`.

Three runs (seeds 1-3, after one run that traces the layout) of two layouts the book trains most, on the digits'
training split (1,000 images to train on, the rest to validate), early stopping as the protocol does it, in this
process with one TensorFlow thread (as a worker process runs them). The time is split into the epochs (every
training step, in one ``tf.function`` per epoch), the validation scoring after each epoch, resetting the kept model
to a new seed's initial weights, keeping the best epoch's weights, and the rest (Python). The step time inside the
epochs compares with ``tools/bench_steps.py``'s for the same layout.

    python tools/run_profile.py
"""

from __future__ import annotations

import os
import time

os.environ["OMP_NUM_THREADS"] = "1"

LAYOUTS = {
    "8x8 narrow (16, 32), gap": {"head": "gap", "input_shape": (8, 8, 1), "filters": (16, 32)},
    "8x8 pooled (16, 32), flatten": {"head": "flatten", "input_shape": (8, 8, 1), "filters": (16, 32), "pool_every": 1},
}
PARTS = ("epochs", "validation scoring", "reset", "keeping weights")


def _timed(totals: dict, part: str, function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[part] += time.perf_counter() - start

    return wrapper


def main() -> None:
    # isort: off
    import flatgap  # noqa: F401  (first: quiets TensorFlow, selects its kernels)
    import numpy as np
    import tensorflow as tf

    # isort: on

    from flatgap.data import load_digits_nhwc
    from flatgap.experiments import runs
    from flatgap.repro import machine_description

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    split = load_digits_nhwc()
    x, y = split.x_train.astype(np.float32), split.y_train.astype(np.int64)
    train, validation = (x[:1000], y[:1000]), (x[1000:], y[1000:])
    print(f"Where a training run's time goes (3 runs per layout, one thread) on {machine_description()}")
    for name, config in LAYOUTS.items():
        cache: dict = {}
        runs.train_run(config, train, validation, seed=0, learning_rate=3e-3, max_epochs=2, patience=5, cache=cache)
        trainer = next(iter(cache.values()))
        totals = dict.fromkeys(PARTS, 0.0)
        trainer.epoch = _timed(totals, "epochs", trainer.epoch)
        trainer.score = _timed(totals, "validation scoring", trainer.score)
        trainer.reset = _timed(totals, "reset", trainer.reset)
        trainer.model.get_weights = _timed(totals, "keeping weights", trainer.model.get_weights)
        start, epochs = time.perf_counter(), 0
        for seed in (1, 2, 3):
            result = runs.train_run(config, train, validation, seed=seed, learning_rate=3e-3, max_epochs=60, patience=10,
                                    cache=cache)
            epochs += result["epochs_run"]
        total = time.perf_counter() - start
        steps = epochs * -(-len(train[1]) // 64)
        shares = ", ".join(f"{part} {seconds:.2f} s ({seconds / total:.0%})" for part, seconds in totals.items())
        print(f"{name}: {epochs} epochs, {steps} steps, {total:.2f} s: {shares}, "
              f"other {total - sum(totals.values()):.2f} s; {1000 * totals['epochs'] / steps:.2f} ms a step")


if __name__ == "__main__":
    main()
