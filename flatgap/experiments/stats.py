"""Numbers over seeds, and tables: what every experiment chapter reports.

- :func:`mean_spread` — mean, standard deviation, minimum and maximum of a list of numbers;
- :func:`curve_band` — the mean and the min-max band over seeds of one per-epoch curve;
- :func:`format_table` — a small aligned text table (no pandas needed);
- :func:`interval` — the mean of paired differences over seeds and its 95% t interval;
- :func:`verdict` — "A beats B" only when that interval excludes zero, else "no difference detected".
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
        'no difference in test accuracy detected at this scale: Flatten minus GAP +1.0 points [-1.0, +3.0]'
    """
    if higher not in ("beats", "larger"):
        raise ValueError(f"higher must be 'beats' or 'larger', got {higher!r}")
    if iv.excludes_zero:
        winner, loser, shown = (first, second, iv) if iv.low > 0 else (second, first, Interval(-iv.mean, -iv.high, -iv.low, iv.n, iv.confidence))
        claim = f"{winner} beats {loser} on {what}" if higher == "beats" else f"{winner} has the larger {what}"
        return f"{claim}: {shown.text()}"
    return f"no difference in {what} detected at this scale: {first} minus {second} {iv.text()}"
