"""Parts II and IV in Keras: the heads, the layers between and beyond them, and the models that carry them.

- :mod:`flatgap.models.heads` — the registry of heads: one vocabulary for every module, plot and test;
- :mod:`flatgap.models.classifier` — one convolutional body with a choice of head, the parameter formula, the
  receptive field;
- :mod:`flatgap.models.pooling` — the Keras pooling layers of Part IV (grid, sum, average ⊕ max, GeM, attention);
- :mod:`flatgap.models.body` — Keras layers for the body: coordinate channels (CoordConv), BlurPool, MaxBlurPool;
- :mod:`flatgap.models.equivalences` — Flatten+Dense as a convolution, GAP+Dense as a 1x1 convolution, CAMs.
"""

from flatgap.models.body import AddCoords, BlurPool2D, MaxBlurPool2D
from flatgap.models.classifier import BodyWeights, build_classifier, dense_param_count, receptive_field
from flatgap.models.equivalences import (
    class_activation_maps,
    flatten_dense_to_conv,
    fully_convolutional_from_flatten,
    gap_dense_to_conv1x1,
)
from flatgap.models.heads import GRID_SIZES, HEADS, Head, get_head
from flatgap.models.pooling import (
    AttentionPooling2D,
    GeMPooling2D,
    GlobalAvgMaxPooling2D,
    GlobalSumPooling2D,
    GridAveragePooling2D,
    window_matrix,
)

__all__ = [
    "AddCoords", "BlurPool2D", "MaxBlurPool2D",
    "BodyWeights", "build_classifier", "dense_param_count", "receptive_field",
    "class_activation_maps", "flatten_dense_to_conv", "fully_convolutional_from_flatten", "gap_dense_to_conv1x1",
    "GRID_SIZES", "HEADS", "Head", "get_head",
    "AttentionPooling2D", "GeMPooling2D", "GlobalAvgMaxPooling2D", "GlobalSumPooling2D", "GridAveragePooling2D",
    "window_matrix",
]
