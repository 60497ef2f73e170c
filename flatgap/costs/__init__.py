"""What a head costs: parameters, multiply-adds, activation memory and latency (the cost chapter, the reference pages).

- :mod:`flatgap.costs.macs` — multiply-adds and other operations, layer by layer: the formulas, and how each kind
  of Keras layer is counted;
- :mod:`flatgap.costs.model_costs` — what a whole model costs, its body against its head, and measured latency.
"""

from flatgap.costs.macs import (
    conv2d_macs,
    conv_macs,
    count_layer,
    dense_macs,
    depthwise_conv_macs,
    gap_ops,
    output_shape,
    separable_conv_macs,
)
from flatgap.costs.model_costs import (
    activation_bytes,
    count_macs,
    find_head_layer,
    layer_costs,
    measure_latency,
    split_body_head,
)

__all__ = [
    "conv2d_macs", "conv_macs", "count_layer", "dense_macs", "depthwise_conv_macs", "gap_ops", "output_shape",
    "separable_conv_macs",
    "activation_bytes", "count_macs", "find_head_layer", "layer_costs", "measure_latency", "split_body_head",
]
