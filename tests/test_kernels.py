"""The book's tools start kernels over IPC: no "Kernel is running over TCP without encryption" line per notebook."""

from __future__ import annotations

import subprocess
import sys

import pytest

RUN = """
import sys
import nbformat
from jupyter_cache.executors.utils import single_nb_execution
from flatgap.book.kernels import kernel_manager_class

notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
extra = {"kernel_manager_class": kernel_manager_class()} if sys.argv[1] == "ipc" else {}
result = single_nb_execution(notebook, cwd=sys.argv[2], timeout=120, allow_errors=False, **extra)
assert result.err is None, result.err
print("output:", notebook.cells[0].outputs[0]["text"].strip())
"""
WARNING = "Kernel is running over TCP without encryption"


def execute(kind: str, cwd) -> subprocess.CompletedProcess:
    """Execute a one-cell notebook as tools/build_book.py does (jupyter-cache's executor), in a fresh process."""
    done = subprocess.run([sys.executable, "-c", RUN, kind, str(cwd)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "output: 42" in done.stdout, done.stdout + done.stderr[-3000:]
    return done


@pytest.mark.notebooks
def test_the_build_starts_kernels_over_ipc_without_the_tcp_warning(tmp_path):
    """Run from another folder than the notebook's: the socket paths must be absolute for kernel and client to meet."""
    (tmp_path / "notebook").mkdir()
    done = execute("ipc", tmp_path / "notebook")
    assert WARNING not in done.stderr, done.stderr[-3000:]


@pytest.mark.notebooks
def test_the_default_tcp_kernel_is_what_logged_the_warning(tmp_path):
    """The control: with jupyter_client's default (TCP) manager, this ipykernel does log it; so the test above can fail."""
    import ipykernel
    from packaging.version import Version

    if Version(ipykernel.__version__) < Version("7.3"):
        pytest.skip(f"ipykernel {ipykernel.__version__} predates the warning (7.3)")
    assert WARNING in execute("tcp", tmp_path).stderr


NICENESS = """
import os
import nbformat
from jupyter_cache.executors.utils import single_nb_execution
from flatgap.book.kernels import kernel_manager_class

cell = ("import os\\nprint('nice', os.getpriority(os.PRIO_PROCESS, 0))\\n"
        "print('group', open('/proc/self/autogroup').read().split()[-1] if os.path.exists('/proc/self/autogroup') else 19)")
notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
result = single_nb_execution(notebook, cwd=os.getcwd(), timeout=120, allow_errors=False,
                             kernel_manager_class=kernel_manager_class(19))
assert result.err is None, result.err
print(notebook.cells[0].outputs[0]["text"].strip())
"""


@pytest.mark.notebooks
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="scheduling priorities as Linux has them")
def test_a_kernel_started_at_low_priority_runs_at_it_with_its_session_group():
    """The build's light notebooks take only idle CPU: their kernels run at niceness 19, and so does the session group
    a kernel starts (where autogroups exist, a process's own niceness ranks it only inside its group)."""
    done = subprocess.run([sys.executable, "-c", NICENESS], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.split() == ["nice", "19", "group", "19"], done.stdout


def test_lower_priority_refuses_a_niceness_outside_0_to_19():
    from flatgap.book.kernels import lower_priority

    for niceness in (-1, 20, 1.5, True):
        with pytest.raises(ValueError, match="from 0 to 19"):
            lower_priority(0, niceness)
