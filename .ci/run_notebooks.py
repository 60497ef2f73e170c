"""Execute notebooks of the repository in this interpreter's environment, as a learner's kernel runs them.

    python .ci/run_notebooks.py ROOT NOTEBOOK... [--score]

Run from a folder outside the repository, so that ``import flatgap`` finds only the installed package: a cell added
after each notebook's title asserts that the kernel is this environment's Python and that its ``flatgap`` comes
from that environment. With ``--score``, each notebook must end with the exercise's score cell, and its printed score
must be full marks. Used by .ci/learner_path and .ci/colab_like.
"""

import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from flatgap.book.kernels import kernel_manager_class  # over IPC: no "running over TCP without encryption" warning

root, names = Path(sys.argv[1]), [name for name in sys.argv[2:] if name != "--score"]
probe = (  # the kernel is this environment's Python, and its flatgap is the installed package
    "import sys\nfrom pathlib import Path\nimport flatgap\n"
    f"assert sys.prefix == {sys.prefix!r}, sys.prefix\n"
    "assert Path(flatgap.__file__).is_relative_to(sys.prefix), flatgap.__file__\n"
    "print('kernel', sys.prefix, '| flatgap', Path(flatgap.__file__).parent)"
)
for name in names:
    notebook = nbformat.read(root / name, as_version=4)
    notebook.cells.insert(1, nbformat.v4.new_code_cell(probe))  # right after the title, before the set-up cell
    start = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3", kernel_manager_class=kernel_manager_class(), resources={"metadata": {"path": str(Path.cwd())}}).execute()
    nbformat.write(notebook, Path.cwd() / Path(name).name)
    print(f"{name}: ran top to bottom in {time.perf_counter() - start:.0f} s; {notebook.cells[1].outputs[0]['text'].strip()}")
    if "--score" in sys.argv:
        last = next(c for c in reversed(notebook.cells) if c.cell_type == "code")
        printed = "".join(o.get("text", "") for o in last.outputs)
        match = re.search(r"score: (\d+) / (\d+) points", printed)
        assert "score(" in last.source and match, f"{name}: its last cell printed no score:\n{printed}"
        assert int(match[2]) > 0 and match[1] == match[2], f"{name}: the score cell says {match[0]}, not full marks"
        print(f"{name}: the score cell says {match[0]} (full marks)")
