"""The protocol every comparison of heads follows, and the one runner that carries it out.

An expert reader must not be able to say "that comparison was rigged". :func:`run_experiment` therefore

1. **splits three ways**: for every seed, a stratified validation split is carved from the training data; every
   choice (the learning rate, the epoch to stop at) is made on it, and each run meets the test split once, at the
   end. The runner refuses the test split as validation data;
2. **tunes every model the same way**: the learning rate from the same small grid (searched on the first
   ``tuning_seeds`` seeds, by mean validation accuracy), the epochs by early stopping on validation accuracy;
3. **varies with the seed** the initial weights, the shuffling and the train/validation split (and, with
   ``sizes``, which training subset is drawn), so that a seed is one independent replicate, the same for every
   model: differences between two models on the same seed are *paired*.

**Version 2** (:meth:`Protocol.version2`, the protocol of the chapters that declare primary comparisons) adds what an
expert asks for next: the tuning replicates are *disjoint* from the reporting ones (no run that chose a learning rate
is reported, so the reported runs carry no winner's curse); each reporting seed scores its runs on its own stratified
*bootstrap resample of the test split*, the same for every model of that seed, so that the paired differences carry
the test set's sampling variance; and a run that *fails to train* (its best validation accuracy at most a declared
threshold, judged on validation, never on test) is flagged, counted and left out of the intervals
(:meth:`Experiment.primary`).

The bodies and heads themselves are the chapter's choice; :mod:`flatgap.experiments.stats` turns paired differences into
intervals and verdicts. Runs are spread over worker processes (:mod:`flatgap.experiments.pool`); the numbers do not depend
on how many. Shapes are channels-last: images (N, H, W, C), labels (N,).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from flatgap._validate import non_negative_int, positive_int
from flatgap.repro import machine_description


@dataclass(frozen=True)
class Protocol:
    """The settings of an experiment: the same for every model it compares.

    Attributes:
        seeds: at least five distinct seeds; each is one replicate (initialisation, shuffling, split, subset).
        learning_rates: the grid every model's learning rate is chosen from.
        tuning_seeds: the grid is searched on the first ``tuning_seeds`` seeds; the other seeds run at the rate
            chosen there (so every model gets ``tuning_seeds * len(learning_rates)`` tuning runs).
        extensions: when a model's best rate lies at an edge of its grid (and is not tied with another), one more
            rate a step beyond that edge is tried (same ratio as the last step), at most this many times: the same
            rule for every model. Rates tied for the best resolve to the one nearest the middle of the grid.
        max_epochs, patience: early stopping on validation accuracy.
        batch_size: images per gradient step.
        validation_fraction: share of the training data carved out (stratified) as the validation split.
        min_epoch_steps: small training sets are repeated whole into epochs of at least this many steps.
        seed_offset: added to every seed where it becomes randomness (initial weights, shuffling, validation split,
            subsets), while records and tables keep the seeds' own labels (0, 1, ...). ``None`` (the default) reads
            the environment variable ``FLATGAP_SEED_OFFSET`` (unset: 0). A build with another offset is a second,
            fresh draw of every replicate, with the chapters' code unchanged: ``make second-draw`` runs the
            experiment chapters that way to check that their verdicts do not depend on one draw of seeds.
        disjoint_tuning: version 2: the grid is searched on ``tuning_seeds`` replicates of their own (seeds
            ``TUNING_SEED_BASE``, ``TUNING_SEED_BASE + 1``, ...), and every seed of ``seeds`` is a fresh reporting
            replicate that no choice has seen. False (version 1): the first ``tuning_seeds`` of ``seeds`` tune and
            are reported too.
        resample_test: version 2: each reporting seed scores every model on the same stratified bootstrap resample
            of the test split (drawn from the seed), so that the test set's sampling variance enters the paired
            differences; ``test_accuracy_fixed`` keeps the accuracy on the whole split.
        failure_accuracy: a run whose best validation accuracy is at most this is flagged ``failed`` (it did not
            train); :meth:`Experiment.primary` counts such runs and leaves their seeds out. None: no run is judged.
    """

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    learning_rates: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
    tuning_seeds: int = 2
    extensions: int = 2
    max_epochs: int = 100
    patience: int = 8
    batch_size: int = 64
    validation_fraction: float = 0.2
    min_epoch_steps: int = 0
    seed_offset: int | None = None
    disjoint_tuning: bool = False
    resample_test: bool = False
    failure_accuracy: float | None = None

    @classmethod
    def version2(cls, reporting_seeds: int = 10, *, classes: int = 10, **settings) -> Protocol:
        """Protocol version 2: ``reporting_seeds`` fresh reporting replicates (seeds 0, 1, ...), disjoint tuning
        replicates, the test split resampled per seed, and runs at most twice chance (``2 / classes``) on validation
        counted as failures (or at most ``failure_accuracy``, a threshold the chapter declares; None judges no run).
        Other settings (``learning_rates``, ``max_epochs``, ...) as in :class:`Protocol`.

        Example:
            >>> p = Protocol.version2(10, seed_offset=0)
            >>> len(p.seeds), p.tuning_seed_values(), p.resample_test, p.failure_accuracy
            (10, (10000, 10001), True, 0.2)
        """
        if "seeds" in settings:
            raise ValueError("version2 takes the number of reporting seeds (reporting_seeds), not seeds")
        positive_int("classes", classes)
        failure_accuracy = settings.pop("failure_accuracy", min(2 / classes, 0.99))
        return cls(seeds=tuple(range(positive_int("reporting_seeds", reporting_seeds))), disjoint_tuning=True,
                   resample_test=True, failure_accuracy=failure_accuracy, **settings)

    @property
    def version(self) -> int:
        """2 when the tuning replicates are disjoint and the test split is resampled per seed, else 1."""
        return 2 if self.disjoint_tuning and self.resample_test else 1

    def test_resample(self, labels: np.ndarray, seed: int) -> np.ndarray:
        """Indices (N,) of the test resample that reporting seed ``seed`` is scored on, for a test split with
        ``labels`` (N,): the runner's own, so that a score computed after training (accuracy on shifted or resized
        images, a map's localisation) is taken on the same images as the seed's test accuracy.

        Raises:
            ValueError: under version 1 (no resample: score the whole split), or for a seed that is not a reporting seed.

        Example:
            >>> labels = np.array([0, 0, 1, 1, 1])
            >>> p = Protocol.version2(10, seed_offset=0)
            >>> np.array_equal(p.test_resample(labels, 3), bootstrap_test_index(labels, 3))
            True
        """
        if not self.resample_test:
            raise ValueError("this protocol does not resample the test split (version 1): score the whole split")
        if seed not in self.seeds:
            raise ValueError(f"seed {seed!r} is not one of the reporting seeds {self.seeds}")
        return bootstrap_test_index(labels, seed + self.seed_offset)

    def tuning_seed_values(self) -> tuple[int, ...]:
        """The seeds (labels) of the tuning replicates: the first seeds of ``seeds`` (version 1) or their own."""
        if self.disjoint_tuning:
            return tuple(TUNING_SEED_BASE + i for i in range(self.tuning_seeds))
        return self.seeds[: self.tuning_seeds]

    def __post_init__(self):
        seeds = tuple(non_negative_int("seed", s) for s in self.seeds)
        if len(seeds) < 5 or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be at least five distinct non-negative integers, got {self.seeds!r}")
        rates = tuple(self.learning_rates)
        if not rates or any(isinstance(r, bool) or not isinstance(r, (int, float)) or not r > 0 for r in rates):
            raise ValueError(f"learning_rates must be a non-empty sequence of positive numbers, got {self.learning_rates!r}")
        for name in ("disjoint_tuning", "resample_test"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.failure_accuracy is not None and (isinstance(self.failure_accuracy, bool) or not isinstance(self.failure_accuracy, (int, float))
                                                  or not 0 <= self.failure_accuracy < 1):
            raise ValueError(f"failure_accuracy must be a number in [0, 1) or None, got {self.failure_accuracy!r}")
        if self.disjoint_tuning and any(s >= TUNING_SEED_BASE for s in seeds):
            raise ValueError(f"with disjoint tuning, reporting seeds must be below {TUNING_SEED_BASE} (the tuning replicates' own), got {seeds}")
        if not 1 <= positive_int("tuning_seeds", self.tuning_seeds) <= (TUNING_SEED_BASE if self.disjoint_tuning else len(seeds)):
            raise ValueError(f"tuning_seeds must be between 1 and the number of seeds ({len(seeds)}), got {self.tuning_seeds}")
        non_negative_int("extensions", self.extensions)
        positive_int("max_epochs", self.max_epochs)
        positive_int("patience", self.patience)
        positive_int("batch_size", self.batch_size)
        non_negative_int("min_epoch_steps", self.min_epoch_steps)
        if not isinstance(self.validation_fraction, float) or not 0 < self.validation_fraction < 0.5:
            raise ValueError(f"validation_fraction must be a float strictly between 0 and 0.5, got {self.validation_fraction!r}")
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "learning_rates", tuple(float(r) for r in rates))
        object.__setattr__(self, "seed_offset", seed_offset_from_environment() if self.seed_offset is None
                           else non_negative_int("seed_offset", self.seed_offset))

    def describe(self) -> str:
        """The protocol in a few lines, for the box at the top of an experiment chapter."""
        grid = ", ".join(f"{r:g}" for r in self.learning_rates)
        if self.disjoint_tuning:
            searched = f"searched on {self.tuning_seeds} tuning replicates of their own, never reported"
            seeds_line = (f"seeds:   protocol version {self.version}: {len(self.seeds)} fresh reporting replicates "
                          f"({self.seeds[0]}–{self.seeds[-1]}) that no choice has seen; each varies the initial weights, "
                          "the shuffling, the split"
                          + (" and the test resample" if self.resample_test else "")
                          + "; differences between models are paired by seed")
        else:
            searched = f"searched on the first {self.tuning_seeds} seeds"
            seeds_line = (f"seeds:   {len(self.seeds)} ({', '.join(map(str, self.seeds))}): each varies the initial weights, the "
                          "shuffling and the split; differences between models are paired by seed")
        extra = []
        if self.resample_test:
            extra.append("test:    each reporting seed scores every model on the same stratified bootstrap resample of the "
                         "test split (a new resample per seed), so the intervals carry the test set's sampling variance")
        if self.failure_accuracy is not None:
            extra.append(f"failures: a run whose best validation accuracy is at most {self.failure_accuracy:.0%} did not train; "
                         "it is counted, and its seed left out of the intervals (judged on validation, never on test)")
        return "\n".join([
            f"splits:  a stratified {self.validation_fraction:.0%} of the training data is the validation split "
            "(a new split per seed); the test split is scored once per run, at the end",
            f"tuning:  Adam, learning rate from {{{grid}}} chosen per model on validation ({searched}; a best rate at an edge of the grid adds the next rate beyond it, at most "
            f"{self.extensions} times); epochs by early stopping on validation accuracy (at most "
            f"{self.max_epochs}, patience {self.patience}); batches of {self.batch_size}",
            seeds_line
            + (f" (a second draw: every seed is offset by {self.seed_offset} where it becomes randomness)" if self.seed_offset else ""),
            *extra,
            f"machine: {machine_description()}",
        ])


TUNING_SEED_BASE = 10_000
"""Version 2's tuning replicates are seeds 10000, 10001, ...: never a reporting seed of any chapter."""


def bootstrap_test_index(labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices (N,) of a stratified bootstrap resample of a test split with ``labels`` (N,): each class keeps its count.

    Example:
        >>> index = bootstrap_test_index(np.array([0, 0, 1, 1, 1]), seed=3)
        >>> np.bincount(np.array([0, 0, 1, 1, 1])[index]).tolist()
        [2, 3]
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng([0x7E57, non_negative_int("seed", seed)])
    parts = [rng.choice(np.flatnonzero(labels == label), size=int(np.sum(labels == label)), replace=True)
             for label in np.unique(labels)]
    return np.sort(np.concatenate(parts))


def seed_offset_from_environment() -> int:
    """The seed offset that ``FLATGAP_SEED_OFFSET`` names (0 when it is unset or empty).

    Raises:
        ValueError: when the variable holds anything but a non-negative integer.
    """
    import os

    text = os.environ.get("FLATGAP_SEED_OFFSET", "").strip()
    if not text:
        return 0
    if not text.isdigit():
        raise ValueError(f"FLATGAP_SEED_OFFSET must be a non-negative integer (for example 1000), got {text!r}")
    return int(text)


def validation_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train part, validation part) of a stratified split of ``labels`` (N,), both sorted."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    train_part, validation_part = train_test_split(index, test_size=fraction, stratify=labels, random_state=seed)
    return np.sort(train_part), np.sort(validation_part)


def _mean_val(tuning: list[dict], name: str, size, rate: float) -> float:
    return float(np.mean([t["val_accuracy"] for t in tuning if (t["model"], t["size"], t["learning_rate"]) == (name, size, rate)]))


def _same_data(a: np.ndarray, b: np.ndarray) -> bool:
    return np.shares_memory(a, b) or (a.shape == b.shape and np.array_equal(a, b))


@dataclass(frozen=True)
class Scores:
    """Per-seed scores computed after training, for :meth:`Experiment.primary`: one number per reporting seed.

    Attributes:
        name: what is scored, as the verdict names it (for example ``"gap at 12"``).
        values: (seeds,) the scores, in the protocol's seed order (each taken on that seed's
            :meth:`Protocol.test_resample`).
        models: the experiment's models the scores come from: a seed where any of them failed to train is left out
            of every comparison these scores enter. Empty for a rule that trains nothing (a baseline).

    Example:
        >>> Scores("gap at 12", np.array([0.9, 0.8, 0.85, 0.9, 0.88]), ("gap",)).models
        ('gap',)
    """

    name: str
    values: np.ndarray
    models: tuple[str, ...] = ()

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        values = np.asarray(self.values, dtype=float)
        if values.ndim != 1 or not np.all(np.isfinite(values)):
            raise ValueError(f"values of {self.name!r} must be one finite number per reporting seed, shape (seeds,), got shape {values.shape}")
        models = (self.models,) if isinstance(self.models, str) else tuple(self.models)
        if not all(isinstance(m, str) for m in models):
            raise ValueError(f"models of {self.name!r} must be model names, got {self.models!r}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "models", models)


@dataclass
class Experiment:
    """What :func:`run_experiment` returns: the final runs (one per model, size and seed) and the tuning behind them.

    Attributes:
        models: name -> the ``build_classifier`` arguments of that model.
        protocol: the :class:`Protocol` followed.
        sizes: the training-set sizes (``[None]``: the whole training split).
        runs: one record (a dict) per model, size and seed, at the chosen learning rate: ``model``, ``seed``,
            ``size``, ``learning_rate``, ``best_epoch``, ``epochs_run``, ``steps``, ``history``,
            ``train_accuracy``, ``val_accuracy``, ``test_accuracy``, ``gap`` (train minus test accuracy),
            ``params``, ``seconds``, ``weights``.
        tuning: the grid runs (the same fields but ``test_accuracy`` and ``gap``: the test split was not scored).
        choices: (model, size) -> the chosen learning rate.
        seconds: wall time of the whole experiment.
    """

    models: dict
    protocol: Protocol
    sizes: list
    runs: list = field(default_factory=list)
    tuning: list = field(default_factory=list)
    choices: dict = field(default_factory=dict)
    seconds: float = 0.0

    def select(self, key: str, **where) -> np.ndarray:
        """``run[key]`` of the final runs matching ``where`` (e.g. ``model="gap", size=100``), in seed order."""
        from flatgap.experiments.training import select

        return select(self.runs, key, **where)

    def paired(self, key: str, a: str, b: str, **where) -> np.ndarray:
        """Per seed, ``key`` of model ``a`` minus ``key`` of model ``b`` (same seed, same split): shape (seeds,)."""
        first, second = self.select(key, model=a, **where), self.select(key, model=b, **where)
        return first - second

    def failed(self, name: str, size=None) -> np.ndarray:
        """Per seed (seed order), whether the run of ``name`` failed to train (bool; all False when not judged)."""
        runs = [run for run in self.runs if run["model"] == name and run["size"] == size]
        if not runs:
            raise ValueError(f"no final run of model {name!r} with size {size}; models: {list(self.models)}")
        return np.array([bool(run.get("failed", False)) for run in runs])

    def primary(self, declared: Mapping[str, tuple], *, margin: float | None = None, alpha: float = 0.05) -> dict:
        """The chapter's declared primary comparisons, corrected together (Holm; t and sign-flip tests).

        Args:
            declared: label -> one of
                - ``(key, first, second)`` or ``(key, first, second, size)``: the paired difference of the runs'
                  ``key`` (``"test_accuracy"``, ...), model ``first`` minus model ``second``;
                - ``(first, second)``, two :class:`Scores`: scores computed after training, ``first`` minus
                  ``second``.
                A seed where a run the comparison rests on failed to train is left out of that comparison and counted.
            margin: the equivalence margin (same units as the scores), declared before the runs. alpha: family-wise.

        Returns:
            label -> :class:`flatgap.experiments.stats.Comparison`, in the order declared.
        """
        from flatgap.experiments.stats import family

        if not isinstance(declared, Mapping) or not declared:
            raise ValueError("declared must map at least one label to (key, first, second[, size]) or to two Scores")
        differences, failures, labels = {}, {}, {}
        for label, spec in declared.items():
            if isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(s, Scores) for s in spec):
                first, second = spec
                for scores in spec:
                    if scores.values.size != len(self.protocol.seeds):
                        raise ValueError(f"declared[{label!r}]: {scores.name!r} has {scores.values.size} scores; "
                                         f"the protocol has {len(self.protocol.seeds)} reporting seeds")
                dropped = np.zeros(len(self.protocol.seeds), dtype=bool)
                for name in self._known(label, (*first.models, *second.models)):
                    dropped |= self.failed(name)
                values, names = (first.values - second.values)[~dropped], (first.name, second.name)
            elif isinstance(spec, tuple) and len(spec) in (3, 4) and isinstance(spec[0], str):
                key, first, second, size = (*spec, None) if len(spec) == 3 else spec
                self._known(label, (first, second))
                dropped = self.failed(first, size) | self.failed(second, size)
                values, names = self.paired(key, first, second, size=size)[~dropped], (first, second)
            else:
                raise ValueError(f"declared[{label!r}] must be (key, first, second), (key, first, second, size) "
                                 f"or two Scores, got {spec!r}")
            if values.size < 2:
                raise ValueError(f"declared[{label!r}]: only {values.size} seed(s) left after {int(dropped.sum())} failed runs")
            triple = (*names, label)
            differences[triple], failures[triple], labels[triple] = values, int(dropped.sum()), label
        out = family(differences, alpha=alpha, margin=margin, failed=failures)
        return {labels[triple]: comparison for triple, comparison in out.items()}

    def _known(self, label: str, names: tuple) -> tuple:
        """``names``, once each is checked to be one of the experiment's models (for ``declared[label]``)."""
        for name in names:
            if name not in self.models:
                raise ValueError(f"declared[{label!r}] names model {name!r}; the experiment has {list(self.models)}")
        return names

    def model_of(self, name: str, seed: int, size=None):
        """The trained Keras model of one final run (its best epoch's weights)."""
        from flatgap.models.classifier import build_classifier

        run = self._run(name, seed, size)
        model = build_classifier(**self.models[name])
        model.set_weights(run["weights"])
        return model

    def _run(self, name: str, seed: int, size=None) -> dict:
        for run in self.runs:
            if run["model"] == name and run["seed"] == seed and run["size"] == size:
                return run
        raise ValueError(f"no final run of model {name!r} with seed {seed} and size {size}; models: {list(self.models)}")

    def tuning_table(self) -> str:
        """Mean validation accuracy (tuning seeds) of every model at every learning rate tried; * marks the choice."""
        from flatgap.experiments.stats import format_table

        rates = sorted({r["learning_rate"] for r in self.tuning})
        rows = []
        for (name, size), chosen in self.choices.items():
            cells = []
            for rate in rates:
                values = [r["val_accuracy"] for r in self.tuning if (r["model"], r["size"], r["learning_rate"]) == (name, size, rate)]
                cells.append(f"{np.mean(values):.3f}{'*' if rate == chosen else ' '}" if values else "—")
            rows.append(([name] if self.sizes == [None] else [name, size]) + cells)
        headers = (["model"] if self.sizes == [None] else ["model", "n"]) + [f"lr {r:g}" for r in rates]
        return format_table(headers, rows)


def run_experiment(
    models: Mapping[str, dict],
    train,
    test,
    protocol: Protocol = Protocol(),
    *,
    sizes: Sequence[int] | None = None,
    validation=None,
    workers: int | None = None,
    verbose: bool = True,
) -> Experiment:
    """Train and score every model under ``protocol``: the one runner of every comparison of heads.

    Args:
        models: name -> keyword arguments of :func:`flatgap.models.classifier.build_classifier` (with ``head``).
        train: (images (N, H, W, C), labels (N,)): the training data; each seed carves its validation split
            from it (stratified, ``protocol.validation_fraction``). Or a list of such pairs of different image
            sizes: each is split the same way, every epoch trains on all of them in turn (one size per batch) and
            the validation split is the union of theirs.
        test: (images, labels): scored once per final run, after every choice has been made.
        protocol: the :class:`Protocol`.
        sizes: optional training-set sizes: each seed draws a stratified subset of each size from its training
            part (the validation split stays the same), and the learning rate is chosen per model and size.
        validation: optional (images, labels) to use as the validation split of every seed instead of carving one;
            never the test split.
        workers: processes to spread the runs over (default :func:`flatgap.experiments.pool.default_workers`; 0: none).
        verbose: print one line per phase.

    Returns:
        An :class:`Experiment`.
    """
    from flatgap.data import stratified_subset
    from flatgap.experiments.pool import run_all
    from flatgap.experiments.runs import _images_labels, _parts
    from flatgap.experiments.training import accuracy_of, correct_of

    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must map at least one name to build_classifier arguments")
    for name, config in models.items():
        if not isinstance(config, Mapping) or "head" not in config:
            raise ValueError(f"models[{name!r}] must be a dict of build_classifier arguments with a 'head', got {config!r}")
    if not isinstance(protocol, Protocol):
        raise ValueError(f"protocol must be a Protocol, got {type(protocol).__name__}")
    train_parts = _parts("train", train)
    x_test, y_test = _images_labels("test", test)
    if validation is not None:
        x_val, y_val = _images_labels("validation", validation)
        if _same_data(x_val, x_test):
            raise ValueError("validation must not be the test split: every choice is made on validation, and the test "
                             "split is scored once per run, at the end")
    sizes_list = [None] if sizes is None else [positive_int("size", s) for s in sizes]
    if not sizes_list:
        raise ValueError("sizes must name at least one training-set size")
    if sizes is not None and len(train_parts) > 1:
        raise ValueError("sizes needs a single training set, not a list of parts")
    start = time.perf_counter()

    def data_of(seed: int, size):
        seed += protocol.seed_offset  # the randomness of replicate `seed` (records keep the label)
        if validation is not None:
            fit, held_out = list(train_parts), [(x_val, y_val)]
        else:
            fit, held_out = [], []
            for x, y in train_parts:
                train_index, val_index = validation_split(y, protocol.validation_fraction, seed)
                fit.append((x[train_index], y[train_index]))
                held_out.append((x[val_index], y[val_index]))
        if size is not None:
            fit = [stratified_subset(*fit[0], size, seed=seed)]
        return (fit if len(fit) > 1 else fit[0]), (held_out if len(held_out) > 1 else held_out[0])

    def task(name, seed, size, rate):
        part, held_out = data_of(seed, size)
        return {"config": dict(models[name]), "train": part, "validation": held_out, "seed": seed + protocol.seed_offset,
                "learning_rate": rate, "max_epochs": protocol.max_epochs, "patience": protocol.patience,
                "batch_size": protocol.batch_size, "min_epoch_steps": protocol.min_epoch_steps}

    def record(name, seed, size, rate, result):
        return {"model": name, "seed": seed, "size": size, "learning_rate": rate, **result}

    tuning_seeds = protocol.tuning_seed_values()
    reused = () if protocol.disjoint_tuning else protocol.seeds[: protocol.tuning_seeds]  # version 1 reports its tuning runs
    grids = {(name, size): list(protocol.learning_rates) for name in models for size in sizes_list}
    centre = float(np.exp(np.mean(np.log(protocol.learning_rates))))
    pending = [(name, size, rate) for (name, size), grid in grids.items() for rate in grid]
    tuning: list[dict] = []
    chosen: dict = {}
    finals: dict = {}
    queued: list = []  # reporting runs of models whose rate is settled: they fill the batch of the next extension round
    round_ = 0
    while pending or queued:
        keys = [(name, size, seed, rate) for name, size, rate in pending for seed in tuning_seeds]
        results = run_all([task(n, s, z, r) for n, z, s, r in keys] + [task(n, s, z, chosen[n, z]) for n, z, s in queued], workers)
        tuning += [record(n, s, z, r, out) for (n, z, s, r), out in zip(keys, results[: len(keys)], strict=True)]
        for (name, size, seed), out in zip(queued, results[len(keys) :], strict=True):
            finals[name, size, seed] = record(name, seed, size, chosen[name, size], out)
        tried, pending, queued = {(n, z) for n, z, _ in pending}, [], []
        for (name, size), grid in grids.items():
            if (name, size) not in tried:
                continue
            means = [_mean_val(tuning, name, size, rate) for rate in grid]
            best = int(np.argmax(means))
            rate = None
            # a best rate at the edge of the grid (not tied with another): one more step that way
            if round_ < protocol.extensions and means.count(means[best]) == 1 and len(grid) > 1:
                if best == len(grid) - 1:
                    rate = float(f"{grid[-1] * grid[-1] / grid[-2]:.3g}")
                    grid.append(rate)
                elif best == 0:
                    rate = float(f"{grid[0] * grid[0] / grid[1]:.3g}")
                    grid.insert(0, rate)
            if rate is not None:
                pending.append((name, size, rate))
                continue
            # settled: among rates tied for the best, the one nearest the middle of the grid (in log scale)
            tied = [r for r, mean in zip(grid, means, strict=True) if mean == max(means)]
            chosen[name, size] = min(tied, key=lambda r: abs(np.log(r / centre)))
            queued += [(name, size, seed) for seed in protocol.seeds if seed not in reused]
        round_ += 1
    tuned = time.perf_counter()
    experiment = Experiment(dict(models), protocol, sizes_list, tuning=tuning)
    for key in grids:
        experiment.choices[key] = chosen[key]
    finals.update({(t["model"], t["size"], t["seed"]): t for t in tuning
                   if t["seed"] in reused and t["learning_rate"] == chosen[t["model"], t["size"]]})
    built: dict = {}
    resamples = {seed: protocol.test_resample(y_test, seed) for seed in protocol.seeds} if protocol.resample_test else {}
    for name in models:
        for size in sizes_list:
            for seed in protocol.seeds:
                run = dict(finals[name, size, seed])
                if name not in built:
                    from flatgap.models.classifier import build_classifier

                    built[name] = build_classifier(**models[name])
                built[name].set_weights(run["weights"])
                if protocol.resample_test:
                    correct = correct_of(built[name], x_test, y_test)
                    run["test_accuracy_fixed"] = float(correct.mean())
                    run["test_accuracy"] = float(correct[resamples[seed]].mean())
                else:
                    run["test_accuracy"] = accuracy_of(built[name], x_test, y_test)
                run["gap"] = run["train_accuracy"] - run["test_accuracy"]
                if protocol.failure_accuracy is not None:
                    run["failed"] = bool(run["val_accuracy"] <= protocol.failure_accuracy)
                experiment.runs.append(run)
    experiment.seconds = time.perf_counter() - start
    if verbose:
        reporting = len(finals) - sum(t["seed"] in reused for t in tuning if t["learning_rate"] == chosen[t["model"], t["size"]])
        print(f"{len(tuning)} tuning runs and {reporting} more runs in {tuned - start:.1f} s (each model's reporting runs start "
              f"once its rate is chosen), the test scores in {experiment.seconds - (tuned - start):.1f} s")
    return experiment
