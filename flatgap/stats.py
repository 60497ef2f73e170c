"""Numbers over seeds, and tables: what every experiment chapter reports.

- :func:`mean_spread` — mean, standard deviation, minimum and maximum of a list of numbers;
- :func:`curve_band` — the mean and the min-max band over seeds of one per-epoch curve;
- :func:`format_table` — a small aligned text table (no pandas needed).
"""

from __future__ import annotations

from collections.abc import Sequence

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
        runs: run records of :func:`flatgap.training.train_heads` (each with a ``"history"``).
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
