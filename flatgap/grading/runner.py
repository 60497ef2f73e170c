"""The grader: run a student's notebook once, then check every question in this process, the kernel only computing.

1. The notebook is read once into a :class:`~flatgap.grading.submission.Submission`: its cells matched to
   the manifest (graded cells found, restored or ignored, with notes).
2. A fresh kernel of the current Python environment starts in the notebook's folder (the file is never
   modified). The grader's first request installs, under names drawn for this run and before any of the
   notebook's code runs, :mod:`flatgap.grading.kernelside` (which calls the student's functions and returns plain
   data) and :mod:`flatgap.grading.checkrun` (its record of the standard modules, put back before each call).
3. The notebook's code cells run in order, every one even after an error; its graded cells and score cell
   are not run. A cell that runs longer than ``timeout`` is interrupted; one that ignores the interrupt gets its
   kernel killed ``GRACE`` seconds later, and the notebook runs again without it.
4. For each question of the manifest, the course's checker runs *here*, in the grader's process, with the
   grading seed (drawn now, printed, or given). Each time it calls the student's function, the inputs go to the
   kernel as plain data (:func:`flatgap.grading.kernelside.encode`), the kernel calls the function and writes its
   result, as plain data again, to a file the grader names; expected values, comparisons, hints and the verdict
   never leave this process. A question's calls share ``timeout`` seconds of the kernel's time; past it, the
   kernel is killed and the question fails with the limit and how to raise it. Keras models cross as ``.keras``
   files in the grader's scratch folder, under names the grader chooses for each call
   (:class:`~flatgap.grading.kernelside.ModelFiles`), never as pickles: a model the student's function builds is
   saved by the kernel and loaded here in safe mode; the checker's own models are saved here and loaded by the
   kernel. A graded cell's further arguments (the notebook's trained ``model``, ``split.x_test[:16]``) are
   evaluated in the kernel and sent here the same way: the checker computes its expected values on the model it
   loaded, and the student's function runs on a copy loaded from that same file.

When the kernel stops (``exit()``, ``os._exit``, a crash, the system killing it, a time limit), the message says
which cell or which check stopped it and how (exit status or signal); the grader runs the notebook again without
that cell, or without re-checking that question, up to :data:`MAX_RUNS` times. The whole run is bounded by
``limit`` seconds (:func:`run_limit`); whatever happens, it ends with a table.
"""

from __future__ import annotations

import ast
import asyncio
import atexit
import contextlib
import importlib
import io
import json
import re
import secrets
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from flatgap.grading import kernelside
from flatgap.grading.harness import StudentFunction
from flatgap.grading.report import NotebookGrade, outcome_from_result
from flatgap.grading.submission import CodeCell, Submission, read_submission
from flatgap.grading.tracing import library_dirs

CURRENT_ENV_KERNEL = ":flatgap-current-env"
MAX_RUNS = 3
"""How many times the grader starts a kernel for one notebook (a first run, plus reruns after the kernel stopped)."""

PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
CHECKRUN = str(Path(__file__).with_name("checkrun.py"))
KERNELSIDE = str(Path(__file__).with_name("kernelside.py"))
GRACE = 5.0
"""Seconds a cell or check may run past its limit (time for an interrupt to work) before its kernel is killed."""


def run_limit(timeout: float) -> float:
    """The wall-clock bound of one notebook's whole grading run, for a given limit per cell or check (seconds)."""
    return max(600.0, 4 * timeout)


class CannotRun(Exception):
    """The notebook could not be run at all; the message is one sentence saying why."""


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


@dataclass
class _Death:
    exit_code: int | None
    cell: CodeCell | None  # the notebook cell that was running, or None during a check
    question: str | None  # the question being checked, or None
    timed_out: bool = False  # the grader stopped the kernel: the cell or check passed its time limit


@dataclass
class _Session:
    results: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    executed: list = field(default_factory=list)
    death: _Death | None = None
    out_of_time: bool = False  # the whole run passed its limit


class _KernelStopped(BaseException):
    """Raised in a checker's thread when the kernel died or was stopped during a call (not an Exception: no
    checker catches it)."""

    def __init__(self, death: _Death):
        super().__init__("the kernel stopped")
        self.death = death


class _Unusable(Exception):
    """A graded cell's further argument that the checker cannot have; ``ename`` and the message of the row."""

    def __init__(self, ename: str, message: str):
        super().__init__(message)
        self.ename = ename


class _InKernel(StudentFunction):
    """The student's function, reached in the notebook's kernel through :func:`flatgap.grading.kernelside.serve`.

    ``models``: the prefix of this question's model files in the grader's scratch folder; each call, and each
    further argument evaluated, gets files of its own under it.
    """

    def __init__(self, name: str, request, timeout: float, models: str):
        self.name, self.request, self.timeout = name, request, timeout
        self.prefix, self.calls = models, 0
        self.sources: dict = {}  # the models loaded from the kernel's files, and those files (kernelside.ModelFiles)

    def _files(self, kind: str) -> kernelside.ModelFiles:
        self.calls += 1
        return kernelside.ModelFiles(f"{self.prefix}-{self.calls}-{kind}", self.sources)

    def call(self, args, measure=None):
        inputs, outputs = self._files("in"), self._files("out")
        payload = {"function": self.name, "args": [kernelside.encode(a, models=inputs) for a in args], "measure": measure, "models": {"in": inputs.prefix, "out": outputs.prefix}}
        response = self.request(payload)
        response["models"] = outputs  # the files this side named, whatever the kernel's answer says
        return response

    def describe(self):
        return self.request({"function": self.name, "describe": True})

    def evaluate(self, expression: str):
        """The value of a graded cell's further argument in the notebook (a model loaded from its file), or raise
        :class:`_Unusable` with the message of the question's row."""
        outputs = self._files("arg")
        response = self.request({"evaluate": expression, "models": {"out": outputs.prefix}})
        error = response.get("error")
        if error:
            kind = str(error.get("type"))
            if kind == "NameError":
                raise _Unusable(kind, f"{error.get('name') or expression} is not defined — run the cell that defines it (did it raise an error?)")
            if kind == "GraderError":
                raise _Unusable(kind, error.get("message") or "the kernel sent back no answer")
            said = f"{kind}: {error.get('message')}" if error.get("message") else kind
            raise _Unusable(kind, f"could not evaluate {expression}: {said}")
        if response.get("unplain"):
            raise _Unusable("AssertionError", f"the notebook's {expression} is a {response.get('type')}, which the grader cannot use (it takes Keras models, arrays and numbers)")
        why = response.get("unsaved")
        if not why:
            try:
                return kernelside.decode(response.get("value"), outputs)
            except kernelside.Unsaved as bad:
                why = str(bad)
            except ValueError as bad:
                raise _Unusable("GraderError", f"the grader could not read the notebook's {expression} ({bad})") from None
        raise _Unusable("AssertionError", f"the notebook's {expression} must be a keras.Model built from keras.layers; it could not be saved and reloaded: {why}")


def _install_code(token: str) -> str:
    return (
        "def _flatgap_install():\n"
        "    import importlib.util, sys\n"
        "    def load(name, path):\n"
        "        spec = importlib.util.spec_from_file_location(name, path)\n"
        "        module = importlib.util.module_from_spec(spec)\n"
        "        spec.loader.exec_module(module)\n"
        "        return module\n"
        f"    checkrun = load('_flatgap_checkrun_{token}', {CHECKRUN!r})\n"
        f"    checkrun.install({PACKAGE_ROOT!r}, {token!r})\n"
        f"    side = load('_flatgap_kernel_{token}', {KERNELSIDE!r})\n"
        f"    grader = sys.modules['_flatgap_grader_{token}'].grader\n"
        f"    side.libraries = {library_dirs()!r}\n"
        "    side.restore = grader.restore\n"
        f"    sys.modules['_flatgap_kernel_{token}'] = side\n"
        "_flatgap_install()\n"
        "del _flatgap_install"
    )


def _error_of(cell):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return output.get("ename", "Error"), output.get("evalue", "")
    return None


async def _exit_code(client) -> int | None:
    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    for _ in range(40):
        code = process.poll() if process is not None else None
        if code is not None:
            return code
        await asyncio.sleep(0.05)
    return None


def _check_here(exercise, question, student: _InKernel, seed: int) -> dict:
    """Run one question's checker in this process on the student's function in the kernel; never raises but
    :class:`_KernelStopped`."""
    from flatgap.grading.harness import grading_seed

    result = {"question": question.id, "status": "failed", "ename": None, "message": "", "seed": seed}
    about = student.describe()
    if about.get("missing"):
        return result | {"ename": "NameError", "message": f"{question.function} is not defined — run the cell that defines it (did it raise an error?)"}
    output = io.StringIO()
    try:
        arguments = [student.evaluate(expression) for expression in question.arguments[1:]]  # the notebook's model ...
    except _Unusable as error:
        return result | {"ename": error.ename, "message": str(error)}
    try:
        checker = getattr(importlib.import_module(exercise.module), question.checker)
        with grading_seed(seed), contextlib.redirect_stdout(output):
            checker(student, *arguments)
    except NotImplementedError as error:
        text = str(error).strip()
        result |= {"status": "not attempted", "ename": "NotImplementedError", "message": f"NotImplementedError: {text}" if text else "NotImplementedError"}
    except AssertionError as error:
        result |= {"ename": "AssertionError", "message": str(error).strip() or "AssertionError"}
    except Exception as error:  # a bug in a checker: said as it is
        result |= {"ename": type(error).__name__, "message": f"{type(error).__name__}: {error}"}
    else:
        result |= {"status": "passed", "printed": output.getvalue().strip()}
    return result


# A kernel's start can fail for reasons that have nothing to do with the notebook: two kernels started at the same
# moment can be given the same free ports (jupyter_client picks them before the kernel binds them), and the second then
# dies "before replying to kernel_info"; a loaded machine can be slow to answer. The grader loses no submission to
# that: it starts a fresh kernel again, up to this many times, before it reports that it could not.
KERNEL_STARTS = 3


async def _start_kernel(client):
    """Start the client's kernel (its ``async_setup_kernel`` context, entered); returns the context to exit later."""
    failure = None
    for attempt in range(KERNEL_STARTS):
        context = client.async_setup_kernel(stderr=subprocess.DEVNULL)  # the kernel's own start-up notices are not the notebook's
        try:
            await context.__aenter__()
            return context
        except Exception as error:  # noqa: BLE001  (whatever stopped the start, it is tried again, then reported)
            failure = error
            atexit.unregister(client._cleanup_kernel)  # registered by the failed start; there is nothing left to clean
            manager = client.km
            client.km, client.kc = None, None  # the next attempt starts a new kernel with new ports
            if manager is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.ensure_future(_shutdown(manager)), 10)
            await asyncio.sleep(0.5 * (attempt + 1))
    raise CannotRun(f"could not start a Python kernel, {KERNEL_STARTS} tries ({type(failure).__name__}: {failure})") from None


async def _shutdown(manager) -> None:
    result = manager.shutdown_kernel(now=True)
    if asyncio.iscoroutine(result):
        await result


async def _session(submission: Submission, skip: set, questions, seed: int, cwd, timeout: float, workdir: str, token: str, deadline: float) -> _Session:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    client = NotebookClient(
        nbformat.v4.new_notebook(),
        kernel_manager_class=_kernel_manager_class(),
        kernel_name=CURRENT_ENV_KERNEL,
        shutdown_kernel="immediate",
        timeout=timeout,
        allow_errors=True,
        interrupt_on_timeout=True,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    session = _Session()
    loop = asyncio.get_running_loop()
    requests = iter(range(10**9))

    class _Late(Exception):
        pass

    async def run(source: str, history: bool, limit: float):
        """Run code in the kernel; past ``limit`` seconds (or the run's deadline) stop the kernel for good."""
        cell = nbformat.v4.new_code_cell(source)
        client.nb.cells.append(cell)
        budget = min(limit, deadline - time.monotonic())
        try:
            await asyncio.wait_for(client.async_execute_cell(cell, len(client.nb.cells) - 1, store_history=history), max(budget, 0.1))
        except TimeoutError:  # asyncio.TimeoutError is TimeoutError since Python 3.11
            try:
                await client.km.shutdown_kernel(now=True)  # SIGKILL: an interrupt may be ignored
            except Exception:
                pass
            if time.monotonic() >= deadline - 0.05:
                session.out_of_time = True
            raise _Late() from None
        return cell

    async def request(question, payload: dict, limit: float) -> dict:
        number = next(requests)
        request_path, result_path = (str(Path(workdir) / f"{token}-{kind}-{number}.json") for kind in ("request", "result"))
        Path(request_path).write_text(json.dumps(payload), encoding="utf-8")
        code = f"__import__('sys').modules['_flatgap_kernel_{token}'].serve(globals(), {request_path!r}, {result_path!r}, __import__('sys').modules['_flatgap_kernel_{token}'].libraries, __import__('sys').modules['_flatgap_kernel_{token}'].restore)"
        started = time.monotonic()
        try:
            executed = await run(code, False, limit)
        except DeadKernelError:
            late = time.monotonic() - started >= limit - GRACE
            raise _KernelStopped(_Death(await _exit_code(client), None, question.id, timed_out=late)) from None
        except _Late:
            raise _KernelStopped(_Death(None, None, question.id, timed_out=True)) from None
        try:
            response = json.loads(Path(result_path).read_text(encoding="utf-8").splitlines()[0])
        except (OSError, ValueError, IndexError):
            response = None
        if not isinstance(response, dict):
            error = _error_of(executed)
            why = f" ({error[0]}: {error[1]})" if error else ""
            response = {"error": {"type": "GraderError", "message": f"the kernel sent back no answer{why}: did the notebook change the kernel's import system or files?", "where": ""}}
        session.notes.extend(n for n in response.pop("notes", []) if n not in session.notes)
        return response

    context = await _start_kernel(client)
    try:
        try:
            installed = await run(_install_code(token), False, max(timeout, 60))
        except (DeadKernelError, _Late):
            raise CannotRun("the Python kernel stopped while the grader set itself up") from None
        if _error_of(installed):
            raise CannotRun("the grader could not set itself up in the kernel ({}: {})".format(*_error_of(installed)))
        reported = False
        for cell in submission.to_run():
            if cell.number in skip:
                continue
            started = time.perf_counter()
            try:
                executed = await run(cell.source, True, timeout + GRACE)
            except DeadKernelError:  # past the limit, the interrupts nbclient sends may end the kernel: a timeout still
                session.death = _Death(await _exit_code(client), cell, None, timed_out=time.perf_counter() - started >= timeout)
                return session
            except _Late:
                session.death = _Death(None, cell, None, timed_out=True)
                return session
            session.executed.append(cell)
            error = _error_of(executed)
            if error and error[0] == "KeyboardInterrupt" and time.perf_counter() - started >= timeout:
                session.notes.append(f"code cell {cell.number} ran longer than {timeout:g} s and was interrupted (raise the limit with --timeout)")
            elif error and not reported:
                reported = True
                raised = f"{error[0]}: {error[1]}" if error[1] else error[0]
                session.notes.append(f"code cell {cell.number} raised {raised} — graded questions whose code comes after it may fail because of it")
        for question in questions:
            spent = [0.0]  # seconds the student's code had in the kernel for this question (the grader's own time is free)

            def call(payload, question=question, spent=spent):
                remaining = timeout - spent[0]
                if remaining <= 0:
                    raise _KernelStopped(_Death(None, None, question.id, timed_out=True))
                started = time.monotonic()
                try:
                    return asyncio.run_coroutine_threadsafe(request(question, payload, remaining + GRACE), loop).result()
                finally:
                    spent[0] += time.monotonic() - started

            student = _InKernel(question.function, call, timeout, str(Path(workdir) / f"{token}-{question.id}-model"))
            try:
                session.results[question.id] = await loop.run_in_executor(None, _check_here, submission.exercise, question, student, seed)
            except _KernelStopped as stopped:
                session.death = stopped.death
                return session
    finally:
        try:
            await context.__aexit__(None, None, None)
        except Exception:  # a kernel that is already gone
            pass
    return session


_EXIT_CALL = re.compile(r"\b(exit|quit)\s*\(")


def _calls_exit(source: str) -> bool:
    """Does this code call exit() or quit() (which end a notebook's kernel once the cell is done)?"""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: fall back to the text
        return bool(_EXIT_CALL.search(source))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id in ("exit", "quit")) or (isinstance(func, ast.Attribute) and func.attr == "ask_exit"):
                return True
    return False


def _how_it_stopped(code: int | None, exit_call: bool) -> str:
    """How the kernel stopped, in words: never a guess about memory unless the system killed it."""
    if code is None:
        return "stopped the Python kernel"
    if code == 0 and exit_call:
        return "calls exit(), which ends the notebook's Python kernel"
    if code >= 0:
        return f"ended the Python kernel (exit status {code}: os._exit, exit() or sys.exit in a thread)"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    if name == "SIGKILL":
        return "got the Python kernel killed by the system (SIGKILL), which usually means it ran out of memory"
    return f"crashed the Python kernel ({name})"


def _blame(death: _Death, executed: list[CodeCell]) -> tuple[CodeCell | None, bool]:
    """(the notebook cell to leave out on the next run, or None; whether it is an exit() call)."""
    if death.exit_code == 0:
        candidates = executed + ([death.cell] if death.cell else [])
        exits = [cell for cell in candidates if _calls_exit(cell.source)]
        if exits:
            return exits[-1], True
    return death.cell, False


def _redefinitions(submission: Submission, question) -> str:
    """' — code cell 12, after the graded cell (code cell 9), defines gap_forward again: ...' or ''."""
    graded = submission.graded_cell(question.id)
    if graded is None:
        return ""
    later = [cell.number for cell in submission.cells if cell.number > graded and cell.role == "code" and _defines(cell.source, question.function)]
    if not later:
        return ""
    cells = ", ".join(f"code cell {n}" for n in later)
    return (
        f" — note: {cells}, after the graded cell (code cell {graded}), defines {question.function} again; the grader checks the last "
        "definition the notebook makes, so remove or rename the later one"
    )


def _defines(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for target in targets for t in ast.walk(target)):
                return True
    return False


def grade_submission(submission: Submission, cwd, seed: int | None = None, timeout: float = 300, limit: float | None = None) -> NotebookGrade:
    """Execute a matched notebook and run every question's check (see the module docstring).

    Args:
        timeout: seconds one cell or one question's check may run. limit: seconds the whole run may take
            (default :func:`run_limit`); past it the kernel is stopped and the questions not checked yet fail.
    """
    from jupyter_core.utils import run_sync

    from flatgap.grading.harness import new_seed

    seed = new_seed() if seed is None else int(seed)
    limit = run_limit(timeout) if limit is None else float(limit)
    token = secrets.token_hex(8)
    questions = list(submission.exercise.questions)
    results: dict[str, dict] = {}
    notes = list(submission.notes)
    skip: set[int] = set()
    start = time.perf_counter()
    deadline = time.monotonic() + limit
    unchecked, how = "not checked", ""
    with tempfile.TemporaryDirectory(prefix="flatgap-grade-") as workdir:
        for run_number in range(MAX_RUNS + 1):
            if run_number == MAX_RUNS:
                unchecked = f"not checked: the Python kernel stopped {MAX_RUNS} times (the last time, {how})"
                notes.append(f"the grader gave up after the Python kernel stopped {MAX_RUNS} times; the questions not checked yet earn nothing")
                break
            pending = [q for q in questions if q.id not in results]
            session = run_sync(_session)(submission, skip, pending, seed, cwd, timeout, workdir, token, deadline)  # also from a running event loop
            notes += session.notes
            results.update(session.results)
            death = session.death
            if session.out_of_time or (death is not None and time.monotonic() >= deadline - 1):
                unchecked = f"not checked: grading this notebook took longer than its limit of {limit:g} s (raise it with --limit or --timeout)"
                notes.append(f"the grader stopped the notebook's kernel after {limit:g} s, the limit of one notebook's run; the questions not checked by then earn nothing")
                break
            if death is None:
                break
            cell, exit_call = _blame(death, session.executed)
            how = f"ran longer than {timeout:g} s and did not stop when interrupted, so the grader stopped its kernel (raise the limit with --timeout)" if death.timed_out else _how_it_stopped(death.exit_code, exit_call)
            if cell is not None:
                skip.add(cell.number)
                notes.append(f"code cell {cell.number} {how}; the grader ran the notebook again without that cell")
            else:
                question = submission.exercise.question(death.question)
                if death.timed_out:
                    message = (
                        f"checking {question.function} took longer than {timeout:g} s, the limit of one check: if your code is correct but slow, "
                        "raise the limit with --timeout (python -m flatgap.grading.cli NOTEBOOK --timeout 600); otherwise look for an endless loop"
                    )
                else:
                    message = f"checking {question.function} {how.replace('calls exit()', 'called exit()')}: your code must not end the Python process"
                results[death.question] = {"status": "failed", "ename": None, "message": message}
                notes.append(f"the check of {death.question} {how if not death.timed_out else 'took longer than its limit'}; the grader ran the notebook again for the questions after it")
    outcomes = []
    for question in questions:
        result = dict(results.get(question.id, {"status": "failed", "message": unchecked}))
        if result.get("status") != "passed":
            result["message"] = str(result.get("message") or result.get("ename") or "failed") + _redefinitions(submission, question)
        outcomes.append(outcome_from_result(question, result, submission.graded_cell(question.id)))
    return NotebookGrade(submission.name, outcomes, list(dict.fromkeys(notes)), time.perf_counter() - start, seed)


def grade(notebook, cwd, name: str = "notebook", seed: int | None = None, timeout: float = 300, exercise: str | None = None, limit: float | None = None) -> NotebookGrade:
    """Grade an in-memory notebook, run in folder ``cwd`` (``name`` helps to tell which exercise it is)."""
    try:
        submission = read_submission(notebook, name, exercise)
    except ValueError as error:
        raise CannotRun(str(error)) from None
    return grade_submission(submission, cwd, seed, timeout, limit)


def grade_notebook(path, timeout: float = 300, seed: int | None = None, exercise: str | None = None, limit: float | None = None) -> NotebookGrade:
    """Grade the notebook file at ``path``.

    Raises:
        CannotRun: with one sentence saying why the notebook could not be run.
    """
    from flatgap.grading.notebooks import read_notebook

    path = Path(path)
    if not path.exists():
        raise CannotRun(f"{path} does not exist")
    if path.suffix != ".ipynb":
        raise CannotRun(f"{path} is not a Jupyter notebook (.ipynb)")
    try:
        notebook = read_notebook(path)
    except ValueError as error:
        raise CannotRun(str(error)) from None
    return grade(notebook, path.resolve().parent, str(path), seed, timeout, exercise, limit)
