"""Part III's machinery: the protocol every comparison of heads follows, the runs, the numbers over seeds.

- :mod:`flatgap.experiments.protocol` — the protocol: validation splits, tuning, early stopping, paired seeds, and
  :func:`run_experiment`, the one runner that carries it out;
- :mod:`flatgap.experiments.runs` — one training run, fast;
- :mod:`flatgap.experiments.store` — each run once per build: finished runs kept under a hash of all that decides them;
- :mod:`flatgap.experiments.pool` — the worker processes that train runs side by side (``from flatgap.experiments
  import pool``);
- :mod:`flatgap.experiments.training` — compiling and fitting, the untuned runner of the demonstrations;
- :mod:`flatgap.experiments.stats` — numbers over seeds, intervals and verdicts, tables;
- :mod:`flatgap.experiments.report` — an experiment's tables: models, results, paired comparisons;
- :mod:`flatgap.experiments.sizes` — feeding a model other input sizes: resizing, padding, grouping by size;
- :mod:`flatgap.experiments.shift` — translation, measured: shifted images and how the outputs change.
"""

from flatgap.experiments.protocol import (
    Experiment,
    Protocol,
    Scores,
    bootstrap_test_index,
    run_experiment,
    validation_split,
)
from flatgap.experiments.report import (
    comparisons,
    family_table,
    models_table,
    placements_covered,
    results_table,
    underfit_flags,
)
from flatgap.experiments.runs import train_run
from flatgap.experiments.shift import (
    free_shift,
    shift_consistency,
    shift_images,
    shift_robustness,
    shift_scores,
    shifted_predictions,
)
from flatgap.experiments.sizes import group_by_size, pad_to, predict_by_size, predict_direct, resize_images
from flatgap.experiments.stats import (
    Comparison,
    Interval,
    curve_band,
    family,
    format_table,
    interval,
    mean_spread,
    sign_flip_p,
    verdict,
)
from flatgap.experiments.training import (
    accuracy_of,
    compile_classifier,
    correct_of,
    fit_quietly,
    fresh_model,
    repeat_to_length,
    select,
    train_heads,
)

__all__ = [
    "Experiment", "Protocol", "Scores", "run_experiment", "bootstrap_test_index", "validation_split",
    "comparisons", "family_table", "models_table", "placements_covered", "results_table", "underfit_flags",
    "train_run",
    "free_shift", "shift_consistency", "shift_images", "shift_robustness", "shift_scores", "shifted_predictions",
    "group_by_size", "pad_to", "predict_by_size", "predict_direct", "resize_images",
    "Comparison", "Interval", "curve_band", "family", "format_table", "interval", "mean_spread", "sign_flip_p", "verdict",
    "accuracy_of", "compile_classifier", "correct_of", "fit_quietly", "fresh_model", "repeat_to_length", "select", "train_heads",
]
