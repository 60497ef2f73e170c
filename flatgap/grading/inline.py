"""The score cell: the per-question table and total, printed inside the notebook's own kernel.

The last cell of every exercise is ``score("exN_<topic>")``. It works wherever the notebook runs — Colab,
Binder, JupyterLab — with no ``make`` and no repository: it takes the questions and points from the
manifest that ships in the package, runs each question's checker through
:mod:`flatgap.grading.checkrun` (on a freshly imported copy of the checking code) against the functions defined
in the notebook, and prints the same table. The checkers are those of ``make grade``, and they reach the
student's functions through the same round trip (plain data, Keras models as ``.keras`` files), here in process:
only where ``make grade`` runs them, in a process of its own, can nothing in the notebook change the verdict. Run with the same
seed (``score(..., seed=S)`` or ``FLATGAP_GRADING_SEED=S``) as ``make grade SEED=S``, both give the same rows.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from flatgap.grading.report import NotebookGrade, format_grade, outcome_from_result

__all__ = ["grade_in_kernel", "score"]

_HERE = Path(__file__).resolve().parent


def _load_checkrun():
    spec = importlib.util.spec_from_file_location("_flatgap_checkrun_inline", _HERE / "checkrun.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _namespace(depth: int = 2) -> dict:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.user_ns
    return sys._getframe(depth).f_globals


def grade_in_kernel(exercise: str, seed: int | None = None, namespace: dict | None = None) -> NotebookGrade:
    """Grade the functions of this notebook (see the module docstring); print nothing.

    Args:
        exercise: the exercise's name (``"ex1_numpy_layers"``) or prefix (``"ex1"``).
        seed: the seed of the random cases (default: ``FLATGAP_GRADING_SEED``, else a new one).
        namespace: where the student's functions are (default: the notebook's namespace).
    """
    from flatgap.grading.harness import new_seed

    namespace = _namespace(3) if namespace is None else namespace
    seed = new_seed() if seed is None else int(seed)
    entry, results = _load_checkrun().run_exercise(namespace, exercise, seed, str(_HERE.parent))
    outcomes = [outcome_from_result(question, result) for question, result in zip(entry.questions, results, strict=True)]
    return NotebookGrade(entry.name, outcomes, seed=seed, where="in this kernel")


def score(exercise: str, seed: int | None = None, namespace: dict | None = None, width: int = 110) -> None:
    """Print the per-question table and total of this notebook (the exercise's last cell).

    Args: as :func:`grade_in_kernel`; width: width of the printed table.
    """
    print(format_grade(grade_in_kernel(exercise, seed, namespace), width=width))
