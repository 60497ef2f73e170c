"""flatgap: the helper package of the course *Flatten vs. GlobalAveragePooling2D — from NumPy to Keras*.

Importing it first keeps TensorFlow's start-up log noise out of notebook outputs and selects the
TensorFlow backend for Keras. Submodules are imported on demand so that ``import flatgap`` stays cheap:

- :mod:`flatgap.data` — scikit-learn's bundled digits as NHWC float32, generated canvases, stratified subsets.
- :mod:`flatgap.repro` — one call that seeds everything.
- :mod:`flatgap.plotting` — the course's figure style and image helpers.
- :mod:`flatgap.numpy_layers` — the NumPy layers of Part I (generated from the chapters' ``#@save`` cells).
- :mod:`flatgap.gradcheck` — numerical gradients and relative errors.
- :mod:`flatgap.speed` — the NumPy-vs-Keras speed measurements (``make bench``).
- :mod:`flatgap.heads` — the registry of heads: one vocabulary for every module, plot and test.
- :mod:`flatgap.pooling` — the Keras pooling layers of Part IV (grid, sum, average ⊕ max, GeM, attention).
- :mod:`flatgap.numpy_pooling` — their NumPy references (generated from the chapters' ``#@save numpy_pooling`` cells).
- :mod:`flatgap.models` — one convolutional body with a choice of head, the parameter formula, the receptive field.
- :mod:`flatgap.body_layers` — Keras layers for the body: coordinate channels (CoordConv), BlurPool, MaxBlurPool.
- :mod:`flatgap.numpy_body` — their NumPy references (generated from the chapters' ``#@save numpy_body`` cells).
- :mod:`flatgap.equivalences` — Flatten+Dense as a convolution, GAP+Dense as a 1x1 convolution, CAMs.
- :mod:`flatgap.protocol` — the experiment protocol: validation splits, tuning, early stopping, paired seeds.
- :mod:`flatgap.runs`, :mod:`flatgap.pool`, :mod:`flatgap.report` — one training run, the worker processes, the tables.
- :mod:`flatgap.training` — compiling and fitting, the untuned runner of the demonstrations, record selection.
- :mod:`flatgap.stats` — numbers over seeds, intervals and verdicts, tables.
- :mod:`flatgap.sizes` — feeding a model other input sizes: resizing, grouping by size.
- :mod:`flatgap.shift`, :mod:`flatgap.cost` — translation and cost measurements of Part III.
- :mod:`flatgap.macs` — multiply-adds of the layers of real networks (the reference pages).
- :mod:`flatgap.nbfiles` — the one notebook writer (sources as lines, stable cell ids).
- :mod:`flatgap.grading` — checkers, the exercise generator and the local grader.
"""

import os as _os

# Must happen before TensorFlow is imported anywhere in the process.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.2.0"
"""The version of the package, set here only (pyproject.toml reads it; the notebooks' set-up cell installs it)."""
