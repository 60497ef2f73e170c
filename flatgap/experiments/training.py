"""Training for the experiments: quiet, seeded, and fast on a laptop CPU, through one runner.

:func:`train_heads` is the one runner every experiment uses (heads x seeds x optional training-set sizes,
a budget and a learning rate per head); it returns one record per run, and :func:`select` picks values out
of the records. Below it, :func:`compile_classifier` and :func:`fit_quietly` train one model.

On a CPU, a small model's run pays fixed costs besides its training steps. The runner avoids the avoidable
ones: :func:`fresh_model` reuses one compiled model per head instead of tracing a new training graph for
every run, :func:`accuracy_of` scores a model without building an evaluation graph, :func:`fit_quietly`
validates in one large batch, and :func:`repeat_to_length` makes a small set's epochs long. ``fit`` prints
nothing; the runner prints one short line per run instead of Keras's epoch logs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

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
    correct = correct_of(model, x, y, batch_size)
    return int(correct.sum()) / len(correct)


def correct_of(model, x, y, batch_size: int = 512) -> np.ndarray:
    """Per image, whether its highest-scoring class is the label (model in inference mode): bool (N,).

    Its mean is :func:`accuracy_of`; a resample of the images (``correct[index].mean()``) is the accuracy on that
    resample without calling the model again.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 4 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x must be (N, H, W, C) with N >= 1 and y (N,) labels, got x {x.shape} and y {y.shape}")
    batch_size = positive_int("batch_size", batch_size)
    parts = [np.asarray(model(x[start : start + batch_size], training=False)).argmax(axis=-1) == y[start : start + batch_size]
             for start in range(0, len(x), batch_size)]
    return np.concatenate(parts)


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


def _per_head(name: str, value, heads: Sequence[str], check: Callable) -> dict:
    """``{head: value}`` from one value for every head or a mapping that names each head."""
    if isinstance(value, Mapping):
        missing = [head for head in heads if head not in value]
        if missing:
            raise ValueError(f"{name} gives no value for the heads {missing}; it names {sorted(value)}")
        return {head: check(f"{name}[{head!r}]", value[head]) for head in heads}
    return dict.fromkeys(heads, check(name, value))


def _positive_number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def repeat_to_length(x: np.ndarray, y: np.ndarray, min_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Repeat a small data set whole until it has at least ``min_length`` examples.

    Training a few dozen images "for 500 epochs" costs Keras a fixed overhead per epoch; repeating the
    set and training fewer, longer epochs takes the same gradient steps for less time.

    Args:
        x: (N, ...) inputs. y: (N,) labels.
        min_length: the repeated set has ``N * ceil(min_length / N)`` examples (at least N).

    Returns:
        ``(x_rep, y_rep)``, each a whole number of copies of the input.
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty with one label per example, got {len(x)} and {len(y)}")
    copies = max(1, math.ceil(positive_int("min_length", min_length) / len(x)))
    if copies == 1:
        return x, y
    return np.concatenate([x] * copies), np.concatenate([y] * copies)


def train_heads(
    build: Callable[[str], object],
    heads: Sequence[str],
    seeds: Sequence[int],
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int | Mapping[str, int] | None = None,
    steps: int | Mapping[str, int] | None = None,
    sizes: Sequence[int] | None = None,
    learning_rate: float | Mapping[str, float] = 1e-3,
    batch_size: int = 32,
    steps_per_epoch: int = 128,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    verbose: bool = True,
) -> list[dict]:
    """The one training runner of the experiments: every head x every seed (x every training-set size).

    Each run builds ``build(head)`` under its seed (:func:`fresh_model`), trains it with Adam, and scores it
    on its own training data and on ``test``. A budget and a learning rate may differ per head.

    Args:
        build: ``build(head)`` returns a fresh uncompiled model (called after seeding).
        heads: head names. seeds: one run per seed (and head, and size).
        train: (images (N, H, W, C), labels (N,)).
        test: (images, labels) the finished models are scored on.
        epochs: passes over the training data, one number or ``{head: epochs}``; or else
        steps: gradient steps per run, one number or ``{head: steps}``, whatever the size of the training
            data: the data are repeated whole (:func:`repeat_to_length`) into epochs of at least
            ``steps_per_epoch`` steps, and the steps are rounded up to whole epochs.
        sizes: optional training-set sizes: for each size and seed, ``stratified_subset(*train, size, seed)``
            draws one subset, shared by every head; ``None`` trains on all of ``train``.
        learning_rate: Adam's learning rate, one number or ``{head: rate}``.
        batch_size: images per step. steps_per_epoch: the shortest epoch, in steps (with ``steps``).
        validation: optional (images, labels) scored after every epoch (the history's ``val_*`` curves).
        verbose: print one line per run.

    Returns:
        One record (a dict) per run, in the order head-major within each size and seed loop: ``head``,
        ``seed``, ``size`` (None without ``sizes``), ``learning_rate``, ``epochs``, ``steps`` (taken),
        ``history`` (per-epoch curves), ``train_accuracy`` (on the run's own training data),
        ``test_accuracy``, ``gap`` (train minus test accuracy), ``params`` and ``seconds``.
        :func:`select` picks values out of them.
    """
    from flatgap.data import stratified_subset

    if not heads or not seeds or (sizes is not None and not sizes):
        raise ValueError("heads, seeds and sizes (when given) must each name at least one entry")
    if (epochs is None) == (steps is None):
        raise ValueError("give exactly one of epochs and steps")
    budget = _per_head("epochs" if steps is None else "steps", epochs if steps is None else steps, heads, positive_int)
    rates = _per_head("learning_rate", learning_rate, heads, _positive_number)
    batch_size = positive_int("batch_size", batch_size)
    steps_per_epoch = positive_int("steps_per_epoch", steps_per_epoch)
    runs, reuse = [], {}
    for size in sizes if sizes is not None else [None]:
        for seed in seeds:
            x_fit, y_fit = train if size is None else stratified_subset(*train, size, seed=seed)
            if steps is not None:
                x_rep, y_rep = repeat_to_length(x_fit, y_fit, steps_per_epoch * batch_size)
            else:
                x_rep, y_rep = x_fit, y_fit
            per_epoch = math.ceil(len(x_rep) / batch_size)
            for head in heads:
                run_epochs = budget[head] if steps is None else math.ceil(budget[head] / per_epoch)
                model = fresh_model(build, head, seed, rates[head], reuse)
                history = fit_quietly(model, x_rep, y_rep, epochs=run_epochs, batch_size=batch_size,
                                      validation_data=validation, seed=seed)
                train_acc, test_acc = accuracy_of(model, x_fit, y_fit), accuracy_of(model, *test)
                runs.append(
                    {
                        "head": head,
                        "seed": seed,
                        "size": size,
                        "learning_rate": rates[head],
                        "epochs": run_epochs,
                        "steps": run_epochs * per_epoch,
                        "history": history,
                        "train_accuracy": train_acc,
                        "test_accuracy": test_acc,
                        "gap": train_acc - test_acc,
                        "params": int(model.count_params()),
                        "seconds": history["seconds"],
                    }
                )
                if verbose:
                    where = "" if size is None else f" n={size:<4}"
                    print(f"{head:>16}{where} seed {seed}: train {train_acc:.3f}  test {test_acc:.3f}  "
                          f"({history['seconds']:.1f} s)")
    return runs


def select(runs: Sequence[dict], key: str, **where) -> np.ndarray:
    """``run[key]`` of every run whose fields equal ``where``, in run order (so in seed order for one head).

    Example:
        >>> runs = [{"head": "gap", "seed": 0, "test_accuracy": 0.9}, {"head": "flatten", "seed": 0, "test_accuracy": 0.95},
        ...         {"head": "gap", "seed": 1, "test_accuracy": 0.8}]
        >>> select(runs, "test_accuracy", head="gap")
        array([0.9, 0.8])
    """
    if not runs:
        raise ValueError("runs is empty")
    fields = sorted(runs[0])
    for name in [key, *where]:
        if name not in runs[0]:
            raise ValueError(f"runs have no field {name!r}; they have {fields}")
    chosen = [run[key] for run in runs if all(run[name] == value for name, value in where.items())]
    if not chosen:
        raise ValueError(f"no run has {where}")
    return np.asarray(chosen)
