"""Read, validate and write the graded notebooks.

Conventions (see :mod:`flatgap.grading`):

- A graded cell has the tag ``graded`` and its first line is ``# graded: exN-qM (P points)``.
- A solution region sits inside the body of a top-level function of a code cell::

      def gap_forward(x):
          \"\"\"...\"\"\"
          ### BEGIN SOLUTION [ex1-q3] Average over H and W (axes 1 and 2).
          out = x.mean(axis=(1, 2))
          return out, x.shape
          ### END SOLUTION

  The bracket names the question; the rest of the line is the hint the exercise's stub shows.
  Each function holds at most one region; each graded question has exactly one region and each region
  belongs to a graded question.

Notebooks are read and written with :mod:`flatgap.book.notebooks`, the project's one notebook writer.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from flatgap.book.notebooks import NotebookFormatError, read_notebook
from flatgap.grading import GRADED_TAG

__all__ = [
    "GradedCell",
    "NotebookFormatError",
    "Region",
    "cell_tags",
    "graded_body",
    "graded_call",
    "graded_cells",
    "read_notebook",
    "regions",
    "validate",
]

QUESTION_RE = re.compile(r"^ex(?P<exercise>\d+)-q(?P<number>\d+)$")
HEADER_RE = re.compile(r"^#\s*graded:\s*(?P<question>\S+)\s*\((?P<points>\d+)\s+points?\)\s*$")
BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?P<rest>.*)$")
BEGIN_REST_RE = re.compile(r"^ \[(?P<question>[^\]]+)\] (?P<hint>\S.*?)\s*$")
END_RE = re.compile(r"^(?P<indent>[ \t]*)### END SOLUTION\s*$")


@dataclass(frozen=True)
class GradedCell:
    """One graded cell.

    Attributes:
        index: position of the cell in ``notebook.cells``.
        question: question id, e.g. ``"ex1-q3"``.
        points: points the question is worth.
        source: the cell's source.
    """

    index: int
    question: str
    points: int
    source: str


@dataclass(frozen=True)
class Region:
    """One ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region.

    Attributes:
        cell_index: position of the code cell in ``notebook.cells``.
        begin, end: 0-based line numbers of the two marker lines in the cell's source.
        indent: the indentation of the marker lines (the stub gets the same).
        question: question id named in the marker.
        hint: the hint after the question id.
        function: name of the enclosing top-level function.
        function_start: 0-based first line of the function (its first decorator, if any).
        function_end: 0-based last line of the function (the END marker when it comes last).
        params: the function's parameters, as ``(kind, name)`` with kind one of ``"positional"``,
            ``"varargs"``, ``"keyword"``, ``"varkw"``.
    """

    cell_index: int
    begin: int
    end: int
    indent: str
    question: str
    hint: str
    function: str
    function_start: int
    function_end: int
    params: tuple[tuple[str, str], ...]

    @property
    def stub_message(self) -> str:
        """The message of the exercise's ``NotImplementedError``: ``"ex1-q3: <hint>"``."""
        return f"{self.question}: {self.hint}"


def cell_tags(cell) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return list(tags) if isinstance(tags, list) else []


def graded_cells(notebook, where: str = "notebook") -> list[GradedCell]:
    """The graded cells of a notebook, in order; raises NotebookFormatError on a malformed one."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            if GRADED_TAG in cell_tags(cell):
                raise NotebookFormatError(f"{where}: cell {index} is tagged {GRADED_TAG!r} but is not a code cell")
            continue
        first_line = cell.source.split("\n", 1)[0]
        tagged = GRADED_TAG in cell_tags(cell)
        looks_graded = first_line.lstrip().startswith("# graded")
        if not tagged and not looks_graded:
            continue
        if not tagged:
            raise NotebookFormatError(f"{where}: cell {index} starts with {first_line!r} but lacks the {GRADED_TAG!r} tag")
        match = HEADER_RE.match(first_line)
        if not match or not QUESTION_RE.match(match["question"]):
            raise NotebookFormatError(
                f"{where}: graded cell {index} must start with '# graded: exN-qM (P points)', got {first_line!r}"
            )
        found.append(GradedCell(index, match["question"], int(match["points"]), cell.source))
    seen: dict[str, int] = {}
    for graded in found:
        if graded.question in seen:
            raise NotebookFormatError(
                f"{where}: question {graded.question} is graded twice (cells {seen[graded.question]} and {graded.index})"
            )
        seen[graded.question] = graded.index
    return found


def graded_body(source: str) -> str:
    """The code of a graded cell without its header and comment lines, stripped (what a copy must match)."""
    lines = [line.rstrip() for line in source.split("\n") if line.strip() and not line.lstrip().startswith("#")]
    return "\n".join(lines).strip()


def graded_call(source: str, where: str = "graded cell") -> tuple[str, tuple[str, ...]]:
    """``("check_gap_forward", ("gap_forward",))`` for a graded cell ``check_gap_forward(gap_forward)``.

    A graded cell holds exactly one call of a checker, with positional arguments only (plain expressions,
    evaluated in the student's namespace when the grader runs the check).

    Raises:
        NotebookFormatError: the cell is anything else.
    """
    body = graded_body(source)
    try:
        tree = ast.parse(body)
    except SyntaxError as error:
        raise NotebookFormatError(f"{where}: not plain Python ({error.msg})") from None
    statement = tree.body[0] if len(tree.body) == 1 else None
    call = statement.value if isinstance(statement, ast.Expr) else None
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.keywords or not call.args:
        raise NotebookFormatError(f"{where}: a graded cell must hold one call `check_<name>(<function>, ...)` with positional arguments, got {body!r}")
    if any(isinstance(arg, ast.Starred) for arg in call.args):
        raise NotebookFormatError(f"{where}: a graded cell's checker call cannot use *args")
    return call.func.id, tuple(ast.get_source_segment(body, arg) for arg in call.args)


def _function_of(tree: ast.Module, begin_line: int, indent: str):
    """The top-level function whose body holds 1-based line ``begin_line`` (or None)."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.lineno < begin_line <= node.end_lineno:
            if len(indent.expandtabs()) > node.col_offset:
                return node
    return None


def _params(node: ast.FunctionDef) -> tuple[tuple[str, str], ...]:
    args = node.args
    params = [("positional", a.arg) for a in args.posonlyargs + args.args]
    if args.vararg:
        params.append(("varargs", args.vararg.arg))
    params += [("keyword", a.arg) for a in args.kwonlyargs]
    if args.kwarg:
        params.append(("varkw", args.kwarg.arg))
    return tuple(params)


def regions(notebook, where: str = "notebook") -> list[Region]:
    """Every solution region of a notebook, in order; raises NotebookFormatError on a malformed one."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or "### BEGIN SOLUTION" not in cell.source and "### END SOLUTION" not in cell.source:
            continue
        lines = cell.source.split("\n")
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as error:
            raise NotebookFormatError(
                f"{where}: cell {index} holds a solution region but is not plain Python ({error.msg}, line {error.lineno})"
            ) from None
        open_begin = None
        used_functions: set[str] = set()
        for number, line in enumerate(lines):
            begin, end = BEGIN_RE.match(line), END_RE.match(line)
            if begin:
                if open_begin is not None:
                    raise NotebookFormatError(f"{where}: cell {index} line {number + 1}: a region opens inside another one")
                rest = BEGIN_REST_RE.match(begin["rest"])
                if not rest or not QUESTION_RE.match(rest["question"]):
                    raise NotebookFormatError(
                        f"{where}: cell {index} line {number + 1}: write '### BEGIN SOLUTION [exN-qM] <hint for the stub>', "
                        f"got {line.strip()!r}"
                    )
                open_begin = (number, begin["indent"], rest["question"], rest["hint"])
            elif end:
                if open_begin is None:
                    raise NotebookFormatError(f"{where}: cell {index} line {number + 1}: '### END SOLUTION' without a BEGIN")
                start, indent, question, hint = open_begin
                if end["indent"] != indent:
                    raise NotebookFormatError(
                        f"{where}: cell {index} lines {start + 1}-{number + 1}: BEGIN and END markers must have the same indentation"
                    )
                body = [ln for ln in lines[start + 1 : number] if ln.strip() and not ln.strip().startswith("#")]
                if not body:
                    raise NotebookFormatError(f"{where}: cell {index} line {start + 1}: the region of {question} holds no code")
                node = _function_of(tree, start + 1, indent)
                if node is None:
                    raise NotebookFormatError(
                        f"{where}: cell {index} line {start + 1}: the region of {question} must sit inside the body of a "
                        "top-level function, so that the exercise still runs top to bottom"
                    )
                if node.name in used_functions:
                    raise NotebookFormatError(f"{where}: cell {index}: function {node.name} holds more than one region")
                used_functions.add(node.name)
                first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
                found.append(
                    Region(index, start, number, indent, question, hint, node.name, first, max(node.end_lineno - 1, number), _params(node))
                )
                open_begin = None
        if open_begin is not None:
            raise NotebookFormatError(f"{where}: cell {index} line {open_begin[0] + 1}: region of {open_begin[2]} is never closed")
    seen: dict[str, int] = {}
    for region in found:
        if region.question in seen:
            raise NotebookFormatError(f"{where}: question {region.question} has two solution regions (cells {seen[region.question]} and {region.cell_index})")
        seen[region.question] = region.cell_index
    return found


def validate(notebook, where: str = "notebook", exercise: str | None = None) -> tuple[list[GradedCell], list[Region]]:
    """Check the conventions; return (graded cells, regions).

    Args:
        notebook: the solution notebook.
        where: name used in messages (the path).
        exercise: expected exercise prefix (``"ex1"``): every question id must start with it.
    """
    graded = graded_cells(notebook, where)
    found = regions(notebook, where)
    graded_ids = {g.question for g in graded}
    region_ids = {r.question for r in found}
    if graded_ids - region_ids:
        raise NotebookFormatError(f"{where}: graded question(s) without a solution region: {sorted(graded_ids - region_ids)}")
    if region_ids - graded_ids:
        raise NotebookFormatError(f"{where}: solution region(s) without a graded cell: {sorted(region_ids - graded_ids)}")
    if exercise is not None:
        stray = sorted(q for q in graded_ids if not q.startswith(f"{exercise}-"))
        if stray:
            raise NotebookFormatError(f"{where}: question ids must start with {exercise}-, got {stray}")
    return graded, found
