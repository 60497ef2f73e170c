"""Generate the exercise notebooks from the solutions, and the variants CI grades.

``python -m flatgap.grading.generate`` (``make exercises``) writes ``exercises/<name>.ipynb`` for every
``solutions/<name>.ipynb``, and the manifest of every graded question, :mod:`flatgap.grading.manifest_data`
(see :mod:`flatgap.grading.manifest`). ``--check`` writes nothing and exits 1 when a committed exercise or
the manifest differs from what would be generated (the test suite runs the same comparison).

What changes from solution to exercise:

- each ``### BEGIN SOLUTION [exN-qM] <hint>`` ... ``### END SOLUTION`` region becomes::

      # YOUR CODE HERE
      raise NotImplementedError("exN-qM: <hint>")

- cells tagged ``solution-only`` are left out (demos that call a solution, discussion of the answer);
- the title ``# Solutions: Exercise N ...`` of the first markdown cell becomes ``# Exercise N ...``;
- outputs and execution counts are cleared; every cell keeps the id of the solution cell it comes from.

The same region machinery builds the variants CI runs to prove that the checkers reject trivial answers
(:func:`trivial_variant`): every region replaced by ``return None``, by ``return <its first argument>``
(the input unchanged), or by the solution's own result with every number set to zero (zeros of the right
shape; see :func:`flatgap.grading.trivial.zeros_like`). :func:`expect_stub_errors` builds the copy of an
exercise that nbval checks in strict mode: each graded cell must raise exactly its stub's
``NotImplementedError``.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

from flatgap.book.notebooks import notebook_text
from flatgap.grading import SOLUTION_ONLY_TAG
from flatgap.grading.manifest import MANIFEST_PATH, manifest_text
from flatgap.grading.manifest import exercise_from_solution as manifest_entry
from flatgap.grading.notebooks import NotebookFormatError, Region, graded_cells, read_notebook, validate

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS_TITLE = "# Solutions: "
TRIVIAL_KINDS = ("none", "zeros", "identity")
"""The trivial answers every graded cell must reject."""

ZEROS_IMPORT = "from flatgap.grading.trivial import zeros_like as _flatgap_zeros_like"
SOLUTION_PREFIX = "_flatgap_solution_"


def exercise_prefix(path) -> str:
    """``"ex1"`` for ``ex1_numpy_layers.ipynb``."""
    return Path(path).stem.split("_", 1)[0]


def replace_regions(notebook, replacement: Callable[[Region], list[str]], questions=None, where: str = "notebook"):
    """A copy of ``notebook`` with regions replaced.

    Args:
        notebook: a solution notebook.
        replacement: ``replacement(region)`` returns the new lines, unindented (the region's indentation
            is added). It may also return ``(lines, before_function, cell_header)``: extra unindented
            lines to put before the enclosing function and at the top of the cell.
        questions: only replace the regions of these question ids (default: all).
        where: name used in error messages.

    Returns:
        The new notebook (the input is not modified).
    """
    _, found = validate(notebook, where)
    notebook = copy.deepcopy(notebook)
    by_cell: dict[int, list[Region]] = {}
    for region in found:
        if questions is None or region.question in questions:
            by_cell.setdefault(region.cell_index, []).append(region)
    for cell_index, cell_regions in by_cell.items():
        cell = notebook.cells[cell_index]
        lines = cell.source.split("\n")
        header: list[str] = []
        for region in sorted(cell_regions, key=lambda r: r.begin, reverse=True):
            result = replacement(region)
            new, before, cell_header = (result, [], []) if isinstance(result, list) else result
            lines[region.begin : region.end + 1] = [region.indent + line if line else "" for line in new]
            lines[region.function_start : region.function_start] = before
            header = cell_header or header
        cell.source = "\n".join(header + lines)
    return notebook


def stub_lines(region: Region) -> list[str]:
    """The exercise's stub for one region."""
    return ["# YOUR CODE HERE", f"raise NotImplementedError({json.dumps(region.stub_message, ensure_ascii=False)})"]


def _call_expression(name: str, params) -> str:
    parts = []
    for kind, param in params:
        parts.append({"positional": param, "varargs": f"*{param}", "keyword": f"{param}={param}", "varkw": f"**{param}"}[kind])
    return f"{name}({', '.join(parts)})"


def trivial_lines(kind: str, renamed_copy: Callable[[Region], list[str]]):
    """The replacement for one region in a trivial-answer variant (see :func:`trivial_variant`)."""

    def replace(region: Region):
        if kind == "none":
            return ["return None"]
        if kind == "identity":
            first = next((name for k, name in region.params if k == "positional"), None)
            return [f"return {first}"] if first else ["return None"]
        if kind == "zeros":
            renamed = renamed_copy(region)
            call = _call_expression(SOLUTION_PREFIX + region.function, region.params)
            return [f"return _flatgap_zeros_like({call})"], renamed, [ZEROS_IMPORT]
        raise ValueError(f"kind must be one of {TRIVIAL_KINDS}, got {kind!r}")

    return replace


def trivial_variant(solution, kind: str, where: str = "notebook"):
    """A copy of a solution notebook whose every region returns a trivial answer.

    Args:
        solution: the solution notebook.
        kind: ``"none"`` (``return None``), ``"identity"`` (``return`` the function's first argument,
            the input unchanged) or ``"zeros"`` (the solution's result passed through
            :func:`flatgap.grading.trivial.zeros_like`: arrays of the right shape and dtype filled with
            zeros, 0 where a number is expected; the solution itself is kept under the name
            ``_flatgap_solution_<name>``).
        where: name used in error messages.
    """
    if kind not in TRIVIAL_KINDS:
        raise ValueError(f"kind must be one of {TRIVIAL_KINDS}, got {kind!r}")

    def renamed_copy(region: Region) -> list[str]:
        lines = solution.cells[region.cell_index].source.split("\n")[region.function_start : region.function_end + 1]
        out, done = [], False
        for line in lines:
            if not done and line.startswith(f"def {region.function}("):
                line = line.replace(f"def {region.function}(", f"def {SOLUTION_PREFIX}{region.function}(", 1)
                done = True
            out.append(line)
        return out + [""]

    return replace_regions(solution, trivial_lines(kind, renamed_copy), where=where)


def exercise_from_solution(solution, where: str = "notebook"):
    """The exercise notebook generated from a solution notebook (see the module docstring)."""
    validate(solution, where)
    exercise = replace_regions(solution, stub_lines, where=where)
    exercise.cells = [cell for cell in exercise.cells if SOLUTION_ONLY_TAG not in cell.get("metadata", {}).get("tags", [])]
    first_markdown = next((cell for cell in exercise.cells if cell.cell_type == "markdown"), None)
    if first_markdown is None or not first_markdown.source.startswith(SOLUTIONS_TITLE):
        raise NotebookFormatError(f"{where}: the first markdown cell must start with {SOLUTIONS_TITLE!r} (the exercise drops 'Solutions: ')")
    first_markdown.source = "# " + first_markdown.source[len(SOLUTIONS_TITLE) :]
    for cell in exercise.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return exercise


def expect_stub_errors(exercise, where: str = "notebook"):
    """A copy of an exercise notebook that nbval (strict ``--nbval``) passes only if every graded cell
    raises exactly its stub's error.

    Each graded cell gets the ``raises-exception`` tag (so the error does not fail the cell by itself),
    an execution count (so nbval compares its outputs) and one stored output: the error
    ``NotImplementedError`` with the stub's message. nbval compares ``ename`` and ``evalue`` (it never
    compares tracebacks), so the cell passes only when it raises ``NotImplementedError("exN-qM: ...")``
    of its own question and prints nothing: a ``NameError``, a crash, a wrong-answer ``AssertionError``,
    another question's stub or no error at all fails it. The other cells keep no execution count, so
    nbval only requires them to run without error.
    """
    notebook = copy.deepcopy(exercise)
    messages = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for line in cell.source.split("\n"):
                stripped = line.strip()
                if stripped.startswith("raise NotImplementedError(") and stripped.endswith(")"):
                    message = json.loads(stripped[len("raise NotImplementedError(") : -1])
                    messages[message.split(":", 1)[0]] = message
    for graded in graded_cells(notebook, where):
        if graded.question not in messages:
            raise NotebookFormatError(f"{where}: no stub raises NotImplementedError for {graded.question}")
        cell = notebook.cells[graded.index]
        tags = cell.metadata.setdefault("tags", [])
        if "raises-exception" not in tags:
            tags.append("raises-exception")
        cell.execution_count = 1
        cell.outputs = [
            nbformat.v4.new_output("error", ename="NotImplementedError", evalue=messages[graded.question], traceback=[])
        ]
    return notebook


def generated_files(solutions_dir: Path = ROOT / "solutions", exercises_dir: Path = ROOT / "exercises") -> dict[Path, str]:
    """Map each file the generator writes (every exercise, then the manifest) to its text."""
    out, entries = {}, []
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        solution = read_notebook(path)
        entries.append(manifest_entry(solution, path.stem, str(path)))
        out[Path(exercises_dir) / path.name] = notebook_text(exercise_from_solution(solution, str(path)))
    out[MANIFEST_PATH] = manifest_text(entries)
    return out


def generated_exercises(solutions_dir: Path = ROOT / "solutions") -> dict[str, str]:
    """Map each exercise file name to the text the generator writes for it."""
    return {path.name: text for path, text in generated_files(solutions_dir).items() if path.suffix == ".ipynb"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flatgap.grading.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions", help="folder of solution notebooks")
    parser.add_argument("--exercises", type=Path, default=ROOT / "exercises", help="folder to write the exercises to")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a committed exercise or the manifest differs")
    args = parser.parse_args(argv)
    if not sorted(args.solutions.glob("*.ipynb")):
        print(f"error: no solution notebooks in {args.solutions}", file=sys.stderr)
        return 1
    try:
        texts = generated_files(args.solutions, args.exercises)
    except NotebookFormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    stale = 0
    for target, text in texts.items():
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current == text:
            print(f"up to date: {target}")
            continue
        if args.check:
            stale += 1
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(target), "generated", lineterm="", n=1)
            print(f"differs from the generator: {target}\n" + "\n".join(list(diff)[:40]))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
    if stale:
        print("run `make exercises` to regenerate them", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
