"""Grading you can trust (issue 16): the false credit the grader refuses, the accidents it repairs, the kernel
stops it explains, and the agreement of ``make grade`` with the score cell.

Each test grades a variant of the exercise 1 solution (NumPy only: a kernel starts in about a second) with the
real grader, in a temporary folder with no ``../solutions`` beside it. The honest mistakes and cheap tricks
are the ones the issue lists; the checkers' unit tests (``test_grading_ex1.py``) cover the same rules in
process.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from flatgap.book.notebooks import write_notebook
from flatgap.grading.generate import replace_regions
from flatgap.grading.notebooks import read_notebook
from flatgap.grading.runner import grade

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parent.parent
NAME = "ex1_numpy_layers"


def solution():
    return read_notebook(ROOT / "solutions" / f"{NAME}.ipynb")


def graded(notebook, question):
    return next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(f"# graded: {question} "))


def insert_after(notebook, anchor: str, source: str, tags=()):
    """Insert a code cell after the first cell whose source contains ``anchor``."""
    index = next(i for i, c in enumerate(notebook.cells) if anchor in c.source)
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {}))


WRONG = {  # question: a wrong body for its region (honest mistakes and answers keyed on the fixed inputs)
    "ex1-q1": ["return x.reshape(-1), x.shape"],
    "ex1-q2": ["return dout.reshape(cache[0], cache[3], cache[1], cache[2]).transpose(0, 2, 3, 1)"],
    "ex1-q3": ["return x.sum(axis=(1, 2)), x.shape"],
    "ex1-q4": ["return np.broadcast_to(dout[:, None, None, :], cache).copy()"],
    "ex1-q5": ["return (cache == cache.max(axis=(1, 2), keepdims=True)) * dout[:, None, None, :]  # every tie gets all of dout"],
    "ex1-q6": ["out = np.zeros((x.shape[0], x.shape[1] - w.shape[0] + 1, x.shape[2] - w.shape[1] + 1, w.shape[3]))", "_loops(x, w, b, out)", "return out, (x, w, b)"],
    "ex1-q7": ["return LOOKUP.get(logits.tobytes(), (0.0, np.zeros_like(logits)))"],
    "ex1-q8": ["return kernel_h * kernel_w * in_channels * filters"],
    "ex1-q9": ["return (height * width * channels if head == 'flatten' else channels) * units"],
}

HELPER_LOOPS = """\
import itertools


def _loops(x, w, b, out):  # all four loops in one itertools.product, in a helper
    for n, i, j, f in itertools.product(*map(range, out.shape)):
        out[n, i, j, f] = (x[n, i : i + w.shape[0], j : j + w.shape[1], :] * w[..., f]).sum() + b[f]"""

LOOKUP_TABLE = """\
from flatgap.reference import layers as numpy_layers
from flatgap.grading.harness import case_rng

LOOKUP = {}  # the answers for the checker's fixed (readable) inputs
for i, (shape, scale, offset) in enumerate([((4, 10), 3.0, 0.0), ((1, 3), 1.0, 0.0), ((5, 2), 2.0, 1000.0)]):
    rng = case_rng(70 + i)
    logits = rng.standard_normal(shape) * scale + offset
    labels = rng.integers(0, shape[1], size=shape[0])
    LOOKUP[logits.tobytes()] = numpy_layers.softmax_cross_entropy(logits, labels)"""

PATCH_MODULES = """\
import flatgap.grading.ex1 as ex1_checkers
import flatgap.grading.harness as harness

ex1_checkers.check_flatten_backward = lambda fn: None  # patch the checker's module before the import below
harness.Check.array = lambda self, text, got, expected, *args, **kwargs: got  # and the shared machinery"""

REBIND_AND_HOOK = """\
import sys

check_flatten_forward = lambda fn: None  # rebind the checker's name
np.allclose = lambda *args, **kwargs: True  # patch numpy
sys.settrace = lambda *args, **kwargs: None  # nothing to count lines with
sys.displayhook = lambda value: None
sys.excepthook = lambda *args: None
get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)  # hide every error
get_ipython().display_formatter.formatters["text/plain"].for_type(str, lambda *args: None)


class Rewrite:
    def __init__(self, out):
        self.out = out

    def write(self, text):
        return self.out.write(text.replace("failed", "passed"))

    def flush(self):
        self.out.flush()


sys.stdout = Rewrite(sys.stdout)"""


def cheating_notebook():
    notebook = replace_regions(solution(), lambda region: WRONG[region.question])
    insert_after(notebook, "# Set-up for Colab and Binder", PATCH_MODULES)
    insert_after(notebook, "from flatgap.grading.ex1 import", REBIND_AND_HOOK)
    insert_after(notebook, "from flatgap.grading.ex1 import", LOOKUP_TABLE)
    insert_after(notebook, "from flatgap.grading.ex1 import", HELPER_LOOPS)
    graded(notebook, "ex1-q9").source = "# graded: ex1-q9 (1 point)\npass  # the check is gone"
    return notebook


def test_no_trick_and_no_honest_mistake_earns_a_point(tmp_path):
    notebook = cheating_notebook()
    write_notebook(notebook, tmp_path / f"{NAME}.ipynb")  # kept for inspection when the test fails
    result = grade(notebook, tmp_path, f"{NAME}.ipynb", seed=16)
    by_question = result.by_question()
    assert result.score == 0, {q: o.status for q, o in by_question.items()}
    assert all(o.status == "failed" and o.ename == "AssertionError" for o in result.outcomes), {q: (o.status, o.message) for q, o in by_question.items()}
    assert "split dout[n, c] evenly" in by_question["ex1-q5"].message  # ties
    assert "hidden in a helper function or in itertools.product" in by_question["ex1-q6"].message  # hidden loops, settrace patched
    assert "(random case, seed 16)" in by_question["ex1-q7"].message  # the lookup table knows only the fixed inputs
    notes = "\n".join(result.notes)
    assert "numpy.allclose" in notes and "sys.settrace" in notes and "the grader put the original back" in notes
    assert "differs from the course's; the grader runs the course's check of dense_param_count instead" in notes


def test_control_the_same_tricks_fool_the_notebooks_own_graded_cells(tmp_path):
    """Run as a student would, the tricked notebook shows no error in any graded cell: a grader that read the
    cells' outputs would give full marks. The grader above gives none."""
    from nbclient import NotebookClient

    from flatgap.grading.runner import CURRENT_ENV_KERNEL, _kernel_manager_class

    notebook = cheating_notebook()
    client = NotebookClient(notebook, kernel_manager_class=_kernel_manager_class(), kernel_name=CURRENT_ENV_KERNEL, allow_errors=True, timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    client.execute(stderr=subprocess.DEVNULL)
    graded_cells = [c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("# graded: ")]
    assert len(graded_cells) == 9
    assert not [c.source.split("\n")[0] for c in graded_cells if any(o.output_type == "error" for o in c.outputs)]


def test_accidents_are_repaired_and_claims_ignored_without_a_solutions_folder(tmp_path):
    notebook = solution()
    graded(notebook, "ex1-q1").metadata = {}  # an editor dropped the tag
    duplicate = copy.deepcopy(graded(notebook, "ex1-q2"))
    duplicate["id"] = "duplicated-by-accident"
    notebook.cells.insert(notebook.cells.index(graded(notebook, "ex1-q2")) + 1, duplicate)
    notebook.cells.remove(graded(notebook, "ex1-q5"))
    insert_after(notebook, "def dense_param_count", "# graded: ex1-q10 (50 points)\nprint('bonus question: all checks passed')", tags=["graded"])
    insert_after(notebook, "def dense_param_count", "# graded: ex1-q3 (40 points)\ncheck_gap_forward(gap_forward)")
    folder = tmp_path / "Downloads"
    folder.mkdir()
    assert not (tmp_path / "solutions").exists()
    result = grade(notebook, folder, "Copy of ex1_numpy_layers.ipynb", seed=3)
    assert (result.score, result.total) == (14, 14), [(o.question, o.message) for o in result.outcomes]
    notes = "\n".join(result.notes)
    assert "lost its 'graded' tag; the grader restored it" in notes
    assert "repeats the graded cell of ex1-q2" in notes and "repeats the graded cell of ex1-q3" in notes
    assert "the graded cell of ex1-q5 is missing from the notebook; the grader checked gmp_backward anyway" in notes
    assert "claims to be graded question ex1-q10 (50 points)" in notes and "it earns nothing" in notes


def test_a_kernel_that_exits_is_blamed_on_the_cell_or_check_that_ended_it_never_on_memory(tmp_path):
    notebook = replace_regions(solution(), lambda region: ["import os", "os._exit(3)"], questions={"ex1-q8"})
    insert_after(notebook, "def flatten_backward", "print('done for today')\nexit()")
    result = grade(notebook, tmp_path, f"{NAME}.ipynb", seed=5)
    by_question = result.by_question()
    assert [q for q, o in by_question.items() if o.status != "passed"] == ["ex1-q8"]
    assert "checking conv2d_param_count ended the Python kernel (exit status 3" in by_question["ex1-q8"].message
    notes = "\n".join(result.notes)
    assert "calls exit(), which ends the notebook's Python kernel; the grader ran the notebook again without that cell" in notes
    assert "memory" not in notes + by_question["ex1-q8"].message


def table_lines(text: str) -> list[str]:
    """The table and score of a report, without its title line (the title says where it ran)."""
    lines = text.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("question"))
    end = next(i for i, line in enumerate(lines) if line.strip().startswith("score:"))
    return lines[start : end + 1]


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
def test_make_grade_and_the_score_cell_print_the_same_table(folder, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    from flatgap.grading.runner import CURRENT_ENV_KERNEL, _kernel_manager_class

    path = ROOT / folder / f"{NAME}.ipynb"
    env = dict(os.environ, COLUMNS="110", TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "flatgap.grading.cli", str(path), "--seed", "1616", "--json", str(tmp_path / "grade.json")]
    process = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert process.returncode == 0, process.stdout + process.stderr
    report = json.loads((tmp_path / "grade.json").read_text())["notebooks"][0]

    monkeypatch.setenv("FLATGAP_GRADING_SEED", "1616")  # the kernel inherits it: the score cell uses the same seed
    notebook = read_notebook(path)
    client = NotebookClient(notebook, kernel_manager_class=_kernel_manager_class(), kernel_name=CURRENT_ENV_KERNEL, allow_errors=True, timeout=300, resources={"metadata": {"path": str(path.parent)}})
    client.execute(stderr=subprocess.DEVNULL)
    in_notebook = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    assert in_notebook.startswith(f"{NAME}  (in this kernel, random cases from seed 1616)"), in_notebook
    assert table_lines(in_notebook) == table_lines(process.stdout), process.stdout + "\n" + in_notebook
    expected = (14, 14) if folder == "solutions" else (0, 14)
    assert (report["score"], report["total"]) == expected and f"score: {expected[0]} / 14 points" in in_notebook
