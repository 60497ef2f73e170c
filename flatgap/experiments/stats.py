"""Numbers over seeds, and tables: what every experiment chapter reports.

- :func:`mean_spread` — mean, standard deviation, minimum and maximum of a list of numbers;
- :func:`curve_band` — the mean and the min-max band over seeds of one per-epoch curve;
- :func:`format_table` — a small aligned text table (no pandas needed);
- :func:`interval` — the mean of paired differences over seeds and its 95% t interval;
- :func:`verdict` — "A beats B" only when that interval excludes zero, else "inconclusive at this scale" (with the
  interval's width): never "no difference";
- :func:`sign_flip_p` — the exact sign-flip (paired permutation) test beside the t interval;
- :func:`holm` — Holm's step-down adjustment of a family of p-values;
- :func:`family` — a chapter's declared primary comparisons, corrected together: for each, the interval at the
  confidence Holm's procedure gives its rank, both tests, and the three-way word ("beats", "equivalent within ±m",
  "inconclusive at this scale").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def mean_spread(values) -> dict[str, float]:
    """Mean, standard deviation, minimum and maximum of a 1-D sequence of numbers."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence of numbers, got shape {array.shape}")
    return {"mean": float(array.mean()), "std": float(array.std()), "min": float(array.min()), "max": float(array.max())}


def curve_band(runs: Sequence[dict], head: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, minimum and maximum over seeds of one per-epoch curve of one head.

    Args:
        runs: run records of :func:`flatgap.experiments.training.train_heads` (each with a ``"history"``).
        head: which head. key: a history key such as ``"accuracy"`` or ``"val_accuracy"``.

    Returns:
        ``(mean, low, high)``, each (epochs,).
    """
    curves = [run["history"][key] for run in runs if run["head"] == head and key in run.get("history", {})]
    if not curves:
        heads = sorted({run["head"] for run in runs})
        raise ValueError(f"no run of head {head!r} has a {key!r} curve; heads present: {heads}")
    array = np.asarray(curves, dtype=float)
    return array.mean(axis=0), array.min(axis=0), array.max(axis=0)


def format_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """An aligned plain-text table: the first column left-aligned, the others right-aligned.

    Args:
        headers: one title per column.
        rows: sequences of the same length as ``headers``; cells are turned into strings.

    Returns:
        The table as one string (header, a rule, then one line per row).

    Example:
        >>> print(format_table(["head", "acc"], [["gap", "0.95"], ["flatten", "0.97"]]))
        head      acc
        -------  ----
        gap      0.95
        flatten  0.97
    """
    if not headers:
        raise ValueError("headers must name at least one column")
    cells = [[str(h) for h in headers]]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"every row must have {len(headers)} cells, got {len(row)}: {row!r}")
        cells.append([str(c) for c in row])
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


@dataclass(frozen=True)
class Interval:
    """The mean of ``n`` paired differences and its two-sided t interval: ``low <= mean <= high``."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def text(self, scale: float = 100, unit: str = "points") -> str:
        """``"+2.1 points [0.4, 3.8]"`` (values times ``scale``)."""
        return f"{self.mean * scale:+.1f} {unit} [{self.low * scale:+.1f}, {self.high * scale:+.1f}]"


def interval(differences, confidence: float = 0.95) -> Interval:
    """Mean and t interval of paired differences (one per seed), with ``n - 1`` degrees of freedom.

    Args:
        differences: (n,) numbers, n >= 2, e.g. ``experiment.paired("test_accuracy", "flatten", "gap")``.
        confidence: coverage of the interval, strictly between 0 and 1.

    Returns:
        An :class:`Interval`.

    Example:
        >>> iv = interval([0.02, 0.03, 0.01, 0.02, 0.02])
        >>> round(iv.mean, 3), iv.excludes_zero
        (0.02, True)
    """
    from scipy import stats

    values = np.asarray(differences, dtype=float)
    if values.ndim != 1 or values.size < 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"differences must be a 1-D sequence of at least two finite numbers, got shape {values.shape}")
    if not isinstance(confidence, float) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a float strictly between 0 and 1, got {confidence!r}")
    mean = float(values.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))
    return Interval(mean, mean - half, mean + half, int(values.size), confidence)


def verdict(iv: Interval, first: str, second: str, what: str = "test accuracy", higher: str = "beats") -> str:
    """The sentence an interval of ``first`` minus ``second`` supports, at the strength it supports.

    Args:
        iv: the :class:`Interval` of the paired differences ``first - second``.
        first, second: the names of the two models. what: the quantity compared.
        higher: ``"beats"`` (a higher value is better: accuracy) or ``"larger"`` (say which is larger: a gap).

    Example:
        >>> verdict(Interval(0.02, 0.01, 0.03, 5), "Flatten", "GAP")
        'Flatten beats GAP on test accuracy: +2.0 points [+1.0, +3.0]'
        >>> verdict(Interval(-0.02, -0.03, -0.01, 5), "Flatten", "GAP", "gap", higher="larger")
        'GAP has the larger gap: +2.0 points [+1.0, +3.0]'
        >>> verdict(Interval(0.01, -0.01, 0.03, 5), "Flatten", "GAP")
        'inconclusive at this scale on test accuracy: Flatten minus GAP +1.0 points [-1.0, +3.0], an interval 4.0 points wide'
    """
    if higher not in ("beats", "larger"):
        raise ValueError(f"higher must be 'beats' or 'larger', got {higher!r}")
    if iv.excludes_zero:
        winner, loser, shown = (first, second, iv) if iv.low > 0 else (second, first, Interval(-iv.mean, -iv.high, -iv.low, iv.n, iv.confidence))
        claim = f"{winner} beats {loser} on {what}" if higher == "beats" else f"{winner} has the larger {what}"
        return f"{claim}: {shown.text()}"
    return (f"inconclusive at this scale on {what}: {first} minus {second} {iv.text()}, "
            f"an interval {(iv.high - iv.low) * 100:.1f} points wide")


def sign_flip_p(differences, *, draws: int = 100_000, seed: int = 0) -> float:
    """Two-sided p-value of the sign-flip test of paired differences (H0: each difference is as likely +d as -d).

    The statistic is the absolute mean. Every one of the ``2**n`` sign patterns is enumerated when ``n <= 16``
    (exact); beyond that, ``draws`` random patterns are used (with the observed one counted, so p > 0). With
    ``n`` differences the smallest possible p is ``2 / 2**n``: 0.0625 for five seeds, 0.002 for ten.

    Example:
        >>> sign_flip_p([0.02, 0.03, 0.01, 0.02, 0.02])
        0.0625
        >>> sign_flip_p([0.02, -0.03, 0.01, -0.02, 0.02]) > 0.5
        True
    """
    values = np.asarray(differences, dtype=float)
    if values.ndim != 1 or values.size < 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"differences must be a 1-D sequence of at least two finite numbers, got shape {values.shape}")
    observed = abs(values.mean())
    if values.size <= 16:
        signs = 1 - 2 * ((np.arange(2**values.size)[:, None] >> np.arange(values.size)) & 1)
        means = np.abs(signs @ values) / values.size
        return float(np.mean(means >= observed - 1e-12))
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(draws, values.size))
    means = np.abs(signs @ values) / values.size
    return float((np.sum(means >= observed - 1e-12) + 1) / (draws + 1))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values of a family (same order as given); reject where adjusted p < alpha.

    Example:
        >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p_values must be a non-empty 1-D sequence of numbers in [0, 1], got {p_values!r}")
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((p.size - np.arange(p.size)) * p[order]))
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


@dataclass(frozen=True)
class Comparison:
    """One primary comparison ``first - second`` of a corrected family (see :func:`family`).

    Attributes:
        interval: the t interval at ``1 - alpha / (m - rank)``, the confidence Holm's procedure uses for this
            comparison's rank among the family's m t-test p-values (rank 0: the smallest).
        p_t, p_sign: the two-sided p-values of the t test and of the exact sign-flip test, Holm-adjusted.
        word: ``"beats"`` (both adjusted p-values below alpha, and the interval excludes zero), ``"equivalent"``
            (the interval lies inside ``[-margin, +margin]``) or ``"inconclusive"``.
        failures: runs left out of the differences because a run failed to train (counted, never averaged in).
    """

    first: str
    second: str
    interval: Interval
    p_t: float
    p_sign: float
    word: str
    margin: float | None
    failures: int = 0

    def sentence(self, what: str = "test accuracy", scale: float = 100, unit: str = "points") -> str:
        """The verdict in words, at the strength the corrected evidence allows."""
        iv = self.interval
        if self.word == "beats":
            winner, loser = (self.first, self.second) if iv.mean > 0 else (self.second, self.first)
            shown = iv if iv.mean > 0 else Interval(-iv.mean, -iv.high, -iv.low, iv.n, iv.confidence)
            return f"{winner} beats {loser} on {what}: {shown.text(scale, unit)} (Holm-corrected)"
        if self.word == "equivalent":
            return (f"{self.first} and {self.second} are equivalent on {what} within ±{self.margin * scale:g} {unit}: "
                    f"{iv.text(scale, unit)}")
        width = (iv.high - iv.low) * scale
        return (f"inconclusive at this scale on {what}: {self.first} minus {self.second} {iv.text(scale, unit)}, "
                f"an interval {width:.1f} {unit} wide")


def family(differences: dict, *, alpha: float = 0.05, margin: float | None = None,
           failed: dict | None = None) -> dict:
    """Correct a chapter's declared primary comparisons together (Holm), with the sign-flip test beside the t test.

    Args:
        differences: ``(first, second) -> (n,)`` paired differences ``first - second`` (one per reporting seed).
        alpha: the family-wise error rate.
        margin: the equivalence margin the chapter declares (same units as the differences), or None.
        failed: optional ``(first, second) -> number of seeds dropped`` because a run failed to train.

    Returns:
        ``(first, second) -> Comparison``, in the order given.

    Example:
        >>> out = family({("flatten", "gap"): [0.05, 0.04, 0.06, 0.05, 0.03, 0.05, 0.04, 0.06, 0.05, 0.04],
        ...               ("gap", "gmp"): [0.01, -0.01, 0.0, 0.01, -0.01, 0.0, 0.01, -0.01, 0.0, 0.0]}, margin=0.02)
        >>> out["flatten", "gap"].word, out["gap", "gmp"].word
        ('beats', 'equivalent')
    """
    from scipy import stats

    if not isinstance(differences, dict) or not differences:
        raise ValueError("differences must map at least one (first, second) pair to its paired differences")
    if not isinstance(alpha, float) or not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be a float strictly between 0 and 0.5, got {alpha!r}")
    if margin is not None and (isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin > 0):
        raise ValueError(f"margin must be a positive number or None, got {margin!r}")
    keys = list(differences)
    values = {key: np.asarray(differences[key], dtype=float) for key in keys}
    for key, array in values.items():
        if array.ndim != 1 or array.size < 2 or not np.all(np.isfinite(array)):
            raise ValueError(f"differences[{key!r}] must be at least two finite numbers, got {differences[key]!r}")
    p_t = []
    for key in keys:
        array = values[key]
        sd = array.std(ddof=1)
        p_t.append(1.0 if sd == 0 and array.mean() == 0 else
                   0.0 if sd == 0 else float(2 * stats.t.sf(abs(array.mean()) / (sd / np.sqrt(array.size)), array.size - 1)))
    p_sign = [sign_flip_p(values[key]) for key in keys]
    adjusted_t, adjusted_sign = holm(p_t), holm(p_sign)
    ranks = np.empty(len(keys), dtype=int)
    ranks[np.argsort(p_t, kind="stable")] = np.arange(len(keys))
    out = {}
    for i, key in enumerate(keys):
        confidence = 1 - alpha / (len(keys) - ranks[i])
        iv = interval(values[key], confidence=float(confidence))
        if adjusted_t[i] < alpha and adjusted_sign[i] < alpha and iv.excludes_zero:
            word = "beats"
        elif margin is not None and -margin < iv.low and iv.high < margin:
            word = "equivalent"
        else:
            word = "inconclusive"
        out[key] = Comparison(key[0], key[1], iv, float(adjusted_t[i]), float(adjusted_sign[i]), word, margin,
                              int((failed or {}).get(key, 0)))
    return out
