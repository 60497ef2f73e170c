"""flatgap: the helper package of the course *Flatten vs. GlobalAveragePooling2D — from NumPy to Keras*.

Importing it first keeps TensorFlow's start-up log noise out of notebook outputs and selects the
TensorFlow backend for Keras. Subpackages are imported on demand so that ``import flatgap`` stays cheap.
The package follows the book's arc; each subpackage's ``__init__`` exports what the chapters import
(``from flatgap.experiments import Protocol, run_experiment``):

- :mod:`flatgap.reference` — Part I (and the NumPy side of Part IV): every layer in NumPy, forward and backward,
  generated from the chapters' ``#@save`` cells, with numerical gradient checks and the NumPy-vs-Keras timings.
- :mod:`flatgap.models` — Parts II and IV in Keras: the registry of heads (one vocabulary), one body with a choice
  of head, the pooling layers between and beyond Flatten and GAP, CoordConv and BlurPool, the equivalences and CAMs.
- :mod:`flatgap.experiments` — Part III's machinery: the protocol and its runner, one fast training run, the worker
  processes, numbers over seeds and verdicts, the tables, other input sizes, shifted inputs.
- :mod:`flatgap.costs` — parameters, multiply-adds, memory and latency, of a layer and of a whole model.
- :mod:`flatgap.grading` — checkers, the exercise generator, the manifest, the local grader and the score cell.
- :mod:`flatgap.book` — the book's own tooling: the one notebook writer.

Shared by every part: :mod:`flatgap.data` (the digits, Fashion-MNIST, generated canvases, subsets), :mod:`flatgap.repro`
(one call that seeds everything) and :mod:`flatgap.plotting` (the figure style). ``flatgap._validate`` is machinery: the
argument checks every helper shares.
"""

import os as _os

# Must happen before TensorFlow is imported anywhere in the process.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# oneDNN kernels (TensorFlow's own default on x86 Linux): 1.1-2.1x faster per training step than Eigen's on the
# course's layouts (`make bench`), and exactly reproducible on one machine. Across processor families both kernel
# libraries move the last bits like a new draw of seeds; the verdicts are written to survive that (`make second-draw`).
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.2.0"
"""The version of the package, set here only (pyproject.toml reads it; the notebooks' set-up cell installs it)."""
