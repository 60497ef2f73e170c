"""One figure style for the whole book, and helpers to draw images and feature maps.

Every helper returns the Matplotlib ``Figure`` so a notebook can add to it or save it.
"""

from __future__ import annotations

import numpy as np

from flatgap._validate import positive_int
from flatgap.models.heads import HEADS

STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "image.cmap": "viridis",
}
"""Matplotlib settings applied by :func:`use_style`."""

HEAD_COLORS = {name: head.color for name, head in HEADS.items()}
"""One colour per head (from the registry :data:`flatgap.models.heads.HEADS`), used in every plot that compares heads."""


def use_style() -> None:
    """Apply the course's figure style to Matplotlib (call once at the top of a notebook)."""
    import matplotlib as mpl

    mpl.rcParams.update(STYLE)


def _as_images(images) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 4:
        if array.shape[-1] != 1:
            raise ValueError(f"images must have one channel to draw, got shape {array.shape}")
        array = array[..., 0]
    if array.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, 1), got shape {array.shape}")
    return array


def show_images(images, labels=None, boxes=None, ncols: int = 8, title: str | None = None, cmap: str = "gray_r"):
    """Draw a batch of single-channel images in a grid.

    Args:
        images: (N, H, W) or (N, H, W, 1) array.
        labels: optional (N,) labels written above each image.
        boxes: optional (N, 4) boxes (top, left, bottom, right), drawn as rectangles.
        ncols: images per row.
        title: figure title.
        cmap: Matplotlib colour map.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    array = _as_images(images)
    ncols = positive_int("ncols", ncols)
    n = len(array)
    if n == 0:
        raise ValueError("images is empty: there is nothing to draw")
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries but there are {n} images")
    if boxes is not None and np.shape(boxes) != (n, 4):
        raise ValueError(f"boxes must have shape ({n}, 4), got {np.shape(boxes)}")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.45 * nrows + (0.3 if title else 0)), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= n:
            continue
        ax.imshow(array[index], cmap=cmap, vmin=0, vmax=max(1.0, float(array.max())))
        if labels is not None:
            ax.set_title(str(labels[index]), fontsize=9)
        if boxes is not None:
            top, left, bottom, right = boxes[index]
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, ec="red", lw=1))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_feature_maps(feature_maps, ncols: int = 8, title: str | None = None, max_maps: int = 32):
    """Draw the channels of one feature map stack as small pictures, one per channel.

    Args:
        feature_maps: (H, W, C) array, or (1, H, W, C) (the batch of one is dropped).
        ncols: pictures per row.
        title: figure title.
        max_maps: draw at most this many channels.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    array = np.asarray(feature_maps)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3:
        raise ValueError(f"feature_maps must have shape (H, W, C) or (1, H, W, C), got shape {np.shape(feature_maps)}")
    ncols = positive_int("ncols", ncols)
    max_maps = positive_int("max_maps", max_maps)
    channels = min(array.shape[-1], max_maps)
    ncols = min(ncols, channels)
    nrows = -(-channels // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.3 * nrows + (0.3 if title else 0)), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < channels:
            ax.imshow(array[..., index])
            ax.set_title(f"channel {index}", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_paired(ax, differences, intervals, scale: float = 100, xlabel: str = "paired difference (points)"):
    """Draw paired differences per seed (dots) with their mean and 95% interval (a bar), one row each.

    Args:
        ax: the Matplotlib axes to draw on.
        differences: ``{label: (seeds,) differences}``, drawn top to bottom in this order.
        intervals: ``{label: Interval}`` (:func:`flatgap.experiments.stats.interval`) for the same labels.
        scale: multiplies every value (100: fractions to points). xlabel: the x-axis label.

    Returns:
        ``ax``, with a vertical line at zero: a bar that crosses it is "inconclusive at this scale".
    """
    labels = list(differences)
    if not labels or set(labels) != set(intervals):
        raise ValueError("differences and intervals must name the same, non-empty set of comparisons")
    for row, label in enumerate(labels):
        values, iv = np.asarray(differences[label], dtype=float) * scale, intervals[label]
        colour = "0.2" if iv.excludes_zero else "0.6"
        ax.plot([iv.low * scale, iv.high * scale], [row, row], color=colour, lw=3, solid_capstyle="butt")
        ax.plot(iv.mean * scale, row, "D", color=colour, ms=6)
        ax.plot(values, np.full(values.shape, row + 0.18), "o", color="tab:blue", ms=3.5, alpha=0.7)
    ax.axvline(0, color="tab:red", lw=1)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    return ax
