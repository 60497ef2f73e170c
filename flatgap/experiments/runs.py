"""One training run, fast: the loop every experiment's runs go through.

:func:`train_run` builds ``build_classifier(**config)`` under a seed and trains it with Adam on the training
part, scoring the validation part after every epoch; it stops when the validation accuracy has not improved
for ``patience`` epochs and keeps the weights of the best epoch (early stopping, decided on validation only).
It never sees a test set: :mod:`flatgap.experiments.protocol` scores the chosen runs on the test split afterwards.

It does what ``model.fit`` with an ``EarlyStopping(restore_best_weights=True)`` callback does, in a loop of
its own: on two CPU cores Keras's ``fit`` spent more time per epoch on its own machinery (data adapter,
callbacks) than on the small models' arithmetic. Here one ``tf.function`` runs a whole epoch (shuffle, every
batch's gradient step, the running loss and accuracy), traced once per model layout and reused by later runs
of the same layout (their weights and optimizer state are reset, so each run starts exactly as a newly built
model would). Shapes are channels-last: images (N, H, W, C), integer labels (N,).
"""

from __future__ import annotations

import json
import time

import numpy as np

from flatgap._validate import non_negative_int, positive_int


def _parts(name: str, data) -> list[tuple[np.ndarray, np.ndarray]]:
    """One (images, labels) pair, or a list of them (parts of different image sizes): always a list of pairs."""
    if isinstance(data, list) and data and all(isinstance(part, (tuple, list)) for part in data):
        return [_images_labels(f"{name}[{i}]", part) for i, part in enumerate(data)]
    return [_images_labels(name, data)]


def _images_labels(name: str, data) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"{name} must be a pair (images (N, H, W, C), labels (N,)), got {type(data).__name__}")
    x, y = np.asarray(data[0], dtype=np.float32), np.asarray(data[1])
    if x.ndim != 4 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{name} must hold N >= 1 images (N, H, W, C) and N labels, got {x.shape} and {y.shape}")
    return x, y.astype(np.int64)


class _Trainer:
    """A compiled model of one layout with its epoch and scoring functions, reused by every run of that layout."""

    def __init__(self, config: dict, batch_size: int):
        import keras
        import tensorflow as tf

        from flatgap.models.classifier import build_classifier

        self.config, self.batch_size = config, batch_size
        self.model = build_classifier(**config)
        self.optimizer = keras.optimizers.Adam(1e-3)
        self.optimizer.build(self.model.trainable_variables)
        model, optimizer, variables = self.model, self.optimizer, self.model.trainable_variables
        channels = self.model.input_shape[-1]
        images = tf.TensorSpec([None, None, None, channels], tf.float32)
        labels = tf.TensorSpec([None], tf.int64)

        @tf.function(input_signature=[images, labels, tf.TensorSpec([None], tf.int64)])
        def epoch(x, y, order):
            steps = (tf.shape(order)[0] + batch_size - 1) // batch_size
            loss_sum, correct, seen = tf.constant(0.0), tf.constant(0.0), tf.constant(0.0)
            for step in tf.range(steps):
                index = order[step * batch_size : (step + 1) * batch_size]
                x_batch, y_batch = tf.gather(x, index), tf.gather(y, index)
                with tf.GradientTape() as tape:
                    probs = model(x_batch, training=True)
                    loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y_batch, probs))
                optimizer.apply(tape.gradient(loss, variables), variables)
                count = tf.cast(tf.shape(index)[0], tf.float32)
                loss_sum += loss * count
                correct += tf.reduce_sum(tf.cast(tf.argmax(probs, axis=-1) == y_batch, tf.float32))
                seen += count
            return loss_sum / seen, correct / seen

        @tf.function(input_signature=[images, labels])
        def score(x, y):
            probs = model(x, training=False)
            loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, probs))
            return loss, tf.reduce_sum(tf.cast(tf.argmax(probs, axis=-1) == y, tf.float32))

        self.epoch, self._score = epoch, score

    def reset(self, seed: int, learning_rate: float) -> None:
        """Make the kept model exactly what ``build_classifier(**config)`` builds under ``seed``, with a fresh Adam."""
        import keras

        from flatgap.models.classifier import build_classifier

        keras.utils.set_random_seed(seed)
        new = build_classifier(**self.config)
        for target, source in zip(self.model.variables, new.variables, strict=True):
            target.assign(source)
        for variable in self.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))
        self.optimizer.learning_rate.assign(learning_rate)

    def score(self, parts, chunk: int = 512) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) over every image of ``parts`` in inference mode, ``chunk`` images a call."""
        loss = correct = 0.0
        for x, y in parts:
            for start in range(0, len(x), chunk):
                part_loss, part_correct = self._score(x[start : start + chunk], y[start : start + chunk])
                loss, correct = loss + float(part_loss), correct + float(part_correct)
        count = sum(len(y) for _, y in parts)
        return loss / count, correct / count


def _key(config: dict, batch_size: int) -> str:
    return json.dumps([config, batch_size], sort_keys=True, default=str)


def train_run(
    config: dict,
    train,
    validation,
    *,
    seed: int,
    learning_rate: float,
    max_epochs: int,
    patience: int,
    batch_size: int = 64,
    min_epoch_steps: int = 0,
    cache: dict | None = None,
) -> dict:
    """Train one model with early stopping on validation accuracy; return its best weights and curves.

    Args:
        config: keyword arguments of :func:`flatgap.models.classifier.build_classifier` (``head``, ``input_shape``,
            ``filters``, ...), built after ``keras.utils.set_random_seed(seed)``.
        train: (images (N, H, W, C), labels (N,)) to train on, shuffled anew every epoch from ``seed``; or a
            list of such pairs of different image sizes, trained on in turn within every epoch (every batch holds
            one size).
        validation: (images, labels), or a list of pairs, scored after every epoch; the weights of the epoch with
            the highest validation accuracy (over all its images; the first such epoch) are kept.
        seed: seeds the initial weights, the shuffling and any random layer (dropout, random shifts).
        learning_rate: Adam's learning rate.
        max_epochs: at most this many epochs. patience: stop after this many epochs without a new best.
        batch_size: images per gradient step.
        min_epoch_steps: a small training set is repeated whole until an epoch has at least this many steps
            (training 50 images "for 40 epochs" would otherwise be very few steps).
        cache: a dict kept between calls: runs of the same layout reuse one traced model.

    Returns:
        A dict: ``weights`` (the best epoch's, a list of arrays), ``history`` (``loss``, ``accuracy``,
        ``val_loss``, ``val_accuracy`` per epoch; training figures are running means over the epoch),
        ``best_epoch`` (1-based), ``epochs_run``, ``steps`` (gradient steps up to the best epoch),
        ``train_accuracy`` (inference mode, best weights, on ``train``), ``val_accuracy`` (best),
        ``params`` and ``seconds``.
    """
    parts, held_out = _parts("train", train), _parts("validation", validation)
    seed = non_negative_int("seed", seed)
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    max_epochs, patience = positive_int("max_epochs", max_epochs), positive_int("patience", patience)
    batch_size, min_epoch_steps = positive_int("batch_size", batch_size), non_negative_int("min_epoch_steps", min_epoch_steps)
    if not isinstance(config, dict) or "head" not in config:
        raise ValueError(f"config must be a dict of build_classifier arguments with a 'head', got {config!r}")
    start = time.perf_counter()
    cache = {} if cache is None else cache
    key = _key(config, batch_size)
    if key not in cache:
        cache[key] = _Trainer(config, batch_size)
    trainer = cache[key]
    trainer.reset(seed, float(learning_rate))
    images = sum(len(y) for _, y in parts)
    copies = max(1, -(-min_epoch_steps * batch_size // images))
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    best, best_epoch, best_weights = -1.0, 0, None
    for epoch in range(1, max_epochs + 1):
        loss = accuracy = 0.0
        for x, y in parts:
            order = np.concatenate([rng.permutation(len(x)) for _ in range(copies)])
            part_loss, part_accuracy = trainer.epoch(x, y, order)
            loss, accuracy = loss + float(part_loss) * len(y) / images, accuracy + float(part_accuracy) * len(y) / images
        val_loss, val_accuracy = trainer.score(held_out)
        for name, value in zip(history, (loss, accuracy, val_loss, val_accuracy), strict=True):
            history[name].append(float(value))
        if val_accuracy > best:
            best, best_epoch, best_weights = val_accuracy, epoch, trainer.model.get_weights()
        elif epoch - best_epoch >= patience:
            break
    trainer.model.set_weights(best_weights)
    return {
        "weights": best_weights,
        "history": history,
        "best_epoch": best_epoch,
        "epochs_run": len(history["loss"]),
        "steps": best_epoch * copies * sum(-(-len(y) // batch_size) for _, y in parts),
        "train_accuracy": trainer.score(parts)[1],
        "val_accuracy": best,
        "params": int(trainer.model.count_params()),
        "seconds": time.perf_counter() - start,
    }
