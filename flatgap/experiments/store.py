"""Each training run once per build: a content-addressed store of finished runs, shared by the chapters.

Two chapters sometimes train the identical run: the same model, data, seed and protocol (the other global
poolings chapter re-trains the pooling family's GAP runs, for example). Inside the book's build,
:func:`flatgap.experiments.pool.run_all` looks every run up in a :class:`RunStore` first and trains only the
missing ones. The key is a SHA-256 hash of everything that decides a run's result:

- the run's own arguments (the model's ``build_classifier`` arguments, seed, learning rate, epochs, patience,
  batch size, shortest epoch) and every byte, shape and type of its training and validation images and labels;
- where it ran: in a one-thread worker process or in the notebook's own process (thread counts change the order of
  TensorFlow's sums);
- the environment: the package's own source code (every ``flatgap/**/*.py``), the versions of Python, NumPy,
  TensorFlow and Keras, and :func:`flatgap.repro.machine_description` (the kernels, the processor and its
  instruction sets).

So a stored run is returned only where training again would give the same numbers to the last bit (training is
deterministic on one machine: ``tests/test_run_store.py`` checks that a stored run equals a fresh one).

The store is used only where ``FLATGAP_RUN_STORE`` names its folder, which ``tools/build_book.py`` sets for the
build (``_build/run_store``). A notebook run on its own, by a reader or by ``make second-draw``, computes everything.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np

ENVIRONMENT_VARIABLE = "FLATGAP_RUN_STORE"
_FINGERPRINT: str | None = None


def environment_fingerprint() -> str:
    """A hash of the package's source code, the library versions and the machine (computed once per process)."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        import keras
        import tensorflow as tf

        import flatgap
        from flatgap.repro import machine_description

        digest = hashlib.sha256()
        package = Path(flatgap.__file__).resolve().parent
        for path in sorted(package.rglob("*.py")):
            digest.update(path.relative_to(package).as_posix().encode() + b"\n" + path.read_bytes() + b"\n")
        versions = [sys.version, np.__version__, tf.__version__, keras.__version__, machine_description(),
                    os.environ.get("TF_ENABLE_ONEDNN_OPTS", ""), os.environ.get("ONEDNN_MAX_CPU_ISA", "")]
        digest.update(json.dumps(versions).encode())
        _FINGERPRINT = digest.hexdigest()
    return _FINGERPRINT


def _update_with_data(digest, data) -> None:
    parts = data if isinstance(data, list) else [data]
    for images, labels in parts:
        for array in (np.ascontiguousarray(images), np.ascontiguousarray(labels)):
            digest.update(f"{array.dtype.str} {array.shape}\n".encode())
            digest.update(array.tobytes())


def run_key(task: dict, where: str) -> str:
    """The SHA-256 key of one run: ``task`` holds :func:`flatgap.experiments.runs.train_run`'s keyword arguments,
    ``where`` says how it executes (``"worker"``: a one-thread worker process; ``"in-process"``)."""
    if where not in ("worker", "in-process"):
        raise ValueError(f"where must be 'worker' or 'in-process', got {where!r}")
    scalars = {name: value for name, value in task.items() if name not in ("train", "validation")}
    digest = hashlib.sha256(environment_fingerprint().encode())
    digest.update(json.dumps([where, scalars], sort_keys=True, default=str).encode())
    _update_with_data(digest, task["train"])
    digest.update(b"validation\n")
    _update_with_data(digest, task["validation"])
    return digest.hexdigest()


class RunStore:
    """Finished runs in a folder, one file per key (written whole or not at all; safe for notebooks run side by side).

    Args:
        folder: where the runs are kept (created when missing).

    Example:
        >>> import tempfile
        >>> store = RunStore(tempfile.mkdtemp())
        >>> store.get("0" * 64) is None
        True
        >>> store.put("0" * 64, {"val_accuracy": 0.9}); store.get("0" * 64)
        {'val_accuracy': 0.9}
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0

    def _path(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"a run key is 64 hexadecimal digits, got {key!r}")
        return self.folder / key[:2] / f"{key}.pickle"

    def get(self, key: str) -> dict | None:
        """The stored result of the run ``key``, or None (a missing or unreadable file counts as missing)."""
        path = self._path(key)
        try:
            with path.open("rb") as file:
                result = pickle.load(file)
        except (OSError, EOFError, pickle.UnpicklingError):
            self.misses += 1
            return None
        self.hits += 1
        self._log("reused", key)
        return result

    def _log(self, what: str, key: str) -> None:
        """One line per run in ``log.txt`` (what, key, process id): how much a build reused, for ``make bench``."""
        with (self.folder / "log.txt").open("a") as log:
            log.write(f"{what} {key} {os.getpid()}\n")

    def put(self, key: str, result: dict) -> None:
        """Keep ``result`` under ``key`` (written to a temporary file, then renamed into place)."""
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        with temporary.open("wb") as file:
            pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
        self._log("trained", key)


def store_from_environment() -> RunStore | None:
    """The store named by ``FLATGAP_RUN_STORE`` (the build sets it), or None: a notebook alone computes every run."""
    folder = os.environ.get(ENVIRONMENT_VARIABLE, "")
    return RunStore(folder) if folder else None
