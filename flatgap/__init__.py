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


class _QuietTensorFlowImport:
    """Import TensorFlow without its C++ start-up log lines on stderr (they would land in every notebook's outputs).

    TensorFlow 2.21 writes "oneDNN custom operations are on ..." to file descriptor 2 while it is imported, before
    its logging honours ``TF_CPP_MIN_LOG_LEVEL``. This import hook (installed only while TensorFlow is not yet
    imported, and removed at its first use) runs TensorFlow's own import with descriptor 2 pointed at the null device,
    unless ``TF_CPP_MIN_LOG_LEVEL`` is ``0`` (asked for every log line). Python errors raised by the import still
    reach the caller with their traceback.
    """

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "tensorflow":
            return None
        import importlib.util
        import sys

        if cls in sys.meta_path:
            sys.meta_path.remove(cls)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or _os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") == "0":
            return spec
        exec_module = spec.loader.exec_module

        def exec_quietly(module):
            saved, null = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
            try:
                _os.dup2(null, 2)
                exec_module(module)
            finally:
                _os.dup2(saved, 2)
                _os.close(saved)
                _os.close(null)

        spec.loader.exec_module = exec_quietly
        return spec


def _install_quiet_import() -> None:
    import sys

    if "tensorflow" not in sys.modules and _QuietTensorFlowImport not in sys.meta_path:
        sys.meta_path.insert(0, _QuietTensorFlowImport)


_install_quiet_import()

__version__ = "0.2.0"
"""The version of the package, set here only (pyproject.toml reads it; the notebooks' set-up cell installs it)."""
