"""The protocol runner: three splits, the same tuning for every model, paired seeds, and the fast training loop."""

from __future__ import annotations

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow first)
from flatgap.data import make_canvases
from flatgap.experiments.protocol import Protocol, bootstrap_test_index, run_experiment, validation_split
from flatgap.experiments.report import family_table, models_table, placements_covered, results_table, underfit_flags
from flatgap.experiments.runs import train_run
from flatgap.experiments.stats import Interval, interval, verdict
from flatgap.experiments.training import correct_of

SHAPES = dict(input_shape=(12, 12, 1), num_classes=4, filters=(4,))
QUICK = Protocol(learning_rates=(1e-2, 3e-2), extensions=0, max_epochs=3, patience=1, batch_size=32)


def shapes(n, seed):
    data = make_canvases(n, 12, kind="shape", seed=seed)
    return data.images, data.labels


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seeds": (0, 1, 2, 3)}, "at least five distinct"),
        ({"seeds": (0, 1, 2, 3, 3)}, "at least five distinct"),
        ({"learning_rates": ()}, "learning_rates must be a non-empty"),
        ({"learning_rates": (1e-3, -1.0)}, "learning_rates must be a non-empty"),
        ({"tuning_seeds": 6}, "tuning_seeds must be between 1 and the number of seeds"),
        ({"validation_fraction": 0.7}, "validation_fraction must be a float strictly between 0 and 0.5"),
        ({"patience": 0}, "patience must be a positive integer"),
    ],
)
def test_protocol_rejects_what_the_protocol_forbids(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Protocol(**kwargs)


def test_protocol_describes_itself():
    text = Protocol().describe()
    assert "5 (0, 1, 2, 3, 4)" in text and "{0.001, 0.003, 0.01}" in text and "20%" in text


def test_seed_offset_comes_from_the_environment_and_is_checked(monkeypatch):
    monkeypatch.delenv("FLATGAP_SEED_OFFSET", raising=False)
    assert Protocol().seed_offset == 0 and "second draw" not in Protocol().describe()
    monkeypatch.setenv("FLATGAP_SEED_OFFSET", "1000")
    assert Protocol().seed_offset == 1000 and "offset by 1000" in Protocol().describe()
    assert Protocol(seed_offset=7).seed_offset == 7, "an explicit offset wins over the environment"
    for bad in ("-3", "1e3", "two"):
        monkeypatch.setenv("FLATGAP_SEED_OFFSET", bad)
        with pytest.raises(ValueError, match="FLATGAP_SEED_OFFSET must be a non-negative integer"):
            Protocol()
    with pytest.raises(ValueError, match="seed_offset must be a non-negative integer"):
        Protocol(seed_offset=-1)


def test_a_seed_offset_is_a_fresh_draw_under_the_same_labels():
    train, test = shapes(80, 4), shapes(40, 5)
    models = {"gap": dict(head="gap", **SHAPES)}
    quick = Protocol(learning_rates=(1e-2,), extensions=0, max_epochs=2, patience=1, batch_size=32, seed_offset=0)
    base = run_experiment(models, train, test, quick, workers=0, verbose=False)
    again = run_experiment(models, train, test, Protocol(**{**quick.__dict__, "seed_offset": 0}), workers=0, verbose=False)
    shifted = run_experiment(models, train, test, Protocol(**{**quick.__dict__, "seed_offset": 1000}), workers=0, verbose=False)
    assert [r["seed"] for r in shifted.runs] == [r["seed"] for r in base.runs] == list(quick.seeds)
    weights = lambda e: [np.concatenate([w.ravel() for w in r["weights"]]) for r in e.runs]  # noqa: E731
    assert all(np.array_equal(a, b) for a, b in zip(weights(base), weights(again), strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(weights(base), weights(shifted), strict=True)), \
        "every replicate draws new randomness under an offset"


def test_validation_split_is_stratified_disjoint_and_seeded():
    labels = np.repeat(np.arange(5), 20)
    train, held_out = validation_split(labels, 0.2, seed=3)
    assert len(held_out) == 20 and np.bincount(labels[held_out]).tolist() == [4] * 5
    assert not set(train) & set(held_out) and len(train) + len(held_out) == 100
    assert np.array_equal(held_out, validation_split(labels, 0.2, seed=3)[1])
    assert not np.array_equal(held_out, validation_split(labels, 0.2, seed=4)[1])


def test_train_run_stops_early_and_keeps_the_best_epoch():
    x, y = shapes(64, 1)
    cache = {}
    out = train_run(dict(head="gap", **SHAPES), (x[:48], y[:48]), (x[48:], y[48:]), seed=0, learning_rate=3e-2,
                    max_epochs=30, patience=2, batch_size=16, cache=cache)
    history = out["history"]
    assert out["epochs_run"] == len(history["val_accuracy"]) <= 30
    assert out["val_accuracy"] == max(history["val_accuracy"]) == history["val_accuracy"][out["best_epoch"] - 1]
    assert out["epochs_run"] == 30 or out["epochs_run"] - out["best_epoch"] == 2
    again = train_run(dict(head="gap", **SHAPES), (x[:48], y[:48]), (x[48:], y[48:]), seed=0, learning_rate=3e-2,
                      max_epochs=30, patience=2, batch_size=16, cache={})
    assert again["history"] == history, "a reused traced model gives exactly what a new one gives"
    assert all(np.array_equal(a, b) for a, b in zip(again["weights"], out["weights"], strict=True))


def test_train_run_on_parts_of_different_sizes_and_repeated_small_sets():
    small, large = make_canvases(20, 12, kind="shape", seed=2), make_canvases(20, 16, kind="shape", seed=3)
    config = dict(head="gap", input_shape=(None, None, 1), num_classes=4, filters=(4,))
    out = train_run(config, [(small.images, small.labels), (large.images, large.labels)], (small.images, small.labels),
                    seed=1, learning_rate=1e-2, max_epochs=2, patience=2, batch_size=8, min_epoch_steps=10)
    # 40 images repeated to >= 10 steps of 8 (two copies), in batches of one size: (3 + 3) * 2 steps per epoch
    assert out["steps"] == out["best_epoch"] * 12
    with pytest.raises(ValueError, match="config must be a dict of build_classifier arguments"):
        train_run({"filters": (4,)}, (small.images, small.labels), (small.images, small.labels), seed=0,
                  learning_rate=1e-2, max_epochs=1, patience=1)
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        train_run(config, (small.images, small.labels), (small.images, small.labels), seed=0, learning_rate=0,
                  max_epochs=1, patience=1)


def test_run_experiment_tunes_every_model_alike_pairs_seeds_and_is_repeatable():
    train, test = shapes(80, 4), shapes(40, 5)
    models = {"flatten": dict(head="flatten", **SHAPES), "gap": dict(head="gap", **SHAPES)}
    first = run_experiment(models, train, test, QUICK, workers=2, verbose=False)
    assert [(r["model"], r["seed"]) for r in first.runs] == [(m, s) for m in models for s in QUICK.seeds]
    assert len(first.tuning) == len(models) * QUICK.tuning_seeds * len(QUICK.learning_rates)
    assert all("test_accuracy" not in r for r in first.tuning), "tuning runs never meet the test split"
    for name in models:
        chosen = first.choices[name, None]
        assert set(first.select("learning_rate", model=name)) == {chosen}
        means = [np.mean([r["val_accuracy"] for r in first.tuning if (r["model"], r["learning_rate"]) == (name, rate)])
                 for rate in QUICK.learning_rates]
        tied = [rate for rate, mean in zip(QUICK.learning_rates, means, strict=True) if mean == max(means)]
        assert chosen in tied
    assert first.paired("test_accuracy", "flatten", "gap").shape == (5,)
    assert "lr 0.01" in first.tuning_table() and first.tuning_table().count("*") == 2
    model = first.model_of("gap", 3)
    assert model.count_params() == first.select("params", model="gap", seed=3)[0]
    second = run_experiment(models, train, test, QUICK, workers=2, verbose=False)
    assert [r["test_accuracy"] for r in second.runs] == [r["test_accuracy"] for r in first.runs]


def test_a_best_rate_at_the_edge_of_the_grid_adds_the_next_rate_beyond_it():
    train, test = shapes(80, 4), shapes(40, 5)
    models = {"flatten": dict(head="flatten", **SHAPES), "gap": dict(head="gap", **SHAPES)}
    protocol = Protocol(learning_rates=(1e-3, 1e-2), extensions=1, max_epochs=3, patience=1, batch_size=32)
    experiment = run_experiment(models, train, test, protocol, workers=0, verbose=False)
    for name in models:
        tried = sorted({r["learning_rate"] for r in experiment.tuning if r["model"] == name})
        means = {rate: np.mean([r["val_accuracy"] for r in experiment.tuning if (r["model"], r["learning_rate"]) == (name, rate)])
                 for rate in (1e-3, 1e-2)}
        best = max(means, key=means.get)
        if means[1e-3] == means[1e-2]:  # a tie for the best: no extension
            assert tried == [1e-3, 1e-2], (name, tried, means)
        else:
            assert tried == sorted({1e-3, 1e-2, 1e-4 if best == 1e-3 else 0.1}), (name, tried, means)
        assert experiment.choices[name, None] in tried


def test_run_experiment_on_subsets_and_its_refusals():
    train, test = shapes(120, 6), shapes(40, 7)
    models = {"gap": dict(head="gap", **SHAPES)}
    sweep = run_experiment(models, train, test, QUICK, sizes=[8, 16], workers=0, verbose=False)
    assert sweep.select("size", model="gap").tolist() == [8] * 5 + [16] * 5
    assert set(sweep.choices) == {("gap", 8), ("gap", 16)}
    with pytest.raises(ValueError, match="validation must not be the test split"):
        run_experiment(models, train, test, QUICK, validation=test, workers=0, verbose=False)
    with pytest.raises(ValueError, match="validation must not be the test split"):
        run_experiment(models, train, test, QUICK, validation=(test[0].copy(), test[1]), workers=0, verbose=False)
    with pytest.raises(ValueError, match="models\\['x'\\] must be a dict of build_classifier arguments"):
        run_experiment({"x": {"filters": (4,)}}, train, test, QUICK, workers=0, verbose=False)
    with pytest.raises(ValueError, match="no final run of model 'gap' with seed 9"):
        sweep.model_of("gap", 9, size=8)


def test_interval_and_verdict_say_no_more_than_the_seeds_support():
    iv = interval([0.010, 0.012, 0.011, 0.009, 0.013])
    assert iv.low > 0 and iv.excludes_zero and iv.n == 5
    assert verdict(iv, "A", "B").startswith("A beats B on test accuracy: +1.1 points")
    wide = interval([0.03, -0.02, 0.01, 0.00, -0.01])
    assert not wide.excludes_zero and verdict(wide, "A", "B").startswith("inconclusive at this scale on test accuracy")
    assert verdict(Interval(-0.02, -0.03, -0.01, 5), "A", "B").startswith("B beats A on test accuracy: +2.0 points")
    # the t interval of 5 seeds is wider than mean +- 2 standard errors (t with 4 degrees of freedom is 2.78)
    values = np.array([0.0, 0.01, 0.02, 0.03, 0.04])
    assert interval(values).high - values.mean() == pytest.approx(2.776 * values.std(ddof=1) / np.sqrt(5), rel=1e-3)
    with pytest.raises(ValueError, match="at least two finite numbers"):
        interval([0.1])


@pytest.mark.parametrize(
    "rf, jump, size, share",
    [(8, 1, 8, 1.0), (8, 2, 8, 0.25), (9, 2, 8, 1.0), (10, 4, 8, 0.5625), (7, 2, 8, 0.0), (18, 4, 8, 1.0), (5, 1, 8, 0.0)],
)
def test_placements_covered_follows_the_rule_rf_at_least_s_plus_j_minus_1(rf, jump, size, share):
    assert placements_covered(rf, jump, size) == share
    assert (placements_covered(rf, jump, size) == 1.0) == (rf >= size + jump - 1)


def test_placements_covered_counts_real_windows():
    """Brute force in one dimension: windows of rf pixels starting every jump pixels; an object of size pixels at
    each offset within one period; the share that fits in some window, squared for two axes."""
    for rf in range(1, 14):
        for jump in (1, 2, 4):
            for size in (1, 3, 8):
                starts = range(-3 * jump, 40, jump)
                fits = [any(s <= o and o + size <= s + rf for s in starts) for o in range(10, 10 + jump)]
                assert placements_covered(rf, jump, size) == pytest.approx((sum(fits) / jump) ** 2)
    with pytest.raises(ValueError, match="jump must be a positive integer"):
        placements_covered(8, 0, 8)


def test_models_table_says_which_bodies_cover_the_object():
    pooled = dict(head="gap", input_shape=(12, 12, 1), num_classes=10, filters=(4, 8), pool_every=1)
    deeper = dict(pooled, filters=(4, 8, 8))
    table, facts = models_table({"pooled": pooled, "deeper": deeper}, object_size=8)
    assert (facts["pooled"]["rf"], facts["pooled"]["jump"], facts["pooled"]["covered"]) == (8, 2, 0.25)
    assert facts["deeper"]["covered"] == 1.0 and facts["deeper"]["rf"] >= 8 + facts["deeper"]["jump"] - 1
    assert "covers 8 px anywhere" in table and "25%" in table and "100%" in table
    assert "covered" not in models_table({"pooled": pooled})[1]["pooled"]


# --- protocol version 2: disjoint tuning replicates, the test split resampled per seed, failures counted ---


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"disjoint_tuning": 1}, "disjoint_tuning must be True or False"),
        ({"resample_test": "yes"}, "resample_test must be True or False"),
        ({"failure_accuracy": 1.0}, r"failure_accuracy must be a number in \[0, 1\)"),
        ({"failure_accuracy": True}, r"failure_accuracy must be a number in \[0, 1\)"),
        ({"disjoint_tuning": True, "seeds": (0, 1, 2, 3, 10_000)}, "reporting seeds must be below 10000"),
    ],
)
def test_version2_settings_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Protocol(**kwargs)
    with pytest.raises(ValueError, match="not seeds"):
        Protocol.version2(seeds=(0, 1, 2, 3, 4))


def test_version2_describes_disjoint_replicates_resampling_and_failures():
    v2 = Protocol.version2(10, seed_offset=0)
    text = v2.describe()
    assert v2.version == 2 and Protocol().version == 1
    assert "protocol version 2: 10 fresh reporting replicates (0–9)" in text
    assert "searched on 2 tuning replicates of their own, never reported" in text
    assert "bootstrap resample of the test split" in text and "at most 20% did not train" in text
    assert v2.tuning_seed_values() == (10_000, 10_001) and Protocol().tuning_seed_values() == (0, 1)


def test_bootstrap_test_index_is_stratified_seeded_and_resamples():
    labels = np.repeat(np.arange(4), 25)
    index = bootstrap_test_index(labels, seed=5)
    assert np.bincount(labels[index]).tolist() == [25] * 4, "each class keeps its count"
    assert np.array_equal(index, bootstrap_test_index(labels, seed=5))
    assert not np.array_equal(index, bootstrap_test_index(labels, seed=6))
    assert len(np.unique(index)) < len(labels), "drawn with replacement"


def test_version2_reports_only_fresh_replicates_on_per_seed_test_resamples():
    train, test = shapes(80, 4), shapes(40, 5)
    models = {"gap": dict(head="gap", **SHAPES), "flatten": dict(head="flatten", **SHAPES)}
    v2 = Protocol.version2(5, classes=4, learning_rates=(1e-2, 3e-2), extensions=0, max_epochs=2, patience=1,
                           batch_size=32, seed_offset=0)
    experiment = run_experiment(models, train, test, v2, workers=0, verbose=False)
    assert {r["seed"] for r in experiment.tuning} == {10_000, 10_001}
    assert [r["seed"] for r in experiment.runs if r["model"] == "gap"] == [0, 1, 2, 3, 4]
    reported = {tuple(np.concatenate([w.ravel() for w in r["weights"]])[:8]) for r in experiment.runs}
    tuned = {tuple(np.concatenate([w.ravel() for w in r["weights"]])[:8]) for r in experiment.tuning}
    assert not reported & tuned, "no reported run is a tuning run"
    for run in experiment.runs:
        model = experiment.model_of(run["model"], run["seed"])
        correct = correct_of(model, *test)
        assert run["test_accuracy_fixed"] == pytest.approx(correct.mean())
        index = bootstrap_test_index(test[1], run["seed"])
        assert run["test_accuracy"] == pytest.approx(correct[index].mean()), "scored on the seed's own resample"
        assert run["gap"] == pytest.approx(run["train_accuracy"] - run["test_accuracy"])
        assert run["failed"] == (run["val_accuracy"] <= 0.5)
    v1 = run_experiment(models, train, test, Protocol(**{**v2.__dict__, "disjoint_tuning": False, "resample_test": False,
                                                          "failure_accuracy": None}), workers=0, verbose=False)
    assert {r["seed"] for r in v1.tuning} == {0, 1} and "test_accuracy_fixed" not in v1.runs[0] and "failed" not in v1.runs[0]


def _experiment_with(values: dict, failed: dict | None = None, train: dict | None = None, best_epoch: int = 3):
    """An Experiment whose final runs carry the given per-seed test accuracies (no training)."""
    from flatgap.experiments.protocol import Experiment

    protocol = Protocol(seeds=tuple(range(len(next(iter(values.values()))))), max_epochs=10, patience=2,
                        failure_accuracy=0.2, seed_offset=0)
    experiment = Experiment({name: {"head": "gap"} for name in values}, protocol, [None])
    for name, accuracies in values.items():
        for seed, accuracy in enumerate(accuracies):
            experiment.runs.append({"model": name, "seed": seed, "size": None, "test_accuracy": accuracy,
                                    "train_accuracy": (train or {}).get(name, 1.0), "val_accuracy": accuracy,
                                    "gap": 0.0, "best_epoch": best_epoch, "learning_rate": 1e-3,
                                    "failed": bool((failed or {}).get(name, [False] * 99)[seed])})
            experiment.choices[name, None] = 1e-3
    return experiment


def test_primary_corrects_the_family_and_leaves_failed_seeds_out():
    rng = np.random.default_rng(0)
    base = 0.9 + rng.normal(0, 0.01, 10)
    experiment = _experiment_with({"a": base + 0.05, "b": base, "c": base + rng.normal(0, 0.002, 10)},
                                  failed={"c": [True] + [False] * 9})
    out = experiment.primary({"P1": ("test_accuracy", "a", "b"), "P2": ("test_accuracy", "c", "b")}, margin=0.02)
    assert list(out) == ["P1", "P2"]
    assert out["P1"].word == "beats" and out["P1"].interval.n == 10 and out["P1"].failures == 0
    assert out["P2"].word == "equivalent" and out["P2"].interval.n == 9 and out["P2"].failures == 1
    assert out["P1"].interval.confidence > 0.95, "Holm: the first-ranked comparison at 1 - alpha / m"
    table = family_table(out, {"P1": "test accuracy"})
    assert "P1" in table and "(1 failed)" in table and "beats" in table and "equivalent" in table
    with pytest.raises(ValueError, match="names model 'z'"):
        experiment.primary({"P": ("test_accuracy", "a", "z")})
    with pytest.raises(ValueError, match=r"must be \(key, first, second\)"):
        experiment.primary({"P": ("a", "b")})


def test_primary_takes_scores_computed_after_training_and_drops_only_their_models_failed_seeds():
    from flatgap.experiments.protocol import Scores

    rng = np.random.default_rng(1)
    experiment = _experiment_with({"a": [0.9] * 10, "b": [0.8] * 10}, failed={"b": [False, True] + [False] * 8})
    shifted_a = Scores("a, shifted", 0.7 + rng.normal(0, 0.01, 10), ("a",))
    shifted_b = Scores("b, shifted", 0.6 + rng.normal(0, 0.01, 10), "b")
    baseline = Scores("the brightest pixel", 0.7 + rng.normal(0, 0.005, 10))
    out = experiment.primary({"S1": (shifted_a, shifted_b), "S2": (shifted_a, baseline), "P": ("test_accuracy", "a", "b")},
                             margin=0.03)
    assert (out["S1"].first, out["S1"].second) == ("a, shifted", "b, shifted") and shifted_b.models == ("b",)
    assert out["S1"].word == "beats" and out["S1"].failures == 1 and out["S1"].interval.n == 9
    assert out["S2"].word == "equivalent" and out["S2"].failures == 0 and out["S2"].interval.n == 10, "no model of b"
    with pytest.raises(ValueError, match="has 5 scores; the protocol has 10"):
        experiment.primary({"S": (shifted_a, Scores("short", np.ones(5)))})
    with pytest.raises(ValueError, match="names model 'z'"):
        experiment.primary({"S": (shifted_a, Scores("z's", np.ones(10), ("z",)))})
    with pytest.raises(ValueError, match="one finite number per reporting seed"):
        Scores("bad", np.ones((2, 5)))


def test_test_resample_is_the_runners_and_refuses_version_1_and_unknown_seeds():
    labels = np.repeat(np.arange(3), 7)
    v2 = Protocol.version2(10, seed_offset=1000)
    assert np.array_equal(v2.test_resample(labels, 4), bootstrap_test_index(labels, 1004))
    with pytest.raises(ValueError, match="not one of the reporting seeds"):
        v2.test_resample(labels, 10)
    with pytest.raises(ValueError, match="version 1"):
        Protocol(seed_offset=0).test_resample(labels, 0)


def test_underfit_flags_name_the_reason():
    experiment = _experiment_with({"a": [0.9] * 5, "b": [0.8] * 5}, train={"a": 0.99, "b": 0.85}, best_epoch=9)
    flags = underfit_flags(experiment)
    assert "training accuracy 14.0 points below the best model's" in flags["b"] and "a" in flags
    assert "5 of 5 runs still improving near the cap of 10 epochs" in flags["a"]
    assert "flagged: b: training accuracy" in results_table(experiment)
    quiet = _experiment_with({"a": [0.9] * 5, "b": [0.8] * 5}, train={"a": 0.99, "b": 0.95})
    assert underfit_flags(quiet) == {} and "flagged" not in results_table(quiet)


def test_the_runs_are_scheduled_one_per_job_costliest_first():
    from flatgap.experiments.pool import _jobs

    def task(head, n, side=8, min_epoch_steps=0):
        images = np.zeros((n, side, side, 1), np.float32)
        return {"config": {"head": head, "input_shape": (side, side, 1)}, "train": (images, np.zeros(n, int)),
                "batch_size": 64, "min_epoch_steps": min_epoch_steps}

    tasks = [task("gap", 50), task("flatten", 400), task("gap", 400), task("flatten", 50, min_epoch_steps=8),
             task("gap", 100, side=16), task("flatten", 400)]
    jobs = _jobs(tasks, workers=2)
    assert all(len(job) == 1 for job in jobs) and sorted(i for job in jobs for i in job) == list(range(len(tasks)))
    # 100 images of 16x16 cost as much as 400 of 8x8; 50 images repeated to 8 batches of 64 cost 512 images
    assert [job[0] for job in jobs] == [3, 2, 1, 5, 4, 0]  # equal costs: the runs of one model together


def test_version2_takes_a_declared_failure_threshold_or_none():
    assert Protocol.version2(10, seed_offset=0).failure_accuracy == 0.2
    assert Protocol.version2(10, seed_offset=0, classes=4).failure_accuracy == 0.5
    assert Protocol.version2(10, seed_offset=0, failure_accuracy=0.5).failure_accuracy == 0.5
    assert Protocol.version2(10, seed_offset=0, failure_accuracy=None).failure_accuracy is None
    with pytest.raises(ValueError, match="failure_accuracy must be a number"):
        Protocol.version2(10, seed_offset=0, failure_accuracy=1.5)
