"""Training runners for the experiments: quiet, seeded, and fast on a laptop CPU.

On a CPU, a small model's run pays fixed costs besides its training steps. The runners avoid the avoidable
ones: :func:`fresh_model` reuses one compiled model per head instead of tracing a new training graph for
every run, :func:`accuracy_of` scores a model without building an evaluation graph, and
:func:`fit_quietly` validates in one large batch. ``fit`` prints nothing; the runners print one short line
per run instead of Keras's epoch logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from flatgap._validate import non_negative_int, positive_int


def compile_classifier(model, learning_rate: float = 1e-3, steps_per_execution: int = 8):
    """Compile for integer labels: Adam, sparse categorical cross-entropy, accuracy. Returns the model."""
    import keras

    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=positive_int("steps_per_execution", steps_per_execution),
    )
    return model


def fit_quietly(model, x, y, epochs: int, batch_size: int = 64, validation_data=None, seed: int = 0) -> dict:
    """Fit a compiled model without Keras's progress output.

    Args:
        model: a compiled ``keras.Model``.
        x: (N, H, W, C) float32 images. y: (N,) integer labels.
        epochs: passes over the data. batch_size: images per step.
        validation_data: optional (x_val, y_val), evaluated after every epoch.
        seed: shuffling seed (passed through ``keras.utils.set_random_seed``).

    Returns:
        The history dict: ``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...]}``
        with one entry per epoch, plus ``"seconds"``: the wall time of the fit.
    """
    import keras

    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 4 or len(x) != len(y):
        raise ValueError(f"x must be (N, H, W, C) with one label per image, got x {x.shape} and y {y.shape}")
    keras.utils.set_random_seed(non_negative_int("seed", seed))
    start = time.perf_counter()
    # One large validation batch: evaluating 450 images in batches of 32 after every epoch took a third of the
    # wall time of a small model's fit (measured on 2 cores); the results are the same.
    validation_batch_size = None if validation_data is None else min(len(validation_data[1]), 1024)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                        validation_batch_size=validation_batch_size, verbose=0)
    result = {key: [float(v) for v in values] for key, values in history.history.items()}
    result["seconds"] = time.perf_counter() - start
    return result


def accuracy_of(model, x, y, batch_size: int = 512) -> float:
    """Fraction of images whose highest-scoring class is the label, with the model in inference mode.

    Calls the model directly on chunks of ``batch_size`` images instead of ``model.evaluate``: for the
    course's small models that skips building an evaluation graph for every new model (about 0.3 s each on
    2 cores), and gives the same accuracy.

    Args:
        model: a Keras classifier whose output is (N, classes) scores.
        x: (N, H, W, C) images. y: (N,) integer labels.
        batch_size: images per call (bounds the memory used).

    Returns:
        The accuracy, a float in [0, 1].
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 4 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x must be (N, H, W, C) with N >= 1 and y (N,) labels, got x {x.shape} and y {y.shape}")
    batch_size = positive_int("batch_size", batch_size)
    correct = 0
    for start in range(0, len(x), batch_size):
        scores = np.asarray(model(x[start : start + batch_size], training=False))
        correct += int((scores.argmax(axis=-1) == y[start : start + batch_size]).sum())
    return correct / len(x)


def fresh_model(build: Callable[[str], object], head: str, seed: int, learning_rate: float, reuse: dict | None = None):
    """A compiled model for one training run, initialised exactly as ``build(head)`` is under ``seed``.

    Compiling a new model makes Keras trace a new training graph on its first ``fit``: about 0.8 s on two
    cores, more than a short run's training itself. With ``reuse`` (a dict, head -> compiled model, that the
    caller keeps between runs), the model of this head is kept: its variables are overwritten with a newly
    built model's initial values, and its optimizer's state (step count, moments) is reset to zero, so the
    next ``fit`` starts from the same state as a new model and gives the same numbers without tracing again.
    ``tests/test_repro_plotting_training.py`` checks that the two give identical results.

    Args:
        build: ``build(head)`` returns a fresh uncompiled model. head: which head.
        seed: seeds Keras before ``build`` (the initial weights). learning_rate: Adam's learning rate.
        reuse: optional cache of compiled models, filled and used by this function.

    Returns:
        The compiled model, ready for ``fit_quietly``.
    """
    import keras

    keras.utils.set_random_seed(non_negative_int("seed", seed))
    new = build(head)
    kept = None if reuse is None else reuse.get(head)
    same_layout = kept is not None and [(tuple(v.shape), v.dtype) for v in kept.variables] == [
        (tuple(v.shape), v.dtype) for v in new.variables
    ]
    if not same_layout:
        model = compile_classifier(new, learning_rate)
        if reuse is not None:
            reuse[head] = model
        return model
    for target, source in zip(kept.variables, new.variables, strict=True):
        target.assign(source)
    for variable in kept.optimizer.variables:
        variable.assign(np.zeros(variable.shape, variable.dtype))
    kept.optimizer.learning_rate = learning_rate
    return kept


def run_over_seeds(
    build: Callable[[str], object],
    heads: Sequence[str],
    seeds: Sequence[int],
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    verbose: bool = True,
) -> list[dict]:
    """Train one model per (head, seed) and evaluate it.

    Args:
        build: ``build(head)`` returns a fresh uncompiled model (called after seeding).
        heads: head names. seeds: one run per seed and head.
        train, test: (images, labels) pairs; ``test`` is also the per-epoch validation set.
        epochs, batch_size, learning_rate: training settings.
        verbose: print one line per run.

    Returns:
        One dict per run: head, seed, history (per-epoch curves), train_accuracy, test_accuracy,
        gap (train minus test accuracy), params, seconds.
    """
    if not heads or not seeds:
        raise ValueError("heads and seeds must each name at least one entry")
    runs, reuse = [], {}
    for head in heads:
        for seed in seeds:
            model = fresh_model(build, head, seed, learning_rate, reuse)
            history = fit_quietly(model, *train, epochs=epochs, batch_size=batch_size, validation_data=test, seed=seed)
            train_acc, test_acc = accuracy_of(model, *train), accuracy_of(model, *test)
            runs.append(
                {
                    "head": head,
                    "seed": seed,
                    "history": history,
                    "train_accuracy": train_acc,
                    "test_accuracy": test_acc,
                    "gap": train_acc - test_acc,
                    "params": int(model.count_params()),
                    "seconds": history["seconds"],
                }
            )
            if verbose:
                print(f"{head:>16} seed {seed}: train {train_acc:.3f}  test {test_acc:.3f}  ({history['seconds']:.1f} s)")
    return runs


def summarize(runs: list[dict], key: str) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation of ``run[key]`` for each head: ``{head: (mean, std)}``."""
    if not runs:
        raise ValueError("runs is empty")
    if key not in runs[0]:
        raise ValueError(f"key must be one of {sorted(k for k in runs[0] if k != 'history')}, got {key!r}")
    out = {}
    for head in dict.fromkeys(run["head"] for run in runs):
        values = np.array([run[key] for run in runs if run["head"] == head], dtype=float)
        out[head] = (float(values.mean()), float(values.std()))
    return out
