"""The heads: one registry, one vocabulary, used by the models, the parameter formulas, the plots, grading and tests.

A *head* is what sits between the last convolution of the body and the Dense classifier: it turns the
(N, H, W, C) feature maps into one vector per image. Each entry of :data:`HEADS` says

- which layers the head adds (its Flatten or pooling layer is always named ``"head"``),
- how many numbers per image it passes on (and so the Dense parameter formula),
- whether it needs a fixed input size (its Dense layer's input size depends on H and W),
- its plot colour and a one-line description.

A new head is one :class:`Head` entry here; :func:`flatgap.models.classifier.build_classifier` and
:func:`flatgap.models.classifier.dense_param_count` accept it at once.

Example:
    >>> HEADS["gap"].features(7, 7, 64), HEADS["flatten"].features(7, 7, 64)
    (64, 3136)
    >>> [name for name, head in HEADS.items() if head.fixed_size]
    ['flatten', 'flatten+dropout', 'flatten+bottleneck']
    >>> HEADS["grid2"].features(7, 7, 64), HEADS["catavgmax"].features(7, 7, 64), HEADS["attention"].pool_params(64)
    (256, 128, 64)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Head:
    """One head of the registry.

    Attributes:
        name: the name every function takes (``"gap"``).
        description: one line, for tables and docs.
        color: its colour in every plot that compares heads.
        fixed_size: True when the head needs a fixed input size (the Dense layer after it has H*W*C inputs).
        features: ``features(height, width, channels)``: numbers per image the head passes to the next layer.
        add: ``add(x, options)`` applies the head's layers to the Keras tensor ``x`` (the maps, (N, H, W, C))
            and returns (N, features); ``options`` holds ``dropout``, ``hidden_units`` and ``head_channels``.
        hidden: True when the head ends in a hidden Dense(``hidden_units``) layer before the classifier.
        mixer: True when the head starts with a 1x1 convolution to ``head_channels`` channels (with its own
            weights), so that a head can be matched in parameters to another one.
        pool_params: ``pool_params(channels)``: trainable parameters of the layer named ``"head"`` itself (0 for
            Flatten and the fixed poolings; GeM learns its exponent, attention pooling a score vector).
    """

    name: str
    description: str
    color: str
    fixed_size: bool
    features: Callable[[int, int, int], int]
    add: Callable
    hidden: bool = False
    mixer: bool = False
    pool_params: Callable[[int], int] = lambda channels: 0

    def dense_params(self, height: int, width: int, channels: int, units: int, hidden_units: int = 64) -> int:
        """Trainable parameters of the Dense layers from the head to ``units`` outputs (pooling and Flatten have none).

        For a head with a 1x1 ``mixer``, ``channels`` is the number of channels the mixer outputs.
        """
        inputs = self.features(height, width, channels)
        if self.hidden:
            return inputs * hidden_units + hidden_units + hidden_units * units + units
        return inputs * units + units


def _keras():
    import keras

    return keras


def _flatten(x, options):
    return _keras().layers.Flatten(name="head")(x)


def _flatten_dropout(x, options):
    return _keras().layers.Dropout(options["dropout"], name="dropout")(_flatten(x, options))


def _gap(x, options):
    return _keras().layers.GlobalAveragePooling2D(name="head")(x)


def _gap_dense(x, options):
    return _keras().layers.Dense(options["hidden_units"], activation="relu", name="hidden")(_gap(x, options))


def _gmp(x, options):
    return _keras().layers.GlobalMaxPooling2D(name="head")(x)


def _mix(x, options):
    """A 1x1 convolution (with ReLU) to ``head_channels`` channels, named ``mixer``."""
    return _keras().layers.Conv2D(options["head_channels"], 1, activation="relu", name="mixer")(x)


def _flatten_bottleneck(x, options):
    return _flatten(_mix(x, options), options)


def _gap_wide(x, options):
    return _gap(_mix(x, options), options)


def _all(height, width, channels):
    return height * width * channels


def _channels(height, width, channels):
    return channels


HEADS: dict[str, Head] = {
    head.name: head
    for head in (
        Head("flatten", "Flatten -> Dense(classes)", "#d95f02", True, _all, _flatten),
        Head("flatten+dropout", "Flatten -> Dropout(rate) -> Dense(classes)", "#7570b3", True, _all, _flatten_dropout),
        Head("gap", "GlobalAveragePooling2D -> Dense(classes)", "#1b9e77", False, _channels, _gap),
        Head("gap+dense", "GlobalAveragePooling2D -> Dense(hidden) -> ReLU -> Dense(classes)", "#66a61e", False, _channels,
             _gap_dense, hidden=True),
        Head("gmp", "GlobalMaxPooling2D -> Dense(classes)", "#e7298a", False, _channels, _gmp),
        Head("flatten+bottleneck", "Conv2D(head_channels, 1x1) -> Flatten -> Dense(classes)", "#e6ab02", True, _all,
             _flatten_bottleneck, mixer=True),
        Head("gap+wide", "Conv2D(head_channels, 1x1) -> GlobalAveragePooling2D -> Dense(classes)", "#a6761d", False,
             _channels, _gap_wide, mixer=True),
    )
}
"""Every head the course builds, by name, in the order tables list them."""


# ---- Part IV: the grid between Flatten and GAP, and the other global poolings (layers in flatgap.models.pooling) ----

GRID_SIZES = (2, 3, 4, 6)
"""The grids of the ``"grid<k>"`` heads: adaptive average pooling to k x k cells, then Flatten (k = 1 is ``"gap"``)."""


def _grid(cells: int):
    def add(x, options):
        from flatgap.models.pooling import GridAveragePooling2D

        pooled = GridAveragePooling2D(cells, name="head")(x)
        return _keras().layers.Flatten(name="grid_flatten")(pooled)

    return add


def _grid_features(cells: int):
    return lambda height, width, channels: cells * cells * channels


def _pooling(layer_name: str):
    def add(x, options):
        from flatgap.models import pooling

        return getattr(pooling, layer_name)(name="head")(x)

    return add


def _twice(height, width, channels):
    return 2 * channels


_GRID_COLORS = {2: "#08519c", 3: "#3182bd", 4: "#6baed6", 6: "#9ecae1"}
for _cells in GRID_SIZES:
    HEADS[f"grid{_cells}"] = Head(
        f"grid{_cells}", f"GridAveragePooling2D({_cells}x{_cells}) -> Flatten -> Dense(classes)", _GRID_COLORS[_cells],
        False, _grid_features(_cells), _grid(_cells))
for _head in (
    Head("catavgmax", "concat(GlobalAveragePooling2D, GlobalMaxPooling2D) -> Dense(classes)", "#9467bd", False, _twice,
         _pooling("GlobalAvgMaxPooling2D")),
    Head("gem", "GeMPooling2D (learned exponent p) -> Dense(classes)", "#bcbd22", False, _channels,
         _pooling("GeMPooling2D"), pool_params=lambda channels: 1),
    Head("sum", "GlobalSumPooling2D -> Dense(classes)", "#17becf", False, _channels, _pooling("GlobalSumPooling2D")),
    Head("attention", "AttentionPooling2D (softmax of a learned score over positions) -> Dense(classes)", "#393b79",
         False, _channels, _pooling("AttentionPooling2D"), pool_params=lambda channels: channels),
):
    HEADS[_head.name] = _head
del _cells, _head


def get_head(name) -> Head:
    """The registry entry of ``name``; a ValueError that lists the heads when there is none."""
    if not isinstance(name, str) or name not in HEADS:
        raise ValueError(f"head must be one of {tuple(HEADS)}, got {name!r}")
    return HEADS[name]
