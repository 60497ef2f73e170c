"""The grader core: run a notebook top to bottom and collect one outcome per graded cell.

The notebook is executed with nbclient in a fresh kernel of the current Python environment (the one the
grader runs in, like nbval's ``--nbval-current-env``), in the notebook's folder, on a copy (the file is
never modified). Every cell runs even after an error, so each graded cell gets its own outcome:

- ``passed``: the cell ran without error;
- ``not attempted``: it raised ``NotImplementedError`` (the exercise's stub is still there);
- ``failed``: it raised anything else; the message is the checker's ``AssertionError`` text, or
  ``<ExceptionName>: <message>`` for other errors (for example a ``NameError`` after an earlier cell failed);
- ``missing``: the graded cell is not in the notebook any more.

Graded cells are restored before the run: when a course copy of the notebook exists
(``solutions/<name>.ipynb`` next to the notebook's folder), each graded cell's source is replaced by the
course's, so an edited check does not count.
"""

from __future__ import annotations

import copy
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from flatgap.grading.notebooks import graded_cells, read_notebook

CURRENT_ENV_KERNEL = ":flatgap-current-env"
STATUSES = ("passed", "failed", "not attempted", "missing")


class CannotRun(Exception):
    """The notebook could not be run at all; the message is one sentence saying why."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one graded question.

    Attributes:
        question: question id (``"ex1-q3"``). points: what it is worth.
        status: one of ``STATUSES``.
        ename: the exception's class name when the cell raised (else None).
        message: the checker's message, ``"<ename>: <evalue>"`` for other errors, or "" when it passed.
        cell: 1-based position of the graded cell among the notebook's code cells (None when missing).
    """

    question: str
    points: int
    status: str
    ename: str | None
    message: str
    cell: int | None

    @property
    def earned(self) -> int:
        return self.points if self.status == "passed" else 0


@dataclass
class NotebookGrade:
    """The outcomes of one notebook, plus notes (errors in cells that are not graded) and the run time."""

    name: str
    outcomes: list[Outcome]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> int:
        return sum(o.earned for o in self.outcomes)

    @property
    def total(self) -> int:
        return sum(o.points for o in self.outcomes)

    def by_question(self) -> dict[str, Outcome]:
        return {o.question: o for o in self.outcomes}


def _kernel_manager_class():
    """An AsyncKernelManager that resolves CURRENT_ENV_KERNEL to a kernel of this very interpreter."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class CurrentEnvSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            if kernel_name == CURRENT_ENV_KERNEL:
                return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict())
            return super().get_kernel_spec(kernel_name)

    class CurrentEnvKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("kernel_spec_manager", CurrentEnvSpecs())
            super().__init__(**kwargs)

    return CurrentEnvKernelManager


def execute(notebook, cwd, timeout: float = 300):
    """Execute a copy of ``notebook`` in folder ``cwd``, every cell even after errors; return the copy.

    Raises:
        CannotRun: the kernel did not start, died, or a cell ran longer than ``timeout`` seconds.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    notebook = copy.deepcopy(notebook)
    client = NotebookClient(
        notebook,
        kernel_manager_class=_kernel_manager_class(),
        kernel_name=CURRENT_ENV_KERNEL,
        shutdown_kernel="immediate",
        timeout=timeout,
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        # The kernel's own stderr (start-up notices, C-level logs) is not part of the notebook: drop it.
        client.execute(stderr=subprocess.DEVNULL)
    except CellTimeoutError:
        raise CannotRun(f"a cell ran longer than {timeout:g} s (raise the limit with --timeout)") from None
    except DeadKernelError:
        raise CannotRun("the Python kernel died while running the notebook (out of memory?)") from None
    except RuntimeError as error:
        raise CannotRun(f"could not start a Python kernel ({error})") from None
    return notebook


def _error_of(cell):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return output.get("ename", "Error"), output.get("evalue", "")
    return None


def _code_cell_numbers(notebook) -> dict[int, int]:
    numbers, count = {}, 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            count += 1
            numbers[index] = count
    return numbers


def course_copy(path) -> Path | None:
    """The course's version of a notebook (``../solutions/<name>.ipynb``), if there is one."""
    path = Path(path).resolve()
    candidate = path.parent.parent / "solutions" / path.name
    return candidate if candidate.exists() and candidate != path else None


def restore_graded_cells(notebook, canonical) -> tuple[object, list[str]]:
    """Replace each graded cell's source with the canonical one; return (notebook, missing question ids)."""
    notebook = copy.deepcopy(notebook)
    wanted = {g.question: g.source for g in graded_cells(canonical, "course notebook")}
    present = {g.question: g.index for g in graded_cells(notebook, "your notebook")}
    for question, index in present.items():
        if question in wanted:
            notebook.cells[index].source = wanted[question]
    return notebook, [q for q in wanted if q not in present]


def outcomes(executed, canonical=None) -> tuple[list[Outcome], list[str]]:
    """One Outcome per graded question of an executed notebook, plus notes about other failed cells."""
    numbers = _code_cell_numbers(executed)
    graded = graded_cells(executed, "notebook")
    graded_indices = {g.index for g in graded}
    notes = []
    for index, cell in enumerate(executed.cells):
        error = _error_of(cell) if cell.cell_type == "code" else None
        if error and index not in graded_indices:
            raised = f"{error[0]}: {error[1]}" if error[1] else error[0]
            notes.append(f"code cell {numbers[index]} (not graded) raised {raised} — graded cells after it may fail because of it")
            break
    results = []
    for g in graded:
        error = _error_of(executed.cells[g.index])
        if error is None:
            results.append(Outcome(g.question, g.points, "passed", None, "", numbers[g.index]))
        elif error[0] == "NotImplementedError":
            results.append(Outcome(g.question, g.points, "not attempted", error[0], f"NotImplementedError: {error[1]}", numbers[g.index]))
        elif error[0] == "AssertionError":
            results.append(Outcome(g.question, g.points, "failed", error[0], error[1] or "AssertionError", numbers[g.index]))
        else:
            results.append(Outcome(g.question, g.points, "failed", error[0], f"{error[0]}: {error[1]}", numbers[g.index]))
    if canonical is not None:
        have = {o.question for o in results}
        for g in graded_cells(canonical, "course notebook"):
            if g.question not in have:
                results.append(
                    Outcome(g.question, g.points, "missing", None, "this graded cell is missing from your notebook; copy it back from a fresh copy of the exercise", None)
                )
        order = {g.question: i for i, g in enumerate(graded_cells(canonical, "course notebook"))}
        results.sort(key=lambda o: order.get(o.question, len(order)))
    return results, notes


def grade(notebook, cwd, name: str = "notebook", canonical=None, timeout: float = 300) -> NotebookGrade:
    """Execute an in-memory notebook and grade it (``canonical``: the course's copy, to restore graded cells)."""
    missing: list[str] = []
    if canonical is not None:
        notebook, missing = restore_graded_cells(notebook, canonical)
    start = time.perf_counter()
    executed = execute(notebook, cwd, timeout)
    seconds = time.perf_counter() - start
    results, notes = outcomes(executed, canonical)
    if not results:
        notes.append("no graded cells found (a graded cell has the tag 'graded' and starts with '# graded: exN-qM (P points)')")
    return NotebookGrade(name, results, notes, seconds)


def grade_notebook(path, timeout: float = 300, restore: bool = True) -> NotebookGrade:
    """Grade the notebook file at ``path`` (see the module docstring).

    Raises:
        CannotRun: with one sentence saying why the notebook could not be run.
    """
    path = Path(path)
    if not path.exists():
        raise CannotRun(f"{path} does not exist")
    if path.suffix != ".ipynb":
        raise CannotRun(f"{path} is not a Jupyter notebook (.ipynb)")
    try:
        notebook = read_notebook(path)
    except ValueError as error:
        raise CannotRun(str(error)) from None
    canonical_path = course_copy(path) if restore else None
    canonical = read_notebook(canonical_path) if canonical_path else None
    try:
        return grade(notebook, path.resolve().parent, str(path), canonical, timeout)
    except ValueError as error:  # a malformed graded cell header
        raise CannotRun(str(error)) from None
