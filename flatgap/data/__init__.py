"""Data for the course, all of it offline and deterministic from a seed. Shapes are channels-last (N, H, W, C).

- :mod:`flatgap.data.digits` — scikit-learn's bundled 8x8 handwritten digits (shipped inside the package), float32
  NHWC in [0, 1] with a fixed stratified train/test split; :func:`upscale` repeats pixels;
- :mod:`flatgap.data.fashion_mnist` — Fashion-MNIST's official 60,000/10,000 split of 28x28 images, read offline
  from the IDX files of Debian's ``dataset-fashion-mnist`` (or ``$FLATGAP_DATA``, or Keras's cache);
- :mod:`flatgap.data.idx` — the IDX file format, read and checked;
- :mod:`flatgap.data.canvases` — generated canvases: one object (a digit, a drawn shape, any (h, w, 1) image) at a
  chosen or random position on a blank canvas of any size, with its label and box; canvases of dots to count;
- :mod:`flatgap.data.splits` — the train/test split type and :func:`stratified_subset`, a class-balanced subset.
"""

from flatgap.data.canvases import (
    SHAPE_NAMES,
    CanvasSet,
    draw_shape,
    make_canvases,
    make_counting_canvases,
    place_at_random,
    quadrant_labels,
)
from flatgap.data.digits import load_digits_nhwc, upscale
from flatgap.data.fashion_mnist import (
    FASHION_MNIST_CLASSES,
    FashionMNISTNotFoundError,
    find_fashion_mnist,
    load_fashion_mnist,
)
from flatgap.data.splits import DigitsSplit, ImageSplit, stratified_subset

__all__ = [
    "SHAPE_NAMES", "CanvasSet", "draw_shape", "make_canvases", "make_counting_canvases", "place_at_random",
    "quadrant_labels",
    "load_digits_nhwc", "upscale",
    "FASHION_MNIST_CLASSES", "FashionMNISTNotFoundError", "find_fashion_mnist", "load_fashion_mnist",
    "DigitsSplit", "ImageSplit", "stratified_subset",
]
