"""Part I and the NumPy side of Part IV: every layer written in NumPy, and the checks that trust them.

- :mod:`flatgap.reference.layers` — Conv2D, ReLU, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Dense,
  softmax cross-entropy, forward and backward (generated from Part I's ``#@save reference.layers`` cells);
- :mod:`flatgap.reference.pooling` — adaptive average pooling, the global poolings, GeM, attention pooling
  (generated from Part IV's ``#@save reference.pooling`` cells);
- :mod:`flatgap.reference.body` — CoordConv's coordinate channels and BlurPool's blurred downsampling
  (generated from Part IV's ``#@save reference.body`` cells);
- :mod:`flatgap.reference.gradcheck` — numerical gradients and relative errors (CS231n style);
- :mod:`flatgap.reference.speed` — the NumPy-vs-Keras timings (``make bench``); it imports Keras, so it is not
  imported here: ``from flatgap.reference import speed``.

Nothing imported here loads Keras or TensorFlow: the graded NumPy exercise checks against these references.
"""

from flatgap.reference.body import (
    add_coords,
    add_coords_backward,
    binomial_kernel,
    blur_downsample,
    blur_downsample_backward,
    coordinate_channels,
    max_blur_pool,
)
from flatgap.reference.gradcheck import numerical_gradient, relative_error
from flatgap.reference.layers import (
    conv2d_backward,
    conv2d_forward,
    conv2d_forward_loops,
    conv_output_length,
    dense_backward,
    dense_forward,
    flatten_backward,
    flatten_channels_first,
    flatten_forward,
    gap_backward,
    gap_forward,
    gmp_backward,
    gmp_forward,
    im2col,
    relu_backward,
    relu_forward,
    softmax,
    softmax_cross_entropy,
)
from flatgap.reference.pooling import (
    adaptive_avg_pool_backward,
    adaptive_avg_pool_forward,
    adaptive_windows,
    attention_pool_backward,
    attention_pool_forward,
    attention_weights,
    gem_backward,
    gem_forward,
    global_avgmax_forward,
    global_sum_forward,
)

__all__ = [
    "add_coords", "add_coords_backward", "binomial_kernel", "blur_downsample", "blur_downsample_backward",
    "coordinate_channels", "max_blur_pool",
    "numerical_gradient", "relative_error",
    "conv2d_backward", "conv2d_forward", "conv2d_forward_loops", "conv_output_length", "dense_backward",
    "dense_forward", "flatten_backward", "flatten_channels_first", "flatten_forward", "gap_backward", "gap_forward",
    "gmp_backward", "gmp_forward", "im2col", "relu_backward", "relu_forward", "softmax", "softmax_cross_entropy",
    "adaptive_avg_pool_backward", "adaptive_avg_pool_forward", "adaptive_windows", "attention_pool_backward",
    "attention_pool_forward", "attention_weights", "gem_backward", "gem_forward", "global_avgmax_forward",
    "global_sum_forward",
]
