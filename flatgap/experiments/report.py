"""Tables of an experiment: what was compared, what each model reached, and the paired differences between them.

- :func:`models_table` — each model's head, body, receptive field and parameters (the first thing a reader checks),
  and whether the body covers the object wherever it lies (:func:`placements_covered`);
- :func:`results_table` — per model, the mean and spread over seeds of accuracy, gap, learning rate and epochs;
- :func:`underfit_flags` — the models of a results table that may be under-fit, with the reason (printed under it);
- :func:`comparisons` — paired differences between models, each with its 95% t interval and the verdict it
  supports (:func:`flatgap.experiments.stats.verdict`): exploratory, uncorrected;
- :func:`family_table` — the declared primary comparisons, Holm-corrected, with both tests and the three-way word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from flatgap._validate import positive_int
from flatgap.experiments.stats import Interval, format_table, interval, verdict


def placements_covered(rf: int, jump: int, object_size: int) -> float:
    """Share of an object's placements at which one unit of a map sees all of it.

    A unit of a map whose units see ``rf`` input pixels and sit ``jump`` pixels apart covers an object of side
    ``object_size`` at *every* placement only when ``rf >= object_size + jump - 1``; otherwise only the placements
    whose sub-``jump`` offset leaves room: ``rf - object_size + 1`` of every ``jump`` along each axis. The share is
    over the ``jump x jump`` offsets an object can have relative to the units' grid, in two dimensions.

    Example:
        >>> placements_covered(8, 2, 8)   # conv 3x3, 2x2 max pooling, conv 3x3: RF 8, jump 2, an 8 px digit
        0.25
        >>> placements_covered(9, 2, 8)   # RF >= S + J - 1: every placement
        1.0
    """
    rf, jump, object_size = (positive_int(name, value) for name, value in
                             (("rf", rf), ("jump", jump), ("object_size", object_size)))
    per_axis = min(max(rf - object_size + 1, 0), jump) / jump
    return float(per_axis**2)


def models_table(models: Mapping[str, dict], object_size: int | None = None) -> tuple[str, dict]:
    """A table of the models: head, body filters, pooling, receptive field (input pixels) and parameters.

    Args:
        models: name -> ``build_classifier`` arguments (as given to :func:`flatgap.experiments.protocol.run_experiment`).
        object_size: optional side of the object in pixels; adds the columns that say whether a unit of the last
            map covers it wherever it lies (RF >= S + J - 1, J the jump between the last map's units) and at what
            share of its placements (:func:`placements_covered`).

    Returns:
        ``(table, facts)``: the text table, and ``facts[name] = {"rf", "jump", "params", "dense_params"}`` (plus
        ``"covered"``, the share of placements, with ``object_size``).
    """
    from flatgap.models.classifier import build_classifier, receptive_field

    rows, facts = [], {}
    for name, config in models.items():
        model = build_classifier(**config)
        last = receptive_field(model)[-1]
        rf, jump = last["rf"], last["jump"]
        dense = sum(layer.count_params() for layer in model.layers if type(layer).__name__ == "Dense")
        facts[name] = {"rf": rf, "jump": jump, "params": int(model.count_params()), "dense_params": int(dense)}
        body = f"{tuple(config.get('filters', (16, 32)))}" + (f", pool every {config['pool_every']}" if config.get("pool_every") else "")
        row = [name, config["head"], body, rf, jump, f"{model.count_params():,}", f"{dense:,}"]
        if object_size is not None:
            covered = placements_covered(rf, jump, object_size)
            facts[name]["covered"] = covered
            row[5:5] = ["yes" if covered == 1 else "no", f"{covered:.0%}"]
        rows.append(row)
    headers = ["model", "head", "body filters", "receptive field (px)", "jump (px)", "parameters", "in Dense layers"]
    if object_size is not None:
        headers[5:5] = [f"covers {object_size} px anywhere", "placements covered"]
    return format_table(headers, rows), facts


def _cell(values, scale: float = 100, digits: int = 1) -> str:
    values = np.asarray(values, dtype=float) * scale
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def results_table(experiment, size=None, models: Sequence[str] | None = None) -> str:
    """Per model: train, validation and test accuracy and the train-test gap (% mean ± sd over seeds), lr, epochs."""
    rows = []
    for name in models or list(experiment.models):
        pick = {"model": name, "size": size}
        rows.append([
            name,
            f"{experiment.choices[name, size]:g}",
            f"{np.mean(experiment.select('best_epoch', **pick)):.0f}",
            _cell(experiment.select("train_accuracy", **pick)),
            _cell(experiment.select("val_accuracy", **pick)),
            _cell(experiment.select("test_accuracy", **pick)),
            _cell(experiment.select("gap", **pick)),
        ])
    table = format_table(["model", "lr", "best epoch (mean)", "train acc %", "val acc %", "test acc %", "gap (train - test) %"], rows)
    flags = underfit_flags(experiment, size, models)
    return table + "".join(f"\nflagged: {name}: {reason}" for name, reason in flags.items())


def underfit_flags(experiment, size=None, models: Sequence[str] | None = None, points: float = 10.0) -> dict[str, str]:
    """Models of a results table that may be under-fit, each with the reason: name -> reason.

    A model is flagged when its mean training accuracy lies ``points`` or more below the best model's in the same
    table, or when some of its runs were still improving at the epoch cap (best epoch within ``patience`` of
    ``max_epochs``). A flag is not a verdict: the chapter fixes the arm (rate, epochs, capacity) or reports the
    shortfall as a finding.
    """
    names = list(models or experiment.models)
    means = {name: float(np.mean(experiment.select("train_accuracy", model=name, size=size))) for name in names}
    best = max(means.values())
    flags = {}
    protocol = experiment.protocol
    for name in names:
        reasons = []
        if best - means[name] >= points / 100:
            reasons.append(f"training accuracy {100 * (best - means[name]):.1f} points below the best model's "
                           "(under-fit, or a finding the text explains)")
        capped = int(np.sum(experiment.select("best_epoch", model=name, size=size) > protocol.max_epochs - protocol.patience))
        if capped:
            count = len(experiment.select("best_epoch", model=name, size=size))
            reasons.append(f"{capped} of {count} runs still improving near the cap of {protocol.max_epochs} epochs")
        if "failed" in experiment.runs[0]:
            failed = int(experiment.failed(name, size).sum())
            if failed:
                reasons.append(f"{failed} run(s) failed to train (validation accuracy at most {protocol.failure_accuracy:.0%})")
        if reasons:
            flags[name] = "; ".join(reasons)
    return flags


def family_table(primary: Mapping, what: Mapping[str, str] | None = None) -> str:
    """The primary comparisons of :meth:`flatgap.experiments.protocol.Experiment.primary` as a table.

    One row per comparison: its label, first minus second (and ``what[label]``, the quantity), the Holm-corrected
    interval in points with its confidence, both corrected p-values, the seeds used and failed, and the word.
    """
    rows = []
    for label, c in primary.items():
        iv = c.interval
        rows.append([label, f"{c.first} - {c.second}" + (f" ({what[label]})" if what and label in what else ""),
                     f"{iv.mean * 100:+.1f}", f"[{iv.low * 100:+.1f}, {iv.high * 100:+.1f}]", f"{iv.confidence:.1%}",
                     f"{c.p_t:.3f}", f"{c.p_sign:.3f}", f"{iv.n}" + (f" ({c.failures} failed)" if c.failures else ""), c.word])
    return format_table(["", "first - second", "mean (points)", "Holm-corrected interval", "confidence", "p (t, Holm)",
                         "p (sign flip, Holm)", "seeds", "verdict"], rows)


def comparisons(experiment, pairs: Sequence[tuple[str, str]], key: str = "test_accuracy", size=None,
                what: str | None = None, higher: str = "beats") -> tuple[str, dict[tuple[str, str], Interval]]:
    """Paired differences ``first - second`` of ``key`` over seeds, with 95% t intervals and verdicts.

    ``higher`` as in :func:`flatgap.experiments.stats.verdict`: ``"beats"`` for accuracies, ``"larger"`` for the gap.

    Returns:
        ``(table, intervals)``: the text table (difference in points, interval, verdict) and the
        :class:`~flatgap.experiments.stats.Interval` of every pair.
    """
    what = what or key.replace("_", " ")
    rows, intervals = [], {}
    for first, second in pairs:
        iv = interval(experiment.paired(key, first, second, size=size))
        intervals[first, second] = iv
        rows.append([f"{first} - {second}", f"{iv.mean * 100:+.1f}", f"[{iv.low * 100:+.1f}, {iv.high * 100:+.1f}]",
                     verdict(iv, first, second, what, higher).split(":")[0]])
    return format_table(["paired difference (points)", "mean", "95% t interval", "verdict"], rows), intervals
