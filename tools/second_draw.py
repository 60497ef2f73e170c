"""Run the experiment chapters on a second, fresh draw of seeds, and report which verdicts survive.

    python tools/second_draw.py [--offset N] [--out FOLDER] [CHAPTER ...]      (make second-draw OFFSET=N)

A verdict the book prints must hold for any fair draw of seeds, not only for seeds 0-4. This tool executes each
experiment chapter (Parts III and IV, from ``_toc.yml``; or the chapters named) top to bottom with
``FLATGAP_SEED_OFFSET=N`` in its kernel's environment: every replicate of :func:`flatgap.experiments.run_experiment`
then draws new initial weights, shuffling, validation split and subsets, while the chapter's code, its data and its
asserts stay as they are. The chapters assert their findings, so a chapter that stops on an assert names a verdict
that one draw of seeds decided.

It writes each executed notebook and ``report.md`` (one row per chapter: ran through, or the cell and the assert
that stopped it, and the seconds it took) into ``_build/second_draw/offset-N/``, prints the report, and exits with
1 when any chapter stopped. Nothing is cached: every run trains everything again (about the time of the experiment
chapters in a cold build, run one after the other).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def first_error(notebook) -> tuple[str, str] | None:
    """``(cell id, the error and the source line that raised it)`` of the first cell with an error, or None."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                message = f"{output.get('ename', '')}: {output.get('evalue', '')}".strip()
                trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(output.get("traceback", [])))
                arrows = [line for line in trace.splitlines() if re.match(r"\s*-+>", line)]
                if arrows:  # IPython marks the raising line of the cell's own code first
                    message += " at `" + re.sub(r"^\s*-+>\s*\d+\s*", "", arrows[0]).strip() + "`"
                return cell.get("id", "?"), " ".join(message.split())[:400]
    return None


def run_chapter(docname: str, offset: int, out: Path, timeout: int) -> dict:
    """Execute one chapter with the offset; returns ``{"chapter", "seconds", "error"}``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from flatgap.book.kernels import kernel_manager_class

    path = ROOT / f"{docname}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    os.environ["FLATGAP_SEED_OFFSET"] = str(offset)  # the kernel inherits this process's environment
    start = time.perf_counter()
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", kernel_manager_class=kernel_manager_class(),
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError:
        pass  # recorded in the notebook's outputs, read below
    seconds = time.perf_counter() - start
    target = out / f"{docname.replace('/', '__')}.ipynb"
    nbformat.write(notebook, target)
    error = first_error(notebook)
    return {"chapter": docname, "seconds": seconds, "error": error}


def report(rows: list[dict], offset: int) -> str:
    lines = [f"# Second draw: FLATGAP_SEED_OFFSET={offset}", "",
             "| chapter | result | seconds |", "| --- | --- | --- |"]
    for row in rows:
        result = "ran through" if row["error"] is None else f"stopped in cell `{row['error'][0]}`: {row['error'][1]}"
        lines.append(f"| {row['chapter']} | {result.replace('|', '/')} | {row['seconds']:.0f} |")
    stopped = sum(row["error"] is not None for row in rows)
    lines += ["", f"{len(rows) - stopped} of {len(rows)} chapters ran through on this draw."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from tools.toc import experiment_chapters

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="docnames (default: every experiment chapter)")
    parser.add_argument("--offset", type=int, default=1000,
                        help="FLATGAP_SEED_OFFSET for the draw (default 1000; 0: the book's own draw, outside the cache)")
    parser.add_argument("--out", type=Path, default=None, help="folder (default _build/second_draw/offset-N)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell (default 1200)")
    args = parser.parse_args(argv)
    if args.offset < 0:
        parser.error("--offset must be a non-negative integer (0 runs the book's own draw, outside the build's cache)")
    known = experiment_chapters(ROOT)
    chapters = [name.removesuffix(".ipynb") for name in args.chapters] or known
    unknown = [name for name in chapters if name not in known]
    if unknown:
        parser.error(f"not experiment chapters: {unknown}; choose from {known}")
    out = args.out or ROOT / "_build" / "second_draw" / f"offset-{args.offset}"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for docname in chapters:
        rows.append(run_chapter(docname, args.offset, out, args.timeout))
        row = rows[-1]
        print(f"{docname}: {'ran through' if row['error'] is None else 'STOPPED ' + str(row['error'])} "
              f"({row['seconds']:.0f} s)", flush=True)
    text = report(rows, args.offset)
    (out / "report.md").write_text(text)
    print(text)
    return 1 if any(row["error"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
