"""Build the book the way `make book` does, and record how long it took.

Runs ``jupyter-book build . -W -n --keep-going`` (warnings are errors, nitpicky references, report
everything), with the execution cache on (``_config.yml``). Appends one record per build to
``_build/build_times.json``: wall time and how many notebooks had to be executed (0 for a warm rebuild).
``tools/book_times.py`` (``make bench``) reads that file.

No stale results: the execution cache only knows a notebook's code, not the environment it ran in. A change
of the helper package ``flatgap/`` or of the pins (``requirements*.txt``, ``pyproject.toml``) can change any
notebook's outputs, so the build keeps an *environment key* (a hash of those files and of the Python version)
in ``_build/.jupyter_cache/environment.key``. When the key differs from the one the cache was made with, the
cache is emptied and every page is read again (``--all``): every notebook is executed with the new code.
CI's cache key (``.github/workflows/*.yml``) hashes the same files, and the key file travels inside the cache.

The experiment chapters alone, the others beside them at low priority: before Sphinx reads the pages, the notebooks
that have no matching cache record are executed and stored in the execution cache exactly as myst-nb stores them, so
Sphinx then finds every one cached. An experiment chapter that trains keeps both cores busy with its worker
processes, so the experiment chapters run one at a time, at normal priority, from the start of the build; the other
notebooks (the light ones, and the protocol chapter, which trains nothing) run ``FLATGAP_BUILD_SLOTS`` at a
time (default 2; 1 leaves all execution to Sphinx, one notebook after the other) at the lowest scheduling priority
(``nice 19``), so they take the CPU that an experiment chapter leaves idle — while its kernel starts, imports
TensorFlow, prepares data and draws its figures — and almost none while its workers train. The notebooks that time
code (the NumPy layers against Keras, the cost chapter's latencies: ``_times_code``) run one at a time with the
experiment chapters, at normal priority: a time taken at the lowest priority beside the training workers measures
the contention, not the code. (Measured before: two
experiment chapters sharing the cores took about twice as long each, and the cold build 797 s against 732 s; an
experiment chapter beside the light notebooks at the same priority took up to twice its time alone, 151 s against
74 s, so the light notebooks used to run first, on their own.) The times of the light notebooks in the build include
their waiting. A notebook that fails here is left to Sphinx, which executes it again
and reports the error in the usual way.

Each training run once: the build sets ``FLATGAP_RUN_STORE`` to ``_build/run_store``, so when two chapters train the
identical run (the same model, data, seed, protocol, package code, libraries and machine), the second finds it there
instead of training it again (:mod:`flatgap.experiments.store`; a stored run equals a fresh one to the last bit). A
notebook run outside the build computes every run itself.

``python tools/build_book.py [BOOK_FOLDER]`` builds another book the same way (the tests use a scratch one).

``python tools/build_book.py --pdf`` (``make pdf``, after ``make book``) makes a PDF of the whole book: a single-page
build (``--builder singlehtml``, from the same execution cache, so nothing is executed again) printed by Debian's
Chromium (``/usr/bin/chromium``, headless), into ``_build/html/flatgap-book.pdf`` so that it is published with the site.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY_FILE = "environment.key"
ENVIRONMENT_FILES = ("requirements.txt", "requirements/*.txt", "pyproject.toml", "flatgap/**/*.py")
"""What the notebooks' outputs depend on besides their own code (the same files as CI's cache key)."""


def cache_dir(root: Path) -> Path:
    return root / "_build" / ".jupyter_cache"


def run_store_dir(root: Path) -> Path:
    """The build's store of finished training runs (:mod:`flatgap.experiments.store`): chapters share identical runs."""
    return root / "_build" / "run_store"


def environment_key(root: Path) -> str:
    """A hash of the pins, the package's metadata and code (:data:`ENVIRONMENT_FILES`) and the Python version."""
    digest = hashlib.sha256(f"python {sys.version_info.major}.{sys.version_info.minor}\n".encode())
    files = sorted({path for pattern in ENVIRONMENT_FILES for path in root.glob(pattern) if path.is_file()})
    for path in files:
        if "__pycache__" in path.parts:
            continue
        digest.update(f"{path.relative_to(root).as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
    return digest.hexdigest()


def refresh_cache(root: Path) -> bool:
    """Empty the execution cache when it was made in another environment; True when every page must be read again.

    A cache without a key file counts as made elsewhere. The new key is written at once, so an interrupted build
    starts from an empty cache next time too, never from one of the old environment.
    """
    cache, key = cache_dir(root), environment_key(root)
    key_path = cache / KEY_FILE
    stale = cache.exists() and (not key_path.is_file() or key_path.read_text().strip() != key)
    if stale:
        shutil.rmtree(cache)
        shutil.rmtree(run_store_dir(root), ignore_errors=True)  # its keys would not match again: only disk space
    cache.mkdir(parents=True, exist_ok=True)
    key_path.write_text(key + "\n")
    return stale


def cached_notebooks(root: Path = ROOT) -> dict[str, float]:
    """Map each cached notebook's URI to the time it was executed (empty when there is no cache)."""
    cache = cache_dir(root)
    if not (cache / "global.db").exists():
        return {}
    from jupyter_cache import get_cache

    return {rec.uri: rec.created.timestamp() for rec in get_cache(cache).list_cache_records()}


def _execute(path: str, timeout: int, niceness: int = 0) -> tuple[str, object, float, str | None]:
    """Execute one notebook as myst-nb does (in its folder, stop at the first error); runs in a pool process."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    from flatgap.book.kernels import kernel_manager_class

    notebook = nbformat.read(path, as_version=4)
    # Over IPC: no "Kernel is running over TCP without encryption" warning per notebook in the build log.
    result = single_nb_execution(notebook, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False,
                                 meta_override=True, kernel_manager_class=kernel_manager_class(niceness))
    return path, notebook, result.time, None if result.err is None else f"{type(result.err).__name__}: {result.err}"


def _trains(path: Path) -> bool:
    """Whether a notebook keeps the training workers busy (it starts them: ``pool.start()``). The experiment chapters
    that train nothing (the protocol's page, the cost chapter) run with the light notebooks."""
    return "pool.start()" in path.read_text(encoding="utf-8")


def _times_code(path: Path) -> bool:
    """Whether a notebook measures how long code takes (``flatgap.reference.speed``, ``latency(...)``) and prints or
    asserts it: such a notebook runs alone like an experiment chapter, since a time taken on a busy CPU is not the time
    the sentence beside it means (at the lowest priority beside the training workers, the NumPy convolution of the
    Conv2D chapter once took 33.7 times Keras's time, against 3.0 times with the notebook run alone, and its assert
    stopped the notebook)."""
    source = path.read_text(encoding="utf-8")
    return "from flatgap.reference import speed" in source or "latency(" in source


LIGHT_NICENESS = 19
"""The light notebooks' scheduling priority (``nice``): they take only the CPU the experiment chapter leaves idle."""


def _lower_priority() -> None:
    """Initializer of the light notebooks' processes: the lowest scheduling priority (their kernels get it too, and
    their kernels' session groups: :func:`flatgap.book.kernels.lower_priority`). Windows has no ``nice``: there they
    run at normal priority."""
    if hasattr(os, "nice"):
        os.nice(LIGHT_NICENESS)


def preexecute(root: Path, slots: int) -> list[str]:
    """Execute the notebooks the cache lacks, ``slots`` at a time, and cache them as myst-nb does; return the failures."""
    import fnmatch
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    import nbformat
    import toc  # tools/toc.py, beside this file
    import yaml
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    config = yaml.safe_load((root / "_config.yml").read_text())
    excluded = config.get("execute", {}).get("exclude_patterns", [])
    timeout = int(config.get("execute", {}).get("timeout", 600))
    cache = get_cache(cache_dir(root))
    experiments = set(toc.experiment_chapters(root))
    pending: dict[bool, list[str]] = {True: [], False: []}
    for name in toc.docnames(root):
        path = root / f"{name}.ipynb"
        if not path.is_file() or any(fnmatch.fnmatch(f"{name}.ipynb", pattern) for pattern in excluded):
            continue
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            pending[(name in experiments and _trains(path)) or _times_code(path)].append(str(path))
    if slots < 2 or len(pending[True]) + len(pending[False]) < 2:
        return []
    print(f"executing {len(pending[True]) + len(pending[False])} notebooks: the experiment chapters and the notebooks "
          "that time code one at a time, "
          f"the others {slots} at a time at low priority beside them", flush=True)
    failures = []
    spawn = multiprocessing.get_context("spawn")
    with (ProcessPoolExecutor(1, mp_context=spawn) as alone,
          ProcessPoolExecutor(slots, mp_context=spawn, initializer=_lower_priority) as light):
        running = {alone.submit(_execute, path, timeout) for path in pending[True]}
        running |= {light.submit(_execute, path, timeout, LIGHT_NICENESS) for path in pending[False]}
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                path, notebook, seconds, error = future.result()
                name = Path(path).relative_to(root)
                if error is not None:
                    failures.append(str(name))
                    kept = root / "_build" / "failed" / name  # the outputs up to the error, to read without a re-run
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    nbformat.write(notebook, kept)
                    print(f"  {name}: failed ({error.splitlines()[0][:200]}); its outputs are in "
                          f"{kept.relative_to(root)}; Sphinx will execute it again", flush=True)
                    continue
                stage = cache.add_nb_to_project(path)
                cache.cache_notebook_bundle(CacheBundleIn(notebook, stage.uri, data={"execution_seconds": seconds}),
                                            check_validity=False, overwrite=True)
                print(f"  {name}: {seconds:.1f} s", flush=True)
    return failures


def jupyter_book() -> str:
    beside = Path(sys.executable).parent / "jupyter-book"  # the one of this environment, whatever PATH says
    return str(beside) if beside.exists() else "jupyter-book"


CHROMIUM = Path("/usr/bin/chromium")
PDF_NAME = "flatgap-book.pdf"


def pdf(root: Path = ROOT) -> int:
    """Print the whole book to ``_build/html/flatgap-book.pdf``; return the exit status."""
    root = Path(root).resolve()
    if not CHROMIUM.is_file():
        print(f"no Chromium at {CHROMIUM}: install Debian's package (`sudo apt-get install chromium`)", file=sys.stderr)
        return 1
    key_path = cache_dir(root) / KEY_FILE
    if not key_path.is_file() or key_path.read_text().strip() != environment_key(root):
        print("no execution cache of this package and these pins: run `make book` first", file=sys.stderr)
        return 1
    command = [jupyter_book(), "build", str(root), "--builder", "singlehtml", "-W", "-n", "--keep-going"]
    print("$ jupyter-book", " ".join(command[1:]), flush=True)
    status = subprocess.call(command, cwd=root)
    page = singlehtml_page(root)
    if status or not page.is_file():
        return status or 1
    target = root / "_build" / "html" / PDF_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    # --virtual-time-budget lets the page's scripts (MathJax, from _static) finish before printing.
    printer = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               "--virtual-time-budget=30000", f"--print-to-pdf={target}", page.as_uri()]
    status = subprocess.call(printer, cwd=root, stderr=subprocess.DEVNULL)
    if status or not target.is_file() or target.stat().st_size < 100_000:
        print(f"Chromium did not print the book (exit status {status})", file=sys.stderr)
        return status or 1
    print(f"wrote {target.relative_to(root)} ({target.stat().st_size / 2**20:.1f} MiB)")
    return 0


def singlehtml_page(root: Path = ROOT) -> Path:
    """The page of the single-page build that ``make pdf`` prints: the book's root document (``index.html`` only
    redirects to it)."""
    import toc  # tools/toc.py, beside this file

    return Path(root) / "_build" / "singlehtml" / f"{toc.load(root).root.docname}.html"


def build(root: Path = ROOT) -> int:
    """Build the book in ``root``; return the exit status (non-zero when the build or a notebook failed)."""
    root = Path(root).resolve()
    stale = refresh_cache(root)
    if stale:
        print("the package or the pins changed since the notebooks were executed: the cache was emptied, "
              "every notebook runs again", flush=True)
    before = cached_notebooks(root)
    start = time.perf_counter()
    # Every kernel of the build (ours and Sphinx's) looks its training runs up in one store before training them.
    os.environ.setdefault("FLATGAP_RUN_STORE", str(run_store_dir(root)))
    # The explorable figures leave BokehJS to the page, which loads it once from _static (sphinx_offline_assets).
    os.environ["FLATGAP_EXPLORABLE_JS"] = "static"
    preexecute(root, int(os.environ.get("FLATGAP_BUILD_SLOTS", "2")))
    command = [jupyter_book(), "build", str(root), "-W", "-n", "--keep-going"] + (["--all"] if stale else [])
    print("$ jupyter-book", " ".join(command[1:]), flush=True)
    status = subprocess.call(command, cwd=root)
    seconds = time.perf_counter() - start
    after = cached_notebooks(root)
    executed = sorted(uri for uri, stamp in after.items() if before.get(uri) != stamp)
    record = {
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "seconds": round(seconds, 1),
        "notebooks_executed": len(executed),
        "cold": not before,
        "status": status,
    }
    records = root / "_build" / "build_times.json"
    history = json.loads(records.read_text()) if records.exists() else []
    records.write_text(json.dumps(history + [record], indent=1))
    kind = "cold" if record["cold"] else "warm" if not executed else "partial"
    print(f"book build ({kind}): {seconds:.1f} s, {len(executed)} notebook(s) executed, exit status {status}")
    reports = sorted((root / "_build" / "html" / "reports").glob("**/*.err.log"))
    for report in reports:
        print(f"execution failed, see {report.relative_to(root)}", file=sys.stderr)
    return status or (1 if reports else 0)


def main(argv: list[str]) -> int:
    if argv == ["--pdf"]:
        return pdf(ROOT)
    if len(argv) > 1 or argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 2
    return build(Path(argv[0]) if argv else ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
